/* The HTTP/1.1 server: libuv for I/O, http-parser for the wire format.
 *
 * A connection owns a queue of exchanges in request order. The application
 * may answer them in any order; bytes go to the socket only for the head of
 * the queue, later answers wait in their exchange's buffer, so pipelined
 * responses keep their order (RFC 9112 §9.3.2). When the queue is full the
 * parser is paused and reading stops until the application catches up:
 * back-pressure instead of unbounded buffering. The same happens while the
 * connection's unsent output is over its bound: a client that pipelines
 * requests and never reads the answers cannot make the server queue them
 * without end, and once its output stops moving it is closed.
 *
 * The listening socket is polled and accepted here rather than by libuv,
 * so that running out of file descriptors can be answered: libuv's own
 * fallback accepts and closes (a reset, and nothing to log or count).
 */
#include "mcpauth/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <limits.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"
#include "mcpauth/http_client.h"
#include "mcpauth/http_forwarded.h"
#include "mcpauth/strbuf.h"
#include "mcpauth/url.h"

#define READ_BUFFER_SIZE  (64 * 1024)
#define MAX_HEADER_FIELDS 100
#define MAX_METHOD_LENGTH 16
#define LISTEN_BACKLOG    1024
#define ACCEPTS_PER_WAKE  128 /* then other handles get their turn */
#define ACCEPT_RETRY_MS   100 /* out of descriptors with none in reserve */
#define HEADER_TEXT_RESERVE 511 /* a request's names and values: 512 with the NUL */
/* At most this much of a declared body is reserved ahead of its bytes
 * (4 KiB with the NUL): a usual request in one allocation, while a client
 * that declares a large body and sends nothing holds little. */
#define BODY_RESERVE 4095

typedef struct connection connection;

typedef enum exchange_state {
    EXCHANGE_PARSING,   /* request still arriving */
    EXCHANGE_WITH_APP,  /* handed to the application, no answer yet */
    EXCHANGE_STREAMING, /* the application is streaming the response */
    EXCHANGE_ANSWERED,  /* the whole response is in out (or written) */
} exchange_state;

/* A request's field names and values live in one buffer, ex->header_text,
 * each NUL-terminated: a malloc per name and per value (and a realloc of
 * the array per field) cost more than parsing them. While the header is
 * read they are known by their offsets, since the buffer may move;
 * exchange_fix_fields() points at them once it is complete. */
typedef struct header_field {
    const char *name; /* NULL until the header is complete */
    const char *value;
    size_t name_length;
    size_t name_at, value_at; /* value_at NO_VALUE: no value read yet */
} header_field;

#define NO_VALUE SIZE_MAX

struct mcpauth_http_exchange {
    connection *conn; /* NULL once the connection is gone */
    mcpauth_http_exchange *next;
    exchange_state state;
    bool aborted;
    bool head_request;
    bool keep_alive;
    bool chunked; /* streaming with chunked transfer coding */
    unsigned short http_minor;
    char method[MAX_METHOD_LENGTH];
    mcpauth_strbuf target;
    char *path;
    char *query;
    mcpauth_strbuf header_text; /* the fields' names and values */
    header_field *fields;
    size_t field_count, field_capacity;
    char *host; /* the authority of an absolute-form target, which replaces Host */
    bool last_was_value;
    bool fields_fixed; /* the header is complete: later fields are trailers */
    mcpauth_strbuf body;
    mcpauth_strbuf out; /* response bytes waiting until this exchange is the head */
    uint64_t start_ns;
    mcpauth_http_abort_cb on_abort;
    void *abort_data;
    char client[MCPAUTH_HTTP_ADDRESS_MAX]; /* from a trusted proxy's fields; "" otherwise */
    const char *forwarded_scheme;          /* a trusted proxy's proto: "https", "http", NULL */
};

struct connection {
    uv_tcp_t tcp;
    uv_timer_t timer;
    mcpauth_http_server *server;
    connection *prev, *next;
    http_parser parser;
    mcpauth_http_exchange *head, *tail; /* answered in this order */
    mcpauth_http_exchange *parsing;     /* the request being read, also in the queue */
    size_t queued;
    size_t header_bytes;
    bool in_body;
    bool no_more_requests; /* after "Connection: close", an error, EOF or drain */
    bool drain_refuse;     /* draining: the next request gets 503, Connection: close */
    bool closing;
    bool shutting_down; /* uv_shutdown() issued */
    bool write_watch;   /* the timer watches unsent output for progress */
    bool reading;
    bool output_held; /* reading stopped on unsent output; counted once */
    bool in_parse;    /* inside http_parser_execute */
    int writes_pending;
    uint64_t bytes_queued; /* ever handed to uv_write() */
    uint64_t sent_mark;    /* of those, taken by the client at the last check */
    uint64_t progress_ms;  /* when output last moved (monotonic_ms) */
    char *stash;           /* bytes read but not parsed while paused */
    size_t stash_length;
    char peer[64];
    mcpauth__http_tls_conn *tls; /* NULL: plain HTTP */
    bool tls_bye_sent;
    uint64_t accepted_ns; /* the TLS handshake's deadline runs from here */
    /* On the server's list of connections with answers to write at the end
     * of this turn of the loop (server_flush_later()). */
    bool flush_due;
    connection *flush_prev, *flush_next;
};

struct mcpauth_http_server {
    uv_loop_t *loop;
    uv_poll_t listener;
    uv_timer_t accept_timer; /* resumes accepting after a pause */
    int listen_fd;
    int reserve_fd; /* held open to answer 503 when descriptors run out */
    bool listening;
    bool draining;
    bool closing;
    int port;
    mcpauth_http_tls *tls;               /* borrowed; NULL: plain HTTP */
    const mcpauth_http_proxies *proxies; /* borrowed; NULL: no trusted proxies */
    mcpauth_http_server_limits limits;
    mcpauth_http_request_cb on_request;
    void *data;
    mcpauth_http_refused_cb on_refused;
    void *refused_data;
    mcpauth_http_limit_cb on_limit;
    void *limit_data;
    connection *connections;
    size_t connection_count;
    int handles_open;
    mcpauth_http_server_closed_cb closed_cb;
    void *closed_data;
    char date[40]; /* cached Date header value, refreshed once a second */
    time_t date_time;
    /* One read buffer for every connection: a read is parsed (or what is
     * left of it stashed) before the next one starts, so the loop never
     * needs two; a 64 KiB malloc and free per read cost more than the
     * parse of a small request. */
    char *read_buffer;
    bool read_buffer_busy;
    /* Answers are written once per turn of the loop, after every readable
     * connection was read: the client (and the other worker) is then woken
     * once for many answers rather than once for each, which on a loaded
     * machine costs more than the answer. A check handle runs after the
     * poll for I/O; an idle handle, for answers made elsewhere in the turn
     * (a timer), keeps that poll from blocking. */
    uv_check_t flush_check;
    uv_idle_t flush_idle;
    connection *flush_list;
};

typedef struct write_request {
    uv_write_t req;
    connection *conn;
    char data[];
} write_request;

static http_parser_settings parser_settings;

static void conn_close(connection *conn);
static int conn_write_raw(connection *conn, const char *data, size_t length);
static void conn_maybe_resume(connection *conn);
static void conn_flush(connection *conn);
static void conn_arm_timer(connection *conn);
static void conn_on_timeout(uv_timer_t *timer);

/* ---- exchanges ---- */

static void exchange_free(mcpauth_http_exchange *ex)
{
    free(ex->fields);
    free(ex->host);
    /* Requests carry bearer tokens: wipe what held them. */
    mcpauth_strbuf_free(&ex->header_text);
    mcpauth_strbuf_free(&ex->target);
    mcpauth_strbuf_free(&ex->body);
    mcpauth_strbuf_free(&ex->out);
    free(ex->path);
    free(ex->query);
    free(ex);
}

static bool field_is_safe(const char *s)
{
    return s && !strpbrk(s, "\r\n");
}

static const char *server_date(mcpauth_http_server *server)
{
    time_t now = time(NULL);
    if (now != server->date_time) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(server->date, sizeof server->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        server->date_time = now;
    }
    return server->date;
}

