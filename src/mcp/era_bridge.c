/* The era bridge: a client of MCP 2026-07-28 (stateless, per-request
 * _meta, multi round-trip requests) served by a backend of the 2025 era
 * (initialize, sessions, server-to-client requests), through the backend's
 * operations only (a stdio child or an upstream alike).
 *
 * For each caller (subject and client id of the token; everyone alike
 * without one) mcpauth opens one session of its own at the backend: it
 * sends initialize (2025-11-25 basic/lifecycle §Initialization) with the
 * capabilities and clientInfo of the caller's first request, then
 * notifications/initialized. Each modern request goes into that session
 * with the io.modelcontextprotocol/ _meta keys taken off (they mean
 * nothing to a 2025 server) and under an id of ours; the answer comes back
 * in the modern shape (2026-07-28 basic §ResultType, §_meta;
 * server/utilities/caching). server/discover is answered from the
 * backend's initialize result.
 *
 * A request the backend sends mid-call (elicitation/create,
 * sampling/createMessage, roots/list) becomes an InputRequiredResult
 * (basic/patterns/mrtr) whose requestState (request_state.c) names the
 * call, which stays pending at the backend; the client's retry with
 * inputResponses delivers them as the answers to the backend's requests
 * and the call goes on. Closing the response stream cancels the call at
 * the backend (streamable-http §Cancellation; 2025 basic/utilities/
 * cancellation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcp_internal.h"
#include "mcpauth/http_sse.h"
#include "mcpauth/json.h"
#include "mcpauth/strbuf.h"
#include "mcpauth_config.h"

#define META_PREFIX       "io.modelcontextprotocol/"
#define META_CAPABILITIES "io.modelcontextprotocol/clientCapabilities"
#define META_CLIENT_INFO  "io.modelcontextprotocol/clientInfo"
#define META_LOG_LEVEL    "io.modelcontextprotocol/logLevel"
#define META_SERVER_INFO  "io.modelcontextprotocol/serverInfo"
/* A backend that knows it may be bridged can name an input request by
 * this _meta key of its request; else the bridge names it
 * "<kind>-<n>" (mrtr §InputRequests: keys are the server's to choose). */
#define META_INPUT_KEY "dev.mcpauth/inputKey"

#define SESSION_VERSION MCPAUTH_MCP_LATEST_VERSION
#define MAX_KEY         64         /* bytes of an input request's key */
#define MAX_EVENT       (8u << 20) /* bytes of one SSE event from the backend */
/* Input requests the backend sends in one burst (Promise.all of three,
 * say) belong in one InputRequiredResult: the answer waits this long
 * after the first for the others. */
#define GATHER_MS 30
/* A call that may be asked for input and has not answered by then
 * answers as an SSE stream (its answer the last event): the HTTP server
 * takes a client that closes its side mid-stream as gone, which is the
 * call's cancellation (streamable-http §Cancellation), while before a
 * stream starts it is a half-close that still waits for the answer. */
#define STREAM_AFTER_MS 200

typedef struct owner_session owner_session;
typedef struct bcall bcall;

struct mcpauth__era {
    mcpauth_mcp_server *server;
    mcpauth__request_state_key *key;
    owner_session *owners;
    bcall *calls;
    uint64_t next_handle;
    int64_t next_id;
    bool closing;
};

typedef enum owner_phase { OWNER_OPENING, OWNER_READY, OWNER_FAILED } owner_phase;

/* The session mcpauth holds at the backend for one caller. */
struct owner_session {
    owner_session *next;
    mcpauth__era *era;
    unsigned char owner[MCPAUTH__REQUEST_STATE_OWNER_SIZE];
    char session_id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    owner_phase phase;
    json_object *init_result; /* the backend's initialize result */
    int64_t init_id;
    mcpauth_mcp_sink init_sink;
    mcpauth_http_sse_reader init_reader;
    bool init_answered;
    size_t calls; /* bcalls that name it */
    /* Calls that may be asked for input (tools/call, prompts/get,
     * resources/read: mrtr §Supported Requests). stdio does not say which
     * request a child's request is for: with other requests in flight it
     * arrives on the session's standalone stream (mcp_backend.h rules 4
     * and 5), open while the session has such calls. So one of them at a
     * time runs (interactive) and is the one asked; the others wait for
     * their client's retry, quiet at the backend until their answers are
     * delivered, which waits for the running one to finish or be asked
     * itself (CALL_RESUMING). */
    bcall *interactive;
    size_t interactive_calls;
    mcpauth_mcp_sink stream_sink;
    mcpauth_http_sse_reader stream_reader;
    bool stream_open;
};

typedef enum call_phase {
    CALL_WAITING,  /* for the session's initialize */
    CALL_RUNNING,  /* at the backend, a client waiting */
    CALL_INPUT,    /* at the backend, waiting for the client's retry */
    CALL_RESUMING, /* the retry came; waits for the session's interactive call to end */
    CALL_DONE,     /* answered; freed once the backend is done with it */
} call_phase;

/* One modern request served through the bridge, over its retries. */
struct bcall {
    bcall *next;
    mcpauth__era *era;
    owner_session *os;
    uint64_t handle;
    uint64_t round; /* of the requestState last given out */
    int64_t era_id; /* the id the backend knows the call by */
    call_phase phase;
    bool interactive; /* may be asked for input: holds os->interactive while it runs */
    /* The request as it first came: method and name (or uri), which a
     * retry must repeat (mrtr §Server Requirements 5). */
    char *method;
    char *name;
    json_object *message; /* CALL_WAITING: to forward once the session is up */
    mcpauth__mcp_filter *filter;
    /* The client now waiting, and what its request said. */
    mcpauth_mcp_sink *client;
    json_object *client_id;
    json_object *capabilities;
    json_object *responses; /* its inputResponses, consumed as they are used */
    int log_level;          /* -1: no notifications/message */
    bool streaming;         /* the client's answer is an SSE stream */
    /* The backend's side. */
    mcpauth_mcp_sink inner;
    mcpauth_http_sse_reader reader;
    bool inner_done;
    bool posting;           /* inside ops->post: do not free */
    json_object *asked;     /* key → {method, params}: input requests not yet answered */
    json_object *asked_ids; /* key → the backend's request id */
    json_object *final;     /* the answer, when it came with no client to take it */
    unsigned ordinal;
    /* One timer, one purpose at a time: the stream's start while it
     * runs, the gathering window, the retry's deadline while it waits. */
    uv_timer_t timer;
    bool gathering;
    bool timer_closed;
};

/* --- small things ------------------------------------------------------- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static mcpauth_mcp_backend *backend_of(const mcpauth__era *e)
{
    return mcpauth__engine_backend(e->server);
}

static const mcpauth_mcp_config *config_of(const mcpauth__era *e)
{
    return mcpauth__engine_config(e->server);
}

static uint64_t state_ttl_ms(const mcpauth__era *e)
{
    uint64_t ttl = config_of(e)->request_state_ttl_ms;
    return ttl ? ttl : 300000;
}

static void caller_of(const mcpauth_mcp_request *req,
                      unsigned char owner[MCPAUTH__REQUEST_STATE_OWNER_SIZE])
{
    const mcpauth_token_info *token = req->identity.token;
    mcpauth__request_state_owner(token ? token->subject : NULL, token ? token->client_id : NULL,
                                 owner);
}

/* server/utilities/logging §Log Levels, least severe first. */
static int log_level_rank(const char *level)
{
    static const char *const levels[] = {"debug", "info",     "notice", "warning",
                                         "error", "critical", "alert",  "emergency"};
    for (size_t i = 0; level && i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(level, levels[i]) == 0)
            return (int)i;
    return -1;
}

