/* The JWK Set cache of `serve` on a real loop: the keys come from a file
 * or from an HTTP server on the same loop (src/http/server.c), fetched
 * once for every caller waiting (single flight), reused while fresh, not
 * refetched within the cooldown however many tokens name an unknown kid,
 * and kept when a refetch fails. Each test checks that the loop closes
 * with no handle left. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "mcpauth/http_async.h"
#include "mcpauth/http_server.h"
#include "mcpauth/jwks_cache.h"

static char *jwks_text; /* one ES256 public key */

static void make_keys(void)
{
    mcpauth_error err = {0};
    mcpauth_jws_signer *signer = mcpauth_jws_signer_generate_es256(&err);
    ck_assert_msg(signer != NULL, "%s", err.message);
    json_object *set = json_object_new_object(), *keys = json_object_new_array();
    json_object_array_add(keys, mcpauth_jws_signer_public_jwk(signer));
    json_object_object_add(set, "keys", keys);
    jwks_text = strdup(json_object_to_json_string(set));
    json_object_put(set);
    mcpauth_jws_signer_free(signer);
}

static void free_keys(void)
{
    free(jwks_text);
}

/* ---- a JWKS endpoint on the test's loop ---- */

typedef struct fixture {
    uv_loop_t loop;
    mcpauth_http_server *server;
    mcpauth_http_async *http;
    int status; /* what the endpoint answers */
    int requests;
    char uri[64];
} fixture;

static void on_request(mcpauth_http_exchange *ex, void *data)
{
    fixture *f = data;
    f->requests++;
    static const mcpauth_http_field fields[] = {{"Content-Type", "application/jwk-set+json"}};
    const char *body = f->status == 200 ? jwks_text : "{}";
    mcpauth_http_respond(ex, f->status, fields, 1, body, strlen(body));
}

static void fixture_open(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->status = 200;
    ck_assert_int_eq(uv_loop_init(&f->loop), 0);
    mcpauth_http_server_limits limits;
    mcpauth_http_server_limits_init(&limits);
    ck_assert_int_eq(mcpauth_http_server_new(&f->loop, &limits, on_request, f, &f->server), 0);
    ck_assert_int_eq(mcpauth_http_server_listen(f->server, "127.0.0.1", 0, false), 0);
    snprintf(f->uri, sizeof f->uri, "http://127.0.0.1:%d/jwks",
             mcpauth_http_server_port(f->server));
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    ck_assert_int_eq(mcpauth_http_async_new(&f->loop, &opts, &f->http), 0);
}

