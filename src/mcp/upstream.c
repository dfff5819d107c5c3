/* The upstream backend (mcp_backend.h, config.upstream): every MCP
 * session is mapped one to one to a session of an HTTP MCP server
 * (Streamable HTTP, MCP 2025-11-25 basic/transports), and each client
 * request is forwarded as one upstream request whose answer, JSON or a
 * Server-Sent Events stream, is relayed as it arrives.
 *
 * What goes upstream: the client's message as is (sessions are 1:1, so
 * request ids cannot collide), Content-Type, Accept, the upstream's own
 * Mcp-Session-Id and MCP-Protocol-Version, and the configured headers
 * (--upstream-header-file, MCPAUTH_UPSTREAM_HEADER). Never the client's
 * Authorization: that token was issued for us (MCP security best
 * practices, token passthrough; RFC 8707 audience). The upstream's session
 * id never reaches the client either: it sees ours.
 *
 * Answers: 200 application/json is returned as is (a tools/list result
 * filtered by the caller's view); 200 text/event-stream becomes our stream,
 * each upstream event re-sent as it completes with our event ids (its own
 * ids are dropped: resuming is not relayed); 202 and other 4xx as they
 * are; 404 on a session ends ours (404); 5xx, an unreachable upstream or a
 * timeout: 502 with a JSON-RPC error saying why.
 *
 * MCP 2026-07-28 (stateless): a modern client's request goes through with
 * no session at all, with its MCP-Protocol-Version, Mcp-Method and Mcp-Name
 * (never its token), and its answer, JSON or a stream (subscriptions/listen
 * among them, with no overall timeout), is relayed as it arrives; a
 * tools/list the policy filtered says cacheScope "private". Whether the
 * upstream speaks that era is learnt from its answers, as a dual-era client
 * learns it (streamable-http §Backward Compatibility): a 400, 404 or 405
 * without one of the revision's errors means it does not; that request
 * and the modern ones after it go through the era bridge (era_bridge.c),
 * and the upstream is asked again a minute later. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mcp_internal.h"
#include "mcpauth/http_async.h"
#include "mcpauth/http_sse.h"
#include "mcpauth/strbuf.h"

#define UPSTREAM_MAX_SESSION_ID 256   /* longest upstream Mcp-Session-Id kept */
#define UPSTREAM_ERA_RETRY_MS   60000 /* a legacy upstream is asked again after */

typedef struct upstream upstream;
typedef struct up_session up_session;
typedef struct up_exchange up_exchange;

/* What a session of ours needs upstream: the data of its
 * mcpauth__backend_session, which holds our id. */
struct up_session {
    char *upstream_id; /* NULL: the upstream keeps no session */
    char protocol_version[MCPAUTH__SESSION_VERSION_SIZE];
    uint64_t streams; /* our stream numbers; 0 is the GET stream */
};

typedef enum up_mode { UP_UNDECIDED, UP_JSON, UP_SSE, UP_DONE } up_mode;

/* One forwarded request and its answer. Freed by on_done only: libcurl
 * calls it exactly once, also when the client went away first. */
struct up_exchange {
    up_exchange *prev, *next; /* in upstream->exchanges */
    upstream *up;
    char session_id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    mcpauth_mcp_sink *sink; /* NULL once answered or the client is gone */
    json_object *id;        /* the request's id, for errors; NULL for others */
    bool initialize, get;
    bool modern;                        /* 2026-07-28: no session */
    char requested[32];                 /* modern: the client's version */
    const mcpauth_mcp_request *request; /* modern: during exchange_send only */
    bool responded;                     /* UP_SSE: the request's response went out */
    up_mode mode;
    long status;
    mcpauth_strbuf body;            /* UP_JSON: the body so far */
    mcpauth_http_sse_reader events; /* UP_SSE */
    uint64_t stream, seq;
    mcpauth__mcp_filter *filter; /* a tools/list's, or NULL */
    /* modern: what the era bridge needs to take the request over when the
     * upstream turns out to be of the 2025 era */
    json_object *message;
    mcpauth_token_info token;
    bool has_token;
    const char *validated_by; /* a literal */
    bool cache_hit;
    int64_t now;
};

