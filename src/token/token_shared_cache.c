/* The token cache shared by the worker processes (token_shared_cache.h).
 *
 * One anonymous shared mapping, fixed layout, no pointers:
 *
 *   header (locks[SHARDS]) | sets[set_count] of ways (<= WAYS) slots each
 *
 * A key's set comes from its SHA-256 mixed with a random seed (a client
 * chooses its token, so it could otherwise grind tokens into one set); a
 * set's shard is its number modulo SHARDS. A slot is written under its
 * shard's lock and its state is set last, so a process killed mid-write
 * leaves at worst slots the recovery drops. Claims are the single flight's:
 * a slot in state CLAIMED names the process validating the key. */
#include "mcpauth/token_shared_cache.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#define WAYS   8 /* at most; fewer for a cache smaller than that */
#define SHARDS 64
/* Beyond this many entries the mapping (reserved, not committed) would
 * reach gigabytes. */
#define MAX_CAPACITY ((size_t)1 << 20)

enum { SLOT_EMPTY, SLOT_CLAIMED, SLOT_VALID, SLOT_REJECTED };

/* How a result was reached, by number: the entry's validated_by is a
 * static string of the validator's. */
static const char *const validated_by_names[] = {"cache", "jwt", "introspection",
                                                 "jwt+introspection"};

typedef struct slot {
    uint8_t key[MCPAUTH_TOKEN_KEY_SIZE];
    uint32_t state;
    uint32_t length;   /* bytes of data in use */
    int64_t expires;   /* VALID, REJECTED: live while now < expires */
    uint64_t claim_ms; /* CLAIMED: lapses at this time */
    int64_t claim_pid;
    uint64_t used; /* recency: the cache's clock when last stored or found */
    int64_t expires_at, issued_at, not_before;
    uint32_t validated_by;
    char data[MCPAUTH_TOKEN_SHARED_ENTRY_SIZE];
} slot;

typedef struct shard_lock {
    pthread_mutex_t mutex; /* process-shared and robust */
} __attribute__((aligned(64))) shard_lock;

struct mcpauth_token_shared_cache {
    shard_lock locks[SHARDS];
    size_t mapping_size;
    size_t set_count;
    size_t ways; /* slots per set */
    uint64_t seed;
    size_t capacity;
    int64_t ttl;
    int64_t negative_ttl;
    uint64_t clock; /* recency stamps (atomic) */
};

static slot *set_of(mcpauth_token_shared_cache *cache, size_t set)
{
    size_t header = (sizeof *cache + 63) / 64 * 64;
    return (slot *)((char *)cache + header) + set * cache->ways;
}

