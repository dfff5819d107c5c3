/* Shared by the probe's files: the state the checks pass along (what one
 * check learnt and a later one needs), the check functions, and the HTTP
 * helpers they use. Library-internal. */
#ifndef MCPAUTH_PROBE_INTERNAL_H
#define MCPAUTH_PROBE_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>

#include "mcpauth/http_client.h"
#include "mcpauth/probe.h"
#include "mcpauth/www_authenticate.h"

#define MCPAUTH__PROBE_MAX_SESSIONS 4

/* Which eras of MCP the server speaks, as server/discover showed (MCP
 * 2026-07-28 basic/versioning §Backward Compatibility). */
typedef enum mcpauth__probe_era {
    MCPAUTH__PROBE_ERA_UNKNOWN, /* not asked (no token) or the token was refused */
    MCPAUTH__PROBE_ERA_LEGACY,  /* no modern version offered: 2025-11-25 and before only */
    MCPAUTH__PROBE_ERA_MODERN,  /* answers 2026-07-28 requests */
} mcpauth__probe_era;

typedef struct mcpauth__probe_state {
    const mcpauth_http_options *opts;
    const mcpauth_probe_config *config;
    char *origin;            /* scheme://host[:port] of the MCP URL */
    char *path_metadata_url; /* RFC 9728 §3.1: well-known inserted before the path */
    char *root_metadata_url; /* well-known at the root of the origin */

    /* The answer to an initialize without a token. */
    mcpauth_http_response no_token;
    bool have_no_token;
    mcpauth_challenge_list no_token_challenges;
    const mcpauth_challenge *no_token_bearer; /* into no_token_challenges */
    char *header_metadata_url;                /* its resource_metadata, when usable */

    /* The protected resource metadata documents (RFC 9728), when usable. */
    json_object *metadata;      /* at the URL the challenge names */
    json_object *path_metadata; /* at the path-inserted URL */
    char *issuer;               /* their first authorization_servers entry */

    /* The authorization server's metadata (RFC 8414). */
    json_object *as_metadata;
    char *as_metadata_url;

    /* With the token. */
    bool token_accepted; /* initialize answered 200 with a result */
    char *session_id;
    char *protocol_version;
    char *sessions[MCPAUTH__PROBE_MAX_SESSIONS]; /* opened by the probe; deleted at the end */
    size_t session_count;

    /* MCP 2026-07-28 (modern_checks.c, scope_checks.c). */
    mcpauth__probe_era era;
    char *forbidden_scope; /* the scope of a 403 insufficient_scope the probe provoked */
} mcpauth__probe_state;

/* A check fills in c->verdict and c->detail. It returns MCPAUTH_OK, or an
 * error status (with err set) when it could not be done at all, which
 * stops the probe. */
typedef mcpauth_status (*mcpauth__probe_check_fn)(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                                  mcpauth_error *err);

/* Verdicts with a printf-style detail. */
void mcpauth__probe_verdict(mcpauth_probe_check *c, mcpauth_probe_verdict verdict, const char *fmt,
                            ...) __attribute__((format(printf, 3, 4)));

/* After a request failed: network and local errors stop the probe (their
 * status is returned); anything else (a garbled or oversized answer, a URL
 * the transport policy refuses) fails the check with err's message and
 * returns MCPAUTH_OK. what names the request. */
mcpauth_status mcpauth__probe_request_failed(mcpauth_probe_check *c, const char *what,
                                             const mcpauth_error *err);

/* False, with the check a SKIP saying so, when no token was given. */
bool mcpauth__probe_need_token(mcpauth__probe_state *s, mcpauth_probe_check *c);

/* ---- requests (request.c) ---- */

/* One POST, DELETE or GET to the MCP endpoint with exactly these
 * credentials and headers; NULL members are not sent. */
typedef struct mcpauth__probe_request {
    const char *method;       /* "POST" (default), "DELETE" or "GET" */
    const char *url;          /* default: the MCP URL */
    const char *body;         /* JSON-RPC; NULL for none */
    const char *bearer_token; /* Authorization: Bearer */
    const char *basic_user;   /* with basic_password: Authorization: Basic */
    const char *basic_password;
    const char *origin;           /* Origin */
    const char *session_id;       /* Mcp-Session-Id */
    const char *protocol_version; /* MCP-Protocol-Version */
    const char *mcp_method;       /* Mcp-Method (MCP 2026-07-28) */
    const char *mcp_name;         /* Mcp-Name (MCP 2026-07-28) */
    const char *accept;           /* default: "application/json, text/event-stream" */
} mcpauth__probe_request;

/* Sends r. On MCPAUTH_OK the caller frees *resp (any HTTP status). */
mcpauth_status mcpauth__probe_send(mcpauth__probe_state *s, const mcpauth__probe_request *r,
                                   mcpauth_http_response *resp, mcpauth_error *err);

/* An initialize request body (MCP 2025-11-25 lifecycle) with id 1. */
extern const char mcpauth__probe_initialize_body[];

