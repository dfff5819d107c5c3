/* The stdio backend in the MCP 2026-07-28 era (basic/transports/stdio):
 * which era the command speaks, and, when it is the stateless one, the one
 * child that serves every modern request.
 *
 * Era. A new child is probed with server/discover before anything else
 * (stdio §Backward Compatibility): a DiscoverResult, or one of the
 * revision's own errors (-32020 .. -32022), makes it modern; any other
 * error, or no answer within PROBE_TIMEOUT_MS, makes it legacy, and the
 * probe child is stopped (legacy clients get children of their own, per
 * session, as before). The era is kept for the child's life
 * (basic/versioning §Backward Compatibility: cached per process); a child
 * that exits is probed again when the next one starts. A legacy command
 * stays legacy (the command line does not change while we run): its modern
 * requests, those that waited for the probe included, go through the era
 * bridge (era_bridge.c).
 *
 * Stateless. The modern child is shared by every caller: the protocol
 * keeps no state between requests (basic §Statelessness), so requests from
 * different callers are multiplexed on its stdin with ids we mint, and
 * everything it writes is routed back by id:
 *   - a response: to the POST of the request it answers, with the client's
 *     id (a subscriptions/listen result's _meta subscriptionId too);
 *   - notifications/progress: to the request whose minted progress token it
 *     names (the request's id at the child), with the client's token;
 *   - a notification carrying _meta io.modelcontextprotocol/subscriptionId:
 *     to that listen stream, with the client's id (subscriptions §Receiving
 *     Notifications); notifications/cancelled naming a listen request ends
 *     that stream (the child tore the subscription down);
 *   - notifications/message: stdio does not say which request it belongs
 *     to; it goes to the one request in flight that asked for log messages
 *     (_meta logLevel), and is dropped when none or several did (logging
 *     §Per-request log level: never on another request's stream);
 *   - anything else, and requests (a server of this revision sends none),
 *     is dropped and logged.
 * A POST is answered with application/json when the response comes first,
 * else with text/event-stream (events without ids: there is no
 * resumability). _meta and the whole message pass through untouched but
 * for the id and the progress token; a policy-filtered tools/list says
 * cacheScope "private". A client that closes its response stream cancels
 * the request: the child gets notifications/cancelled with our id
 * (streamable-http §Cancellation, stdio §Cancellation). Notifications a
 * client POSTs are answered 202 and not forwarded: their requestId is in
 * the client's numbering, which another caller may share.
 *
 * The shared child gets no identity in its environment (MCPAUTH_SUBJECT and
 * the others describe one caller; it serves many), and it is not counted in
 * max_children. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "mcpauth/child_process.h"
#include "mcpauth/json.h"
#include "mcpauth/strbuf.h"

#define PROBE_TIMEOUT_MS  10000 /* stdio §Backward Compatibility: a reasonable timeout */
#define STREAM_AFTER_MS   1000  /* an answer not in by then comes as a stream */
#define MAX_LIST_PAGES    32    /* of the child's tools/list read after the probe */
#define MAX_PARAM_HEADERS 64
#define MAX_STDERR_LINE   1024
#define MAX_LOGGED_BYTES  80
#define MAX_REQUESTED     32
#define META_VERSION      "io.modelcontextprotocol/protocolVersion"
#define META_CAPABILITIES "io.modelcontextprotocol/clientCapabilities"
#define META_CLIENT_INFO  "io.modelcontextprotocol/clientInfo"
#define META_LOG_LEVEL    "io.modelcontextprotocol/logLevel"
#define META_SUBSCRIPTION "io.modelcontextprotocol/subscriptionId"

typedef enum era { ERA_UNKNOWN, ERA_PROBING, ERA_MODERN, ERA_LEGACY } era;

typedef struct modern_child modern_child;

/* One client request: queued while the child is probed, then in flight. */
typedef struct mreq {
    struct mreq *next;
    mcpauth__stdio_modern *m;
    mcpauth_mcp_sink *sink;      /* NULL once answered or the client is gone */
    json_object *queued;         /* the message while it waits for the probe */
    json_object *client_id;      /* the request's id as the client sent it */
    int64_t child_id;            /* ours, also the progress token the child sees */
    json_object *progress_token; /* the client's, or NULL */
    mcpauth__mcp_filter *filter; /* a tools/list's, or NULL */
    char requested[MAX_REQUESTED];
    uint64_t deadline_ms; /* 0: none (subscriptions/listen) */
    uint64_t sent_ms, last_write_ms;
    char *params[MAX_PARAM_HEADERS]; /* queued: its Mcp-Param-* header lines */
    size_t param_count;
    /* queued: who asked, for the era bridge should the command be legacy */
    mcpauth_token_info token;
    bool has_token, cache_hit;
    const char *validated_by; /* static */
    int64_t now;
    bool listen, logs, streaming, tools_list;
} mreq;

