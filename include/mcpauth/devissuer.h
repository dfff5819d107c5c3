/* The development issuer behind `mcpauth serve --dev`: a small OAuth 2.1
 * authorization server for local work, demos and tests, never production.
 * It serves RFC 8414 metadata, RFC 7591/7592 registration, /authorize with
 * PKCE S256 and a consent page, /token (authorization_code, refresh_token,
 * client_credentials), RFC 9068 JWT (ES256) or opaque access tokens, RFC
 * 7662 introspection, RFC 7009 revocation and its JWK Set.
 *
 * It knows nothing of the HTTP server: the embedding server asks
 * mcpauth_devissuer_handles() for a path, passes the request in, and sends
 * the response it gets back. State lives in memory, and when a state file
 * is configured its clients and signing key are also written there (mode
 * 0600) on every change: a small blocking write. A client named by the
 * https URL of its Client ID Metadata Document is fetched on a libuv loop
 * (mcpauth_devissuer_handle_async); everything else is pure computation.
 * Call from one thread: the loop's.
 */
#ifndef MCPAUTH_DEVISSUER_H
#define MCPAUTH_DEVISSUER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "mcpauth/error.h"

typedef struct mcpauth_devissuer mcpauth_devissuer;

typedef enum mcpauth_devissuer_token_format {
    MCPAUTH_DEVISSUER_JWT,    /* RFC 9068 JWTs signed with ES256 */
    MCPAUTH_DEVISSUER_OPAQUE, /* random strings, checked by introspection */
} mcpauth_devissuer_token_format;

#define MCPAUTH_DEVISSUER_MAX_SCOPES 32

typedef struct mcpauth_devissuer_config {
    const char *issuer;   /* the origin it serves on, "http://127.0.0.1:8000" */
    const char *resource; /* the one resource (RFC 8707) it issues tokens for */
    const char *scopes[MCPAUTH_DEVISSUER_MAX_SCOPES]; /* scopes_supported */
    size_t scope_count;
    const char *user;  /* the development user's name */
    bool auto_approve; /* skip the consent page */
    mcpauth_devissuer_token_format token_format;
    const char *state_file; /* NULL: memory only */
    /* Browser origins whose pages may call registration, token,
     * introspection and revocation across origins (CORS), besides loopback
     * origins and the issuer's own; "*" allows any. Borrowed. */
    const char *const *allowed_origins;
    size_t allowed_origin_count;
    int64_t code_lifetime_seconds;    /* 60 */
    int64_t access_lifetime_seconds;  /* 3600 */
    int64_t refresh_lifetime_seconds; /* 30 days */
} mcpauth_devissuer_config;

/* Defaults: JWT tokens, the lifetimes above, no state file. */
void mcpauth_devissuer_config_init(mcpauth_devissuer_config *config);

/* Creates the issuer: loads the state file when it exists (its clients and
 * signing key), else generates an ES256 key and, with a state file, writes
 * it. config and its strings must outlive the issuer. Blocks on the file.
 * NULL with err set: MCPAUTH_ELOCAL for a bad or unwritable state file. */
mcpauth_devissuer *mcpauth_devissuer_new(const mcpauth_devissuer_config *config,
                                         mcpauth_error *err);

void mcpauth_devissuer_free(mcpauth_devissuer *dev);

/* True when path is one of the issuer's endpoints. */
bool mcpauth_devissuer_handles(const mcpauth_devissuer *dev, const char *path);

/* The client the resource server uses to introspect: created at start,
 * never stored, never shown. Borrowed strings. */
const char *mcpauth_devissuer_resource_client_id(const mcpauth_devissuer *dev);
const char *mcpauth_devissuer_resource_client_secret(const mcpauth_devissuer *dev);

/* The JWK Set document (borrowed), for a resource server in the same
 * process. */
const char *mcpauth_devissuer_jwks(const mcpauth_devissuer *dev);

/* One request. Everything is borrowed for the call. */
typedef struct mcpauth_devissuer_request {
    const char *method;
    const char *path;          /* without the query */
    const char *query;         /* NULL when absent */
    const char *authorization; /* the Authorization header, NULL when absent */
    const char *content_type;
    const char *origin; /* the Origin header, NULL when absent */
    const char *body;
    size_t body_length;
    int64_t now; /* seconds since the epoch */
} mcpauth_devissuer_request;

#define MCPAUTH_DEVISSUER_MAX_FIELDS 10

typedef struct mcpauth_devissuer_field {
    const char *name; /* static */
    char *value;      /* owned */
} mcpauth_devissuer_field;

/* What to answer. Owned by the caller after handle(); free with
 * mcpauth_devissuer_response_free(). detail is a short reason for the
 * access log when the request was refused (static; never a secret). */
typedef struct mcpauth_devissuer_response {
    int status;
    mcpauth_devissuer_field fields[MCPAUTH_DEVISSUER_MAX_FIELDS];
    size_t field_count;
    char *body; /* may be NULL */
    size_t body_length;
    const char *detail;
} mcpauth_devissuer_response;

/* Answers one request to a path handles() accepted. Always fills out. */
void mcpauth_devissuer_handle(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                              mcpauth_devissuer_response *out);

void mcpauth_devissuer_response_free(mcpauth_devissuer_response *resp);

/* ---- Client ID Metadata Documents ----
 * A client id that is an https URL names the client's metadata document
 * (MCP authorization §Client ID Metadata Documents). Until fetching is
 * started, such a client is refused as unknown. */

/* Lets the issuer fetch documents on loop, trusting the CA certificates
 * in the PEM file cacert (NULL: the system's; borrowed, must outlive the
 * issuer). 0 or a negative libuv error code. */
int mcpauth_devissuer_start_fetching(mcpauth_devissuer *dev, uv_loop_t *loop, const char *cacert);

/* Cancels the fetches in flight: their requests are answered (an error)
 * through their callbacks, now. Call before the loop stops. */
void mcpauth_devissuer_stop_fetching(mcpauth_devissuer *dev);

/* Gets an answer that waited on a document fetch; resp is borrowed for the
 * call. */
typedef void (*mcpauth_devissuer_answer_cb)(const mcpauth_devissuer_response *resp, void *data);

/* As mcpauth_devissuer_handle(), except that a request naming a client by
 * a document URL that is not cached waits for the fetch: then it returns
 * false, out is untouched, and cb gets the answer later on the loop,
 * exactly once. Returns true when out is filled now (cb is not called).
 * The request is copied. */
bool mcpauth_devissuer_handle_async(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                                    mcpauth_devissuer_response *out, mcpauth_devissuer_answer_cb cb,
                                    void *data);

#endif
