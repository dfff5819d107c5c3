/* Client ID Metadata Documents from the client's side (MCP 2026-07-28
 * Client Registration §Client ID Metadata Documents;
 * draft-ietf-oauth-client-id-metadata-document): the named checks a client id
 * URL, the document hosted there and an authorization server's metadata must
 * pass for that server to accept the client, each reported PASS, FAIL or
 * SKIP with a one-line reason. `mcpauth register --cimd` runs the URL and
 * document checks on the document it writes; `register --check-cimd` runs
 * them all on a hosted one.
 *
 * Everything here is pure except mcpauth_oauth_cimd_report_run(), which
 * fetches and blocks (mcpauth_http_perform). */
#ifndef MCPAUTH_CIMD_REPORT_H
#define MCPAUTH_CIMD_REPORT_H

#include <json-c/json.h>
#include <stddef.h>

#include "mcpauth/error.h"
#include "mcpauth/http_client.h"

/* The largest document the checks accept. The draft's security
 * considerations ask authorization servers to bound the response size; 5 KiB
 * is the figure it suggests, ample for client metadata. */
#define MCPAUTH_OAUTH_CIMD_REPORT_MAX_BYTES 5120

typedef enum mcpauth_oauth_cimd_report_verdict {
    MCPAUTH_OAUTH_CIMD_REPORT_PASS,
    MCPAUTH_OAUTH_CIMD_REPORT_FAIL,
    MCPAUTH_OAUTH_CIMD_REPORT_SKIP, /* an earlier failure left nothing to check */
} mcpauth_oauth_cimd_report_verdict;

typedef struct mcpauth_oauth_cimd_report_result {
    const char *name; /* static, e.g. "client-id", "as-pkce-s256" */
    mcpauth_oauth_cimd_report_verdict verdict;
    const char *detail; /* one printable line; valid during the callback only */
} mcpauth_oauth_cimd_report_result;

typedef void (*mcpauth_oauth_cimd_report_cb)(const mcpauth_oauth_cimd_report_result *result,
                                             void *data);

/* Where results go, and their counts. Zero it, set cb (NULL only counts). */
typedef struct mcpauth_oauth_cimd_report {
    mcpauth_oauth_cimd_report_cb cb;
    void *data;
    size_t passed, failed, skipped;
} mcpauth_oauth_cimd_report;

/* "PASS", "FAIL" or "SKIP". */
const char *mcpauth_oauth_cimd_report_verdict_name(mcpauth_oauth_cimd_report_verdict verdict);

/* The client id URL (the draft's §3): "https" (the scheme) and
 * "client-id-url" (a path, no fragment, no user or password, no "." or ".."
 * segments). */
void mcpauth_oauth_cimd_report_url(mcpauth_oauth_cimd_report *report, const char *url);

/* The answer to GET url: "no-redirect" (resp->url is still url: servers do
 * not follow redirects), "status-200", "content-type" (application/json or
 * +json), "size" (at most MCPAUTH_OAUTH_CIMD_REPORT_MAX_BYTES) and
 * "json-object". Returns the parsed document, which the caller puts, or NULL
 * when the body is not a JSON object. */
json_object *mcpauth_oauth_cimd_report_response(mcpauth_oauth_cimd_report *report, const char *url,
                                                const mcpauth_http_response *resp);

/* The document itself: "client-id" (equal to url byte for byte),
 * "client-name" and "redirect-uris" (MCP requires both; each redirect URI
 * valid), "auth-method" (none, or private_key_jwt with jwks or jwks_uri: a
 * document cannot carry a shared secret, and an absent method means
 * client_secret_basic by RFC 7591 §2), "no-secret" (no client_secret or
 * client_secret_expires_at) and "metadata" (RFC 7591 §2 member types and
 * values). doc NULL: each is a SKIP. */
void mcpauth_oauth_cimd_report_document(mcpauth_oauth_cimd_report *report, const char *url,
                                        json_object *doc);

/* What the authorization server's RFC 8414 metadata (as_metadata) says of
 * doc: "as-cimd-supported" (client_id_metadata_document_supported true),
 * "as-auth-method", "as-grant-types", "as-response-types" (each of doc's
 * values listed, with RFC 8414 §2's defaults for absent lists) and
 * "as-pkce-s256" (code_challenge_methods_supported lists S256, which MCP
 * clients require). as_metadata NULL: all SKIP; doc NULL: all but the first. */
void mcpauth_oauth_cimd_report_server(mcpauth_oauth_cimd_report *report, json_object *doc,
                                      json_object *as_metadata);

/* Every check, in order: the URL, "fetch" (GET url answered at all), the
 * response, the document, "as-metadata" (RFC 8414 discovery of issuer, as
 * mcpauth_discover_issuer() does; with issuer NULL, of the first
 * authorization server resource_url's RFC 9728 metadata names, as an MCP
 * client finds it) and the server checks. Failures are reported as checks,
 * never returned. Blocks. */
void mcpauth_oauth_cimd_report_run(const mcpauth_http_options *opts, const char *url,
                                   const char *issuer, const char *resource_url,
                                   mcpauth_oauth_cimd_report *report);

/* For a document about to be written for url: sets client_id to url and
 * token_endpoint_auth_method to "none" where doc has neither (RFC 7591's
 * default, client_secret_basic, is a shared secret a public document cannot
 * hold). A client_id doc already has is kept, for the checks to judge.
 * MCPAUTH_ELOCAL on allocation failure. */
mcpauth_status mcpauth_oauth_cimd_report_fill(json_object *doc, const char *url,
                                              mcpauth_error *err);

#endif
