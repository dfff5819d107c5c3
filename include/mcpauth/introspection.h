/* RFC 7662 token introspection from the resource server, asynchronously on
 * the serve loop: builds the request (form body, client authentication)
 * and classifies the answer. Calls on the loop's thread only. */
#ifndef MCPAUTH_INTROSPECTION_H
#define MCPAUTH_INTROSPECTION_H

#include "mcpauth/client_auth.h"
#include "mcpauth/error.h"
#include "mcpauth/http_async.h"
#include "mcpauth/token.h"

typedef struct mcpauth_introspection_config {
    const char *endpoint;
    const char *client_id;
    const char *client_secret;
    mcpauth_client_auth auth;
} mcpauth_introspection_config;

typedef enum mcpauth_introspection_outcome {
    MCPAUTH_INTROSPECTION_ACTIVE,   /* info holds the claims */
    MCPAUTH_INTROSPECTION_INACTIVE, /* the AS says the token is not active */
    MCPAUTH_INTROSPECTION_FAILED,   /* the AS could not be asked or answered badly */
} mcpauth_introspection_outcome;

/* Called once on the loop. info is borrowed for the call (NULL unless
 * ACTIVE); reason is one line for FAILED (never containing the token). */
typedef void (*mcpauth_introspection_cb)(mcpauth_introspection_outcome outcome,
                                         const mcpauth_token_info *info, const char *reason,
                                         void *data);

/* Starts one introspection of token (IN-1: POST token=...&
 * token_type_hint=access_token, Accept: application/json). Non-200
 * answers, non-JSON, a missing active member, or our own credentials being
 * refused are FAILED (a configuration or upstream problem, never the
 * client's fault: IN-6). Returns MCPAUTH_OK or an error (then cb is not
 * called). */
mcpauth_status mcpauth_introspect(mcpauth_http_async *http, const mcpauth_introspection_config *cfg,
                                  const char *token, size_t length, mcpauth_introspection_cb cb,
                                  void *data, mcpauth_error *err);

#endif
