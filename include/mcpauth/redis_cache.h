/* Token validation results shared by several `mcpauth serve` instances
 * through Redis (hiredis, on the loop): good results and rejections under
 * SHA-256 of the token (never the token), each expiring as the local cache's
 * would, and a short lock per token so that while one instance validates a
 * new token the others wait for its result instead of asking the
 * authorization server too (single flight across instances).
 *
 * Redis is a help, never a dependency: every call answers, at the latest
 * when its timeout passes, and answers DOWN at once while Redis cannot be
 * reached; the caller then validates on its own. The connection comes back
 * by itself, with backoff. A warning is logged when Redis goes away and an
 * info line when it is back; nothing else is logged.
 *
 * Calls on the loop's thread only; nothing blocks after
 * mcpauth_redis_cache_new() (which resolves the host name).
 */
#ifndef MCPAUTH_REDIS_CACHE_H
#define MCPAUTH_REDIS_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "mcpauth/error.h"
#include "mcpauth/token_cache.h"

typedef struct mcpauth_redis_cache mcpauth_redis_cache;

typedef void (*mcpauth_redis_cache_log_cb)(const char *level, const char *message, void *data);

/* The connection came (up) or went (!up). */
typedef void (*mcpauth_redis_cache_state_cb)(bool up, void *data);

typedef struct mcpauth_redis_cache_config {
    /* redis://HOST[:PORT][/DB] or unix:PATH[?db=DB]. A password in the URL
     * is refused: it would sit in the process list. */
    const char *url;
    const char *password; /* AUTH with it when set; borrowed, kept */
    /* Keys are kept apart per resource: servers of different resources
     * (with different audiences) sharing one Redis never share results. */
    const char *resource;
    uint64_t timeout_ms;            /* for one Redis answer (250) */
    uint64_t lock_ms;               /* how long one instance's validation holds others off (5000) */
    int64_t ttl_seconds;            /* as the local cache's --cache-ttl */
    int64_t negative_ttl_seconds;   /* as --negative-ttl */
    mcpauth_redis_cache_log_cb log; /* may be NULL */
    void *log_data;
    /* Called on each change, so that what others read of this connection
     * (a metric) is never behind it; may be NULL. */
    mcpauth_redis_cache_state_cb on_state;
    void *state_data;
} mcpauth_redis_cache_config;

void mcpauth_redis_cache_config_init(mcpauth_redis_cache_config *config);

/* Checks the URL's form without connecting (for option parsing).
 * MCPAUTH_EUSAGE with a message naming the problem. */
mcpauth_status mcpauth_redis_cache_check_url(const char *url, mcpauth_error *err);

/* Parses the URL, resolves its host (this blocks: call it at start) and
 * starts connecting on loop. config's strings are borrowed and must outlive
 * the cache. NULL with err set on a bad URL or allocation failure; Redis
 * being down is not an error. */
mcpauth_redis_cache *mcpauth_redis_cache_new(uv_loop_t *loop,
                                             const mcpauth_redis_cache_config *config,
                                             mcpauth_error *err);

typedef enum mcpauth_redis_status {
    MCPAUTH_REDIS_HIT,     /* entry holds another instance's result */
    MCPAUTH_REDIS_CLAIMED, /* nobody had it: validate, then store() with claimed */
    MCPAUTH_REDIS_MISS,    /* waited in vain for another instance: validate */
    MCPAUTH_REDIS_DOWN,    /* Redis is not there or too slow: validate */
} mcpauth_redis_status;

/* entry (HIT only) is borrowed for the callback; copy what you keep. */
typedef void (*mcpauth_redis_cache_cb)(mcpauth_redis_status status,
                                       const mcpauth_token_cache_entry *entry, void *data);

/* Looks the token up; when absent, takes its lock (CLAIMED), or, when
 * another instance holds it, waits for that instance's result (HIT) until
 * the lock goes away or expires (then tries to take it, or MISS). cb runs
 * exactly once: later, or before this returns with DOWN while Redis is
 * away. */
void mcpauth_redis_cache_find(mcpauth_redis_cache *cache, const mcpauth_token_key *key,
                              mcpauth_redis_cache_cb cb, void *data);

/* Stores this instance's result (entry NULL: none, e.g. the authorization
 * server could not be asked) and, when claimed, lets go of the token's lock
 * so that waiting instances stop waiting. now in seconds. Fire and forget. */
void mcpauth_redis_cache_store(mcpauth_redis_cache *cache, const mcpauth_token_key *key,
                               const mcpauth_token_cache_entry *entry, int64_t now, bool claimed);

typedef struct mcpauth_redis_cache_stats {
    uint64_t hits;   /* answered from another instance's result */
    uint64_t misses; /* looked up and not there (CLAIMED, MISS) */
    uint64_t waits;  /* found another instance validating, and waited */
    uint64_t errors; /* answers that did not come in time, connections lost or refused */
    bool up;         /* connected now */
} mcpauth_redis_cache_stats;

void mcpauth_redis_cache_stats_get(const mcpauth_redis_cache *cache,
                                   mcpauth_redis_cache_stats *out);

/* Answers whatever is pending DOWN, disconnects and frees the cache once
 * its handles are closed (the loop must run on for that). NULL is fine. */
void mcpauth_redis_cache_free(mcpauth_redis_cache *cache);

#endif