static void head_append(mcpauth_strbuf *out, const char *a, const char *b, const char *c)
{
    mcpauth_strbuf_put(out, a, strlen(a));
    mcpauth_strbuf_put(out, b, strlen(b));
    mcpauth_strbuf_put(out, c, strlen(c));
}

/* Appends the status line and header block of a response to ex->out
 * (written piece by piece: a printf per line was a tenth of a request's
 * work). content_length < 0: the framing is not Content-Length. */
static void exchange_write_head(mcpauth_http_exchange *ex, mcpauth_http_server *server, int status,
                                const mcpauth_http_field *fields, size_t count,
                                long long content_length, const char *framing)
{
    const char *reason = mcpauth_http_status_text(status);
    mcpauth_strbuf_appends(&ex->out, "HTTP/1.1 ");
    mcpauth_strbuf_append_int(&ex->out, status);
    head_append(&ex->out, " ", reason[0] ? reason : "Status", "\r\n");
    for (size_t i = 0; i < count; i++) {
        if (field_is_safe(fields[i].name) && field_is_safe(fields[i].value)) {
            head_append(&ex->out, fields[i].name, ": ", fields[i].value);
            mcpauth_strbuf_append(&ex->out, "\r\n", 2);
        }
    }
    /* A draining server tells every client to go elsewhere next time. */
    bool keep_alive = ex->keep_alive && !server->draining;
    if (!keep_alive)
        ex->keep_alive = false;
    head_append(&ex->out, "Date: ", server_date(server), "\r\n");
    if (content_length >= 0) {
        mcpauth_strbuf_appends(&ex->out, "Content-Length: ");
        mcpauth_strbuf_append_int(&ex->out, content_length);
        mcpauth_strbuf_append(&ex->out, "\r\n", 2);
    }
    head_append(&ex->out, framing,
                "Connection: ", keep_alive ? "keep-alive\r\n\r\n" : "close\r\n\r\n");
}

/* ---- connections ---- */

static void server_release_handle(mcpauth_http_server *server, int count)
{
    server->handles_open -= count;
    if (server->closing && server->handles_open == 0) {
        if (server->closed_cb)
            server->closed_cb(server, server->closed_data);
        free(server->read_buffer);
        free(server);
    }
}

/* Not uv_now(): the loop's time is from before the work of this turn,
 * which may be writing megabytes. */
static uint64_t monotonic_ms(void)
{
    return uv_hrtime() / 1000000;
}

static void server_limit(mcpauth_http_server *server, mcpauth_http_limit limit, const char *peer)
{
    if (server->on_limit)
        server->on_limit(limit, peer, server->limit_data);
}

/* Response bytes not yet written to the socket: libuv's write queue and the
 * answers waiting for their turn. */
static size_t conn_unsent(const connection *conn)
{
    size_t n = uv_stream_get_write_queue_size((const uv_stream_t *)&conn->tcp);
    for (const mcpauth_http_exchange *ex = conn->head; ex; ex = ex->next)
        n += ex->out.length;
    return n;
}

static bool conn_output_full(const connection *conn)
{
    size_t bound = conn->server->limits.max_output_bytes;
    return bound > 0 && conn_unsent(conn) > bound;
}

static void conn_on_closed_timer(uv_handle_t *handle)
{
    connection *conn = handle->data;
    mcpauth_http_server *server = conn->server;
    free(conn->stash);
    mcpauth__http_tls_conn_free(conn->tls);
    free(conn);
    server_release_handle(server, 2);
}

static void conn_on_closed_tcp(uv_handle_t *handle)
{
    connection *conn = handle->data;
    uv_close((uv_handle_t *)&conn->timer, conn_on_closed_timer);
}

static void conn_flush_cancel(connection *conn)
{
    if (!conn->flush_due)
        return;
    conn->flush_due = false;
    if (conn->flush_prev)
        conn->flush_prev->flush_next = conn->flush_next;
    else
        conn->server->flush_list = conn->flush_next;
    if (conn->flush_next)
        conn->flush_next->flush_prev = conn->flush_prev;
    conn->flush_prev = conn->flush_next = NULL;
}

static void conn_close(connection *conn)
{
    if (conn->closing)
        return;
    conn->closing = true;
    mcpauth_http_server *server = conn->server;
    conn_flush_cancel(conn);
    /* Unlink first so nothing else reaches the connection. */
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        server->connections = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    server->connection_count--;

    mcpauth_http_exchange *ex = conn->head;
    conn->head = conn->tail = conn->parsing = NULL;
    while (ex) {
        mcpauth_http_exchange *next = ex->next;
        ex->next = NULL;
        if (ex->state == EXCHANGE_WITH_APP || ex->state == EXCHANGE_STREAMING) {
            /* The application still holds it: tell it, free when it answers. */
            ex->conn = NULL;
            ex->aborted = true;
            if (ex->on_abort)
                ex->on_abort(ex, ex->abort_data);
        } else {
            exchange_free(ex);
        }
        ex = next;
    }
    uv_timer_stop(&conn->timer);
    uv_close((uv_handle_t *)&conn->tcp, conn_on_closed_tcp);
}

/* Reading stops (or stays stopped) because the unsent output is over its
 * bound. Counted once per stop, whichever way it was reached: by a request
 * just answered, or by answers written out in a batch (a full pipeline
 * queue) when the client has stopped reading. */
static void conn_hold_for_output(connection *conn)
{
    if (conn->output_held)
        return;
    conn->output_held = true;
    server_limit(conn->server, MCPAUTH_HTTP_LIMIT_OUTPUT, conn->peer);
}

static void conn_stop_reading(connection *conn)
{
    if (conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = false;
    }
}

static void conn_on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    connection *conn = req->data;
    free(req);
    conn_close(conn);
}

/* Closes after everything queued has been written. */
static void conn_finish(connection *conn)
{
    if (conn->closing || conn->shutting_down)
        return;
    if (conn->tls && !conn->tls_bye_sent) {
        conn->tls_bye_sent = true;
        mcpauth_strbuf alert = {0};
        mcpauth__http_tls_conn_bye(conn->tls, &alert);
        int rc = conn_write_raw(conn, alert.data, alert.length);
        mcpauth_strbuf_free(&alert);
        if (rc != 0)
            return; /* closed */
    }
    if (conn->writes_pending > 0)
        return; /* on_write calls back here */
    conn->shutting_down = true;
    uv_shutdown_t *req = malloc(sizeof *req);
    if (!req || uv_shutdown(req, (uv_stream_t *)&conn->tcp, conn_on_shutdown) != 0) {
        free(req);
        conn_close(conn);
        return;
    }
    req->data = conn;
}

static void conn_on_write(uv_write_t *req, int status)
{
    write_request *wr = (write_request *)req;
    connection *conn = wr->conn;
    free(wr);
    conn->writes_pending--;
    if (status < 0) {
        conn_close(conn);
        return;
    }
    conn->progress_ms = monotonic_ms();
    if (conn->no_more_requests && !conn->head && conn->writes_pending == 0) {
        conn_finish(conn);
        return;
    }
    if (conn->writes_pending == 0)
        conn_arm_timer(conn); /* now idle: start counting */
    conn_maybe_resume(conn);  /* reading may have stopped on unsent output */
}

/* Queues bytes for the socket as they are (ciphertext on a TLS
 * connection). */
static int conn_write_raw(connection *conn, const char *data, size_t length)
{
    if (conn->closing)
        return UV_ECONNRESET;
    if (length == 0)
        return 0;
    if (conn->writes_pending == 0) {
        /* Most answers fit the socket's buffer at once: written now, they
         * need no copy, no write request and no callback (and libuv does
         * not touch the epoll set, as it does after every queued write). */
        uv_buf_t now = uv_buf_init((char *)data, (unsigned int)length);
        int n = uv_try_write((uv_stream_t *)&conn->tcp, &now, 1);
        if (n < 0 && n != UV_EAGAIN) {
            conn_close(conn);
            return n;
        }
        if (n > 0) {
            conn->bytes_queued += (size_t)n;
            conn->progress_ms = monotonic_ms();
            data += n;
            length -= (size_t)n;
        }
        if (length == 0)
            return 0;
    }
    write_request *wr = malloc(sizeof *wr + length);
    if (!wr) {
        conn_close(conn);
        return UV_ENOMEM;
    }
    memcpy(wr->data, data, length);
    wr->conn = conn;
    uv_buf_t buf = uv_buf_init(wr->data, (unsigned int)length);
    int rc = uv_write(&wr->req, (uv_stream_t *)&conn->tcp, &buf, 1, conn_on_write);
    if (rc != 0) {
        free(wr);
        conn_close(conn);
        return rc;
    }
    if (conn->writes_pending++ == 0)
        conn->progress_ms = monotonic_ms(); /* output starts moving now */
    conn->bytes_queued += length;
    return 0;
}