/* A child process; the current one, or one still closing. */
struct modern_child {
    mcpauth__stdio_modern *m;
    mcpauth_child *child;
    int pid;
};

struct mcpauth__stdio_modern {
    mcpauth_mcp_backend *backend;
    mcpauth__stdio_modern_spawn_cb spawn;
    void (*idle)(mcpauth_mcp_backend *backend);
    modern_child *current; /* NULL: none running */
    size_t children;       /* still open, the current one included */
    era era;
    bool listing; /* probing: the child's tools/list is being read */
    unsigned list_pages;
    json_object *supported; /* the child's supportedVersions */
    mcpauth__param_decls *decls;
    int64_t probe_id;
    uint64_t probe_deadline_ms;
    mreq *reqs;
    int64_t next_id;
    bool stopping;
};

static void mlog(mcpauth__stdio_modern *m, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void mlog(mcpauth__stdio_modern *m, const char *level, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    mcpauth__backend_log(m->backend, level, message);
}

static int pid_of(const mcpauth__stdio_modern *m)
{
    return m->current ? m->current->pid : 0;
}

static json_object *member(json_object *obj, const char *key)
{
    json_object *value = NULL;
    if (json_object_is_type(obj, json_type_object))
        json_object_object_get_ex(obj, key, &value);
    return value;
}

/* ---- requests ---- */

static void mreq_free(mreq *r)
{
    for (mreq **p = &r->m->reqs; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    if (r->sink)
        r->sink->on_abort = NULL;
    json_object_put(r->queued);
    json_object_put(r->client_id);
    json_object_put(r->progress_token);
    mcpauth__mcp_filter_free(r->filter);
    for (size_t i = 0; i < r->param_count; i++)
        free(r->params[i]);
    mcpauth_token_info_free(&r->token);
    free(r);
}

static mreq *mreq_sent(mcpauth__stdio_modern *m, json_object *id)
{
    if (!json_object_is_type(id, json_type_int))
        return NULL;
    int64_t value = json_object_get_int64(id);
    for (mreq *r = m->reqs; r; r = r->next)
        if (!r->queued && r->child_id == value)
            return r;
    return NULL;
}

/* streamable-http §Protocol Version Header: the revision's errors are
 * HTTP errors (the version, a missing capability: 400; an unknown method:
 * 404); any other error is the request's answer (200), as the SDK does. */
static int status_of(json_object *message)
{
    json_object *code = member(member(message, "error"), "code");
    if (!code)
        return 200;
    switch (json_object_get_int(code)) {
    case MCPAUTH__JSONRPC_PARSE_ERROR:
    case MCPAUTH__JSONRPC_INVALID_REQUEST:
    case MCPAUTH__JSONRPC_HEADER_MISMATCH:
    case MCPAUTH__JSONRPC_MISSING_CAPABILITY:
    case MCPAUTH__JSONRPC_UNSUPPORTED_VERSION:
        return 400;
    case MCPAUTH__JSONRPC_METHOD_NOT_FOUND:
        return 404;
    default:
        return 200;
    }
}

/* The answer becomes a text/event-stream; false when it cannot. */
static bool start_stream(mreq *r)
{
    mcpauth_mcp_sink *sink = r->sink;
    if (!sink || !sink->stream_start)
        return false;
    if (!r->streaming) {
        sink->stream_start(NULL, sink->data);
        r->streaming = true;
        r->last_write_ms = uv_now(r->m->backend->loop);
    }
    return true;
}

/* One message as one Server-Sent Event, with no id (streamable-http
 * §Receiving Messages: no resumability). False when the client is gone. */
static bool send_event(mreq *r, json_object *message)
{
    mcpauth_mcp_sink *sink = r->sink;
    if (!start_stream(r))
        return sink != NULL;
    size_t length = 0;
    const char *json = mcpauth__jsonrpc_serialize(message, &length);
    mcpauth_strbuf event = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&event, "event: message\ndata: ");
    mcpauth_strbuf_append(&event, json, length);
    mcpauth_strbuf_appends(&event, "\n\n");
    bool ok = !mcpauth_strbuf_failed(&event) &&
              sink->stream_write(event.data, event.length, sink->data) == 0;
    mcpauth_strbuf_free(&event);
    r->last_write_ms = uv_now(r->m->backend->loop);
    return ok;
}

/* The answer to r (message, borrowed) ends its POST; r is freed. */
static void finish(mreq *r, json_object *message, int status)
{
    mcpauth_mcp_sink *sink = r->sink;
    if (sink && r->streaming) {
        send_event(r, message);
        sink->on_abort = NULL;
        r->sink = NULL;
        sink->stream_end(sink->data);
    } else if (sink) {
        sink->on_abort = NULL;
        r->sink = NULL;
        mcpauth__mcp_reply_json(sink, status, json_object_get(message), NULL);
    }
    mreq_free(r);
}

static void fail(mreq *r, int status, const char *message)
{
    json_object *error =
        mcpauth__jsonrpc_error(r->client_id, MCPAUTH__JSONRPC_INTERNAL_ERROR, message, NULL);
    finish(r, error, status);
    json_object_put(error);
}

/* ---- the child ---- */

static bool write_child(mcpauth__stdio_modern *m, json_object *message)
{
    size_t length = 0;
    const char *text = message ? mcpauth__jsonrpc_serialize(message, &length) : NULL;
    return text && m->current && mcpauth_child_write_line(m->current->child, text, length) == 0;
}

/* stdio §Cancellation: the client gave the request up. */
static void cancel_at_child(mcpauth__stdio_modern *m, int64_t child_id, const char *reason)
{
    json_object *n = mcpauth__jsonrpc_cancelled(child_id, reason);
    if (n)
        write_child(m, n);
    json_object_put(n);
}

static void on_sink_abort(mcpauth_mcp_sink *sink)
{
    mreq *r = sink->engine_data;
    r->sink = NULL;
    if (!r->queued)
        cancel_at_child(r->m, r->child_id, "the client closed its response stream");
    mreq_free(r);
}

/* Progress tokens are unique per client only: the child gets one unique to
 * it, our id of the request (basic/patterns/progress). */
static bool mint_progress_token(mreq *r, json_object *message)
{
    json_object *meta = member(member(message, "params"), "_meta");
    json_object *token = member(meta, "progressToken");
    if (!token)
        return true;
    r->progress_token = json_object_get(token);
    return mcpauth__json_add(meta, "progressToken", json_object_new_int64(r->child_id));
}

/* Sends r's message to the modern child with our id. */
static void send_request(mreq *r, json_object *message)
{
    mcpauth__stdio_modern *m = r->m;
    const mcpauth_mcp_backend_config *c = &m->backend->config;
    r->child_id = ++m->next_id;
    r->sent_ms = uv_now(m->backend->loop);
    if (!r->listen && c->request_timeout_ms)
        r->deadline_ms = r->sent_ms + c->request_timeout_ms;
    if (mcpauth_child_write_pending(m->current->child) > c->max_buffered) {
        fail(r, 503, "the backend is not reading its input");
        return;
    }
    json_object_object_add(message, "id", json_object_new_int64(r->child_id));
    if (!mint_progress_token(r, message))
        fail(r, 500, "out of memory");
    else if (!write_child(m, message))
        fail(r, 502, "the backend does not take input");
}

/* Whether the child listed version in its server/discover (an unknown
 * list: it decides). */
static bool version_listed(const mcpauth__stdio_modern *m, const char *version)
{
    size_t n = m->supported ? json_object_array_length(m->supported) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(m->supported, i);
        if (json_object_is_type(v, json_type_string) &&
            strcmp(json_object_get_string(v), version) == 0)
            return true;
    }
    return m->supported == NULL;
}

