/* The token validation pipeline of `serve` (src/auth/validator.c) against a
 * canned authorization server on 127.0.0.1 (introspection endpoint and
 * jwks_uri): each backend, the shared claim checks, per-request scopes, the
 * result cache, single flight, and what happens when the AS fails. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcpauth/jose.h"
#include "mcpauth/json.h"
#include "mcpauth/validator.h"
#include "testlib.h"

#define ISSUER   "https://as.example"
#define RESOURCE "http://127.0.0.1:8000/mcp"
#define OPAQUE   "opaque-token-4711"

#define ACTIVE_DOC                                                                                 \
    "{\"active\":true,\"sub\":\"alice\",\"client_id\":\"c\",\"scope\":\"mcp read\","               \
    "\"iss\":\"" ISSUER "\",\"aud\":\"" RESOURCE "\",\"exp\":4102444800}"

static testlib_server *server;
static testlib_async async;
static mcpauth_jws_signer *signer;  /* its key is in the served set */
static mcpauth_jws_signer *rotated; /* a key the set gets later */
static char set_one[1024], set_both[2048];
static char introspect_url[128], jwks_url[128];
static mcpauth_jwks_cache *key_cache; /* of jwt_config() */
static const char *const audiences[] = {RESOURCE};
static const char *const mcp_scope[] = {"mcp"};

static void make_set(char *out, size_t size, const mcpauth_jws_signer *a,
                     const mcpauth_jws_signer *b)
{
    json_object *set = json_object_new_object(), *keys = json_object_new_array();
    json_object_array_add(keys, mcpauth_jws_signer_public_jwk(a));
    if (b)
        json_object_array_add(keys, mcpauth_jws_signer_public_jwk(b));
    json_object_object_add(set, "keys", keys);
    snprintf(out, size, "%s", mcpauth_json_compact(set));
    json_object_put(set);
}

static void setup(void)
{
    mcpauth_error err = {0};
    signer = mcpauth_jws_signer_generate_es256(&err);
    rotated = mcpauth_jws_signer_generate_es256(&err);
    ck_assert(signer && rotated);
    make_set(set_one, sizeof set_one, signer, NULL);
    make_set(set_both, sizeof set_both, signer, rotated);
    server = testlib_server_start();
    snprintf(introspect_url, sizeof introspect_url, "%s",
             testlib_server_url(server, "/introspect"));
    snprintf(jwks_url, sizeof jwks_url, "%s", testlib_server_url(server, "/jwks"));
    testlib_server_json(server, "GET", "/jwks", 200, set_one);
    testlib_async_init(&async, 2);
}

static void teardown(void)
{
    mcpauth_jwks_cache_free(key_cache);
    key_cache = NULL;
    testlib_async_close(&async);
    testlib_server_stop(server);
    mcpauth_jws_signer_free(signer);
    mcpauth_jws_signer_free(rotated);
}

static void introspection_answers(int status, const char *body, int delay_ms)
{
    testlib_route r = {.method = "POST",
                       .target = "/introspect",
                       .status = status,
                       .headers = "Content-Type: application/json\r\n",
                       .body = body,
                       .delay_ms = delay_ms};
    testlib_server_route(server, &r);
}

static int introspections(void)
{
    return testlib_server_hits(server, "POST", "/introspect");
}

static int jwks_fetches(void)
{
    return testlib_server_hits(server, "GET", "/jwks");
}

static mcpauth_validator_config base_config(mcpauth_validation_mode mode)
{
    mcpauth_validator_config config = {
        .policy = {.issuer = ISSUER,
                   .audiences = audiences,
                   .audience_count = 1,
                   .leeway_seconds = 30,
                   .require_expiry = true},
        .mode = mode,
        .introspection = {.endpoint = introspect_url,
                          .client_id = "rs",
                          .client_secret = "s",
                          .auth = MCPAUTH_CLIENT_AUTH_BASIC},
        .cache_size = 16,
        .cache_ttl_seconds = 300,
        .negative_ttl_seconds = 60,
        .max_token_length = 8192,
    };
    mcpauth_jwt_policy_init(&config.jwt);
    return config;
}

