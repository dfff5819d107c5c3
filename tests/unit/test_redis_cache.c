/* The shared cache without Redis: what --shared-cache accepts, and that a
 * Redis that is not there is reported (once) and answered DOWN at once, so
 * that validation goes on locally. With a real Redis it is tested in
 * tests/interop/serve-shared-cache.test.mjs. */
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mcpauth/redis_cache.h"
#include "testlib.h"

START_TEST(urls)
{
    static const char *const good[] = {
        "redis://127.0.0.1",        "redis://127.0.0.1:6380", "redis://localhost:6379/2",
        "redis://[::1]:6379/0",     "unix:/run/redis.sock",   "unix:/run/redis.sock?db=3",
        "redis://cache.internal/9",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        mcpauth_error err = {0};
        ck_assert_msg(mcpauth_redis_cache_check_url(good[i], &err) == MCPAUTH_OK, "%s: %s", good[i],
                      err.message);
    }
    static const struct {
        const char *url, *says;
    } bad[] = {
        {"http://127.0.0.1:6379", "redis://HOST"},
        {"redis://:secret@127.0.0.1", "no password in the URL"},
        {"redis://user:secret@127.0.0.1/0", "no password in the URL"},
        {"redis://", "no host"},
        {"redis://127.0.0.1:0", ""},
        {"redis://127.0.0.1:99999", ""},
        {"redis://127.0.0.1/x", "database"},
        {"redis://127.0.0.1/10000", "database"},
        {"redis://127.0.0.1/-1", "database"},
        {"unix:", "absolute"},
        {"unix:relative.sock", "absolute"},
        {"unix:/run/redis.sock?password=x", "only ?db=N"},
        {"unix:/run/redis.sock?db=", "database"},
        {"", "redis://HOST"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mcpauth_error err = {0};
        ck_assert_msg(mcpauth_redis_cache_check_url(bad[i].url, &err) == MCPAUTH_EUSAGE,
                      "accepted %s", bad[i].url);
        ck_assert_msg(strstr(err.message, bad[i].says), "%s: %s", bad[i].url, err.message);
    }
    char long_url[1100] = "redis://";
    memset(long_url + 8, 'a', sizeof long_url - 9);
    long_url[sizeof long_url - 1] = '\0';
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_redis_cache_check_url(long_url, &err), MCPAUTH_EUSAGE);
    ck_assert_int_eq(mcpauth_redis_cache_check_url(NULL, &err), MCPAUTH_EUSAGE);
}
END_TEST

