/* Token endpoint requests (RFC 6749 §3.2, §4.1.3, §4.4, §6; OAuth 2.1 §3.2):
 * the client_credentials, authorization_code (with the PKCE verifier, RFC
 * 7636 §4.5) and refresh_token grants, resource indicators (RFC 8707 §2.2),
 * client authentication, and the parsing of the answer. Building and parsing
 * are pure; mcpauth_oauth_token_request() blocks (mcpauth_http_perform). */
#ifndef MCPAUTH_OAUTH_TOKEN_H
#define MCPAUTH_OAUTH_TOKEN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "mcpauth/client_auth.h"
#include "mcpauth/error.h"
#include "mcpauth/http_client.h"
#include "mcpauth/strbuf.h"

/* The client as the token endpoint sees it. Strings are borrowed. */
typedef struct mcpauth_oauth_token_client {
    const char *token_endpoint;
    const char *client_id;
    const char *client_secret; /* NULL for a public client (auth NONE) */
    mcpauth_client_auth auth;
} mcpauth_oauth_token_client;

/* One grant. Members a grant does not use must be NULL. Borrowed. */
typedef struct mcpauth_oauth_token_params {
    const char *grant_type;       /* "client_credentials", "authorization_code",
                                     "refresh_token" */
    const char *scope;            /* space-separated; NULL omits it */
    const char *const *resources; /* RFC 8707 resource indicators, each sent */
    size_t resource_count;
    const char *code;          /* authorization_code */
    const char *redirect_uri;  /* authorization_code: as sent to /authorize */
    const char *code_verifier; /* authorization_code: RFC 7636 §4.5 */
    const char *refresh_token; /* refresh_token */
} mcpauth_oauth_token_params;

/* Builds the form body of a token request into body (which must be empty):
 * grant_type, the grant's own parameters, scope, each resource, and, for
 * client_secret_post, client_id and client_secret; for none, client_id
 * (RFC 6749 §3.2.1). With client_secret_basic the credentials go in the
 * Authorization header instead (mcpauth_form_basic_credentials). Checks
 * that the grant's required members are there and that a secret is given
 * for the secret methods: MCPAUTH_EUSAGE otherwise. The body holds secrets:
 * free it with mcpauth_strbuf_free(), which wipes it. */
mcpauth_status mcpauth_oauth_token_request_body(const mcpauth_oauth_token_client *client,
                                                const mcpauth_oauth_token_params *params,
                                                mcpauth_strbuf *body, mcpauth_error *err);

/* A successful token response (RFC 6749 §5.1). */
typedef struct mcpauth_oauth_token_response {
    json_object *document;     /* the whole response; owned */
    const char *access_token;  /* borrowed from document; never NULL */
    const char *token_type;    /* "Bearer" in any case; never NULL */
    const char *refresh_token; /* NULL when none was issued */
    const char *scope;         /* NULL when the response has none */
    long long expires_in;      /* seconds; -1 when the response has none */
} mcpauth_oauth_token_response;

/* Judges the token endpoint's answer to a request sent to endpoint (named in
 * messages). 200 with a JSON object holding a Bearer token_type and an
 * access_token of visible ASCII (RFC 6749 Appendix A.12, no spaces) ->
 * MCPAUTH_OK and *out (free with mcpauth_oauth_token_response_free). An error
 * answer (RFC 6749 §5.2) -> MCPAUTH_EREMOTE with the status, error and
 * error_description, never a token; anything malformed -> MCPAUTH_EREMOTE. */
mcpauth_status mcpauth_oauth_token_response_parse(const mcpauth_http_response *resp,
                                                  const char *endpoint,
                                                  mcpauth_oauth_token_response *out,
                                                  mcpauth_error *err);

/* Sends the request (POST, form-encoded, Accept: application/json; Basic
 * credentials when asked) and parses the answer. Transport failures keep the
 * HTTP client's status (MCPAUTH_ENETWORK, or MCPAUTH_EUSAGE when the policy
 * refuses the endpoint URL). Blocks. */
mcpauth_status mcpauth_oauth_token_request(const mcpauth_http_options *opts,
                                           const mcpauth_oauth_token_client *client,
                                           const mcpauth_oauth_token_params *params,
                                           mcpauth_oauth_token_response *out, mcpauth_error *err);

/* Releases the document; safe on a zeroed struct. */
void mcpauth_oauth_token_response_free(mcpauth_oauth_token_response *resp);

#endif
