#include "mcpauth/validator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "mcpauth/scope_implies.h"
#include "mcpauth/token_cache.h"

#define FLIGHT_BUCKETS 256
/* Another worker's claim on a token: how often its result is looked for,
 * and how long the claim holds (an introspection call's usual worst case)
 * before a waiting worker validates the token itself. */
#define PEER_POLL_MS  5
#define PEER_CLAIM_MS 10000

typedef struct waiter {
    mcpauth_validate_cb cb;
    void *data;
    const char *const *scopes;
    size_t scope_count;
    const mcpauth_scope_implies *implies; /* the validator's; may outlive it, as the config does */
    struct waiter *next;
} waiter;

/* One validation in progress, shared by every request carrying the token.
 * It outlives the validator when a backend call is still out (validator is
 * then NULL and the flight frees itself when the call returns). */
typedef struct flight {
    mcpauth_validator *validator;
    mcpauth_token_key key;
    char *token; /* kept for the asynchronous steps; wiped on free */
    size_t length;
    uint64_t started_ns;    /* of the current introspection call */
    bool refetched_keys;    /* an unknown kid already caused one refetch */
    mcpauth_token_info jwt; /* claims of a verified JWT awaiting introspection */
    bool have_jwt;
    bool queued;       /* waiting for an introspection slot */
    bool claimed;      /* holds the shared cache's claim on the token */
    bool waiting_peer; /* another process holds it: polling for its result */
    /* Redis (--shared-cache): asked (so the result goes there too), answered
     * from it (so it does not), holding its lock for this token. */
    bool redis_asked, redis_answered, redis_claimed;
    waiter *waiters;
    struct flight *next;
    struct flight *next_queued;
    struct flight *next_peer;
} flight;

/* What a backend concluded, before the shared claim checks. */
typedef enum backend_result {
    BACKEND_ACCEPTED, /* info holds the claims */
    BACKEND_REJECTED, /* the token is bad: reason says why */
    BACKEND_FAILED,   /* could not decide (AS down, keys unavailable) */
} backend_result;