/* A JWT access token; NULL members are left out. */
static char *jwt(const mcpauth_jws_signer *key, const char *typ, const char *iss, const char *sub,
                 const char *scope)
{
    json_object *claims = json_object_new_object();
    if (iss)
        json_object_object_add(claims, "iss", json_object_new_string(iss));
    if (sub)
        json_object_object_add(claims, "sub", json_object_new_string(sub));
    json_object_object_add(claims, "aud", json_object_new_string(RESOURCE));
    json_object_object_add(claims, "client_id", json_object_new_string("c"));
    json_object_object_add(claims, "iat", json_object_new_int64((int64_t)time(NULL)));
    json_object_object_add(claims, "exp", json_object_new_int64((int64_t)time(NULL) + 600));
    if (scope)
        json_object_object_add(claims, "scope", json_object_new_string(scope));
    mcpauth_error err = {0};
    char *token = mcpauth_jws_sign(key, typ, claims, &err);
    ck_assert_msg(token != NULL, "%s", err.message);
    json_object_put(claims);
    return token;
}

/* --- running validations ------------------------------------------------ */

typedef struct result {
    bool done;
    int calls;
    mcpauth_validation_outcome outcome;
    bool had_info;
    char subject[64];
    char reason[256];
    char validated_by[32];
    bool cache_hit;
    char token_hash[13];
} result;

static void on_result(const mcpauth_validation *v, void *data)
{
    result *r = data;
    r->calls++;
    r->done = true;
    r->outcome = v->outcome;
    r->had_info = v->info != NULL;
    snprintf(r->subject, sizeof r->subject, "%s",
             v->info && v->info->subject ? v->info->subject : "");
    snprintf(r->reason, sizeof r->reason, "%s", v->reason);
    snprintf(r->validated_by, sizeof r->validated_by, "%s", v->validated_by);
    r->cache_hit = v->cache_hit;
    memcpy(r->token_hash, v->token_hash, sizeof r->token_hash);
}

/* Validates token needing scopes and runs the loop to the answer;
 * *synchronous says whether the answer came inside validate(). */
static result validate(mcpauth_validator *v, const char *token, const char *const *scopes,
                       size_t scope_count, bool *synchronous)
{
    result r = {0};
    mcpauth_validator_validate(v, token, strlen(token), scopes, scope_count, on_result, &r);
    if (synchronous)
        *synchronous = r.done;
    testlib_async_run_until(&async, &r.done);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_ptr_null(strstr(r.reason, token));
    return r;
}

static void assert_result(const result *r, mcpauth_validation_outcome outcome,
                          const char *validated_by, const char *reason)
{
    ck_assert_msg(r->outcome == outcome, "outcome %d, not %d (%s)", r->outcome, outcome, r->reason);
    ck_assert_str_eq(r->validated_by, validated_by);
    ck_assert_msg(strstr(r->reason, reason), "\"%s\" not in \"%s\"", reason, r->reason);
    if (reason[0] == '\0')
        ck_assert_str_eq(r->reason, "");
}

/* base_config(mode) with local JWT verification against the canned jwks_uri;
 * the key cache is freed by teardown(). */
static mcpauth_validator_config jwt_config(mcpauth_validation_mode mode, int64_t cooldown)
{
    mcpauth_jwks_cache_config cache_config = {.uri = jwks_url, .cooldown_seconds = cooldown};
    mcpauth_error err = {0};
    key_cache = mcpauth_jwks_cache_new(async.http, &cache_config, &err);
    ck_assert_msg(key_cache != NULL, "%s", err.message);
    mcpauth_validator_config config = base_config(mode);
    config.jwks = key_cache;
    return config;
}

/* --- introspection ------------------------------------------------------ */

