/* The authorization code grant (RFC 6749 §4.1, OAuth 2.1 §4.1, RFC 8252 for
 * native apps): the authorization request URL with PKCE (RFC 7636) and
 * resource indicators (RFC 8707), the loopback listener that receives the
 * browser's redirect, checking state and, per RFC 9207, iss, and the whole
 * grant from metadata to token response.
 *
 * URL building and response checking are pure. The listener runs the HTTP
 * server of http_server.h on a private libuv loop; only
 * mcpauth_redirect_listener_wait() and mcpauth_authorization_code_grant()
 * block. */
#ifndef MCPAUTH_AUTHORIZATION_H
#define MCPAUTH_AUTHORIZATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mcpauth/discovery.h"
#include "mcpauth/error.h"
#include "mcpauth/http_client.h"
#include "mcpauth/oauth_token.h"

#define MCPAUTH_STATE_LENGTH 43 /* base64url of 32 random octets */

/* What goes into the authorization request. Strings are borrowed. */
typedef struct mcpauth_authorization_request {
    const char *authorization_endpoint;
    const char *client_id;
    const char *redirect_uri;
    const char *scope; /* NULL omits it */
    const char *state;
    const char *code_challenge; /* S256 (RFC 7636 §4.3) */
    const char *const *resources;
    size_t resource_count;
} mcpauth_authorization_request;

/* Fills state with 32 octets from gnutls_rnd(GNUTLS_RND_RANDOM),
 * base64url-encoded (RFC 6749 §10.12: an unguessable value bound to this
 * request). MCPAUTH_ELOCAL when the random generator fails. */
mcpauth_status mcpauth_authorization_new_state(char state[MCPAUTH_STATE_LENGTH + 1],
                                               mcpauth_error *err);

/* The authorization request URL: the endpoint with response_type=code,
 * client_id, redirect_uri, scope, state, code_challenge,
 * code_challenge_method=S256 and each resource appended to its query
 * (form-encoded, RFC 6749 Appendix B; an existing query is kept, §3.1). An
 * endpoint with a fragment (§3.1) or that is not an absolute http(s) URL ->
 * NULL with MCPAUTH_EREMOTE, as the endpoint comes from the server's
 * metadata. The caller frees the result. */
char *mcpauth_authorization_url(const mcpauth_authorization_request *req, mcpauth_error *err);

/* What the redirect must carry to be accepted. Borrowed. */
typedef struct mcpauth_authorization_expect {
    const char *state;  /* the state that was sent */
    const char *issuer; /* the authorization server's issuer identifier */
    bool require_iss;   /* its metadata has authorization_response_iss_parameter_supported */
} mcpauth_authorization_expect;

/* Checks the query of a request to the redirect URI (RFC 6749 §4.1.2,
 * §4.1.2.1; RFC 9207 §2.4), in this order: each of code, state, iss, error
 * at most once; state present and equal to the expected one (compared in
 * constant time); iss equal to the issuer when present, and present when
 * require_iss; then the outcome. On success *code receives the code (free
 * with mcpauth_secret_free). Otherwise MCPAUTH_EREMOTE for a mismatched or
 * malformed response and for error answers, except error=access_denied
 * (the user or the server said no), which is MCPAUTH_ENEGATIVE; the message
 * quotes error and error_description, sanitised. A query with neither code
 * nor error nor state is not an authorization response: MCPAUTH_EUSAGE. */
mcpauth_status mcpauth_authorization_response_check(const char *query,
                                                    const mcpauth_authorization_expect *expect,
                                                    char **code, mcpauth_error *err);

typedef struct mcpauth_redirect_listener mcpauth_redirect_listener;

/* Starts listening for redirect_uri, which must be http:// on a loopback
 * host (RFC 8252 §7.3): on its address and port, and for "localhost" on
 * 127.0.0.1 and, when available, ::1. A redirect URI that is not loopback
 * http -> MCPAUTH_EUSAGE; an address that cannot be bound (port in use) ->
 * MCPAUTH_ELOCAL. When log is not NULL, each request to the listener is
 * noted there (method and path, never the query). Does not block. Free with
 * mcpauth_redirect_listener_free(). */
