/* The libuv HTTP/1.1 server (src/http/server.c) against raw-byte clients on
 * the same loop.
 *
 * Every test owns a loop, a server listening on 127.0.0.1 port 0 and up to
 * four uv_tcp_t clients that write exact bytes and collect exact bytes. The
 * application side is a request callback that records what it saw and then
 * answers at once, holds the exchange for later (answered from the test or
 * from a timer), or starts a stream. Waits run the loop until a condition
 * holds or a 5 s safety timer fires (then the test fails). Every test ends
 * in finish(): close the server (its closed_cb must run), close the clients
 * and timers, run the loop dry and check that uv_loop_close() succeeds, so a
 * leaked handle fails the test. */
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "mcpauth/http_server.h"
#include "src/http/http_internal.h"
#include "testlib.h"

#define MAX_CLIENTS   4
#define MAX_HELD      32
#define MAX_RECORDS   32
#define MAX_RESPONSES 8
#define WAIT_MS       5000

/* ---- the harness ---------------------------------------------------------- */

typedef struct client {
    uv_tcp_t tcp;
    uv_connect_t connect;
    bool used;
    bool connect_done;
    int connect_status;
    bool eof; /* EOF or a read error: the server is done with us */
    ssize_t read_status;
    bool closing;
    bool closed;
    char *data; /* everything received, NUL-terminated */
    size_t length;
    size_t capacity;
    int write_errors;
    bool one_read_at_a_time; /* stops reading after each read (a slow reader) */
} client;

/* What the request callback saw, copied before the exchange is answered. */
typedef struct record {
    char method[16];
    char path[256];
    char query[256];
    bool has_query;
    char target[256];
    char body[512];
    size_t body_length;
    char peer[64];
    uint64_t start_ns;
} record;

typedef void (*app_handler)(mcpauth_http_exchange *ex);

typedef struct harness {
    uv_loop_t loop;
    bool loop_ready;
    bool finished;
    mcpauth_http_server *server;
    bool close_called;
    bool server_closed;
    int closed_cb_runs;
    int port;

    uv_timer_t safety;
    bool timed_out;
    uv_timer_t sleeper;
    bool slept;
    uv_timer_t answerer; /* answers held exchanges, one per tick */
    bool answer_lifo;
    uv_timer_t ticker; /* test-specific periodic work */
    void (*on_tick)(void);

    client clients[MAX_CLIENTS];

    app_handler handler;
    int requests;
    record records[MAX_RECORDS];
    mcpauth_http_exchange *held[MAX_HELD];
    size_t held_count;
    size_t max_held;
    char answered[MAX_RECORDS][256]; /* the paths, in the order answered */
    int answered_count;
    int aborts;
    bool abort_saw_aborted;
    bool respond_in_abort;

    /* accessor captures */
    char cap_host[64];
    char cap_multi[4][32];
    size_t cap_multi_count;
    size_t cap_missing_count;
    bool cap_missing_null;
    char cap_empty_header[16];

    /* stream test */
    int stream_writes;
    int stream_write_rc;

    /* large responses */
    char *big;
    size_t big_length;

    /* mcpauth_http_server_on_limit() */
    int limits_hit[MCPAUTH_HTTP_LIMIT_COUNT];
} harness;

static harness H;

typedef struct response {
    int status;
    char head[4096]; /* status line and fields, through the blank line */
    char body[16384];
    size_t body_length;
    char raw[16384]; /* the body as framed on the wire */
    size_t raw_length;
} response;

static response R[MAX_RESPONSES];

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "<NULL>");
}

/* ---- loop helpers ------------------------------------------------------- */

static void on_safety(uv_timer_t *timer)
{
    (void)timer;
    H.timed_out = true;
}

static void wait_begin(void)
{
    H.timed_out = false;
    uv_timer_start(&H.safety, on_safety, WAIT_MS, 0);
}

static void wait_end(void)
{
    uv_timer_stop(&H.safety);
}

/* Runs the loop until cond holds; fails the test after WAIT_MS. */
#define WAIT_UNTIL(cond, what)                                                                     \
    do {                                                                                           \
        wait_begin();                                                                              \
        while (!(cond) && !H.timed_out)                                                            \
            uv_run(&H.loop, UV_RUN_ONCE);                                                          \
        bool ok_ = (cond);                                                                         \
        wait_end();                                                                                \
        ck_assert_msg(ok_, "timed out after %d ms waiting for %s", WAIT_MS, what);                 \
    } while (0)

static void on_slept(uv_timer_t *timer)
{
    (void)timer;
    H.slept = true;
}

/* Runs the loop for ms milliseconds. */
static void run_for(uint64_t ms)
{
    H.slept = false;
    uv_timer_start(&H.sleeper, on_slept, ms, 0);
    while (!H.slept)
        uv_run(&H.loop, UV_RUN_ONCE);
}

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* ---- the client --------------------------------------------------------- */

static void client_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    client *c = handle->data;
    if (c->capacity - c->length < 65537) {
        size_t capacity = c->capacity * 2 + 65537;
        char *grown = realloc(c->data, capacity);
        if (!grown) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        c->data = grown;
        c->capacity = capacity;
    }
    *buf = uv_buf_init(c->data + c->length, (unsigned)(c->capacity - c->length - 1));
}

static void client_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf; /* it points into c->data */
    client *c = stream->data;
    if (nread > 0) {
        c->length += (size_t)nread;
        c->data[c->length] = '\0';
        if (c->one_read_at_a_time)
            uv_read_stop(stream);
    } else if (nread < 0) {
        c->eof = true;
        c->read_status = nread;
        uv_read_stop(stream);
    }
}

static void client_connected(uv_connect_t *req, int status)
{
    client *c = req->data;
    c->connect_done = true;
    c->connect_status = status;
    if (status == 0)
        uv_read_start((uv_stream_t *)&c->tcp, client_alloc, client_read);
}

static void client_closed(uv_handle_t *handle)
{
    client *c = handle->data;
    c->closed = true;
}

/* Starts connecting client i to port; returns it. */
static client *client_start(int i, int port)
{
    client *c = &H.clients[i];
    ck_assert(!c->used);
    c->used = true;
    ck_assert_int_eq(uv_tcp_init(&H.loop, &c->tcp), 0);
    c->tcp.data = c;
    c->connect.data = c;
    struct sockaddr_in addr;
    ck_assert_int_eq(uv_ip4_addr("127.0.0.1", port, &addr), 0);
    ck_assert_int_eq(
        uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr, client_connected), 0);
    return c;
}

/* Connects client i to the test server and waits until connected. */
static client *client_open(int i)
{
    client *c = client_start(i, H.port);
    WAIT_UNTIL(c->connect_done, "the client to connect");
    ck_assert_int_eq(c->connect_status, 0);
    return c;
}

typedef struct client_write {
    uv_write_t req;
    client *c;
    char data[];
} client_write;

static void client_written(uv_write_t *req, int status)
{
    client_write *w = (client_write *)req;
    if (status < 0)
        w->c->write_errors++;
    free(w);
}

static void client_send_bytes(client *c, const char *data, size_t length)
{
    client_write *w = malloc(sizeof *w + length);
    ck_assert_ptr_nonnull(w);
    memcpy(w->data, data, length);
    w->c = c;
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)length);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, client_written);
    if (rc != 0) {
        free(w);
        ck_abort_msg("uv_write: %s", uv_strerror(rc));
    }
}

static void client_send(client *c, const char *text)
{
    client_send_bytes(c, text, strlen(text));
}

static void client_close(client *c)
{
    if (c->used && !c->closing) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, client_closed);
    }
}

/* Closes with RST (SO_LINGER 0) instead of FIN. */
static void client_reset(client *c)
{
    if (c->used && !c->closing) {
        c->closing = true;
        ck_assert_int_eq(uv_tcp_close_reset(&c->tcp, client_closed), 0);
    }
}

static void client_pause(client *c)
{
    uv_read_stop((uv_stream_t *)&c->tcp);
}

/* Reads again; a no-op restart when it reads already (uv_read_start would
 * say EALREADY, and uv_is_active() cannot tell: it is also true while a
 * write is pending). */
static void client_resume(client *c)
{
    if (c->eof)
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    ck_assert_int_eq(uv_read_start((uv_stream_t *)&c->tcp, client_alloc, client_read), 0);
}

static void client_shutdown_done(uv_shutdown_t *req, int status)
{
    (void)status;
    free(req);
}

/* Half-closes: the server reads EOF, we can still read. */
static void client_shutdown(client *c)
{
    uv_shutdown_t *req = malloc(sizeof *req);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(uv_shutdown(req, (uv_stream_t *)&c->tcp, client_shutdown_done), 0);
}

/* ---- response parsing --------------------------------------------------- */

/* Copies the value of the index-th field called name into out; false when
 * there is no such field. */
static bool resp_field(const response *r, const char *name, size_t index, char *out, size_t size)
{
    size_t name_length = strlen(name);
    const char *line = strstr(r->head, "\r\n");
    while (line && line[2] != '\r' && line[2] != '\0') {
        line += 2;
        const char *end = strstr(line, "\r\n");
        if (!end)
            break;
        if ((size_t)(end - line) > name_length && strncasecmp(line, name, name_length) == 0 &&
            line[name_length] == ':') {
            if (index-- == 0) {
                const char *v = line + name_length + 1;
                while (*v == ' ' || *v == '\t')
                    v++;
                snprintf(out, size, "%.*s", (int)(end - v), v);
                return true;
            }
        }
        line = end;
    }
    return false;
}

static size_t resp_field_count(const response *r, const char *name)
{
    char scratch[8];
    size_t n = 0;
    while (resp_field(r, name, n, scratch, sizeof scratch))
        n++;
    return n;
}

/* Parses one response from buf. Returns the bytes it took, 0 when more are
 * needed, -1 when malformed. */