START_TEST(introspection_valid_then_cached)
{
    bool sync;
    mcpauth_validator_config config = base_config(MCPAUTH_VALIDATE_INTROSPECT);
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);
    ck_assert_ptr_nonnull(v);
    introspection_answers(200, ACTIVE_DOC, 0);

    result r = validate(v, OPAQUE, mcp_scope, 1, &sync);
    ck_assert(!sync);
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "introspection", "");
    ck_assert(r.had_info);
    ck_assert_str_eq(r.subject, "alice");
    ck_assert(!r.cache_hit);
    ck_assert_uint_eq(strlen(r.token_hash), 12);
    ck_assert_uint_eq(strspn(r.token_hash, "0123456789abcdef"), 12);
    char *request = testlib_server_last_request(server);
    ck_assert_ptr_nonnull(strstr(request, "token=" OPAQUE "&token_type_hint=access_token"));
    free(request);

    /* The second request with the token is answered from the cache, at once. */
    result again = validate(v, OPAQUE, mcp_scope, 1, &sync);
    ck_assert(sync);
    assert_result(&again, MCPAUTH_VALIDATION_VALID, "introspection", "");
    ck_assert(again.cache_hit);
    ck_assert_str_eq(again.subject, "alice");
    ck_assert_str_eq(again.token_hash, r.token_hash);
    ck_assert_int_eq(introspections(), 1);

    mcpauth_validator_stats stats;
    mcpauth_validator_stats_get(v, &stats);
    ck_assert_uint_eq(stats.cache_hits, 1);
    ck_assert_uint_eq(stats.cache_misses, 1);
    ck_assert_uint_eq(stats.backend_calls, 1);
    ck_assert_uint_eq(stats.backend_failures, 0);
    uint64_t answered = 0;
    for (int i = 0; i < MCPAUTH_VALIDATOR_LATENCY_BUCKETS; i++)
        answered += stats.latency_buckets[i];
    ck_assert_uint_eq(answered, 1);
    ck_assert(stats.latency_sum_seconds > 0);
    mcpauth_validator_free(v);
}
END_TEST

/* Scopes are judged per request, also for cached tokens. */
START_TEST(introspection_scopes)
{
    static const char *const admin[] = {"mcp", "admin"};
    static const char *const read[] = {"read"};
    mcpauth_validator_config config = base_config(MCPAUTH_VALIDATE_INTROSPECT);
    config.policy.required_scopes = admin; /* ignored: scopes come with each request */
    config.policy.required_scope_count = 2;
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);
    introspection_answers(200, ACTIVE_DOC, 0);

    result r = validate(v, OPAQUE, admin, 2, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_INSUFFICIENT_SCOPE, "introspection",
                  "missing scope admin");
    ck_assert(r.had_info);
    ck_assert_str_eq(r.subject, "alice");

    r = validate(v, OPAQUE, read, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "introspection", "");
    ck_assert(r.cache_hit);
    r = validate(v, OPAQUE, admin, 2, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_INSUFFICIENT_SCOPE, "introspection",
                  "missing scope admin");
    ck_assert(r.cache_hit);
    r = validate(v, OPAQUE, NULL, 0, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "introspection", "");
    ck_assert_int_eq(introspections(), 1);
    mcpauth_validator_free(v);
}
END_TEST

START_TEST(introspection_inactive_cached_negatively)
{
    bool sync;
    mcpauth_validator_config config = base_config(MCPAUTH_VALIDATE_AUTO);
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);
    introspection_answers(200, "{\"active\":false}", 0);

    result r = validate(v, OPAQUE, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_INVALID, "introspection",
                  "token is not active (introspection)");
    ck_assert(!r.had_info);

    r = validate(v, OPAQUE, mcp_scope, 1, &sync);
    ck_assert(sync);
    ck_assert(r.cache_hit);
    assert_result(&r, MCPAUTH_VALIDATION_INVALID, "introspection",
                  "token is not active (introspection)");
    ck_assert_int_eq(introspections(), 1);
    mcpauth_validator_free(v);
}
END_TEST