static void fixture_close(fixture *f)
{
    mcpauth_http_async_close(f->http, NULL, NULL);
    mcpauth_http_server_close(f->server, NULL, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

/* What one get() handed its callback. */
typedef struct answer {
    int calls;
    size_t key_count;
    char error[256];
} answer;

static void on_keys(const mcpauth_jwks *jwks, const char *error, void *data)
{
    answer *a = data;
    a->calls++;
    a->key_count = jwks ? mcpauth_jwks_count(jwks) : 0;
    snprintf(a->error, sizeof a->error, "%s", error ? error : "");
}

/* Runs the loop until every answer has come. */
static void wait_for(fixture *f, answer *answers, size_t count)
{
    for (int spins = 0; spins < 1000; spins++) {
        size_t done = 0;
        for (size_t i = 0; i < count; i++)
            done += answers[i].calls > 0;
        if (done == count)
            return;
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    ck_abort_msg("no answer from the cache");
}

START_TEST(file_read_at_start)
{
    char dir[] = "/tmp/mcpauth-jwks-cache-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/jwks.json", dir);
    FILE *file = fopen(path, "w");
    ck_assert_ptr_nonnull(file);
    fputs(jwks_text, file);
    fclose(file);

    fixture f;
    fixture_open(&f);
    mcpauth_jwks_cache_config config = {.file = path, .cooldown_seconds = 30};
    mcpauth_error err = {0};
    mcpauth_jwks_cache *cache = mcpauth_jwks_cache_new(f.http, &config, &err);
    ck_assert_msg(cache != NULL, "%s", err.message);
    /* A file is never refetched, stale kid or not: the answer is at once. */
    answer a = {0}, b = {0};
    mcpauth_jwks_cache_get(cache, false, on_keys, &a);
    mcpauth_jwks_cache_get(cache, true, on_keys, &b);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_uint_eq(a.key_count, 1);
    ck_assert_int_eq(b.calls, 1);
    mcpauth_jwks_cache_stats stats;
    mcpauth_jwks_cache_stats_get(cache, &stats);
    ck_assert_uint_eq(stats.fetches, 0);
    mcpauth_jwks_cache_free(cache);
    fixture_close(&f);
    ck_assert_int_eq(f.requests, 0);

    /* A file holding no set: the cache is not made, and the file is named. */
    file = fopen(path, "w");
    fputs("{\"keys\":\"no\"}", file);
    fclose(file);
    fixture_open(&f);
    ck_assert_ptr_null(mcpauth_jwks_cache_new(f.http, &config, &err));
    ck_assert_int_eq(err.status, MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, path));
    fixture_close(&f);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(fetch_once_for_all_waiting)
{
    fixture f;
    fixture_open(&f);
    mcpauth_jwks_cache_config config = {.uri = f.uri, .cooldown_seconds = 30};
    mcpauth_error err = {0};
    mcpauth_jwks_cache *cache = mcpauth_jwks_cache_new(f.http, &config, &err);
    ck_assert_ptr_nonnull(cache);
    answer answers[3] = {0};
    for (size_t i = 0; i < 3; i++)
        mcpauth_jwks_cache_get(cache, false, on_keys, &answers[i]);
    ck_assert_int_eq(answers[0].calls, 0); /* nothing before the fetch */
    wait_for(&f, answers, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(answers[i].calls, 1);
        ck_assert_uint_eq(answers[i].key_count, 1);
    }
    ck_assert_int_eq(f.requests, 1);

    /* Fresh keys are reused; a stale kid within the cooldown fetches nothing. */
    answer again = {0}, stale = {0};
    mcpauth_jwks_cache_get(cache, false, on_keys, &again);
    mcpauth_jwks_cache_get(cache, true, on_keys, &stale);
    ck_assert_int_eq(again.calls, 1);
    ck_assert_int_eq(stale.calls, 1);
    ck_assert_uint_eq(stale.key_count, 1);
    mcpauth_jwks_cache_stats stats;
    mcpauth_jwks_cache_stats_get(cache, &stats);
    ck_assert_uint_eq(stats.fetches, 1);
    ck_assert_uint_eq(stats.fetch_failures, 0);
    mcpauth_jwks_cache_free(cache);
    fixture_close(&f);
}
END_TEST

/* A refetch that fails keeps the keys in hand; with none, the reason is
 * the loader's. */
START_TEST(failed_fetch)
{
    fixture f;
    fixture_open(&f);
    f.status = 500;
    mcpauth_jwks_cache_config config = {.uri = f.uri, .cooldown_seconds = 0};
    mcpauth_error err = {0};
    mcpauth_jwks_cache *cache = mcpauth_jwks_cache_new(f.http, &config, &err);
    answer first = {0};
    mcpauth_jwks_cache_get(cache, false, on_keys, &first);
    wait_for(&f, &first, 1);
    ck_assert_uint_eq(first.key_count, 0);
    ck_assert_msg(strstr(first.error, "fetching the JWKS failed: JWK Set at ") &&
                      strstr(first.error, "HTTP 500"),
                  "%s", first.error);

    f.status = 200;
    answer second = {0};
    mcpauth_jwks_cache_get(cache, false, on_keys, &second);
    wait_for(&f, &second, 1);
    ck_assert_uint_eq(second.key_count, 1);

    f.status = 500;
    answer third = {0};
    mcpauth_jwks_cache_get(cache, true, on_keys, &third); /* cooldown 0: refetch */
    wait_for(&f, &third, 1);
    ck_assert_uint_eq(third.key_count, 1);
    ck_assert_str_eq(third.error, "");
    mcpauth_jwks_cache_stats stats;
    mcpauth_jwks_cache_stats_get(cache, &stats);
    ck_assert_uint_eq(stats.fetches, 3);
    ck_assert_uint_eq(stats.fetch_failures, 2);
    mcpauth_jwks_cache_free(cache);
    fixture_close(&f);
}
END_TEST

START_TEST(free_answers_waiters)
{
    fixture f;
    fixture_open(&f);
    mcpauth_jwks_cache_config config = {.uri = f.uri, .cooldown_seconds = 30};
    mcpauth_error err = {0};
    mcpauth_jwks_cache *cache = mcpauth_jwks_cache_new(f.http, &config, &err);
    answer waiting = {0};
    mcpauth_jwks_cache_get(cache, false, on_keys, &waiting);
    mcpauth_jwks_cache_free(cache);
    ck_assert_int_eq(waiting.calls, 1);
    ck_assert_str_eq(waiting.error, "shutting down");
    fixture_close(&f); /* the fetch in flight ends without its cache */
}
END_TEST

static Suite *jwks_cache_suite(void)
{
    Suite *s = suite_create("jwks_cache");
    TCase *tc = tcase_create("cache");
    tcase_add_unchecked_fixture(tc, make_keys, free_keys);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, file_read_at_start);
    tcase_add_test(tc, fetch_once_for_all_waiting);
    tcase_add_test(tc, failed_fetch);
    tcase_add_test(tc, free_answers_waiters);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (mcpauth_http_global_init(NULL) != MCPAUTH_OK)
        return EXIT_FAILURE;
    SRunner *runner = srunner_create(jwks_cache_suite());
    srunner_run_all(runner, CK_ENV);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    mcpauth_http_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
