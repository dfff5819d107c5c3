/* The JWK Set cache of `serve` (src/auth/jwks_cache.c) against a canned
 * jwks_uri on 127.0.0.1: first fetch, cache hits, single flight, the
 * unknown-kid refetch and its cooldown, keeping the old keys when a refetch
 * fails, a set read from a file, and freeing with a fetch in flight. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/jose.h"
#include "mcpauth/json.h"
#include "mcpauth/jwks_cache.h"
#include "testlib.h"

static testlib_server *server;
static testlib_async async;
static char uri[128];
static char set_one[1024]; /* one key */
static char set_two[2048]; /* that key and another */

/* A JWK Set text holding the public keys of count fresh ES256 signers. */
static void make_set(char *out, size_t size, int count, json_object *first_key)
{
    json_object *set = json_object_new_object(), *keys = json_object_new_array();
    json_object_array_add(keys, json_object_get(first_key));
    for (int i = 1; i < count; i++) {
        mcpauth_error err = {0};
        mcpauth_jws_signer *signer = mcpauth_jws_signer_generate_es256(&err);
        ck_assert_ptr_nonnull(signer);
        json_object_array_add(keys, mcpauth_jws_signer_public_jwk(signer));
        mcpauth_jws_signer_free(signer);
    }
    json_object_object_add(set, "keys", keys);
    snprintf(out, size, "%s", mcpauth_json_compact(set));
    json_object_put(set);
}

static void setup(void)
{
    mcpauth_error err = {0};
    mcpauth_jws_signer *signer = mcpauth_jws_signer_generate_es256(&err);
    ck_assert_ptr_nonnull(signer);
    json_object *key = mcpauth_jws_signer_public_jwk(signer);
    make_set(set_one, sizeof set_one, 1, key);
    make_set(set_two, sizeof set_two, 2, key);
    json_object_put(key);
    mcpauth_jws_signer_free(signer);

    server = testlib_server_start();
    snprintf(uri, sizeof uri, "%s", testlib_server_url(server, "/jwks"));
    testlib_async_init(&async, 5);
}

static void teardown(void)
{
    testlib_async_close(&async);
    testlib_server_stop(server);
}

static void serve_set(int status, const char *body)
{
    testlib_route r = {.method = "GET",
                       .target = "/jwks",
                       .status = status,
                       .headers = "Content-Type: application/jwk-set+json\r\n",
                       .body = body};
    testlib_server_route(server, &r);
}

typedef struct answer {
    bool done;
    int calls;
    size_t key_count; /* 0 when the answer had no keys */
    char error[512];
} answer;

static void on_keys(const mcpauth_jwks *jwks, const char *error, void *data)
{
    answer *a = data;
    a->calls++;
    a->done = true;
    a->key_count = jwks ? mcpauth_jwks_count(jwks) : 0;
    snprintf(a->error, sizeof a->error, "%s", error ? error : "(null)");
}

static mcpauth_jwks_cache *cache_new(int64_t cooldown)
{
    mcpauth_jwks_cache_config config = {.uri = uri, .cooldown_seconds = cooldown};
    mcpauth_error err = {0};
    mcpauth_jwks_cache *cache = mcpauth_jwks_cache_new(async.http, &config, &err);
    ck_assert_msg(cache != NULL, "%s", err.message);
    return cache;
}

/* One get(), run to its answer; *synchronous says whether it came at once. */
static answer get(mcpauth_jwks_cache *cache, bool stale_kid, bool *synchronous)
{
    answer a = {0};
    mcpauth_jwks_cache_get(cache, stale_kid, on_keys, &a);
    if (synchronous)
        *synchronous = a.done;
    testlib_async_run_until(&async, &a.done);
    ck_assert_int_eq(a.calls, 1);
    return a;
}

static void assert_stats(const mcpauth_jwks_cache *cache, uint64_t fetches, uint64_t failures)
{
    mcpauth_jwks_cache_stats stats;
    mcpauth_jwks_cache_stats_get(cache, &stats);
    ck_assert_uint_eq(stats.fetches, fetches);
    ck_assert_uint_eq(stats.fetch_failures, failures);
}

/* --- fetching ----------------------------------------------------------- */