/* Queues response bytes, encrypted first on a TLS connection. */
static int conn_write(connection *conn, const char *data, size_t length)
{
    if (!conn->tls || conn->closing || length == 0)
        return conn_write_raw(conn, data, length);
    mcpauth_strbuf cipher = {0};
    if (!mcpauth__http_tls_conn_send(conn->tls, data, length, &cipher)) {
        mcpauth_strbuf_free(&cipher);
        conn_close(conn);
        return UV_EPROTO;
    }
    int rc = conn_write_raw(conn, cipher.data, cipher.length);
    mcpauth_strbuf_free(&cipher);
    return rc;
}

/* Writes what the head exchanges have ready and retires the finished ones. */
static void conn_flush(connection *conn)
{
    while (!conn->closing && conn->head) {
        mcpauth_http_exchange *ex = conn->head;
        if (ex->state == EXCHANGE_PARSING || ex->state == EXCHANGE_WITH_APP)
            break;
        if (ex->out.length > 0) {
            if (conn_write(conn, ex->out.data, ex->out.length) != 0)
                return; /* the connection closed and took ex with it */
            mcpauth_strbuf_free(&ex->out);
        }
        if (ex->state == EXCHANGE_STREAMING)
            break;
        /* Answered: retire it. */
        bool keep_alive = ex->keep_alive;
        conn->head = ex->next;
        if (!conn->head)
            conn->tail = NULL;
        conn->queued--;
        exchange_free(ex);
        if (!keep_alive)
            conn->no_more_requests = true;
    }
    if (conn->closing)
        return;
    if (conn->no_more_requests && !conn->head) {
        conn_finish(conn);
        return;
    }
    conn_maybe_resume(conn);
    conn_arm_timer(conn);
}

static void conn_fail(connection *conn, int status, const char *message);

/* A new exchange at the end of the connection's queue; NULL without memory. */
static mcpauth_http_exchange *exchange_enqueue(connection *conn)
{
    /* Not calloc(): glibc's calloc skips the thread cache malloc uses. */
    mcpauth_http_exchange *ex = malloc(sizeof *ex);
    if (!ex)
        return NULL;
    *ex = (mcpauth_http_exchange){0};
    ex->conn = conn;
    ex->state = EXCHANGE_PARSING;
    ex->start_ns = uv_hrtime();
    if (conn->tail)
        conn->tail->next = ex;
    else
        conn->head = ex;
    conn->tail = ex;
    conn->queued++;
    return ex;
}

/* Response bytes the client's TCP has acknowledged: those written to the
 * socket less those still in its send queue (SIOCOUTQ). A slow reader's
 * progress shows there long before libuv's write queue moves, since the
 * kernel asks for more only once a third of its buffer is free. */
static uint64_t conn_bytes_taken(const connection *conn)
{
    uint64_t written =
        conn->bytes_queued - uv_stream_get_write_queue_size((const uv_stream_t *)&conn->tcp);
    uv_os_fd_t fd;
    int in_kernel = 0;
    if (uv_fileno((const uv_handle_t *)&conn->tcp, &fd) == 0 &&
        ioctl(fd, SIOCOUTQ, &in_kernel) == 0 && in_kernel > 0 && (uint64_t)in_kernel <= written)
        written -= (uint64_t)in_kernel;
    return written;
}

/* The write timeout: unsent output that has not moved for write_timeout_ms
 * belongs to a client that does not read; it would hold its memory until
 * TCP gives up, if ever. Checked a few times per timeout. */