/* Replies and notifications the bridge sends on its own account: their
 * 202 (or late answer) matters to no one. */
static void discard_reply(const mcpauth_mcp_reply *reply, void *data)
{
    (void)reply;
    (void)data;
}
static void discard_start(const char *session_id, void *data)
{
    (void)session_id;
    (void)data;
}
static int discard_write(const char *bytes, size_t length, void *data)
{
    (void)bytes;
    (void)length;
    (void)data;
    return 0;
}
static void discard_end(void *data)
{
    (void)data;
}
static mcpauth_mcp_sink discard_sink = {
    .reply = discard_reply,
    .stream_start = discard_start,
    .stream_write = discard_write,
    .stream_end = discard_end,
};

static const mcpauth_mcp_identity no_identity;

/* One message into the caller's session at the backend. */
static void post_to_backend(mcpauth__era *e, const char *session_id, json_object *message,
                            mcpauth_mcp_sink *sink, const mcpauth_mcp_identity *identity,
                            mcpauth__mcp_filter **filter)
{
    mcpauth__jsonrpc_message msg;
    if (mcpauth__jsonrpc_classify(message, &msg) == MCPAUTH__JSONRPC_INVALID) {
        sink->reply(&(mcpauth_mcp_reply){.status = 500}, sink->data);
        return;
    }
    mcpauth__mcp_call call = {
        .session_id = session_id,
        .protocol_version = SESSION_VERSION,
        .message = message,
        .msg = &msg,
        .identity = identity ? identity : &no_identity,
        .filter = filter ? *filter : NULL,
        .sink = sink,
    };
    mcpauth_mcp_backend *backend = backend_of(e);
    backend->ops->post(backend, &call);
    if (filter)
        *filter = call.filter;
}

static json_object *new_message(const char *method, json_object *id, json_object *params)
{
    json_object *m = json_object_new_object();
    if (!m || !mcpauth__json_add(m, "jsonrpc", json_object_new_string("2.0")) ||
        (id && !mcpauth__json_add(m, "id", id)) ||
        (method && !mcpauth__json_add(m, "method", json_object_new_string(method))) ||
        (params && !mcpauth__json_add(m, "params", params))) {
        json_object_put(m);
        return NULL;
    }
    return m;
}

/* --- answering the modern client ---------------------------------------- */

static void client_detach(bcall *c)
{
    if (c->client) {
        c->client->on_abort = NULL;
        c->client->engine_data = NULL;
    }
    c->client = NULL;
    c->streaming = false;
}

/* One message as one event on the client's stream (streamable-http
 * §Receiving Messages: no id, the revision has no resumption). False when
 * the client is gone. */
static bool client_event(bcall *c, json_object *message)
{
    if (!c->streaming) {
        c->client->stream_start(NULL, c->client->data);
        c->streaming = true;
    }
    size_t length = 0;
    const char *json = mcpauth__jsonrpc_serialize(message, &length);
    mcpauth_strbuf event = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&event, "event: message\ndata: ");
    mcpauth_strbuf_append(&event, json, length);
    mcpauth_strbuf_appends(&event, "\n\n");
    int rc = mcpauth_strbuf_failed(&event)
                 ? -1
                 : c->client->stream_write(event.data, event.length, c->client->data);
    mcpauth_strbuf_free(&event);
    return rc == 0;
}

/* The client's answer, which ends its exchange (taken). */
static void client_answer(bcall *c, int status, json_object *message)
{
    mcpauth_mcp_sink *sink = c->client;
    if (!sink) {
        json_object_put(message);
        return;
    }
    if (c->streaming) {
        /* The write may find the client gone and the HTTP layer let go of
         * the sink then and there (on_client_abort): only a sink still
         * held is ended. */
        if (message)
            client_event(c, message);
        json_object_put(message);
        sink = c->client;
        client_detach(c);
        if (sink)
            sink->stream_end(sink->data);
        return;
    }
    client_detach(c);
    mcpauth__mcp_reply_json(sink, status, message, NULL);
}

static void client_error(bcall *c, int status, int code, const char *text)
{
    client_answer(c, status, mcpauth__jsonrpc_error(c->client_id, code, text, NULL));
}

/* --- bridged calls: lifetime -------------------------------------------- */

static void on_timer_closed(uv_handle_t *handle)
{
    bcall *c = handle->data;
    json_object_put(c->final);
    json_object_put(c->asked);
    json_object_put(c->asked_ids);
    json_object_put(c->responses);
    json_object_put(c->capabilities);
    json_object_put(c->client_id);
    json_object_put(c->message);
    mcpauth__mcp_filter_free(c->filter);
    mcpauth_http_sse_reader_free(&c->reader);
    free(c->method);
    free(c->name);
    free(c);
}

static void stream_close(owner_session *os);

