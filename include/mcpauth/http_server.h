/* An HTTP/1.1 server on a libuv loop, parsing with http-parser.
 *
 * The server owns connections; each parsed request becomes an exchange that
 * is handed to the request callback and stays alive until the application
 * answers it, which may be much later (after an introspection call), or
 * streams to it (Server-Sent Events). Requests pipelined on one connection
 * are answered in order. Every limit is explicit: header and body bytes,
 * open connections, requests in flight per connection, unsent output per
 * connection, and the header, idle and write timeouts that stop slow-loris
 * clients and clients that never read. A request over a limit gets the
 * matching 4xx/5xx and, when the stream cannot be trusted any more, the
 * connection is closed; the server itself is never affected. Out of file
 * descriptors, a new client still gets a 503 (one descriptor is held in
 * reserve for that) instead of a reset.
 *
 * Nothing here blocks; every function must be called on the loop's thread.
 */
#ifndef MCPAUTH_HTTP_SERVER_H
#define MCPAUTH_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "mcpauth/http_forwarded.h"
#include "mcpauth/http_tls.h"

typedef struct mcpauth_http_server mcpauth_http_server;
typedef struct mcpauth_http_exchange mcpauth_http_exchange;

typedef struct mcpauth_http_server_limits {
    size_t max_header_bytes;    /* request line + headers; 431 past it (16 KiB) */
    size_t max_body_bytes;      /* 413 past it (1 MiB) */
    size_t max_connections;     /* further connections are closed at once (10000) */
    size_t max_pipelined;       /* requests read ahead per connection (16) */
    uint64_t header_timeout_ms; /* a request's headers must arrive within (10000) */
    uint64_t body_timeout_ms;   /* and its body within (30000) */
    uint64_t idle_timeout_ms;   /* keep-alive connection with nothing to do (60000) */
    size_t max_output_bytes;    /* unsent response bytes per connection before reading
                                   stops and stream writes are refused (1 MiB) */
    uint64_t write_timeout_ms;  /* unsent output that has not moved this long: the
                                   connection is closed (60000) */
} mcpauth_http_server_limits;

void mcpauth_http_server_limits_init(mcpauth_http_server_limits *limits);

/* One response header: name and value, both borrowed for the call. */
typedef struct mcpauth_http_field {
    const char *name;
    const char *value;
} mcpauth_http_field;

/* Called once per complete request, on the loop. The callback must
 * eventually answer ex with mcpauth_http_respond() or a stream. */
typedef void (*mcpauth_http_request_cb)(mcpauth_http_exchange *ex, void *data);

/* Called when the connection of an unanswered or streaming exchange goes
 * away: a reset, a failed write, the server closing. The client's FIN ends
 * streams only: a client that half-closes after its request still gets
 * the answer (RFC 9112 §9.6). ex stays valid until the application answers
 * or ends it (which then does nothing but free it). */
typedef void (*mcpauth_http_abort_cb)(mcpauth_http_exchange *ex, void *data);

typedef void (*mcpauth_http_server_closed_cb)(mcpauth_http_server *server, void *data);

/* Called when the server itself answers a request without the application
 * (400 malformed, 408 timeout, 413, 431, 501, 505, 503 too many connections
 * or shutting down), so
 * the application can log and count it. method and path are NULL when they
 * were not read yet; everything is borrowed for the call. */
typedef void (*mcpauth_http_refused_cb)(int status, const char *peer, const char *method,
                                        const char *path, const char *reason, uint64_t start_ns,
                                        void *data);

/* The limits that act without an answer to count them by: see
 * mcpauth_http_server_on_limit(). */
typedef enum mcpauth_http_limit {
    MCPAUTH_HTTP_LIMIT_OUTPUT,           /* reading paused: unsent output over the bound */
    MCPAUTH_HTTP_LIMIT_STREAM_OUTPUT,    /* a stream write refused for the same reason */
    MCPAUTH_HTTP_LIMIT_WRITE_TIMEOUT,    /* closed: output did not move for the write timeout */
    MCPAUTH_HTTP_LIMIT_FILE_DESCRIPTORS, /* accept failed (EMFILE, ENFILE): 503 and closed */
} mcpauth_http_limit;

#define MCPAUTH_HTTP_LIMIT_COUNT 4

/* Called each time one of those limits acts; peer ("127.0.0.1", or "-") is
 * borrowed for the call. */
typedef void (*mcpauth_http_limit_cb)(mcpauth_http_limit limit, const char *peer, void *data);

/* Creates a server on loop; *out is owned until mcpauth_http_server_close().
 * Returns 0 or a negative libuv error code. */
int mcpauth_http_server_new(uv_loop_t *loop, const mcpauth_http_server_limits *limits,
                            mcpauth_http_request_cb on_request, void *data,
                            mcpauth_http_server **out);

/* Binds and listens on host:port (port 0 picks a free one; see
 * mcpauth_http_server_port). reuse_port sets SO_REUSEPORT so several worker
 * processes can share the port. Returns 0 or a negative libuv error code. */
int mcpauth_http_server_listen(mcpauth_http_server *server, const char *host, int port,
                               bool reuse_port);

/* Serves HTTPS: every connection accepted from now on first completes a
 * TLS handshake under tls's current credentials (http_tls.h), within the
 * header timeout counted from the accept. A client that sends plain HTTP
 * instead gets a plain 400 and the connection closes; one refused for the
 * connection limit is closed without an answer (a TLS client could not read
 * one). tls is borrowed and must outlive the server. */
