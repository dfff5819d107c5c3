/* A bounded cache of token validation results, keyed by SHA-256 of the token
 * so raw tokens are never stored. Least-recently-used entries are evicted
 * when full. Good results live until min(token exp, now + ttl); rejections
 * for a shorter negative ttl. Time is passed in by the caller (seconds), so
 * the cache is pure and testable; nothing blocks. */
#ifndef MCPAUTH_TOKEN_CACHE_H
#define MCPAUTH_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcpauth/token.h"

#define MCPAUTH_TOKEN_KEY_SIZE 32

typedef struct mcpauth_token_cache mcpauth_token_cache;

typedef struct mcpauth_token_key {
    uint8_t bytes[MCPAUTH_TOKEN_KEY_SIZE];
} mcpauth_token_key;

/* The cache key of a token: SHA-256 of its bytes. */
void mcpauth_token_key_of(const char *token, size_t length, mcpauth_token_key *key);

/* The first 12 hex digits of the key, for logs. */
void mcpauth_token_key_hex(const mcpauth_token_key *key, char out[13]);

/* capacity 0 disables caching (every lookup misses, inserts are dropped).
 * NULL on allocation failure. */
mcpauth_token_cache *mcpauth_token_cache_new(size_t capacity, int64_t ttl_seconds,
                                             int64_t negative_ttl_seconds);
void mcpauth_token_cache_free(mcpauth_token_cache *cache);

/* An entry: either a token that validated (info set, valid true) or one that
 * was rejected (valid false, reason set). */
typedef struct mcpauth_token_cache_entry {
    bool valid;
    mcpauth_token_info info;  /* for valid entries */
    char reason[256];         /* for rejected entries */
    const char *validated_by; /* how the result was reached; a static string */
    /* lookup: when the entry ends (seconds). store: 0, or a time the entry
     * must not outlive (a copy of an entry kept elsewhere too). */
    int64_t expires;
} mcpauth_token_cache_entry;

/* Looks key up at time now; on a live entry copies it into *out (the caller
 * frees out->info with mcpauth_token_info_free) and returns true. Expired
 * entries are removed. */
bool mcpauth_token_cache_lookup(mcpauth_token_cache *cache, const mcpauth_token_key *key,
                                int64_t now, mcpauth_token_cache_entry *out);

/* Stores a result (copied), replacing any entry for key. A valid entry lives
 * until min(info.expires_at, now + ttl); one whose token has already expired
 * is not stored. A rejected entry lives for the negative ttl. */
void mcpauth_token_cache_store(mcpauth_token_cache *cache, const mcpauth_token_key *key,
                               int64_t now, const mcpauth_token_cache_entry *entry);

size_t mcpauth_token_cache_size(const mcpauth_token_cache *cache);

#endif