static size_t set_index(const mcpauth_token_shared_cache *cache, const mcpauth_token_key *key)
{
    uint64_t h;
    memcpy(&h, key->bytes, sizeof h);
    h ^= cache->seed;
    h = (h ^ (h >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    h = (h ^ (h >> 27)) * UINT64_C(0x94d049bb133111eb);
    h ^= h >> 31;
    return (size_t)(h % cache->set_count);
}

/* ---- the locks ---- */

/* A process died holding the lock, perhaps mid-write: the shard's entries
 * are only a cache, so they are dropped rather than trusted. */
static void drop_shard(mcpauth_token_shared_cache *cache, size_t shard)
{
    for (size_t set = shard; set < cache->set_count; set += SHARDS) {
        slot *ways = set_of(cache, set);
        for (size_t i = 0; i < cache->ways; i++)
            ways[i].state = SLOT_EMPTY;
    }
}

static bool lock_set(mcpauth_token_shared_cache *cache, size_t set)
{
    pthread_mutex_t *mutex = &cache->locks[set % SHARDS].mutex;
    int rc = pthread_mutex_lock(mutex);
    if (rc == EOWNERDEAD) {
        drop_shard(cache, set % SHARDS);
        rc = pthread_mutex_consistent(mutex);
        if (rc != 0)
            pthread_mutex_unlock(mutex);
    }
    return rc == 0;
}

static void unlock_set(mcpauth_token_shared_cache *cache, size_t set)
{
    pthread_mutex_unlock(&cache->locks[set % SHARDS].mutex);
}

static bool init_lock(pthread_mutex_t *lock)
{
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0)
        return false;
    bool ok = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0 &&
              pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0 &&
              pthread_mutex_init(lock, &attr) == 0;
    pthread_mutexattr_destroy(&attr);
    return ok;
}

/* ---- the mapping ---- */

mcpauth_token_shared_cache *mcpauth_token_shared_cache_new(size_t capacity, int64_t ttl_seconds,
                                                           int64_t negative_ttl_seconds)
{
    if (capacity > MAX_CAPACITY)
        capacity = MAX_CAPACITY;
    /* At most capacity results: sets of WAYS, or one smaller set. Without
     * results (capacity 0) the sets still hold the single flight's claims. */
    size_t ways = capacity == 0 ? WAYS : capacity < WAYS ? capacity : WAYS;
    size_t set_count = capacity == 0 ? SHARDS : capacity / ways;
    size_t header = (sizeof(mcpauth_token_shared_cache) + 63) / 64 * 64;
    size_t mapping_size = header + set_count * ways * sizeof(slot);
    /* Anonymous memory starts zeroed (every slot empty) and is only backed
     * once touched. */
    void *mapping = mmap(NULL, mapping_size, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapping == MAP_FAILED)
        return NULL;
    mcpauth_token_shared_cache *cache = mapping;
    for (size_t i = 0; i < SHARDS; i++) {
        if (!init_lock(&cache->locks[i].mutex)) {
            while (i-- > 0)
                pthread_mutex_destroy(&cache->locks[i].mutex);
            munmap(mapping, mapping_size);
            return NULL;
        }
    }
    cache->mapping_size = mapping_size;
    cache->set_count = set_count;
    cache->ways = ways;
    cache->capacity = capacity;
    cache->ttl = ttl_seconds;
    cache->negative_ttl = negative_ttl_seconds;
    /* Without entropy (early boot) the sets are only guessable. */
    if (getrandom(&cache->seed, sizeof cache->seed, GRND_NONBLOCK) != (ssize_t)sizeof cache->seed)
        cache->seed = (uint64_t)(uintptr_t)cache * UINT64_C(0x9e3779b97f4a7c15);
    return cache;
}

void mcpauth_token_shared_cache_free(mcpauth_token_shared_cache *cache)
{
    if (!cache)
        return;
    for (size_t i = 0; i < SHARDS; i++)
        pthread_mutex_destroy(&cache->locks[i].mutex);
    munmap(cache, cache->mapping_size);
}

/* ---- entries ---- */

static uint64_t tick(mcpauth_token_shared_cache *cache)
{
    return __atomic_add_fetch(&cache->clock, 1, __ATOMIC_RELAXED);
}

static slot *find(const mcpauth_token_shared_cache *cache, slot *ways, const mcpauth_token_key *key)
{
    for (size_t i = 0; i < cache->ways; i++)
        if (ways[i].state != SLOT_EMPTY && memcmp(ways[i].key, key->bytes, sizeof ways[i].key) == 0)
            return &ways[i];
    return NULL;
}

static bool process_alive(int64_t pid)
{
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH);
}

/* Whether the slot holds nothing worth keeping at now. */
static bool stale(const slot *s, int64_t now, uint64_t now_ms)
{
    switch (s->state) {
    case SLOT_EMPTY:
        return true;
    case SLOT_CLAIMED:
        return now_ms >= s->claim_ms || !process_alive(s->claim_pid);
    default:
        return now >= s->expires;
    }
}

/* The slot for a new key: an empty or stale one, else the least recently
 * used result (a live claim only when the set holds nothing else). */
static slot *victim(const mcpauth_token_shared_cache *cache, slot *ways, int64_t now,
                    uint64_t now_ms)
{
    slot *best = NULL;
    for (size_t i = 0; i < cache->ways; i++) {
        slot *s = &ways[i];
        if (stale(s, now, now_ms))
            return s;
        if (s->state == SLOT_CLAIMED)
            continue;
        if (!best || s->used < best->used)
            best = s;
    }
    return best ? best : &ways[0];
}

/* ---- claims as text: how an info is laid out in data ---- */

enum { HAS_SUBJECT = 1, HAS_CLIENT = 2, HAS_USERNAME = 4, HAS_ISSUER = 8, ACTIVE = 16 };

typedef struct writer {
    char *p;
    size_t left;
    bool ok;
} writer;

static void put_bytes(writer *w, const void *bytes, size_t n)
{
    if (!w->ok || n > w->left) {
        w->ok = false;
        return;
    }
    memcpy(w->p, bytes, n);
    w->p += n;
    w->left -= n;
}

static void put_string(writer *w, const char *text)
{
    if (text)
        put_bytes(w, text, strlen(text) + 1);
}