/* The AS failing is UNAVAILABLE, never the token's fault, and not cached. */
START_TEST(introspection_unavailable)
{
    mcpauth_validator_config config = base_config(MCPAUTH_VALIDATE_INTROSPECT);
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);
    introspection_answers(500, "{\"error\":\"server_error\"}", 0);

    result r = validate(v, OPAQUE, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_UNAVAILABLE, "introspection", "HTTP 500");
    ck_assert(!r.had_info);
    introspection_answers(200, "not json", 0);
    r = validate(v, OPAQUE, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_UNAVAILABLE, "introspection", "introspection response");
    ck_assert(!r.cache_hit);
    /* A timeout (the client's is 2 s). */
    introspection_answers(200, ACTIVE_DOC, 4000);
    r = validate(v, OPAQUE, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_UNAVAILABLE, "introspection", "introspection failed: ");
    ck_assert_int_eq(introspections(), 3);

    /* Once the AS is back, the token is good. */
    introspection_answers(200, ACTIVE_DOC, 0);
    r = validate(v, OPAQUE, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "introspection", "");

    mcpauth_validator_stats stats;
    mcpauth_validator_stats_get(v, &stats);
    ck_assert_uint_eq(stats.backend_calls, 4);
    ck_assert_uint_eq(stats.backend_failures, 3);
    ck_assert_uint_eq(stats.cache_misses, 4);
    mcpauth_validator_free(v);
}
END_TEST

typedef struct claim_case {
    const char *doc;
    const char *reason;
} claim_case;

/* The shared claim checks apply to what introspection says. */
static const claim_case claim_cases[] = {
    {"{\"active\":true,\"sub\":\"a\",\"aud\":\"https://other/mcp\",\"exp\":4102444800}",
     "audience"},
    {"{\"active\":true,\"sub\":\"a\",\"aud\":\"" RESOURCE "\",\"exp\":1000}", "expired"},
    {"{\"active\":true,\"sub\":\"a\",\"aud\":\"" RESOURCE "\"}", "exp"},
    {"{\"active\":true,\"sub\":\"a\",\"iss\":\"https://evil\",\"aud\":\"" RESOURCE
     "\",\"exp\":4102444800}",
     "iss"},
};

START_TEST(introspection_claims_checked)
{
    mcpauth_validator_config config = base_config(MCPAUTH_VALIDATE_INTROSPECT);
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);
    introspection_answers(200, claim_cases[_i].doc, 0);

    result r = validate(v, OPAQUE, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_INVALID, "introspection", claim_cases[_i].reason);
    ck_assert(!r.had_info);
    r = validate(v, OPAQUE, mcp_scope, 1, NULL);
    ck_assert(r.cache_hit);
    ck_assert_int_eq(r.outcome, MCPAUTH_VALIDATION_INVALID);
    mcpauth_validator_free(v);
}
END_TEST

START_TEST(no_introspection_endpoint)
{
    mcpauth_validator_config config = base_config(MCPAUTH_VALIDATE_AUTO);
    config.introspection.endpoint = NULL;
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);

    bool sync;
    result r = validate(v, OPAQUE, mcp_scope, 1, &sync);
    ck_assert(sync);
    assert_result(&r, MCPAUTH_VALIDATION_INVALID, "introspection",
                  "not a JWT, and no introspection endpoint is configured");
    ck_assert_int_eq(testlib_server_hits(server, NULL, NULL), 0);
    mcpauth_validator_free(v);
}
END_TEST

START_TEST(introspection_refused_by_policy)
{
    mcpauth_validator_config config = base_config(MCPAUTH_VALIDATE_INTROSPECT);
    config.introspection.endpoint = "http://example.com/introspect";
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);

    bool sync;
    result r = validate(v, OPAQUE, mcp_scope, 1, &sync);
    ck_assert(sync);
    ck_assert_int_eq(r.outcome, MCPAUTH_VALIDATION_UNAVAILABLE);
    ck_assert_str_eq(r.validated_by, "introspection");
    mcpauth_validator_free(v);
}
END_TEST

/* Concurrent requests with the same uncached token share one call. */
START_TEST(single_flight)
{
    static const char *const admin[] = {"admin"};
    mcpauth_validator_config config = base_config(MCPAUTH_VALIDATE_INTROSPECT);
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);
    introspection_answers(200, ACTIVE_DOC, 300);

    result r[4] = {{0}};
    for (int i = 0; i < 4; i++)
        mcpauth_validator_validate(v, OPAQUE, strlen(OPAQUE), i == 3 ? admin : mcp_scope, 1,
                                   on_result, &r[i]);
    for (int i = 0; i < 4; i++) {
        testlib_async_run_until(&async, &r[i].done);
        ck_assert_int_eq(r[i].calls, 1);
        ck_assert(!r[i].cache_hit);
        ck_assert_int_eq(r[i].outcome,
                         i == 3 ? MCPAUTH_VALIDATION_INSUFFICIENT_SCOPE : MCPAUTH_VALIDATION_VALID);
    }
    ck_assert_int_eq(introspections(), 1);
    mcpauth_validator_stats stats;
    mcpauth_validator_stats_get(v, &stats);
    ck_assert_uint_eq(stats.cache_misses, 4);
    ck_assert_uint_eq(stats.backend_calls, 1);
    mcpauth_validator_free(v);
}
END_TEST

