/* Shared between the files of src/devissuer/: the issuer's state (clients,
 * pending authorizations and codes, issued tokens), each table bounded,
 * and the response helpers. Not for use outside src/devissuer/. */
#ifndef MCPAUTH_DEVISSUER_INTERNAL_H
#define MCPAUTH_DEVISSUER_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "mcpauth/cimd.h"
#include "mcpauth/devissuer.h"
#include "mcpauth/form.h"
#include "mcpauth/jose.h"

#define MCPAUTH__DEVISSUER_MAX_CLIENTS     1000
#define MCPAUTH__DEVISSUER_MAX_AUTHZ       1000  /* pending consents and unexpired codes */
#define MCPAUTH__DEVISSUER_MAX_TOKENS      10000 /* access (for introspection) and refresh tokens */
#define MCPAUTH__DEVISSUER_HASH_SIZE       65    /* SHA-256 in hex and a NUL */
#define MCPAUTH__DEVISSUER_ID_SIZE         (MCPAUTH_OAUTH_CIMD_MAX_URL + 1) /* a document URL fits */
#define MCPAUTH__DEVISSUER_CONSENT_SECONDS 600 /* how long a consent page stays usable */
#define MCPAUTH__DEVISSUER_MAX_BODY        (64 * 1024)

typedef struct mcpauth__devissuer_client {
    char id[MCPAUTH__DEVISSUER_ID_SIZE];
    char secret_hash[MCPAUTH__DEVISSUER_HASH_SIZE];       /* "" for a public client */
    char registration_hash[MCPAUTH__DEVISSUER_HASH_SIZE]; /* RFC 7592 token; "" for the built-in
                                                             client */
    json_object *metadata;                                /* as registered, without any secret */
    int64_t issued_at;
    bool builtin;  /* the resource server's own client: never stored */
    bool document; /* a Client ID Metadata Document's client: never stored */
} mcpauth__devissuer_client;

typedef enum mcpauth__devissuer_authz_kind {
    MCPAUTH__DEVISSUER_AUTHZ_PENDING, /* waiting on the consent page; hash is of the ticket */
    MCPAUTH__DEVISSUER_AUTHZ_CODE,    /* an authorization code; hash is of the code */
} mcpauth__devissuer_authz_kind;

typedef struct mcpauth__devissuer_authz {
    mcpauth__devissuer_authz_kind kind;
    char hash[MCPAUTH__DEVISSUER_HASH_SIZE];
    char client_id[MCPAUTH__DEVISSUER_ID_SIZE];
    char *redirect_uri;
    bool redirect_given; /* the request named it: the token request must too */
    char challenge[44];  /* PKCE S256 code_challenge */
    char *state;         /* NULL when absent */
    char *scope;
    char *resource;
    int64_t expires_at;
    bool used; /* a code redeemed once: kept to detect replay */
} mcpauth__devissuer_authz;

typedef enum mcpauth__devissuer_token_kind {
    MCPAUTH__DEVISSUER_TOKEN_ACCESS,
    MCPAUTH__DEVISSUER_TOKEN_REFRESH
} mcpauth__devissuer_token_kind;

typedef struct mcpauth__devissuer_token {
    mcpauth__devissuer_token_kind kind;
    char hash[MCPAUTH__DEVISSUER_HASH_SIZE];
    char grant[MCPAUTH__DEVISSUER_HASH_SIZE]; /* the code (or client) it descends from */
    char client_id[MCPAUTH__DEVISSUER_ID_SIZE];
    char *subject;
    char *username; /* NULL on client_credentials tokens */
    char *scope;
    char *resource;
    char jti[32];
    int64_t issued_at;
    int64_t expires_at;
    bool rotated; /* a refresh token already exchanged: kept to detect replay */
} mcpauth__devissuer_token;

typedef struct mcpauth__devissuer_cimd mcpauth__devissuer_cimd;

typedef struct mcpauth__devissuer_store {
    mcpauth__devissuer_client *clients;
    size_t client_count;
    mcpauth__devissuer_authz *authz;
    size_t authz_count;
    mcpauth__devissuer_token *tokens;
    size_t token_count;
} mcpauth__devissuer_store;

struct mcpauth_devissuer {
    const mcpauth_devissuer_config *config;
    mcpauth_jws_signer *signer;
    char *metadata_json;
    char *jwks_json;
    char resource_client_id[MCPAUTH__DEVISSUER_ID_SIZE];
    char *resource_client_secret;
    mcpauth__devissuer_store store;
    mcpauth__devissuer_cimd *cimd;
};

/* ---- store.c ---- */

/* A fresh random secret: 32 octets from GnuTLS, base64url (43 characters).
 * The caller frees it with mcpauth_secret_free(); NULL on failure. */
char *mcpauth__devissuer_random_secret(void);

