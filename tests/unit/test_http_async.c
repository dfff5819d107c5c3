/* The libuv-driven HTTP client against a tiny HTTP server that runs on the
 * same loop: each test owns a loop, a server and a client, runs the loop
 * until everything has been closed, and checks that the loop closes cleanly
 * (no handle left behind). */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "mcpauth/http_async.h"
#include "testlib.h"

#define REQUEST_MAX  8192
#define MAX_OUTCOMES 64

/* --- a canned-response server on the test's loop ------------------------ */

typedef struct test_server test_server;

/* Picks the answer to one complete request: a full HTTP response, or NULL
 * to keep the connection open and never answer. */
typedef const char *(*server_handler)(test_server *server, const char *request);

typedef struct server_conn {
    uv_tcp_t tcp;
    uv_write_t write;
    test_server *server;
    struct server_conn *prev, *next;
    char buf[REQUEST_MAX + 1];
    size_t length;
} server_conn;

struct test_server {
    uv_tcp_t listener;
    int port;
    server_handler handler;
    void (*on_request)(test_server *server); /* after each complete request */
    void *data;
    server_conn *conns;
    int requests;
    char last_request[REQUEST_MAX + 1];
};

static void conn_closed(uv_handle_t *handle)
{
    free(handle->data);
}

static void conn_close(server_conn *c)
{
    test_server *server = c->server;
    if (c->prev)
        c->prev->next = c->next;
    else
        server->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void conn_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    server_conn *c = handle->data;
    *buf = uv_buf_init(c->buf + c->length, (unsigned)(REQUEST_MAX - c->length));
}

static void conn_written(uv_write_t *write, int status)
{
    server_conn *c = write->data;
    /* Cancelled writes belong to connections server_close() already closed. */
    if (status != UV_ECANCELED)
        conn_close(c);
}

/* True once the headers and the Content-Length body have arrived. */
static bool request_complete(const server_conn *c)
{
    const char *end = strstr(c->buf, "\r\n\r\n");
    if (!end)
        return false;
    size_t header_length = (size_t)(end + 4 - c->buf);
    const char *cl = strcasestr(c->buf, "\r\nContent-Length:");
    size_t body_length = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
    return c->length >= header_length + body_length;
}

static void conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    server_conn *c = stream->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->length += (size_t)nread;
    c->buf[c->length] = '\0';
    if (!request_complete(c)) {
        if (c->length == REQUEST_MAX)
            conn_close(c);
        return;
    }
    uv_read_stop(stream);
    test_server *server = c->server;
    server->requests++;
    memcpy(server->last_request, c->buf, c->length + 1);
    const char *response = server->handler(server, c->buf);
    if (response) {
        uv_buf_t out = uv_buf_init((char *)response, (unsigned)strlen(response));
        c->write.data = c;
        ck_assert_int_eq(uv_write(&c->write, stream, &out, 1, conn_written), 0);
    }
    if (server->on_request)
        server->on_request(server);
}

static void server_accept(uv_stream_t *listener, int status)
{
    ck_assert_int_eq(status, 0);
    test_server *server = listener->data;
    server_conn *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    c->server = server;
    c->tcp.data = c;
    ck_assert_int_eq(uv_tcp_init(listener->loop, &c->tcp), 0);
    ck_assert_int_eq(uv_accept(listener, (uv_stream_t *)&c->tcp), 0);
    c->next = server->conns;
    if (server->conns)
        server->conns->prev = c;
    server->conns = c;
    ck_assert_int_eq(uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read), 0);
}

static void server_start(uv_loop_t *loop, test_server *server, server_handler handler)
{
    memset(server, 0, sizeof *server);
    server->handler = handler;
    struct sockaddr_in addr;
    ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
    ck_assert_int_eq(uv_tcp_init(loop, &server->listener), 0);
    server->listener.data = server;
    ck_assert_int_eq(uv_tcp_bind(&server->listener, (const struct sockaddr *)&addr, 0), 0);
    ck_assert_int_eq(uv_listen((uv_stream_t *)&server->listener, 128, server_accept), 0);
    struct sockaddr_in bound;
    int length = sizeof bound;
    ck_assert_int_eq(uv_tcp_getsockname(&server->listener, (struct sockaddr *)&bound, &length), 0);
    server->port = ntohs(bound.sin_port);
}

