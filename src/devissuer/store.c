/* The development issuer's tables: registered clients, pending consents
 * and authorization codes, issued tokens. Each is a bounded array;
 * secrets are kept only as SHA-256 hashes, so a table (or the state file)
 * gives nothing away, and a lookup hashes what the client presented. */
#include <gnutls/crypto.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

#include "devissuer_internal.h"
#include "mcpauth/base64url.h"
#include "mcpauth/json.h"
#include "mcpauth/secret.h"

char *mcpauth__devissuer_random_secret(void)
{
    uint8_t octets[32];
    if (gnutls_rnd(GNUTLS_RND_KEY, octets, sizeof octets) != 0)
        return NULL;
    char *text = mcpauth_base64url_encode(octets, sizeof octets);
    explicit_bzero(octets, sizeof octets);
    return text;
}

void mcpauth__devissuer_hash(const char *text, char out[MCPAUTH__DEVISSUER_HASH_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t digest[SHA256_DIGEST_SIZE];
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, strlen(text), (const uint8_t *)text);
    sha256_digest(&ctx, sizeof digest, digest);
    for (size_t i = 0; i < sizeof digest; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0xf];
    }
    out[MCPAUTH__DEVISSUER_HASH_SIZE - 1] = '\0';
}

/* A table of capacity entries of size bytes, allocated on first use (most
 * runs register a client or two): table itself, or a new zeroed one; NULL
 * when that cannot be allocated. */
static void *table_ready(void *table, size_t capacity, size_t size)
{
    return table ? table : calloc(capacity, size);
}

/* ---- what an entry owns ---- */

void mcpauth__devissuer_authz_clear(mcpauth__devissuer_authz *a)
{
    free(a->redirect_uri);
    free(a->state);
    free(a->scope);
    free(a->resource);
}

void mcpauth__devissuer_token_clear(mcpauth__devissuer_token *t)
{
    free(t->subject);
    free(t->username);
    free(t->scope);
    free(t->resource);
}

/* ---- clients ---- */

mcpauth__devissuer_client *mcpauth__devissuer_client_find(mcpauth__devissuer_store *store,
                                                          const char *id)
{
    for (size_t i = 0; id && i < store->client_count; i++)
        if (strcmp(store->clients[i].id, id) == 0)
            return &store->clients[i];
    return NULL;
}

mcpauth__devissuer_client *mcpauth__devissuer_client_add(mcpauth__devissuer_store *store,
                                                         const mcpauth__devissuer_client *client)
{
    if (store->client_count < MCPAUTH__DEVISSUER_MAX_CLIENTS)
        store->clients =
            table_ready(store->clients, MCPAUTH__DEVISSUER_MAX_CLIENTS, sizeof *store->clients);
    if (store->client_count == MCPAUTH__DEVISSUER_MAX_CLIENTS || !store->clients) {
        json_object_put(client->metadata);
        return NULL;
    }
    store->clients[store->client_count] = *client;
    return &store->clients[store->client_count++];
}

void mcpauth__devissuer_client_remove(mcpauth__devissuer_store *store,
                                      mcpauth__devissuer_client *client)
{
    json_object_put(client->metadata);
    *client = store->clients[--store->client_count];
}

const char *mcpauth__devissuer_client_string(const mcpauth__devissuer_client *client,
                                             const char *name)
{
    return mcpauth_json_string(client->metadata, name);
}