static void conn_check_output(connection *conn)
{
    uint64_t timeout = conn->server->limits.write_timeout_ms;
    uint64_t now = monotonic_ms();
    uint64_t sent = conn_bytes_taken(conn);
    if (sent != conn->sent_mark) {
        conn->sent_mark = sent;
        conn->progress_ms = now;
    }
    if (now - conn->progress_ms >= timeout) {
        server_limit(conn->server, MCPAUTH_HTTP_LIMIT_WRITE_TIMEOUT, conn->peer);
        /* A reset: a plain close would leave the unsent bytes to the
         * kernel, which keeps them until the client reads or TCP gives up. */
        uv_os_fd_t fd;
        struct linger reset = {1, 0};
        if (uv_fileno((const uv_handle_t *)&conn->tcp, &fd) == 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        conn_close(conn);
        return;
    }
    uint64_t left = timeout - (now - conn->progress_ms);
    uint64_t interval = timeout / 4 > 0 ? timeout / 4 : 1;
    uv_timer_start(&conn->timer, conn_on_timeout, left < interval ? left : interval, 0);
}

static void server_flush_all(mcpauth_http_server *server)
{
    while (server->flush_list) {
        connection *conn = server->flush_list;
        conn_flush_cancel(conn);
        conn_flush(conn);
    }
    uv_check_stop(&server->flush_check);
    uv_idle_stop(&server->flush_idle);
}

static void server_on_flush_check(uv_check_t *check)
{
    server_flush_all(check->data);
}

static void server_on_flush_idle(uv_idle_t *idle)
{
    server_flush_all(idle->data);
}

/* Writes conn's ready answers at the end of this turn of the loop. */
static void conn_flush_later(connection *conn)
{
    if (conn->flush_due || conn->closing)
        return;
    mcpauth_http_server *server = conn->server;
    conn->flush_due = true;
    conn->flush_prev = NULL;
    conn->flush_next = server->flush_list;
    if (server->flush_list)
        server->flush_list->flush_prev = conn;
    else {
        uv_check_start(&server->flush_check, server_on_flush_check);
        uv_idle_start(&server->flush_idle, server_on_flush_idle);
    }
    server->flush_list = conn;
}

static void conn_on_timeout(uv_timer_t *timer)
{
    connection *conn = timer->data;
    if (conn->write_watch) {
        conn_check_output(conn);
        return;
    }
    if (conn->parsing && !conn->no_more_requests) {
        /* Slow-loris or a stalled body: answer 408 in order, then close. */
        conn_fail(conn, 408, "request timeout");
        return;
    }
    conn_close(conn);
}

static void conn_arm_timer(connection *conn)
{
    if (conn->closing)
        return;
    const mcpauth_http_server_limits *l = &conn->server->limits;
    uint64_t timeout = 0;
    if (conn->tls && !mcpauth__http_tls_conn_ready(conn->tls)) {
        /* The handshake gets the header timeout, counted from the accept:
         * a client that stalls in it holds a connection like a slow-loris
         * request would. */
        if (uv_is_active((uv_handle_t *)&conn->timer) && !conn->write_watch)
            return;
        conn->write_watch = false;
        uint64_t elapsed = (uv_hrtime() - conn->accepted_ns) / 1000000;
        timeout = l->header_timeout_ms;
        uv_timer_start(&conn->timer, conn_on_timeout, elapsed >= timeout ? 1 : timeout - elapsed,
                       0);
        return;
    }
    if (conn->parsing && conn->in_body)
        timeout = l->body_timeout_ms;
    else if (conn->parsing)
        timeout = l->header_timeout_ms;
    else if (conn->writes_pending > 0 && l->write_timeout_ms > 0) {
        /* Counted from the last progress, not from the last write: new
         * output does not keep a stuck connection alive. */
        if (conn->write_watch && uv_is_active((uv_handle_t *)&conn->timer))
            return;
        conn->write_watch = true;
        conn_check_output(conn);
        return;
    } else if (!conn->head && conn->writes_pending == 0)
        timeout = l->idle_timeout_ms;
    conn->write_watch = false;
    if (timeout == 0) {
        uv_timer_stop(&conn->timer);
        return;
    }
    /* The header and body deadlines run from the request's start, not from
     * the last byte, so trickling bytes does not keep a request alive. */
    if (conn->parsing) {
        uint64_t elapsed = (uv_hrtime() - conn->parsing->start_ns) / 1000000;
        timeout = elapsed >= timeout ? 1 : timeout - elapsed;
        if (uv_is_active((uv_handle_t *)&conn->timer))
            return;
    }
    uv_timer_start(&conn->timer, conn_on_timeout, timeout, 0);
}

/* Ends the connection's request stream with an error response (in order
 * behind anything already queued), then closes it. */
static void conn_fail(connection *conn, int status, const char *message)
{
    mcpauth_http_exchange *ex = conn->parsing ? conn->parsing : exchange_enqueue(conn);
    if (!ex) {
        conn_close(conn);
        return;
    }
    conn->parsing = NULL;
    mcpauth_http_server *server = conn->server;
    if (server->on_refused) {
        const char *path = ex->path ? ex->path : ex->target.data;
        server->on_refused(status, conn->peer, ex->method[0] ? ex->method : NULL, path, message,
                           ex->start_ns, server->refused_data);
    }
    ex->keep_alive = false;
    ex->head_request = false;
    ex->state = EXCHANGE_ANSWERED;
    mcpauth_strbuf_free(&ex->out);
    mcpauth_http_field type = {"Content-Type", "text/plain"};
    exchange_write_head(ex, conn->server, status, &type, 1, (long long)strlen(message) + 1, "");
    mcpauth_strbuf_appendf(&ex->out, "%s\n", message);
    conn->no_more_requests = true;
    conn_stop_reading(conn);
    conn_flush(conn);
}

/* ---- parsing ---- */

static int on_message_begin(http_parser *parser)
{
    connection *conn = parser->data;
    if (conn->closing)
        return -1;
    if (conn->no_more_requests) {
        /* A request pipelined behind the last one a draining server serves:
         * it was sent before the client could see Connection: close, so it
         * gets an answer saying so rather than a bare close. */
        if (conn->drain_refuse) {
            conn->drain_refuse = false;
            conn_fail(conn, 503, "the server is shutting down");
        }
        return -1;
    }
    mcpauth_http_exchange *ex = exchange_enqueue(conn);
    if (!ex)
        return -1;
    conn->parsing = ex;
    conn->header_bytes = 0;
    conn->in_body = false;
    uv_timer_stop(&conn->timer);
    conn_arm_timer(conn);
    return 0;
}

/* Counts request-line and header bytes against the limit. */
static bool count_header_bytes(connection *conn, size_t length)
{
    conn->header_bytes += length;
    return conn->header_bytes <= conn->server->limits.max_header_bytes;
}

static int on_url(http_parser *parser, const char *at, size_t length)
{
    connection *conn = parser->data;
    if (!count_header_bytes(conn, length))
        return -1;
    mcpauth_strbuf_append(&conn->parsing->target, at, length);
    return 0;
}

/* http_parser may hand a name or a value over in several pieces (one per
 * read); each piece follows the one before in ex->header_text, and a NUL
 * ends a name when its value starts and a value when the next name does. */
static int on_header_field(http_parser *parser, const char *at, size_t length)
{
    connection *conn = parser->data;
    mcpauth_http_exchange *ex = conn->parsing;
    if (!count_header_bytes(conn, length))
        return -1;
    /* A chunked body's trailer section: RFC 9110 §6.5.1 does not let it
     * join the header fields, and nothing here reads it. */
    if (ex->fields_fixed)
        return 0;
    if (ex->field_count == 0 || ex->last_was_value) {
        if (ex->field_count == MAX_HEADER_FIELDS)
            return -1;
        if (ex->field_count == ex->field_capacity) {
            size_t capacity = ex->field_capacity ? 2 * ex->field_capacity : 16;
            header_field *grown = realloc(ex->fields, capacity * sizeof *grown);
            if (!grown)
                return -1;
            ex->fields = grown;
            ex->field_capacity = capacity;
        }
        if (ex->field_count > 0)
            mcpauth_strbuf_append(&ex->header_text, "", 1);
        else if (!mcpauth_strbuf_reserve(&ex->header_text, HEADER_TEXT_RESERVE))
            return -1; /* a usual header in one allocation, not four */
        ex->fields[ex->field_count++] =
            (header_field){.name_at = ex->header_text.length, .value_at = NO_VALUE};
        ex->last_was_value = false;
    }
    mcpauth_strbuf_append(&ex->header_text, at, length);
    return mcpauth_strbuf_failed(&ex->header_text) ? -1 : 0;
}

static int on_header_value(http_parser *parser, const char *at, size_t length)
{
    connection *conn = parser->data;
    mcpauth_http_exchange *ex = conn->parsing;
    if (!count_header_bytes(conn, length))
        return -1;
    if (ex->fields_fixed)
        return 0; /* a trailer's */
    if (ex->field_count == 0)
        return -1;
    header_field *field = &ex->fields[ex->field_count - 1];
    if (field->value_at == NO_VALUE) {
        mcpauth_strbuf_append(&ex->header_text, "", 1);
        field->value_at = ex->header_text.length;
    }
    mcpauth_strbuf_append(&ex->header_text, at, length);
    ex->last_was_value = true;
    return mcpauth_strbuf_failed(&ex->header_text) ? -1 : 0;
}

/* The header is complete: ends the last name or value and points each
 * field at its text. */
static bool exchange_fix_fields(mcpauth_http_exchange *ex)
{
    ex->fields_fixed = true;
    if (ex->field_count == 0)
        return true;
    mcpauth_strbuf_append(&ex->header_text, "", 1);
    if (mcpauth_strbuf_failed(&ex->header_text))
        return false;
    for (size_t i = 0; i < ex->field_count; i++) {
        header_field *field = &ex->fields[i];
        field->name = ex->header_text.data + field->name_at;
        field->name_length = strlen(field->name);
        field->value = field->value_at == NO_VALUE ? "" : ex->header_text.data + field->value_at;
    }
    return true;
}

/* RFC 9110 §5.6.2: tchar. */
static bool is_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if (!is_token_char((unsigned char)*s))
            return false;
    }
    return true;
}

/* RFC 9112 §3.2.2: an absolute-form target ("http://host:port/mcp") is
 * served as its origin-form, and its authority replaces the Host field. */
static bool exchange_take_absolute_form(mcpauth_http_exchange *ex, const char *target)
{
    mcpauth_url url;
    if (mcpauth_url_parse(target, &url, NULL) != MCPAUTH_OK)
        return false;
    bool ok = !url.fragment;
    if (ok) {
        ex->path = strdup(url.path[0] ? url.path : "/");
        ex->query = url.query ? strdup(url.query) : NULL;
        ok = ex->path && (!url.query || ex->query);
    }
    const char *authority = strstr(target, "//") + 2;
    size_t length = strcspn(authority, "/?");
    for (size_t i = 0; ok && i < ex->field_count; i++) {
        if (strcasecmp(ex->fields[i].name, "Host") == 0) {
            if (!ex->host)
                ex->host = strndup(authority, length);
            ok = ex->host != NULL;
            ex->fields[i].value = ex->host;
        }
    }
    mcpauth_url_free(&url);
    return ok;
}

static bool exchange_split_target(mcpauth_http_exchange *ex)
{
    const char *target = ex->target.data ? ex->target.data : "";
    if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0)
        return exchange_take_absolute_form(ex, target);
    const char *q = strchr(target, '?');
    ex->path = q ? strndup(target, (size_t)(q - target)) : strdup(target);
    ex->query = q ? strdup(q + 1) : NULL;
    return ex->path && (!q || ex->query);
}

/* RFC 9112 §3.2: a 1.1 request needs exactly one Host, and any request may
 * carry at most one, with a valid value. */