/* SHA-256 of text in hex: what the tables keep instead of secrets. */
void mcpauth__devissuer_hash(const char *text, char out[MCPAUTH__DEVISSUER_HASH_SIZE]);

void mcpauth__devissuer_store_free(mcpauth__devissuer_store *store);

/* Drops expired codes, consents and tokens. */
void mcpauth__devissuer_store_sweep(mcpauth__devissuer_store *store, int64_t now);

mcpauth__devissuer_client *mcpauth__devissuer_client_find(mcpauth__devissuer_store *store,
                                                          const char *id);

/* Adds a client (taking metadata); NULL when the table is full. */
mcpauth__devissuer_client *mcpauth__devissuer_client_add(mcpauth__devissuer_store *store,
                                                         const mcpauth__devissuer_client *client);
void mcpauth__devissuer_client_remove(mcpauth__devissuer_store *store,
                                      mcpauth__devissuer_client *client);

/* The client's registered string member (NULL when absent). */
const char *mcpauth__devissuer_client_string(const mcpauth__devissuer_client *client,
                                             const char *name);

/* True when the client's string-array member name holds value. */
bool mcpauth__devissuer_client_has(const mcpauth__devissuer_client *client, const char *name,
                                   const char *value);

/* Frees the strings an entry owns (not the entry): after a failure before
 * the entry reaches its table. The tables' add functions take the strings
 * over, and free them too when they fail. */
void mcpauth__devissuer_authz_clear(mcpauth__devissuer_authz *entry);
void mcpauth__devissuer_token_clear(mcpauth__devissuer_token *entry);

/* Adds an entry, taking its strings; NULL when the table is full even
 * after a sweep (the strings are then freed). */
mcpauth__devissuer_authz *mcpauth__devissuer_authz_add(mcpauth__devissuer_store *store,
                                                       mcpauth__devissuer_authz *entry,
                                                       int64_t now);
mcpauth__devissuer_authz *mcpauth__devissuer_authz_find(mcpauth__devissuer_store *store,
                                                        mcpauth__devissuer_authz_kind kind,
                                                        const char *secret);
void mcpauth__devissuer_authz_remove(mcpauth__devissuer_store *store,
                                     mcpauth__devissuer_authz *entry);

/* Adds a token, taking its strings; when the table is full the entry
 * closest to expiry makes room. */
mcpauth__devissuer_token *mcpauth__devissuer_token_add(mcpauth__devissuer_store *store,
                                                       mcpauth__devissuer_token *entry,
                                                       int64_t now);
mcpauth__devissuer_token *mcpauth__devissuer_token_find(mcpauth__devissuer_store *store,
                                                        const char *secret);
void mcpauth__devissuer_token_remove(mcpauth__devissuer_store *store,
                                     mcpauth__devissuer_token *entry);

/* Removes every token descending from grant (RFC 6749 §4.1.2 on code
 * replay, RFC 7009 §2.1 on revoking a refresh token). */
void mcpauth__devissuer_token_revoke_grant(mcpauth__devissuer_store *store, const char *grant);

/* ---- state.c ---- */

/* Loads the state file into dev (signer and clients) when it exists. */
mcpauth_status mcpauth__devissuer_state_load(mcpauth_devissuer *dev, mcpauth_error *err);

/* Writes signer and registered clients to the state file (no-op without
 * one). */
mcpauth_status mcpauth__devissuer_state_save(const mcpauth_devissuer *dev, mcpauth_error *err);

/* ---- metadata.c ---- */

/* The RFC 8414 document and the JWK Set, built once. */
mcpauth_status mcpauth__devissuer_metadata_build(mcpauth_devissuer *dev, mcpauth_error *err);

/* ---- respond.c ---- */

/* Adds a header with a copy of value; a NULL value, or one past
 * MCPAUTH_DEVISSUER_MAX_FIELDS, is dropped. name must be static. */
void mcpauth__devissuer_add_field(mcpauth_devissuer_response *resp, const char *name,
                                  const char *value);

/* Takes json (releases it). Adds Cache-Control: no-store. */
void mcpauth__devissuer_respond_json(mcpauth_devissuer_response *resp, int status,
                                     json_object *json);

/* RFC 6749 §5.2 error body. */
void mcpauth__devissuer_respond_error(mcpauth_devissuer_response *resp, int status,
                                      const char *error, const char *description);

/* Takes html (NULL: 500), with headers that keep the page out of caches
 * and frames. */
void mcpauth__devissuer_respond_html(mcpauth_devissuer_response *resp, int status, char *html);

/* Parses the form body of a POST; on failure answers 400 and returns
 * false. Free form with mcpauth_form_free() either way. */
bool mcpauth__devissuer_parse_body_form(const mcpauth_devissuer_request *req, mcpauth_form *form,
                                        mcpauth_devissuer_response *resp);

/* ---- client_auth.c ---- */