/* Lays info out in out; its length, or 0 when it does not fit. */
static size_t encode_info(const mcpauth_token_info *info, char *out, size_t size)
{
    if (info->scope_count > 255 || info->audience_count > 255)
        return 0;
    uint8_t head[3] = {(uint8_t)((info->subject ? HAS_SUBJECT : 0) |
                                 (info->client_id ? HAS_CLIENT : 0) |
                                 (info->username ? HAS_USERNAME : 0) |
                                 (info->issuer ? HAS_ISSUER : 0) | (info->active ? ACTIVE : 0)),
                       (uint8_t)info->scope_count, (uint8_t)info->audience_count};
    writer w = {out, size, true};
    put_bytes(&w, head, sizeof head);
    put_string(&w, info->subject);
    put_string(&w, info->client_id);
    put_string(&w, info->username);
    put_string(&w, info->issuer);
    for (size_t i = 0; i < info->scope_count; i++)
        put_string(&w, info->scopes[i]);
    for (size_t i = 0; i < info->audience_count; i++)
        put_string(&w, info->audiences[i]);
    return w.ok ? size - w.left : 0;
}

typedef struct reader {
    const char *p, *end;
    bool ok;
} reader;

static char *take_string(reader *r)
{
    const char *nul = r->ok ? memchr(r->p, '\0', (size_t)(r->end - r->p)) : NULL;
    char *copy = nul ? strdup(r->p) : NULL;
    if (!copy)
        r->ok = false;
    else
        r->p = nul + 1;
    return copy;
}

static char **take_strings(reader *r, size_t n)
{
    char **list = n ? calloc(n, sizeof *list) : NULL;
    if (n && !list)
        r->ok = false;
    for (size_t i = 0; list && i < n; i++)
        list[i] = take_string(r);
    return list;
}

/* Reads back what encode_info() wrote; false (info freed) when it cannot. */
static bool decode_info(const slot *s, mcpauth_token_info *info)
{
    memset(info, 0, sizeof *info);
    if (s->length < 3 || s->length > sizeof s->data)
        return false;
    const uint8_t *head = (const uint8_t *)s->data;
    reader r = {s->data + 3, s->data + s->length, true};
    info->active = head[0] & ACTIVE;
    if (head[0] & HAS_SUBJECT)
        info->subject = take_string(&r);
    if (head[0] & HAS_CLIENT)
        info->client_id = take_string(&r);
    if (head[0] & HAS_USERNAME)
        info->username = take_string(&r);
    if (head[0] & HAS_ISSUER)
        info->issuer = take_string(&r);
    info->scopes = take_strings(&r, head[1]);
    info->scope_count = info->scopes ? head[1] : 0;
    info->audiences = take_strings(&r, head[2]);
    info->audience_count = info->audiences ? head[2] : 0;
    info->expires_at = s->expires_at;
    info->issued_at = s->issued_at;
    info->not_before = s->not_before;
    if (!r.ok)
        mcpauth_token_info_free(info);
    return r.ok;
}

/* ---- the cache ---- */

bool mcpauth_token_shared_cache_lookup(mcpauth_token_shared_cache *cache,
                                       const mcpauth_token_key *key, int64_t now,
                                       mcpauth_token_cache_entry *out)
{
    memset(out, 0, sizeof *out);
    if (!cache || cache->capacity == 0)
        return false;
    size_t set = set_index(cache, key);
    if (!lock_set(cache, set))
        return false;
    slot *s = find(cache, set_of(cache, set), key);
    bool found = s && (s->state == SLOT_VALID || s->state == SLOT_REJECTED) && now < s->expires;
    if (found) {
        s->used = tick(cache);
        out->valid = s->state == SLOT_VALID;
        out->expires = s->expires;
        out->validated_by = validated_by_names[s->validated_by < 4 ? s->validated_by : 0];
        if (out->valid) {
            found = decode_info(s, &out->info);
        } else {
            size_t n = s->length < sizeof out->reason ? s->length : sizeof out->reason - 1;
            memcpy(out->reason, s->data, n);
            out->reason[n] = '\0';
        }
    }
    unlock_set(cache, set);
    return found;
}

/* When a result may be served until, or 0 when it must not be cached (as
 * token_cache.c: RFC 7662 §4, never beyond the token's own exp). */