mcpauth_status mcpauth_redirect_listener_open(const char *redirect_uri, FILE *log,
                                              mcpauth_redirect_listener **out, mcpauth_error *err);

/* Serves the listener until an authorization response arrives at the
 * redirect path, then answers the browser with a small page and returns the
 * verdict of mcpauth_authorization_response_check(). Other paths get 404,
 * other methods 405, and requests to the path that carry no authorization
 * response 400; waiting goes on after those. Nothing within timeout_ms ->
 * MCPAUTH_ENETWORK. Blocks; call once. The caller should ignore SIGPIPE, as
 * a browser may hang up while its page is written. */
mcpauth_status mcpauth_redirect_listener_wait(mcpauth_redirect_listener *listener,
                                              const mcpauth_authorization_expect *expect,
                                              uint64_t timeout_ms, char **code, mcpauth_error *err);

/* Closes the sockets and frees the listener; NULL is fine. */
void mcpauth_redirect_listener_free(mcpauth_redirect_listener *listener);

/* ---- the whole grant ---- */

/* True when the authorization server's metadata lists S256 in
 * code_challenge_methods_supported; MCP (2025-11-25, Authorization Code
 * Protection) has clients refuse the flow otherwise. */
bool mcpauth_authorization_offers_s256(const mcpauth_as_metadata *md);

/* True when the metadata promises iss in authorization responses (RFC 9207
 * §3: authorization_response_iss_parameter_supported), which the redirect
 * must then carry. */
bool mcpauth_authorization_requires_iss(const mcpauth_as_metadata *md);

/* The first of a client's registered redirect_uris (RFC 7591 §2) that
 * mcpauth can listen on: http to a loopback host, without a fragment
 * (RFC 8252 §7.3). Borrowed from client; NULL when there is none. */
const char *mcpauth_authorization_loopback_uri(json_object *client);

/* Called once the listener is up, with the URL the user must open and the
 * redirect URI waited on, to show them (and maybe start a browser). */
typedef void (*mcpauth_authorization_show_cb)(const char *url, const char *redirect_uri,
                                              void *data);

/* One authorization code grant. Borrowed for the call. */
typedef struct mcpauth_authorization_grant {
    const mcpauth_http_options *http; /* its verbose stream also logs the listener */
    const mcpauth_as_metadata *metadata;
    const mcpauth_oauth_token_client *client; /* token_endpoint from the metadata */
    const char *redirect_uri;           /* NULL: the first loopback one in registered */
    json_object *registered;            /* the client's registration (redirect_uris); may be NULL */
    const char *scope;                  /* NULL omits it */
    const char *const *resources;
    size_t resource_count;
    uint64_t timeout_ms; /* how long to wait for the redirect */
    mcpauth_authorization_show_cb show;
    void *show_data;
} mcpauth_authorization_grant;

/* Runs the grant: refuses a server without S256 (MCPAUTH_EREMOTE); picks
 * the redirect URI; makes the PKCE pair and the state; builds the
 * authorization URL from the metadata's authorization_endpoint; listens on
 * the redirect URI, calls show, and waits for the redirect (state checked,
 * iss as RFC 9207 asks); then redeems the code at the token endpoint with
 * the verifier, the same redirect URI and the same resources (RFC 8707
 * §2.2). On success *out holds the token response (free with
 * mcpauth_oauth_token_response_free). MCPAUTH_EUSAGE only when there is no usable
 * redirect URI (none given or registered, or not loopback http); every URL
 * from the server that the transport policy refuses is MCPAUTH_EREMOTE.
 * Otherwise as mcpauth_redirect_listener_wait() (MCPAUTH_ENEGATIVE when the
 * user declined, MCPAUTH_ENETWORK on timeout) and mcpauth_oauth_token_request().
 * Blocks; the caller should ignore SIGPIPE. */
mcpauth_status mcpauth_authorization_code_grant(const mcpauth_authorization_grant *grant,
                                                mcpauth_oauth_token_response *out, mcpauth_error *err);

#endif