void mcpauth_http_server_use_tls(mcpauth_http_server *server, mcpauth_http_tls *tls);

/* Believes Forwarded, X-Forwarded-For and X-Forwarded-Proto from peers in
 * proxies only (http_forwarded.h); see mcpauth_http_exchange_client().
 * proxies is borrowed and must outlive the server; NULL trusts no one. */
void mcpauth_http_server_trust_proxies(mcpauth_http_server *server,
                                       const mcpauth_http_proxies *proxies);

/* Sets the callback for requests the server refuses on its own. */
void mcpauth_http_server_on_refused(mcpauth_http_server *server, mcpauth_http_refused_cb cb,
                                    void *data);

/* Sets the callback for limits hit (see mcpauth_http_limit). */
void mcpauth_http_server_on_limit(mcpauth_http_server *server, mcpauth_http_limit_cb cb,
                                  void *data);

/* The bound port, or -1 when not listening. */
int mcpauth_http_server_port(const mcpauth_http_server *server);

/* Open connections right now. */
size_t mcpauth_http_server_connection_count(const mcpauth_http_server *server);

/* Stops accepting. Idle keep-alive connections are closed, between
 * requests only: a request already arriving is read and answered. A
 * connection with requests in progress answers them with Connection: close,
 * and a request pipelined behind them gets 503 with Connection: close. */
void mcpauth_http_server_drain(mcpauth_http_server *server);

/* Closes everything now (in-flight exchanges are aborted) and frees the
 * server; closed_cb runs when the last handle is closed. */
void mcpauth_http_server_close(mcpauth_http_server *server, mcpauth_http_server_closed_cb closed_cb,
                               void *data);

/* ---- the request (all borrowed; valid until the exchange is answered) ---- */

const char *mcpauth_http_exchange_method(const mcpauth_http_exchange *ex); /* "POST" */
const char *
mcpauth_http_exchange_path(const mcpauth_http_exchange *ex); /* raw, without the query */
const char *
mcpauth_http_exchange_query(const mcpauth_http_exchange *ex); /* raw, NULL when absent */

/* The value of header name (case-insensitive); with several fields of that
 * name, the index-th. NULL when absent. */
const char *mcpauth_http_exchange_header(const mcpauth_http_exchange *ex, const char *name,
                                         size_t index);

/* The index-th header field of the request, in the order received: false
 * past the last. For passing on headers whose names vary (MCP 2026-07-28
 * Mcp-Param-{Name}). */
bool mcpauth_http_exchange_field(const mcpauth_http_exchange *ex, size_t index, const char **name,
                                 const char **value);

/* How many fields named name the request carried. */
size_t mcpauth_http_exchange_header_count(const mcpauth_http_exchange *ex, const char *name);

const char *mcpauth_http_exchange_body(const mcpauth_http_exchange *ex, size_t *length);

/* The peer's address as text ("127.0.0.1"), for logs. */
const char *mcpauth_http_exchange_peer(const mcpauth_http_exchange *ex);

/* The client's address for logs and per-client limits: what a trusted
 * proxy's fields say (mcpauth_http_server_trust_proxies), else the peer's. */
const char *mcpauth_http_exchange_client(const mcpauth_http_exchange *ex);

/* "https" or "http": as a trusted proxy's proto says, else the
 * connection's own. */
const char *mcpauth_http_exchange_scheme(const mcpauth_http_exchange *ex);

/* Whether the request came over TLS (false once the connection is gone). */
bool mcpauth_http_exchange_tls(const mcpauth_http_exchange *ex);

/* Monotonic time (uv_hrtime, ns) when the request's first byte arrived. */
uint64_t mcpauth_http_exchange_start_ns(const mcpauth_http_exchange *ex);

void mcpauth_http_exchange_on_abort(mcpauth_http_exchange *ex, mcpauth_http_abort_cb cb,
                                    void *data);

/* ---- answering ---- */

/* Sends a complete response and ends the exchange (ex must not be used
 * after). The server adds Date, Connection and, except on 204 and 304
 * (which carry no body), Content-Length; fields must not contain CR or LF
 * (such fields are dropped). body may be NULL. */
void mcpauth_http_respond(mcpauth_http_exchange *ex, int status, const mcpauth_http_field *fields,
                          size_t field_count, const char *body, size_t length);

/* Starts a streamed response (chunked transfer encoding), e.g.
 * text/event-stream. Then write any number of times and end once. */
void mcpauth_http_stream_start(mcpauth_http_exchange *ex, int status,
                               const mcpauth_http_field *fields, size_t field_count);

/* Queues data on the stream. Returns 0; UV_ECONNRESET when the client is
 * gone; UV_ENOBUFS, queueing nothing, when the connection's unsent output is
 * already over max_output_bytes (a client that does not read: the
 * application should end the stream, or drop what it wanted to send). */
int mcpauth_http_stream_write(mcpauth_http_exchange *ex, const char *data, size_t length);

/* Bytes queued on the connection but not yet written to the socket: for
 * back-pressure. */
size_t mcpauth_http_stream_pending(const mcpauth_http_exchange *ex);

/* Ends the stream and the exchange (ex must not be used after). */
void mcpauth_http_stream_end(mcpauth_http_exchange *ex);

#endif
