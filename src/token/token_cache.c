/* A bounded LRU cache of token validation results: a chained hash table for
 * O(1) lookup plus a doubly-linked list in recency order for O(1) eviction.
 * Not thread-safe: one cache belongs to one event loop. */
#include "mcpauth/token_cache.h"

#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* The bucket array is sized for the capacity, but not beyond this, so that
 * an absurd capacity does not allocate gigabytes up front. */
#define MAX_BUCKETS ((size_t)1 << 22)

typedef struct cache_node {
    mcpauth_token_key key;
    int64_t expires; /* live while now < expires */
    mcpauth_token_cache_entry entry;
    struct cache_node *newer; /* LRU list */
    struct cache_node *older;
    struct cache_node *next_in_bucket;
} cache_node;

struct mcpauth_token_cache {
    size_t capacity;
    int64_t ttl;
    int64_t negative_ttl;
    cache_node **buckets;
    size_t bucket_mask; /* bucket count - 1, a power of two */
    uint64_t seed;
    cache_node *newest;
    cache_node *oldest;
    size_t size;
};

void mcpauth_token_key_of(const char *token, size_t length, mcpauth_token_key *key)
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, length, (const uint8_t *)token);
    sha256_digest(&ctx, sizeof key->bytes, key->bytes);
}

void mcpauth_token_key_hex(const mcpauth_token_key *key, char out[13])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 6; i++) {
        out[2 * i] = hex[key->bytes[i] >> 4];
        out[2 * i + 1] = hex[key->bytes[i] & 0xf];
    }
    out[12] = '\0';
}

static int64_t add_saturated(int64_t a, int64_t b)
{
    int64_t sum;
    if (__builtin_add_overflow(a, b, &sum))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return sum;
}

/* The key is SHA-256 of a token the client chose, so its bits are public and
 * a client could grind tokens that all land in one bucket. Mixing in a
 * random per-cache seed (splitmix64 finaliser) keeps chains short. */
