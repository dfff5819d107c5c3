/* RFC 7662 token introspection from the resource server: builds the request
 * (form body, client authentication) and classifies the answer, either
 * asynchronously on the serve loop (mcpauth_introspect: calls on the loop's
 * thread only) or blocking for the command line (mcpauth_introspect_sync).
 * Both send the same request and judge the answer the same way. */
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

/* Starts one introspection of token (RFC 7662 §2.1: POST token=...&
 * token_type_hint=access_token, Accept: application/json). Non-200
 * answers, non-JSON, a missing active member, or our own credentials being
 * refused are FAILED (a configuration or upstream problem, never the
 * client's fault). Returns MCPAUTH_OK or an error (then cb is not
 * called). */
mcpauth_status mcpauth_introspect(mcpauth_http_async *http, const mcpauth_introspection_config *cfg,
                                  const char *token, size_t length, mcpauth_introspection_cb cb,
                                  void *data, mcpauth_error *err);

/* The same request, blocking (mcpauth_http_perform): never call it from an
 * event loop. MCPAUTH_OK when the endpoint answered with a usable RFC 7662
 * response: out->active says whether the token is active, and for an active
 * token out holds its claims (the caller frees out with
 * mcpauth_token_info_free()). When raw is not NULL it receives the whole
 * response document, which the caller releases with json_object_put().
 * Otherwise nothing is returned and err says why: MCPAUTH_ENETWORK (cannot
 * connect, timeout, TLS), MCPAUTH_EREMOTE (non-200 answers, including our
 * credentials being refused; non-JSON; no boolean active), MCPAUTH_EUSAGE
 * (endpoint URL refused by the transport policy) or MCPAUTH_ELOCAL. The
 * token never appears in messages. */
mcpauth_status mcpauth_introspect_sync(const mcpauth_http_options *opts,
                                       const mcpauth_introspection_config *cfg, const char *token,
                                       size_t length, mcpauth_token_info *out, json_object **raw,
                                       mcpauth_error *err);

#endif