struct upstream {
    mcpauth_mcp_backend *backend;
    const mcpauth_mcp_backend_config *config; /* the backend's */
    mcpauth_http_async *http;
    mcpauth_http_options http_options;
    up_exchange *exchanges;
    bool closing;
    uint64_t legacy_until_ms; /* it answered a modern request as a 2025 server */
};

static void up_log(upstream *up, const char *level, const char *message)
{
    mcpauth__backend_log(up->backend, level, message);
}

static upstream *upstream_of(mcpauth_mcp_backend *backend)
{
    return backend->kind;
}

static bool upstream_start(mcpauth_mcp_backend *backend)
{
    upstream *up = calloc(1, sizeof *up);
    if (!up)
        return false;
    up->backend = backend;
    up->config = &backend->config;
    if (up->config->upstream.http)
        up->http_options = *up->config->upstream.http;
    else
        mcpauth_http_options_init(&up->http_options);
    if (mcpauth_http_async_new(backend->loop, &up->http_options, &up->http) != 0) {
        free(up);
        return false;
    }
    backend->kind = up;
    return true;
}

/* ---- sessions ---- */

static up_session *session_find(upstream *up, const char *id)
{
    mcpauth__backend_session *s = mcpauth__backend_session_find(up->backend, id);
    return s ? s->data : NULL;
}

static void session_free(up_session *s)
{
    if (!s)
        return;
    free(s->upstream_id);
    free(s);
}

/* ---- the configured headers ---- */

/* Headers we set ourselves, or that would make the request another one:
 * the upstream's own credentials go in any other header. */
static bool header_reserved(const char *line, size_t name_length)
{
    static const char *const reserved[] = {"Mcp-Session-Id",
                                           "MCP-Protocol-Version",
                                           "Content-Type",
                                           "Content-Length",
                                           "Accept",
                                           "Host",
                                           "Transfer-Encoding",
                                           "Connection",
                                           "Expect",
                                           "Last-Event-ID"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strlen(reserved[i]) == name_length && strncasecmp(line, reserved[i], name_length) == 0)
            return true;
    return false;
}

mcpauth_status mcpauth_mcp_upstream_header_check(const char *line, mcpauth_error *err)
{
    size_t name_length = strspn(line, "!#$%&'*+-.^_`|~0123456789"
                                      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
    if (name_length == 0 || line[name_length] != ':')
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "a line is not 'Name: value'");
    for (const char *p = line + name_length + 1; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                     "the value of %.*s has control characters", (int)name_length,
                                     line);
    if (header_reserved(line, name_length))
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "%.*s is set by mcpauth itself",
                                 (int)name_length, line);
    return MCPAUTH_OK;
}

/* ---- requests upstream ---- */

typedef struct up_headers {
    char *lines[8];
    const char *all[8 + 64 + 16];
    size_t count, owned;
} up_headers;

static void headers_add(up_headers *h, const char *name, const char *value)
{
    if (!value || h->owned == sizeof h->lines / sizeof h->lines[0])
        return;
    size_t length = strlen(name) + strlen(value) + 3;
    char *line = malloc(length);
    if (!line)
        return;
    snprintf(line, length, "%s: %s", name, value);
    h->lines[h->owned++] = line;
    h->all[h->count++] = line;
}

/* Ours first, then the configured ones (at most 64, cmd/serve.c). */
static void headers_build(const upstream *up, const up_session *s, up_headers *h)
{
    memset(h, 0, sizeof *h);
    if (s) {
        headers_add(h, "Mcp-Session-Id", s->upstream_id);
        if (s->protocol_version[0])
            headers_add(h, "MCP-Protocol-Version", s->protocol_version);
    }
    for (size_t i = 0; i < up->config->upstream.header_count && h->count < 8 + 64; i++)
        h->all[h->count++] = up->config->upstream.headers[i];
}

