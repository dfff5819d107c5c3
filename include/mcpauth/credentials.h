/* The credentials file `mcpauth register --output` writes and the other
 * subcommands read (--credentials FILE): the issuer the client belongs to
 * (MCP 2026-07-28: credentials are bound to one authorization server), the
 * registration endpoint, and the server's whole registration response.
 *
 *   { "version": 1, "issuer": "...", "registration_endpoint": "...",
 *     "client": { "client_id": "...", "client_secret": "...", ... } }
 *
 * Files are written 0600. Blocking file I/O. */
#ifndef MCPAUTH_CREDENTIALS_H
#define MCPAUTH_CREDENTIALS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "mcpauth/error.h"

#define MCPAUTH_CREDENTIALS_VERSION   1
#define MCPAUTH_CREDENTIALS_MAX_BYTES (256 * 1024)

typedef struct mcpauth_credentials {
    char *issuer;                /* NULL when the endpoint was given directly */
    char *registration_endpoint; /* NULL when unknown */
    json_object *client;         /* the registration response; owned */
} mcpauth_credentials;

/* Reads and checks a credentials file (a JSON object with a client object
 * that has a client_id). MCPAUTH_ELOCAL naming the file and the problem. The
 * caller frees *out with mcpauth_credentials_free(). */
mcpauth_status mcpauth_credentials_load(const char *path, mcpauth_credentials *out,
                                        mcpauth_error *err);

/* Writes creds to path, mode 0600, atomically; refuses to replace an
 * existing file unless overwrite. */
mcpauth_status mcpauth_credentials_save(const char *path, const mcpauth_credentials *creds,
                                        bool overwrite, mcpauth_error *err);

/* Replaces the stored client with a read or update response (RFC 7592 §2.1,
 * §2.2). A new client_secret or registration_access_token in the response
 * replaces the old one (RFC 7592 §3: the server may rotate them); a response that leaves out the registration
 * token, the client URI or the secret keeps the stored ones, since servers
 * need not repeat them. Takes ownership of response. */
void mcpauth_credentials_replace_client(mcpauth_credentials *creds, json_object *response);

/* Accessors into creds->client; borrowed, NULL when absent. */
const char *mcpauth_credentials_client_id(const mcpauth_credentials *creds);
const char *mcpauth_credentials_client_secret(const mcpauth_credentials *creds);
const char *mcpauth_credentials_client_uri(const mcpauth_credentials *creds);
const char *mcpauth_credentials_registration_token(const mcpauth_credentials *creds);

/* client_secret_expires_at when present and non-zero (0 means never), else 0. */
long long mcpauth_credentials_secret_expiry(const mcpauth_credentials *creds);

void mcpauth_credentials_free(mcpauth_credentials *creds);

#endif
