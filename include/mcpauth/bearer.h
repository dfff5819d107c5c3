/* The resource server's side of RFC 6750: finding the access token in a
 * request and writing WWW-Authenticate challenges. Pure; nothing blocks. */
#ifndef MCPAUTH_BEARER_H
#define MCPAUTH_BEARER_H

#include <stddef.h>

typedef enum mcpauth_bearer_status {
    MCPAUTH_BEARER_NONE,         /* no Authorization field: 401 without error */
    MCPAUTH_BEARER_OTHER_SCHEME, /* e.g. Basic: treated as no credentials (RFC 6750 §3.1) */
    MCPAUTH_BEARER_FOUND,        /* *token points at the b64token */
    MCPAUTH_BEARER_MALFORMED,    /* several fields, empty token, bad characters: 400 */
} mcpauth_bearer_status;

/* Looks at every Authorization field value of a request (values[0..count)).
 * RFC 6750 §2.1: scheme "Bearer" case-insensitively, one or more spaces, then
 * b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=",
 * optionally followed by whitespace. More than one Authorization field is
 * malformed (RFC 6750 §3.1 / OAuth 2.1 §5.1: one method only). On FOUND,
 * *token and *length point into the value (borrowed). Tokens longer than
 * max_length are MALFORMED. */
mcpauth_bearer_status mcpauth_bearer_extract(const char *const *values, size_t count,
                                             size_t max_length, const char **token,
                                             size_t *length);

/* Builds a WWW-Authenticate value (RFC 6750 §3, RFC 9728 §5.1):
 *   Bearer resource_metadata="URL"[, scope="S"][, error="E"[, error_description="D"]]
 * Each argument may be NULL (then it is left out); error_description is
 * sanitised to RFC 6750's character set (no '"' or '\\', no control
 * characters; others become '?') and cut to 200 bytes. scope must already be
 * valid scope tokens. Caller frees; NULL on allocation failure. */
char *mcpauth_bearer_challenge(const char *resource_metadata_url, const char *scope,
                               const char *error, const char *error_description);

#endif