/* What the child cannot check, then the child: the version is one it
 * serves (basic/versioning §Protocol Version Negotiation: -32022 naming its
 * versions, as its server/discover does) and the Mcp-Param-* headers agree
 * with the body (streamable-http §Server Behavior for Custom Headers:
 * -32020). req: the HTTP request's headers. */
static void dispatch(mreq *r, json_object *message, const mcpauth_mcp_request *req)
{
    mcpauth__stdio_modern *m = r->m;
    json_object *error = NULL;
    mcpauth__jsonrpc_message msg;
    char why[256];
    if (!version_listed(m, r->requested)) {
        json_object *data = json_object_new_object();
        if (data && (!mcpauth__json_add(data, "supported", json_object_get(m->supported)) ||
                     !mcpauth__json_add(data, "requested", json_object_new_string(r->requested)))) {
            json_object_put(data);
            data = NULL;
        }
        error = data ? mcpauth__jsonrpc_error(r->client_id, MCPAUTH__JSONRPC_UNSUPPORTED_VERSION,
                                              "Unsupported protocol version", data)
                     : NULL;
    } else if (mcpauth__jsonrpc_classify(message, &msg) == MCPAUTH__JSONRPC_REQUEST &&
               !mcpauth__param_decls_check(m->decls, &msg, req, why, sizeof why)) {
        error = mcpauth__jsonrpc_error(r->client_id, MCPAUTH__JSONRPC_HEADER_MISMATCH, why, NULL);
    } else {
        send_request(r, message);
        return;
    }
    if (!error) {
        fail(r, 500, "out of memory");
        return;
    }
    finish(r, error, 400);
    json_object_put(error);
}