static long parse_one(const char *buf, size_t length, bool eof, bool no_body, response *r)
{
    memset(r, 0, sizeof *r);
    const char *end = memmem(buf, length, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head_length = (size_t)(end - buf) + 4;
    if (head_length >= sizeof r->head)
        return -1;
    memcpy(r->head, buf, head_length);
    r->head[head_length] = '\0';
    if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
        return -1;
    const char *p = buf + head_length;
    size_t left = length - head_length;
    char value[64];
    if (no_body || r->status / 100 == 1 || r->status == 204 || r->status == 304)
        return (long)head_length;
    if (resp_field(r, "Transfer-Encoding", 0, value, sizeof value)) {
        if (strcasecmp(value, "chunked") != 0)
            return -1;
        size_t pos = 0;
        for (;;) {
            const char *crlf = memmem(p + pos, left - pos, "\r\n", 2);
            if (!crlf)
                return 0;
            char *digits_end;
            unsigned long n = strtoul(p + pos, &digits_end, 16);
            if (digits_end == p + pos || digits_end != crlf)
                return -1;
            pos = (size_t)(crlf - p) + 2;
            if (n == 0) {
                if (left - pos < 2)
                    return 0;
                if (memcmp(p + pos, "\r\n", 2) != 0)
                    return -1;
                pos += 2;
                break;
            }
            if (left - pos < n + 2)
                return 0;
            if (r->body_length + n >= sizeof r->body)
                return -1;
            memcpy(r->body + r->body_length, p + pos, n);
            r->body_length += n;
            if (memcmp(p + pos + n, "\r\n", 2) != 0)
                return -1;
            pos += n + 2;
        }
        if (pos >= sizeof r->raw)
            return -1;
        memcpy(r->raw, p, pos);
        r->raw_length = pos;
        return (long)(head_length + pos);
    }
    size_t n;
    if (resp_field(r, "Content-Length", 0, value, sizeof value)) {
        n = strtoul(value, NULL, 10);
        if (left < n)
            return 0;
    } else {
        if (!eof)
            return 0; /* delimited by the end of the connection */
        n = left;
    }
    if (n >= sizeof r->body)
        return -1;
    memcpy(r->body, p, n);
    memcpy(r->raw, p, n);
    r->body_length = r->raw_length = n;
    return (long)(head_length + n);
}

/* Parses what client c received into R[]; returns the complete responses.
 * *consumed (optional) gets the bytes those took. The first response is
 * bodiless when first_no_body (an answer to HEAD). */
static int parse_responses(const client *c, bool first_no_body, size_t *consumed)
{
    size_t pos = 0;
    int n = 0;
    while (n < MAX_RESPONSES && pos < c->length) {
        long took =
            parse_one(c->data + pos, c->length - pos, c->eof, n == 0 && first_no_body, &R[n]);
        if (took <= 0)
            break;
        pos += (size_t)took;
        n++;
    }
    if (consumed)
        *consumed = pos;
    return n;
}

static int responses(const client *c)
{
    return parse_responses(c, false, NULL);
}

/* ---- the application ---------------------------------------------------- */

static void record_request(mcpauth_http_exchange *ex)
{
    if (H.requests >= MAX_RECORDS)
        return;
    record *rec = &H.records[H.requests];
    copy_text(rec->method, sizeof rec->method, mcpauth_http_exchange_method(ex));
    copy_text(rec->path, sizeof rec->path, mcpauth_http_exchange_path(ex));
    const char *query = mcpauth_http_exchange_query(ex);
    rec->has_query = query != NULL;
    copy_text(rec->query, sizeof rec->query, query);
    copy_text(rec->target, sizeof rec->target, mcpauth__http_exchange_target(ex));
    size_t length = 0;
    const char *body = mcpauth_http_exchange_body(ex, &length);
    rec->body_length = length;
    snprintf(rec->body, sizeof rec->body, "%.*s", (int)length, body ? body : "");
    copy_text(rec->peer, sizeof rec->peer, mcpauth_http_exchange_peer(ex));
    rec->start_ns = mcpauth_http_exchange_start_ns(ex);
}

static void app_on_request(mcpauth_http_exchange *ex, void *data)
{
    if (data != &H)
        abort();
    record_request(ex);
    H.requests++;
    H.handler(ex);
}

/* The standard answer: 200, text/plain, the request's path as the body. */
static void answer(mcpauth_http_exchange *ex)
{
    char body[256];
    copy_text(body, sizeof body, mcpauth_http_exchange_path(ex));
    if (H.answered_count < MAX_RECORDS)
        copy_text(H.answered[H.answered_count++], sizeof H.answered[0], body);
    mcpauth_http_field fields[] = {{"Content-Type", "text/plain"}};
    mcpauth_http_respond(ex, 200, fields, 1, body, strlen(body));
}

static void handler_respond(mcpauth_http_exchange *ex)
{
    answer(ex);
}

static void on_abort(mcpauth_http_exchange *ex, void *data)
{
    if (data != &H)
        abort();
    H.aborts++;
    H.abort_saw_aborted = mcpauth__http_exchange_aborted(ex);
    if (H.respond_in_abort) {
        for (size_t i = 0; i < H.held_count; i++) {
            if (H.held[i] == ex) {
                memmove(&H.held[i], &H.held[i + 1], (H.held_count - i - 1) * sizeof H.held[0]);
                H.held_count--;
                mcpauth_http_respond(ex, 500, NULL, 0, NULL, 0);
                break;
            }
        }
    }
}

static void hold(mcpauth_http_exchange *ex)
{
    if (H.held_count == MAX_HELD)
        abort();
    mcpauth_http_exchange_on_abort(ex, on_abort, &H);
    H.held[H.held_count++] = ex;
    if (H.held_count > H.max_held)
        H.max_held = H.held_count;
}

static void handler_hold(mcpauth_http_exchange *ex)
{
    hold(ex);
}

/* Removes and returns the oldest (or newest) held exchange. */
static mcpauth_http_exchange *take_held(bool newest)
{
    if (H.held_count == 0)
        return NULL;
    mcpauth_http_exchange *ex;
    if (newest) {
        ex = H.held[--H.held_count];
    } else {
        ex = H.held[0];
        memmove(&H.held[0], &H.held[1], (H.held_count - 1) * sizeof H.held[0]);
        H.held_count--;
    }
    return ex;
}

static void on_answer_tick(uv_timer_t *timer)
{
    (void)timer;
    mcpauth_http_exchange *ex = take_held(H.answer_lifo);
    if (ex)
        answer(ex);
}

/* Answers one held exchange every interval_ms, newest first when lifo. */
static void start_answering(uint64_t interval_ms, bool lifo)
{
    H.answer_lifo = lifo;
    uv_timer_start(&H.answerer, on_answer_tick, interval_ms, interval_ms);
}

static void on_ticker(uv_timer_t *timer)
{
    (void)timer;
    if (H.on_tick)
        H.on_tick();
}

/* ---- server life cycle -------------------------------------------------- */

static void test_limits(mcpauth_http_server_limits *limits)
{
    mcpauth_http_server_limits_init(limits);
    limits->header_timeout_ms = 2000;
    limits->body_timeout_ms = 2000;
    limits->idle_timeout_ms = 4000;
}

static void setup(void)
{
    memset(&H, 0, sizeof H);
    memset(R, 0, sizeof R);
    ck_assert_int_eq(uv_loop_init(&H.loop), 0);
    H.loop_ready = true;
    uv_timer_init(&H.loop, &H.safety);
    uv_timer_init(&H.loop, &H.sleeper);
    uv_timer_init(&H.loop, &H.answerer);
    uv_timer_init(&H.loop, &H.ticker);
    H.handler = handler_respond;
}

static void on_limit(mcpauth_http_limit limit, const char *peer, void *data)
{
    if (data != &H || !peer)
        abort();
    H.limits_hit[limit]++;
}

static void server_create(const mcpauth_http_server_limits *limits)
{
    mcpauth_http_server_limits defaults;
    if (!limits) {
        test_limits(&defaults);
        limits = &defaults;
    }
    ck_assert_int_eq(mcpauth_http_server_new(&H.loop, limits, app_on_request, &H, &H.server), 0);
    ck_assert_ptr_nonnull(H.server);
    mcpauth_http_server_on_limit(H.server, on_limit, &H);
}

static void server_start(const mcpauth_http_server_limits *limits)
{
    server_create(limits);
    ck_assert_int_eq(mcpauth_http_server_listen(H.server, "127.0.0.1", 0, false), 0);
    H.port = mcpauth_http_server_port(H.server);
    ck_assert_int_gt(H.port, 0);
}

static void on_server_closed(mcpauth_http_server *server, void *data)
{
    if (data != &H || server != H.server)
        abort();
    H.server_closed = true;
    H.closed_cb_runs++;
}

static void close_timers(void)
{
    uv_timer_t *timers[] = {&H.safety, &H.sleeper, &H.answerer, &H.ticker};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++) {
        if (!uv_is_closing((uv_handle_t *)timers[i]))
            uv_close((uv_handle_t *)timers[i], NULL);
    }
}

static void release_held(void)
{
    /* After mcpauth_http_server_close() every held exchange is aborted, and
     * answering it only frees it. */
    while (H.held_count > 0)
        mcpauth_http_respond(take_held(false), 500, NULL, 0, NULL, 0);
}

static void walk_cb(uv_handle_t *handle, void *arg)
{
    (void)arg;
    fprintf(stderr, "leaked handle: %s%s\n", uv_handle_type_name(uv_handle_get_type(handle)),
            uv_is_closing(handle) ? " (closing)" : "");
}

/* The common end of every test: closes everything and checks the loop is
 * left without handles. */
static void finish(void)
{
    uv_timer_stop(&H.answerer);
    uv_timer_stop(&H.ticker);
    if (H.server && !H.close_called) {
        H.close_called = true;
        mcpauth_http_server_close(H.server, on_server_closed, &H);
    }
    release_held();
    for (int i = 0; i < MAX_CLIENTS; i++)
        client_close(&H.clients[i]);
    WAIT_UNTIL(!H.server || H.server_closed, "the server's closed_cb");
    for (int i = 0; i < MAX_CLIENTS; i++)
        WAIT_UNTIL(!H.clients[i].used || H.clients[i].closed, "the client to close");
    ck_assert_int_eq(H.closed_cb_runs, H.server ? 1 : 0);
    close_timers();
    for (int i = 0; i < 10; i++)
        uv_run(&H.loop, UV_RUN_NOWAIT);
    int rc = uv_loop_close(&H.loop);
    if (rc != 0)
        uv_walk(&H.loop, walk_cb, NULL);
    ck_assert_msg(rc == 0, "uv_loop_close: %s (a handle was left open)", uv_strerror(rc));
    H.loop_ready = false;
    H.finished = true;
    for (int i = 0; i < MAX_CLIENTS; i++)
        free(H.clients[i].data);
    free(H.big);
}