START_TEST(cache_disabled)
{
    mcpauth_validator_config config = base_config(MCPAUTH_VALIDATE_INTROSPECT);
    config.cache_size = 0;
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);
    introspection_answers(200, ACTIVE_DOC, 0);

    for (int i = 0; i < 3; i++) {
        result r = validate(v, OPAQUE, mcp_scope, 1, NULL);
        assert_result(&r, MCPAUTH_VALIDATION_VALID, "introspection", "");
        ck_assert(!r.cache_hit);
    }
    ck_assert_int_eq(introspections(), 3);
    mcpauth_validator_free(v);
}
END_TEST

/* Waiting requests are answered UNAVAILABLE; the call still out frees its
 * flight when it returns (valgrind checks nothing leaks). */
START_TEST(free_while_waiting)
{
    mcpauth_validator_config config = base_config(MCPAUTH_VALIDATE_INTROSPECT);
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);
    introspection_answers(200, ACTIVE_DOC, 300);

    result r[2] = {{0}};
    for (int i = 0; i < 2; i++)
        mcpauth_validator_validate(v, OPAQUE, strlen(OPAQUE), mcp_scope, 1, on_result, &r[i]);
    ck_assert(!r[0].done);
    mcpauth_validator_free(v);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(r[i].calls, 1);
        assert_result(&r[i], MCPAUTH_VALIDATION_UNAVAILABLE, "none", "server shutting down");
    }
    while (mcpauth_http_async_pending(async.http) > 0)
        uv_run(&async.loop, UV_RUN_ONCE);
    ck_assert_int_eq(r[0].calls + r[1].calls, 2);
    mcpauth_validator_free(NULL);
}
END_TEST

/* --- local JWT verification --------------------------------------------- */

START_TEST(jwt_valid)
{
    mcpauth_validator_config config = jwt_config(MCPAUTH_VALIDATE_AUTO, 30);
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);
    char *token = jwt(signer, "at+jwt", ISSUER, "bob", "mcp");
    char *other = jwt(signer, "at+jwt", ISSUER, "carol", "mcp");

    result r = validate(v, token, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "jwt", "");
    ck_assert_str_eq(r.subject, "bob");
    r = validate(v, token, mcp_scope, 1, NULL);
    ck_assert(r.cache_hit);
    ck_assert_str_eq(r.validated_by, "jwt");
    r = validate(v, other, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "jwt", "");
    ck_assert_str_eq(r.subject, "carol");

    /* One key fetch for both; no introspection. */
    ck_assert_int_eq(jwks_fetches(), 1);
    ck_assert_int_eq(introspections(), 0);
    mcpauth_validator_stats stats;
    mcpauth_validator_stats_get(v, &stats);
    ck_assert_uint_eq(stats.backend_calls, 0);

    /* In auto mode an opaque token still goes to introspection. */
    introspection_answers(200, ACTIVE_DOC, 0);
    r = validate(v, OPAQUE, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "introspection", "");
    free(token);
    free(other);
    mcpauth_validator_free(v);
}
END_TEST

