/* The token cache the worker processes of one server share: validation
 * results and rejections keyed by SHA-256 of the token (never the token),
 * in one anonymous shared mapping made before the workers fork, so that a
 * new token costs one validation per server rather than one per worker.
 *
 * It also carries the claims of a cross-process single flight: the process
 * that finds a token neither cached nor claimed claims it and validates it;
 * the others see the claim and wait for the result (polling the cache)
 * rather than asking the authorization server too. A claim lapses at its
 * deadline or when its process is gone, so a worker that dies mid-call does
 * not keep the others waiting.
 *
 * Bounded: a fixed number of sets of a few entries each; a new result
 * takes an empty, expired or the least recently used entry of its set. A
 * result whose claims do not fit an entry (MCPAUTH_TOKEN_SHARED_ENTRY_SIZE
 * bytes) is not stored. Lock-light: one robust process-shared mutex per
 * shard of sets, so a process that dies holding one (killed mid-store)
 * leaves the shard usable: its entries are dropped and the lock recovered.
 *
 * Time is passed in by the caller: seconds for expiry, milliseconds of a
 * clock every process shares (CLOCK_MONOTONIC, uv_hrtime()) for claims.
 * Nothing blocks beyond a shard's lock, held for a copy. */
#ifndef MCPAUTH_TOKEN_SHARED_CACHE_H
#define MCPAUTH_TOKEN_SHARED_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcpauth/token_cache.h"

/* The bytes an entry holds for the claims (or the rejection's reason). */
#define MCPAUTH_TOKEN_SHARED_ENTRY_SIZE 1536

typedef struct mcpauth_token_shared_cache mcpauth_token_shared_cache;

/* A cache of at most capacity results, and of at most 1048576 whatever
 * capacity says (0: results are not cached; claims still work). Good results live until min(token exp, now + ttl),
 * rejections for negative_ttl. NULL when the mapping cannot be made. Free
 * it once, in the process that made it, after the others are gone. */
mcpauth_token_shared_cache *mcpauth_token_shared_cache_new(size_t capacity, int64_t ttl_seconds,
                                                           int64_t negative_ttl_seconds);
void mcpauth_token_shared_cache_free(mcpauth_token_shared_cache *cache);

/* As mcpauth_token_cache_lookup(): on a live entry copies it into *out
 * (the caller frees out->info) and returns true. */
bool mcpauth_token_shared_cache_lookup(mcpauth_token_shared_cache *cache,
                                       const mcpauth_token_key *key, int64_t now,
                                       mcpauth_token_cache_entry *out);

/* Stores a result as mcpauth_token_cache_store() does, and ends any claim
 * on key. False when it was not stored (does not fit, not cacheable, or a
 * cache of capacity 0): the caller may keep it elsewhere. */
bool mcpauth_token_shared_cache_store(mcpauth_token_shared_cache *cache,
                                      const mcpauth_token_key *key, int64_t now,
                                      const mcpauth_token_cache_entry *entry);

typedef enum mcpauth_token_claim {
    MCPAUTH_TOKEN_CLAIM_TAKEN, /* the caller validates, then stores or releases */
    MCPAUTH_TOKEN_CLAIM_BUSY,  /* another process validates it, or a result just came */
} mcpauth_token_claim;

/* Claims key for this process until now_ms + lifetime_ms, unless another
 * live process holds an unexpired claim on it or a result for it is cached
 * (then BUSY: look it up again a little later). */
mcpauth_token_claim mcpauth_token_shared_cache_claim(mcpauth_token_shared_cache *cache,
                                                     const mcpauth_token_key *key, int64_t now,
                                                     uint64_t now_ms, uint64_t lifetime_ms);

/* Ends this process's claim on key without a result (the validation could
 * not decide): the next process to ask claims it. */
void mcpauth_token_shared_cache_release(mcpauth_token_shared_cache *cache,
                                        const mcpauth_token_key *key);

#endif
