/* One stdio child and the sessions it serves (mcp_backend.h has the rules):
 * ids and progress tokens remapped both ways, the requests in flight, the
 * routing of what the child sends, the SSE streams and their replay
 * buffer, timeouts. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "mcpauth/child_process.h"
#include "mcpauth/json.h"

#define MAX_LOGGED_BYTES  80 /* of a line we skip: enough to recognise it */
#define STANDALONE_STREAM 0
#define MAX_OUTGOING      1024 /* child requests waiting for the client's answer */

typedef struct session_streams session_streams;
typedef struct pending pending;

/* One SSE stream: a POST's (until its response) or the session's
 * standalone one (id 0). */
typedef struct stream {
    struct stream *next;
    session_streams *session;
    uint64_t id;
    uint64_t seq;           /* of the last event */
    uint64_t delivered;     /* standalone: the last seq a client got */
    mcpauth_mcp_sink *sink; /* the exchange writing it; NULL when the client is gone */
    bool started;           /* the sink answered with text/event-stream */
    bool initialize;        /* carries the session id header */
    uint64_t last_write_ms;
} stream;

/* A client request sent on to the child. */
struct pending {
    pending *next;
    session_streams *session;
    json_object *client_id;
    int64_t child_id;            /* also the progress token the child sees */
    json_object *progress_token; /* the client's params._meta.progressToken, or NULL */
    stream *stream;
    uint64_t deadline_ms; /* 0: none */
    bool initialize;
    mcpauth__mcp_filter *filter; /* a tools/list's, or NULL */
};

/* A child request sent on to a client. */
typedef struct outgoing {
    struct outgoing *next;
    session_streams *session;
    int64_t client_id; /* minted */
    json_object *child_id;
    uint64_t stream_id; /* of the stream it went on */
} outgoing;

/* What the bridge keeps of a session it serves: its streams and their
 * replay buffer, which routing the child's messages needs. The session
 * itself is the engine's (session.c) and the backend's entry for it
 * (stdio.c) names this bridge. */
struct session_streams {
    session_streams *next;
    mcpauth__bridge *bridge;
    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    mcpauth__sse_replay *replay;
    stream *streams; /* POST streams in progress */
    stream standalone;
    uint64_t next_stream;
};

struct mcpauth__bridge {
    uv_loop_t *loop;
    mcpauth_child *child;
    mcpauth__bridge_limits limits;
    mcpauth__bridge_hooks hooks;
    session_streams *sessions;
    pending *pendings;
    outgoing *outgoings;
    int64_t next_child_id;
    int64_t next_client_id;
    json_object *init_result;   /* shared: the first initialize's result */
    bool initialized_forwarded; /* shared: notifications/initialized went once */
    bool gone;                  /* the child exited */
    bool stopping;              /* we asked it to go */
    char failure[192];          /* why it stopped, for the errors we answer */
    int pid;
};

