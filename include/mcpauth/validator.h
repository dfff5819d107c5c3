/* The token validation pipeline of `serve`: one call per request, whatever
 * checks the token. In order: the result cache (by SHA-256 of the token),
 * then single-flight (concurrent requests with the same uncached token wait
 * for one validation), then, for a token that would be introspected, the
 * cache other instances share (mcpauth/redis_cache.h), then the backend — a local RFC 9068 JWT
 * check against the issuer's keys, RFC 7662 introspection, or both — then the claim checks every
 * backend shares (mcpauth_token_check), then the scopes this request needs. The authorization
 * server failing is reported separately from a bad token: it is never the client's fault.
 *
 * Calls on the loop's thread only; nothing blocks.
 */
#ifndef MCPAUTH_VALIDATOR_H
#define MCPAUTH_VALIDATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcpauth/http_async.h"
#include "mcpauth/introspection.h"
#include "mcpauth/jose.h"
#include "mcpauth/jwks_cache.h"
#include "mcpauth/redis_cache.h"
#include "mcpauth/token.h"
#include "mcpauth/token_shared_cache.h"

typedef struct mcpauth_validator mcpauth_validator;

typedef enum mcpauth_validation_outcome {
    MCPAUTH_VALIDATION_VALID,
    MCPAUTH_VALIDATION_INVALID,            /* 401 invalid_token */
    MCPAUTH_VALIDATION_INSUFFICIENT_SCOPE, /* 403 insufficient_scope */
    MCPAUTH_VALIDATION_UNAVAILABLE,        /* 503: the AS could not be asked */
} mcpauth_validation_outcome;

/* Borrowed for the duration of the callback. */
typedef struct mcpauth_validation {
    mcpauth_validation_outcome outcome;
    const mcpauth_token_info *info; /* VALID and INSUFFICIENT_SCOPE */
    const char *reason;             /* one line, never the token; "" when VALID */
    const char *validated_by;       /* "jwt", "introspection" or "jwt+introspection" */
    bool cache_hit;
    char token_hash[13]; /* first 12 hex digits of SHA-256(token) */
} mcpauth_validation;

typedef void (*mcpauth_validate_cb)(const mcpauth_validation *result, void *data);

typedef enum mcpauth_validation_mode {
    MCPAUTH_VALIDATE_AUTO, /* JWT-shaped tokens locally when keys exist, others introspected */
    MCPAUTH_VALIDATE_JWT,  /* every token must be a JWT verified locally */
    MCPAUTH_VALIDATE_INTROSPECT, /* every token is introspected */
} mcpauth_validation_mode;

typedef struct mcpauth_validator_config {
    /* Its required scopes are ignored (see validate()); its implies rules
     * apply to the scopes validate() is given. */
    mcpauth_token_policy policy;
    mcpauth_validation_mode mode;
    mcpauth_introspection_config introspection; /* endpoint NULL: no introspection */
    mcpauth_jwks_cache *jwks;                   /* NULL: no local JWT verification; not owned */
    mcpauth_jwt_policy jwt;
    bool introspect_jwt; /* also introspect verified JWTs (catches revocation) */
    size_t cache_size;   /* 0 disables the cache */
    int64_t cache_ttl_seconds;
    int64_t negative_ttl_seconds;
    size_t max_token_length;
    /* Whoever reaches the server can make it ask the authorization server
     * about made-up tokens: at most max_introspections calls are out at
     * once, at most max_introspection_queue more validations wait for a
     * slot, and beyond that a validation is answered UNAVAILABLE at once.
     * 0: no limit. */
    size_t max_introspections;
    size_t max_introspection_queue;
    /* The cache the worker processes of one server share (not owned; NULL:
     * none): looked up when this validator's own cache (which stays in
     * front, and keeps what it finds there until the same end) misses, and
     * its claims make the single flight cross processes: a token another
     * process is validating is waited for (its result polled every few
     * milliseconds on loop) until that claim lapses, rather than validated
     * again. */
    mcpauth_token_shared_cache *shared_cache;
    uv_loop_t *loop; /* required with shared_cache */
    /* Other instances' results for tokens that would be introspected,
     * looked up after the local cache, and this one's stored there (with
     * single flight across instances). NULL: none. Not owned; free it after
     * the validator. */
    mcpauth_redis_cache *redis;
} mcpauth_validator_config;

/* Upper bounds (seconds) of the backend latency histogram's buckets; the
 * last bucket, +Inf, is implied. */
#define MCPAUTH_VALIDATOR_LATENCY_BOUNDS                                                           \
    {                                                                                              \
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0                              \
    }
#define MCPAUTH_VALIDATOR_LATENCY_BUCKETS 12

typedef struct mcpauth_validator_stats {
    uint64_t cache_hits;
    uint64_t cache_misses;
    uint64_t backend_calls;      /* introspection requests sent */
    uint64_t backend_failures;   /* of those, how many could not be answered */
    uint64_t backend_overloaded; /* validations refused: calls and queue full */
    uint64_t backend_in_flight;  /* introspection calls out now (a gauge) */
    uint64_t backend_queued;     /* validations waiting for a call slot now (a gauge) */
    /* How long answered backend calls took: counts per bucket (not
     * cumulative) and the sum in seconds. */
    uint64_t latency_buckets[MCPAUTH_VALIDATOR_LATENCY_BUCKETS];
    double latency_sum_seconds;
} mcpauth_validator_stats;

/* config is copied, its strings must outlive the validator. NULL on
 * allocation failure. */
mcpauth_validator *mcpauth_validator_new(mcpauth_http_async *http,
                                         const mcpauth_validator_config *config);

/* Validates token for a request needing scopes[0..scope_count) (the array
 * and its strings must stay valid until cb runs). cb runs exactly once:
 * synchronously on a cache hit or an early rejection, later otherwise. */
void mcpauth_validator_validate(mcpauth_validator *validator, const char *token, size_t length,
                                const char *const *scopes, size_t scope_count,
                                mcpauth_validate_cb cb, void *data);

/* Counters since the validator was created. */
void mcpauth_validator_stats_get(const mcpauth_validator *validator, mcpauth_validator_stats *out);

/* Frees the validator. Validations still waiting are answered UNAVAILABLE. */
void mcpauth_validator_free(mcpauth_validator *validator);

#endif