static void server_close(test_server *server)
{
    uv_close((uv_handle_t *)&server->listener, NULL);
    while (server->conns)
        conn_close(server->conns);
}

/* --- canned answers ----------------------------------------------------- */

#define JSON_OK                                                                                    \
    "HTTP/1.1 200 OK\r\n"                                                                          \
    "Content-Type: application/json\r\n"                                                           \
    "X-Test: yes\r\n"                                                                              \
    "Content-Length: 11\r\n"                                                                       \
    "Connection: close\r\n"                                                                        \
    "\r\n"                                                                                         \
    "{\"ok\":true}"

#define UNAUTHORIZED                                                                               \
    "HTTP/1.1 401 Unauthorized\r\n"                                                                \
    "Content-Length: 0\r\n"                                                                        \
    "Connection: close\r\n"                                                                        \
    "\r\n"

static const char *answer_json(test_server *server, const char *request)
{
    return JSON_OK;
}

static const char *answer_never(test_server *server, const char *request)
{
    return NULL;
}

/* Only /fast gets an answer; everything else hangs. */
static const char *answer_fast_only(test_server *server, const char *request)
{
    return strncmp(request, "GET /fast ", 10) == 0 ? JSON_OK : NULL;
}

/* RFC 6749 §2.3.1: the id and secret are form-encoded before base64, so
 * "my client" / "p@ss" becomes base64("my+client:p%40ss"). */
static const char *answer_token_endpoint(test_server *server, const char *request)
{
    bool ok = strncmp(request, "POST /token HTTP/1.1\r\n", 22) == 0 &&
              strstr(request, "\r\nAuthorization: Basic bXkrY2xpZW50OnAlNDBzcw==\r\n") &&
              strstr(request, "\r\nContent-Type: application/x-www-form-urlencoded\r\n") &&
              strstr(request, "\r\n\r\ngrant_type=client_credentials");
    return ok ? JSON_OK : UNAUTHORIZED;
}

/* A body bigger than the client's cap, delimited by the connection closing
 * so that the size is only discovered while reading. */
