/* The token file `mcpauth token --output FILE` writes and
 * `--refresh-token-file FILE` reads back: the token response as received
 * (RFC 6749 §5.1), plus where it came from and when it expires, so that a
 * refresh goes to the same server for the same client.
 *
 *   { "access_token": "...", "refresh_token": "...", ..., "version": 1,
 *     "issuer": "...", "client_id": "...", "token_endpoint": "...",
 *     "obtained_at": 1767222000, "expires_at": 1767225600 }
 *
 * A refresh token file may also hold the bare token. Files are written
 * 0600; they hold secrets, wiped from memory when freed. Blocking file
 * I/O. */
#ifndef MCPAUTH_OAUTH_TOKEN_FILE_H
#define MCPAUTH_OAUTH_TOKEN_FILE_H

#include <json-c/json.h>
#include <stdbool.h>

#include "mcpauth/error.h"
#include "mcpauth/oauth_token.h"

#define MCPAUTH_OAUTH_TOKEN_FILE_VERSION 1
#define MCPAUTH_OAUTH_TOKEN_FILE_MAX     (256 * 1024)

/* What a refresh token file held. */
typedef struct mcpauth_oauth_token_file {
    char *refresh_token;   /* owned; never NULL after a successful load */
    json_object *document; /* the file written by --output; NULL for a bare token */
} mcpauth_oauth_token_file;

/* Reads the refresh token at path ("-" for standard input): a JSON object
 * (a file written by mcpauth_oauth_token_file_save) with a refresh_token member,
 * or the token alone with white space around it. The token must be
 * visible ASCII without spaces (RFC 6749 Appendix A.17). Anything else is
 * MCPAUTH_ELOCAL naming the file. Free *out with mcpauth_oauth_token_file_free(),
 * also after a failure. */
mcpauth_status mcpauth_oauth_token_file_load(const char *path, mcpauth_oauth_token_file *out,
                                             mcpauth_error *err);

/* The issuer or client_id the document names (borrowed), NULL for a bare
 * token or when absent. */
const char *mcpauth_oauth_token_file_member(const mcpauth_oauth_token_file *file, const char *key);

void mcpauth_oauth_token_file_free(mcpauth_oauth_token_file *file);

/* Where a token response came from, for the saved document. Borrowed. */
typedef struct mcpauth_oauth_token_file_origin {
    const char *issuer;
    const char *client_id;
    const char *token_endpoint;
    const char *refresh_token; /* the one refreshed with, kept when resp has none */
    long long now;             /* seconds since the epoch: obtained_at */
} mcpauth_oauth_token_file_origin;

/* Writes resp's document with origin's members added (expires_at from
 * expires_in) to path, mode 0600; an existing file only with overwrite. A
 * refresh answer without a refresh token keeps origin->refresh_token (RFC
 * 6749 §6: it stays valid). MCPAUTH_ELOCAL on failure. */
mcpauth_status mcpauth_oauth_token_file_save(const char *path,
                                             const mcpauth_oauth_token_response *resp,
                                             const mcpauth_oauth_token_file_origin *origin,
                                             bool overwrite, mcpauth_error *err);

#endif