START_TEST(first_fetch_then_hits)
{
    bool sync;
    serve_set(200, set_one);
    mcpauth_jwks_cache *cache = cache_new(30);
    ck_assert_int_eq(testlib_server_hits(server, NULL, NULL), 0); /* nothing before get() */

    answer a = get(cache, false, &sync);
    ck_assert(!sync);
    ck_assert_uint_eq(a.key_count, 1);
    ck_assert_str_eq(a.error, "(null)");
    char *request = testlib_server_last_request(server);
    ck_assert_ptr_nonnull(strstr(request, "GET /jwks HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(
        strstr(request, "\r\nAccept: application/jwk-set+json, application/json\r\n"));
    free(request);

    /* Fresh keys answer at once, without asking the server again. */
    for (int i = 0; i < 3; i++) {
        a = get(cache, false, &sync);
        ck_assert(sync);
        ck_assert_uint_eq(a.key_count, 1);
    }
    ck_assert_int_eq(testlib_server_hits(server, "GET", "/jwks"), 1);
    assert_stats(cache, 1, 0);
    mcpauth_jwks_cache_free(cache);
}
END_TEST

START_TEST(single_flight)
{
    testlib_route r = {
        .method = "GET", .target = "/jwks", .status = 200, .body = set_one, .delay_ms = 200};
    testlib_server_route(server, &r);
    mcpauth_jwks_cache *cache = cache_new(30);
    answer a[5] = {{0}};

    for (int i = 0; i < 5; i++)
        mcpauth_jwks_cache_get(cache, i % 2 == 1, on_keys, &a[i]);
    for (int i = 0; i < 5; i++) {
        testlib_async_run_until(&async, &a[i].done);
        ck_assert_int_eq(a[i].calls, 1);
        ck_assert_uint_eq(a[i].key_count, 1);
    }
    ck_assert_int_eq(testlib_server_hits(server, "GET", "/jwks"), 1);
    assert_stats(cache, 1, 0);
    mcpauth_jwks_cache_free(cache);
}
END_TEST

/* A token naming a kid the set lacks: refetch (keys rotate), but never more
 * than once per cooldown. */
START_TEST(unknown_kid_refetch_and_cooldown)
{
    bool sync;
    serve_set(200, set_one);
    mcpauth_jwks_cache *cache = cache_new(30);
    ck_assert_uint_eq(get(cache, false, NULL).key_count, 1);

    serve_set(200, set_two);
    /* The first fetch was just now: within the cooldown, no refetch. */
    answer a = get(cache, true, &sync);
    ck_assert(sync);
    ck_assert_uint_eq(a.key_count, 1);
    ck_assert_int_eq(testlib_server_hits(server, "GET", "/jwks"), 1);
    mcpauth_jwks_cache_free(cache);

    /* With no cooldown the unknown kid refetches, and the new set is used. */
    serve_set(200, set_one);
    cache = cache_new(0);
    ck_assert_uint_eq(get(cache, false, NULL).key_count, 1);
    serve_set(200, set_two);
    a = get(cache, true, &sync);
    ck_assert(!sync);
    ck_assert_uint_eq(a.key_count, 2);
    ck_assert_int_eq(testlib_server_hits(server, "GET", "/jwks"), 3);
    assert_stats(cache, 2, 0);
    mcpauth_jwks_cache_free(cache);
}
END_TEST

/* Keys already held keep serving when a refetch fails. */
START_TEST(failed_refetch_keeps_keys)
{
    static const char *const failures[] = {"500", "bad json", "empty set"};
    serve_set(200, set_two);
    mcpauth_jwks_cache *cache = cache_new(0);
    ck_assert_uint_eq(get(cache, false, NULL).key_count, 2);

    for (int i = 0; i < 3; i++) {
        if (i == 0)
            serve_set(500, "{}");
        else if (i == 1)
            serve_set(200, "{\"keys\":");
        else
            serve_set(200, "{\"keys\":[]}");
        answer a = get(cache, true, NULL);
        ck_assert_msg(a.key_count == 2, "%s: %zu keys", failures[i], a.key_count);
        /* The caller hears that the set may be out of date: a kid it lacks
         * may exist all the same. */
        ck_assert_msg(strncmp(a.error, "fetching the JWKS failed: ", 26) == 0, "%s: %s",
                      failures[i], a.error);
    }
    assert_stats(cache, 4, 3);

    /* And a later good fetch replaces them, and clears the failure. */
    serve_set(200, set_one);
    answer a = get(cache, true, NULL);
    ck_assert_uint_eq(a.key_count, 1);
    ck_assert_str_eq(a.error, "(null)");
    assert_stats(cache, 5, 3);
    mcpauth_jwks_cache_free(cache);
}
END_TEST

/* While an unknown kid's refetch is in flight, a caller that needs no new
 * key gets the current set at once; only the refetch's callers wait. */
START_TEST(known_keys_answer_during_refetch)
{
    bool sync;
    serve_set(200, set_one);
    mcpauth_jwks_cache *cache = cache_new(0);
    ck_assert_uint_eq(get(cache, false, NULL).key_count, 1);

    testlib_route r = {
        .method = "GET", .target = "/jwks", .status = 200, .body = set_two, .delay_ms = 500};
    testlib_server_route(server, &r);
    answer refetch = {0};
    mcpauth_jwks_cache_get(cache, true, on_keys, &refetch);
    ck_assert(!refetch.done);
    for (int i = 0; i < 3; i++) {
        answer a = {0};
        mcpauth_jwks_cache_get(cache, false, on_keys, &a);
        ck_assert_msg(a.done, "a known-key caller waited for the refetch");
        ck_assert_uint_eq(a.key_count, 1);
        ck_assert_str_eq(a.error, "(null)");
    }
    ck_assert(!refetch.done);
    testlib_async_run_until(&async, &refetch.done);
    ck_assert_int_eq(refetch.calls, 1);
    ck_assert_uint_eq(refetch.key_count, 2);
    ck_assert_uint_eq(get(cache, false, &sync).key_count, 2);
    ck_assert(sync);
    assert_stats(cache, 2, 0);
    mcpauth_jwks_cache_free(cache);
}
END_TEST

START_TEST(first_fetch_fails)
{
    bool sync;
    char expected[256];
    serve_set(503, "{}");
    mcpauth_jwks_cache *cache = cache_new(30);

    answer a = get(cache, false, &sync);
    ck_assert(!sync);
    ck_assert_uint_eq(a.key_count, 0);
    snprintf(expected, sizeof expected,
             "fetching the JWKS failed: JWK Set at \"%s\": HTTP 503 Service Unavailable", uri);
    ck_assert_str_eq(a.error, expected);

    /* Within the cooldown the failure is repeated, not the request. */
    serve_set(200, set_one);
    a = get(cache, false, &sync);
    ck_assert(sync);
    ck_assert_uint_eq(a.key_count, 0);
    ck_assert_str_eq(a.error, expected);
    a = get(cache, true, &sync);
    ck_assert(sync);
    ck_assert_str_eq(a.error, expected);
    ck_assert_int_eq(testlib_server_hits(server, "GET", "/jwks"), 1);
    assert_stats(cache, 1, 1);
    mcpauth_jwks_cache_free(cache);

    /* Without a cooldown the next get() tries again and succeeds. */
    serve_set(503, "{}");
    cache = cache_new(0);
    ck_assert_uint_eq(get(cache, false, NULL).key_count, 0);
    serve_set(200, set_one);
    ck_assert_uint_eq(get(cache, false, NULL).key_count, 1);
    assert_stats(cache, 2, 1);
    mcpauth_jwks_cache_free(cache);
}
END_TEST

typedef struct bad_fetch {
    int status;
    const char *body;
    int delay_ms;
    const char *error;
} bad_fetch;

static const bad_fetch bad_fetches[] = {
    {200, "not json", 0, "JSON"},
    {200, "{\"keys\":[]}", 0, "JWK set has no usable signature key"},
    {200, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}", 0, "JWK"},
    {404, "", 0, "HTTP 404 Not Found"},
    {200, "{\"keys\":[]}", 3000, "fetching the JWKS failed: "}, /* the 1 s timeout */
};

START_TEST(first_fetch_bad)
{
    const bad_fetch *b = &bad_fetches[_i];
    testlib_async_close(&async);
    testlib_async_init(&async, 1);
    testlib_route r = {.method = "GET",
                       .target = "/jwks",
                       .status = b->status,
                       .body = b->body,
                       .delay_ms = b->delay_ms};
    testlib_server_route(server, &r);
    mcpauth_jwks_cache *cache = cache_new(30);

    answer a = get(cache, false, NULL);
    ck_assert_uint_eq(a.key_count, 0);
    ck_assert_msg(strstr(a.error, b->error), "\"%s\" not in \"%s\"", b->error, a.error);
    assert_stats(cache, 1, 1);
    mcpauth_jwks_cache_free(cache);
}
END_TEST

START_TEST(oversized_set)
{
    static char big[2 * 1024 * 1024];
    memset(big, ' ', sizeof big - 1);
    big[0] = '{';
    big[sizeof big - 2] = '}';
    serve_set(200, big);
    mcpauth_jwks_cache *cache = cache_new(30);

    answer a = get(cache, false, NULL);
    ck_assert_uint_eq(a.key_count, 0);
    ck_assert_msg(strstr(a.error, "fetching the JWKS failed: ") && strstr(a.error, "limit"), "%s",
                  a.error);
    mcpauth_jwks_cache_free(cache);
}
END_TEST

START_TEST(uri_refused)
{
    bool sync;
    mcpauth_jwks_cache_config config = {.uri = "http://example.com/jwks", .cooldown_seconds = 30};
    mcpauth_error err = {0};
    mcpauth_jwks_cache *cache = mcpauth_jwks_cache_new(async.http, &config, &err);
    ck_assert_ptr_nonnull(cache);

    answer a = get(cache, false, &sync);
    ck_assert(sync); /* the request could not even start */
    ck_assert_uint_eq(a.key_count, 0);
    ck_assert_msg(strncmp(a.error, "fetching the JWKS failed: ", 26) == 0, "%s", a.error);
    assert_stats(cache, 1, 1);
    mcpauth_jwks_cache_free(cache);
}
END_TEST

START_TEST(nothing_configured)
{
    bool sync;
    mcpauth_jwks_cache_config config = {.cooldown_seconds = 30};
    mcpauth_error err = {0};
    mcpauth_jwks_cache *cache = mcpauth_jwks_cache_new(async.http, &config, &err);
    ck_assert_ptr_nonnull(cache);
    answer a = get(cache, true, &sync);
    ck_assert(sync);
    ck_assert_uint_eq(a.key_count, 0);
    ck_assert_str_eq(a.error, "no JWKS configured");
    assert_stats(cache, 0, 0);
    mcpauth_jwks_cache_free(cache);
}
END_TEST

/* --- a set read from a file --------------------------------------------- */

START_TEST(from_file)
{
    char dir[64];
    bool sync;
    testlib_tmpdir_make(dir, sizeof dir, "mcpauth-jwks");
    const char *path = testlib_path(dir, "jwks.json");
    testlib_put_file(path, set_two);
    mcpauth_jwks_cache_config config = {.file = path, .cooldown_seconds = 0};
    mcpauth_error err = {0};
    mcpauth_jwks_cache *cache = mcpauth_jwks_cache_new(async.http, &config, &err);
    ck_assert_msg(cache != NULL, "%s", err.message);

    /* Read once at start; never refetched, not even for an unknown kid. */
    for (int i = 0; i < 2; i++) {
        answer a = get(cache, i == 1, &sync);
        ck_assert(sync);
        ck_assert_uint_eq(a.key_count, 2);
    }
    assert_stats(cache, 0, 0);
    mcpauth_jwks_cache_free(cache);

    testlib_put_file(path, "{\"keys\":[]}");
    ck_assert_ptr_null(mcpauth_jwks_cache_new(async.http, &config, &err));
    ck_assert_int_eq(err.status, MCPAUTH_ELOCAL);
    char expected[512];
    snprintf(expected, sizeof expected, "%s: JWK set has no usable signature key", path);
    ck_assert_str_eq(err.message, expected);

    config.file = testlib_path(dir, "missing.json");
    ck_assert_ptr_null(mcpauth_jwks_cache_new(async.http, &config, &err));
    ck_assert_int_eq(err.status, MCPAUTH_ELOCAL);
    testlib_tmpdir_remove(dir);
}
END_TEST

/* --- freeing ------------------------------------------------------------ */

/* Waiting callers hear "shutting down"; the fetch in flight frees itself
 * when it ends (valgrind checks that nothing leaks). */
START_TEST(free_with_fetch_in_flight)
{
    testlib_route r = {
        .method = "GET", .target = "/jwks", .status = 200, .body = set_one, .delay_ms = 300};
    testlib_server_route(server, &r);
    mcpauth_jwks_cache *cache = cache_new(30);
    answer a[2] = {{0}};
    mcpauth_jwks_cache_get(cache, false, on_keys, &a[0]);
    mcpauth_jwks_cache_get(cache, true, on_keys, &a[1]);
    ck_assert(!a[0].done && !a[1].done);

    mcpauth_jwks_cache_free(cache);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(a[i].calls, 1);
        ck_assert_uint_eq(a[i].key_count, 0);
        ck_assert_str_eq(a[i].error, "shutting down");
    }
    /* Let the request finish: nobody is called again. */
    while (mcpauth_http_async_pending(async.http) > 0)
        uv_run(&async.loop, UV_RUN_ONCE);
    ck_assert_int_eq(a[0].calls + a[1].calls, 2);
    mcpauth_jwks_cache_free(NULL);
}
END_TEST

static Suite *jwks_cache_suite(void)
{
    Suite *s = suite_create("jwks_cache");
    TCase *tc = tcase_create("cache");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, first_fetch_then_hits);
    tcase_add_test(tc, single_flight);
    tcase_add_test(tc, unknown_kid_refetch_and_cooldown);
    tcase_add_test(tc, failed_refetch_keeps_keys);
    tcase_add_test(tc, known_keys_answer_during_refetch);
    tcase_add_test(tc, first_fetch_fails);
    tcase_add_loop_test(tc, first_fetch_bad, 0, sizeof bad_fetches / sizeof bad_fetches[0]);
    tcase_add_test(tc, oversized_set);
    tcase_add_test(tc, uri_refused);
    tcase_add_test(tc, nothing_configured);
    tcase_add_test(tc, from_file);
    tcase_add_test(tc, free_with_fetch_in_flight);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run_http(jwks_cache_suite());
}
