/* The HTTP/1.1 request path of src/http/server.c: bytes in on a connection,
 * with pipelining, chunked bodies, the limits and the strict RFC 9112 rules,
 * answered immediately, a loop turn later, or as a chunked stream. The
 * server runs in-process on a libuv loop and listens on a Unix-domain
 * socket (the server accepts any stream socket, and a Unix socket leaves no
 * TIME_WAIT behind to run out of ports). Each input is one connection: the
 * first byte says where to cut the writes, the rest is what the client
 * sends; then it half-closes and reads until the server closes. Every
 * connection must end by itself: a hang is a finding (libFuzzer -timeout). */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <http_parser.h>

#include "../../src/http/http_internal.h"
#include "fuzz.h"
#include "mcpauth/http_server.h"

#define MAX_LATER 64

static uv_loop_t loop;
static mcpauth_http_server *server;
static char socket_path[108];

/* Exchanges to answer a loop turn later: the asynchronous path (a token
 * check, a backend call). */
static mcpauth_http_exchange *later[MAX_LATER];
static size_t later_count;
static uv_timer_t later_timer;

typedef struct client {
    uv_pipe_t pipe;
    uv_connect_t connect;
    uv_shutdown_t shutdown;
    const char *bytes;
    size_t length;
    size_t cuts[3];
    size_t written; /* pieces sent */
    bool closed;
    /* What came back, read as HTTP/1.1 responses: every byte must frame
     * (a stream cut short at the end is fine: the client left it). */
    http_parser parser;
    bool check_framing;  /* false when a HEAD request makes bodies unknowable */
    bool field_injected; /* a response header field named "Injected" */
    bool last_was_field;
    char field[16];
    size_t field_length;
} client;

static void on_abort(mcpauth_http_exchange *ex, void *data)
{
    (void)ex;
    (void)data;
}

static void answer(mcpauth_http_exchange *ex)
{
    size_t length;
    const char *body = mcpauth_http_exchange_body(ex, &length);
    const char *path = mcpauth_http_exchange_path(ex);
    char text[64];
    int n = snprintf(text, sizeof text, "%zu bytes, %zu hosts\n", length,
                     mcpauth_http_exchange_header_count(ex, "host"));
    static const mcpauth_http_field fields[] = {{"Content-Type", "text/plain"},
                                                {"X-Bad", "a\r\nInjected: 1"}};
    if (strncmp(path, "/stream", 7) == 0) {
        static const mcpauth_http_field sse[] = {{"Content-Type", "text/event-stream"}};
        mcpauth_http_stream_start(ex, 200, sse, 1);
        for (int i = 0; i < 3; i++)
            if (mcpauth_http_stream_write(ex, body ? body : text, body ? length : (size_t)n) != 0)
                break;
        (void)mcpauth_http_stream_pending(ex);
        mcpauth_http_stream_end(ex);
        return;
    }
    mcpauth_http_respond(ex, strncmp(path, "/none", 5) == 0 ? 204 : 200, fields, 2, text,
                         (size_t)n);
}

static void on_later(uv_timer_t *timer)
{
    (void)timer;
    /* Answering lets the server parse pipelined requests it had to hold
     * back, which may land in later[] at once: answer a copy of the batch,
     * or those would overwrite exchanges not answered yet. */
    mcpauth_http_exchange *batch[MAX_LATER];
    size_t count = later_count;
    memcpy(batch, later, count * sizeof *batch);
    later_count = 0;
    for (size_t i = 0; i < count; i++)
        answer(batch[i]);
}

static void on_request(mcpauth_http_exchange *ex, void *data)
{
    (void)data;
    (void)mcpauth_http_exchange_method(ex);
    (void)mcpauth_http_exchange_query(ex);
    (void)mcpauth_http_exchange_peer(ex);
    (void)mcpauth_http_exchange_start_ns(ex);
    (void)mcpauth__http_exchange_target(ex);
    for (size_t i = 0; mcpauth_http_exchange_header(ex, "x-a", i); i++)
        ;
    const char *path = mcpauth_http_exchange_path(ex);
    if (strncmp(path, "/later", 6) == 0 && later_count < MAX_LATER) {
        mcpauth_http_exchange_on_abort(ex, on_abort, NULL);
        later[later_count++] = ex;
        uv_timer_start(&later_timer, on_later, 0, 0);
        return;
    }
    answer(ex);
}

static void on_refused(int status, const char *peer, const char *method, const char *path,
                       const char *reason, uint64_t start_ns, void *data)
{
    (void)peer, (void)method, (void)path, (void)start_ns, (void)data;
    if (status < 400 || status > 599 || !reason)
        abort();
}

static void on_limit(mcpauth_http_limit limit, const char *peer, void *data)
{
    (void)data;
    if ((int)limit < 0 || limit >= MCPAUTH_HTTP_LIMIT_COUNT || !peer)
        abort();
}

static void remove_socket(void)
{
    unlink(socket_path);
}