static void headers_free(up_headers *h)
{
    for (size_t i = 0; i < h->owned; i++)
        free(h->lines[i]);
}

static const char *header_value(const mcpauth_http_header *headers, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcasecmp(headers[i].name, name) == 0)
            return headers[i].value;
    return NULL;
}

static void exchange_free(up_exchange *x)
{
    upstream *up = x->up;
    if (x->prev)
        x->prev->next = x->next;
    else if (up->exchanges == x)
        up->exchanges = x->next;
    if (x->next)
        x->next->prev = x->prev;
    json_object_put(x->id);
    json_object_put(x->message);
    if (x->has_token)
        mcpauth_token_info_free(&x->token);
    mcpauth_strbuf_free(&x->body);
    mcpauth_http_sse_reader_free(&x->events);
    mcpauth__mcp_filter_free(x->filter);
    free(x);
}

/* The client went away. MCP 2026-07-28 streamable-http §Cancellation: for
 * a modern request that is its cancellation, which the upstream hears the
 * same way (its connection drops); a 2025 request runs on to its end. */
static void on_sink_abort(mcpauth_mcp_sink *sink)
{
    up_exchange *x = sink->engine_data;
    x->sink = NULL;
    if (x->modern)
        mcpauth_http_async_cancel(x->up->http, x);
}

static void answer(up_exchange *x, int status, const char *body, size_t length)
{
    mcpauth_mcp_sink *sink = x->sink;
    x->sink = NULL;
    x->mode = UP_DONE;
    if (!sink)
        return;
    mcpauth_mcp_reply reply = {
        .status = status,
        .content_type = body ? "application/json" : NULL,
        .body = body,
        .body_length = body ? length : 0,
        .session_id = x->initialize && status == 200 ? x->session_id : NULL,
    };
    sink->reply(&reply, sink->data);
}

/* Answers with message (taken) as JSON; NULL (no memory) is a bare 500. */
static void answer_json(up_exchange *x, int status, json_object *message)
{
    size_t length = 0;
    const char *body = message ? mcpauth__jsonrpc_serialize(message, &length) : NULL;
    answer(x, body ? status : 500, body, length);
    json_object_put(message);
}

/* A JSON-RPC error naming why the upstream failed us, logged (no secrets:
 * upstream URLs and libcurl's messages only). NULL on allocation failure. */
static json_object *gateway_error(up_exchange *x, const char *why)
{
    char message[512];
    snprintf(message, sizeof message, "upstream MCP server: %s", why);
    up_log(x->up, "warning", message);
    return mcpauth__jsonrpc_error(x->id, MCPAUTH__JSONRPC_INTERNAL_ERROR, message, NULL);
}

static void answer_bad_gateway(up_exchange *x, const char *why)
{
    answer_json(x, 502, gateway_error(x, why));
}

/* Our side of a session the upstream no longer has (or never made). */
static void session_end(upstream *up, const char *session_id)
{
    session_free(mcpauth__backend_session_drop(up->backend, session_id));
}

/* What an upstream answer says before it is relayed: the initialize
 * result's protocol version, and a tools/list result filtered.
 * False when a tools/list result cannot be filtered: it is not passed on
 * (it might show every tool). */
static bool inspect(up_exchange *x, json_object *message)
{
    json_object *result = NULL;
    if (!json_object_is_type(message, json_type_object) ||
        !json_object_object_get_ex(message, "result", &result) ||
        json_object_object_get_ex(message, "method", NULL))
        return true;
    if (x->initialize) {
        json_object *version = NULL;
        up_session *s = session_find(x->up, x->session_id);
        if (s && json_object_object_get_ex(result, "protocolVersion", &version) &&
            json_object_is_type(version, json_type_string))
            snprintf(s->protocol_version, sizeof s->protocol_version, "%s",
                     json_object_get_string(version));
    }
    mcpauth_error err;
    if (mcpauth__mcp_filter_apply(x->filter, message, &err)) {
        /* server/utilities/caching §Choosing a Cache Scope: filtered for
         * this caller, whatever the upstream said. */
        if (x->modern && x->filter && json_object_is_type(result, json_type_object))
            mcpauth__json_add(result, "cacheScope", json_object_new_string("private"));
        return true;
    }
    up_log(x->up, "warning", err.message);
    return false;
}