static const char *answer_oversized(test_server *server, const char *request)
{
    static char response[8192];
    if (!response[0]) {
        int n = snprintf(response, sizeof response,
                         "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         "Connection: close\r\n\r\n");
        memset(response + n, 'x', 4000);
    }
    return response;
}

static const char *answer_declared_oversized(test_server *server, const char *request)
{
    return "HTTP/1.1 200 OK\r\nContent-Length: 4000\r\nConnection: close\r\n\r\nxxxx";
}

/* --- the client side ---------------------------------------------------- */

typedef struct test_context test_context;

typedef struct outcome {
    test_context *ctx;
    int calls;
    mcpauth_status status;
    long http_status;
    bool is_json;
    char body[256];
    char url[256];
    char x_test[32];
    char message[MCPAUTH_ERROR_MESSAGE_MAX];
} outcome;

struct test_context {
    uv_loop_t loop;
    test_server server;
    mcpauth_http_options opts;
    mcpauth_http_async *client;
    char base_url[64];
    bool in_start; /* a callback seeing this true ran inside start() */
    int expected;  /* completions after which the test tears down */
    int completed;
    int closed_calls;
    int completed_at_close; /* callbacks seen before closed_cb ran */
    outcome outcomes[MAX_OUTCOMES];
    void (*after_callback)(test_context *ctx, outcome *o);
};

static void on_closed(void *data)
{
    test_context *ctx = data;
    ctx->closed_calls++;
    ctx->completed_at_close = ctx->completed;
}

static void teardown(test_context *ctx)
{
    mcpauth_http_async_close(ctx->client, on_closed, ctx);
    server_close(&ctx->server);
}

static void record(mcpauth_status status, const mcpauth_http_response *resp,
                   const mcpauth_error *err, void *data)
{
    outcome *o = data;
    test_context *ctx = o->ctx;
    ck_assert_msg(!ctx->in_start, "callback ran inside mcpauth_http_async_start()");
    o->calls++;
    o->status = status;
    if (status == MCPAUTH_OK) {
        ck_assert_ptr_nonnull(resp);
        ck_assert_ptr_null(err);
        o->http_status = resp->status;
        o->is_json = mcpauth_http_response_is_json(resp);
        snprintf(o->body, sizeof o->body, "%s", resp->body);
        snprintf(o->url, sizeof o->url, "%s", resp->url);
        const char *x_test = mcpauth_http_response_header(resp, "x-test", 0);
        snprintf(o->x_test, sizeof o->x_test, "%s", x_test ? x_test : "");
    } else {
        ck_assert_ptr_null(resp);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(err->status, status);
        snprintf(o->message, sizeof o->message, "%s", err->message);
    }
    ctx->completed++;
    if (ctx->after_callback)
        ctx->after_callback(ctx, o);
    else if (ctx->completed == ctx->expected)
        teardown(ctx);
}

static void context_init(test_context *ctx, server_handler handler)
{
    memset(ctx, 0, sizeof *ctx);
    ck_assert_int_eq(uv_loop_init(&ctx->loop), 0);
    server_start(&ctx->loop, &ctx->server, handler);
    ctx->server.data = ctx;
    snprintf(ctx->base_url, sizeof ctx->base_url, "http://127.0.0.1:%d", ctx->server.port);
    mcpauth_http_options_init(&ctx->opts);
    ctx->opts.timeout_seconds = 5;
    for (int i = 0; i < MAX_OUTCOMES; i++)
        ctx->outcomes[i].ctx = ctx;
}

static void client_create(test_context *ctx)
{
    ck_assert_int_eq(mcpauth_http_async_new(&ctx->loop, &ctx->opts, &ctx->client), 0);
    ck_assert_ptr_nonnull(ctx->client);
}

static mcpauth_status start(test_context *ctx, const mcpauth_http_request *req, outcome *o,
                            mcpauth_error *err)
{
    ctx->in_start = true;
    mcpauth_status st = mcpauth_http_async_start(ctx->client, req, record, o, err);
    ctx->in_start = false;
    return st;
}

static void start_get(test_context *ctx, const char *path, outcome *o)
{
    char url[128];
    snprintf(url, sizeof url, "%s%s", ctx->base_url, path);
    mcpauth_http_request req = {.method = "GET", .url = url};
    mcpauth_error err = {0};
    ck_assert_msg(start(ctx, &req, o, &err) == MCPAUTH_OK, "start: %s", err.message);
}

/* Runs the loop to the end and checks that nothing was left behind. */
static void run_to_end(test_context *ctx)
{
    ck_assert_int_eq(uv_run(&ctx->loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(ctx->closed_calls, 1);
    ck_assert_int_eq(uv_loop_close(&ctx->loop), 0);
}

/* --- tests -------------------------------------------------------------- */

START_TEST(get_json)
{
    test_context ctx;
    context_init(&ctx, answer_json);
    client_create(&ctx);
    ctx.expected = 1;
    char url[128];
    snprintf(url, sizeof url, "%s/meta?x=1", ctx.base_url);
    mcpauth_http_request req = {.method = "GET", .url = url, .bearer_token = "tok-123"};
    mcpauth_error err = {0};
    ck_assert_int_eq(start(&ctx, &req, &ctx.outcomes[0], &err), MCPAUTH_OK);
    ck_assert_uint_eq(mcpauth_http_async_pending(ctx.client), 1);
    ck_assert_int_eq(ctx.outcomes[0].calls, 0);
    run_to_end(&ctx);

    outcome *o = &ctx.outcomes[0];
    ck_assert_int_eq(o->calls, 1);
    ck_assert_int_eq(o->status, MCPAUTH_OK);
    ck_assert_int_eq(o->http_status, 200);
    ck_assert_str_eq(o->body, "{\"ok\":true}");
    ck_assert_str_eq(o->url, url);
    ck_assert_str_eq(o->x_test, "yes");
    ck_assert(o->is_json);
    const char *seen = ctx.server.last_request;
    ck_assert(strncmp(seen, "GET /meta?x=1 HTTP/1.1\r\n", 24) == 0);
    ck_assert_ptr_nonnull(strstr(seen, "\r\nAccept: application/json\r\n"));
    ck_assert_ptr_nonnull(strstr(seen, "\r\nAuthorization: Bearer tok-123\r\n"));
    ck_assert_ptr_nonnull(strstr(seen, "\r\nUser-Agent: mcpauth/"));
}
END_TEST

START_TEST(post_with_basic_auth)
{
    test_context ctx;
    context_init(&ctx, answer_token_endpoint);
    client_create(&ctx);
    ctx.expected = 1;
    char url[128];
    snprintf(url, sizeof url, "%s/token", ctx.base_url);
    /* The body and credentials live in buffers that are gone before the
     * request is sent: start() must have copied what it needs. */
    char *body = strdup("grant_type=client_credentials");
    char *user = strdup("my client"), *password = strdup("p@ss");
    mcpauth_http_request req = {
        .method = "POST",
        .url = url,
        .content_type = "application/x-www-form-urlencoded",
        .body = body,
        .body_length = strlen(body),
        .basic_user = user,
        .basic_password = password,
    };
    mcpauth_error err = {0};
    ck_assert_int_eq(start(&ctx, &req, &ctx.outcomes[0], &err), MCPAUTH_OK);
    memset(body, '!', strlen(body));
    memset(url, '!', strlen(url));
    free(body);
    free(user);
    free(password);
    run_to_end(&ctx);

    ck_assert_int_eq(ctx.outcomes[0].calls, 1);
    ck_assert_int_eq(ctx.outcomes[0].status, MCPAUTH_OK);
    ck_assert_msg(ctx.outcomes[0].http_status == 200, "server saw:\n%s", ctx.server.last_request);
}
END_TEST

START_TEST(fifty_concurrent_requests)
{
    test_context ctx;
    context_init(&ctx, answer_json);
    client_create(&ctx);
    ctx.expected = 50;
    for (int i = 0; i < 50; i++) {
        char path[32];
        snprintf(path, sizeof path, "/r%d", i);
        start_get(&ctx, path, &ctx.outcomes[i]);
    }
    ck_assert_uint_eq(mcpauth_http_async_pending(ctx.client), 50);
    run_to_end(&ctx);

    ck_assert_int_eq(ctx.completed, 50);
    ck_assert_int_eq(ctx.server.requests, 50);
    for (int i = 0; i < 50; i++) {
        char url[128];
        snprintf(url, sizeof url, "%s/r%d", ctx.base_url, i);
        ck_assert_int_eq(ctx.outcomes[i].calls, 1);
        ck_assert_int_eq(ctx.outcomes[i].http_status, 200);
        ck_assert_str_eq(ctx.outcomes[i].url, url);
    }
}
END_TEST

START_TEST(timeout_is_network_error)
{
    test_context ctx;
    context_init(&ctx, answer_never);
    ctx.opts.timeout_seconds = 1;
    client_create(&ctx);
    ctx.expected = 1;
    start_get(&ctx, "/slow", &ctx.outcomes[0]);
    run_to_end(&ctx);

    ck_assert_int_eq(ctx.outcomes[0].calls, 1);
    ck_assert_int_eq(ctx.outcomes[0].status, MCPAUTH_ENETWORK);
    ck_assert_ptr_nonnull(strstr(ctx.outcomes[0].message, "timed out"));
    ck_assert_int_eq(ctx.server.requests, 1);
}
END_TEST

START_TEST(connection_refused_is_network_error)
{
    test_context ctx;
    context_init(&ctx, answer_json);
    client_create(&ctx);
    ctx.expected = 1;
    /* Nothing listens on port 1, so the failure is immediate: it must still
     * be reported from the loop, not from inside start(). */
    mcpauth_http_request req = {.method = "GET", .url = "http://127.0.0.1:1/"};
    mcpauth_error err = {0};
    ck_assert_int_eq(start(&ctx, &req, &ctx.outcomes[0], &err), MCPAUTH_OK);
    ck_assert_int_eq(ctx.outcomes[0].calls, 0);
    run_to_end(&ctx);

    ck_assert_int_eq(ctx.outcomes[0].calls, 1);
    ck_assert_int_eq(ctx.outcomes[0].status, MCPAUTH_ENETWORK);
    ck_assert_ptr_nonnull(strstr(ctx.outcomes[0].message, "cannot reach http://127.0.0.1:1/"));
}
END_TEST

START_TEST(oversized_body_is_remote_error)
{
    test_context ctx;
    context_init(&ctx, answer_oversized);
    ctx.opts.max_response_bytes = 1000;
    client_create(&ctx);
    ctx.expected = 1;
    start_get(&ctx, "/big", &ctx.outcomes[0]);
    run_to_end(&ctx);

    ck_assert_int_eq(ctx.outcomes[0].calls, 1);
    ck_assert_int_eq(ctx.outcomes[0].status, MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(ctx.outcomes[0].message, "larger than the 1000-byte limit"));
}
END_TEST

/* A Content-Length over the cap is refused before any of the body is read. */
START_TEST(declared_oversized_body_is_remote_error)
{
    test_context ctx;
    context_init(&ctx, answer_declared_oversized);
    ctx.opts.max_response_bytes = 1000;
    client_create(&ctx);
    ctx.expected = 1;
    start_get(&ctx, "/big", &ctx.outcomes[0]);
    run_to_end(&ctx);

    ck_assert_int_eq(ctx.outcomes[0].calls, 1);
    ck_assert_int_eq(ctx.outcomes[0].status, MCPAUTH_EREMOTE);
}
END_TEST

START_TEST(policy_refusal_fails_in_start)
{
    test_context ctx;
    context_init(&ctx, answer_json);
    client_create(&ctx);
    mcpauth_http_request req = {.method = "GET", .url = "http://example.com/"};
    mcpauth_error err = {0};
    ck_assert_int_eq(start(&ctx, &req, &ctx.outcomes[0], &err), MCPAUTH_EUSAGE);
    ck_assert_int_eq(err.status, MCPAUTH_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "refusing plain http://"));
    ck_assert_uint_eq(mcpauth_http_async_pending(ctx.client), 0);
    teardown(&ctx);
    run_to_end(&ctx);
    ck_assert_int_eq(ctx.outcomes[0].calls, 0);
}
END_TEST

/* Closes once the server holds all three requests unanswered. */
static void close_when_all_arrived(test_server *server)
{
    test_context *ctx = server->data;
    if (server->requests == 3) {
        ck_assert_uint_eq(mcpauth_http_async_pending(ctx->client), 3);
        teardown(ctx);
    }
}

START_TEST(close_cancels_requests_in_flight)
{
    test_context ctx;
    context_init(&ctx, answer_never);
    ctx.server.on_request = close_when_all_arrived;
    client_create(&ctx);
    ctx.expected = -1; /* teardown comes from the server hook */
    for (int i = 0; i < 3; i++)
        start_get(&ctx, "/hang", &ctx.outcomes[i]);
    run_to_end(&ctx);

    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ctx.outcomes[i].calls, 1);
        ck_assert_int_eq(ctx.outcomes[i].status, MCPAUTH_ENETWORK);
        ck_assert_str_eq(ctx.outcomes[i].message, "request cancelled");
    }
    ck_assert_int_eq(ctx.completed_at_close, 3);
}
END_TEST