/* basic/versioning §Backward Compatibility: the command is of the 2025
 * era. A request that waited for the probe goes through the era bridge, as
 * the ones after it will (mcpauth__stdio_modern_speaks() is false now); the
 * sink becomes the bridge's. */
static void to_bridge(mreq *r, json_object *message)
{
    if (!r->sink) { /* the client went away meanwhile */
        mreq_free(r);
        return;
    }
    mcpauth_mcp_identity identity = {.token = r->has_token ? &r->token : NULL,
                                     .validated_by = r->validated_by,
                                     .cache_hit = r->cache_hit};
    mcpauth_mcp_sink *sink = r->sink;
    r->sink = NULL;
    /* identity points into r: r goes only after the bridge took the request. */
    json_object *body = json_object_get(message);
    mcpauth__era_take(r->m->backend->owner, r->requested, &identity, r->now, body, sink);
    json_object_put(body);
    mreq_free(r);
}

/* The probe is over: the queued requests go to the child, or are answered. */
static void probe_done(mcpauth__stdio_modern *m, era found, const char *why)
{
    m->era = found;
    if (found == ERA_MODERN) {
        mlog(m, "info",
             "backend[%d]: speaks MCP 2026-07-28 (%s); this child serves every modern request",
             pid_of(m), why);
    } else {
        mlog(m, "info",
             "backend[%d]: does not speak MCP 2026-07-28 (%s); its modern clients go through "
             "the era bridge",
             pid_of(m), why);
        mcpauth_child_stop(m->current->child);
        m->current = NULL;
    }
    for (mreq *r = m->reqs, *next; r; r = next) {
        next = r->next;
        if (!r->queued)
            continue;
        json_object *message = r->queued;
        r->queued = NULL;
        if (found == ERA_MODERN) {
            mcpauth_mcp_request req = {
                .param_headers = (const char *const *)r->params,
                .param_header_count = r->param_count,
            };
            dispatch(r, message, &req);
        } else {
            to_bridge(r, message);
        }
        json_object_put(message);
    }
}

/* One request of ours to the child (the probe, then its tools/list), with
 * our preferred version (stdio §Backward Compatibility) and the client
 * capabilities of a proxy that asks nothing; cursor: a tools/list page.
 * False when it could not be sent. */
static bool ask_child(mcpauth__stdio_modern *m, const char *method, json_object *cursor)
{
    const mcpauth_mcp_config *server = m->backend->server;
    json_object *message = json_object_new_object();
    json_object *params = json_object_new_object();
    json_object *meta = json_object_new_object();
    json_object *info = json_object_new_object();
    m->probe_id = ++m->next_id;
    m->probe_deadline_ms = uv_now(m->backend->loop) + PROBE_TIMEOUT_MS;
    bool ok =
        message && params && meta && info &&
        mcpauth__json_add(message, "jsonrpc", json_object_new_string("2.0")) &&
        mcpauth__json_add(message, "id", json_object_new_int64(m->probe_id)) &&
        mcpauth__json_add(message, "method", json_object_new_string(method)) &&
        mcpauth__json_add(meta, META_VERSION, json_object_new_string(MCPAUTH_MCP_MODERN_VERSION)) &&
        mcpauth__json_add(meta, META_CAPABILITIES, json_object_new_object()) &&
        mcpauth__json_add(info, "name",
                          json_object_new_string(server ? server->server_name : "mcpauth")) &&
        mcpauth__json_add(info, "version",
                          json_object_new_string(server ? server->server_version : "")) &&
        mcpauth__json_add(meta, META_CLIENT_INFO, json_object_get(info)) &&
        mcpauth__json_add(params, "_meta", json_object_get(meta)) &&
        (!cursor || mcpauth__json_add(params, "cursor", json_object_get(cursor))) &&
        mcpauth__json_add(message, "params", json_object_get(params)) && write_child(m, message);
    json_object_put(info);
    json_object_put(meta);
    json_object_put(params);
    json_object_put(message);
    return ok;
}

/* The child's tools, for the Mcp-Param-* headers it cannot check itself
 * (param_headers.c), read page by page before its first client request. */
static void from_tools_list(mcpauth__stdio_modern *m, json_object *message)
{
    json_object *result = member(message, "result");
    mcpauth__param_decls_learn(m->decls, result);
    json_object *cursor = member(result, "nextCursor");
    if (json_object_is_type(cursor, json_type_string) && ++m->list_pages < MAX_LIST_PAGES &&
        ask_child(m, "tools/list", cursor))
        return;
    m->listing = false;
    probe_done(m, ERA_MODERN, "server/discover answered");
}

