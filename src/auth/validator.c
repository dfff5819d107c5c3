#include "mcpauth/validator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "mcpauth/token_cache.h"

#define FLIGHT_BUCKETS 256

typedef struct waiter {
    mcpauth_validate_cb cb;
    void *data;
    const char *const *scopes;
    size_t scope_count;
    struct waiter *next;
} waiter;

/* One validation in progress, shared by every request carrying the token. */
typedef struct flight {
    mcpauth_validator *validator; /* NULL once the validator is gone */
    mcpauth_token_key key;
    uint64_t started_ns;
    waiter *waiters;
    struct flight *next;
} flight;

struct mcpauth_validator {
    mcpauth_http_async *http;
    mcpauth_validator_config config;
    mcpauth_token_cache *cache;
    flight *flights[FLIGHT_BUCKETS];
    mcpauth_validator_stats stats;
};

static int64_t now_seconds(void)
{
    return (int64_t)time(NULL);
}

static flight **flight_slot(mcpauth_validator *v, const mcpauth_token_key *key)
{
    flight **slot = &v->flights[key->bytes[0]];
    while (*slot && memcmp((*slot)->key.bytes, key->bytes, sizeof key->bytes) != 0)
        slot = &(*slot)->next;
    return slot;
}

static void answer(const mcpauth_validation *base, const mcpauth_token_info *info, const waiter *w)
{
    mcpauth_validation result = *base;
    char reason[256];
    if (result.outcome == MCPAUTH_VALIDATION_VALID &&
        !mcpauth_token_has_scopes(info, w->scopes, w->scope_count)) {
        /* Name the first missing scope, as the token check would. */
        for (size_t i = 0; i < w->scope_count; i++) {
            if (!mcpauth_token_has_scopes(info, &w->scopes[i], 1)) {
                snprintf(reason, sizeof reason, "missing scope %s", w->scopes[i]);
                break;
            }
        }
        result.outcome = MCPAUTH_VALIDATION_INSUFFICIENT_SCOPE;
        result.reason = reason;
    }
    result.info = info;
    w->cb(&result, w->data);
}

mcpauth_validator *mcpauth_validator_new(mcpauth_http_async *http,
                                         const mcpauth_validator_config *config)
{
    mcpauth_validator *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->http = http;
    v->config = *config;
    /* Scopes are per request (tools may need different ones): the shared
     * check covers everything else. */
    v->config.policy.required_scopes = NULL;
    v->config.policy.required_scope_count = 0;
    v->cache = mcpauth_token_cache_new(config->cache_size, config->cache_ttl_seconds,
                                       config->negative_ttl_seconds);
    if (!v->cache) {
        free(v);
        return NULL;
    }
    return v;
}

static void record_latency(mcpauth_validator_stats *stats, double seconds)
{
    static const double bounds[] = MCPAUTH_VALIDATOR_LATENCY_BOUNDS;
    size_t bucket = 0;
    while (bucket < sizeof bounds / sizeof bounds[0] && seconds > bounds[bucket])
        bucket++;
    stats->latency_buckets[bucket]++;
    stats->latency_sum_seconds += seconds;
}

/* Settles a flight: caches the result and answers every waiter. */
static void flight_finish(flight *f, mcpauth_introspection_outcome outcome,
                          const mcpauth_token_info *info, const char *failure)
{
    mcpauth_validator *v = f->validator;
    mcpauth_validation base = {.validated_by = "introspection", .reason = ""};
    mcpauth_token_key_hex(&f->key, base.token_hash);
    mcpauth_token_cache_entry entry = {0};
    int64_t now = now_seconds();
    char reason[256] = "";

    if (outcome == MCPAUTH_INTROSPECTION_FAILED) {
        v->stats.backend_failures++;
        base.outcome = MCPAUTH_VALIDATION_UNAVAILABLE;
        base.reason = failure;
        info = NULL;
    } else if (outcome == MCPAUTH_INTROSPECTION_INACTIVE ||
               mcpauth_token_check(&v->config.policy, info, now, reason, sizeof reason) !=
                   MCPAUTH_TOKEN_VALID) {
        if (outcome == MCPAUTH_INTROSPECTION_INACTIVE)
            snprintf(reason, sizeof reason, "%s", failure ? failure : "token is not active");
        base.outcome = MCPAUTH_VALIDATION_INVALID;
        base.reason = reason;
        info = NULL;
        entry.valid = false;
        snprintf(entry.reason, sizeof entry.reason, "%s", reason);
        mcpauth_token_cache_store(v->cache, &f->key, now, &entry);
    } else {
        base.outcome = MCPAUTH_VALIDATION_VALID;
        entry.valid = true;
        entry.info = *info; /* the cache copies it */
        mcpauth_token_cache_store(v->cache, &f->key, now, &entry);
    }

    *flight_slot(v, &f->key) = f->next;
    waiter *w = f->waiters;
    while (w) {
        waiter *next = w->next;
        answer(&base, info, w);
        free(w);
        w = next;
    }
    free(f);
}