/* The JSON-RPC response with the given id in an answer to a POST: the body
 * itself (application/json) or the SSE event carrying it
 * (text/event-stream). NULL when there is none. The caller releases it. */
json_object *mcpauth__probe_jsonrpc_response(const mcpauth_http_response *resp, int id);

/* GETs url. MCPAUTH_OK with *resp set (any status); errors as for
 * mcpauth_http_perform(). */
mcpauth_status mcpauth__probe_get(mcpauth__probe_state *s, const char *url,
                                  mcpauth_http_response *resp, mcpauth_error *err);

/* Parses every WWW-Authenticate header of resp into list (which the caller
 * frees) and returns its Bearer challenge, or NULL. *syntax_error is set
 * when a header did not parse. */
const mcpauth_challenge *mcpauth__probe_bearer_challenge(const mcpauth_http_response *resp,
                                                         mcpauth_challenge_list *list,
                                                         bool *syntax_error);

/* "HTTP 401 Unauthorized" into buf. */
const char *mcpauth__probe_status_text(long status, char *buf, size_t size);

/* Remembers a session the probe opened, to delete it at the end. */
void mcpauth__probe_keep_session(mcpauth__probe_state *s, const mcpauth_http_response *resp);

/* ---- the checks, in the order they run ---- */

/* metadata_checks.c: without a token (RFC 6750 §3.1, RFC 9728 §3) */
mcpauth_status mcpauth__probe_no_token_401(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                           mcpauth_error *err);
mcpauth_status mcpauth__probe_no_token_challenge(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                                 mcpauth_error *err);
mcpauth_status mcpauth__probe_no_token_no_error(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                                mcpauth_error *err);
mcpauth_status mcpauth__probe_metadata_document(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                                mcpauth_error *err);
mcpauth_status mcpauth__probe_metadata_resource(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                                mcpauth_error *err);
mcpauth_status mcpauth__probe_metadata_authorization_servers(mcpauth__probe_state *s,
                                                             mcpauth_probe_check *c,
                                                             mcpauth_error *err);
mcpauth_status mcpauth__probe_metadata_path_inserted(mcpauth__probe_state *s,
                                                     mcpauth_probe_check *c, mcpauth_error *err);
mcpauth_status mcpauth__probe_metadata_root(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                            mcpauth_error *err);

/* as_checks.c: the authorization server (RFC 8414, MCP Authorization) */
mcpauth_status mcpauth__probe_as_metadata(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                          mcpauth_error *err);
mcpauth_status mcpauth__probe_as_issuer(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                        mcpauth_error *err);
mcpauth_status mcpauth__probe_as_pkce(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                      mcpauth_error *err);

/* token_checks.c: credentials, good and bad (RFC 6750, RFC 9068, MCP) */
mcpauth_status mcpauth__probe_bogus_token(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                          mcpauth_error *err);
mcpauth_status mcpauth__probe_basic_scheme(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                           mcpauth_error *err);
mcpauth_status mcpauth__probe_query_token(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                          mcpauth_error *err);
mcpauth_status mcpauth__probe_token_initialize(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                               mcpauth_error *err);
mcpauth_status mcpauth__probe_token_tools_list(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                               mcpauth_error *err);
mcpauth_status mcpauth__probe_query_beside_header(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                                  mcpauth_error *err);
mcpauth_status mcpauth__probe_forged_alg_none(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                              mcpauth_error *err);
mcpauth_status mcpauth__probe_forged_signature(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                               mcpauth_error *err);
mcpauth_status mcpauth__probe_foreign_origin(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                             mcpauth_error *err);

/* modern_checks.c: the 2026-07-28 transport, for a server that offers it */
mcpauth_status mcpauth__probe_modern_discover(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                              mcpauth_error *err);
mcpauth_status mcpauth__probe_modern_header_mismatch(mcpauth__probe_state *s,
                                                     mcpauth_probe_check *c, mcpauth_error *err);
mcpauth_status mcpauth__probe_modern_unsupported_version(mcpauth__probe_state *s,
                                                         mcpauth_probe_check *c,
                                                         mcpauth_error *err);
mcpauth_status mcpauth__probe_modern_get_405(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                             mcpauth_error *err);

/* scope_checks.c: the 2026-07-28 authorization rules on scopes */
mcpauth_status mcpauth__probe_insufficient_scope_all(mcpauth__probe_state *s,
                                                     mcpauth_probe_check *c, mcpauth_error *err);
mcpauth_status mcpauth__probe_offline_access_absent(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                                    mcpauth_error *err);

/* The version of the modern requests, and the body of one: a JSON-RPC
 * request with id, method, params.name (tool; NULL: none) and the _meta
 * envelope naming version (MCP 2026-07-28 basic §Request Metadata). The
 * caller frees it; NULL when out of memory. */
#define MCPAUTH__PROBE_MODERN_VERSION "2026-07-28"
char *mcpauth__probe_modern_body(int id, const char *method, const char *tool, const char *version);
#endif