/* Cancels the first of two requests the server holds, then closes. */
static void cancel_first_when_both_arrived(test_server *server)
{
    test_context *ctx = server->data;
    if (server->requests != 2)
        return;
    mcpauth_http_async_cancel(ctx->client, &ctx->outcomes[0]);
    ck_assert_int_eq(ctx->outcomes[0].calls, 1);
    ck_assert_int_eq(ctx->outcomes[1].calls, 0);
    ck_assert_uint_eq(mcpauth_http_async_pending(ctx->client), 1);
    /* A request that is not (or no longer) in flight: nothing happens. */
    mcpauth_http_async_cancel(ctx->client, &ctx->outcomes[0]);
    mcpauth_http_async_cancel(ctx->client, &ctx->outcomes[2]);
    ck_assert_int_eq(ctx->outcomes[0].calls, 1);
    teardown(ctx);
}

START_TEST(cancel_one_request)
{
    test_context ctx;
    context_init(&ctx, answer_never);
    ctx.server.on_request = cancel_first_when_both_arrived;
    client_create(&ctx);
    ctx.expected = -1;
    start_get(&ctx, "/hang", &ctx.outcomes[0]);
    start_get(&ctx, "/hang", &ctx.outcomes[1]);
    run_to_end(&ctx);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(ctx.outcomes[i].calls, 1);
        ck_assert_int_eq(ctx.outcomes[i].status, MCPAUTH_ENETWORK);
        ck_assert_str_eq(ctx.outcomes[i].message, "request cancelled");
    }
    ck_assert_int_eq(ctx.outcomes[2].calls, 0);
}
END_TEST