static void stream_end(up_exchange *x)
{
    mcpauth_mcp_sink *sink = x->sink;
    x->sink = NULL;
    x->mode = UP_DONE;
    if (sink)
        sink->stream_end(sink->data);
}

static bool stream_write(up_exchange *x, const char *json, size_t length)
{
    size_t event_length;
    char *event = mcpauth__sse_event(x->stream, ++x->seq, json, length, &event_length);
    if (!event)
        return false;
    /* A client that is gone, or reads too slowly, ends the stream. */
    bool ok = x->sink && x->sink->stream_write(event, event_length, x->sink->data) == 0;
    free(event);
    if (!ok)
        stream_end(x);
    return ok;
}

/* Sends message (taken) as the stream's next event; false when it could
 * not be sent. */
static bool stream_write_json(up_exchange *x, json_object *message)
{
    size_t length = 0;
    const char *text = message ? mcpauth__jsonrpc_serialize(message, &length) : NULL;
    bool ok = text && stream_write(x, text, length);
    json_object_put(message);
    return ok;
}

/* One complete upstream event (its data lines joined): re-sent compact,
 * with our id (HTML Living Standard §9.2.6; its id, event type and retry
 * are dropped: our stream has its own). Data that is not JSON is skipped:
 * MCP events carry JSON-RPC messages only. */
static bool on_event(const mcpauth_http_sse_event *event, void *data)
{
    up_exchange *x = data;
    json_object *message = json_tokener_parse(event->data);
    if (!message) {
        up_log(x->up, "warning", "upstream MCP server: an event that is not JSON; skipped");
        return true;
    }
    if (json_object_object_get_ex(message, "id", NULL) &&
        !json_object_object_get_ex(message, "method", NULL))
        x->responded = true;
    if (!inspect(x, message)) {
        json_object_put(message);
        message = mcpauth__jsonrpc_error(x->id, MCPAUTH__JSONRPC_INTERNAL_ERROR,
                                         "the upstream's tools/list result is malformed", NULL);
    }
    return stream_write_json(x, message);
}

/* The upstream's status and headers, when its answer starts. */
static void decide(up_exchange *x, long status, const mcpauth_http_header *headers, size_t count)
{
    x->status = status;
    const char *type = header_value(headers, count, "Content-Type");
    bool sse = type && strncasecmp(type, "text/event-stream", 17) == 0;
    if (x->initialize && status == 200) {
        up_session *s = session_find(x->up, x->session_id);
        const char *upstream_id = header_value(headers, count, "Mcp-Session-Id");
        if (s && upstream_id && strlen(upstream_id) <= UPSTREAM_MAX_SESSION_ID && !s->upstream_id)
            s->upstream_id = strdup(upstream_id);
    }
    if (status == 200 && sse && x->sink) {
        x->mode = UP_SSE;
        up_session *s = session_find(x->up, x->session_id);
        x->stream = x->get ? 0 : (s ? ++s->streams : 1);
        x->sink->stream_start(x->initialize ? x->session_id : NULL, x->sink->data);
        return;
    }
    x->mode = UP_JSON;
}

static bool on_data(long status, const mcpauth_http_header *headers, size_t count,
                    const char *bytes, size_t length, void *data)
{
    up_exchange *x = data;
    if (x->mode == UP_UNDECIDED)
        decide(x, status, headers, count);
    if (!x->sink)
        return false; /* the client is gone: so is the exchange */
    if (x->mode == UP_SSE)
        return mcpauth_http_sse_reader_feed(&x->events, bytes, length);
    if (x->body.length + length > x->up->config->max_line)
        return false;
    mcpauth_strbuf_append(&x->body, bytes, length);
    return !mcpauth_strbuf_failed(&x->body);
}