START_TEST(jwt_mode_refuses_opaque)
{
    mcpauth_validator_config config = jwt_config(MCPAUTH_VALIDATE_JWT, 30);
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);

    /* With keys, every token goes to the JWT check, which refuses it. */
    result r = validate(v, OPAQUE, mcp_scope, 1, NULL);
    ck_assert_int_eq(r.outcome, MCPAUTH_VALIDATION_INVALID);
    ck_assert_str_eq(r.validated_by, "jwt");
    ck_assert_int_eq(introspections(), 0);
    mcpauth_validator_free(v);

    /* Without keys, at once. */
    config.jwks = NULL;
    v = mcpauth_validator_new(async.http, &config);
    bool sync;
    r = validate(v, OPAQUE, mcp_scope, 1, &sync);
    ck_assert(sync);
    assert_result(&r, MCPAUTH_VALIDATION_INVALID, "jwt",
                  "not a JWT (only JWT access tokens are accepted)");
    ck_assert_int_eq(introspections(), 0);
    mcpauth_validator_free(v);
}
END_TEST

START_TEST(jwt_rejected)
{
    mcpauth_validator_config config = jwt_config(MCPAUTH_VALIDATE_JWT, 30);
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);

    char *no_iss = jwt(signer, "at+jwt", NULL, "bob", "mcp");
    result r = validate(v, no_iss, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_INVALID, "jwt", "token has no iss claim (RFC 9068 §2.2)");

    char *wrong_typ = jwt(signer, "JWT", ISSUER, "bob", "mcp");
    r = validate(v, wrong_typ, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_INVALID, "jwt", "typ");

    char *wrong_iss = jwt(signer, "at+jwt", "https://evil", "bob", "mcp");
    r = validate(v, wrong_iss, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_INVALID, "jwt", "iss");

    /* A flipped signature byte. */
    char *forged = jwt(signer, "at+jwt", ISSUER, "bob", "mcp");
    char *last = forged + strlen(forged) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    r = validate(v, forged, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_INVALID, "jwt", "signature");

    char *no_scope = jwt(signer, "at+jwt", ISSUER, "bob", "read");
    r = validate(v, no_scope, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_INSUFFICIENT_SCOPE, "jwt", "missing scope mcp");
    ck_assert_str_eq(r.subject, "bob");

    ck_assert_int_eq(jwks_fetches(), 1);
    free(no_iss);
    free(wrong_typ);
    free(wrong_iss);
    free(forged);
    free(no_scope);
    mcpauth_validator_free(v);
}
END_TEST

/* A kid the set lacks refetches the set once (keys rotate). */
START_TEST(jwt_unknown_kid_refetch)
{
    mcpauth_validator_config config = jwt_config(MCPAUTH_VALIDATE_JWT, 0);
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);
    char *old_key = jwt(signer, "at+jwt", ISSUER, "bob", "mcp");
    char *new_key = jwt(rotated, "at+jwt", ISSUER, "bob", "mcp");
    char *new_key_2 = jwt(rotated, "at+jwt", ISSUER, "carol", "mcp");

    result r = validate(v, old_key, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "jwt", "");
    ck_assert_int_eq(jwks_fetches(), 1);

    /* The set has not rotated yet: one refetch, then the kid is unknown. */
    r = validate(v, new_key, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_INVALID, "jwt", mcpauth_jws_signer_kid(rotated));
    ck_assert_int_eq(jwks_fetches(), 2);

    /* Now it has. */
    testlib_server_json(server, "GET", "/jwks", 200, set_both);
    r = validate(v, new_key_2, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "jwt", "");
    ck_assert_str_eq(r.subject, "carol");
    ck_assert_int_eq(jwks_fetches(), 3);
    free(old_key);
    free(new_key);
    free(new_key_2);
    mcpauth_validator_free(v);
}
END_TEST

/* Within the cooldown an unknown kid does not reach the AS. */
START_TEST(jwt_unknown_kid_cooldown)
{
    mcpauth_validator_config config = jwt_config(MCPAUTH_VALIDATE_JWT, 30);
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);
    testlib_server_json(server, "GET", "/jwks", 200, set_one);
    char *tokens[3];
    for (int i = 0; i < 3; i++) {
        char sub[8];
        snprintf(sub, sizeof sub, "u%d", i);
        tokens[i] = jwt(i == 0 ? signer : rotated, "at+jwt", ISSUER, sub, "mcp");
    }
    result r = validate(v, tokens[0], mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "jwt", "");
    testlib_server_json(server, "GET", "/jwks", 200, set_both);
    for (int i = 1; i < 3; i++) {
        r = validate(v, tokens[i], mcp_scope, 1, NULL);
        assert_result(&r, MCPAUTH_VALIDATION_INVALID, "jwt", "kid");
    }
    ck_assert_int_eq(jwks_fetches(), 1);
    for (int i = 0; i < 3; i++)
        free(tokens[i]);
    mcpauth_validator_free(v);
}
END_TEST