START_TEST(close_before_loop_runs)
{
    test_context ctx;
    context_init(&ctx, answer_json);
    client_create(&ctx);
    ctx.expected = -1;
    start_get(&ctx, "/a", &ctx.outcomes[0]);
    start_get(&ctx, "/b", &ctx.outcomes[1]);
    teardown(&ctx);
    run_to_end(&ctx);

    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(ctx.outcomes[i].calls, 1);
        ck_assert_int_eq(ctx.outcomes[i].status, MCPAUTH_ENETWORK);
    }
}
END_TEST

START_TEST(close_without_requests)
{
    uv_loop_t loop;
    mcpauth_http_options opts;
    mcpauth_http_async *client;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    mcpauth_http_options_init(&opts);
    ck_assert_int_eq(mcpauth_http_async_new(&loop, &opts, &client), 0);
    ck_assert_uint_eq(mcpauth_http_async_pending(client), 0);
    mcpauth_http_async_close(client, NULL, NULL);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* The first completion starts a second request; the second ends the test. */
static void chain_second_request(test_context *ctx, outcome *o)
{
    if (o == &ctx->outcomes[0])
        start_get(ctx, "/second", &ctx->outcomes[1]);
    else
        teardown(ctx);
}

START_TEST(start_from_callback)
{
    test_context ctx;
    context_init(&ctx, answer_json);
    ctx.after_callback = chain_second_request;
    client_create(&ctx);
    start_get(&ctx, "/first", &ctx.outcomes[0]);
    run_to_end(&ctx);

    ck_assert_int_eq(ctx.server.requests, 2);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(ctx.outcomes[i].calls, 1);
        ck_assert_int_eq(ctx.outcomes[i].http_status, 200);
    }
    ck_assert_ptr_nonnull(strstr(ctx.outcomes[1].url, "/second"));
}
END_TEST