/* After a failed assertion (no-fork mode): release what finish() did not. */
static void teardown(void)
{
    if (H.finished || !H.loop_ready)
        return;
    uv_timer_stop(&H.answerer);
    uv_timer_stop(&H.ticker);
    uv_timer_stop(&H.safety);
    if (H.server && !H.close_called) {
        H.close_called = true;
        mcpauth_http_server_close(H.server, on_server_closed, &H);
    }
    release_held();
    for (int i = 0; i < MAX_CLIENTS; i++)
        client_close(&H.clients[i]);
    close_timers();
    for (int i = 0; i < 100 && uv_loop_alive(&H.loop); i++)
        uv_run(&H.loop, UV_RUN_NOWAIT);
    uv_loop_close(&H.loop);
    for (int i = 0; i < MAX_CLIENTS; i++)
        free(H.clients[i].data);
    free(H.big);
}

/* Sends request on a fresh client and waits for n responses. */
static client *exchange_on_new_client(int i, const char *request, int n)
{
    client *c = client_open(i);
    client_send(c, request);
    WAIT_UNTIL(responses(c) >= n, "the responses");
    return c;
}

static void assert_field(const response *r, const char *name, const char *expected)
{
    char value[256];
    ck_assert_msg(resp_field(r, name, 0, value, sizeof value), "no %s field in:\n%s", name,
                  r->head);
    ck_assert_str_eq(value, expected);
}

static void assert_no_field(const response *r, const char *name)
{
    char value[256];
    ck_assert_msg(!resp_field(r, name, 0, value, sizeof value), "unexpected %s field in:\n%s", name,
                  r->head);
}

/* ---- basic requests ----------------------------------------------------- */