/* A token signed with a key already held is answered at once while
 * another token's unknown kid refetches the set. */
START_TEST(jwt_known_kid_not_blocked_by_refetch)
{
    mcpauth_validator_config config = jwt_config(MCPAUTH_VALIDATE_JWT, 0);
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);
    char *first = jwt(signer, "at+jwt", ISSUER, "bob", "mcp");
    char *second = jwt(signer, "at+jwt", ISSUER, "carol", "mcp");
    char *new_key = jwt(rotated, "at+jwt", ISSUER, "dave", "mcp");
    bool sync;

    result r = validate(v, first, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "jwt", "");
    testlib_route slow = {.method = "GET",
                          .target = "/jwks",
                          .status = 200,
                          .headers = "Content-Type: application/json\r\n",
                          .body = set_both,
                          .delay_ms = 1000};
    testlib_server_route(server, &slow);

    result pending = {0};
    mcpauth_validator_validate(v, new_key, strlen(new_key), mcp_scope, 1, on_result, &pending);
    ck_assert(!pending.done);
    r = validate(v, second, mcp_scope, 1, &sync);
    ck_assert_msg(sync, "a known-kid token waited for another token's refetch");
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "jwt", "");
    ck_assert_str_eq(r.subject, "carol");
    ck_assert(!pending.done);

    testlib_async_run_until(&async, &pending.done);
    assert_result(&pending, MCPAUTH_VALIDATION_VALID, "jwt", "");
    ck_assert_str_eq(pending.subject, "dave");
    ck_assert_int_eq(jwks_fetches(), 2);
    free(first);
    free(second);
    free(new_key);
    mcpauth_validator_free(v);
}
END_TEST

/* An unknown kid whose refetch fails (down, 500, not JSON, no usable key):
 * the key may exist all the same, so UNAVAILABLE (503), never cached as a
 * rejection; once the set can be fetched, the token is judged. */
START_TEST(jwt_unknown_kid_keys_unavailable)
{
    static const struct {
        int status;
        const char *body;
        const char *why;
    } failures[] = {
        {500, "{}", "HTTP 500"},
        {200, "{\"keys\":", "JSON"},
        {200, "{\"keys\":[]}", "no usable signature key"},
    };
    mcpauth_validator_config config = jwt_config(MCPAUTH_VALIDATE_JWT, 0);
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);
    char *old_key = jwt(signer, "at+jwt", ISSUER, "bob", "mcp");
    char *new_key = jwt(rotated, "at+jwt", ISSUER, "dave", "mcp");

    result r = validate(v, old_key, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "jwt", "");
    for (size_t i = 0; i < sizeof failures / sizeof failures[0]; i++) {
        testlib_server_json(server, "GET", "/jwks", failures[i].status, failures[i].body);
        for (int attempt = 0; attempt < 2; attempt++) {
            r = validate(v, new_key, mcp_scope, 1, NULL);
            assert_result(&r, MCPAUTH_VALIDATION_UNAVAILABLE, "jwt", failures[i].why);
            ck_assert_msg(strstr(r.reason, mcpauth_jws_signer_kid(rotated)), "%s", r.reason);
            ck_assert(!r.cache_hit);
        }
    }
    /* The keys held still verify their tokens. */
    r = validate(v, old_key, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "jwt", "");

    testlib_server_json(server, "GET", "/jwks", 200, set_both);
    r = validate(v, new_key, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "jwt", "");
    ck_assert_str_eq(r.subject, "dave");
    free(old_key);
    free(new_key);
    mcpauth_validator_free(v);
}
END_TEST