static size_t bucket_of(const mcpauth_token_cache *cache, const mcpauth_token_key *key)
{
    uint64_t h;
    memcpy(&h, key->bytes, sizeof h);
    h ^= cache->seed;
    h = (h ^ (h >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    h = (h ^ (h >> 27)) * UINT64_C(0x94d049bb133111eb);
    h ^= h >> 31;
    return (size_t)h & cache->bucket_mask;
}

static uint64_t random_seed(const void *salt)
{
    uint64_t seed = 0;
    /* Without entropy (early boot) the cache still works, only with
     * guessable buckets; an address is better than nothing. */
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (uint64_t)(uintptr_t)salt * UINT64_C(0x9e3779b97f4a7c15);
    return seed;
}

mcpauth_token_cache *mcpauth_token_cache_new(size_t capacity, int64_t ttl_seconds,
                                             int64_t negative_ttl_seconds)
{
    mcpauth_token_cache *cache = calloc(1, sizeof *cache);
    if (!cache)
        return NULL;
    cache->capacity = capacity;
    cache->ttl = ttl_seconds;
    cache->negative_ttl = negative_ttl_seconds;
    if (capacity == 0)
        return cache;

    size_t buckets = 1;
    while (buckets < capacity && buckets < MAX_BUCKETS)
        buckets *= 2;
    cache->buckets = calloc(buckets, sizeof *cache->buckets);
    if (!cache->buckets) {
        free(cache);
        return NULL;
    }
    cache->bucket_mask = buckets - 1;
    cache->seed = random_seed(cache);
    return cache;
}

static void node_free(cache_node *node)
{
    mcpauth_token_info_free(&node->entry.info);
    free(node);
}

void mcpauth_token_cache_free(mcpauth_token_cache *cache)
{
    if (!cache)
        return;
    cache_node *node = cache->newest;
    while (node) {
        cache_node *older = node->older;
        node_free(node);
        node = older;
    }
    free(cache->buckets);
    free(cache);
}

static cache_node *find(const mcpauth_token_cache *cache, const mcpauth_token_key *key)
{
    for (cache_node *node = cache->buckets[bucket_of(cache, key)]; node;
         node = node->next_in_bucket) {
        if (memcmp(node->key.bytes, key->bytes, sizeof key->bytes) == 0)
            return node;
    }
    return NULL;
}

static void list_unlink(mcpauth_token_cache *cache, cache_node *node)
{
    if (node->newer)
        node->newer->older = node->older;
    else
        cache->newest = node->older;
    if (node->older)
        node->older->newer = node->newer;
    else
        cache->oldest = node->newer;
    node->newer = node->older = NULL;
}

static void list_push_newest(mcpauth_token_cache *cache, cache_node *node)
{
    node->older = cache->newest;
    node->newer = NULL;
    if (cache->newest)
        cache->newest->newer = node;
    else
        cache->oldest = node;
    cache->newest = node;
}

static void remove_node(mcpauth_token_cache *cache, cache_node *node)
{
    cache_node **link = &cache->buckets[bucket_of(cache, &node->key)];
    while (*link != node)
        link = &(*link)->next_in_bucket;
    *link = node->next_in_bucket;
    list_unlink(cache, node);
    cache->size--;
    node_free(node);
}

bool mcpauth_token_cache_lookup(mcpauth_token_cache *cache, const mcpauth_token_key *key,
                                int64_t now, mcpauth_token_cache_entry *out)
{
    memset(out, 0, sizeof *out);
    if (!cache || cache->capacity == 0)
        return false;
    cache_node *node = find(cache, key);
    if (!node)
        return false;
    if (now >= node->expires) {
        remove_node(cache, node);
        return false;
    }
    list_unlink(cache, node);
    list_push_newest(cache, node);

    out->valid = node->entry.valid;
    out->validated_by = node->entry.validated_by;
    out->expires = node->expires;
    memcpy(out->reason, node->entry.reason, sizeof out->reason);
    /* Out of memory: answer as a miss, so the caller validates afresh. */
    if (out->valid && !mcpauth_token_info_copy(&node->entry.info, &out->info))
        return false;
    return true;
}

/* When a result may be served until, or 0 when it must not be cached. */
static int64_t expiry_of(const mcpauth_token_cache *cache, const mcpauth_token_cache_entry *entry,
                         int64_t now)
{
    if (!entry->valid) {
        if (cache->negative_ttl <= 0)
            return 0;
        int64_t until = add_saturated(now, cache->negative_ttl);
        return entry->expires != 0 && entry->expires < until ? entry->expires : until;
    }
    if (cache->ttl <= 0)
        return 0;
    int64_t until = add_saturated(now, cache->ttl);
    /* RFC 7662 §4: a cached answer must never outlive the token itself. */
    if (entry->info.expires_at != 0) {
        if (entry->info.expires_at <= now)
            return 0;
        if (entry->info.expires_at < until)
            until = entry->info.expires_at;
    }
    if (entry->expires != 0 && entry->expires < until)
        until = entry->expires;
    return until;
}

/* Copies entry into node; false on allocation failure. */
static bool fill(cache_node *node, const mcpauth_token_cache_entry *entry, int64_t expires)
{
    mcpauth_token_info_free(&node->entry.info);
    node->expires = expires;
    node->entry.valid = entry->valid;
    node->entry.validated_by = entry->validated_by;
    /* The caller's reason need not be terminated; ours always is. */
    size_t n = strnlen(entry->reason, sizeof entry->reason - 1);
    memcpy(node->entry.reason, entry->reason, n);
    memset(node->entry.reason + n, 0, sizeof node->entry.reason - n);
    if (!entry->valid)
        return true;
    return mcpauth_token_info_copy(&entry->info, &node->entry.info);
}

void mcpauth_token_cache_store(mcpauth_token_cache *cache, const mcpauth_token_key *key,
                               int64_t now, const mcpauth_token_cache_entry *entry)
{
    if (!cache || cache->capacity == 0 || !entry)
        return;
    cache_node *node = find(cache, key);
    int64_t expires = expiry_of(cache, entry, now);
    if (expires == 0 || expires <= now) {
        /* The newer result is not cacheable; the older one is stale. */
        if (node)
            remove_node(cache, node);
        return;
    }
    if (node) {
        if (!fill(node, entry, expires)) {
            remove_node(cache, node);
            return;
        }
        list_unlink(cache, node);
        list_push_newest(cache, node);
        return;
    }

    if (cache->size >= cache->capacity)
        remove_node(cache, cache->oldest);
    node = calloc(1, sizeof *node);
    if (!node)
        return;
    node->key = *key;
    if (!fill(node, entry, expires)) {
        node_free(node);
        return;
    }
    size_t bucket = bucket_of(cache, key);
    node->next_in_bucket = cache->buckets[bucket];
    cache->buckets[bucket] = node;
    list_push_newest(cache, node);
    cache->size++;
}

size_t mcpauth_token_cache_size(const mcpauth_token_cache *cache)
{
    return cache ? cache->size : 0;
}