START_TEST(get_simple)
{
    server_start(NULL);
    client *c = exchange_on_new_client(0, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    ck_assert_int_eq(R[0].status, 200);
    ck_assert_msg(strncmp(R[0].head, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", R[0].head);
    ck_assert_str_eq(R[0].body, "/hello");
    assert_field(&R[0], "Content-Length", "6");
    assert_field(&R[0], "Content-Type", "text/plain");
    assert_field(&R[0], "Connection", "keep-alive");
    assert_no_field(&R[0], "Transfer-Encoding");
    char date[64];
    ck_assert(resp_field(&R[0], "Date", 0, date, sizeof date));
    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
    ck_assert_uint_eq(strlen(date), 29);
    ck_assert_str_eq(date + 25, " GMT");
    ck_assert_int_eq(resp_field_count(&R[0], "Content-Length"), 1);
    ck_assert_int_eq(resp_field_count(&R[0], "Date"), 1);
    ck_assert_int_eq(resp_field_count(&R[0], "Connection"), 1);
    ck_assert_int_eq(H.requests, 1);
    ck_assert(!c->eof);
    finish();
}
END_TEST

START_TEST(head_has_length_but_no_body)
{
    server_start(NULL);
    client *c = client_open(0);
    /* A GET right behind the HEAD: its response must start right where the
     * HEAD response's header block ends. */
    client_send(c, "HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /after HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(parse_responses(c, true, NULL) >= 2, "two responses");
    size_t consumed;
    ck_assert_int_eq(parse_responses(c, true, &consumed), 2);
    ck_assert_uint_eq(consumed, c->length);
    ck_assert_int_eq(R[0].status, 200);
    assert_field(&R[0], "Content-Length", "2");
    ck_assert_uint_eq(R[0].body_length, 0);
    ck_assert_int_eq(R[1].status, 200);
    ck_assert_str_eq(R[1].body, "/after");
    ck_assert_str_eq(H.records[0].method, "HEAD");
    finish();
}
END_TEST

static void handler_accessors(mcpauth_http_exchange *ex)
{
    copy_text(H.cap_host, sizeof H.cap_host, mcpauth_http_exchange_header(ex, "HOST", 0));
    for (size_t i = 0; i < 4; i++)
        copy_text(H.cap_multi[i], sizeof H.cap_multi[i],
                  mcpauth_http_exchange_header(ex, "x-MULTI", i));
    H.cap_multi_count = mcpauth_http_exchange_header_count(ex, "X-Multi");
    H.cap_missing_count = mcpauth_http_exchange_header_count(ex, "X-Missing");
    H.cap_missing_null = mcpauth_http_exchange_header(ex, "X-Missing", 0) == NULL;
    copy_text(H.cap_empty_header, sizeof H.cap_empty_header,
              mcpauth_http_exchange_header(ex, "X-Empty", 0));
    answer(ex);
}

START_TEST(request_accessors)
{
    server_start(NULL);
    H.handler = handler_accessors;
    client *c = client_open(0);
    uint64_t before = uv_hrtime();
    client_send(c, "POST /api/v1/items?x=1&y=two%20words HTTP/1.1\r\n"
                   "Host: example.test\r\n"
                   "X-Multi: first\r\n"
                   "x-multi: second\r\n"
                   "Content-Type: text/plain\r\n"
                   "X-MULTI: third\r\n"
                   "X-Empty:\r\n"
                   "Content-Length: 11\r\n"
                   "\r\n"
                   "hello world");
    WAIT_UNTIL(responses(c) >= 1, "the response");
    uint64_t after = uv_hrtime();
    const record *rec = &H.records[0];
    ck_assert_int_eq(H.requests, 1);
    ck_assert_str_eq(rec->method, "POST");
    ck_assert_str_eq(rec->path, "/api/v1/items");
    ck_assert(rec->has_query);
    ck_assert_str_eq(rec->query, "x=1&y=two%20words");
    ck_assert_str_eq(rec->target, "/api/v1/items?x=1&y=two%20words");
    ck_assert_str_eq(rec->body, "hello world");
    ck_assert_uint_eq(rec->body_length, 11);
    ck_assert_str_eq(rec->peer, "127.0.0.1");
    ck_assert_uint_ge(rec->start_ns, before);
    ck_assert_uint_le(rec->start_ns, after);
    ck_assert_str_eq(H.cap_host, "example.test");
    ck_assert_str_eq(H.cap_multi[0], "first");
    ck_assert_str_eq(H.cap_multi[1], "second");
    ck_assert_str_eq(H.cap_multi[2], "third");
    ck_assert_str_eq(H.cap_multi[3], "<NULL>");
    ck_assert_uint_eq(H.cap_multi_count, 3);
    ck_assert_uint_eq(H.cap_missing_count, 0);
    ck_assert(H.cap_missing_null);
    ck_assert_str_eq(H.cap_empty_header, "");

    /* No query at all, and an empty one. */
    H.handler = handler_respond;
    client_send(c, "GET /plain HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /empty? HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(responses(c) >= 3, "two more responses");
    ck_assert_str_eq(H.records[1].method, "GET");
    ck_assert_str_eq(H.records[1].path, "/plain");
    ck_assert(!H.records[1].has_query);
    ck_assert_str_eq(H.records[1].target, "/plain");
    ck_assert_uint_eq(H.records[1].body_length, 0);
    ck_assert_str_eq(H.records[2].path, "/empty");
    ck_assert(H.records[2].has_query);
    ck_assert_str_eq(H.records[2].query, "");
    ck_assert_str_eq(H.records[2].target, "/empty?");
    finish();
}
END_TEST

/* Names and values cut anywhere by the reads: each piece follows the one
 * before it, and the fields come out whole. */
START_TEST(header_fields_split_across_reads)
{
    server_start(NULL);
    H.handler = handler_accessors;
    client *c = client_open(0);
    static const char *const pieces[] = {"POST /split HTTP/1.1\r\nHo",
                                         "st: exam",
                                         "ple.test\r\nX-Mu",
                                         "lti: fi",
                                         "rst\r\nx-multi:",
                                         " second\r\nX-MULTI: third\r\nX-Em",
                                         "pty:\r\n",
                                         "Content-Length: 2\r\n\r\nok"};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        client_send(c, pieces[i]);
        run_for(20); /* each piece a read of its own */
    }
    WAIT_UNTIL(responses(c) >= 1, "the response");
    ck_assert_str_eq(H.records[0].path, "/split");
    ck_assert_str_eq(H.records[0].body, "ok");
    ck_assert_str_eq(H.cap_host, "example.test");
    ck_assert_str_eq(H.cap_multi[0], "first");
    ck_assert_str_eq(H.cap_multi[1], "second");
    ck_assert_str_eq(H.cap_multi[2], "third");
    ck_assert_uint_eq(H.cap_multi_count, 3);
    ck_assert_str_eq(H.cap_empty_header, "");
    finish();
}
END_TEST

START_TEST(chunked_request_body)
{
    server_start(NULL);
    exchange_on_new_client(0,
                           "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n",
                           1);
    ck_assert_int_eq(R[0].status, 200);
    ck_assert_str_eq(H.records[0].body, "hello world");
    ck_assert_uint_eq(H.records[0].body_length, 11);
    finish();
}
END_TEST

/* A chunked body's trailer section is read and dropped: its fields do not
 * join the header fields (RFC 9110 §6.5.1), which stay as they were. */
START_TEST(chunked_trailers_dropped)
{
    server_start(NULL);
    H.handler = handler_accessors;
    client *c = client_open(0);
    client_send(c, "POST /t HTTP/1.1\r\nHost: example.test\r\nX-Multi: first\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n"
                   "5\r\nhello\r\n0\r\nX-Multi: trailer\r\nX-Empty: trailer\r\n"
                   "X-Long-Trailer-Field-Name: a long trailer value to move buffers\r\n\r\n");
    WAIT_UNTIL(responses(c) >= 1, "the response");
    ck_assert_str_eq(H.records[0].body, "hello");
    ck_assert_str_eq(H.cap_host, "example.test");
    ck_assert_str_eq(H.cap_multi[0], "first");
    ck_assert_uint_eq(H.cap_multi_count, 1);
    ck_assert_str_eq(H.cap_empty_header, "<NULL>");
    finish();
}
END_TEST

/* ---- keep-alive and pipelining ------------------------------------------ */

START_TEST(keep_alive_sequential)
{
    server_start(NULL);
    client *c = exchange_on_new_client(0, "GET /one HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    ck_assert_str_eq(R[0].body, "/one");
    assert_field(&R[0], "Connection", "keep-alive");
    client_send(c, "GET /two HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(responses(c) >= 2, "the second response");
    ck_assert_int_eq(R[1].status, 200);
    ck_assert_str_eq(R[1].body, "/two");
    assert_field(&R[1], "Connection", "keep-alive");
    ck_assert_int_eq(H.requests, 2);
    ck_assert_uint_eq(mcpauth_http_server_connection_count(H.server), 1);
    ck_assert(!c->eof);
    finish();
}
END_TEST

START_TEST(pipelined_answered_in_reverse)
{
    server_start(NULL);
    H.handler = handler_hold;
    client *c = client_open(0);
    client_send(c, "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /2 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /3 HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(H.held_count == 3, "three requests at the application");
    ck_assert_int_eq(c->length, 0); /* nothing answered yet */
    start_answering(20, true);
    WAIT_UNTIL(responses(c) >= 3, "three responses");
    ck_assert_int_eq(H.answered_count, 3);
    ck_assert_str_eq(H.answered[0], "/3");
    ck_assert_str_eq(H.answered[1], "/2");
    ck_assert_str_eq(H.answered[2], "/1");
    ck_assert_str_eq(R[0].body, "/1");
    ck_assert_str_eq(R[1].body, "/2");
    ck_assert_str_eq(R[2].body, "/3");
    for (int i = 0; i < 3; i++)
        assert_field(&R[i], "Connection", "keep-alive");
    finish();
}
END_TEST

START_TEST(pipelined_backpressure)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.max_pipelined = 2;
    server_start(&limits);
    H.handler = handler_hold;
    start_answering(10, false);
    client *c = client_open(0);
    client_send(c, "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /2 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /3 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /4 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /5 HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(responses(c) >= 5, "five responses");
    ck_assert_int_eq(H.requests, 5);
    ck_assert_uint_le(H.max_held, 2);
    for (int i = 0; i < 5; i++) {
        char expected[8];
        snprintf(expected, sizeof expected, "/%d", i + 1);
        ck_assert_int_eq(R[i].status, 200);
        ck_assert_str_eq(R[i].body, expected);
        ck_assert_str_eq(H.records[i].path, expected);
    }
    ck_assert(!c->eof);
    /* The connection still works afterwards. */
    client_send(c, "GET /6 HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(responses(c) >= 6, "the sixth response");
    ck_assert_str_eq(R[5].body, "/6");
    finish();
}
END_TEST

START_TEST(pipelined_after_connection_close_ignored)
{
    server_start(NULL);
    client *c = client_open(0);
    client_send(c, "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                   "GET /3 HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(c->eof, "the server to close");
    size_t consumed;
    ck_assert_int_eq(parse_responses(c, false, &consumed), 2);
    ck_assert_uint_eq(consumed, c->length);
    ck_assert_str_eq(R[0].body, "/1");
    assert_field(&R[0], "Connection", "keep-alive");
    ck_assert_str_eq(R[1].body, "/2");
    assert_field(&R[1], "Connection", "close");
    ck_assert_int_eq(H.requests, 2);
    finish();
}
END_TEST

/* ---- limits and errors -------------------------------------------------- */

/* Waits for the server to answer and close; checks a single error response
 * and that the application never saw a request. */
static void expect_error_and_close(client *c, int status)
{
    WAIT_UNTIL(c->eof, "the server to close the connection");
    size_t consumed;
    ck_assert_msg(parse_responses(c, false, &consumed) == 1, "expected one response, got:\n%s",
                  c->data ? c->data : "(nothing)");
    ck_assert_uint_eq(consumed, c->length);
    ck_assert_int_eq(R[0].status, status);
    assert_field(&R[0], "Connection", "close");
    ck_assert_int_eq(H.requests, 0);
}

START_TEST(oversized_headers_431)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.max_header_bytes = 1024;
    server_start(&limits);
    client *c = client_open(0);
    char big[2048];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char request[4096];
    snprintf(request, sizeof request, "GET / HTTP/1.1\r\nHost: t\r\nX-Big: %s\r\n\r\n", big);
    client_send(c, request);
    expect_error_and_close(c, 431);
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 0, "the connection to go");
    finish();
}
END_TEST

static void build_fields_request(char *out, size_t size, int fields)
{
    int n = snprintf(out, size, "GET /fields HTTP/1.1\r\nHost: t\r\n");
    for (int i = 1; i < fields; i++) /* Host is the first field */
        n += snprintf(out + n, size - (size_t)n, "X-F%d: v\r\n", i);
    snprintf(out + n, size - (size_t)n, "\r\n");
}

START_TEST(too_many_header_fields_431)
{
    server_start(NULL);
    client *c = client_open(0);
    char request[8192];
    build_fields_request(request, sizeof request, 101);
    client_send(c, request);
    expect_error_and_close(c, 431);
    finish();
}
END_TEST

START_TEST(hundred_header_fields_accepted)
{
    server_start(NULL);
    char request[8192];
    build_fields_request(request, sizeof request, 100);
    exchange_on_new_client(0, request, 1);
    ck_assert_int_eq(R[0].status, 200);
    ck_assert_int_eq(H.requests, 1);
    finish();
}
END_TEST

START_TEST(content_length_over_limit_413)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.max_body_bytes = 100;
    server_start(&limits);
    client *c = client_open(0);
    /* Only the header block: the 413 must not wait for the body. */
    client_send(c, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n");
    expect_error_and_close(c, 413);
    finish();
}
END_TEST

START_TEST(content_length_at_limit_accepted)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.max_body_bytes = 100;
    server_start(&limits);
    char request[512];
    int n = snprintf(request, sizeof request,
                     "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
    memset(request + n, 'b', 100);
    request[n + 100] = '\0';
    exchange_on_new_client(0, request, 1);
    ck_assert_int_eq(R[0].status, 200);
    ck_assert_uint_eq(H.records[0].body_length, 100);
    finish();
}
END_TEST

START_TEST(chunked_body_over_limit_413)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.max_body_bytes = 100;
    server_start(&limits);
    client *c = client_open(0);
    char chunk[61];
    memset(chunk, 'c', 60);
    chunk[60] = '\0';
    char request[1024];
    snprintf(request, sizeof request,
             "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3c\r\n%s\r\n3c\r\n%s\r\n0\r\n\r\n",
             chunk, chunk);
    client_send(c, request);
    expect_error_and_close(c, 413);
    finish();
}
END_TEST

static const char *const malformed_requests[] = {
    "NOT A REQUEST\r\n\r\n",
    "GET / HTTP/1.1 trailing\r\nHost: t\r\n\r\n",
    "\x16\x03\x01\x02\x05\x01\x07\x01\xfc\x03\x03", /* a TLS ClientHello */
    "GET / HTTP/1.1\r\nNoColonHere\r\n\r\n",
};

START_TEST(malformed_request_400)
{
    server_start(NULL);
    client *c = client_open(0);
    client_send(c, malformed_requests[_i]);
    expect_error_and_close(c, 400);
    finish();
}
END_TEST

/* ---- HTTP/1.1 message rules (RFC 9112) ------------------------------------ */

typedef struct rule_case {
    const char *request;
    int status;
} rule_case;

static const rule_case rule_cases[] = {
    /* §3.2: one Host in a 1.1 request, with a valid value */
    {"GET / HTTP/1.1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: t\r\nHost: t\r\n\r\n", 400},
    {"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: [::1]evil.com\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: localhost:80@evil.com\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: localhost/x\r\n\r\n", 400},
    /* §5.1: no whitespace between the field name and the colon */
    {"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: t\r\nX-A\t: b\r\n\r\n", 400},
    /* RFC 9110 §5.1: a field name is a token */
    {"GET / HTTP/1.1\r\nHost: t\r\nX(a): b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: t\r\nX\"a: b\r\n\r\n", 400},
    /* §2.3: 1.0 and 1.1 only */
    {"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505},
    {"GET / HTTP/1.2\r\nHost: t\r\n\r\n", 505},
    {"GET / HTTP/0.9\r\nHost: t\r\n\r\n", 505},
    /* §3.2.2: an absolute-form target is an http(s) URI without userinfo */
    {"GET http://user@t/ HTTP/1.1\r\nHost: t\r\n\r\n", 400},
};

START_TEST(http_rule_refused)
{
    server_start(NULL);
    client *c = client_open(0);
    client_send(c, rule_cases[_i].request);
    WAIT_UNTIL(c->eof, "the server to close the connection");
    ck_assert_msg(responses(c) == 1, "%s: expected one response, got:\n%s", rule_cases[_i].request,
                  c->data ? c->data : "(nothing)");
    ck_assert_msg(R[0].status == rule_cases[_i].status, "%s: got %d", rule_cases[_i].request,
                  R[0].status);
    assert_field(&R[0], "Connection", "close");
    ck_assert_int_eq(H.requests, 0);
    finish();
}
END_TEST

START_TEST(http10_without_host_served)
{
    server_start(NULL);
    exchange_on_new_client(0, "GET /old HTTP/1.0\r\n\r\n", 1);
    ck_assert_int_eq(R[0].status, 200);
    ck_assert_str_eq(R[0].body, "/old");
    finish();
}
END_TEST

static void handler_capture_host(mcpauth_http_exchange *ex)
{
    copy_text(H.cap_host, sizeof H.cap_host, mcpauth_http_exchange_header(ex, "Host", 0));
    answer(ex);
}

/* §3.2.2: served as its origin-form, the target's authority replacing Host. */
START_TEST(absolute_form_served_as_origin_form)
{
    server_start(NULL);
    H.handler = handler_capture_host;
    exchange_on_new_client(0,
                           "POST http://LocalHost:8000/mcp?x=1 HTTP/1.1\r\nHost: other\r\n"
                           "Content-Length: 2\r\n\r\n{}",
                           1);
    ck_assert_int_eq(R[0].status, 200);
    ck_assert_str_eq(H.records[0].path, "/mcp");
    ck_assert_str_eq(H.records[0].query, "x=1");
    ck_assert_str_eq(H.cap_host, "LocalHost:8000");
    ck_assert_str_eq(H.records[0].body, "{}");
    finish();
}
END_TEST

START_TEST(absolute_form_without_path)
{
    server_start(NULL);
    exchange_on_new_client(0, "GET http://t HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    ck_assert_int_eq(R[0].status, 200);
    ck_assert_str_eq(H.records[0].path, "/");
    ck_assert(!H.records[0].has_query);
    finish();
}
END_TEST

/* ---- timeouts ----------------------------------------------------------- */

START_TEST(header_timeout_408)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.header_timeout_ms = 200;
    server_start(&limits);
    client *c = client_open(0);
    uint64_t start = now_ms();
    client_send(c, "GET /slow HTTP/1.1\r\nHost: t\r\n"); /* no blank line */
    expect_error_and_close(c, 408);
    uint64_t elapsed = now_ms() - start;
    ck_assert_msg(elapsed >= 150 && elapsed < 2000, "408 after %llu ms",
                  (unsigned long long)elapsed);
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 0, "the connection to go");
    finish();
}
END_TEST

static void trickle_byte(void)
{
    client *c = &H.clients[0];
    if (!c->eof && !c->closing)
        client_send(c, "X");
}

/* Bytes trickling in do not extend the header deadline (slow loris). */
START_TEST(header_timeout_counts_from_request_start)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.header_timeout_ms = 200;
    limits.idle_timeout_ms = 200;
    server_start(&limits);
    client *c = client_open(0);
    uint64_t start = now_ms();
    client_send(c, "GET /slow HTTP/1.1\r\nX-Slow: ");
    H.on_tick = trickle_byte;
    uv_timer_start(&H.ticker, on_ticker, 40, 40);
    expect_error_and_close(c, 408);
    uint64_t elapsed = now_ms() - start;
    ck_assert_msg(elapsed < 1000, "408 only after %llu ms", (unsigned long long)elapsed);
    finish();
}
END_TEST

START_TEST(body_timeout_408)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.body_timeout_ms = 200;
    server_start(&limits);
    client *c = client_open(0);
    client_send(c, "POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    expect_error_and_close(c, 408);
    finish();
}
END_TEST

START_TEST(idle_timeout_closes_keep_alive)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.idle_timeout_ms = 200;
    server_start(&limits);
    client *c = exchange_on_new_client(0, "GET /x HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    assert_field(&R[0], "Connection", "keep-alive");
    size_t length = c->length;
    uint64_t start = now_ms();
    WAIT_UNTIL(c->eof, "the idle connection to be closed");
    uint64_t elapsed = now_ms() - start;
    ck_assert_msg(elapsed >= 100 && elapsed < 2000, "closed after %llu ms",
                  (unsigned long long)elapsed);
    ck_assert_uint_eq(c->length, length); /* closed without another word */
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 0, "the connection to go");

    /* A connection that never sends anything is not kept forever either. */
    client *quiet = client_open(1);
    WAIT_UNTIL(quiet->eof, "the silent connection to be closed");
    ck_assert_uint_eq(quiet->length, 0);
    finish();
}
END_TEST

/* ---- connection management ---------------------------------------------- */

START_TEST(connection_close_request)
{
    server_start(NULL);
    client *c = client_open(0);
    client_send(c, "GET /bye HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    WAIT_UNTIL(c->eof, "the server to close");
    size_t consumed;
    ck_assert_int_eq(parse_responses(c, false, &consumed), 1);
    ck_assert_uint_eq(consumed, c->length);
    ck_assert_int_eq(R[0].status, 200);
    ck_assert_str_eq(R[0].body, "/bye");
    assert_field(&R[0], "Connection", "close");
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 0, "the connection to go");
    finish();
}
END_TEST

START_TEST(http10_closes_after_response)
{
    server_start(NULL);
    client *c = client_open(0);
    client_send(c, "GET /old HTTP/1.0\r\n\r\n");
    WAIT_UNTIL(c->eof, "the server to close");
    ck_assert_int_eq(parse_responses(c, false, NULL), 1);
    ck_assert_int_eq(R[0].status, 200);
    ck_assert_str_eq(R[0].body, "/old");
    assert_field(&R[0], "Connection", "close");
    assert_field(&R[0], "Content-Length", "4");
    finish();
}
END_TEST

START_TEST(http10_keep_alive_honoured)
{
    server_start(NULL);
    client *c = exchange_on_new_client(0, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1);
    assert_field(&R[0], "Connection", "keep-alive");
    client_send(c, "GET /b HTTP/1.0\r\n\r\n");
    WAIT_UNTIL(c->eof, "the server to close");
    ck_assert_int_eq(responses(c), 2);
    ck_assert_str_eq(R[1].body, "/b");
    assert_field(&R[1], "Connection", "close");
    finish();
}
END_TEST

START_TEST(max_connections_503)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.max_connections = 1;
    server_start(&limits);
    client *first = exchange_on_new_client(0, "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    ck_assert_int_eq(R[0].status, 200);
    client *second = client_open(1);
    WAIT_UNTIL(second->eof, "the second connection to be closed");
    ck_assert_int_eq(responses(second), 1);
    ck_assert_int_eq(R[0].status, 503);
    assert_field(&R[0], "Connection", "close");
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 1, "the refused one to go");
    /* The first connection is unaffected. */
    client_send(first, "GET /2 HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(responses(first) >= 2, "the first connection's second response");
    ck_assert_int_eq(R[1].status, 200);
    ck_assert_str_eq(R[1].body, "/2");
    ck_assert_int_eq(H.requests, 2);
    finish();
}
END_TEST

START_TEST(connection_count_tracks_connections)
{
    server_create(NULL);
    ck_assert_int_eq(mcpauth_http_server_port(H.server), -1);
    ck_assert_uint_eq(mcpauth_http_server_connection_count(H.server), 0);
    ck_assert_int_eq(mcpauth_http_server_listen(H.server, "127.0.0.1", 0, false), 0);
    H.port = mcpauth_http_server_port(H.server);
    ck_assert_int_gt(H.port, 0);
    client *a = client_open(0);
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 1, "one connection");
    client *b = client_open(1);
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 2, "two connections");
    client_close(a);
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 1, "one connection left");
    client_send(b, "GET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 0, "no connection left");
    WAIT_UNTIL(b->eof, "b to be closed");
    ck_assert_int_eq(responses(b), 1);
    finish();
}
END_TEST

START_TEST(listen_socket)
{
    server_create(NULL);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    int on = 1;
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    socklen_t length = sizeof addr;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&addr, &length), 0);
    int port = ntohs(addr.sin_port);
    /* The server takes the socket over and closes it with the listener. */
    ck_assert_int_eq(mcpauth__http_server_listen_socket(H.server, fd), 0);
    ck_assert_int_eq(mcpauth_http_server_port(H.server), port);
    H.port = port;
    exchange_on_new_client(0, "GET /sock HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    ck_assert_int_eq(R[0].status, 200);
    ck_assert_str_eq(R[0].body, "/sock");
    finish();
}
END_TEST

/* ---- responses ---------------------------------------------------------- */

static const mcpauth_http_field unsafe_fields[] = {
    {"X-Good", "yes"},
    {"X-Bad-Value", "a\r\nInjected: 1"},
    {"X-Bad\r\nInjected-Name", "v"},
    {"X-Bare-LF", "a\nInjected-LF: 1"},
    {"X-Bare-CR", "a\rb"},
    {"X-Also-Good", "fine"},
};

static void handler_unsafe_fields(mcpauth_http_exchange *ex)
{
    size_t count = sizeof unsafe_fields / sizeof unsafe_fields[0];
    if (strcmp(mcpauth_http_exchange_path(ex), "/stream") == 0) {
        mcpauth_http_stream_start(ex, 200, unsafe_fields, count);
        mcpauth_http_stream_write(ex, "s", 1);
        mcpauth_http_stream_end(ex);
    } else {
        mcpauth_http_respond(ex, 200, unsafe_fields, count, "ok", 2);
    }
}

static void assert_unsafe_fields_dropped(const response *r)
{
    assert_field(r, "X-Good", "yes");
    assert_field(r, "X-Also-Good", "fine");
    assert_no_field(r, "X-Bad-Value");
    assert_no_field(r, "X-Bad");
    assert_no_field(r, "X-Bare-LF");
    assert_no_field(r, "X-Bare-CR");
    ck_assert_msg(!strcasestr(r->head, "Injected"), "injected field in:\n%s", r->head);
    ck_assert_msg(!strstr(r->head, "a\rb"), "bare CR in:\n%s", r->head);
}

START_TEST(respond_drops_crlf_fields)
{
    server_start(NULL);
    H.handler = handler_unsafe_fields;
    client *c = client_open(0);
    client_send(c, "GET /plain HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(responses(c) >= 2, "two responses");
    size_t consumed;
    ck_assert_int_eq(parse_responses(c, false, &consumed), 2);
    ck_assert_uint_eq(consumed, c->length);
    ck_assert_str_eq(R[0].body, "ok");
    assert_unsafe_fields_dropped(&R[0]);
    ck_assert_str_eq(R[1].body, "s");
    assert_unsafe_fields_dropped(&R[1]);
    finish();
}
END_TEST

static void handler_stream(mcpauth_http_exchange *ex)
{
    mcpauth_http_field fields[] = {{"Content-Type", "text/event-stream"},
                                   {"Cache-Control", "no-store"}};
    mcpauth_http_stream_start(ex, 200, fields, 2);
    hold(ex);
}

static const char *const stream_pieces[] = {
    "data: one\n\n",
    "data: two-two\n\n",
    "data: 0123456789abcdef0123456789\n\n",
};

/* Writes the three pieces with loop turns in between and ends the stream. */
static void stream_three_pieces(void)
{
    mcpauth_http_exchange *ex = H.held[0];
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(mcpauth_http_stream_write(ex, stream_pieces[i], strlen(stream_pieces[i])),
                         0);
        run_for(10);
    }
    take_held(false);
    mcpauth_http_stream_end(ex);
}

START_TEST(stream_chunked)
{
    server_start(NULL);
    H.handler = handler_stream;
    client *c = client_open(0);
    client_send(c, "GET /events HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(H.held_count == 1, "the stream to start");
    /* The head goes out before the first write. */
    WAIT_UNTIL(c->length > 0 && strstr(c->data, "\r\n\r\n"), "the response head");
    stream_three_pieces();
    WAIT_UNTIL(responses(c) >= 1, "the whole stream");
    ck_assert_int_eq(R[0].status, 200);
    assert_field(&R[0], "Transfer-Encoding", "chunked");
    assert_field(&R[0], "Content-Type", "text/event-stream");
    assert_field(&R[0], "Connection", "keep-alive");
    assert_no_field(&R[0], "Content-Length");
    char expected[512];
    int n = 0;
    char decoded[512] = "";
    for (int i = 0; i < 3; i++) {
        n += snprintf(expected + n, sizeof expected - (size_t)n, "%zx\r\n%s\r\n",
                      strlen(stream_pieces[i]), stream_pieces[i]);
        strcat(decoded, stream_pieces[i]);
    }
    snprintf(expected + n, sizeof expected - (size_t)n, "0\r\n\r\n");
    ck_assert_str_eq(R[0].raw, expected);
    ck_assert_str_eq(R[0].body, decoded);
    ck_assert_msg(strncmp(R[0].raw, "b\r\ndata: one\n\n\r\nf\r\n", 19) == 0, "%s", R[0].raw);
    ck_assert_msg(strstr(R[0].raw, "\r\n22\r\ndata: 0123") != NULL, "%s", R[0].raw);
    /* Framed correctly, so the connection carries on. */
    H.handler = handler_respond;
    client_send(c, "GET /after HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(responses(c) >= 2, "the response after the stream");
    ck_assert_str_eq(R[1].body, "/after");
    finish();
}
END_TEST

START_TEST(stream_http10_close_delimited)
{
    server_start(NULL);
    H.handler = handler_stream;
    client *c = client_open(0);
    client_send(c, "GET /events HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    WAIT_UNTIL(H.held_count == 1, "the stream to start");
    stream_three_pieces();
    WAIT_UNTIL(c->eof, "the end of the connection");
    ck_assert_int_eq(responses(c), 1);
    assert_no_field(&R[0], "Transfer-Encoding");
    assert_no_field(&R[0], "Content-Length");
    assert_field(&R[0], "Connection", "close");
    char expected[512] = "";
    for (int i = 0; i < 3; i++)
        strcat(expected, stream_pieces[i]);
    ck_assert_str_eq(R[0].body, expected);
    finish();
}
END_TEST

/* ---- aborts ------------------------------------------------------------- */

/* A FIN may be a half-close (RFC 9112 §9.6), so it does not abort what the
 * application holds; a client that closed both sides is found out when
 * its answer is written, and the connection goes. */
START_TEST(client_close_before_async_answer)
{
    server_start(NULL);
    H.handler = handler_hold;
    client *c = client_open(0);
    client_send(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(H.held_count == 1, "the request");
    mcpauth_http_exchange *ex = H.held[0];
    client_close(c); /* an ordinary close: FIN */
    run_for(100);
    ck_assert_int_eq(H.aborts, 0);
    take_held(false);
    answer(ex);
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 0, "the connection to go");
    finish();
}
END_TEST

/* The client half-closes after its request: it gets the answer the
 * application gives later, as it gets an immediate one. */
START_TEST(half_close_gets_async_answer)
{
    server_start(NULL);
    H.handler = handler_hold;
    client *c = client_open(0);
    client_send(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    client_shutdown(c);
    WAIT_UNTIL(H.held_count == 1, "the request");
    run_for(100); /* the server has read the EOF */
    ck_assert_int_eq(H.aborts, 0);
    answer(take_held(false));
    WAIT_UNTIL(c->eof, "the answer and the close");
    size_t consumed;
    ck_assert_int_eq(parse_responses(c, false, &consumed), 1);
    ck_assert_uint_eq(consumed, c->length);
    ck_assert_int_eq(R[0].status, 200);
    ck_assert_str_eq(R[0].body, "/held");
    assert_field(&R[0], "Connection", "close");
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 0, "the connection to go");
    finish();
}
END_TEST

/* Pipelined requests, the second answered first and the client gone
 * half-closed: both answers arrive, in order. */
START_TEST(half_close_pipelined_answered_in_order)
{
    server_start(NULL);
    H.handler = handler_hold;
    client *c = client_open(0);
    client_send(c, "GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\n");
    client_shutdown(c);
    WAIT_UNTIL(H.held_count == 2, "the requests");
    run_for(50);
    answer(take_held(true));
    answer(take_held(false));
    WAIT_UNTIL(c->eof, "the answers and the close");
    ck_assert_int_eq(responses(c), 2);
    ck_assert_str_eq(R[0].body, "/1");
    ck_assert_str_eq(R[1].body, "/2");
    finish();
}
END_TEST

START_TEST(client_reset_aborts_held_exchange)
{
    server_start(NULL);
    H.handler = handler_hold;
    client *c = client_open(0);
    client_send(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(H.held_count == 1, "the request");
    mcpauth_http_exchange *ex = H.held[0];
    client_reset(c);
    WAIT_UNTIL(H.aborts == 1, "the abort callback");
    ck_assert(mcpauth__http_exchange_aborted(ex));
    ck_assert_uint_eq(mcpauth_http_server_connection_count(H.server), 0);
    take_held(false);
    answer(ex);
    run_for(20);
    finish();
}
END_TEST

static void stream_keep_writing(void)
{
    if (H.held_count == 0)
        return;
    mcpauth_http_exchange *ex = H.held[0];
    int rc = mcpauth_http_stream_write(ex, "data: ping\n\n", 12);
    H.stream_writes++;
    if (rc != 0) {
        H.stream_write_rc = rc;
        take_held(false);
        mcpauth_http_stream_end(ex);
    }
}

START_TEST(client_disconnect_aborts_stream)
{
    server_start(NULL);
    H.handler = handler_stream;
    client *c = client_open(0);
    client_send(c, "GET /events HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(H.held_count == 1, "the stream to start");
    mcpauth_http_exchange *ex = H.held[0];
    client_close(c);
    H.on_tick = stream_keep_writing;
    uv_timer_start(&H.ticker, on_ticker, 10, 10);
    WAIT_UNTIL(H.aborts == 1, "the abort callback");
    ck_assert(mcpauth__http_exchange_aborted(ex));
    ck_assert_uint_eq(mcpauth_http_stream_pending(ex), 0);
    WAIT_UNTIL(H.stream_write_rc != 0, "a failed write");
    ck_assert_int_eq(H.stream_write_rc, UV_ECONNRESET);
    ck_assert_uint_eq(H.held_count, 0); /* ended: freed */
    uv_timer_stop(&H.ticker);
    finish();
}
END_TEST

START_TEST(server_close_aborts_held_exchanges)
{
    server_start(NULL);
    H.handler = handler_hold;
    H.respond_in_abort = true; /* answered from inside the abort callback */
    client *c = client_open(0);
    client_send(c, "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /2 HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(H.held_count == 2, "the requests");
    H.close_called = true;
    mcpauth_http_server_close(H.server, on_server_closed, &H);
    ck_assert_int_eq(H.aborts, 2);
    ck_assert_uint_eq(H.held_count, 0);
    WAIT_UNTIL(c->eof, "the client to see the close");
    ck_assert_int_eq(responses(c), 0);
    finish();
}
END_TEST

/* ---- drain -------------------------------------------------------------- */

START_TEST(drain_finishes_in_flight_and_refuses_new)
{
    server_start(NULL);
    client *idle = exchange_on_new_client(0, "GET /idle HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    H.handler = handler_hold;
    client *busy = client_open(1);
    client_send(busy, "GET /busy HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(H.held_count == 1, "the busy request");
    ck_assert_uint_eq(mcpauth_http_server_connection_count(H.server), 2);

    mcpauth_http_server_drain(H.server);
    /* The idle connection is shut down gracefully, so it goes soon, not at
     * once. */
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 1, "the idle connection to go");
    WAIT_UNTIL(idle->eof, "the idle connection to close");
    ck_assert_int_eq(responses(idle), 1); /* nothing more was sent */

    /* New connections are refused, or closed without being served. */
    client *late = client_start(2, H.port);
    WAIT_UNTIL(late->connect_done && (late->connect_status != 0 || late->eof),
               "the late connection to fail");
    if (late->connect_status == 0)
        ck_assert_msg(late->length == 0 || strncmp(late->data, "HTTP/1.1 503", 12) == 0, "%s",
                      late->data);
    ck_assert(!busy->eof);

    /* The in-flight request is answered, with Connection: close, and then
     * the connection closes. */
    answer(take_held(false));
    WAIT_UNTIL(busy->eof, "the busy connection to close after its response");
    size_t consumed;
    ck_assert_int_eq(parse_responses(busy, false, &consumed), 1);
    ck_assert_uint_eq(consumed, busy->length);
    ck_assert_int_eq(R[0].status, 200);
    ck_assert_str_eq(R[0].body, "/busy");
    assert_field(&R[0], "Connection", "close");
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 0, "no connection left");
    ck_assert_int_eq(H.requests, 2);
    finish();
}
END_TEST

/* A keep-alive client sends its next request just as the server starts
 * draining: the request is in the socket, not read yet. It is answered
 * (with Connection: close), not met with a bare close. */
START_TEST(drain_answers_request_arriving_on_idle_connection)
{
    server_start(NULL);
    client *c = exchange_on_new_client(0, "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    client_send(c, "GET /2 HTTP/1.1\r\nHost: t\r\n\r\n");
    usleep(50 * 1000); /* the bytes reach the server's socket; the loop has not run */
    mcpauth_http_server_drain(H.server);
    WAIT_UNTIL(c->eof, "the answer and the close");
    ck_assert_int_eq(responses(c), 2);
    ck_assert_int_eq(R[1].status, 200);
    ck_assert_str_eq(R[1].body, "/2");
    assert_field(&R[1], "Connection", "close");
    finish();
}
END_TEST

/* A request half received when the drain starts is read to its end and
 * answered. */
START_TEST(drain_answers_request_half_received)
{
    server_start(NULL);
    client *c = client_open(0);
    client_send(c, "GET /half HTTP/1.1\r\nHost: t\r\n");
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 1, "the connection");
    run_for(50);
    mcpauth_http_server_drain(H.server);
    run_for(50);
    client_send(c, "\r\n");
    WAIT_UNTIL(c->eof, "the answer and the close");
    ck_assert_int_eq(responses(c), 1);
    ck_assert_int_eq(R[0].status, 200);
    ck_assert_str_eq(R[0].body, "/half");
    assert_field(&R[0], "Connection", "close");
    finish();
}
END_TEST

/* A request pipelined behind one in progress, sent before the client could
 * see Connection: close, gets 503 with Connection: close after the answer. */
START_TEST(drain_refuses_pipelined_request_with_503)
{
    server_start(NULL);
    H.handler = handler_hold;
    client *c = client_open(0);
    client_send(c, "GET /busy HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(H.held_count == 1, "the request");
    mcpauth_http_server_drain(H.server);
    client_send(c, "GET /late HTTP/1.1\r\nHost: t\r\n\r\n");
    run_for(50);
    answer(take_held(false));
    WAIT_UNTIL(c->eof, "the answers and the close");
    ck_assert_int_eq(responses(c), 2);
    ck_assert_int_eq(R[0].status, 200);
    assert_field(&R[0], "Connection", "close");
    ck_assert_int_eq(R[1].status, 503);
    assert_field(&R[1], "Connection", "close");
    ck_assert_int_eq(H.requests, 1);
    finish();
}
END_TEST

/* The same when the pipelined request was read before the drain, while the
 * queue was full. */
START_TEST(drain_refuses_stashed_request_with_503)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.max_pipelined = 1;
    server_start(&limits);
    H.handler = handler_hold;
    client *c = client_open(0);
    client_send(c, "GET /busy HTTP/1.1\r\nHost: t\r\n\r\nGET /late HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(H.held_count == 1, "the request");
    run_for(50);
    mcpauth_http_server_drain(H.server);
    answer(take_held(false));
    WAIT_UNTIL(c->eof, "the answers and the close");
    ck_assert_int_eq(responses(c), 2);
    ck_assert_int_eq(R[0].status, 200);
    ck_assert_int_eq(R[1].status, 503);
    ck_assert_int_eq(H.requests, 1);
    finish();
}
END_TEST

/* ---- ordering, re-entrancy ----------------------------------------------- */

/* An error on a pipelined request is answered in order, after the answer to
 * the request before it. */
START_TEST(error_response_waits_for_earlier_answer)
{
    server_start(NULL);
    H.handler = handler_hold;
    client *c = client_open(0);
    client_send(c, "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET / HTTP/1.1 trailing\r\n\r\n");
    WAIT_UNTIL(H.held_count == 1, "the first request");
    run_for(50);
    ck_assert_uint_eq(c->length, 0);
    answer(take_held(false));
    WAIT_UNTIL(c->eof, "the server to close");
    size_t consumed;
    ck_assert_int_eq(parse_responses(c, false, &consumed), 2);
    ck_assert_uint_eq(consumed, c->length);
    ck_assert_int_eq(R[0].status, 200);
    ck_assert_str_eq(R[0].body, "/1");
    ck_assert_int_eq(R[1].status, 400);
    assert_field(&R[1], "Connection", "close");
    ck_assert_int_eq(H.requests, 1);
    finish();
}
END_TEST

/* max_pipelined = 1 with answers given inside the callback: the pause the
 * queue limit sets is lifted at once. */
START_TEST(pipelined_backpressure_synchronous_answers)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.max_pipelined = 1;
    server_start(&limits);
    client *c = client_open(0);
    client_send(c, "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /2 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /3 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /4 HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(responses(c) >= 4, "four responses");
    for (int i = 0; i < 4; i++) {
        char expected[8];
        snprintf(expected, sizeof expected, "/%d", i + 1);
        ck_assert_str_eq(R[i].body, expected);
    }
    ck_assert_int_eq(H.requests, 4);
    finish();
}
END_TEST

static void handler_close_server(mcpauth_http_exchange *ex)
{
    if (!H.close_called) {
        H.close_called = true;
        mcpauth_http_server_close(H.server, on_server_closed, &H);
    }
    answer(ex); /* aborted by the close: this only frees it */
}

/* Closing the server from inside the request callback: no request callback
 * may run after mcpauth_http_server_close() returned, even for requests
 * pipelined behind the one being handled. */
START_TEST(close_from_request_callback)
{
    server_start(NULL);
    H.handler = handler_close_server;
    client *c = client_open(0);
    client_send(c, "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /2 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /3 HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(H.server_closed, "the server to close");
    ck_assert_int_eq(H.requests, 1);
    WAIT_UNTIL(c->eof, "the client to see the close");
    ck_assert_int_eq(responses(c), 0);
    finish();
}
END_TEST

/* ---- large responses ---------------------------------------------------- */

#define BIG_LENGTH (16 * 1024 * 1024)

static void handler_big(mcpauth_http_exchange *ex)
{
    if (strcmp(mcpauth_http_exchange_path(ex), "/big") == 0)
        mcpauth_http_respond(ex, 200, NULL, 0, H.big, H.big_length);
    else
        answer(ex);
}

static void big_prepare(void)
{
    H.big_length = BIG_LENGTH;
    H.big = malloc(H.big_length);
    ck_assert_ptr_nonnull(H.big);
    for (size_t i = 0; i < H.big_length; i++)
        H.big[i] = (char)('a' + i % 26);
    H.handler = handler_big;
}

/* Header length plus Content-Length once the head has arrived, else 0. */
static size_t big_expected_total(const client *c)
{
    if (!c->data)
        return 0;
    const char *end = memmem(c->data, c->length, "\r\n\r\n", 4);
    if (!end)
        return 0;
    const char *cl = strcasestr(c->data, "\r\nContent-Length:");
    if (!cl || cl > end)
        return 0;
    return (size_t)(end + 4 - c->data) + strtoul(cl + 17, NULL, 10);
}

/* Resumes reading and checks the whole big response arrives intact. */
static void big_expect_complete(client *c)
{
    client_resume(c);
    /* 16 MiB through a 16 KiB receive buffer: slow under sanitizers and load,
     * so this wait is longer than the others (it is a progress check, not a
     * speed test). */
    wait_begin();
    uv_timer_start(&H.safety, on_safety, 6 * WAIT_MS, 0);
    while (!(c->eof || (big_expected_total(c) > 0 && c->length >= big_expected_total(c))) &&
           !H.timed_out)
        uv_run(&H.loop, UV_RUN_ONCE);
    wait_end();
    size_t total = big_expected_total(c);
    ck_assert_msg(!H.timed_out, "timed out after %d ms waiting for the big response: %zu of %zu",
                  6 * WAIT_MS, c->length, total);
    ck_assert_msg(total > 0 && c->length >= total,
                  "response cut short: %zu of %zu bytes, then the connection was closed", c->length,
                  total);
    const char *body = c->data + total - H.big_length;
    ck_assert(memcmp(body, H.big, H.big_length) == 0);
}

/* The client half-closes after its request (it has nothing more to send):
 * the answer still arrives in full. */
START_TEST(big_response_survives_half_close)
{
    server_start(NULL);
    big_prepare();
    client *c = client_open(0);
    client_pause(c);
    client_send(c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    client_shutdown(c);
    WAIT_UNTIL(H.requests == 1, "the request");
    run_for(300);
    big_expect_complete(c);
    finish();
}
END_TEST

/* A slow reader still receiving a response is not idle. */
START_TEST(big_response_outlives_idle_timeout)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.idle_timeout_ms = 200;
    server_start(&limits);
    big_prepare();
    client *c = client_open(0);
    client_pause(c);
    client_send(c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(H.requests == 1, "the request");
    run_for(600);
    big_expect_complete(c);
    finish();
}
END_TEST

/* drain(): a response still being written is finished, not cut. */
START_TEST(drain_lets_pending_response_finish)
{
    server_start(NULL);
    big_prepare();
    client *c = client_open(0);
    client_pause(c);
    client_send(c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(H.requests == 1, "the request");
    run_for(100);
    mcpauth_http_server_drain(H.server);
    run_for(100);
    big_expect_complete(c);
    WAIT_UNTIL(c->eof, "the connection to close after the response");
    finish();
}
END_TEST

START_TEST(expect_100_continue)
{
    server_start(NULL);
    client *c = client_open(0);
    client_send(c, "POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                   "Content-Length: 5\r\n\r\n");
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    WAIT_UNTIL(c->length >= sizeof cont - 1, "100 Continue");
    ck_assert_str_eq(c->data, cont);
    ck_assert_int_eq(H.requests, 0);
    client_send(c, "hello");
    WAIT_UNTIL(responses(c) >= 2, "the final response");
    ck_assert_int_eq(R[0].status, 100);
    ck_assert_int_eq(R[1].status, 200);
    ck_assert_str_eq(R[1].body, "/up");
    ck_assert_str_eq(H.records[0].body, "hello");
    finish();
}
END_TEST

/* A request the server will not serve (protocol upgrade, CONNECT) must get
 * exactly one response, not the application's answer plus a 400. */
static const char *const upgrade_requests[] = {
    "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n",
};

START_TEST(upgrade_gets_one_response)
{
    server_start(NULL);
    client *c = client_open(0);
    client_send(c, upgrade_requests[_i]);
    WAIT_UNTIL(responses(c) >= 1, "a response");
    run_for(200);
    size_t consumed;
    int n = parse_responses(c, false, &consumed);
    ck_assert_msg(n == 1 && consumed == c->length,
                  "expected exactly one response (app saw %d request(s)), got %d:\n%s", H.requests,
                  n, c->data);
    finish();
}
END_TEST

/* ---- unsent output ---------------------------------------------------------- */

#define OUTPUT_BOUND  (64 * 1024)
#define PIPELINED_BIG 400

static void handler_64k(mcpauth_http_exchange *ex)
{
    mcpauth_http_respond(ex, 200, NULL, 0, H.big, 64 * 1024);
}

/* The pipeline queue's length in each run: the default, and 1, where every
 * request fills the queue, so that the output bound is reached only when a
 * batch of answers is written out, never while a request is answered. The
 * stop must be counted either way. */
static const size_t output_pipelines[] = {16, 1};

/* A client pipelines hundreds of requests with big answers and reads none:
 * the server stops reading once the unsent output passes the bound, instead
 * of answering them all into memory, and counts that it did; it reads on
 * when the client does. */
START_TEST(unread_output_stops_reading)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.max_output_bytes = OUTPUT_BOUND;
    limits.max_pipelined = output_pipelines[_i];
    server_start(&limits);
    H.big = calloc(1, 64 * 1024);
    ck_assert_ptr_nonnull(H.big);
    H.handler = handler_64k;
    client *c = client_open(0);
    uv_recv_buffer_size((uv_handle_t *)&c->tcp, &(int){64 * 1024});
    client_pause(c);
    static char requests[PIPELINED_BIG * 32];
    size_t n = 0;
    for (int i = 0; i < PIPELINED_BIG; i++)
        n += (size_t)snprintf(requests + n, sizeof requests - n,
                              "GET /%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
    client_send_bytes(c, requests, n);
    run_for(500);
    ck_assert_msg(H.requests < PIPELINED_BIG / 2, "%d requests answered into the queue",
                  H.requests);
    ck_assert_int_ge(H.limits_hit[MCPAUTH_HTTP_LIMIT_OUTPUT], 1);
    client_resume(c);
    WAIT_UNTIL(H.requests == PIPELINED_BIG, "every request once the client reads");
    finish();
}
END_TEST

/* Output that does not move for the write timeout closes the connection. */
START_TEST(write_timeout_closes_stuck_connection)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.write_timeout_ms = 300;
    server_start(&limits);
    big_prepare();
    client *c = client_open(0);
    client_pause(c);
    client_send(c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(H.requests == 1, "the request");
    uint64_t start = now_ms();
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 0,
               "the stuck connection to close");
    uint64_t elapsed = now_ms() - start;
    ck_assert_msg(elapsed >= 250, "closed after %llu ms", (unsigned long long)elapsed);
    ck_assert_int_eq(H.limits_hit[MCPAUTH_HTTP_LIMIT_WRITE_TIMEOUT], 1);
    finish();
}
END_TEST

static void read_once_more(void)
{
    client_resume(&H.clients[0]);
}

/* A slow reader whose output keeps moving, a read at a time, is not cut by
 * the write timeout, even within one long response. */
START_TEST(write_timeout_spares_slow_reader)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.write_timeout_ms = 300;
    server_start(&limits);
    big_prepare();
    client *c = client_open(0);
    int small = 16 * 1024;
    uv_recv_buffer_size((uv_handle_t *)&c->tcp, &small);
    c->one_read_at_a_time = true;
    client_send(c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(H.requests == 1, "the request");
    H.on_tick = read_once_more;
    uv_timer_start(&H.ticker, on_ticker, 100, 100);
    run_for(1200);
    uv_timer_stop(&H.ticker);
    ck_assert_msg(c->length < BIG_LENGTH / 2, "the reader was not slow: %zu bytes", c->length);
    ck_assert_int_eq(H.limits_hit[MCPAUTH_HTTP_LIMIT_WRITE_TIMEOUT], 0);
    ck_assert_uint_eq(mcpauth_http_server_connection_count(H.server), 1);
    c->one_read_at_a_time = false;
    big_expect_complete(c);
    finish();
}
END_TEST

static void stream_write_64k(void)
{
    if (H.held_count == 0)
        return;
    mcpauth_http_exchange *ex = H.held[0];
    size_t pending = mcpauth_http_stream_pending(ex);
    if (pending > H.big_length)
        H.big_length = pending; /* the most ever unsent */
    int rc = mcpauth_http_stream_write(ex, H.big, 16 * 1024);
    H.stream_writes++;
    if (rc != 0) {
        H.stream_write_rc = rc;
        take_held(false);
        mcpauth_http_stream_end(ex);
    }
}

/* A stream whose client does not read is bounded (writes are refused past
 * the bound), then closed by the write timeout. */
START_TEST(unread_stream_bounded_then_closed)
{
    mcpauth_http_server_limits limits;
    test_limits(&limits);
    limits.max_output_bytes = OUTPUT_BOUND;
    limits.write_timeout_ms = 300;
    server_start(&limits);
    H.big = calloc(1, 16 * 1024);
    ck_assert_ptr_nonnull(H.big);
    H.handler = handler_stream;
    client *c = client_open(0);
    client_pause(c);
    client_send(c, "GET /events HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_UNTIL(H.held_count == 1, "the stream to start");
    H.on_tick = stream_write_64k;
    uv_timer_start(&H.ticker, on_ticker, 1, 1);
    WAIT_UNTIL(H.stream_write_rc != 0, "a refused write");
    uv_timer_stop(&H.ticker);
    ck_assert_int_eq(H.stream_write_rc, UV_ENOBUFS);
    ck_assert_int_eq(H.limits_hit[MCPAUTH_HTTP_LIMIT_STREAM_OUTPUT], 1);
    ck_assert_uint_le(H.big_length, OUTPUT_BOUND + 16 * 1024 + 64);
    WAIT_UNTIL(mcpauth_http_server_connection_count(H.server) == 0, "the stuck stream to close");
    ck_assert_int_eq(H.limits_hit[MCPAUTH_HTTP_LIMIT_WRITE_TIMEOUT], 1);
    H.big_length = 0;
    finish();
}
END_TEST

/* ---- out of file descriptors ------------------------------------------------ */

/* With no descriptor left, a new client gets 503 from the one held in
 * reserve, not a reset; the limit is reported. */
START_TEST(no_file_descriptor_503)
{
    server_start(NULL);
    /* The client's socket exists before the descriptors run out. */
    client *c = &H.clients[0];
    c->used = true;
    ck_assert_int_eq(uv_tcp_init_ex(&H.loop, &c->tcp, AF_INET), 0);
    c->tcp.data = c->connect.data = c;
    struct sockaddr_in addr;
    ck_assert_int_eq(uv_ip4_addr("127.0.0.1", H.port, &addr), 0);
    struct rlimit saved;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    struct rlimit low = {256, saved.rlim_max};
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fds[256];
    int count = 0;
    int fd;
    while (count < 256 && (fd = open("/dev/null", O_RDONLY)) >= 0)
        fds[count++] = fd;
    ck_assert_int_gt(count, 0);
    ck_assert_int_eq(
        uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr, client_connected), 0);
    WAIT_UNTIL(c->eof, "the server to answer and close");
    while (count > 0)
        close(fds[--count]);
    setrlimit(RLIMIT_NOFILE, &saved);
    ck_assert_int_eq(c->connect_status, 0);
    ck_assert_msg(responses(c) == 1, "got %zu bytes: %s", c->length, c->data ? c->data : "");
    ck_assert_int_eq(R[0].status, 503);
    assert_field(&R[0], "Connection", "close");
    ck_assert_int_eq(H.limits_hit[MCPAUTH_HTTP_LIMIT_FILE_DESCRIPTORS], 1);
    /* Descriptors back: the next client is served. */
    exchange_on_new_client(1, "GET /after HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    ck_assert_int_eq(R[0].status, 200);
    finish();
}
END_TEST

/* ---- the suite ---------------------------------------------------------- */

static Suite *http_server_suite(void)
{
    Suite *s = suite_create("http_server");
    TCase *tc = tcase_create("requests");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, get_simple);
    tcase_add_test(tc, head_has_length_but_no_body);
    tcase_add_test(tc, request_accessors);
    tcase_add_test(tc, header_fields_split_across_reads);
    tcase_add_test(tc, chunked_trailers_dropped);
    tcase_add_test(tc, chunked_request_body);
    tcase_add_test(tc, keep_alive_sequential);
    tcase_add_test(tc, pipelined_answered_in_reverse);
    tcase_add_test(tc, pipelined_backpressure);
    tcase_add_test(tc, pipelined_after_connection_close_ignored);
    tcase_add_test(tc, pipelined_backpressure_synchronous_answers);
    tcase_add_test(tc, error_response_waits_for_earlier_answer);
    tcase_add_test(tc, close_from_request_callback);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, oversized_headers_431);
    tcase_add_test(tc, too_many_header_fields_431);
    tcase_add_test(tc, hundred_header_fields_accepted);
    tcase_add_test(tc, content_length_over_limit_413);
    tcase_add_test(tc, content_length_at_limit_accepted);
    tcase_add_test(tc, chunked_body_over_limit_413);
    tcase_add_loop_test(tc, malformed_request_400, 0,
                        (int)(sizeof malformed_requests / sizeof malformed_requests[0]));
    tcase_add_test(tc, header_timeout_408);
    tcase_add_test(tc, header_timeout_counts_from_request_start);
    tcase_add_test(tc, body_timeout_408);
    tcase_add_test(tc, idle_timeout_closes_keep_alive);
    tcase_add_test(tc, max_connections_503);
    tcase_add_loop_test(tc, upgrade_gets_one_response, 0,
                        (int)(sizeof upgrade_requests / sizeof upgrade_requests[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("rules");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, http_rule_refused, 0, (int)(sizeof rule_cases / sizeof rule_cases[0]));
    tcase_add_test(tc, http10_without_host_served);
    tcase_add_test(tc, absolute_form_served_as_origin_form);
    tcase_add_test(tc, absolute_form_without_path);
    suite_add_tcase(s, tc);

    tc = tcase_create("connections");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, connection_close_request);
    tcase_add_test(tc, http10_closes_after_response);
    tcase_add_test(tc, http10_keep_alive_honoured);
    tcase_add_test(tc, connection_count_tracks_connections);
    tcase_add_test(tc, listen_socket);
    tcase_add_test(tc, expect_100_continue);
    tcase_add_test(tc, drain_finishes_in_flight_and_refuses_new);
    tcase_add_test(tc, drain_answers_request_arriving_on_idle_connection);
    tcase_add_test(tc, drain_answers_request_half_received);
    tcase_add_test(tc, drain_refuses_pipelined_request_with_503);
    tcase_add_test(tc, drain_refuses_stashed_request_with_503);
    suite_add_tcase(s, tc);

    tc = tcase_create("responses");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, respond_drops_crlf_fields);
    tcase_add_test(tc, stream_chunked);
    tcase_add_test(tc, stream_http10_close_delimited);
    tcase_add_test(tc, big_response_survives_half_close);
    tcase_add_test(tc, big_response_outlives_idle_timeout);
    tcase_add_test(tc, drain_lets_pending_response_finish);
    tcase_add_loop_test(tc, unread_output_stops_reading, 0,
                        (int)(sizeof output_pipelines / sizeof *output_pipelines));
    tcase_add_test(tc, write_timeout_closes_stuck_connection);
    tcase_add_test(tc, write_timeout_spares_slow_reader);
    tcase_add_test(tc, unread_stream_bounded_then_closed);
    tcase_add_test(tc, no_file_descriptor_503);
    suite_add_tcase(s, tc);

    tc = tcase_create("aborts");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, client_close_before_async_answer);
    tcase_add_test(tc, half_close_gets_async_answer);
    tcase_add_test(tc, half_close_pipelined_answered_in_order);
    tcase_add_test(tc, client_reset_aborts_held_exchange);
    tcase_add_test(tc, client_disconnect_aborts_stream);
    tcase_add_test(tc, server_close_aborts_held_exchanges);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* Both ends write to sockets the other end has closed. */
    signal(SIGPIPE, SIG_IGN);
    return testlib_run(http_server_suite());
}