static bool exchange_host_valid(const mcpauth_http_exchange *ex)
{
    size_t count = mcpauth_http_exchange_header_count(ex, "Host");
    if (count == 0)
        return ex->http_minor == 0;
    mcpauth_url authority;
    if (count > 1 || mcpauth_url_parse_authority(mcpauth_http_exchange_header(ex, "Host", 0),
                                                 &authority, NULL) != MCPAUTH_OK)
        return false;
    mcpauth_url_free(&authority);
    return true;
}

/* The checks http-parser leaves to us: version, field names, Host, and the
 * target's form. Answers and returns false when the request is refused. */
static bool exchange_check_request(connection *conn, mcpauth_http_exchange *ex,
                                   const http_parser *parser)
{
    if (parser->http_major != 1 || parser->http_minor > 1) {
        conn_fail(conn, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
        return false;
    }
    /* RFC 9112 §5.1: no whitespace between a field name and the colon; and
     * a name is a token (RFC 9110 §5.1). */
    for (size_t i = 0; i < ex->field_count; i++) {
        if (!is_token(ex->fields[i].name)) {
            conn_fail(conn, 400, "malformed header field name");
            return false;
        }
    }
    /* No protocol switching (RFC 9110 §7.8) and no tunnels: http-parser
     * would hand us the rest of the stream as another protocol. */
    if (parser->upgrade || parser->method == HTTP_CONNECT) {
        conn_fail(conn, 501, "protocol upgrades and CONNECT are not supported");
        return false;
    }
    if (!exchange_host_valid(ex)) {
        conn_fail(conn, 400, "a request needs one valid Host header field");
        return false;
    }
    if (!exchange_split_target(ex)) {
        conn_fail(conn, 400, "malformed request target");
        return false;
    }
    return true;
}

/* The values of every field named name, in order, into values (at most
 * MAX_HEADER_FIELDS). */
static size_t exchange_values(const mcpauth_http_exchange *ex, const char *name,
                              const char **values)
{
    size_t n = 0;
    for (size_t i = 0; i < ex->field_count; i++) {
        if (strcasecmp(ex->fields[i].name, name) == 0)
            values[n++] = ex->fields[i].value;
    }
    return n;
}

/* Behind a trusted proxy, the client is who its fields say. */
static void exchange_find_client(connection *conn, mcpauth_http_exchange *ex)
{
    const mcpauth_http_proxies *proxies = conn->server->proxies;
    if (!proxies || proxies->count == 0 || !mcpauth_http_proxies_trust(proxies, conn->peer))
        return;
    const char *forwarded[MAX_HEADER_FIELDS], *forwarded_for[MAX_HEADER_FIELDS],
        *forwarded_proto[MAX_HEADER_FIELDS];
    mcpauth_http_forwarded_fields fields = {
        .forwarded = forwarded,
        .forwarded_count = exchange_values(ex, "Forwarded", forwarded),
        .forwarded_for = forwarded_for,
        .forwarded_for_count = exchange_values(ex, "X-Forwarded-For", forwarded_for),
        .forwarded_proto = forwarded_proto,
        .forwarded_proto_count = exchange_values(ex, "X-Forwarded-Proto", forwarded_proto),
    };
    if (!mcpauth_http_forwarded_client(proxies, conn->peer, &fields, ex->client,
                                       &ex->forwarded_scheme))
        ex->client[0] = '\0';
}

static int on_headers_complete(http_parser *parser)
{
    connection *conn = parser->data;
    mcpauth_http_exchange *ex = conn->parsing;
    if (!exchange_fix_fields(ex))
        return -1;
    const char *method = http_method_str(parser->method);
    size_t method_length = strnlen(method, sizeof ex->method - 1);
    memcpy(ex->method, method, method_length);
    ex->method[method_length] = '\0';
    ex->head_request = parser->method == HTTP_HEAD;
    ex->http_minor = parser->http_minor;
    if (mcpauth_strbuf_failed(&ex->target))
        return -1;
    if (!exchange_check_request(conn, ex, parser))
        return -1;
    exchange_find_client(conn, ex);
    if (parser->content_length != ULLONG_MAX &&
        parser->content_length > conn->server->limits.max_body_bytes) {
        conn_fail(conn, 413, "request body too large");
        return -1;
    }
    /* The body's room at once, not grown as it comes; a declared length is
     * only a claim, so at most BODY_RESERVE ahead of the bytes. */
    if (parser->content_length != ULLONG_MAX && parser->content_length > 0 &&
        !mcpauth_strbuf_reserve(&ex->body, parser->content_length < BODY_RESERVE
                                               ? (size_t)parser->content_length
                                               : BODY_RESERVE))
        return -1;
    conn->in_body = true;
    uv_timer_stop(&conn->timer);
    conn_arm_timer(conn);
    /* RFC 9110 §10.1.1: a client waiting for 100 Continue gets it only when
     * we will read the body now (this request is at the head). */
    const char *expect = mcpauth_http_exchange_header(ex, "Expect", 0);
    if (expect && strcasecmp(expect, "100-continue") == 0 && conn->head == ex &&
        parser->http_minor >= 1) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (conn_write(conn, cont, sizeof cont - 1) != 0)
            return -1;
    }
    return 0;
}

static int on_body(http_parser *parser, const char *at, size_t length)
{
    connection *conn = parser->data;
    mcpauth_http_exchange *ex = conn->parsing;
    if (ex->body.length + length > conn->server->limits.max_body_bytes) {
        conn_fail(conn, 413, "request body too large");
        return -1;
    }
    mcpauth_strbuf_append(&ex->body, at, length);
    return mcpauth_strbuf_failed(&ex->body) ? -1 : 0;
}

static int on_message_complete(http_parser *parser)
{
    connection *conn = parser->data;
    mcpauth_http_exchange *ex = conn->parsing;
    conn->parsing = NULL;
    conn->in_body = false;
    bool client_keep_alive = http_should_keep_alive(parser);
    ex->keep_alive = client_keep_alive && !conn->server->draining;
    if (!ex->keep_alive) {
        conn->no_more_requests = true;
        conn->drain_refuse = client_keep_alive;
    }
    ex->state = EXCHANGE_WITH_APP;
    uv_timer_stop(&conn->timer);
    /* Back-pressure: stop parsing once the queue is full; what is left of
     * this read is stashed and parsed when answers drain the queue. */
    if (conn->queued >= conn->server->limits.max_pipelined)
        http_parser_pause(parser, 1);
    conn->server->on_request(ex, conn->server->data);
    /* The application may have closed the connection or the server. */
    if (conn->closing)
        return -1;
    /* And the same while the answers pile up unread. */
    if (conn_output_full(conn)) {
        conn_hold_for_output(conn);
        http_parser_pause(parser, 1);
    }
    return 0;
}

static void conn_stash(connection *conn, const char *data, size_t length)
{
    if (length > 0) {
        conn->stash = malloc(length);
        if (!conn->stash) {
            conn_close(conn);
            return;
        }
        memcpy(conn->stash, data, length);
        conn->stash_length = length;
    }
    conn_stop_reading(conn);
}

static void conn_parse_error(connection *conn)
{
    if (conn->no_more_requests && !conn->parsing)
        return; /* stopped on purpose: after Connection: close, or already answered */
    if (conn->parsing && conn->header_bytes > conn->server->limits.max_header_bytes)
        conn_fail(conn, 431, "request header fields too large");
    else if (conn->parsing && conn->parsing->field_count == MAX_HEADER_FIELDS)
        conn_fail(conn, 431, "too many header fields");
    else
        conn_fail(conn, 400, "malformed HTTP request");
}

/* Feeds bytes to the parser. A pause (full queue) that the application
 * has already relieved is lifted at once; otherwise what is left is stashed
 * and reading stops until conn_maybe_resume(). */