static void start_server(void)
{
    if (uv_loop_init(&loop) != 0)
        abort();
    uv_timer_init(&loop, &later_timer);
    mcpauth_http_server_limits limits;
    mcpauth_http_server_limits_init(&limits);
    limits.max_header_bytes = 2048;
    limits.max_body_bytes = 4096;
    limits.max_pipelined = 4;
    limits.max_output_bytes = 8192;
    limits.header_timeout_ms = limits.body_timeout_ms = 2000;
    if (mcpauth_http_server_new(&loop, &limits, on_request, NULL, &server) != 0)
        abort();
    mcpauth_http_server_on_refused(server, on_refused, NULL);
    mcpauth_http_server_on_limit(server, on_limit, NULL);

    snprintf(socket_path, sizeof socket_path, "/tmp/mcpauth-fuzz-http.%ld", (long)getpid());
    unlink(socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0 ||
        mcpauth__http_server_listen_socket(server, fd) != 0)
        abort();
    atexit(remove_socket);
    signal(SIGPIPE, SIG_IGN); /* a client write after the server closed */
}

static void on_closed(uv_handle_t *handle)
{
    ((client *)handle->data)->closed = true;
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle;
    static char buffer[65536];
    (void)suggested;
    *buf = uv_buf_init(buffer, sizeof buffer);
}

static int on_header_field(http_parser *parser, const char *at, size_t length)
{
    client *c = parser->data;
    if (!c->last_was_field)
        c->field_length = 0;
    c->last_was_field = true;
    for (size_t i = 0; i < length && c->field_length < sizeof c->field - 1; i++)
        c->field[c->field_length++] = at[i];
    c->field[c->field_length] = '\0';
    return 0;
}

static int on_header_value(http_parser *parser, const char *at, size_t length)
{
    (void)at, (void)length;
    client *c = parser->data;
    if (c->last_was_field && strcasecmp(c->field, "Injected") == 0)
        c->field_injected = true;
    c->last_was_field = false;
    return 0;
}

static const http_parser_settings response_settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
};

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    client *c = stream->data;
    if (nread > 0) {
        if (c->check_framing && HTTP_PARSER_ERRNO(&c->parser) == HPE_OK) {
            size_t n =
                http_parser_execute(&c->parser, &response_settings, buf->base, (size_t)nread);
            if (n != (size_t)nread && HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
                fprintf(stderr, "response does not frame: %s\n",
                        http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
                abort();
            }
        }
        if (c->field_injected)
            abort(); /* a CR LF in a field value reached the wire */
        return;
    }
    if (nread < 0 && !uv_is_closing((uv_handle_t *)stream))
        uv_close((uv_handle_t *)stream, on_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status;
}

static void send_next(client *c);

static void on_written(uv_write_t *req, int status)
{
    client *c = req->data;
    free(req);
    if (status == 0)
        send_next(c);
}

/* Sends the next non-empty piece of the input, the next once it is
 * written; after the last, half-closes. */
static void send_next(client *c)
{
    if (uv_is_closing((uv_handle_t *)&c->pipe))
        return;
    size_t from = c->written ? c->cuts[c->written - 1] : 0;
    while (c->written < 3 && c->cuts[c->written] <= from)
        c->written++;
    if (c->written == 3) {
        uv_shutdown(&c->shutdown, (uv_stream_t *)&c->pipe, on_shutdown);
        return;
    }
    size_t to = c->cuts[c->written++];
    uv_write_t *req = malloc(sizeof *req);
    if (!req)
        abort();
    req->data = c;
    uv_buf_t buf = uv_buf_init((char *)c->bytes + from, (unsigned)(to - from));
    if (uv_write(req, (uv_stream_t *)&c->pipe, &buf, 1, on_written) != 0)
        free(req);
}

static void on_connect(uv_connect_t *req, int status)
{
    client *c = req->data;
    if (status != 0)
        abort();
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
    send_next(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!server)
        start_server();
    if (size < 1)
        return 0;
    client c = {.bytes = (const char *)data + 1, .length = size - 1};
    /* Three cuts from the first byte: where the kernel may or may not join
     * the pieces, the parser must not care. */
    c.cuts[0] = c.length * (data[0] & 3) / 4;
    c.cuts[1] = c.length * (2 + ((data[0] >> 2) & 1)) / 4;
    c.cuts[2] = c.length;
    http_parser_init(&c.parser, HTTP_RESPONSE);
    c.parser.data = &c;
    c.check_framing = !memmem(c.bytes, c.length, "HEAD", 4);
    uv_pipe_init(&loop, &c.pipe, 0);
    c.pipe.data = c.connect.data = &c;
    uv_pipe_connect(&c.connect, &c.pipe, socket_path, on_connect);
    while (!c.closed || mcpauth_http_server_connection_count(server) > 0 || later_count > 0)
        uv_run(&loop, UV_RUN_ONCE);
    return 0;
}