/* A loopback port nothing listens on (bound, then closed). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    socklen_t length = sizeof addr;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&addr, &length), 0);
    close(fd);
    return ntohs(addr.sin_port);
}

typedef struct seen {
    int warnings, infos;
    char last[512];
    int answers;
    mcpauth_redis_status status;
} seen;

static void on_log(const char *level, const char *message, void *data)
{
    seen *s = data;
    if (strcmp(level, "warning") == 0)
        s->warnings++;
    else
        s->infos++;
    snprintf(s->last, sizeof s->last, "%s", message);
}

static void on_answer(mcpauth_redis_status status, const mcpauth_token_cache_entry *entry,
                      void *data)
{
    seen *s = data;
    ck_assert_ptr_null(entry);
    s->answers++;
    s->status = status;
}

static void close_open_handle(uv_handle_t *handle, void *arg)
{
    (void)arg;
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

static void on_timeout(uv_timer_t *timer)
{
    uv_stop(timer->loop);
}

START_TEST(redis_not_there)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", closed_port());
    seen s = {0};
    mcpauth_redis_cache_config config;
    mcpauth_redis_cache_config_init(&config);
    config.url = url;
    config.resource = "http://127.0.0.1:1/mcp";
    config.log = on_log;
    config.log_data = &s;
    mcpauth_error err = {0};
    mcpauth_redis_cache *cache = mcpauth_redis_cache_new(&loop, &config, &err);
    ck_assert_msg(cache != NULL, "%s", err.message);

    /* Long enough for several reconnects (100, 200, 400 ms backoff). */
    uv_timer_t timer;
    uv_timer_init(&loop, &timer);
    uv_timer_start(&timer, on_timeout, 900, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(s.warnings, 1); /* once, not at every attempt */
    ck_assert_msg(strstr(s.last, url) && strstr(s.last, "validating locally"), "%s", s.last);
    mcpauth_redis_cache_stats stats;
    mcpauth_redis_cache_stats_get(cache, &stats);
    ck_assert(!stats.up);
    ck_assert_uint_ge(stats.errors, 3);

    mcpauth_token_key key;
    mcpauth_token_key_of("t", 1, &key);
    mcpauth_redis_cache_find(cache, &key, on_answer, &s);
    ck_assert_int_eq(s.answers, 1);
    ck_assert_int_eq(s.status, MCPAUTH_REDIS_DOWN);
    mcpauth_token_cache_entry entry = {.valid = false, .reason = "x"};
    mcpauth_redis_cache_store(cache, &key, &entry, 0, true); /* dropped quietly */

    mcpauth_redis_cache_free(cache);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* A stand-in for Redis that takes each connection and closes it 50 ms
 * later: enough for the cache to see its connection come and go. */
typedef struct {
    uv_tcp_t server;
    uv_tcp_t clients[8];
    uv_timer_t closers[8];
    int accepted;
    char states[16]; /* 'U' and 'D' as on_state told them */
    size_t told;
    mcpauth_redis_cache *cache;
    bool stats_agree; /* stats.up matched each telling */
} flaky_redis;

static void on_closer(uv_timer_t *timer)
{
    uv_close((uv_handle_t *)timer->data, NULL);
    uv_close((uv_handle_t *)timer, NULL);
}

static void on_flaky_connection(uv_stream_t *server, int status)
{
    flaky_redis *f = server->data;
    if (status != 0 || f->accepted == 8)
        return;
    int i = f->accepted++;
    uv_tcp_init(server->loop, &f->clients[i]);
    if (uv_accept(server, (uv_stream_t *)&f->clients[i]) != 0) {
        uv_close((uv_handle_t *)&f->clients[i], NULL);
        return;
    }
    uv_timer_init(server->loop, &f->closers[i]);
    f->closers[i].data = &f->clients[i];
    uv_timer_start(&f->closers[i], on_closer, 50, 0);
}

static void on_state(bool up, void *data)
{
    flaky_redis *f = data;
    if (f->told < sizeof f->states - 1)
        f->states[f->told++] = up ? 'U' : 'D';
    mcpauth_redis_cache_stats stats;
    mcpauth_redis_cache_stats_get(f->cache, &stats);
    f->stats_agree = f->stats_agree && stats.up == up;
    if (f->told == 4) /* up, down, up, down: seen enough */
        uv_stop(f->server.loop);
}

START_TEST(state_changes_are_told)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    flaky_redis f = {.stats_agree = true};
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(&loop, &f.server);
    f.server.data = &f;
    ck_assert_int_eq(uv_tcp_bind(&f.server, (const struct sockaddr *)&addr, 0), 0);
    ck_assert_int_eq(uv_listen((uv_stream_t *)&f.server, 8, on_flaky_connection), 0);
    struct sockaddr_storage bound;
    int length = sizeof bound;
    uv_tcp_getsockname(&f.server, (struct sockaddr *)&bound, &length);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d",
             ntohs(((struct sockaddr_in *)&bound)->sin_port));

    mcpauth_redis_cache_config config;
    mcpauth_redis_cache_config_init(&config);
    config.url = url;
    config.resource = "http://127.0.0.1:1/mcp";
    config.on_state = on_state;
    config.state_data = &f;
    mcpauth_error err = {0};
    f.cache = mcpauth_redis_cache_new(&loop, &config, &err);
    ck_assert_msg(f.cache != NULL, "%s", err.message);

    /* Up, down after 50 ms, back after the 100 ms backoff, down again; the
     * timer only bounds a run that would otherwise wait for ever. */
    uv_timer_t timer;
    uv_timer_init(&loop, &timer);
    uv_timer_start(&timer, on_timeout, 10000, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_msg(f.told >= 4 && strncmp(f.states, "UDUD", 4) == 0, "told %s", f.states);
    ck_assert(f.stats_agree);

    /* Freeing it is no change to tell. */
    size_t told = f.told;
    mcpauth_redis_cache_free(f.cache);
    ck_assert_uint_eq(f.told, told);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_close((uv_handle_t *)&f.server, NULL);
    uv_walk(&loop, close_open_handle, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(unresolvable_host)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    mcpauth_redis_cache_config config;
    mcpauth_redis_cache_config_init(&config);
    config.url = "redis://no-such-host.invalid:6379";
    mcpauth_error err = {0};
    ck_assert_ptr_null(mcpauth_redis_cache_new(&loop, &config, &err));
    ck_assert_msg(strstr(err.message, "cannot resolve no-such-host.invalid"), "%s", err.message);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static Suite *redis_cache_suite(void)
{
    Suite *s = suite_create("redis_cache");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, urls);
    tcase_add_test(tc, redis_not_there);
    tcase_add_test(tc, state_changes_are_told);
    tcase_add_test(tc, unresolvable_host);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(redis_cache_suite());
}