static void conn_parse(connection *conn, const char *data, size_t length)
{
    conn->in_parse = true;
    while (!conn->closing) {
        size_t parsed = http_parser_execute(&conn->parser, &parser_settings, data, length);
        if (conn->closing)
            break;
        enum http_errno err = HTTP_PARSER_ERRNO(&conn->parser);
        if (err == HPE_PAUSED) {
            data += parsed;
            length -= parsed;
            /* Draining: what follows is a request to refuse with 503. */
            bool refuse = conn->drain_refuse && length > 0;
            if (refuse || (conn->queued < conn->server->limits.max_pipelined &&
                           !conn->no_more_requests && !conn_output_full(conn))) {
                http_parser_pause(&conn->parser, 0);
                if (length > 0)
                    continue;
                break;
            }
            conn_stash(conn, data, length);
            break;
        }
        if (err != HPE_OK || conn->parser.upgrade)
            conn_parse_error(conn);
        break;
    }
    conn->in_parse = false;
}

static void conn_on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    mcpauth_http_server *server = ((connection *)handle->data)->server;
    if (!server->read_buffer_busy && server->read_buffer) {
        server->read_buffer_busy = true;
        buf->base = server->read_buffer;
    } else {
        buf->base = malloc(READ_BUFFER_SIZE);
    }
    buf->len = buf->base ? READ_BUFFER_SIZE : 0;
}

/* The client closed its sending side. RFC 9112 §9.6: a client may do so
 * right after its request, and still reads the answer; so every request
 * received is answered, immediate or not, and then the connection closes.
 * (A client that closed both sides shows when a write fails.) A stream
 * under way has no end to wait for: a client that sends FIN then has gone,
 * and the stream is aborted at once, as are a reset and a request cut
 * short. */
static void conn_on_eof(connection *conn, ssize_t status)
{
    bool gone = status != UV_EOF || conn->parsing;
    for (mcpauth_http_exchange *ex = conn->head; ex && !gone; ex = ex->next)
        gone = ex->state == EXCHANGE_STREAMING;
    if (gone) {
        conn_close(conn);
        return;
    }
    conn->no_more_requests = true;
    conn->drain_refuse = false;
    conn_stop_reading(conn);
    for (mcpauth_http_exchange *ex = conn->head; ex; ex = ex->next) {
        if (ex->state == EXCHANGE_WITH_APP)
            ex->keep_alive = false; /* its answer says Connection: close */
    }
    if (!conn->head)
        conn_finish(conn);
}

/* Plain HTTP sent to the TLS port: a client (or a user with curl) that
 * meant https. Answered in plain HTTP, which it can read, then closed. */
static void conn_refuse_plain(connection *conn)
{
    static const char body[] = "This port speaks HTTPS: use an https:// URL.\n";
    char answer[256];
    int n = snprintf(answer, sizeof answer,
                     "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                     "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
                     sizeof body - 1, body);
    mcpauth_http_server *server = conn->server;
    if (server->on_refused)
        server->on_refused(400, conn->peer, NULL, NULL, "plain HTTP sent to the TLS port",
                           conn->accepted_ns, server->refused_data);
    mcpauth__http_tls_conn_free(conn->tls);
    conn->tls = NULL; /* no TLS session to close */
    conn->no_more_requests = true;
    conn_stop_reading(conn);
    if (conn_write_raw(conn, answer, (size_t)n) == 0)
        conn_finish(conn);
}

/* A read on a TLS connection: the handshake, then the requests' plaintext
 * to the parser. A failed handshake or record has no one to answer. */
static void conn_on_tls_read(connection *conn, const char *data, size_t length)
{
    bool was_ready = mcpauth__http_tls_conn_ready(conn->tls);
    mcpauth_strbuf plain = {0}, out = {0};
    mcpauth__http_tls_result result =
        mcpauth__http_tls_conn_input(conn->tls, data, length, &plain, &out);
    if (result == MCPAUTH__HTTP_TLS_NOT_TLS) {
        conn_refuse_plain(conn);
        return;
    }
    int rc = conn_write_raw(conn, out.data, out.length);
    mcpauth_strbuf_free(&out);
    if (rc == 0 && result == MCPAUTH__HTTP_TLS_FAILED && !was_ready) {
        /* A refused handshake: the alert GnuTLS wrote goes out first. */
        conn->no_more_requests = true;
        conn_stop_reading(conn);
        conn_finish(conn);
    } else if (rc == 0 && result == MCPAUTH__HTTP_TLS_FAILED) {
        conn_close(conn);
    }
    if (rc == 0 && result != MCPAUTH__HTTP_TLS_FAILED) {
        if (!was_ready && mcpauth__http_tls_conn_ready(conn->tls)) {
            uv_timer_stop(&conn->timer); /* from the handshake's deadline to idle */
            conn_arm_timer(conn);
        }
        if (plain.length > 0)
            conn_parse(conn, plain.data, plain.length);
        if (result == MCPAUTH__HTTP_TLS_CLOSED && !conn->closing)
            conn_on_eof(conn, UV_EOF);
    }
    mcpauth_strbuf_free(&plain);
}

static void conn_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    connection *conn = stream->data;
    /* Closing frees the connection and the server in later callbacks only. */
    mcpauth_http_server *server = conn->server;
    if (nread > 0 && conn->tls)
        conn_on_tls_read(conn, buf->base, (size_t)nread);
    else if (nread > 0)
        conn_parse(conn, buf->base, (size_t)nread);
    else if (nread < 0)
        conn_on_eof(conn, nread);
    if (buf->base && buf->base == server->read_buffer)
        server->read_buffer_busy = false;
    else
        free(buf->base);
}

static void conn_maybe_resume(connection *conn)
{
    /* Inside the parser, conn_parse() itself lifts the pause. */
    if (conn->closing || conn->no_more_requests || conn->reading || conn->in_parse)
        return;
    if (conn_output_full(conn)) {
        conn_hold_for_output(conn);
        return;
    }
    conn->output_held = false;
    if (conn->queued >= conn->server->limits.max_pipelined)
        return;
    if (HTTP_PARSER_ERRNO(&conn->parser) == HPE_PAUSED)
        http_parser_pause(&conn->parser, 0);
    if (conn->stash) {
        char *stash = conn->stash;
        size_t length = conn->stash_length;
        conn->stash = NULL;
        conn->stash_length = 0;
        conn_parse(conn, stash, length);
        free(stash);
        if (conn->closing || conn->stash || conn->no_more_requests)
            return;
        if (HTTP_PARSER_ERRNO(&conn->parser) == HPE_PAUSED)
            return;
    }
    if (uv_read_start((uv_stream_t *)&conn->tcp, conn_on_alloc, conn_on_read) == 0)
        conn->reading = true;
}

/* ---- accepting ---- */

static void server_add_connection(mcpauth_http_server *server, int fd)
{
    connection *conn = calloc(1, sizeof *conn);
    if (!conn) {
        close(fd);
        return;
    }
    conn->server = server;
    uv_tcp_init(server->loop, &conn->tcp);
    uv_timer_init(server->loop, &conn->timer);
    conn->tcp.data = conn->timer.data = conn;
    server->handles_open += 2;
    conn->next = server->connections;
    if (conn->next)
        conn->next->prev = conn;
    server->connections = conn;
    server->connection_count++;
    conn->accepted_ns = uv_hrtime();
    if (uv_tcp_open(&conn->tcp, fd) != 0) {
        close(fd);
        conn_close(conn);
        return;
    }
    if (server->tls &&
        (server->connection_count > server->limits.max_connections || server->draining)) {
        /* Before a handshake there is no way to say 503: just close. */
        if (server->on_refused)
            server->on_refused(503, "-", NULL, NULL, "too many connections", uv_hrtime(),
                               server->refused_data);
        conn_close(conn);
        return;
    }
    if (server->connection_count > server->limits.max_connections || server->draining) {
        static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
                                   "Retry-After: 1\r\nContent-Length: 0\r\n\r\n";
        if (server->on_refused)
            server->on_refused(503, "-", NULL, NULL, "too many connections", uv_hrtime(),
                               server->refused_data);
        conn->no_more_requests = true;
        conn_write(conn, busy, sizeof busy - 1);
        conn_finish(conn);
        return;
    }
    struct sockaddr_storage addr;
    int length = sizeof addr;
    if (uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&addr, &length) == 0) {
        if (addr.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&addr, conn->peer, sizeof conn->peer);
        else
            uv_ip4_name((struct sockaddr_in *)&addr, conn->peer, sizeof conn->peer);
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    if (server->tls && !(conn->tls = mcpauth__http_tls_conn_new(server->tls))) {
        conn_close(conn);
        return;
    }
    http_parser_init(&conn->parser, HTTP_REQUEST);
    conn->parser.data = conn;
    if (uv_read_start((uv_stream_t *)&conn->tcp, conn_on_alloc, conn_on_read) != 0) {
        conn_close(conn);
        return;
    }
    conn->reading = true;
    conn_arm_timer(conn);
}