/* A 4xx answer to a modern request that carries one of the revision's
 * own errors (streamable-http §Backward Compatibility: -32020, -32021,
 * -32022; -32601 with 404) comes from a server of that era. */
static bool modern_error(long status, json_object *message)
{
    json_object *error = NULL, *code = NULL;
    if (!json_object_object_get_ex(message, "error", &error) ||
        !json_object_object_get_ex(error, "code", &code))
        return false;
    int c = json_object_get_int(code);
    return (c <= MCPAUTH__JSONRPC_HEADER_MISMATCH && c >= MCPAUTH__JSONRPC_UNSUPPORTED_VERSION) ||
           (status == 404 && c == MCPAUTH__JSONRPC_METHOD_NOT_FOUND);
}

/* The upstream answered a modern request as a 2025 server does: from now
 * on (for a minute) modern requests go through the era bridge, this one
 * first, as if it had gone there at once (basic/versioning §Backward
 * Compatibility: the client is not failed for our not knowing). Without a
 * bridge (no memory for this request's copy) the client hears -32022 with
 * the versions it may speak here instead. */
static void answer_legacy_upstream(up_exchange *x)
{
    upstream *up = x->up;
    up->legacy_until_ms = uv_now(up->backend->loop) + UPSTREAM_ERA_RETRY_MS;
    up_log(up, "info",
           "upstream MCP server: does not speak MCP 2026-07-28; modern clients are served "
           "through the era bridge");
    mcpauth_mcp_server *server = up->backend->owner;
    if (x->sink && x->message && server && mcpauth__era_bridges(server)) {
        mcpauth_mcp_identity identity = {.token = x->has_token ? &x->token : NULL,
                                         .validated_by = x->validated_by,
                                         .cache_hit = x->cache_hit};
        mcpauth_mcp_sink *sink = x->sink;
        x->sink = NULL;
        x->mode = UP_DONE;
        mcpauth__era_take(server, x->requested, &identity, x->now, x->message, sink);
        return;
    }
    size_t count;
    const char *const *versions = mcpauth__engine_session_versions(&count);
    answer_json(x, 400, mcpauth__stateless_unsupported(x->id, x->requested, versions, count));
}

static void finish_modern(up_exchange *x)
{
    if (x->status >= 500 || x->status < 200) {
        char why[128];
        snprintf(why, sizeof why, "answered HTTP %ld", x->status);
        answer_bad_gateway(x, why);
        return;
    }
    json_object *message =
        x->body.length ? json_tokener_parse(x->body.data ? x->body.data : "") : NULL;
    bool refused = x->status == 400 || x->status == 404 || x->status == 405;
    if (refused && !(message && modern_error(x->status, message))) {
        json_object_put(message);
        answer_legacy_upstream(x);
        return;
    }
    if (x->body.length == 0) {
        answer(x, (int)x->status, NULL, 0);
        return;
    }
    if (!message) {
        answer_bad_gateway(x, "answered with a body that is not JSON");
        return;
    }
    if (x->status == 200 && !inspect(x, message)) {
        json_object_put(message);
        answer_bad_gateway(x, "the tools/list result is malformed");
        return;
    }
    answer_json(x, (int)x->status, message);
}

static void finish_json(up_exchange *x)
{
    char why[128];
    if (x->modern) {
        finish_modern(x);
        return;
    }
    if (x->status == 404 && !x->initialize) {
        /* transports §Session Management: the upstream's session is gone,
         * so is ours; the client starts a new one. */
        session_end(x->up, x->session_id);
        answer(x, 404, NULL, 0);
        return;
    }
    if (x->status >= 500 || x->status < 200 || (x->initialize && x->status != 200)) {
        snprintf(why, sizeof why, "answered HTTP %ld", x->status);
        if (x->initialize)
            session_end(x->up, x->session_id);
        answer_bad_gateway(x, why);
        return;
    }
    if (x->body.length == 0) {
        answer(x, (int)x->status, NULL, 0);
        return;
    }
    json_object *message = json_tokener_parse(x->body.data ? x->body.data : "");
    if (!message) {
        if (x->initialize)
            session_end(x->up, x->session_id);
        answer_bad_gateway(x, "answered with a body that is not JSON");
        return;
    }
    if (x->status == 200 && !inspect(x, message)) {
        json_object_put(message);
        answer_bad_gateway(x, "the tools/list result is malformed");
        return;
    }
    answer_json(x, (int)x->status, message);
}

