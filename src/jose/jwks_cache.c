/* The JWK Set cache of `serve`: one fetch at a time on the event loop,
 * callers queued behind it; the set itself is judged by jwks_load.c. */
#include "mcpauth/jwks_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_AGE_MS (3600 * 1000ULL)
#define MIN_MAX_AGE_MS     (60 * 1000ULL)
#define MAX_MAX_AGE_MS     (86400 * 1000ULL)

typedef struct jwks_waiter {
    mcpauth_jwks_cb cb;
    void *data;
    struct jwks_waiter *next;
} jwks_waiter;

/* One fetch in flight; outlives the cache if the cache is freed first. */
typedef struct jwks_fetch {
    mcpauth_jwks_cache *cache; /* NULL once the cache is gone */
} jwks_fetch;

struct mcpauth_jwks_cache {
    mcpauth_http_async *http;
    mcpauth_jwks_cache_config config;
    mcpauth_jwks *keys;
    uint64_t expires_ms;    /* when the set must be fetched again */
    uint64_t last_fetch_ms; /* when the last fetch started */
    bool fetched_once;
    jwks_fetch *fetch; /* the fetch in flight, if any */
    jwks_waiter *waiters;
    char last_error[256];
    mcpauth_jwks_cache_stats stats;
};

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* RFC 9111 §5.2.2.1: max-age=N in Cache-Control, bounded here. */
static uint64_t max_age_ms(const mcpauth_http_response *resp)
{
    const char *cc = mcpauth_http_response_header(resp, "Cache-Control", 0);
    const char *p = cc ? strcasestr(cc, "max-age=") : NULL;
    if (!p)
        return DEFAULT_MAX_AGE_MS;
    unsigned long long seconds = strtoull(p + 8, NULL, 10);
    uint64_t ms = seconds > MAX_MAX_AGE_MS / 1000 ? MAX_MAX_AGE_MS : seconds * 1000;
    return ms < MIN_MAX_AGE_MS ? MIN_MAX_AGE_MS : ms;
}

/* Why the keys may not be what the server publishes now: the last fetch's
 * failure, or NULL when it succeeded (or the set came from a file). */
static const char *staleness(const mcpauth_jwks_cache *cache)
{
    if (cache->last_error[0])
        return cache->last_error;
    return cache->keys ? NULL : "no JWKS configured";
}

static void answer_waiters(mcpauth_jwks_cache *cache)
{
    jwks_waiter *w = cache->waiters;
    cache->waiters = NULL;
    while (w) {
        jwks_waiter *next = w->next;
        w->cb(cache->keys, staleness(cache), w->data);
        free(w);
        w = next;
    }
}

static void on_fetched(mcpauth_status status, const mcpauth_http_response *resp,
                       const mcpauth_error *err, void *data)
{
    jwks_fetch *fetch = data;
    mcpauth_jwks_cache *cache = fetch->cache;
    free(fetch);
    if (!cache)
        return;
    cache->fetch = NULL;
    cache->fetched_once = true;
    mcpauth_error parse_err = {0};
    mcpauth_jwks *keys = NULL;
    if (status != MCPAUTH_OK)
        snprintf(cache->last_error, sizeof cache->last_error, "fetching the JWKS failed: %s",
                 err->message);
    else if (mcpauth_jwks_from_response(resp, cache->config.uri, &keys, &parse_err) != MCPAUTH_OK)
        snprintf(cache->last_error, sizeof cache->last_error, "fetching the JWKS failed: %s",
                 parse_err.message);
    if (keys) {
        mcpauth_jwks_free(cache->keys);
        cache->keys = keys;
        cache->expires_ms = now_ms() + max_age_ms(resp);
        cache->last_error[0] = '\0';
    } else {
        /* Keep serving the keys we have; try again after the cooldown. */
        cache->stats.fetch_failures++;
        cache->expires_ms = now_ms() + (uint64_t)cache->config.cooldown_seconds * 1000;
    }
    answer_waiters(cache);
}

static bool start_fetch(mcpauth_jwks_cache *cache)
{
    jwks_fetch *fetch = malloc(sizeof *fetch);
    if (!fetch)
        return false;
    fetch->cache = cache;
    mcpauth_http_request req = {
        .method = "GET", .url = cache->config.uri, .accept = MCPAUTH_JWKS_ACCEPT};
    mcpauth_error err = {0};
    cache->last_fetch_ms = now_ms();
    cache->stats.fetches++;
    if (mcpauth_http_async_start(cache->http, &req, on_fetched, fetch, &err) != MCPAUTH_OK) {
        free(fetch);
        cache->stats.fetch_failures++;
        snprintf(cache->last_error, sizeof cache->last_error, "fetching the JWKS failed: %s",
                 err.message);
        return false;
    }
    cache->fetch = fetch;
    return true;
}

mcpauth_jwks_cache *mcpauth_jwks_cache_new(mcpauth_http_async *http,
                                           const mcpauth_jwks_cache_config *config,
                                           mcpauth_error *err)
{
    mcpauth_jwks_cache *cache = calloc(1, sizeof *cache);
    if (!cache) {
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        return NULL;
    }
    cache->http = http;
    cache->config = *config;
    if (config->file) {
        if (mcpauth_jwks_load_file(config->file, &cache->keys, err) != MCPAUTH_OK) {
            free(cache);
            return NULL;
        }
        cache->expires_ms = UINT64_MAX; /* a file is never refetched */
    }
    return cache;
}

void mcpauth_jwks_cache_get(mcpauth_jwks_cache *cache, bool stale_kid, mcpauth_jwks_cb cb,
                            void *data)
{
    uint64_t now = now_ms();
    /* A token whose key the current set holds never waits behind a fetch
     * another token's unknown kid started: only the tokens that need the
     * new set wait for it. */
    if (!stale_kid && cache->keys && now < cache->expires_ms) {
        cb(cache->keys, staleness(cache), data);
        return;
    }
    bool can_fetch = cache->config.uri != NULL;
    bool cooled = !cache->fetched_once ||
                  now - cache->last_fetch_ms >= (uint64_t)cache->config.cooldown_seconds * 1000;
    bool want = can_fetch && (!cache->keys || now >= cache->expires_ms || (stale_kid && cooled));
    /* Never more than one fetch at a time, and none before the cooldown
     * after a failure: an attacker's tokens must not drive us to hammer the
     * authorization server. */
    if (want && !cache->fetch && (cooled || !cache->keys) &&
        !(cache->fetched_once && !cache->keys && !cooled))
        start_fetch(cache);
    if (!cache->fetch) {
        cb(cache->keys, staleness(cache), data);
        return;
    }
    jwks_waiter *w = malloc(sizeof *w);
    if (!w) {
        cb(cache->keys, cache->keys ? NULL : "out of memory", data);
        return;
    }
    *w = (jwks_waiter){cb, data, cache->waiters};
    cache->waiters = w;
}

void mcpauth_jwks_cache_stats_get(const mcpauth_jwks_cache *cache, mcpauth_jwks_cache_stats *out)
{
    *out = cache->stats;
}

void mcpauth_jwks_cache_free(mcpauth_jwks_cache *cache)
{
    if (!cache)
        return;
    if (cache->fetch)
        cache->fetch->cache = NULL; /* freed when its request ends */
    jwks_waiter *w = cache->waiters;
    while (w) {
        jwks_waiter *next = w->next;
        w->cb(NULL, "shutting down", w->data);
        free(w);
        w = next;
    }
    mcpauth_jwks_free(cache->keys);
    free(cache);
}