/* Once close() has begun, start() is refused without calling back. */
static void expect_start_refused(test_context *ctx)
{
    mcpauth_http_request req = {.method = "GET", .url = ctx->base_url};
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_http_async_start(ctx->client, &req, record, &ctx->outcomes[9], &err),
                     MCPAUTH_EUSAGE);
    ck_assert_int_eq(err.status, MCPAUTH_EUSAGE);
}

/* Closes from inside the first completion. The cancelled requests call back
 * from inside that close() and try to start more. */
static void close_on_first(test_context *ctx, outcome *o)
{
    if (o != &ctx->outcomes[0]) {
        ck_assert_int_eq(o->status, MCPAUTH_ENETWORK);
        expect_start_refused(ctx);
        return;
    }
    teardown(ctx);
    ck_assert_uint_eq(mcpauth_http_async_pending(ctx->client), 0);
    expect_start_refused(ctx);
    /* A second close is harmless. */
    mcpauth_http_async_close(ctx->client, on_closed, ctx);
}

START_TEST(close_from_callback)
{
    test_context ctx;
    context_init(&ctx, answer_fast_only);
    ctx.after_callback = close_on_first;
    client_create(&ctx);
    start_get(&ctx, "/fast", &ctx.outcomes[0]);
    start_get(&ctx, "/hang", &ctx.outcomes[1]);
    start_get(&ctx, "/hang", &ctx.outcomes[2]);
    run_to_end(&ctx);

    ck_assert_int_eq(ctx.outcomes[0].calls, 1);
    ck_assert_int_eq(ctx.outcomes[0].http_status, 200);
    for (int i = 1; i < 3; i++) {
        ck_assert_int_eq(ctx.outcomes[i].calls, 1);
        ck_assert_int_eq(ctx.outcomes[i].status, MCPAUTH_ENETWORK);
    }
    ck_assert_int_eq(ctx.outcomes[9].calls, 0);
}
END_TEST

/* Streaming: every body byte reaches the data callback with the status
 * and headers, past the client's size cap; the extra header lines are
 * sent, copied by start. */
typedef struct stream_outcome {
    size_t bytes, chunks;
    long status;
    bool stop_early; /* return false from the first chunk */
} stream_outcome;