static void on_done(mcpauth_status status, const mcpauth_http_response *resp,
                    const mcpauth_error *err, void *data)
{
    up_exchange *x = data;
    if (x->mode == UP_UNDECIDED && status == MCPAUTH_OK)
        decide(x, resp->status, resp->headers, resp->header_count);
    if (x->mode == UP_SSE) {
        /* An upstream stream that ends, however it ends, ends ours; one cut
         * short (timeout, reset) before a request's answer says why. */
        if (status != MCPAUTH_OK && x->id && !x->responded && x->sink)
            stream_write_json(x, gateway_error(x, err->message));
        stream_end(x);
    } else if (x->mode != UP_DONE && x->sink) {
        if (status != MCPAUTH_OK) {
            if (x->initialize)
                session_end(x->up, x->session_id);
            answer_bad_gateway(x, err->message);
        } else if (x->get && x->status == 405) {
            answer(x, 405, NULL, 0);
        } else {
            finish_json(x);
        }
    }
    exchange_free(x);
}

static up_exchange *exchange_new(upstream *up, const char *session_id, mcpauth_mcp_sink *sink)
{
    up_exchange *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->up = up;
    snprintf(x->session_id, sizeof x->session_id, "%s", session_id);
    x->sink = sink;
    x->body = (mcpauth_strbuf)MCPAUTH_STRBUF_INIT;
    mcpauth_http_sse_reader_init(&x->events, up->config->max_line, on_event, x);
    x->next = up->exchanges;
    if (up->exchanges)
        up->exchanges->prev = x;
    up->exchanges = x;
    return x;
}

/* Sends x's request; on failure x is answered and freed. */
static void exchange_send(up_exchange *x, const char *method, const char *accept, const char *body,
                          size_t length, long timeout_seconds)
{
    upstream *up = x->up;
    up_headers headers;
    headers_build(up, x->initialize || x->modern ? NULL : session_find(up, x->session_id),
                  &headers);
    if (x->modern) {
        /* streamable-http §Standard Request Headers: as the client sent
         * them (Mcp-Name in its encoding), checked against the body. */
        headers_add(&headers, "MCP-Protocol-Version", x->request->protocol_version);
        headers_add(&headers, "Mcp-Method", x->request->mcp_method);
        headers_add(&headers, "Mcp-Name", x->request->mcp_name);
        for (size_t i = 0; i < x->request->param_header_count &&
                           headers.count < sizeof headers.all / sizeof headers.all[0];
             i++)
            headers.all[headers.count++] = x->request->param_headers[i];
    }
    mcpauth_http_request req = {
        .method = method,
        .url = up->config->upstream.url,
        .content_type = body ? "application/json" : NULL,
        .body = body,
        .body_length = length,
        .accept = accept,
        .headers = headers.all,
        .header_count = headers.count,
    };
    mcpauth_error err = {0};
    mcpauth_status st =
        up->closing
            ? mcpauth_error_set(&err, MCPAUTH_EUSAGE, "the server is shutting down")
            : mcpauth_http_async_stream(up->http, &req, timeout_seconds, on_data, on_done, x, &err);
    headers_free(&headers);
    x->request = NULL;
    if (st != MCPAUTH_OK) {
        if (x->initialize)
            session_end(up, x->session_id);
        answer_bad_gateway(x, err.message);
        exchange_free(x);
        return;
    }
    if (x->sink) {
        x->sink->on_abort = on_sink_abort;
        x->sink->engine_data = x;
    }
}

static long request_timeout(const upstream *up)
{
    uint64_t seconds = (up->config->request_timeout_ms + 999) / 1000;
    return seconds ? (long)seconds : 0;
}