/* stdio §Backward Compatibility: a DiscoverResult or a recognised error
 * of the revision means modern; anything else legacy (never keyed on one
 * error code). The versions it lists are the ones served to its clients. */
static void from_probe(mcpauth__stdio_modern *m, json_object *message)
{
    if (m->listing) {
        from_tools_list(m, message);
        return;
    }
    json_object *result = member(message, "result");
    json_object *error = member(message, "error");
    json_object *code = member(error, "code");
    int c = code ? json_object_get_int(code) : 0;
    json_object *versions = member(result, "supportedVersions");
    if (!json_object_is_type(versions, json_type_array) &&
        c == MCPAUTH__JSONRPC_UNSUPPORTED_VERSION)
        versions = member(member(error, "data"), "supported");
    bool modern =
        json_object_is_type(versions, json_type_array) ||
        (c <= MCPAUTH__JSONRPC_HEADER_MISMATCH && c >= MCPAUTH__JSONRPC_UNSUPPORTED_VERSION);
    if (!modern) {
        probe_done(m, ERA_LEGACY, "server/discover was not understood");
        return;
    }
    json_object_put(m->supported);
    m->supported =
        json_object_is_type(versions, json_type_array) ? json_object_get(versions) : NULL;
    m->listing = true;
    m->list_pages = 0;
    if (!ask_child(m, "tools/list", NULL)) {
        m->listing = false;
        probe_done(m, ERA_MODERN, "server/discover answered");
    }
}

/* A listen result's _meta subscriptionId is our id: the client's back. */
static void restore_subscription_id(mreq *r, json_object *message)
{
    json_object *meta = member(member(message, "result"), "_meta");
    if (member(meta, META_SUBSCRIPTION))
        mcpauth__json_add(meta, META_SUBSCRIPTION, json_object_get(r->client_id));
}

static void from_child_response(mcpauth__stdio_modern *m, json_object *message, json_object *id)
{
    mreq *r = mreq_sent(m, id);
    if (!r) {
        mlog(m, "info", "backend[%d]: a response to no request in flight (cancelled?); dropped",
             pid_of(m));
        return;
    }
    json_object_object_add(message, "id", json_object_get(r->client_id));
    if (r->listen)
        restore_subscription_id(r, message);
    if (r->tools_list)
        mcpauth__param_decls_learn(m->decls, member(message, "result"));
    mcpauth_error err;
    if (!mcpauth__mcp_filter_apply(r->filter, message, &err)) {
        mlog(m, "warning", "backend[%d]: %s; answered with an error", pid_of(m), err.message);
        fail(r, 502, "the backend's tools/list result is malformed");
        return;
    }
    /* server/utilities/caching §Choosing a Cache Scope: filtered for this
     * caller, whatever the child said. */
    json_object *result = member(message, "result");
    if (r->filter && json_object_is_type(result, json_type_object))
        mcpauth__json_add(result, "cacheScope", json_object_new_string("private"));
    finish(r, message, status_of(message));
}

/* The request a notification belongs to, its id rewritten to the client's;
 * NULL when none (see the rules above). */
static mreq *route_notification(mcpauth__stdio_modern *m, json_object *message, const char *method,
                                bool *end)
{
    json_object *params = member(message, "params");
    if (strcmp(method, "notifications/progress") == 0) {
        mreq *r = mreq_sent(m, member(params, "progressToken"));
        if (r && r->progress_token &&
            mcpauth__json_add(params, "progressToken", json_object_get(r->progress_token)))
            return r;
        return NULL;
    }
    if (strcmp(method, "notifications/cancelled") == 0) {
        mreq *r = mreq_sent(m, member(params, "requestId"));
        if (!r || !r->listen)
            return NULL;
        *end = true;
        mcpauth__json_add(params, "requestId", json_object_get(r->client_id));
        return r;
    }
    json_object *meta = member(params, "_meta");
    json_object *subscription = member(meta, META_SUBSCRIPTION);
    if (subscription) {
        mreq *r = mreq_sent(m, subscription);
        if (r && r->listen &&
            mcpauth__json_add(meta, META_SUBSCRIPTION, json_object_get(r->client_id)))
            return r;
        return NULL;
    }
    if (strcmp(method, "notifications/message") == 0) {
        mreq *only = NULL;
        for (mreq *r = m->reqs; r; r = r->next) {
            if (r->queued || !r->logs)
                continue;
            if (only)
                return NULL;
            only = r;
        }
        return only;
    }
    return NULL;
}