static void bridge_log(mcpauth__bridge *b, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void bridge_log(mcpauth__bridge *b, const char *level, const char *fmt, ...)
{
    if (!b->hooks.log)
        return;
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    b->hooks.log(level, message, b->hooks.data);
}

/* What a child wrote, made safe for one log line. */
static void printable(char *out, size_t size, const char *text, size_t length)
{
    size_t n = 0;
    for (size_t i = 0; i < length && n + 1 < size; i++) {
        unsigned char c = (unsigned char)text[i];
        out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[n] = '\0';
}

static session_streams *find_session(const mcpauth__bridge *b, const char *id)
{
    for (session_streams *s = b->sessions; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

/* ---- writing to the child ---- */

static bool send_to_child(mcpauth__bridge *b, json_object *message)
{
    size_t length = 0;
    const char *text = message ? mcpauth__jsonrpc_serialize(message, &length) : NULL;
    return text && !b->gone && mcpauth_child_write_line(b->child, text, length) == 0;
}

/* notifications/cancelled for a request the client no longer waits for
 * (basic/utilities/cancellation). */
static void cancel_at_child(mcpauth__bridge *b, int64_t child_id, const char *reason)
{
    json_object *n = mcpauth__jsonrpc_cancelled(child_id, reason);
    if (n)
        send_to_child(b, n);
    json_object_put(n);
}

/* ---- streams ---- */

static void stream_end(stream *s);

/* A write the HTTP layer refuses (the client is gone, or reads too slowly
 * and too much is queued for it) ends the stream from our side; the client
 * may resume it with Last-Event-ID. */
static void stream_write_raw(stream *s, const char *bytes, size_t length)
{
    if (!s->sink)
        return;
    if (s->sink->stream_write(bytes, length, s->sink->data) != 0) {
        stream_end(s);
        return;
    }
    s->last_write_ms = uv_now(s->session->bridge->loop);
}

static void write_replayed(const char *event, size_t length, void *data)
{
    stream_write_raw(data, event, length);
}

static void on_sink_abort(mcpauth_mcp_sink *sink)
{
    stream *s = sink->engine_data;
    /* transports §Sending Messages: a disconnect is not a cancellation; the
     * answer still goes into the replay buffer. */
    s->sink = NULL;
    s->started = false;
}

static void stream_attach(stream *s, mcpauth_mcp_sink *sink)
{
    s->sink = sink;
    s->started = false;
    sink->on_abort = on_sink_abort;
    sink->engine_data = s;
}

/* Answers the sink with text/event-stream and, for a new stream, the
 * priming event (MCP transports §Resumability and Redelivery): an id to
 * resume from and no data. */
static void stream_start(stream *s, bool prime, uint64_t prime_seq)
{
    s->sink->stream_start(s->initialize ? s->session->id : NULL, s->sink->data);
    s->started = true;
    s->last_write_ms = uv_now(s->session->bridge->loop);
    if (!prime)
        return;
    size_t length;
    char *event = mcpauth__sse_event(s->id, prime_seq, NULL, 0, &length);
    if (event)
        stream_write_raw(s, event, length);
    free(event);
}

static void stream_end(stream *s)
{
    mcpauth_mcp_sink *sink = s->sink;
    s->sink = NULL;
    s->started = false;
    if (sink)
        sink->stream_end(sink->data);
}

static stream *post_stream(session_streams *bs, uint64_t id)
{
    for (stream *s = bs->streams; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

/* Sends one message as the stream's next event, keeping it for replay. */
static void stream_send(stream *s, const char *json, size_t json_length)
{
    size_t length;
    uint64_t seq = s->seq + 1;
    char *event = mcpauth__sse_event(s->id, seq, json, json_length, &length);
    if (!event)
        return;
    s->seq = seq;
    mcpauth__sse_replay_add(s->session->replay, s->id, seq, event, length);
    if (s->sink) {
        if (!s->started)
            stream_start(s, true, 0);
        if (s->id == STANDALONE_STREAM && s->sink)
            s->delivered = seq;
        stream_write_raw(s, event, length);
    }
    free(event);
}

static void stream_send_json(stream *s, json_object *message)
{
    size_t length = 0;
    const char *text = mcpauth__jsonrpc_serialize(message, &length);
    if (text)
        stream_send(s, text, length);
}

/* ---- requests in flight ---- */

static void unlink_stream(session_streams *bs, stream *s)
{
    for (stream **p = &bs->streams; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            return;
        }
    }
}

static void pending_free(mcpauth__bridge *b, pending *p)
{
    for (pending **q = &b->pendings; *q; q = &(*q)->next) {
        if (*q == p) {
            *q = p->next;
            break;
        }
    }
    json_object_put(p->client_id);
    json_object_put(p->progress_token);
    mcpauth__mcp_filter_free(p->filter);
    free(p);
}

/* The answer to p (message, with the client's id) ends its stream: as
 * application/json when nothing went before it, else as the stream's last
 * event. A failed initialize is a 502 (the backend never came up). */
static void finish_request(pending *p, json_object *message, bool failed)
{
    mcpauth__bridge *b = p->session->bridge;
    stream *s = p->stream;
    session_streams *bs = p->session;
    if (s->sink && !s->started) {
        mcpauth_mcp_sink *sink = s->sink;
        s->sink = NULL;
        bool bad_start = failed && p->initialize;
        mcpauth__mcp_reply_json(sink, bad_start ? 502 : 200, json_object_get(message),
                                p->initialize && !bad_start ? bs->id : NULL);
    } else {
        stream_send_json(s, message);
        stream_end(s);
    }
    unlink_stream(bs, s);
    free(s);
    pending_free(b, p);
}

static void fail_request(pending *p, const char *message)
{
    json_object *error =
        mcpauth__jsonrpc_error(p->client_id, MCPAUTH__JSONRPC_INTERNAL_ERROR, message, NULL);
    finish_request(p, error, true);
    json_object_put(error);
}

static size_t pending_count(const mcpauth__bridge *b)
{
    size_t n = 0;
    for (const pending *p = b->pendings; p; p = p->next)
        n++;
    return n;
}

/* ---- from the child ---- */

/* The request in flight the child names by id, or (token) by the progress
 * token we gave it (post_request: the request's child id). */
static pending *pending_named(mcpauth__bridge *b, json_object *id, bool token)
{
    if (!json_object_is_type(id, json_type_int))
        return NULL;
    int64_t value = json_object_get_int64(id);
    for (pending *p = b->pendings; p; p = p->next)
        if (p->child_id == value && (!token || p->progress_token))
            return p;
    return NULL;
}

static json_object *params_get(json_object *message, const char *key)
{
    json_object *params = NULL, *value = NULL;
    if (json_object_object_get_ex(message, "params", &params) &&
        json_object_is_type(params, json_type_object))
        json_object_object_get_ex(params, key, &value);
    return value;
}

/* Rules 4 and 5 of mcp_backend.h for a session's own child: the stream a
 * message with no relation goes to; NULL once the session is gone. */
static stream *route_unrelated(mcpauth__bridge *b)
{
    if (pending_count(b) == 1)
        return b->pendings->stream;
    return b->sessions ? &b->sessions->standalone : NULL;
}

/* A tools/list result shows the caller only the tools its token may call
 * (MCP 2025-11-25 authorization §Scope Challenge Handling), before any of
 * it is sent or kept for replay. A result the policy cannot be applied to
 * is not passed on (it might show them all): false, and *error is the
 * JSON-RPC error to answer instead. */
static bool filter_tools(mcpauth__bridge *b, pending *p, json_object *message, json_object **error)
{
    mcpauth_error err;
    if (mcpauth__mcp_filter_apply(p->filter, message, &err))
        return true;
    bridge_log(b, "warning", "backend[%d]: %s; answered with an error", b->pid, err.message);
    *error = mcpauth__jsonrpc_error(p->client_id, MCPAUTH__JSONRPC_INTERNAL_ERROR,
                                    "the backend's tools/list result is malformed", NULL);
    return false;
}

static void from_child_response(mcpauth__bridge *b, json_object *message, json_object *id)
{
    pending *p = pending_named(b, id, false);
    if (!p) {
        bridge_log(b, "warning", "backend[%d]: a response to no request in flight; skipped",
                   b->pid);
        return;
    }
    json_object_object_add(message, "id", json_object_get(p->client_id));
    json_object *error = NULL;
    if (!filter_tools(b, p, message, &error)) {
        finish_request(p, error, false);
        json_object_put(error);
        return;
    }
    json_object *result = NULL;
    if (p->initialize && b->limits.shared && !b->init_result &&
        json_object_object_get_ex(message, "result", &result))
        b->init_result = json_object_get(result);
    finish_request(p, message, false);
}

static size_t outgoing_count(const mcpauth__bridge *b)
{
    size_t n = 0;
    for (const outgoing *o = b->outgoings; o; o = o->next)
        n++;
    return n;
}

static void refuse_child_request(mcpauth__bridge *b, json_object *id, const char *message)
{
    json_object *error = mcpauth__jsonrpc_error(id, MCPAUTH__JSONRPC_INTERNAL_ERROR, message, NULL);
    send_to_child(b, error);
    json_object_put(error);
}

/* Rules 4 and 5 of mcp_backend.h; a shared child's request goes to a
 * client only when one request of all sessions is in flight. NULL (and *why
 * says why) when there is no client to ask. */
static stream *route_child_request(mcpauth__bridge *b, const char **why)
{
    if (!b->limits.shared) {
        *why = "no client to ask: the session has ended";
        return route_unrelated(b);
    }
    size_t in_flight = pending_count(b);
    if (in_flight == 1)
        return b->pendings->stream;
    *why = in_flight == 0 ? "no client to ask: the shared backend has no request in flight, so "
                            "no session can be picked"
                          : "cannot tell which client to ask: the shared backend has several "
                            "requests in flight, of one or more sessions, and stdio does not say "
                            "which one this request is for";
    return NULL;
}

static void from_child_request(mcpauth__bridge *b, json_object *message, json_object *id)
{
    /* Requests the client never answers must not pile up. */
    if (outgoing_count(b) >= MAX_OUTGOING) {
        refuse_child_request(b, id, "too many requests to the client are waiting for answers");
        return;
    }
    const char *why = NULL;
    stream *s = route_child_request(b, &why);
    if (!s) {
        bridge_log(b, "info", "backend[%d]: refused a request of the backend: %s", b->pid, why);
        refuse_child_request(b, id, why);
        return;
    }
    outgoing *o = calloc(1, sizeof *o);
    if (!o) {
        refuse_child_request(b, id, "out of memory");
        return;
    }
    o->session = s->session;
    o->stream_id = s->id;
    o->client_id = ++b->next_client_id;
    o->child_id = json_object_get(id);
    o->next = b->outgoings;
    b->outgoings = o;
    json_object_object_add(message, "id", json_object_new_int64(o->client_id));
    stream_send_json(s, message);
}

/* Rule 2: progress goes to the request whose token (ours) it names, with
 * the client's token. Progress only ever concerns a request in flight
 * (basic/utilities/progress), so any other is dropped: it would carry our
 * token, which means nothing to a client. */
static void from_child_progress(mcpauth__bridge *b, json_object *message)
{
    pending *p = pending_named(b, params_get(message, "progressToken"), true);
    if (!p) {
        bridge_log(b, "info", "backend[%d]: progress for no request in flight; dropped", b->pid);
        return;
    }
    json_object *params = NULL;
    json_object_object_get_ex(message, "params", &params);
    if (mcpauth__json_add(params, "progressToken", json_object_get(p->progress_token)))
        stream_send_json(p->stream, message);
}

/* Rule 3: the child cancels a request it sent a client: to that client's
 * stream (the POST's while in progress, else the standalone one), by our
 * id. One naming no such request is dropped. */
static void from_child_cancel(mcpauth__bridge *b, json_object *message)
{
    json_object *request_id = params_get(message, "requestId");
    for (outgoing *o = b->outgoings; request_id && o; o = o->next) {
        if (!json_object_equal(o->child_id, request_id))
            continue;
        json_object *params = NULL;
        json_object_object_get_ex(message, "params", &params);
        if (!mcpauth__json_add(params, "requestId", json_object_new_int64(o->client_id)))
            return;
        stream *s = post_stream(o->session, o->stream_id);
        stream_send_json(s ? s : &o->session->standalone, message);
        return;
    }
    bridge_log(b, "info", "backend[%d]: a cancellation naming no request to a client; dropped",
               b->pid);
}

static void from_child_notification(mcpauth__bridge *b, json_object *message, const char *method)
{
    if (strcmp(method, "notifications/progress") == 0) {
        from_child_progress(b, message);
        return;
    }
    if (strcmp(method, "notifications/cancelled") == 0) {
        from_child_cancel(b, message);
        return;
    }
    if (!b->limits.shared) {
        stream *s = route_unrelated(b);
        if (s)
            stream_send_json(s, message);
        return;
    }
    /* A shared child's news (list_changed, say) concerns the one server
     * every session talks to, so it is every session's, never one
     * request's. */
    for (session_streams *bs = b->sessions; bs; bs = bs->next)
        stream_send_json(&bs->standalone, message);
}

static void on_child_line(mcpauth_child *child, const char *line, size_t length, void *data)
{
    mcpauth__bridge *b = data;
    (void)child;
    if (length > 0 && line[length - 1] == '\r')
        length--;
    if (length == 0)
        return;
    json_object *message = mcpauth_json_parse(line, length, "backend output", NULL);
    mcpauth__jsonrpc_message msg;
    if (!message || !json_object_is_type(message, json_type_object) ||
        mcpauth__jsonrpc_classify(message, &msg) == MCPAUTH__JSONRPC_INVALID) {
        char shown[MAX_LOGGED_BYTES + 1];
        printable(shown, sizeof shown, line, length);
        bridge_log(b, "warning",
                   "backend[%d]: skipped a line that is not JSON-RPC (%zu bytes): %s%s", b->pid,
                   length, shown, length > MAX_LOGGED_BYTES ? "..." : "");
        json_object_put(message);
        return;
    }
    switch (msg.kind) {
    case MCPAUTH__JSONRPC_RESPONSE:
        from_child_response(b, message, msg.id);
        break;
    case MCPAUTH__JSONRPC_REQUEST:
        from_child_request(b, message, msg.id);
        break;
    case MCPAUTH__JSONRPC_NOTIFICATION:
        from_child_notification(b, message, msg.method);
        break;
    case MCPAUTH__JSONRPC_INVALID:
        break;
    }
    json_object_put(message);
}

static void on_child_stderr(mcpauth_child *child, const char *line, size_t length, void *data)
{
    mcpauth__bridge *b = data;
    (void)child;
    char shown[1024];
    printable(shown, sizeof shown, line, length);
    bridge_log(b, "info", "backend[%d]: %s", b->pid, shown);
}

static void set_failure(mcpauth__bridge *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_failure(mcpauth__bridge *b, const char *fmt, ...)
{
    if (b->failure[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->failure, sizeof b->failure, fmt, ap);
    va_end(ap);
}

static void on_child_overflow(mcpauth_child *child, void *data)
{
    mcpauth__bridge *b = data;
    (void)child;
    bridge_log(b, "error",
               "backend[%d]: protocol violation: a line longer than the limit; stopping it",
               b->pid);
    set_failure(b, "the backend broke the protocol (a message over the size limit) and was "
                   "stopped");
    mcpauth_child_stop(b->child);
}

static void session_free(session_streams *bs)
{
    stream_end(&bs->standalone);
    mcpauth__sse_replay_free(bs->replay);
    free(bs);
}

/* Everything of bs the bridge holds goes: requests fail with reason. */
static void session_drop(mcpauth__bridge *b, session_streams *bs, const char *reason, bool cancel)
{
    for (pending *p = b->pendings, *next; p; p = next) {
        next = p->next;
        if (p->session != bs)
            continue;
        if (cancel)
            cancel_at_child(b, p->child_id, reason);
        fail_request(p, reason);
    }
    for (outgoing **o = &b->outgoings; *o;) {
        if ((*o)->session == bs) {
            outgoing *gone = *o;
            *o = gone->next;
            json_object_put(gone->child_id);
            free(gone);
        } else {
            o = &(*o)->next;
        }
    }
    for (session_streams **p = &b->sessions; *p; p = &(*p)->next) {
        if (*p == bs) {
            *p = bs->next;
            break;
        }
    }
    session_free(bs);
}

static void on_child_exit(mcpauth_child *child, int64_t exit_status, int term_signal, void *data)
{
    mcpauth__bridge *b = data;
    (void)child;
    b->gone = true;
    if (term_signal)
        set_failure(b, "the backend was killed by signal %d (%s)", term_signal,
                    strsignal(term_signal));
    else
        set_failure(b, "the backend exited with status %" PRId64, exit_status);
    bool expected = b->stopping || (!term_signal && !exit_status);
    bridge_log(b, expected ? "info" : "warning", "backend[%d]: %s", b->pid, b->failure);
    while (b->sessions) {
        char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
        memcpy(id, b->sessions->id, sizeof id);
        session_drop(b, b->sessions, b->failure, false);
        if (b->hooks.session_ended)
            b->hooks.session_ended(id, b->hooks.data);
    }
}

static void on_child_close(mcpauth_child *child, void *data)
{
    mcpauth__bridge *b = data;
    (void)child;
    if (b->hooks.closed)
        b->hooks.closed(b, b->hooks.data);
    json_object_put(b->init_result);
    free(b);
}

int mcpauth__bridge_spawn(uv_loop_t *loop, const mcpauth_child_options *options,
                          const mcpauth__bridge_limits *limits, const mcpauth__bridge_hooks *hooks,
                          mcpauth__bridge **out)
{
    mcpauth__bridge *b = calloc(1, sizeof *b);
    if (!b)
        return UV_ENOMEM;
    b->loop = loop;
    b->limits = *limits;
    b->hooks = *hooks;
    mcpauth_child_callbacks cb = {
        .on_line = on_child_line,
        .on_stderr = on_child_stderr,
        .on_overflow = on_child_overflow,
        .on_exit = on_child_exit,
        .on_close = on_child_close,
    };
    int rc = mcpauth_child_spawn(loop, options, &cb, b, &b->child);
    if (rc != 0) {
        free(b);
        return rc;
    }
    b->pid = mcpauth_child_pid(b->child);
    *out = b;
    return 0;
}

/* ---- sessions ---- */

bool mcpauth__bridge_attach(mcpauth__bridge *b, const char *session_id)
{
    if (b->gone)
        return false;
    session_streams *bs = calloc(1, sizeof *bs);
    if (!bs || !(bs->replay = mcpauth__sse_replay_new(b->limits.max_buffered))) {
        free(bs);
        return false;
    }
    bs->bridge = b;
    snprintf(bs->id, sizeof bs->id, "%s", session_id);
    bs->standalone.session = bs;
    bs->standalone.id = STANDALONE_STREAM;
    bs->next_stream = STANDALONE_STREAM + 1;
    bs->next = b->sessions;
    b->sessions = bs;
    return true;
}

bool mcpauth__bridge_has(const mcpauth__bridge *b, const char *session_id)
{
    return find_session(b, session_id) != NULL;
}

bool mcpauth__bridge_usable(const mcpauth__bridge *b)
{
    return !b->gone && !b->failure[0];
}

int mcpauth__bridge_pid(const mcpauth__bridge *b)
{
    return b->pid;
}

bool mcpauth__bridge_session_busy(const mcpauth__bridge *b, const char *session_id)
{
    const session_streams *bs = find_session(b, session_id);
    if (!bs)
        return false;
    if (bs->standalone.sink || bs->streams)
        return true;
    for (const pending *p = b->pendings; p; p = p->next)
        if (p->session == bs)
            return true;
    return false;
}

void mcpauth__bridge_detach(mcpauth__bridge *b, const char *session_id, const char *reason)
{
    session_streams *bs = find_session(b, session_id);
    if (!bs)
        return;
    session_drop(b, bs, reason, true);
    if (!b->limits.shared) {
        b->stopping = true;
        set_failure(b, "%s", reason);
        mcpauth_child_stop(b->child);
    }
}

void mcpauth__bridge_stop(mcpauth__bridge *b, const char *reason)
{
    b->stopping = true;
    set_failure(b, "%s", reason);
    mcpauth_child_stop(b->child);
}

/* ---- from the client ---- */

/* The shared child is initialized once: later sessions get its answer. */
static void answer_from_cache(mcpauth__bridge *b, session_streams *bs,
                              const mcpauth__jsonrpc_message *msg, mcpauth_mcp_sink *sink)
{
    json_object *reply = mcpauth__jsonrpc_result(msg->id, json_object_get(b->init_result));
    mcpauth__mcp_reply_json(sink, 200, reply, bs->id);
}

/* Progress tokens are unique per client only (the SDK uses the request id),
 * so the child gets one unique to it, the request's child id, and each
 * notifications/progress it sends goes back with the client's token
 * (basic/utilities/progress; rule 2 of mcp_backend.h). False on allocation
 * failure. */
static bool mint_progress_token(pending *p, json_object *message)
{
    json_object *meta = params_get(message, "_meta");
    json_object *token = NULL;
    if (!meta || !json_object_object_get_ex(meta, "progressToken", &token))
        return true;
    p->progress_token = json_object_get(token);
    return mcpauth__json_add(meta, "progressToken", json_object_new_int64(p->child_id));
}

static void post_request(mcpauth__bridge *b, session_streams *bs, mcpauth__mcp_call *call)
{
    json_object *message = call->message;
    const mcpauth__jsonrpc_message *msg = call->msg;
    mcpauth_mcp_sink *sink = call->sink;
    bool initialize = strcmp(msg->method, "initialize") == 0;
    if (initialize && b->init_result) {
        answer_from_cache(b, bs, msg, sink);
        return;
    }
    if (mcpauth_child_write_pending(b->child) > b->limits.max_buffered) {
        json_object *error = mcpauth__jsonrpc_error(msg->id, MCPAUTH__JSONRPC_INTERNAL_ERROR,
                                                    "the backend is not reading its input", NULL);
        mcpauth__mcp_reply_json(sink, 503, error, NULL);
        return;
    }
    pending *p = calloc(1, sizeof *p);
    stream *s = calloc(1, sizeof *s);
    if (!p || !s) {
        free(p);
        free(s);
        mcpauth__mcp_reply_status(sink, 500);
        return;
    }
    p->filter = call->filter;
    call->filter = NULL;
    p->session = bs;
    p->client_id = json_object_get(msg->id);
    p->child_id = ++b->next_child_id;
    p->initialize = initialize;
    if (b->limits.request_timeout_ms)
        p->deadline_ms = uv_now(b->loop) + b->limits.request_timeout_ms;
    s->session = bs;
    s->id = bs->next_stream++;
    s->initialize = initialize;
    p->stream = s;
    stream_attach(s, sink);
    s->next = bs->streams;
    bs->streams = s;
    p->next = b->pendings;
    b->pendings = p;
    json_object_object_add(message, "id", json_object_new_int64(p->child_id));
    if (!mint_progress_token(p, message))
        fail_request(p, "out of memory");
    else if (!send_to_child(b, message))
        fail_request(p, b->failure[0] ? b->failure : "the backend does not take input");
}

/* The client answers one of the child's requests: back with the child's
 * id. */
static void post_response(mcpauth__bridge *b, session_streams *bs, json_object *message,
                          const mcpauth__jsonrpc_message *msg)
{
    if (!json_object_is_type(msg->id, json_type_int))
        return;
    int64_t id = json_object_get_int64(msg->id);
    for (outgoing **o = &b->outgoings; *o; o = &(*o)->next) {
        outgoing *out = *o;
        if (out->session != bs || out->client_id != id)
            continue;
        *o = out->next;
        json_object_object_add(message, "id", json_object_get(out->child_id));
        send_to_child(b, message);
        json_object_put(out->child_id);
        free(out);
        return;
    }
}

/* A client cancels only its own requests (basic/utilities/cancellation),
 * which the child knows by our ids. One naming no request of the session in
 * flight is dropped: its requestId, read in our numbering, could name
 * another session's request at a shared child. It may simply have crossed
 * the answer (§Timing), so that is no error. */
static void post_cancel(mcpauth__bridge *b, session_streams *bs, json_object *message)
{
    json_object *request_id = params_get(message, "requestId");
    for (pending *p = b->pendings; request_id && p; p = p->next) {
        if (p->session != bs || !json_object_equal(p->client_id, request_id))
            continue;
        json_object *params = NULL;
        json_object_object_get_ex(message, "params", &params);
        if (mcpauth__json_add(params, "requestId", json_object_new_int64(p->child_id)))
            send_to_child(b, message);
        return;
    }
    bridge_log(b, "info",
               "backend[%d]: a client's cancellation naming no request of its session in "
               "flight; dropped",
               b->pid);
}

static void post_notification(mcpauth__bridge *b, session_streams *bs, json_object *message,
                              const mcpauth__jsonrpc_message *msg)
{
    if (strcmp(msg->method, "notifications/cancelled") == 0) {
        post_cancel(b, bs, message);
        return;
    }
    if (strcmp(msg->method, "notifications/initialized") == 0 && b->limits.shared) {
        if (b->initialized_forwarded)
            return;
        b->initialized_forwarded = true;
    }
    send_to_child(b, message);
}

void mcpauth__bridge_post(mcpauth__bridge *b, mcpauth__mcp_call *call)
{
    session_streams *bs = find_session(b, call->session_id);
    if (!bs) {
        mcpauth__mcp_reply_status(call->sink, 404);
        return;
    }
    switch (call->msg->kind) {
    case MCPAUTH__JSONRPC_REQUEST:
        post_request(b, bs, call);
        return;
    case MCPAUTH__JSONRPC_RESPONSE:
        post_response(b, bs, call->message, call->msg);
        break;
    case MCPAUTH__JSONRPC_NOTIFICATION:
        post_notification(b, bs, call->message, call->msg);
        break;
    case MCPAUTH__JSONRPC_INVALID:
        break;
    }
    mcpauth__mcp_reply_status(call->sink, 202);
}

static void reply_conflict(mcpauth_mcp_sink *sink)
{
    json_object *error =
        mcpauth__jsonrpc_error(NULL, MCPAUTH__JSONRPC_SERVER_ERROR,
                               "Conflict: Only one SSE stream is allowed per session", NULL);
    mcpauth__mcp_reply_json(sink, 409, error, NULL);
}

/* Last-Event-ID names a POST stream: its kept events after seq, then the
 * rest live when its request is still in flight. */
static void resume_post_stream(session_streams *bs, uint64_t id, uint64_t seq,
                               mcpauth_mcp_sink *sink)
{
    stream *s = post_stream(bs, id);
    if (s && s->sink) {
        reply_conflict(sink);
        return;
    }
    if (s) {
        stream_attach(s, sink);
        stream_start(s, false, 0);
        mcpauth__sse_replay_since(bs->replay, id, seq, write_replayed, s);
        return;
    }
    /* Finished: what is kept of it, then the end. */
    stream done = {.session = bs, .id = id, .sink = sink};
    stream_start(&done, false, 0);
    mcpauth__sse_replay_since(bs->replay, id, seq, write_replayed, &done);
    stream_end(&done);
}

void mcpauth__bridge_get(mcpauth__bridge *b, const char *session_id, const char *last_event_id,
                         mcpauth_mcp_sink *sink)
{
    session_streams *bs = find_session(b, session_id);
    if (!bs) {
        mcpauth__mcp_reply_status(sink, 404);
        return;
    }
    uint64_t id = 0, seq = 0;
    bool resuming = last_event_id && mcpauth__sse_parse_id(last_event_id, &id, &seq);
    if (resuming && id != STANDALONE_STREAM) {
        resume_post_stream(bs, id, seq, sink);
        return;
    }
    stream *s = &bs->standalone;
    if (s->sink) {
        reply_conflict(sink);
        return;
    }
    /* transports §Resumability and Redelivery: a resumed standalone stream replays after the
     * client's last event; a new one delivers what was buffered while none was open. */
    uint64_t after = resuming && seq <= s->seq ? seq : s->delivered;
    stream_attach(s, sink);
    stream_start(s, true, after);
    mcpauth__sse_replay_since(bs->replay, STANDALONE_STREAM, after, write_replayed, s);
    s->delivered = s->seq;
}

/* ---- time ---- */

static void keepalive(stream *s, uint64_t now_ms, uint64_t every_ms)
{
    static const char comment[] = ": keepalive\n\n";
    if (s->sink && s->started && every_ms && now_ms - s->last_write_ms >= every_ms)
        stream_write_raw(s, comment, sizeof comment - 1);
}

static pending *first_expired(mcpauth__bridge *b, uint64_t now_ms)
{
    for (pending *p = b->pendings; p; p = p->next)
        if (p->deadline_ms && now_ms >= p->deadline_ms)
            return p;
    return NULL;
}

/* The session cannot go on (its initialize failed): it ends here, and the
 * session table hears of it. */
static void end_session_here(mcpauth__bridge *b, session_streams *bs, const char *reason)
{
    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    memcpy(id, bs->id, sizeof id);
    session_drop(b, bs, reason, true);
    if (b->hooks.session_ended)
        b->hooks.session_ended(id, b->hooks.data);
    if (!b->limits.shared) {
        b->stopping = true;
        set_failure(b, "%s", reason);
        mcpauth_child_stop(b->child);
    }
}

void mcpauth__bridge_tick(mcpauth__bridge *b, uint64_t now_ms)
{
    /* Failing one request may end its session and others with it: look
     * again from the start each time. */
    for (pending *p; (p = first_expired(b, now_ms));) {
        char message[128];
        snprintf(message, sizeof message,
                 "Request timed out: the backend did not answer within %" PRIu64 " s",
                 b->limits.request_timeout_ms / 1000);
        bridge_log(b, "warning", "backend[%d]: request %" PRId64 " timed out; cancelled", b->pid,
                   p->child_id);
        cancel_at_child(b, p->child_id, "timed out");
        session_streams *bs = p->session;
        bool initialize = p->initialize;
        fail_request(p, message);
        if (initialize)
            end_session_here(b, bs, "the backend did not answer initialize in time");
    }
    for (session_streams *bs = b->sessions; bs; bs = bs->next) {
        keepalive(&bs->standalone, now_ms, b->limits.keepalive_ms);
        for (stream *s = bs->streams; s; s = s->next)
            keepalive(s, now_ms, b->limits.keepalive_ms);
    }
}