/* ---- the backend's operations ---- */

/* Makes the upstream session of a session just created in the table and
 * forwards initialize; the sink is answered later (with a failure, the
 * session is removed from the table here). */
static bool upstream_open_session(mcpauth_mcp_backend *backend, mcpauth__mcp_call *call)
{
    upstream *up = upstream_of(backend);
    if (backend->shutting_down) {
        mcpauth__backend_reply_bad_gateway(call->sink, call->msg->id,
                                           "the server is shutting down");
        return false;
    }
    /* Sessions the table dropped (idle, or pushed out when full) are ended
     * upstream too; looked at whenever a session starts, so the list never
     * outgrows the table by much. */
    mcpauth__backend_sweep(backend);
    up_session *s = calloc(1, sizeof *s);
    up_exchange *x = s && mcpauth__backend_session_add(backend, call->session_id, s)
                         ? exchange_new(up, call->session_id, call->sink)
                         : NULL;
    if (!x) {
        mcpauth__backend_session_drop(backend, call->session_id);
        free(s);
        mcpauth__mcp_reply_status(call->sink, 500);
        return true;
    }
    x->initialize = true;
    x->id = json_object_get(call->msg->id);
    size_t length = 0;
    const char *body = mcpauth__jsonrpc_serialize(call->message, &length);
    exchange_send(x, "POST", "application/json, text/event-stream", body, length,
                  request_timeout(up));
    return true;
}

/* A 2026-07-28 request: no session; a listen stream may stay open for
 * hours, so it has no overall timeout. */
static void post_modern(upstream *up, mcpauth__mcp_call *call)
{
    up_exchange *x = exchange_new(up, "", call->sink);
    if (!x) {
        mcpauth__mcp_reply_status(call->sink, 500);
        return;
    }
    x->modern = true;
    snprintf(x->requested, sizeof x->requested, "%s",
             call->request->protocol_version ? call->request->protocol_version : "");
    if (call->msg->kind == MCPAUTH__JSONRPC_REQUEST)
        x->id = json_object_get(call->msg->id);
    x->filter = call->filter;
    call->filter = NULL;
    /* Kept for the era bridge, should the upstream be of the 2025 era. */
    const mcpauth_mcp_identity *identity = call->identity;
    x->has_token =
        identity && identity->token && mcpauth_token_info_copy(identity->token, &x->token);
    /* Without the caller's identity the bridge would serve it as nobody. */
    if (x->has_token || !identity || !identity->token)
        x->message = json_object_get(call->message);
    x->validated_by = identity ? identity->validated_by : NULL;
    x->cache_hit = identity && identity->cache_hit;
    x->now = call->request ? call->request->now : (int64_t)time(NULL);
    bool listen = call->msg->method && strcmp(call->msg->method, "subscriptions/listen") == 0;
    size_t length = 0;
    const char *body = mcpauth__jsonrpc_serialize(call->message, &length);
    x->request = call->request;
    exchange_send(x, "POST", "application/json, text/event-stream", body, length,
                  listen ? 0 : request_timeout(up));
}

static void upstream_post(mcpauth_mcp_backend *backend, mcpauth__mcp_call *call)
{
    upstream *up = upstream_of(backend);
    if (!call->session_id) {
        post_modern(up, call);
        return;
    }
    if (!session_find(up, call->session_id)) {
        mcpauth__mcp_reply_status(call->sink, 404);
        return;
    }
    up_exchange *x = exchange_new(up, call->session_id, call->sink);
    if (!x) {
        mcpauth__mcp_reply_status(call->sink, 500);
        return;
    }
    if (call->msg->kind == MCPAUTH__JSONRPC_REQUEST)
        x->id = json_object_get(call->msg->id);
    x->filter = call->filter;
    call->filter = NULL;
    size_t length = 0;
    const char *body = mcpauth__jsonrpc_serialize(call->message, &length);
    exchange_send(x, "POST", "application/json, text/event-stream", body, length,
                  request_timeout(up));
}