static void from_child_notification(mcpauth__stdio_modern *m, json_object *message,
                                    const char *method)
{
    bool end = false;
    mreq *r = route_notification(m, message, method, &end);
    if (!r) {
        mlog(m, "info", "backend[%d]: %s for no request in flight; dropped", pid_of(m), method);
        return;
    }
    if (!send_event(r, message) || end) {
        /* The client is gone (the child hears it), or the child ended the
         * subscription: the stream ends. */
        bool gone = !end;
        mcpauth_mcp_sink *sink = r->sink;
        r->sink = NULL;
        if (sink) {
            sink->on_abort = NULL;
            sink->stream_end(sink->data);
        }
        if (gone)
            cancel_at_child(m, r->child_id, "the client's response stream failed");
        mreq_free(r);
    }
}

static void refuse_child_request(mcpauth__stdio_modern *m, json_object *id)
{
    mlog(m, "warning", "backend[%d]: sent a request, which this revision does not allow; refused",
         pid_of(m));
    json_object *error =
        mcpauth__jsonrpc_error(id, MCPAUTH__JSONRPC_METHOD_NOT_FOUND,
                               "servers of MCP 2026-07-28 send no requests (basic/patterns)", NULL);
    write_child(m, error);
    json_object_put(error);
}

static void on_line(mcpauth_child *child, const char *line, size_t length, void *data)
{
    modern_child *mc = data;
    mcpauth__stdio_modern *m = mc->m;
    (void)child;
    if (length > 0 && line[length - 1] == '\r')
        length--;
    if (length == 0 || m->current != mc)
        return;
    json_object *message = mcpauth_json_parse(line, length, "backend output", NULL);
    mcpauth__jsonrpc_message msg;
    if (!message || !json_object_is_type(message, json_type_object) ||
        mcpauth__jsonrpc_classify(message, &msg) == MCPAUTH__JSONRPC_INVALID) {
        mlog(m, "warning", "backend[%d]: skipped a line that is not JSON-RPC (%zu bytes)", mc->pid,
             length);
        json_object_put(message);
        return;
    }
    bool probe_answer = m->era == ERA_PROBING && msg.kind == MCPAUTH__JSONRPC_RESPONSE &&
                        json_object_is_type(msg.id, json_type_int) &&
                        json_object_get_int64(msg.id) == m->probe_id;
    if (probe_answer)
        from_probe(m, message);
    else if (msg.kind == MCPAUTH__JSONRPC_RESPONSE)
        from_child_response(m, message, msg.id);
    else if (msg.kind == MCPAUTH__JSONRPC_NOTIFICATION)
        from_child_notification(m, message, msg.method);
    else if (msg.kind == MCPAUTH__JSONRPC_REQUEST)
        refuse_child_request(m, msg.id);
    json_object_put(message);
}