static int64_t expiry_of(const mcpauth_token_shared_cache *cache,
                         const mcpauth_token_cache_entry *entry, int64_t now)
{
    int64_t ttl = entry->valid ? cache->ttl : cache->negative_ttl;
    if (ttl <= 0 || now > INT64_MAX - ttl)
        return 0;
    int64_t until = now + ttl;
    if (entry->valid && entry->info.expires_at != 0) {
        if (entry->info.expires_at <= now)
            return 0;
        if (entry->info.expires_at < until)
            until = entry->info.expires_at;
    }
    if (entry->expires != 0 && entry->expires < until)
        until = entry->expires;
    return until;
}

static uint32_t validated_by_number(const char *name)
{
    for (uint32_t i = 0; name && i < sizeof validated_by_names / sizeof *validated_by_names; i++)
        if (strcmp(name, validated_by_names[i]) == 0)
            return i;
    return 0;
}

bool mcpauth_token_shared_cache_store(mcpauth_token_shared_cache *cache,
                                      const mcpauth_token_key *key, int64_t now,
                                      const mcpauth_token_cache_entry *entry)
{
    if (!cache || !entry)
        return false;
    /* Laid out before taking the lock, which then guards a copy only. */
    char data[MCPAUTH_TOKEN_SHARED_ENTRY_SIZE];
    size_t length = 0;
    int64_t expires = cache->capacity ? expiry_of(cache, entry, now) : 0;
    if (expires != 0 && entry->valid)
        length = encode_info(&entry->info, data, sizeof data);
    else if (expires != 0)
        length = strnlen(entry->reason, sizeof entry->reason - 1);
    bool storing = expires != 0 && (length > 0 || !entry->valid);
    if (storing && !entry->valid)
        memcpy(data, entry->reason, length);

    size_t set = set_index(cache, key);
    if (!lock_set(cache, set))
        return false;
    slot *ways = set_of(cache, set);
    slot *s = find(cache, ways, key);
    if (!storing) {
        /* Ends the claim, and drops an older result this one replaces. */
        if (s)
            s->state = SLOT_EMPTY;
        unlock_set(cache, set);
        return false;
    }
    if (!s)
        s = victim(cache, ways, now, 0);
    s->state = SLOT_EMPTY;
    memcpy(s->key, key->bytes, sizeof s->key);
    memcpy(s->data, data, length);
    s->length = (uint32_t)length;
    s->expires = expires;
    s->used = tick(cache);
    s->validated_by = validated_by_number(entry->validated_by);
    s->expires_at = entry->valid ? entry->info.expires_at : 0;
    s->issued_at = entry->valid ? entry->info.issued_at : 0;
    s->not_before = entry->valid ? entry->info.not_before : 0;
    s->state = entry->valid ? SLOT_VALID : SLOT_REJECTED;
    unlock_set(cache, set);
    return true;
}

mcpauth_token_claim mcpauth_token_shared_cache_claim(mcpauth_token_shared_cache *cache,
                                                     const mcpauth_token_key *key, int64_t now,
                                                     uint64_t now_ms, uint64_t lifetime_ms)
{
    size_t set = set_index(cache, key);
    if (!lock_set(cache, set))
        return MCPAUTH_TOKEN_CLAIM_TAKEN; /* no single flight, but no stall either */
    slot *ways = set_of(cache, set);
    slot *s = find(cache, ways, key);
    /* A live result, or someone else's live claim. */
    if (s && !stale(s, now, now_ms) &&
        (s->state != SLOT_CLAIMED || s->claim_pid != (int64_t)getpid())) {
        unlock_set(cache, set);
        return MCPAUTH_TOKEN_CLAIM_BUSY;
    }
    if (!s)
        s = victim(cache, ways, now, now_ms);
    s->state = SLOT_EMPTY;
    memcpy(s->key, key->bytes, sizeof s->key);
    s->claim_ms = now_ms + lifetime_ms;
    s->claim_pid = (int64_t)getpid();
    s->used = tick(cache);
    s->state = SLOT_CLAIMED;
    unlock_set(cache, set);
    return MCPAUTH_TOKEN_CLAIM_TAKEN;
}

void mcpauth_token_shared_cache_release(mcpauth_token_shared_cache *cache,
                                        const mcpauth_token_key *key)
{
    size_t set = set_index(cache, key);
    if (!lock_set(cache, set))
        return;
    slot *s = find(cache, set_of(cache, set), key);
    if (s && s->state == SLOT_CLAIMED && s->claim_pid == (int64_t)getpid())
        s->state = SLOT_EMPTY;
    unlock_set(cache, set);
}