/* Authenticates the client of a token, introspection or revocation
 * request: client_secret_basic, client_secret_post, or none (a public
 * client names itself, by a registered id or a metadata document URL).
 * NULL after answering 401 invalid_client (or 400 invalid_request for a
 * malformed attempt). confidential_only refuses public clients. A document
 * client is returned in document_client (zeroed by the caller, released by
 * it with mcpauth__devissuer_cimd_release). */
mcpauth__devissuer_client *
mcpauth__devissuer_authenticate_client(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                                       const mcpauth_form *form, bool confidential_only,
                                       mcpauth__devissuer_client *document_client,
                                       mcpauth_devissuer_response *resp);

/* ---- cimd.c ---- */

mcpauth__devissuer_cimd *mcpauth__devissuer_cimd_new(void);
void mcpauth__devissuer_cimd_free(mcpauth__devissuer_cimd *cimd);

typedef enum mcpauth__devissuer_cimd_result {
    MCPAUTH__DEVISSUER_CIMD_VALID,   /* client filled */
    MCPAUTH__DEVISSUER_CIMD_INVALID, /* client filled, problem says what rule it breaks */
    MCPAUTH__DEVISSUER_CIMD_FOREIGN, /* no client: the URL or document cannot be trusted */
    MCPAUTH__DEVISSUER_CIMD_MISSING, /* no client: the document has not been fetched */
} mcpauth__devissuer_cimd_result;

/* The client whose id is the document URL url, from the cache or the fetch
 * just finished. client is filled on VALID and INVALID (release it with
 * mcpauth__devissuer_cimd_release); problem (borrowed until the next call)
 * says why otherwise. */
mcpauth__devissuer_cimd_result mcpauth__devissuer_cimd_lookup(mcpauth_devissuer *dev,
                                                              const char *url, int64_t now,
                                                              mcpauth__devissuer_client *client,
                                                              const char **problem);
void mcpauth__devissuer_cimd_release(mcpauth__devissuer_client *client);

/* True when url is a document URL worth fetching (well-formed, not cached)
 * and fetching was started. */
bool mcpauth__devissuer_cimd_needs_fetch(mcpauth_devissuer *dev, const char *url, int64_t now);

/* Fetches url, then answers req (copied) through cb. Fails (err set, cb not
 * called) when too many fetches are running or on allocation failure. */
mcpauth_status mcpauth__devissuer_cimd_fetch(mcpauth_devissuer *dev, const char *url,
                                             const mcpauth_devissuer_request *req,
                                             mcpauth_devissuer_answer_cb cb, void *data,
                                             mcpauth_error *err);

/* ---- the endpoints ---- */
void mcpauth__devissuer_handle_registration(mcpauth_devissuer *dev,
                                            const mcpauth_devissuer_request *req,
                                            mcpauth_devissuer_response *resp);
void mcpauth__devissuer_handle_client_management(mcpauth_devissuer *dev,
                                                 const mcpauth_devissuer_request *req,
                                                 const char *client_id,
                                                 mcpauth_devissuer_response *resp);
void mcpauth__devissuer_handle_authorize(mcpauth_devissuer *dev,
                                         const mcpauth_devissuer_request *req,
                                         mcpauth_devissuer_response *resp);
void mcpauth__devissuer_handle_token(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                                     mcpauth_devissuer_response *resp);
void mcpauth__devissuer_handle_introspect(mcpauth_devissuer *dev,
                                          const mcpauth_devissuer_request *req,
                                          mcpauth_devissuer_response *resp);
void mcpauth__devissuer_handle_revoke(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                                      mcpauth_devissuer_response *resp);

/* ---- mint.c ---- */

/* What an issued token is for. */
typedef struct mcpauth__devissuer_grant {
    const char *grant; /* the grant id tokens descend from */
    const char *client_id;
    const char *subject;
    const char *username; /* NULL for client_credentials */
    const char *scope;
    const char *resource;
    bool with_refresh;
} mcpauth__devissuer_grant;

/* Issues an access token (JWT or opaque), and a refresh token when asked,
 * and answers the RFC 6749 §5.1 token response. */
void mcpauth__devissuer_mint_respond(mcpauth_devissuer *dev, const mcpauth__devissuer_grant *grant,
                                     int64_t now, mcpauth_devissuer_response *resp);

/* ---- scope.c ---- */

/* The scope to grant for a request: requested (NULL: every supported
 * scope) when each of its scopes is supported; NULL otherwise. Caller
 * frees. */
char *mcpauth__devissuer_scope_grant(const mcpauth_devissuer *dev, const char *requested);

/* True when resource is the one this issuer serves (MCP canonical URI
 * comparison: scheme and host case-insensitive, one trailing '/'). */
bool mcpauth__devissuer_resource_known(const mcpauth_devissuer *dev, const char *resource);

#endif