struct mcpauth_validator {
    mcpauth_http_async *http;
    mcpauth_validator_config config;
    mcpauth_token_cache *cache;
    flight *flights[FLIGHT_BUCKETS];
    flight *queue_head, *queue_tail; /* flights waiting for an introspection slot, oldest first */
    size_t in_flight, queued;
    mcpauth_validator_stats stats;
    flight *peer_waiting;   /* flights polling the shared cache */
    uv_timer_t *peer_timer; /* their poll; NULL without a shared cache */
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

static void flight_free(flight *f)
{
    if (f->token) {
        explicit_bzero(f->token, f->length);
        free(f->token);
    }
    mcpauth_token_info_free(&f->jwt);
    free(f);
}

/* "missing scopes a b": every scope the request needs that the token
 * holds neither itself nor through a broader one. */
static void describe_missing(const mcpauth_token_info *info, const waiter *w, char *reason,
                             size_t size)
{
    size_t missing = 0;
    for (size_t i = 0; i < w->scope_count; i++)
        missing += !mcpauth_scope_implies_granted(w->implies, info, &w->scopes[i], 1);
    int n = snprintf(reason, size, "missing scope%s", missing > 1 ? "s" : "");
    for (size_t i = 0; i < w->scope_count && n > 0 && (size_t)n < size; i++) {
        if (!mcpauth_scope_implies_granted(w->implies, info, &w->scopes[i], 1))
            n += snprintf(reason + n, size - (size_t)n, " %s", w->scopes[i]);
    }
}

/* Answers one waiter, turning VALID into INSUFFICIENT_SCOPE when the token
 * lacks a scope this request needs. */
static void answer(const mcpauth_validation *base, const mcpauth_token_info *info, const waiter *w)
{
    mcpauth_validation result = *base;
    char reason[256];
    if (result.outcome == MCPAUTH_VALIDATION_VALID &&
        !mcpauth_scope_implies_granted(w->implies, info, w->scopes, w->scope_count)) {
        describe_missing(info, w, reason, sizeof reason);
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
    if (v->cache && config->shared_cache && (v->peer_timer = malloc(sizeof *v->peer_timer))) {
        uv_timer_init(config->loop, v->peer_timer);
        v->peer_timer->data = v;
    }
    if (!v->cache || (config->shared_cache && !v->peer_timer)) {
        mcpauth_token_cache_free(v->cache);
        free(v);
        return NULL;
    }
    return v;
}

/* Keeps a result for every worker (the shared cache; a claim on the token
 * ends) and in this validator's own, which stays in front of it. */
static void store_result(mcpauth_validator *v, flight *f, int64_t now,
                         const mcpauth_token_cache_entry *entry)
{
    if (v->config.shared_cache) {
        f->claimed = false;
        mcpauth_token_shared_cache_store(v->config.shared_cache, &f->key, now, entry);
    }
    mcpauth_token_cache_store(v->cache, &f->key, now, entry);
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

/* Settles a flight: applies the shared claim checks, caches the result and
 * answers every waiter. */
static void flight_finish(flight *f, backend_result result, const mcpauth_token_info *info,
                          const char *why, const char *validated_by)
{
    mcpauth_validator *v = f->validator;
    mcpauth_validation base = {.validated_by = validated_by, .reason = ""};
    mcpauth_token_key_hex(&f->key, base.token_hash);
    mcpauth_token_cache_entry entry = {.validated_by = validated_by};
    int64_t now = now_seconds();
    char reason[256] = "";

    if (result == BACKEND_FAILED) {
        /* Only introspection calls count here; JWKS failures have their own. */
        if (strcmp(validated_by, "jwt") != 0)
            v->stats.backend_failures++;
        base.outcome = MCPAUTH_VALIDATION_UNAVAILABLE;
        base.reason = why;
        info = NULL;
        /* Nothing learnt: the next worker to see the token asks again. */
        if (f->claimed)
            mcpauth_token_shared_cache_release(v->config.shared_cache, &f->key);
        f->claimed = false;
    } else if (result == BACKEND_REJECTED ||
               mcpauth_token_check(&v->config.policy, info, now, reason, sizeof reason) !=
                   MCPAUTH_TOKEN_VALID) {
        if (result == BACKEND_REJECTED)
            snprintf(reason, sizeof reason, "%s", why);
        base.outcome = MCPAUTH_VALIDATION_INVALID;
        base.reason = reason;
        info = NULL;
        snprintf(entry.reason, sizeof entry.reason, "%s", reason);
        store_result(v, f, now, &entry);
    } else {
        base.outcome = MCPAUTH_VALIDATION_VALID;
        entry.valid = true;
        entry.info = *info; /* the cache copies it */
        store_result(v, f, now, &entry);
    }
    /* Not the authorization server failing: that is no result to share. */
    if (f->redis_asked && !f->redis_answered)
        mcpauth_redis_cache_store(v->config.redis, &f->key,
                                  result == BACKEND_FAILED ? NULL : &entry, now, f->redis_claimed);

    *flight_slot(v, &f->key) = f->next;
    waiter *w = f->waiters;
    while (w) {
        waiter *next = w->next;
        answer(&base, info, w);
        free(w);
        w = next;
    }
    flight_free(f);
}

/* ---- introspection ---- */

static void start_queued(mcpauth_validator *v);

static void settle_introspection(flight *f, mcpauth_introspection_outcome outcome,
                                 const mcpauth_token_info *info, const char *reason)
{
    if (f->have_jwt) {
        /* A verified JWT checked for revocation: the signature decides the
         * claims, introspection only whether the token is still active. */
        const char *how = "jwt+introspection";
        if (outcome == MCPAUTH_INTROSPECTION_ACTIVE)
            flight_finish(f, BACKEND_ACCEPTED, &f->jwt, NULL, how);
        else if (outcome == MCPAUTH_INTROSPECTION_INACTIVE)
            flight_finish(f, BACKEND_REJECTED, NULL,
                          "signature valid, but introspection says the token is not active "
                          "(revoked?)",
                          how);
        else
            flight_finish(f, BACKEND_FAILED, NULL, reason, how);
        return;
    }
    if (outcome == MCPAUTH_INTROSPECTION_ACTIVE)
        flight_finish(f, BACKEND_ACCEPTED, info, NULL, "introspection");
    else if (outcome == MCPAUTH_INTROSPECTION_INACTIVE)
        flight_finish(f, BACKEND_REJECTED, NULL, reason, "introspection");
    else
        flight_finish(f, BACKEND_FAILED, NULL, reason, "introspection");
}

static void on_introspection(mcpauth_introspection_outcome outcome, const mcpauth_token_info *info,
                             const char *reason, void *data)
{
    flight *f = data;
    if (!f->validator) {
        flight_free(f); /* the validator went away; its waiters were answered then */
        return;
    }
    mcpauth_validator *v = f->validator;
    v->in_flight--;
    record_latency(&v->stats, (double)(uv_hrtime() - f->started_ns) / 1e9);
    settle_introspection(f, outcome, info, reason);
    start_queued(v);
}

/* Sends the introspection call for f; the caller has checked the cap. */
static void send_introspection(flight *f)
{
    mcpauth_validator *v = f->validator;
    v->stats.backend_calls++;
    v->in_flight++;
    f->started_ns = uv_hrtime();
    mcpauth_error err = {0};
    if (mcpauth_introspect(v->http, &v->config.introspection, f->token, f->length, on_introspection,
                           f, &err) != MCPAUTH_OK) {
        v->in_flight--;
        flight_finish(f, BACKEND_FAILED, NULL, err.message,
                      f->have_jwt ? "jwt+introspection" : "introspection");
    }
}

static bool introspection_slot_free(const mcpauth_validator *v)
{
    return v->config.max_introspections == 0 || v->in_flight < v->config.max_introspections;
}

/* Sends the oldest waiting flights while slots are free. */
static void start_queued(mcpauth_validator *v)
{
    while (v->queue_head && introspection_slot_free(v)) {
        flight *f = v->queue_head;
        v->queue_head = f->next_queued;
        if (!v->queue_head)
            v->queue_tail = NULL;
        v->queued--;
        f->queued = false;
        f->next_queued = NULL;
        send_introspection(f);
    }
}

static void start_introspection(flight *f)
{
    mcpauth_validator *v = f->validator;
    const char *how = f->have_jwt ? "jwt+introspection" : "introspection";
    if (!v->config.introspection.endpoint) {
        flight_finish(f, BACKEND_REJECTED, NULL,
                      "not a JWT, and no introspection endpoint is configured", how);
        return;
    }
    if (introspection_slot_free(v)) {
        send_introspection(f);
        return;
    }
    if (v->config.max_introspection_queue && v->queued >= v->config.max_introspection_queue) {
        /* Not the token's fault: UNAVAILABLE, and nothing is cached. */
        v->stats.backend_overloaded++;
        flight_finish(f, BACKEND_FAILED, NULL,
                      "too many introspection calls in flight and waiting "
                      "(--max-introspections, --max-introspection-queue)",
                      how);
        return;
    }
    f->queued = true;
    if (v->queue_tail)
        v->queue_tail->next_queued = f;
    else
        v->queue_head = f;
    v->queue_tail = f;
    v->queued++;
}

/* ---- local JWT verification (RFC 9068) ---- */

static void on_keys(const mcpauth_jwks *jwks, const char *error, void *data)
{
    flight *f = data;
    if (!f->validator) {
        flight_free(f);
        return;
    }
    mcpauth_validator *v = f->validator;
    if (!jwks) {
        flight_finish(f, BACKEND_FAILED, NULL, error, "jwt");
        return;
    }
    char reason[256] = "";
    mcpauth_token_info info = {0};
    switch (mcpauth_jwt_verify(f->token, f->length, jwks, &v->config.jwt, &info, reason,
                               sizeof reason)) {
    case MCPAUTH_JWT_UNKNOWN_KEY:
        /* Keys rotate: one refetch per token at most, and the cache limits
         * refetches across all tokens to one per cooldown. */
        if (!f->refetched_keys) {
            f->refetched_keys = true;
            mcpauth_jwks_cache_get(v->config.jwks, true, on_keys, f);
            return;
        }
        if (error) {
            /* The set could not be refetched: the key may exist all the
             * same (a rotation during an outage). Not the token's fault:
             * UNAVAILABLE, and nothing is cached. */
            char why[512];
            snprintf(why, sizeof why, "%s, and %s", reason, error);
            flight_finish(f, BACKEND_FAILED, NULL, why, "jwt");
            return;
        }
        flight_finish(f, BACKEND_REJECTED, NULL, reason, "jwt");
        return;
    case MCPAUTH_JWT_INVALID:
        flight_finish(f, BACKEND_REJECTED, NULL, reason, "jwt");
        return;
    case MCPAUTH_JWT_VERIFIED:
        break;
    }
    /* RFC 9068 §2.2, §4: iss is required in a JWT access token; the shared
     * check only compares it when present (introspection may omit it). */
    if (!info.issuer) {
        mcpauth_token_info_free(&info);
        flight_finish(f, BACKEND_REJECTED, NULL, "token has no iss claim (RFC 9068 §2.2)", "jwt");
        return;
    }
    if (v->config.introspect_jwt) {
        f->jwt = info;
        f->have_jwt = true;
        start_introspection(f);
        return;
    }
    flight_finish(f, BACKEND_ACCEPTED, &info, NULL, "jwt");
    mcpauth_token_info_free(&info);
}

/* Local verification applies in jwt mode, and in auto mode to JWT-shaped
 * tokens when the issuer's keys are configured. */
static bool use_jwt(const mcpauth_validator *v, const char *token, size_t length)
{
    if (!v->config.jwks)
        return false;
    if (v->config.mode == MCPAUTH_VALIDATE_JWT)
        return true;
    return v->config.mode == MCPAUTH_VALIDATE_AUTO && mcpauth_jwt_looks_like(token, length);
}

/* ---- Redis: the cache other instances share ---- */

/* Whether the authorization server would be asked: what sharing saves. A
 * JWT verified here costs less than asking Redis. */
static bool would_introspect(const mcpauth_validator *v, const char *token, size_t length)
{
    if (use_jwt(v, token, length))
        return v->config.introspect_jwt;
    return v->config.mode != MCPAUTH_VALIDATE_JWT && v->config.introspection.endpoint;
}

/* Validates f's token by the method that applies to it. */
static void start_backend(flight *f)
{
    mcpauth_validator *v = f->validator;
    if (use_jwt(v, f->token, f->length))
        mcpauth_jwks_cache_get(v->config.jwks, false, on_keys, f);
    else if (v->config.mode == MCPAUTH_VALIDATE_JWT)
        flight_finish(f, BACKEND_REJECTED, NULL, "not a JWT (only JWT access tokens are accepted)",
                      "jwt");
    else
        start_introspection(f);
}

static void on_redis(mcpauth_redis_status status, const mcpauth_token_cache_entry *entry,
                     void *data)
{
    flight *f = data;
    if (!f->validator) {
        flight_free(f); /* the validator went away; its waiters were answered then */
        return;
    }
    switch (status) {
    case MCPAUTH_REDIS_HIT:
        /* Another instance's result, checked again against this server's
         * policy like any backend's. */
        f->redis_answered = true;
        if (entry->valid)
            flight_finish(f, BACKEND_ACCEPTED, &entry->info, NULL, entry->validated_by);
        else
            flight_finish(f, BACKEND_REJECTED, NULL, entry->reason, entry->validated_by);
        return;
    case MCPAUTH_REDIS_CLAIMED:
        f->redis_claimed = true;
        break;
    case MCPAUTH_REDIS_MISS:
    case MCPAUTH_REDIS_DOWN:
        break;
    }
    start_backend(f);
}

/* No worker of this server has the result: other servers may (Redis),
 * else the backend. */
static void start_validation(flight *f)
{
    mcpauth_validator *v = f->validator;
    if (v->config.redis && would_introspect(v, f->token, f->length)) {
        f->redis_asked = true;
        mcpauth_redis_cache_find(v->config.redis, &f->key, on_redis, f);
        return;
    }
    start_backend(f);
}

/* ---- the pipeline ---- */

static void answer_now(mcpauth_validation_outcome outcome, const char *reason,
                       const char *validated_by, const mcpauth_token_key *key, bool cache_hit,
                       mcpauth_validate_cb cb, void *data)
{
    mcpauth_validation result = {
        .outcome = outcome,
        .reason = reason,
        .validated_by = validated_by,
        .cache_hit = cache_hit,
    };
    mcpauth_token_key_hex(key, result.token_hash);
    cb(&result, data);
}

/* Looks the token up in this validator's own cache, then in the shared
 * one: the hot path touches no memory other workers write. What the shared
 * cache has is kept here too, until the same end. */
static bool cache_lookup(mcpauth_validator *v, const mcpauth_token_key *key, int64_t now,
                         mcpauth_token_cache_entry *entry)
{
    if (mcpauth_token_cache_lookup(v->cache, key, now, entry))
        return true;
    if (!v->config.shared_cache ||
        !mcpauth_token_shared_cache_lookup(v->config.shared_cache, key, now, entry))
        return false;
    mcpauth_token_cache_store(v->cache, key, now, entry);
    return true;
}

/* Answers one waiter from a cached entry (whose info it frees). */
static void answer_entry(mcpauth_validator *v, const mcpauth_token_key *key,
                         mcpauth_token_cache_entry entry, int64_t now, const waiter *w)
{
    const char *how = entry.validated_by ? entry.validated_by : "cache";
    if (!entry.valid) {
        answer_now(MCPAUTH_VALIDATION_INVALID, entry.reason, how, key, true, w->cb, w->data);
        return;
    }
    /* Re-check time-bound claims: the entry may be near its expiry. */
    char reason[256];
    if (mcpauth_token_check(&v->config.policy, &entry.info, now, reason, sizeof reason) !=
        MCPAUTH_TOKEN_VALID) {
        mcpauth_token_info_free(&entry.info);
        answer_now(MCPAUTH_VALIDATION_INVALID, reason, how, key, true, w->cb, w->data);
        return;
    }
    mcpauth_validation base = {
        .outcome = MCPAUTH_VALIDATION_VALID, .reason = "", .validated_by = how, .cache_hit = true};
    mcpauth_token_key_hex(key, base.token_hash);
    answer(&base, &entry.info, w);
    mcpauth_token_info_free(&entry.info);
}

/* Answers from the cache when it has the token; false otherwise. */
static bool answer_from_cache(mcpauth_validator *v, const mcpauth_token_key *key, const waiter *w)
{
    mcpauth_token_cache_entry entry;
    int64_t now = now_seconds();
    if (!cache_lookup(v, key, now, &entry))
        return false;
    v->stats.cache_hits++;
    answer_entry(v, key, entry, now, w);
    return true;
}

/* A flight waiting on another worker: answered from the result it stored,
 * else validated here once that worker's claim lapsed or was released. */
static void on_peer_poll(uv_timer_t *timer)
{
    mcpauth_validator *v = timer->data;
    int64_t now = now_seconds();
    flight **link = &v->peer_waiting;
    while (*link) {
        flight *f = *link;
        mcpauth_token_cache_entry entry;
        bool cached = cache_lookup(v, &f->key, now, &entry);
        if (!cached && mcpauth_token_shared_cache_claim(v->config.shared_cache, &f->key, now,
                                                        uv_hrtime() / 1000000, PEER_CLAIM_MS) ==
                           MCPAUTH_TOKEN_CLAIM_BUSY) {
            link = &f->next_peer;
            continue;
        }
        *link = f->next_peer;
        f->waiting_peer = false;
        f->next_peer = NULL;
        if (!cached) {
            f->claimed = true;
            start_validation(f);
            continue;
        }
        *flight_slot(v, &f->key) = f->next;
        for (waiter *w = f->waiters, *next; w; w = next) {
            next = w->next;
            mcpauth_token_cache_entry copy = entry;
            if (entry.valid && !mcpauth_token_info_copy(&entry.info, &copy.info)) {
                answer_now(MCPAUTH_VALIDATION_UNAVAILABLE, "out of memory", "none", &f->key, false,
                           w->cb, w->data);
            } else {
                answer_entry(v, &f->key, copy, now, w);
            }
            free(w);
        }
        mcpauth_token_info_free(&entry.info);
        flight_free(f);
    }
    if (!v->peer_waiting)
        uv_timer_stop(timer);
}

void mcpauth_validator_validate(mcpauth_validator *v, const char *token, size_t length,
                                const char *const *scopes, size_t scope_count,
                                mcpauth_validate_cb cb, void *data)
{
    mcpauth_token_key key;
    mcpauth_token_key_of(token, length, &key);
    waiter w = {cb, data, scopes, scope_count, v->config.policy.implies, NULL};
    if (answer_from_cache(v, &key, &w))
        return;
    v->stats.cache_misses++;

    flight **slot = flight_slot(v, &key);
    waiter *queued = malloc(sizeof *queued);
    if (!queued) {
        answer_now(MCPAUTH_VALIDATION_UNAVAILABLE, "out of memory", "none", &key, false, cb, data);
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
    char *copy = f ? malloc(length + 1) : NULL;
    if (!copy) {
        free(f);
        free(queued);
        answer_now(MCPAUTH_VALIDATION_UNAVAILABLE, "out of memory", "none", &key, false, cb, data);
        return;
    }
    memcpy(copy, token, length);
    copy[length] = '\0';
    f->validator = v;
    f->key = key;
    f->token = copy;
    f->length = length;
    f->waiters = queued;
    *slot = f;
    if (v->config.shared_cache &&
        mcpauth_token_shared_cache_claim(v->config.shared_cache, &key, now_seconds(),
                                         uv_hrtime() / 1000000,
                                         PEER_CLAIM_MS) == MCPAUTH_TOKEN_CLAIM_BUSY) {
        /* Another worker is validating it: its result will do. */
        f->waiting_peer = true;
        f->next_peer = v->peer_waiting;
        v->peer_waiting = f;
        if (!uv_is_active((uv_handle_t *)v->peer_timer))
            uv_timer_start(v->peer_timer, on_peer_poll, PEER_POLL_MS, PEER_POLL_MS);
        return;
    }
    f->claimed = v->config.shared_cache != NULL;
    start_validation(f);
}

void mcpauth_validator_stats_get(const mcpauth_validator *v, mcpauth_validator_stats *out)
{
    *out = v->stats;
    out->backend_in_flight = v->in_flight;
    out->backend_queued = v->queued;
}

static void on_timer_closed(uv_handle_t *handle)
{
    free(handle);
}

void mcpauth_validator_free(mcpauth_validator *v)
{
    if (!v)
        return;
    for (size_t b = 0; b < FLIGHT_BUCKETS; b++) {
        while (v->flights[b]) {
            flight *f = v->flights[b];
            v->flights[b] = f->next;
            for (waiter *w = f->waiters, *next; w; w = next) {
                next = w->next;
                answer_now(MCPAUTH_VALIDATION_UNAVAILABLE, "server shutting down", "none", &f->key,
                           false, w->cb, w->data);
                free(w);
            }
            f->waiters = NULL;
            if (f->claimed)
                mcpauth_token_shared_cache_release(v->config.shared_cache, &f->key);
            if (f->queued || f->waiting_peer)
                flight_free(f); /* no call out: nothing will free it later */
            else
                f->validator = NULL; /* freed when its backend call returns */
        }
    }
    if (v->peer_timer)
        uv_close((uv_handle_t *)v->peer_timer, on_timer_closed);
    mcpauth_token_cache_free(v->cache);
    free(v);
}