static void on_stderr(mcpauth_child *child, const char *line, size_t length, void *data)
{
    modern_child *mc = data;
    (void)child;
    char shown[MAX_STDERR_LINE + 1];
    size_t n = 0;
    for (size_t i = 0; i < length && n < MAX_STDERR_LINE; i++) {
        unsigned char c = (unsigned char)line[i];
        shown[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    shown[n] = '\0';
    mlog(mc->m, "info", "backend[%d]: %s", mc->pid, shown);
}

/* Every request sent to the current child fails with why (the child is
 * gone); queued ones wait for the next child. */
static void fail_sent(mcpauth__stdio_modern *m, const char *why)
{
    for (mreq *r = m->reqs, *next; r; r = next) {
        next = r->next;
        if (!r->queued)
            fail(r, 502, why);
    }
}

static void child_lost(mcpauth__stdio_modern *m, modern_child *mc, const char *why)
{
    if (m->current != mc)
        return;
    m->current = NULL;
    bool probing = m->era == ERA_PROBING;
    m->era = ERA_UNKNOWN;
    m->listing = false;
    fail_sent(m, why);
    /* A child that died while probed: its queued requests fail too. */
    for (mreq *r = m->reqs, *next; probing && r; r = next) {
        next = r->next;
        fail(r, 502, why);
    }
}

static void on_overflow(mcpauth_child *child, void *data)
{
    modern_child *mc = data;
    mlog(mc->m, "error",
         "backend[%d]: protocol violation: a line longer than the limit; stopping it", mc->pid);
    child_lost(mc->m, mc,
               "the backend broke the protocol (a message over the size limit) and was stopped");
    mcpauth_child_stop(child);
}

static void on_exit_cb(mcpauth_child *child, int64_t exit_status, int term_signal, void *data)
{
    modern_child *mc = data;
    (void)child;
    char why[128];
    if (term_signal)
        snprintf(why, sizeof why, "the backend was killed by signal %d (%s)", term_signal,
                 strsignal(term_signal));
    else
        snprintf(why, sizeof why, "the backend exited with status %" PRId64, exit_status);
    if (mc->m->current == mc)
        mlog(mc->m, "warning", "backend[%d]: %s", mc->pid, why);
    child_lost(mc->m, mc, why);
}

static void on_close_cb(mcpauth_child *child, void *data)
{
    modern_child *mc = data;
    mcpauth__stdio_modern *m = mc->m;
    (void)child;
    free(mc);
    if (--m->children == 0 && m->stopping && m->idle)
        m->idle(m->backend);
}

/* Starts a child and probes it; false (and logged) when it cannot start. */
static bool start_child(mcpauth__stdio_modern *m)
{
    modern_child *mc = calloc(1, sizeof *mc);
    if (!mc)
        return false;
    mc->m = m;
    mcpauth_child_callbacks cb = {
        .on_line = on_line,
        .on_stderr = on_stderr,
        .on_overflow = on_overflow,
        .on_exit = on_exit_cb,
        .on_close = on_close_cb,
    };
    int rc = m->spawn(m->backend, &cb, mc, &mc->child);
    if (rc != 0) {
        mlog(m, "error", "cannot start the backend %s: %s", m->backend->config.stdio.argv[0],
             uv_strerror(rc));
        free(mc);
        return false;
    }
    mc->pid = mcpauth_child_pid(mc->child);
    m->children++;
    m->current = mc;
    m->era = ERA_PROBING;
    m->probe_id = ++m->next_id;
    m->probe_deadline_ms = uv_now(m->backend->loop) + PROBE_TIMEOUT_MS;
    mlog(m, "info", "backend[%d]: started; asking which MCP era it speaks (server/discover)",
         mc->pid);
    if (!ask_child(m, "server/discover", NULL))
        probe_done(m, ERA_LEGACY, "it does not take input");
    return true;
}

/* ---- the backend's side ---- */

mcpauth__stdio_modern *mcpauth__stdio_modern_new(mcpauth_mcp_backend *backend,
                                                 mcpauth__stdio_modern_spawn_cb spawn,
                                                 void (*idle)(mcpauth_mcp_backend *backend))
{
    mcpauth__stdio_modern *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->backend = backend;
    m->spawn = spawn;
    m->idle = idle;
    if (!(m->decls = mcpauth__param_decls_new())) {
        free(m);
        return NULL;
    }
    return m;
}

bool mcpauth__stdio_modern_speaks(mcpauth__stdio_modern *m)
{
    return m->era != ERA_LEGACY;
}

/* r waits for the probe, with what it needs of the HTTP request. */
static void queue(mreq *r, const mcpauth__mcp_call *call)
{
    r->queued = json_object_get(call->message);
    const mcpauth_mcp_request *req = call->request;
    const mcpauth_mcp_identity *identity = call->identity ? call->identity
                                           : req          ? &req->identity
                                                          : NULL;
    if (identity) {
        r->has_token = identity->token && mcpauth_token_info_copy(identity->token, &r->token);
        r->validated_by = identity->validated_by;
        r->cache_hit = identity->cache_hit;
    }
    r->now = req ? req->now : 0;
    for (size_t i = 0; req && i < req->param_header_count && i < MAX_PARAM_HEADERS; i++)
        if ((r->params[r->param_count] = strdup(req->param_headers[i])))
            r->param_count++;
}

void mcpauth__stdio_modern_post(mcpauth__stdio_modern *m, mcpauth__mcp_call *call)
{
    const mcpauth__jsonrpc_message *msg = call->msg;
    if (msg->kind != MCPAUTH__JSONRPC_REQUEST) {
        mcpauth__mcp_reply_status(call->sink, 202);
        return;
    }
    if (m->stopping) {
        mcpauth__backend_reply_bad_gateway(call->sink, msg->id, "the server is shutting down");
        return;
    }
    mreq *r = calloc(1, sizeof *r);
    if (!r) {
        mcpauth__mcp_reply_status(call->sink, 500);
        return;
    }
    r->m = m;
    r->sink = call->sink;
    r->client_id = json_object_get(msg->id);
    r->filter = call->filter;
    call->filter = NULL;
    r->listen = strcmp(msg->method, "subscriptions/listen") == 0;
    r->tools_list = strcmp(msg->method, "tools/list") == 0;
    r->logs = member(member(msg->params, "_meta"), META_LOG_LEVEL) != NULL;
    snprintf(r->requested, sizeof r->requested, "%s",
             call->protocol_version ? call->protocol_version : "");
    r->next = m->reqs;
    m->reqs = r;
    if (m->era == ERA_LEGACY) {
        queue(r, call);
        json_object *message = json_object_get(r->queued);
        to_bridge(r, message);
        json_object_put(message);
        return;
    }
    if (!m->current && !start_child(m)) {
        char why[160];
        snprintf(why, sizeof why, "cannot start the backend %s", m->backend->config.stdio.argv[0]);
        fail(r, 502, why);
        return;
    }
    r->sink->on_abort = on_sink_abort;
    r->sink->engine_data = r;
    if (m->era == ERA_PROBING)
        queue(r, call);
    else if (m->era == ERA_MODERN)
        dispatch(r, call->message, call->request);
    else {
        queue(r, call); /* the probe failed at once */
        json_object *message = json_object_get(r->queued);
        to_bridge(r, message);
        json_object_put(message);
    }
}

/* An answer that takes a while becomes a stream: closing it is then how
 * the client cancels (streamable-http §Cancellation; a connection merely
 * half-closed under a pending JSON answer is not, RFC 9112 §9.6), and
 * comments keep it alive (§Receiving Messages). A client found gone
 * cancels the request (r is then freed). */
static void keep_alive(mreq *r, uint64_t now_ms)
{
    static const char comment[] = ": keepalive\n\n";
    uint64_t every = r->m->backend->config.keepalive_ms;
    bool due = r->streaming ? every && now_ms - r->last_write_ms >= every
                            : now_ms - r->sent_ms >= STREAM_AFTER_MS;
    if (!r->sink || !due || !start_stream(r))
        return;
    r->last_write_ms = now_ms;
    if (r->sink->stream_write(comment, sizeof comment - 1, r->sink->data) == 0)
        return;
    mcpauth_mcp_sink *sink = r->sink;
    r->sink = NULL;
    sink->on_abort = NULL;
    sink->stream_end(sink->data);
    cancel_at_child(r->m, r->child_id, "the client's response stream failed");
    mreq_free(r);
}

void mcpauth__stdio_modern_tick(mcpauth__stdio_modern *m, uint64_t now_ms)
{
    if (m->era == ERA_PROBING && now_ms >= m->probe_deadline_ms && m->listing) {
        m->listing = false;
        probe_done(m, ERA_MODERN, "server/discover answered; tools/list did not in time");
    } else if (m->era == ERA_PROBING && now_ms >= m->probe_deadline_ms) {
        probe_done(m, ERA_LEGACY, "no answer to server/discover in time");
    }
    for (mreq *r = m->reqs, *next; r; r = next) {
        next = r->next;
        if (!r->queued)
            keep_alive(r, now_ms);
    }
    /* Failing one may free others: look again from the start each time. */
    for (bool again = true; again;) {
        again = false;
        for (mreq *r = m->reqs; r; r = r->next) {
            if (r->queued || !r->deadline_ms || now_ms < r->deadline_ms)
                continue;
            char message[128];
            snprintf(message, sizeof message,
                     "Request timed out: the backend did not answer within %" PRIu64 " s",
                     m->backend->config.request_timeout_ms / 1000);
            mlog(m, "warning", "backend[%d]: request %" PRId64 " timed out; cancelled", pid_of(m),
                 r->child_id);
            cancel_at_child(m, r->child_id, "timed out");
            fail(r, 504, message);
            again = true;
            break;
        }
    }
}

/* subscriptions §Graceful Closure: the listen result, then the end. */
static void end_listen(mreq *r)
{
    json_object *result = json_object_new_object();
    json_object *meta = json_object_new_object();
    bool ok = result && meta &&
              mcpauth__json_add(meta, META_SUBSCRIPTION, json_object_get(r->client_id)) &&
              mcpauth__json_add(result, "resultType", json_object_new_string("complete")) &&
              mcpauth__json_add(result, "_meta", json_object_get(meta));
    json_object_put(meta);
    json_object *message = ok ? mcpauth__jsonrpc_result(r->client_id, result) : NULL;
    if (!ok)
        json_object_put(result);
    if (message)
        finish(r, message, 200);
    else
        fail(r, 500, "out of memory");
    json_object_put(message);
}

bool mcpauth__stdio_modern_stop(mcpauth__stdio_modern *m)
{
    m->stopping = true;
    for (mreq *r = m->reqs, *next; r; r = next) {
        next = r->next;
        if (r->listen && !r->queued)
            end_listen(r);
        else
            fail(r, 502, "the server is shutting down");
    }
    if (m->current) {
        mcpauth_child_stop(m->current->child);
        m->current = NULL;
    }
    return m->children == 0;
}

void mcpauth__stdio_modern_free(mcpauth__stdio_modern *m)
{
    if (!m)
        return;
    mcpauth__param_decls_free(m->decls);
    json_object_put(m->supported);
    free(m);
}
