/* OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-
 * document-00; MCP authorization §Client ID Metadata Documents): the rules a
 * client id URL and the document behind it must follow, as an authorization
 * server applies them. Pure functions on text and parsed JSON: nothing here
 * fetches or blocks; fetching (with its size, time and address limits) is
 * the caller's job.
 *
 * Each rule is a named check, so that a tool can report every one
 * (mcpauth_oauth_cimd_each_check) and a server can stop at the first
 * failure (mcpauth_oauth_cimd_check_document). */
#ifndef MCPAUTH_CIMD_H
#define MCPAUTH_CIMD_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "mcpauth/error.h"

/* The largest document an authorization server should accept: the draft
 * asks for a small limit (§6.6), and a metadata document is a few hundred
 * bytes. */
#define MCPAUTH_OAUTH_CIMD_MAX_DOCUMENT 5120
/* The longest client id URL accepted: ids are stored with codes and tokens. */
#define MCPAUTH_OAUTH_CIMD_MAX_URL 255

/* True when client_id is meant as a document URL ("https://" or "http://"
 * followed by something): such ids are never issued by registration. */
bool mcpauth_oauth_cimd_is_url(const char *client_id);

/* Checks the client id URL itself (draft §3): https, a host, a path other
 * than "/", no userinfo, no fragment, no "." or ".." segments, at most
 * MCPAUTH_OAUTH_CIMD_MAX_URL bytes. allow_loopback_http also accepts plain
 * http to localhost or a loopback address (for development only).
 * MCPAUTH_EUSAGE with the reason otherwise. */
mcpauth_status mcpauth_oauth_cimd_check_url(const char *url, bool allow_loopback_http,
                                            mcpauth_error *err);

/* How far a document can be trusted when a check fails. */
typedef enum mcpauth_oauth_cimd_verdict {
    MCPAUTH_OAUTH_CIMD_VALID,
    /* Not the client's document (not a JSON object, another client_id, no
     * usable redirect_uris): nothing in it may be believed, its redirect URIs
     * included, so an error must not be sent to one of them. */
    MCPAUTH_OAUTH_CIMD_FOREIGN,
    /* The client's own document breaking a rule (a secret, a shared-secret
     * authentication method, a grant a public client cannot use): its
     * redirect URIs may carry the error. */
    MCPAUTH_OAUTH_CIMD_INVALID,
} mcpauth_oauth_cimd_verdict;

/* Called once per check with its static name ("client-id-matches", ...),
 * the verdict a failure gives, and problem: NULL when the check passed, else
 * a message (borrowed for the call). Return false to stop. */
typedef bool (*mcpauth_oauth_cimd_check_cb)(const char *check, mcpauth_oauth_cimd_verdict verdict,
                                            const char *problem, void *data);

/* Runs every document check on doc (NULL: the text was not JSON) against
 * the URL it was fetched from, in order: json-object, client-id-matches,
 * redirect-uris, client-name, no-client-secret, auth-method, grant-types,
 * response-types. */
void mcpauth_oauth_cimd_each_check(const char *url, json_object *doc,
                                   mcpauth_oauth_cimd_check_cb cb, void *data);

/* Parses text (length bytes; longer than MCPAUTH_OAUTH_CIMD_MAX_DOCUMENT
 * fails) and runs the checks up to the first failure. *out is the parsed
 * document unless the verdict is MCPAUTH_OAUTH_CIMD_FOREIGN (then NULL);
 * the caller releases it with json_object_put. On a failure problem (size
 * bytes) holds the failed check's message and check (when not NULL) its
 * name. */
mcpauth_oauth_cimd_verdict mcpauth_oauth_cimd_check_document(const char *url, const char *text,
                                                             size_t length, json_object **out,
                                                             const char **check, char *problem,
                                                             size_t size);

#endif