/* Freed once answered and the backend let go of it. */
static void call_release(bcall *c)
{
    if (c->phase != CALL_DONE || !c->inner_done || c->posting || c->timer_closed)
        return;
    for (bcall **p = &c->era->calls; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    if (c->os) {
        c->os->calls--;
        if (c->os->interactive == c)
            c->os->interactive = NULL;
        if (c->interactive && --c->os->interactive_calls == 0)
            stream_close(c->os);
    }
    c->timer_closed = true;
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

/* The backend stops hearing of the call: a request still running there is
 * cancelled (basic/utilities/cancellation), and nothing more of it
 * reaches us. */
static void call_cancel(bcall *c, const char *reason)
{
    uv_timer_stop(&c->timer);
    if (c->inner_done)
        return;
    mcpauth__era *e = c->era;
    json_object *note = mcpauth__jsonrpc_cancelled(c->era_id, reason);
    if (note)
        post_to_backend(e, c->os->session_id, note, &discard_sink, NULL, NULL);
    json_object_put(note);
    if (c->inner.on_abort)
        c->inner.on_abort(&c->inner);
    c->inner_done = true;
}

static void slot_free(bcall *c);

static void call_finish(bcall *c)
{
    c->phase = CALL_DONE;
    uv_timer_stop(&c->timer);
    slot_free(c);
    call_release(c);
}

/* --- the modern shape --------------------------------------------------- */

static bool cacheable(const char *method)
{
    static const char *const methods[] = {
        "server/discover",          "tools/list",    "prompts/list", "resources/list",
        "resources/templates/list", "resources/read"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(method, methods[i]) == 0)
            return true;
    return false;
}

/* basic §ResultType and §_meta: the result says it is complete and who
 * answered (the backend, by its initialize result). caching §Cacheable
 * Results: a 2025 server gives no hints, and its lists may change and
 * its answers be the caller's own (a child per caller): kept by no one,
 * for no time. */
static bool modern_shape(bcall *c, json_object *result, const char *type)
{
    json_object *meta = mcpauth__json_member(result, "_meta", json_type_object);
    if (!meta) {
        meta = json_object_new_object();
        if (!mcpauth__json_add(result, "_meta", meta))
            return false;
    }
    json_object *info = mcpauth__json_member(c->os->init_result, "serverInfo", json_type_object);
    if (info && !mcpauth__json_add(meta, META_SERVER_INFO, json_object_get(info)))
        return false;
    if (!mcpauth__json_add(result, "resultType", json_object_new_string(type)))
        return false;
    if (strcmp(type, "complete") == 0 && cacheable(c->method)) {
        if (!json_object_object_get_ex(result, "ttlMs", NULL) &&
            !mcpauth__json_add(result, "ttlMs", json_object_new_int(0)))
            return false;
        if (!json_object_object_get_ex(result, "cacheScope", NULL) &&
            !mcpauth__json_add(result, "cacheScope", json_object_new_string("private")))
            return false;
    }
    return true;
}

/* --- input requests ----------------------------------------------------- */

/* The client capability an input request needs (mrtr §Server
 * Requirements 7), or NULL when the method is no input request. */
static const char *input_capability(const char *method)
{
    if (strcmp(method, "elicitation/create") == 0)
        return "elicitation";
    if (strcmp(method, "sampling/createMessage") == 0)
        return "sampling";
    if (strcmp(method, "roots/list") == 0)
        return "roots";
    return NULL;
}

static void answer_backend(bcall *c, json_object *id, json_object *result, int code,
                           const char *text)
{
    json_object *m = result ? new_message(NULL, json_object_get(id), NULL)
                            : mcpauth__jsonrpc_error(id, code, text, NULL);
    if (m && result && !mcpauth__json_add(m, "result", json_object_get(result))) {
        json_object_put(m);
        m = NULL;
    }
    if (m)
        post_to_backend(c->era, c->os->session_id, m, &discard_sink, NULL, NULL);
    json_object_put(m);
}

/* A key of the backend's choosing when printable and new to the call;
 * else ours. */
static void input_key(bcall *c, json_object *params, const char *capability, char *key, size_t size)
{
    json_object *meta = mcpauth__json_member(params, "_meta", json_type_object);
    json_object *named = mcpauth__json_member(meta, META_INPUT_KEY, json_type_string);
    if (named) {
        const char *text = json_object_get_string(named);
        bool ok = mcpauth__mcp_quotable(text, MAX_KEY) && text[0] &&
                  !json_object_object_get_ex(c->asked, text, NULL);
        if (ok)
            snprintf(key, size, "%s", text); /* before text goes with the key below */
        json_object_object_del(meta, META_INPUT_KEY);
        if (json_object_object_length(meta) == 0)
            json_object_object_del(params, "_meta");
        if (ok)
            return;
    }
    do
        snprintf(key, size, "%s-%u", capability, ++c->ordinal);
    while (json_object_object_get_ex(c->asked, key, NULL));
}

/* An inputResponses value the backend can take as a result: an object. */
static json_object *usable_response(bcall *c, const char *key)
{
    return mcpauth__json_member(c->responses, key, json_type_object);
}

/* The sealed requestState for the call's next round; NULL on failure. */
static char *mint_state(bcall *c)
{
    mcpauth__request_state st = {
        .expires_ms = wall_ms() + (int64_t)state_ttl_ms(c->era),
        .handle = c->handle,
        .round = ++c->round,
    };
    memcpy(st.owner, c->os->owner, sizeof st.owner);
    return mcpauth__request_state_seal(c->era->key, &st);
}

static void on_deadline(uv_timer_t *timer);

/* Holds at most max_input_waits calls per caller waiting for a retry: the
 * oldest goes first (mrtr §Server Requirements 8: clients need not retry,
 * so a call nobody comes back for must not stay forever). */
static void bound_waits(bcall *c)
{
    size_t limit = config_of(c->era)->max_input_waits;
    if (!limit)
        limit = 16;
    for (;;) {
        size_t waiting = 0;
        bcall *oldest = NULL;
        for (bcall *o = c->era->calls; o; o = o->next) {
            if (memcmp(o->os->owner, c->os->owner, sizeof c->os->owner) != 0 ||
                o->phase != CALL_INPUT || o == c)
                continue;
            waiting++;
            if (!oldest || o->handle < oldest->handle)
                oldest = o;
        }
        if (waiting < limit || !oldest)
            return;
        mcpauth__backend_log(backend_of(c->era), "info",
                             "era bridge: a call waiting for input was cancelled: the caller "
                             "has --max-input-waits calls waiting");
        call_cancel(oldest, "the client did not come back with its input");
        call_finish(oldest);
    }
}

/* mrtr §InputRequiredResult: the questions gathered so far and a state
 * naming the call, which waits at the backend for the retry. */
static void ask_client(bcall *c)
{
    c->gathering = false;
    if (!c->client || c->phase != CALL_RUNNING || json_object_object_length(c->asked) == 0)
        return;
    char *state = mint_state(c);
    json_object *result = json_object_new_object();
    bool ok = state && result &&
              mcpauth__json_add(result, "inputRequests", json_object_get(c->asked)) &&
              mcpauth__json_add(result, "requestState", json_object_new_string(state)) &&
              modern_shape(c, result, "input_required");
    free(state);
    if (!ok) {
        json_object_put(result);
        client_error(c, 500, MCPAUTH__JSONRPC_INTERNAL_ERROR, "out of memory");
        call_cancel(c, "the bridge ran out of memory");
        call_finish(c);
        return;
    }
    client_answer(c, 200, mcpauth__jsonrpc_result(c->client_id, result));
    if (c->phase != CALL_RUNNING)
        return; /* the client went away as it was answered: the call was cancelled */
    c->phase = CALL_INPUT;
    uv_timer_start(&c->timer, on_deadline, state_ttl_ms(c->era), 0);
    slot_free(c);
    bound_waits(c);
}

static void on_slow(uv_timer_t *timer)
{
    bcall *c = timer->data;
    if (c->phase == CALL_RUNNING && c->client && !c->streaming && c->client->stream_start) {
        c->client->stream_start(NULL, c->client->data);
        c->streaming = true;
    }
}

/* A running call that may be asked for input, and whose client waits. */
static void watch_slow(bcall *c)
{
    if (c->interactive && c->phase == CALL_RUNNING && c->client && !c->streaming)
        uv_timer_start(&c->timer, on_slow, STREAM_AFTER_MS, 0);
}

static void on_gathered(uv_timer_t *timer)
{
    bcall *c = timer->data;
    c->gathering = false;
    ask_client(c);
}

/* The state expired: no retry can continue the call any more. */
static void on_deadline(uv_timer_t *timer)
{
    bcall *c = timer->data;
    call_cancel(c, "the client did not come back with its input in time");
    call_finish(c);
}

/* basic §Error Codes, MissingRequiredClientCapabilityError: the call
 * needs what the client's request did not declare (mrtr §Server
 * Requirements 7 forbids asking for it), so it ends here with -32021 and
 * is cancelled at the backend. */
static void refuse_missing_capability(bcall *c, const char *capability)
{
    if (!c->client || c->phase != CALL_RUNNING)
        return;
    json_object *data = json_object_new_object();
    json_object *required = json_object_new_object();
    if (!data || !required || !mcpauth__json_add(required, capability, json_object_new_object()) ||
        !mcpauth__json_add(data, "requiredCapabilities", json_object_get(required))) {
        json_object_put(data);
        data = NULL;
    }
    json_object_put(required);
    char text[128];
    snprintf(text, sizeof text, "Missing required client capability: %s", capability);
    client_answer(
        c, 400,
        mcpauth__jsonrpc_error(c->client_id, MCPAUTH__JSONRPC_MISSING_CAPABILITY, text, data));
    call_cancel(c, "the client lacks a capability the call needs");
    call_finish(c);
}

/* A request of the backend mid-call: answered from the client's
 * inputResponses when they hold it, refused when the client's request did
 * not declare the capability, else put to the client. */
static void from_backend_request(bcall *c, json_object *message,
                                 const mcpauth__jsonrpc_message *msg)
{
    if (strcmp(msg->method, "ping") == 0) {
        json_object *empty = json_object_new_object();
        answer_backend(c, msg->id, empty, 0, NULL);
        json_object_put(empty);
        return;
    }
    const char *capability = input_capability(msg->method);
    if (!capability) {
        answer_backend(c, msg->id, NULL, MCPAUTH__JSONRPC_METHOD_NOT_FOUND,
                       "Method not found: a client of MCP 2026-07-28 answers only "
                       "elicitation/create, sampling/createMessage and roots/list");
        return;
    }
    if (!mcpauth__json_member(c->capabilities, capability, json_type_object)) {
        answer_backend(c, msg->id, NULL, MCPAUTH__JSONRPC_METHOD_NOT_FOUND,
                       "Method not found: the client did not declare this capability");
        refuse_missing_capability(c, capability);
        return;
    }
    json_object *params = mcpauth__json_member(message, "params", json_type_object);
    char key[MAX_KEY + 16];
    input_key(c, params, capability, key, sizeof key);
    json_object *answer = usable_response(c, key);
    if (answer) {
        answer_backend(c, msg->id, answer, 0, NULL);
        json_object_object_del(c->responses, key);
        return;
    }
    json_object *request = json_object_new_object();
    if (!request || !mcpauth__json_add(request, "method", json_object_new_string(msg->method)) ||
        (params && !mcpauth__json_add(request, "params", json_object_get(params))) ||
        !mcpauth__json_add(c->asked, key, request) ||
        !mcpauth__json_add(c->asked_ids, key, json_object_get(msg->id))) {
        answer_backend(c, msg->id, NULL, MCPAUTH__JSONRPC_INTERNAL_ERROR, "out of memory");
        return;
    }
    if (c->client && c->phase == CALL_RUNNING && !c->gathering) {
        c->gathering = true;
        uv_timer_start(&c->timer, on_gathered, GATHER_MS, 0);
    }
}

/* The backend withdrew one of its requests (cancellation §Behavior). */
static void from_backend_cancel(bcall *c, json_object *message)
{
    json_object *id = mcpauth__json_member(
        mcpauth__json_member(message, "params", json_type_object), "requestId", json_type_int);
    json_object_object_foreach(c->asked_ids, key, value)
    {
        if (id && json_object_equal(id, value)) {
            json_object_object_del(c->asked, key);
            json_object_object_del(c->asked_ids, key);
            return;
        }
    }
}

/* --- what the backend sends for a call ---------------------------------- */

static void deliver_final(bcall *c, json_object *response)
{
    json_object *result = mcpauth__json_member(response, "result", json_type_object);
    if (result && !modern_shape(c, result, "complete")) {
        json_object_put(response);
        client_error(c, 500, MCPAUTH__JSONRPC_INTERNAL_ERROR, "out of memory");
        call_finish(c);
        return;
    }
    json_object *error = mcpauth__json_member(response, "error", json_type_object);
    json_object *code = mcpauth__json_member(error, "code", json_type_int);
    /* streamable-http §Protocol Version Header: an unknown method is 404. */
    int status = code && json_object_get_int(code) == MCPAUTH__JSONRPC_METHOD_NOT_FOUND ? 404 : 200;
    client_answer(c, status, response);
    call_finish(c);
}

static void from_backend_response(bcall *c, json_object *message)
{
    c->inner_done = true; /* nothing more comes for this id */
    if (c->phase == CALL_RUNNING) {
        uv_timer_stop(&c->timer); /* the gathering window: moot now */
        c->gathering = false;
    }
    json_object_object_add(message, "id", json_object_get(c->client_id));
    if (!c->client) {
        /* The backend finished while the client is away: the retry gets
         * it. */
        json_object_put(c->final);
        c->final = json_object_get(message);
        if (c->phase == CALL_RUNNING)
            call_finish(c);
        return;
    }
    deliver_final(c, json_object_get(message));
}

static void from_backend_notification(bcall *c, json_object *message,
                                      const mcpauth__jsonrpc_message *msg)
{
    if (strcmp(msg->method, "notifications/cancelled") == 0) {
        from_backend_cancel(c, message);
        return;
    }
    bool relay = strcmp(msg->method, "notifications/progress") == 0;
    if (strcmp(msg->method, "notifications/message") == 0) {
        /* 2026-07-28 server/utilities/logging: only for a request that
         * asked, at its level and above. */
        json_object *level = mcpauth__json_member(
            mcpauth__json_member(message, "params", json_type_object), "level", json_type_string);
        relay = c->log_level >= 0 && level &&
                log_level_rank(json_object_get_string(level)) >= c->log_level;
    }
    if (relay && c->client && c->client->stream_start && !client_event(c, message)) {
        /* The client is gone; on_client_abort runs from the HTTP layer. */
        return;
    }
}

static void from_backend(bcall *c, json_object *message)
{
    mcpauth__jsonrpc_message msg;
    switch (mcpauth__jsonrpc_classify(message, &msg)) {
    case MCPAUTH__JSONRPC_RESPONSE:
        if (json_object_is_type(msg.id, json_type_int) &&
            json_object_get_int64(msg.id) == c->era_id && !c->inner_done)
            from_backend_response(c, message);
        break;
    case MCPAUTH__JSONRPC_REQUEST:
        from_backend_request(c, message, &msg);
        break;
    case MCPAUTH__JSONRPC_NOTIFICATION:
        from_backend_notification(c, message, &msg);
        break;
    case MCPAUTH__JSONRPC_INVALID:
        break;
    }
}

static bool on_inner_event(const mcpauth_http_sse_event *event, void *data)
{
    json_object *message =
        mcpauth_json_parse(event->data, event->data_length, "backend event", NULL);
    if (message) {
        from_backend(data, message);
        json_object_put(message);
    }
    return true;
}

/* The backend answered without a JSON-RPC response of its own (a 502, a
 * 500): passed on with the client's id. */
static void inner_failed(bcall *c, const mcpauth_mcp_reply *reply)
{
    c->inner_done = true;
    json_object *body =
        reply->body ? mcpauth_json_parse(reply->body, reply->body_length, "backend answer", NULL)
                    : NULL;
    if (json_object_is_type(body, json_type_object))
        json_object_object_add(body, "id", json_object_get(c->client_id));
    else {
        json_object_put(body);
        body = mcpauth__jsonrpc_error(c->client_id, MCPAUTH__JSONRPC_INTERNAL_ERROR,
                                      "the backend gave no answer", NULL);
    }
    if (c->client)
        client_answer(c, reply->status >= 400 ? reply->status : 502, body);
    else {
        json_object_put(c->final);
        c->final = body;
        if (c->phase == CALL_RUNNING)
            call_finish(c);
        return;
    }
    call_finish(c);
}

static void on_inner_reply(const mcpauth_mcp_reply *reply, void *data)
{
    bcall *c = data;
    if (c->inner_done)
        return;
    json_object *message =
        reply->status == 200 && reply->body
            ? mcpauth_json_parse(reply->body, reply->body_length, "backend answer", NULL)
            : NULL;
    mcpauth__jsonrpc_message msg;
    if (message && mcpauth__jsonrpc_classify(message, &msg) == MCPAUTH__JSONRPC_RESPONSE)
        from_backend_response(c, message);
    else
        inner_failed(c, reply);
    json_object_put(message);
    call_release(c);
}

static void on_inner_start(const char *session_id, void *data)
{
    (void)session_id;
    (void)data;
}

static int on_inner_write(const char *bytes, size_t length, void *data)
{
    bcall *c = data;
    if (c->inner_done)
        return 0;
    if (!mcpauth_http_sse_reader_feed(&c->reader, bytes, length))
        return -1;
    return 0;
}

static void on_inner_end(void *data)
{
    bcall *c = data;
    if (!c->inner_done) {
        mcpauth_http_sse_reader_finish(&c->reader);
        if (!c->inner_done)
            inner_failed(c, &(mcpauth_mcp_reply){.status = 502});
    }
    call_release(c);
}

/* streamable-http §Cancellation: the client closed its stream. */
static void on_client_abort(mcpauth_mcp_sink *sink)
{
    bcall *c = sink->engine_data;
    c->client = NULL;
    c->streaming = false;
    if (c->phase != CALL_RUNNING && c->phase != CALL_RESUMING)
        return;
    call_cancel(c, "the client closed its stream");
    call_finish(c);
}

/* --- the caller's session ----------------------------------------------- */

static void call_start(bcall *c);

static void owner_failed(owner_session *os, int status, json_object *error_body)
{
    mcpauth__era *e = os->era;
    os->phase = OWNER_FAILED;
    for (bcall *c = e->calls, *next; c; c = next) {
        next = c->next;
        if (c->os != os || c->phase != CALL_WAITING)
            continue;
        json_object *error =
            json_object_get(mcpauth__json_member(error_body, "error", json_type_object));
        json_object *reply = error ? new_message(NULL, json_object_get(c->client_id), NULL) : NULL;
        if (reply && !mcpauth__json_add(reply, "error", error)) {
            json_object_put(reply);
            reply = NULL;
        }
        if (!reply)
            reply = mcpauth__jsonrpc_error(c->client_id, MCPAUTH__JSONRPC_INTERNAL_ERROR,
                                           "the backend did not initialize", NULL);
        c->inner_done = true;
        client_answer(c, status, reply);
        call_finish(c);
    }
    /* The session ends at the next sweep (owners_sweep): this runs inside
     * the backend's own answer, where ending it would pull the request
     * from under it. */
}

static void owner_ready(owner_session *os, json_object *result)
{
    mcpauth__era *e = os->era;
    os->init_result = json_object_get(result);
    os->phase = OWNER_READY;
    /* lifecycle §Initialization: the client's notifications/initialized. */
    json_object *note = new_message("notifications/initialized", NULL, NULL);
    if (note)
        post_to_backend(e, os->session_id, note, &discard_sink, NULL, NULL);
    json_object_put(note);
    for (bcall *c = e->calls, *next; c; c = next) {
        next = c->next;
        if (c->os == os && c->phase == CALL_WAITING)
            call_start(c);
    }
}

static void owner_init_answer(owner_session *os, json_object *message)
{
    if (os->init_answered)
        return;
    os->init_answered = true;
    json_object *result = mcpauth__json_member(message, "result", json_type_object);
    if (result)
        owner_ready(os, result);
    else
        owner_failed(os, 502, message);
}

static bool on_init_event(const mcpauth_http_sse_event *event, void *data)
{
    owner_session *os = data;
    json_object *message =
        mcpauth_json_parse(event->data, event->data_length, "backend event", NULL);
    mcpauth__jsonrpc_message msg;
    if (message && mcpauth__jsonrpc_classify(message, &msg) == MCPAUTH__JSONRPC_RESPONSE &&
        json_object_is_type(msg.id, json_type_int) && json_object_get_int64(msg.id) == os->init_id)
        owner_init_answer(os, message);
    json_object_put(message);
    return true;
}

static void on_init_reply(const mcpauth_mcp_reply *reply, void *data)
{
    owner_session *os = data;
    json_object *message =
        reply->body ? mcpauth_json_parse(reply->body, reply->body_length, "backend answer", NULL)
                    : NULL;
    if (reply->status == 200 && message)
        owner_init_answer(os, message);
    else if (!os->init_answered) {
        os->init_answered = true;
        owner_failed(os, reply->status >= 400 ? reply->status : 502, message);
    }
    json_object_put(message);
}

static int on_init_write(const char *bytes, size_t length, void *data)
{
    owner_session *os = data;
    return mcpauth_http_sse_reader_feed(&os->init_reader, bytes, length) ? 0 : -1;
}

static void on_init_end(void *data)
{
    owner_session *os = data;
    mcpauth_http_sse_reader_finish(&os->init_reader);
    if (!os->init_answered) {
        os->init_answered = true;
        owner_failed(os, 502, NULL);
    }
}

/* initialize as the client's first request describes it: its
 * capabilities (the 2025 ClientCapabilities are the same object) and its
 * clientInfo, else ours. A modern client declares its capabilities per
 * request, while the session outlives the request: the backend is told
 * the client can elicit, sample and list roots, and each request it makes
 * of a client is checked against the capabilities of the request it
 * serves (refuse_missing_capability). */
static json_object *initialize_message(owner_session *os, json_object *meta)
{
    json_object *capabilities = NULL, *info = NULL;
    json_object *caps = mcpauth__json_member(meta, META_CAPABILITIES, json_type_object);
    json_object *client_info = mcpauth__json_member(meta, META_CLIENT_INFO, json_type_object);
    if (caps)
        json_object_deep_copy(caps, &capabilities, NULL);
    else
        capabilities = json_object_new_object();
    static const char *const input_kinds[] = {"elicitation", "sampling", "roots"};
    for (size_t i = 0; capabilities && i < sizeof input_kinds / sizeof input_kinds[0]; i++) {
        if (!json_object_object_get_ex(capabilities, input_kinds[i], NULL) &&
            !mcpauth__json_add(capabilities, input_kinds[i], json_object_new_object())) {
            json_object_put(capabilities);
            capabilities = NULL;
        }
    }
    if (client_info)
        json_object_deep_copy(client_info, &info, NULL);
    else {
        info = json_object_new_object();
        if (info &&
            (!mcpauth__json_add(info, "name", json_object_new_string("mcpauth")) ||
             !mcpauth__json_add(info, "version", json_object_new_string(MCPAUTH_VERSION)))) {
            json_object_put(info);
            info = NULL;
        }
    }
    json_object *params = json_object_new_object();
    bool ok =
        params && capabilities && info &&
        mcpauth__json_add(params, "protocolVersion", json_object_new_string(SESSION_VERSION)) &&
        mcpauth__json_add(params, "capabilities", json_object_get(capabilities)) &&
        mcpauth__json_add(params, "clientInfo", json_object_get(info));
    json_object_put(capabilities);
    json_object_put(info);
    os->init_id = ++os->era->next_id;
    json_object *m =
        ok ? new_message("initialize", json_object_new_int64(os->init_id), json_object_get(params))
           : NULL;
    json_object_put(params);
    return m;
}

/* --- the session's standalone stream ------------------------------------ */

static bool on_stream_event(const mcpauth_http_sse_event *event, void *data)
{
    owner_session *os = data;
    json_object *message =
        mcpauth_json_parse(event->data, event->data_length, "backend event", NULL);
    mcpauth__jsonrpc_message msg;
    if (message && mcpauth__jsonrpc_classify(message, &msg) == MCPAUTH__JSONRPC_REQUEST) {
        bcall *c = os->interactive;
        if (c && c->phase == CALL_RUNNING && !c->inner_done)
            from_backend_request(c, message, &msg);
        else {
            json_object *error = mcpauth__jsonrpc_error(
                msg.id, MCPAUTH__JSONRPC_INTERNAL_ERROR,
                "no call of this session can take a request to the client now", NULL);
            if (error)
                post_to_backend(os->era, os->session_id, error, &discard_sink, NULL, NULL);
            json_object_put(error);
        }
    }
    json_object_put(message);
    return true;
}

static void on_stream_reply(const mcpauth_mcp_reply *reply, void *data)
{
    owner_session *os = data;
    (void)reply;
    os->stream_open = false;
    mcpauth_http_sse_reader_free(&os->stream_reader);
}

static int on_stream_write(const char *bytes, size_t length, void *data)
{
    owner_session *os = data;
    return mcpauth_http_sse_reader_feed(&os->stream_reader, bytes, length) ? 0 : -1;
}

static void on_stream_end(void *data)
{
    owner_session *os = data;
    os->stream_open = false;
    mcpauth_http_sse_reader_free(&os->stream_reader);
}

static void stream_open(owner_session *os)
{
    mcpauth_mcp_backend *backend = backend_of(os->era);
    if (os->stream_open || !backend->ops->open_stream)
        return;
    mcpauth_http_sse_reader_init(&os->stream_reader, MAX_EVENT, on_stream_event, os);
    os->stream_sink = (mcpauth_mcp_sink){
        .reply = on_stream_reply,
        .stream_start = on_inner_start,
        .stream_write = on_stream_write,
        .stream_end = on_stream_end,
        .data = os,
    };
    os->stream_open = true;
    backend->ops->open_stream(backend, os->session_id, NULL, &os->stream_sink);
}

/* The backend stops writing to it (the session stays). */
static void stream_close(owner_session *os)
{
    if (!os->stream_open)
        return;
    os->stream_open = false;
    if (os->stream_sink.on_abort)
        os->stream_sink.on_abort(&os->stream_sink);
    mcpauth_http_sse_reader_free(&os->stream_reader);
}

static bool owner_alive(mcpauth__era *e, owner_session *os, int64_t now)
{
    if (os->phase == OWNER_FAILED)
        return false;
    if (os->phase == OWNER_OPENING)
        return true;
    return mcpauth__backend_session_find(backend_of(e), os->session_id) &&
           mcpauth__session_alive(mcpauth__engine_sessions(e->server), os->session_id, now);
}

/* Sessions of callers that are gone (the child exited, idle) with no call
 * naming them. */
static void owners_sweep(mcpauth__era *e, int64_t now)
{
    for (owner_session **p = &e->owners; *p;) {
        owner_session *os = *p;
        if (os->calls == 0 && !owner_alive(e, os, now)) {
            *p = os->next;
            stream_close(os);
            if (os->phase == OWNER_FAILED && os->session_id[0])
                mcpauth__engine_end_session(e->server, os->session_id);
            json_object_put(os->init_result);
            mcpauth_http_sse_reader_free(&os->init_reader);
            free(os);
        } else {
            p = &os->next;
        }
    }
}

/* The caller's live session, or a new one being opened; NULL when sink
 * was answered (a limit, no memory, the backend would not start). */
/* A live session of owner, the oldest (the list is newest first): the one
 * its calls have been going to, and so the one its child's state is in;
 * with interactive, one with no call that may be asked for input. */
static owner_session *owner_find(mcpauth__era *e, const unsigned char *owner, int64_t now,
                                 bool interactive)
{
    owner_session *found = NULL;
    for (owner_session *os = e->owners; os; os = os->next) {
        if (memcmp(os->owner, owner, MCPAUTH__REQUEST_STATE_OWNER_SIZE) == 0 &&
            owner_alive(e, os, now) && !(interactive && os->interactive))
            found = os;
    }
    return found;
}

/* A new session of the caller, initialize on its way; NULL when sink
 * was answered (a limit, no memory, the backend would not start). */
static owner_session *owner_open(mcpauth__era *e, const mcpauth_mcp_request *req, json_object *meta,
                                 const unsigned char *owner, mcpauth_mcp_sink *sink)
{
    owner_session *os = calloc(1, sizeof *os);
    if (!os) {
        mcpauth__mcp_reply_status(sink, 500);
        return NULL;
    }
    os->era = e;
    memcpy(os->owner, owner, MCPAUTH__REQUEST_STATE_OWNER_SIZE);
    mcpauth__session session;
    if (!mcpauth__engine_new_session(e->server, &req->identity, SESSION_VERSION, req->now, sink,
                                     &session)) {
        free(os);
        return NULL;
    }
    memcpy(os->session_id, session.id, sizeof os->session_id);
    json_object *init = initialize_message(os, meta);
    if (!init) {
        mcpauth__session_remove(mcpauth__engine_sessions(e->server), session.id);
        free(os);
        mcpauth__mcp_reply_status(sink, 500);
        return NULL;
    }
    mcpauth_http_sse_reader_init(&os->init_reader, MAX_EVENT, on_init_event, os);
    os->init_sink = (mcpauth_mcp_sink){
        .reply = on_init_reply,
        .stream_start = on_inner_start,
        .stream_write = on_init_write,
        .stream_end = on_init_end,
        .data = os,
    };
    os->next = e->owners;
    e->owners = os;
    /* Held while initialize runs, so that a failure answered at once
     * leaves os in place for the caller to see. */
    os->calls++;
    mcpauth__jsonrpc_message msg;
    mcpauth__jsonrpc_classify(init, &msg);
    mcpauth__mcp_call call = {
        .session_id = os->session_id,
        .protocol_version = SESSION_VERSION,
        .message = init,
        .msg = &msg,
        .identity = &req->identity,
        .sink = &os->init_sink,
    };
    mcpauth_mcp_backend *backend = backend_of(e);
    if (!backend->ops->open_session(backend, &call)) {
        mcpauth__session_remove(mcpauth__engine_sessions(e->server), os->session_id);
        if (!os->init_answered) {
            os->init_answered = true;
            owner_failed(os, 502, NULL);
        }
    }
    json_object_put(init);
    os->calls--;
    char line[160];
    snprintf(line, sizeof line, "era bridge: session %.8s... opened for a 2026-07-28 caller",
             os->session_id);
    mcpauth__backend_log(backend, "info", line);
    return os;
}

/* --- a modern request --------------------------------------------------- */

/* The request as the 2025 backend must see it: no io.modelcontextprotocol/
 * _meta keys, no inputResponses or requestState, and our id. */
static json_object *legacy_message(json_object *body, int64_t id)
{
    json_object *copy = NULL;
    if (json_object_deep_copy(body, &copy, NULL) != 0)
        return NULL;
    json_object *params = mcpauth__json_member(copy, "params", json_type_object);
    json_object *meta = mcpauth__json_member(params, "_meta", json_type_object);
    if (meta) {
        size_t prefix = strlen(META_PREFIX);
        bool again = true;
        while (again) {
            again = false;
            json_object_object_foreach(meta, key, value)
            {
                (void)value;
                if (strncmp(key, META_PREFIX, prefix) == 0) {
                    json_object_object_del(meta, key);
                    again = true;
                    break;
                }
            }
        }
        if (json_object_object_length(meta) == 0)
            json_object_object_del(params, "_meta");
    }
    if (params) {
        json_object_object_del(params, "inputResponses");
        json_object_object_del(params, "requestState");
    }
    json_object_object_add(copy, "id", json_object_new_int64(id));
    return copy;
}

static void call_start(bcall *c)
{
    mcpauth__era *e = c->era;
    c->phase = CALL_RUNNING;
    if (strcmp(c->method, "server/discover") == 0) {
        /* server/discover §Response: from the backend's initialize. */
        size_t count;
        const char *const *versions = mcpauth__engine_served_versions(e->server, &count);
        json_object *result = json_object_new_object();
        json_object *list = json_object_new_array();
        bool ok = result && list;
        for (size_t i = 0; ok && i < count; i++)
            ok = json_object_array_add(list, json_object_new_string(versions[i])) == 0;
        json_object *caps =
            mcpauth__json_member(c->os->init_result, "capabilities", json_type_object);
        json_object *instructions =
            mcpauth__json_member(c->os->init_result, "instructions", json_type_string);
        ok = ok && mcpauth__json_add(result, "supportedVersions", json_object_get(list)) &&
             mcpauth__json_add(result, "capabilities",
                               caps ? json_object_get(caps) : json_object_new_object()) &&
             (!instructions ||
              mcpauth__json_add(result, "instructions", json_object_get(instructions))) &&
             modern_shape(c, result, "complete");
        json_object_put(list);
        c->inner_done = true;
        if (!ok) {
            json_object_put(result);
            client_error(c, 500, MCPAUTH__JSONRPC_INTERNAL_ERROR, "out of memory");
        } else {
            client_answer(c, 200, mcpauth__jsonrpc_result(c->client_id, result));
        }
        call_finish(c);
        return;
    }
    if (c->interactive)
        stream_open(c->os);
    json_object *message = c->message;
    c->message = NULL;
    watch_slow(c);
    c->posting = true;
    post_to_backend(e, c->os->session_id, message, &c->inner, NULL, &c->filter);
    c->posting = false;
    json_object_put(message);
    call_release(c);
}

/* mrtr §Server Requirements 4 and 5: the state is verified (tag, caller,
 * expiry), names a call waiting for exactly this round, and the retry
 * repeats the call's method and name. NULL when sink was answered. */
static bcall *call_for_retry(mcpauth__era *e, const mcpauth_mcp_request *req,
                             const mcpauth__jsonrpc_message *msg, const char *state,
                             const char *name, mcpauth_mcp_sink *sink)
{
    unsigned char owner[MCPAUTH__REQUEST_STATE_OWNER_SIZE];
    caller_of(req, owner);
    mcpauth__request_state st;
    const char *why = NULL;
    switch (mcpauth__request_state_open(e->key, state, owner, wall_ms(), &st)) {
    case MCPAUTH__REQUEST_STATE_OK:
        break;
    case MCPAUTH__REQUEST_STATE_FORGED:
        why = "Invalid params: requestState failed verification";
        break;
    case MCPAUTH__REQUEST_STATE_FOREIGN:
        why = "Invalid params: requestState was issued to another principal";
        break;
    case MCPAUTH__REQUEST_STATE_EXPIRED:
        why = "Invalid params: requestState has expired";
        break;
    }
    bcall *c = NULL;
    for (bcall *o = e->calls; !why && o && !c; o = o->next)
        if (o->handle == st.handle)
            c = o;
    if (!why && (!c || c->phase != CALL_INPUT || c->round != st.round ||
                 memcmp(c->os->owner, owner, sizeof owner) != 0))
        why = "Invalid params: requestState was used already, or its call is over";
    if (!why && (strcmp(c->method, msg->method) != 0 ||
                 (c->name ? !name || strcmp(c->name, name) != 0 : name != NULL)))
        why = "Invalid params: requestState belongs to another request";
    if (why) {
        mcpauth__mcp_reply_json(
            sink, 400, mcpauth__jsonrpc_error(msg->id, MCPAUTH__JSONRPC_INVALID_PARAMS, why, NULL),
            NULL);
        return NULL;
    }
    return c;
}

/* The retry's own request becomes the call's client; the answers go to the
 * backend's requests they name; what is still missing is asked again
 * (mrtr §Error Handling), else the call runs on. */
static void call_resume_now(bcall *c)
{
    c->phase = CALL_RUNNING;
    json_object *answered = json_object_new_array();
    json_object_object_foreach(c->asked, key, request)
    {
        (void)request;
        json_object *answer = usable_response(c, key);
        json_object *id = NULL;
        if (!answer || !json_object_object_get_ex(c->asked_ids, key, &id))
            continue;
        answer_backend(c, id, answer, 0, NULL);
        json_object_array_add(answered, json_object_new_string(key));
    }
    for (size_t i = 0; i < json_object_array_length(answered); i++) {
        const char *done = json_object_get_string(json_object_array_get_idx(answered, i));
        json_object_object_del(c->asked_ids, done);
        json_object_object_del(c->responses, done);
        json_object_object_del(c->asked, done);
    }
    json_object_put(answered);
    if (c->final) {
        json_object *final = c->final;
        c->final = NULL;
        deliver_final(c, final);
        return;
    }
    if (json_object_object_length(c->asked) > 0)
        ask_client(c);
    else
        watch_slow(c);
}

/* The call no longer runs: the oldest retry waiting for the session
 * takes its place. */
static void slot_free(bcall *c)
{
    owner_session *os = c->os;
    if (!os || os->interactive != c)
        return;
    os->interactive = NULL;
    bcall *next = NULL;
    for (bcall *o = c->era->calls; o; o = o->next)
        if (o->os == os && o->phase == CALL_RESUMING && (!next || o->handle < next->handle))
            next = o;
    if (next) {
        os->interactive = next;
        call_resume_now(next);
    }
}

static void call_resume(bcall *c, mcpauth_mcp_sink *sink)
{
    uv_timer_stop(&c->timer);
    c->client = sink;
    sink->on_abort = on_client_abort;
    sink->engine_data = c;
    if (c->os->interactive && c->os->interactive != c && !c->final) {
        c->phase = CALL_RESUMING;
        return;
    }
    if (!c->final)
        c->os->interactive = c;
    call_resume_now(c);
}

static char *named(const mcpauth__jsonrpc_message *msg)
{
    json_object *value = mcpauth__json_member(msg->params, "name", json_type_string);
    if (!value)
        value = mcpauth__json_member(msg->params, "uri", json_type_string);
    return value ? strdup(json_object_get_string(value)) : NULL;
}

/* What this request says of the client: its capabilities, its log level,
 * its inputResponses (a copy: consumed as they are used). */
static void take_request(bcall *c, const mcpauth__jsonrpc_message *msg, json_object *responses)
{
    json_object *meta = mcpauth__json_member(msg->params, "_meta", json_type_object);
    json_object_put(c->client_id);
    c->client_id = json_object_get(msg->id);
    json_object_put(c->capabilities);
    c->capabilities =
        json_object_get(mcpauth__json_member(meta, META_CAPABILITIES, json_type_object));
    json_object *level = mcpauth__json_member(meta, META_LOG_LEVEL, json_type_string);
    c->log_level = level ? log_level_rank(json_object_get_string(level)) : -1;
    json_object_put(c->responses);
    c->responses = NULL;
    if (responses)
        json_object_deep_copy(responses, &c->responses, NULL);
}

static bool removed_method(const char *method)
{
    /* 2026-07-28 changelog: gone with initialize and sessions. */
    static const char *const methods[] = {"initialize", "ping", "logging/setLevel",
                                          "resources/subscribe", "resources/unsubscribe"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(method, methods[i]) == 0)
            return true;
    return false;
}

bool mcpauth__era_bridges(const mcpauth_mcp_server *server)
{
    mcpauth_mcp_backend *backend = mcpauth__engine_backend((mcpauth_mcp_server *)server);
    return backend->ops->sessions && mcpauth__engine_sessions((mcpauth_mcp_server *)server) &&
           !(backend->ops->speaks_modern && backend->ops->speaks_modern(backend));
}

void mcpauth__era_post(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                       json_object *body, mcpauth_mcp_sink *sink)
{
    mcpauth__era *e = *mcpauth__engine_era(server);
    mcpauth__jsonrpc_message msg;
    mcpauth__jsonrpc_classify(body, &msg);
    if (msg.kind != MCPAUTH__JSONRPC_REQUEST) {
        /* Notifications stand alone in this revision; a cancellation is
         * the stream's closing. */
        mcpauth__mcp_reply_status(sink, 202);
        return;
    }
    if (!e || e->closing) {
        mcpauth__backend_reply_bad_gateway(sink, msg.id, "the server is shutting down");
        return;
    }
    if (strcmp(msg.method, "subscriptions/listen") == 0) {
        /* subscriptions §Acknowledgment: the backend's change notifications
         * are not relayed, so the filter honoured is empty (no
         * notifications asked for). */
        mcpauth__jsonrpc_message listen = {.kind = msg.kind, .method = msg.method, .id = msg.id};
        mcpauth__stateless_listen(server, &listen, sink);
        return;
    }
    if (removed_method(msg.method)) {
        mcpauth__mcp_reply_json(sink, 404,
                                mcpauth__jsonrpc_error(msg.id, MCPAUTH__JSONRPC_METHOD_NOT_FOUND,
                                                       "Method not found", NULL),
                                NULL);
        return;
    }
    json_object *responses = NULL;
    json_object *state = NULL;
    bool has_responses =
        msg.params && json_object_object_get_ex(msg.params, "inputResponses", &responses);
    bool has_state = msg.params && json_object_object_get_ex(msg.params, "requestState", &state);
    if ((has_responses && !json_object_is_type(responses, json_type_object)) ||
        (has_state && !json_object_is_type(state, json_type_string))) {
        mcpauth__mcp_reply_json(
            sink, 400,
            mcpauth__jsonrpc_error(msg.id, MCPAUTH__JSONRPC_INVALID_PARAMS,
                                   "Invalid params: inputResponses must be an object and "
                                   "requestState a string",
                                   NULL),
            NULL);
        return;
    }
    char *name = named(&msg);
    if (has_state) {
        bcall *c = call_for_retry(e, req, &msg, json_object_get_string(state), name, sink);
        free(name);
        if (!c)
            return;
        take_request(c, &msg, responses);
        call_resume(c, sink);
        return;
    }
    json_object *meta = mcpauth__json_member(msg.params, "_meta", json_type_object);
    bool interactive = strcmp(msg.method, "tools/call") == 0 ||
                       strcmp(msg.method, "prompts/get") == 0 ||
                       strcmp(msg.method, "resources/read") == 0;
    unsigned char owner[MCPAUTH__REQUEST_STATE_OWNER_SIZE];
    caller_of(req, owner);
    owners_sweep(e, req->now);
    owner_session *os = owner_find(e, owner, req->now, interactive);
    if (os && os->phase == OWNER_READY)
        mcpauth__session_touch(mcpauth__engine_sessions(e->server), os->session_id, req->now);
    if (!os)
        os = owner_open(e, req, meta, owner, sink);
    if (!os) {
        free(name);
        return;
    }
    bcall *c = calloc(1, sizeof *c);
    bool failed = false;
    if (c) {
        c->era = e;
        c->os = os;
        c->handle = ++e->next_handle;
        c->era_id = ++e->next_id;
        c->method = strdup(msg.method);
        c->name = name;
        name = NULL;
        c->asked = json_object_new_object();
        c->asked_ids = json_object_new_object();
        c->message = legacy_message(body, c->era_id);
        if (strcmp(msg.method, "tools/list") == 0)
            c->filter =
                mcpauth__mcp_filter_new(config_of(e)->tool_policy, req->identity.token, &failed);
    }
    free(name);
    if (!c || !c->method || !c->asked || !c->asked_ids || !c->message || failed) {
        if (c) {
            c->phase = CALL_DONE;
            c->inner_done = true;
            uv_timer_init(backend_of(e)->loop, &c->timer);
            c->timer.data = c;
            c->next = e->calls;
            e->calls = c;
            os->calls++;
            call_release(c);
        }
        mcpauth__mcp_reply_status(sink, 500);
        return;
    }
    uv_timer_init(backend_of(e)->loop, &c->timer);
    c->timer.data = c;
    mcpauth_http_sse_reader_init(&c->reader, MAX_EVENT, on_inner_event, c);
    c->inner = (mcpauth_mcp_sink){
        .reply = on_inner_reply,
        .stream_start = on_inner_start,
        .stream_write = on_inner_write,
        .stream_end = on_inner_end,
        .data = c,
    };
    c->client = sink;
    sink->on_abort = on_client_abort;
    sink->engine_data = c;
    take_request(c, &msg, responses);
    c->next = e->calls;
    e->calls = c;
    os->calls++;
    if (interactive) {
        c->interactive = true;
        os->interactive = c;
        os->interactive_calls++;
    }
    c->phase = CALL_WAITING;
    if (os->phase == OWNER_READY)
        call_start(c);
    else if (os->phase == OWNER_FAILED)
        owner_failed(os, 502, NULL);
}

/* --- the era's life ----------------------------------------------------- */

mcpauth__era *mcpauth__era_new(mcpauth_mcp_server *server)
{
    mcpauth__era *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->server = server;
    if (!(e->key = mcpauth__request_state_key_new())) {
        free(e);
        return NULL;
    }
    return e;
}

/* Server shutdown: calls waiting for a retry are cancelled at the backend
 * (which is stopping too); running ones end as the backend fails them. */
void mcpauth__era_close(mcpauth_mcp_server *server)
{
    mcpauth__era *e = *mcpauth__engine_era(server);
    if (!e)
        return;
    e->closing = true;
    for (bcall *c = e->calls, *next; c; c = next) {
        next = c->next;
        uv_timer_stop(&c->timer);
        if (c->phase == CALL_INPUT) {
            call_cancel(c, "the server is shutting down");
            call_finish(c);
        }
    }
}

void mcpauth__era_free(mcpauth__era *e)
{
    if (!e)
        return;
    while (e->owners) {
        owner_session *os = e->owners;
        e->owners = os->next;
        mcpauth_http_sse_reader_free(&os->stream_reader);
        json_object_put(os->init_result);
        mcpauth_http_sse_reader_free(&os->init_reader);
        free(os);
    }
    mcpauth__request_state_key_free(e->key);
    free(e);
}

void mcpauth__era_take(mcpauth_mcp_server *server, const char *protocol_version,
                       const mcpauth_mcp_identity *identity, int64_t now, json_object *message,
                       mcpauth_mcp_sink *sink)
{
    mcpauth_mcp_request req = {
        .protocol_version = protocol_version, .identity = *identity, .now = now};
    sink->on_abort = NULL;
    sink->engine_data = NULL;
    mcpauth__era_post(server, &req, message, sink);
}