static void server_on_listener(uv_poll_t *handle, int status, int events);

static void server_on_accept_timer(uv_timer_t *timer)
{
    mcpauth_http_server *server = timer->data;
    if (server->listening)
        uv_poll_start(&server->listener, UV_READABLE, server_on_listener);
}

/* Out of file descriptors with a client waiting: the descriptor held in
 * reserve is given up for a moment, to accept the client, tell it 503 and
 * close, then taken back (the way nginx and libuv's documentation suggest).
 * Without a reserve, accepting pauses briefly instead of spinning. */
static bool server_refuse_without_descriptor(mcpauth_http_server *server)
{
    if (server->reserve_fd < 0)
        server->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (server->reserve_fd < 0) {
        uv_poll_stop(&server->listener);
        uv_timer_start(&server->accept_timer, server_on_accept_timer, ACCEPT_RETRY_MS, 0);
        return false;
    }
    close(server->reserve_fd);
    server->reserve_fd = -1;
    struct sockaddr_storage addr;
    socklen_t length = sizeof addr;
    int fd = accept4(server->listen_fd, (struct sockaddr *)&addr, &length, SOCK_CLOEXEC);
    if (fd >= 0) {
        static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
                                   "Retry-After: 1\r\nContent-Length: 0\r\n\r\n";
        /* A TLS client could not read it: it only sees the close. */
        if (!server->tls)
            (void)!send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        shutdown(fd, SHUT_WR);
        /* Unread request bytes would turn the close into a reset, which
         * may destroy the 503 before the client reads it. */
        char discard[4096];
        (void)!recv(fd, discard, sizeof discard, MSG_DONTWAIT);
        close(fd);
        char peer[64] = "-";
        if (addr.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&addr, peer, sizeof peer);
        else if (addr.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&addr, peer, sizeof peer);
        server_limit(server, MCPAUTH_HTTP_LIMIT_FILE_DESCRIPTORS, peer);
    }
    server->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd >= 0;
}

static void server_on_listener(uv_poll_t *handle, int status, int events)
{
    (void)events;
    mcpauth_http_server *server = handle->data;
    if (status < 0 || server->closing)
        return;
    for (int i = 0; i < ACCEPTS_PER_WAKE && server->listening; i++) {
        int fd = accept4(server->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            server_add_connection(server, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if ((errno == EMFILE || errno == ENFILE) && server_refuse_without_descriptor(server))
            continue;
        return; /* EAGAIN: none left; anything else: the next wake-up retries */
    }
}

/* ---- public: server ---- */

void mcpauth_http_server_limits_init(mcpauth_http_server_limits *limits)
{
    limits->max_header_bytes = 16 * 1024;
    limits->max_body_bytes = 1024 * 1024;
    limits->max_connections = 10000;
    limits->max_pipelined = 16;
    limits->header_timeout_ms = 10000;
    limits->body_timeout_ms = 30000;
    limits->idle_timeout_ms = 60000;
    limits->max_output_bytes = 1024 * 1024;
    limits->write_timeout_ms = 60000;
}

int mcpauth_http_server_new(uv_loop_t *loop, const mcpauth_http_server_limits *limits,
                            mcpauth_http_request_cb on_request, void *data,
                            mcpauth_http_server **out)
{
    http_parser_settings_init(&parser_settings);
    parser_settings.on_message_begin = on_message_begin;
    parser_settings.on_url = on_url;
    parser_settings.on_header_field = on_header_field;
    parser_settings.on_header_value = on_header_value;
    parser_settings.on_headers_complete = on_headers_complete;
    parser_settings.on_body = on_body;
    parser_settings.on_message_complete = on_message_complete;

    mcpauth_http_server *server = calloc(1, sizeof *server);
    if (!server)
        return UV_ENOMEM;
    server->loop = loop;
    server->limits = *limits;
    if (server->limits.max_pipelined == 0)
        server->limits.max_pipelined = 1;
    server->on_request = on_request;
    server->data = data;
    server->port = -1;
    server->listen_fd = -1;
    server->reserve_fd = -1;
    server->read_buffer = malloc(READ_BUFFER_SIZE); /* NULL: a buffer per read */
    uv_check_init(loop, &server->flush_check);
    uv_idle_init(loop, &server->flush_idle);
    server->flush_check.data = server->flush_idle.data = server;
    server->handles_open = 2;
    *out = server;
    return 0;
}

static void server_learn_port(mcpauth_http_server *server)
{
    struct sockaddr_storage addr;
    socklen_t length = sizeof addr;
    if (getsockname(server->listen_fd, (struct sockaddr *)&addr, &length) == 0)
        server->port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                        : ((struct sockaddr_in *)&addr)->sin_port);
}

/* Polls fd, a listening socket the server now owns. */
static int server_listen_fd(mcpauth_http_server *server, int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    int rc = uv_poll_init_socket(server->loop, &server->listener, fd);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    uv_timer_init(server->loop, &server->accept_timer);
    server->listener.data = server->accept_timer.data = server;
    server->handles_open += 2;
    server->listen_fd = fd;
    server->listening = true;
    server->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    server_learn_port(server);
    return uv_poll_start(&server->listener, UV_READABLE, server_on_listener);
}

int mcpauth_http_server_listen(mcpauth_http_server *server, const char *host, int port,
                               bool reuse_port)
{
    struct sockaddr_storage addr;
    int rc = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr)
                               : uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
    if (rc != 0)
        return rc;
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int on = 1;
    socklen_t length =
        addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) ||
        bind(fd, (const struct sockaddr *)&addr, length) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return server_listen_fd(server, fd);
}

void mcpauth_http_server_on_limit(mcpauth_http_server *server, mcpauth_http_limit_cb cb, void *data)
{
    server->on_limit = cb;
    server->limit_data = data;
}

void mcpauth_http_server_on_refused(mcpauth_http_server *server, mcpauth_http_refused_cb cb,
                                    void *data)
{
    server->on_refused = cb;
    server->refused_data = data;
}

void mcpauth_http_server_use_tls(mcpauth_http_server *server, mcpauth_http_tls *tls)
{
    server->tls = tls;
}

void mcpauth_http_server_trust_proxies(mcpauth_http_server *server,
                                       const mcpauth_http_proxies *proxies)
{
    server->proxies = proxies;
}

int mcpauth_http_server_port(const mcpauth_http_server *server)
{
    return server->port;
}

size_t mcpauth_http_server_connection_count(const mcpauth_http_server *server)
{
    return server->connection_count;
}

/* The close callback of the server's own handles. */
static void server_on_handle_closed(uv_handle_t *handle)
{
    server_release_handle(handle->data, 1);
}

static void server_stop_listening(mcpauth_http_server *server)
{
    if (!server->listening)
        return;
    server->listening = false;
    uv_close((uv_handle_t *)&server->listener, server_on_handle_closed);
    uv_close((uv_handle_t *)&server->accept_timer, server_on_handle_closed);
    /* Closing the handle stopped the polling: the descriptors can go. */
    close(server->listen_fd);
    server->listen_fd = -1;
    if (server->reserve_fd >= 0)
        close(server->reserve_fd);
    server->reserve_fd = -1;
}