static bool count_chunk(long status, const mcpauth_http_header *headers, size_t header_count,
                        const char *bytes, size_t length, void *data)
{
    outcome *o = data;
    stream_outcome *so = (stream_outcome *)o->ctx->server.data;
    so->status = status;
    so->chunks++;
    so->bytes += length;
    bool typed = false;
    for (size_t i = 0; i < header_count; i++)
        typed |= strcmp(headers[i].name, "Content-Type") == 0 &&
                 strcmp(headers[i].value, "text/plain") == 0;
    ck_assert(typed);
    ck_assert_int_eq(bytes[0], 'x');
    return !so->stop_early;
}

static void stream_case(bool stop_early, stream_outcome *so, outcome *result, char *request)
{
    test_context ctx;
    context_init(&ctx, answer_oversized);
    memset(so, 0, sizeof *so);
    so->stop_early = stop_early;
    ctx.opts.max_response_bytes = 100;
    client_create(&ctx);
    ctx.server.data = so;
    ctx.expected = 1;
    char url[128], extra[64];
    snprintf(url, sizeof url, "%s/stream", ctx.base_url);
    snprintf(extra, sizeof extra, "X-Extra: one");
    const char *headers[] = {extra};
    mcpauth_http_request req = {.method = "GET",
                                .url = url,
                                .accept = "text/event-stream",
                                .headers = headers,
                                .header_count = 1};
    mcpauth_error err = {0};
    ctx.in_start = true;
    ck_assert_int_eq(
        mcpauth_http_async_stream(ctx.client, &req, 5, count_chunk, record, &ctx.outcomes[0], &err),
        MCPAUTH_OK);
    ctx.in_start = false;
    memset(extra, '!', sizeof extra - 1);
    run_to_end(&ctx);
    *result = ctx.outcomes[0];
    snprintf(request, REQUEST_MAX, "%s", ctx.server.last_request);
}

START_TEST(stream_delivers_every_chunk)
{
    stream_outcome so;
    outcome o;
    static char request[REQUEST_MAX + 1];
    stream_case(false, &so, &o, request);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, MCPAUTH_OK);
    ck_assert_int_eq(o.http_status, 200);
    ck_assert_str_eq(o.body, "");
    ck_assert_int_eq(so.status, 200);
    ck_assert_uint_eq(so.bytes, 4000);
    ck_assert_ptr_nonnull(strstr(request, "\r\nX-Extra: one\r\n"));
    ck_assert_ptr_nonnull(strstr(request, "\r\nAccept: text/event-stream\r\n"));
}
END_TEST

START_TEST(stream_stopped_by_data_callback)
{
    stream_outcome so;
    outcome o;
    static char request[REQUEST_MAX + 1];
    stream_case(true, &so, &o, request);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_ne(o.status, MCPAUTH_OK);
    ck_assert_uint_eq(so.chunks, 1);
}
END_TEST

static Suite *http_async_suite(void)
{
    Suite *s = suite_create("http_async");
    TCase *tc = tcase_create("requests");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, get_json);
    tcase_add_test(tc, post_with_basic_auth);
    tcase_add_test(tc, fifty_concurrent_requests);
    suite_add_tcase(s, tc);

    tc = tcase_create("failures");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, timeout_is_network_error);
    tcase_add_test(tc, connection_refused_is_network_error);
    tcase_add_test(tc, oversized_body_is_remote_error);
    tcase_add_test(tc, declared_oversized_body_is_remote_error);
    tcase_add_test(tc, policy_refusal_fails_in_start);
    suite_add_tcase(s, tc);

    tc = tcase_create("lifecycle");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, close_cancels_requests_in_flight);
    tcase_add_test(tc, cancel_one_request);
    tcase_add_test(tc, close_before_loop_runs);
    tcase_add_test(tc, close_without_requests);
    tcase_add_test(tc, start_from_callback);
    tcase_add_test(tc, close_from_callback);
    tcase_add_test(tc, stream_delivers_every_chunk);
    tcase_add_test(tc, stream_stopped_by_data_callback);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* A client that hangs up mid-response must not kill the test server. */
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return EXIT_FAILURE;
    int status = testlib_run(http_async_suite());
    curl_global_cleanup();
    return status;
}