/* Relays the upstream's standalone stream of the session (its resumption
 * is not relayed: last_event_id is not passed on). */
static void upstream_open_stream(mcpauth_mcp_backend *backend, const char *session_id,
                                 const char *last_event_id, mcpauth_mcp_sink *sink)
{
    upstream *up = upstream_of(backend);
    (void)last_event_id;
    if (!session_find(up, session_id)) {
        mcpauth__mcp_reply_status(sink, 404);
        return;
    }
    up_exchange *x = exchange_new(up, session_id, sink);
    if (!x) {
        mcpauth__mcp_reply_status(sink, 500);
        return;
    }
    x->get = true;
    /* A standalone stream may stay open for hours: no overall timeout. */
    exchange_send(x, "GET", "text/event-stream", NULL, 0, 0);
}

static void on_deleted(mcpauth_status status, const mcpauth_http_response *resp,
                       const mcpauth_error *err, void *data)
{
    (void)resp;
    (void)data;
    (void)status;
    (void)err;
}

/* Ends the session here (its streams end) and upstream (DELETE). */
static void upstream_end_session(mcpauth_mcp_backend *backend, mcpauth__backend_session *session,
                                 mcpauth__session_end why)
{
    upstream *up = upstream_of(backend);
    up_session *s = session->data;
    (void)why;
    /* Its streams end with it (they would end when the upstream's do). */
    for (up_exchange *x = up->exchanges; x; x = x->next)
        if (strcmp(x->session_id, session->id) == 0 && x->mode == UP_SSE)
            stream_end(x);
    if (s->upstream_id && !up->closing) {
        up_headers headers;
        headers_build(up, s, &headers);
        mcpauth_http_request req = {
            .method = "DELETE",
            .url = up->config->upstream.url,
            .headers = headers.all,
            .header_count = headers.count,
        };
        mcpauth_error err;
        /* transports §Session Management: best effort; its answer changes
         * nothing here. */
        if (mcpauth_http_async_start(up->http, &req, on_deleted, NULL, &err) != MCPAUTH_OK)
            up_log(up, "warning", err.message);
        headers_free(&headers);
    }
    session_free(s);
}

/* A session with a request in flight or an open stream is in use. */
static bool upstream_session_busy(mcpauth_mcp_backend *backend,
                                  const mcpauth__backend_session *session)
{
    for (up_exchange *x = upstream_of(backend)->exchanges; x; x = x->next)
        if (strcmp(x->session_id, session->id) == 0)
            return true;
    return false;
}

static void on_http_closed(void *data)
{
    upstream *up = data;
    mcpauth_mcp_backend *backend = up->backend;
    /* The entries themselves go with the backend. */
    for (mcpauth__backend_session *s = backend->sessions; s; s = s->next) {
        session_free(s->data);
        s->data = NULL;
    }
    mcpauth__backend_kind_closed(backend);
}

/* Every exchange in flight is answered (502) or its stream ended. */
static void upstream_shutdown(mcpauth_mcp_backend *backend)
{
    upstream *up = upstream_of(backend);
    up->closing = true;
    mcpauth_http_async_close(up->http, on_http_closed, up);
}

/* Until the upstream answered a modern request as a 2025 server does (and
 * for a minute after), modern requests are tried on it. */
static bool upstream_speaks_modern(mcpauth_mcp_backend *backend)
{
    upstream *up = upstream_of(backend);
    return uv_now(backend->loop) >= up->legacy_until_ms;
}

static void upstream_free(mcpauth_mcp_backend *backend)
{
    free(backend->kind);
}

const mcpauth__mcp_backend_ops mcpauth__mcp_upstream_ops = {
    .name = "upstream",
    .start = upstream_start,
    .open_session = upstream_open_session,
    .sessions = true,
    .post = upstream_post,
    .open_stream = upstream_open_stream,
    .end_session = upstream_end_session,
    .session_busy = upstream_session_busy,
    .speaks_modern = upstream_speaks_modern,
    .shutdown = upstream_shutdown,
    .free = upstream_free,
};