static void on_introspection(mcpauth_introspection_outcome outcome, const mcpauth_token_info *info,
                             const char *reason, void *data)
{
    flight *f = data;
    if (!f->validator) {
        free(f); /* the validator went away; its waiters were answered then */
        return;
    }
    record_latency(&f->validator->stats, (double)(uv_hrtime() - f->started_ns) / 1e9);
    flight_finish(f, outcome, info, reason);
}

static void reject_now(const char *reason, const mcpauth_token_key *key, bool cache_hit,
                       mcpauth_validate_cb cb, void *data)
{
    mcpauth_validation result = {
        .outcome = MCPAUTH_VALIDATION_INVALID,
        .reason = reason,
        .validated_by = "introspection",
        .cache_hit = cache_hit,
    };
    mcpauth_token_key_hex(key, result.token_hash);
    cb(&result, data);
}

void mcpauth_validator_validate(mcpauth_validator *v, const char *token, size_t length,
                                const char *const *scopes, size_t scope_count,
                                mcpauth_validate_cb cb, void *data)
{
    mcpauth_token_key key;
    mcpauth_token_key_of(token, length, &key);
    waiter w = {cb, data, scopes, scope_count, NULL};
    int64_t now = now_seconds();

    mcpauth_token_cache_entry entry;
    if (mcpauth_token_cache_lookup(v->cache, &key, now, &entry)) {
        v->stats.cache_hits++;
        char reason[256];
        if (!entry.valid) {
            reject_now(entry.reason, &key, true, cb, data);
            return;
        }
        /* Re-check time-bound claims: the entry may be near its expiry. */
        if (mcpauth_token_check(&v->config.policy, &entry.info, now, reason, sizeof reason) !=
            MCPAUTH_TOKEN_VALID) {
            mcpauth_token_info_free(&entry.info);
            reject_now(reason, &key, true, cb, data);
            return;
        }
        mcpauth_validation base = {.outcome = MCPAUTH_VALIDATION_VALID,
                                   .reason = "",
                                   .validated_by = "introspection",
                                   .cache_hit = true};
        mcpauth_token_key_hex(&key, base.token_hash);
        answer(&base, &entry.info, &w);
        mcpauth_token_info_free(&entry.info);
        return;
    }
    v->stats.cache_misses++;

    flight **slot = flight_slot(v, &key);
    waiter *queued = malloc(sizeof *queued);
    if (!queued) {
        mcpauth_validation result = {.outcome = MCPAUTH_VALIDATION_UNAVAILABLE,
                                     .reason = "out of memory",
                                     .validated_by = "introspection"};
        cb(&result, data);
        return;
    }
    *queued = w;
    if (*slot) {
        /* Single flight: wait for the validation already under way. */
        queued->next = (*slot)->waiters;
        (*slot)->waiters = queued;
        return;
    }
    flight *f = calloc(1, sizeof *f);
    if (!f) {
        free(queued);
        mcpauth_validation result = {.outcome = MCPAUTH_VALIDATION_UNAVAILABLE,
                                     .reason = "out of memory",
                                     .validated_by = "introspection"};
        cb(&result, data);
        return;
    }
    f->validator = v;
    f->key = key;
    f->started_ns = uv_hrtime();
    f->waiters = queued;
    *slot = f;
    v->stats.backend_calls++;
    mcpauth_error err = {0};
    if (mcpauth_introspect(v->http, &v->config.introspection, token, length, on_introspection, f,
                           &err) != MCPAUTH_OK)
        flight_finish(f, MCPAUTH_INTROSPECTION_FAILED, NULL, err.message);
}

void mcpauth_validator_stats_get(const mcpauth_validator *v, mcpauth_validator_stats *out)
{
    *out = v->stats;
}

void mcpauth_validator_free(mcpauth_validator *v)
{
    if (!v)
        return;
    for (size_t b = 0; b < FLIGHT_BUCKETS; b++) {
        while (v->flights[b]) {
            flight *f = v->flights[b];
            v->flights[b] = f->next;
            mcpauth_validation result = {.outcome = MCPAUTH_VALIDATION_UNAVAILABLE,
                                         .reason = "server shutting down",
                                         .validated_by = "introspection"};
            mcpauth_token_key_hex(&f->key, result.token_hash);
            for (waiter *w = f->waiters, *next; w; w = next) {
                next = w->next;
                w->cb(&result, w->data);
                free(w);
            }
            f->waiters = NULL;
            f->validator = NULL; /* freed when its introspection call returns */
        }
    }
    mcpauth_token_cache_free(v->cache);
    free(v);
}