/* Whether the client has sent bytes not read yet: a request under way. */
static bool conn_input_waiting(const connection *conn)
{
    uv_os_fd_t fd;
    char byte;
    return uv_fileno((const uv_handle_t *)&conn->tcp, &fd) == 0 &&
           recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* Ends a connection's request stream for a draining server, between
 * requests only: a request under way is read and answered (its answer says
 * Connection: close), and one already read behind the answers in progress
 * gets 503. */
static void conn_drain(connection *conn)
{
    if (conn->closing || conn->no_more_requests || conn->parsing)
        return; /* ending already; or a request arriving, answered with close */
    if (!conn->head) {
        if (conn_input_waiting(conn))
            return; /* the next request is here: it is read and answered */
        conn->no_more_requests = true;
        conn_finish(conn); /* idle, or still writing its last answer */
        return;
    }
    conn->no_more_requests = true;
    conn->drain_refuse = true;
    if (conn->stash) {
        conn->drain_refuse = false;
        conn_fail(conn, 503, "the server is shutting down");
    }
}

void mcpauth_http_server_drain(mcpauth_http_server *server)
{
    server_flush_all(server); /* answers given go out as they were made */
    server->draining = true;
    server_stop_listening(server);
    connection *conn = server->connections;
    while (conn) {
        connection *next = conn->next;
        conn_drain(conn);
        conn = next;
    }
}

void mcpauth_http_server_close(mcpauth_http_server *server, mcpauth_http_server_closed_cb closed_cb,
                               void *data)
{
    server->closing = true;
    server->closed_cb = closed_cb;
    server->closed_data = data;
    server_flush_all(server); /* answers given before the close go out */
    server_stop_listening(server);
    while (server->connections)
        conn_close(server->connections);
    uv_close((uv_handle_t *)&server->flush_check, server_on_handle_closed);
    uv_close((uv_handle_t *)&server->flush_idle, server_on_handle_closed);
}

/* ---- public: exchanges ---- */

const char *mcpauth_http_exchange_method(const mcpauth_http_exchange *ex)
{
    return ex->method;
}

const char *mcpauth_http_exchange_path(const mcpauth_http_exchange *ex)
{
    return ex->path;
}

const char *mcpauth_http_exchange_query(const mcpauth_http_exchange *ex)
{
    return ex->query;
}

const char *mcpauth_http_exchange_header(const mcpauth_http_exchange *ex, const char *name,
                                         size_t index)
{
    size_t length = strlen(name);
    for (size_t i = 0; i < ex->field_count; i++) {
        const header_field *field = &ex->fields[i];
        if (field->name && field->name_length == length && strcasecmp(field->name, name) == 0 &&
            index-- == 0)
            return field->value;
    }
    return NULL;
}

bool mcpauth_http_exchange_field(const mcpauth_http_exchange *ex, size_t index, const char **name,
                                 const char **value)
{
    /* Every field has its name once the header is complete, none before. */
    if (index >= ex->field_count || !ex->fields[index].name)
        return false;
    *name = ex->fields[index].name;
    *value = ex->fields[index].value;
    return true;
}

size_t mcpauth_http_exchange_header_count(const mcpauth_http_exchange *ex, const char *name)
{
    size_t n = 0;
    size_t length = strlen(name);
    for (size_t i = 0; i < ex->field_count; i++) {
        const header_field *field = &ex->fields[i];
        n += field->name && field->name_length == length && strcasecmp(field->name, name) == 0;
    }
    return n;
}

const char *mcpauth_http_exchange_body(const mcpauth_http_exchange *ex, size_t *length)
{
    *length = ex->body.length;
    return ex->body.data ? ex->body.data : "";
}

const char *mcpauth_http_exchange_peer(const mcpauth_http_exchange *ex)
{
    return ex->conn ? ex->conn->peer : "-";
}

bool mcpauth_http_exchange_tls(const mcpauth_http_exchange *ex)
{
    return ex->conn && ex->conn->tls;
}

const char *mcpauth_http_exchange_client(const mcpauth_http_exchange *ex)
{
    return ex->client[0] ? ex->client : mcpauth_http_exchange_peer(ex);
}

const char *mcpauth_http_exchange_scheme(const mcpauth_http_exchange *ex)
{
    if (ex->forwarded_scheme)
        return ex->forwarded_scheme;
    return mcpauth_http_exchange_tls(ex) ? "https" : "http";
}

uint64_t mcpauth_http_exchange_start_ns(const mcpauth_http_exchange *ex)
{
    return ex->start_ns;
}

void mcpauth_http_exchange_on_abort(mcpauth_http_exchange *ex, mcpauth_http_abort_cb cb, void *data)
{
    ex->on_abort = cb;
    ex->abort_data = data;
}

void mcpauth_http_respond(mcpauth_http_exchange *ex, int status, const mcpauth_http_field *fields,
                          size_t field_count, const char *body, size_t length)
{
    if (!ex->conn) {
        exchange_free(ex); /* the client left; nothing to send */
        return;
    }
    /* RFC 9110 §8.6: no Content-Length on 1xx and 204; 304 has no body. */
    bool bodiless = status < 200 || status == 204 || status == 304;
    /* The whole answer in one allocation: status line, Date, framing and
     * Connection take under 128 bytes. */
    size_t size = 128 + (body ? length : 0);
    for (size_t i = 0; i < field_count; i++)
        size += (fields[i].name ? strlen(fields[i].name) : 0) +
                (fields[i].value ? strlen(fields[i].value) : 0) + 4;
    mcpauth_strbuf_reserve(&ex->out, size);
    exchange_write_head(ex, ex->conn->server, status, fields, field_count,
                        bodiless ? -1 : (long long)(body ? length : 0), "");
    if (body && !ex->head_request && !bodiless)
        mcpauth_strbuf_append(&ex->out, body, length);
    ex->state = EXCHANGE_ANSWERED;
    if (mcpauth_strbuf_failed(&ex->out)) {
        conn_close(ex->conn);
        return;
    }
    conn_flush_later(ex->conn);
}

void mcpauth_http_stream_start(mcpauth_http_exchange *ex, int status,
                               const mcpauth_http_field *fields, size_t field_count)
{
    if (!ex->conn) {
        ex->state = EXCHANGE_STREAMING;
        return;
    }
    /* HTTP/1.0 has no chunked coding: the end of the stream is the end of
     * the connection. */
    ex->chunked = ex->http_minor >= 1;
    if (!ex->chunked)
        ex->keep_alive = false;
    exchange_write_head(ex, ex->conn->server, status, fields, field_count, -1,
                        ex->chunked ? "Transfer-Encoding: chunked\r\n" : "");
    ex->state = EXCHANGE_STREAMING;
    conn_flush(ex->conn);
}

int mcpauth_http_stream_write(mcpauth_http_exchange *ex, const char *data, size_t length)
{
    if (!ex->conn)
        return UV_ECONNRESET;
    if (length == 0 || ex->head_request)
        return 0;
    if (conn_output_full(ex->conn)) {
        server_limit(ex->conn->server, MCPAUTH_HTTP_LIMIT_STREAM_OUTPUT, ex->conn->peer);
        return UV_ENOBUFS;
    }
    if (ex->chunked)
        mcpauth_strbuf_appendf(&ex->out, "%zx\r\n", length);
    mcpauth_strbuf_append(&ex->out, data, length);
    if (ex->chunked)
        mcpauth_strbuf_append(&ex->out, "\r\n", 2);
    if (mcpauth_strbuf_failed(&ex->out)) {
        conn_close(ex->conn);
        return UV_ENOMEM;
    }
    if (ex->conn->head == ex)
        conn_flush(ex->conn);
    return 0;
}

size_t mcpauth_http_stream_pending(const mcpauth_http_exchange *ex)
{
    return ex->conn ? conn_unsent(ex->conn) : 0;
}

void mcpauth_http_stream_end(mcpauth_http_exchange *ex)
{
    if (!ex->conn) {
        exchange_free(ex);
        return;
    }
    if (ex->chunked && !ex->head_request)
        mcpauth_strbuf_append(&ex->out, "0\r\n\r\n", 5);
    ex->state = EXCHANGE_ANSWERED;
    conn_flush(ex->conn);
}

/* ---- internal: for the tests (http_internal.h) ---- */

int mcpauth__http_server_listen_socket(mcpauth_http_server *server, uv_os_sock_t sock)
{
    return server_listen_fd(server, sock);
}

const char *mcpauth__http_exchange_target(const mcpauth_http_exchange *ex)
{
    return ex->target.data ? ex->target.data : "";
}

bool mcpauth__http_exchange_aborted(const mcpauth_http_exchange *ex)
{
    return ex->aborted;
}