/* No keys at all: the AS is unavailable, not the token bad. */
START_TEST(jwt_keys_unavailable)
{
    testlib_server_json(server, "GET", "/jwks", 503, "{}");
    mcpauth_validator_config config = jwt_config(MCPAUTH_VALIDATE_JWT, 30);
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);
    char *token = jwt(signer, "at+jwt", ISSUER, "bob", "mcp");

    result r = validate(v, token, mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_UNAVAILABLE, "jwt", "HTTP 503 Service Unavailable");
    r = validate(v, token, mcp_scope, 1, NULL);
    ck_assert(!r.cache_hit);
    ck_assert_int_eq(r.outcome, MCPAUTH_VALIDATION_UNAVAILABLE);
    mcpauth_validator_stats stats;
    mcpauth_validator_stats_get(v, &stats);
    ck_assert_uint_eq(stats.backend_failures, 0); /* the key cache counts its own */
    free(token);
    mcpauth_validator_free(v);
}
END_TEST

/* introspect_jwt: a verified JWT is also introspected (revocation); its
 * signed claims decide, introspection only whether it is still active. */
START_TEST(jwt_plus_introspection)
{
    mcpauth_validator_config config = jwt_config(MCPAUTH_VALIDATE_AUTO, 30);
    config.introspect_jwt = true;
    mcpauth_validator *v = mcpauth_validator_new(async.http, &config);
    char *tokens[3] = {jwt(signer, "at+jwt", ISSUER, "bob", "mcp"),
                       jwt(signer, "at+jwt", ISSUER, "carol", "mcp"),
                       jwt(signer, "at+jwt", ISSUER, "dave", "mcp")};

    introspection_answers(200, ACTIVE_DOC, 0); /* says sub alice */
    result r = validate(v, tokens[0], mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_VALID, "jwt+introspection", "");
    ck_assert_str_eq(r.subject, "bob");

    introspection_answers(200, "{\"active\":false}", 0);
    r = validate(v, tokens[1], mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_INVALID, "jwt+introspection",
                  "signature valid, but introspection says the token is not active (revoked?)");

    introspection_answers(500, "{}", 0);
    r = validate(v, tokens[2], mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_UNAVAILABLE, "jwt+introspection", "HTTP 500");
    ck_assert_int_eq(introspections(), 3);

    mcpauth_validator_stats stats;
    mcpauth_validator_stats_get(v, &stats);
    ck_assert_uint_eq(stats.backend_calls, 3);
    ck_assert_uint_eq(stats.backend_failures, 1);

    /* Without an endpoint a verified JWT cannot be checked for revocation. */
    mcpauth_validator_free(v);
    config.introspection.endpoint = NULL;
    v = mcpauth_validator_new(async.http, &config);
    r = validate(v, tokens[0], mcp_scope, 1, NULL);
    assert_result(&r, MCPAUTH_VALIDATION_INVALID, "jwt+introspection",
                  "no introspection endpoint is configured");
    for (int i = 0; i < 3; i++)
        free(tokens[i]);
    mcpauth_validator_free(v);
}
END_TEST

static Suite *validator_suite(void)
{
    Suite *s = suite_create("validator");
    TCase *tc;

    tc = tcase_create("introspection");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, introspection_valid_then_cached);
    tcase_add_test(tc, introspection_scopes);
    tcase_add_test(tc, introspection_inactive_cached_negatively);
    tcase_add_test(tc, introspection_unavailable);
    tcase_add_loop_test(tc, introspection_claims_checked, 0,
                        sizeof claim_cases / sizeof claim_cases[0]);
    tcase_add_test(tc, no_introspection_endpoint);
    tcase_add_test(tc, introspection_refused_by_policy);
    tcase_add_test(tc, single_flight);
    tcase_add_test(tc, cache_disabled);
    tcase_add_test(tc, free_while_waiting);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("jwt");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, jwt_valid);
    tcase_add_test(tc, jwt_mode_refuses_opaque);
    tcase_add_test(tc, jwt_rejected);
    tcase_add_test(tc, jwt_unknown_kid_refetch);
    tcase_add_test(tc, jwt_unknown_kid_cooldown);
    tcase_add_test(tc, jwt_known_kid_not_blocked_by_refetch);
    tcase_add_test(tc, jwt_unknown_kid_keys_unavailable);
    tcase_add_test(tc, jwt_keys_unavailable);
    tcase_add_test(tc, jwt_plus_introspection);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run_http(validator_suite());
}