bool mcpauth__devissuer_client_has(const mcpauth__devissuer_client *client, const char *name,
                                   const char *value)
{
    json_object *array;
    if (!json_object_object_get_ex(client->metadata, name, &array) ||
        !json_object_is_type(array, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(array); i++) {
        const char *item = json_object_get_string(json_object_array_get_idx(array, i));
        if (item && strcmp(item, value) == 0)
            return true;
    }
    return false;
}

/* ---- pending consents and codes ---- */

mcpauth__devissuer_authz *mcpauth__devissuer_authz_add(mcpauth__devissuer_store *store,
                                                       mcpauth__devissuer_authz *entry, int64_t now)
{
    if (store->authz_count == MCPAUTH__DEVISSUER_MAX_AUTHZ)
        mcpauth__devissuer_store_sweep(store, now);
    store->authz = table_ready(store->authz, MCPAUTH__DEVISSUER_MAX_AUTHZ, sizeof *store->authz);
    if (!store->authz || store->authz_count == MCPAUTH__DEVISSUER_MAX_AUTHZ) {
        mcpauth__devissuer_authz_clear(entry);
        return NULL;
    }
    store->authz[store->authz_count] = *entry;
    return &store->authz[store->authz_count++];
}

mcpauth__devissuer_authz *mcpauth__devissuer_authz_find(mcpauth__devissuer_store *store,
                                                        mcpauth__devissuer_authz_kind kind,
                                                        const char *secret)
{
    char hash[MCPAUTH__DEVISSUER_HASH_SIZE];
    mcpauth__devissuer_hash(secret, hash);
    for (size_t i = 0; i < store->authz_count; i++)
        if (store->authz[i].kind == kind && mcpauth_secret_equal(store->authz[i].hash, hash))
            return &store->authz[i];
    return NULL;
}

void mcpauth__devissuer_authz_remove(mcpauth__devissuer_store *store,
                                     mcpauth__devissuer_authz *entry)
{
    mcpauth__devissuer_authz_clear(entry);
    *entry = store->authz[--store->authz_count];
}

/* ---- tokens ---- */

mcpauth__devissuer_token *mcpauth__devissuer_token_add(mcpauth__devissuer_store *store,
                                                       mcpauth__devissuer_token *entry, int64_t now)
{
    if (store->token_count == MCPAUTH__DEVISSUER_MAX_TOKENS)
        mcpauth__devissuer_store_sweep(store, now);
    store->tokens =
        table_ready(store->tokens, MCPAUTH__DEVISSUER_MAX_TOKENS, sizeof *store->tokens);
    if (!store->tokens) {
        mcpauth__devissuer_token_clear(entry);
        return NULL;
    }
    if (store->token_count == MCPAUTH__DEVISSUER_MAX_TOKENS) {
        /* Still full of live tokens: the one closest to expiry goes. */
        size_t oldest = 0;
        for (size_t i = 1; i < store->token_count; i++)
            if (store->tokens[i].expires_at < store->tokens[oldest].expires_at)
                oldest = i;
        mcpauth__devissuer_token_remove(store, &store->tokens[oldest]);
    }
    store->tokens[store->token_count] = *entry;
    return &store->tokens[store->token_count++];
}

mcpauth__devissuer_token *mcpauth__devissuer_token_find(mcpauth__devissuer_store *store,
                                                        const char *secret)
{
    char hash[MCPAUTH__DEVISSUER_HASH_SIZE];
    mcpauth__devissuer_hash(secret, hash);
    for (size_t i = 0; i < store->token_count; i++)
        if (mcpauth_secret_equal(store->tokens[i].hash, hash))
            return &store->tokens[i];
    return NULL;
}

void mcpauth__devissuer_token_remove(mcpauth__devissuer_store *store,
                                     mcpauth__devissuer_token *entry)
{
    mcpauth__devissuer_token_clear(entry);
    *entry = store->tokens[--store->token_count];
}

void mcpauth__devissuer_token_revoke_grant(mcpauth__devissuer_store *store, const char *grant)
{
    for (size_t i = 0; i < store->token_count;) {
        if (strcmp(store->tokens[i].grant, grant) == 0)
            mcpauth__devissuer_token_remove(store, &store->tokens[i]);
        else
            i++;
    }
}

/* ---- the whole store ---- */

void mcpauth__devissuer_store_sweep(mcpauth__devissuer_store *store, int64_t now)
{
    for (size_t i = 0; i < store->authz_count;) {
        if (store->authz[i].expires_at <= now)
            mcpauth__devissuer_authz_remove(store, &store->authz[i]);
        else
            i++;
    }
    for (size_t i = 0; i < store->token_count;) {
        if (store->tokens[i].expires_at <= now)
            mcpauth__devissuer_token_remove(store, &store->tokens[i]);
        else
            i++;
    }
}

void mcpauth__devissuer_store_free(mcpauth__devissuer_store *store)
{
    while (store->client_count > 0)
        mcpauth__devissuer_client_remove(store, &store->clients[store->client_count - 1]);
    while (store->authz_count > 0)
        mcpauth__devissuer_authz_remove(store, &store->authz[store->authz_count - 1]);
    while (store->token_count > 0)
        mcpauth__devissuer_token_remove(store, &store->tokens[store->token_count - 1]);
    free(store->clients);
    free(store->authz);
    free(store->tokens);
    memset(store, 0, sizeof *store);
}
