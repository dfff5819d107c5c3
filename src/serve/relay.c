/* Streamable HTTP requests for a session whose backend part (a stdio
 * child, an upstream session) lives in another worker: the kernel gives
 * each connection to any worker, but a child's pipes belong to the worker
 * that spawned it. The session table names that worker's process; the
 * request goes to it as a letter (worker_mail.c) with the caller's token,
 * which it checks again (a hit in the shared cache) before running the
 * request through its engine with a sink that sends every answer back as
 * letters: a whole reply, or a stream's start, bytes and end. The worker
 * that took the connection plays them on the router's sink, so the client
 * sees what the holder's engine said. A client that goes away, or a stream
 * it no longer reads, is told to the holder (ABORT); a holder that dies
 * ends what it was answering (503, or the stream's end). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mcpauth/bearer.h"
#include "serve_internal.h"

#define MAX_TOKEN_LENGTH (16 * 1024)
/* How often a worker checks that the holders of its relayed requests live. */
#define HOLDER_CHECK_MS 1000

enum { F_METHOD, F_TOKEN, F_SESSION, F_VERSION, F_ACCEPT, F_CONTENT_TYPE, F_LAST_EVENT, F_BODY };

/* A request of ours another worker answers. */
typedef struct outgoing {
    mcpauth__serve_relay *relay;
    mcpauth_mcp_sink *sink; /* the router's */
    uint64_t seq;
    int to;
    int64_t holder_pid;
    bool streaming; /* the holder started a stream */
    struct outgoing *prev, *next;
} outgoing;

/* A request another worker sent us, and the sink our engine answers. */
typedef struct incoming {
    mcpauth__serve_relay *relay;
    mcpauth_mcp_sink sink;
    int from;
    int64_t from_pid;
    uint64_t seq;
    char *fields[MCPAUTH__SERVE_LETTER_FIELDS]; /* NULL: absent */
    size_t body_length;
    bool gone; /* aborted while its token was being checked */
    struct incoming *prev, *next;
} incoming;

struct mcpauth__serve_relay {
    mcpauth__serve_context *ctx;
    outgoing *out;
    incoming *in;
    uint64_t next_seq;
    uv_timer_t timer;
    bool stopped;
};

#define LINK(head, x)                                                                              \
    do {                                                                                           \
        (x)->prev = NULL;                                                                          \
        (x)->next = (head);                                                                        \
        if ((head))                                                                                \
            (head)->prev = (x);                                                                    \
        (head) = (x);                                                                              \
    } while (0)

#define UNLINK(head, x)                                                                            \
    do {                                                                                           \
        if ((x)->prev)                                                                             \
            (x)->prev->next = (x)->next;                                                           \
        else                                                                                       \
            (head) = (x)->next;                                                                    \
        if ((x)->next)                                                                             \
            (x)->next->prev = (x)->prev;                                                           \
    } while (0)

const char *mcpauth__serve_bearer_token(mcpauth_http_exchange *ex, size_t *length)
{
    const char *values[4];
    size_t count = mcpauth_http_exchange_header_count(ex, "Authorization");
    for (size_t i = 0; i < count && i < 4; i++)
        values[i] = mcpauth_http_exchange_header(ex, "Authorization", i);
    const char *token = NULL;
    *length = 0;
    if (mcpauth_bearer_extract(values, count > 4 ? 4 : count, MAX_TOKEN_LENGTH, &token, length) !=
        MCPAUTH_BEARER_FOUND)
        return "";
    return token;
}

static int send_letter(mcpauth__serve_relay *relay, int to, mcpauth__serve_letter *letter)
{
    mcpauth__serve_context *ctx = relay->ctx;
    letter->from = ctx->worker;
    letter->from_pid = getpid();
    for (int i = 0; i < MCPAUTH__SERVE_LETTER_FIELDS; i++)
        if (letter->fields[i] && !letter->lengths[i])
            letter->lengths[i] = strlen(letter->fields[i]);
    int rc = mcpauth__serve_mail_send(ctx->shared, to, letter);
    if (rc != 0)
        mcpauth__serve_log_event(
            ctx->config, "warning", "cannot send worker %d a relayed %s: %s", to,
            letter->kind == MCPAUTH__SERVE_LETTER_CALL ? "request" : "answer", strerror(-rc));
    return rc;
}

/* ---- requests we send ---- */

static void outgoing_free(outgoing *o)
{
    UNLINK(o->relay->out, o);
    free(o);
}

/* The router's sink lets go (the client went away): so does the holder. */
static void on_outgoing_abort(mcpauth_mcp_sink *sink)
{
    outgoing *o = sink->engine_data;
    mcpauth__serve_letter abort = {
        .kind = MCPAUTH__SERVE_LETTER_CALL_ABORT, .to_pid = o->holder_pid, .seq = o->seq};
    send_letter(o->relay, o->to, &abort);
    outgoing_free(o);
}

/* Ends a request whose holder cannot answer any more. */
static void outgoing_fail(outgoing *o)
{
    mcpauth_mcp_sink *sink = o->sink;
    bool streaming = o->streaming;
    outgoing_free(o);
    if (streaming) {
        sink->stream_end(sink->data);
        return;
    }
    static const char body[] = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,\"message\":"
                               "\"Service Unavailable: the worker holding the session is gone\"},"
                               "\"id\":null}";
    mcpauth_mcp_reply reply = {.status = 503,
                               .content_type = "application/json",
                               .body = body,
                               .body_length = sizeof body - 1,
                               .retry_after = 1};
    sink->reply(&reply, sink->data);
}

int mcpauth__serve_relay_holder(mcpauth__serve_relay *relay, const char *session_id)
{
    if (!relay || relay->stopped || !session_id)
        return -1;
    mcpauth__serve_context *ctx = relay->ctx;
    int64_t pid = mcpauth_mcp_session_holder(ctx->mcp, session_id, (int64_t)time(NULL));
    if (pid == 0 || pid == getpid())
        return -1;
    return mcpauth__serve_mail_worker_of(ctx->shared, pid);
}

void mcpauth__serve_relay_send(mcpauth__serve_relay *relay, int to, mcpauth_http_exchange *ex,
                               const mcpauth_mcp_request *req, mcpauth_mcp_sink *sink)
{
    outgoing *o = calloc(1, sizeof *o);
    if (!o) {
        mcpauth_mcp_reply reply = {.status = 503, .retry_after = 1};
        sink->reply(&reply, sink->data);
        return;
    }
    o->relay = relay;
    o->sink = sink;
    o->seq = ++relay->next_seq;
    o->to = to;
    o->holder_pid =
        (int64_t)__atomic_load_n(&relay->ctx->shared->metrics[to].pid, __ATOMIC_RELAXED);
    LINK(relay->out, o);
    size_t token_length;
    const char *token = mcpauth__serve_bearer_token(ex, &token_length);
    mcpauth__serve_letter call = {
        .kind = MCPAUTH__SERVE_LETTER_CALL,
        .seq = o->seq,
        .fields = {mcpauth_http_exchange_method(ex), token, req->session_id, req->protocol_version,
                   req->accept, req->content_type, req->last_event_id, req->body},
        .lengths = {[F_TOKEN] = token_length, [F_BODY] = req->body_length},
    };
    /* An empty token or body is sent as an empty field; present marks the rest. */
    call.extra = (req->protocol_version ? 1 : 0) | (req->accept ? 2 : 0) |
                 (req->content_type ? 4 : 0) | (req->last_event_id ? 8 : 0);
    if (send_letter(relay, to, &call) != 0) {
        outgoing_fail(o);
        return;
    }
    sink->on_abort = on_outgoing_abort;
    sink->engine_data = o;
}

static outgoing *find_outgoing(mcpauth__serve_relay *relay, const mcpauth__serve_letter *letter)
{
    if (letter->to_pid != getpid())
        return NULL; /* for the worker this one replaced */
    for (outgoing *o = relay->out; o; o = o->next)
        if (o->seq == letter->seq && o->to == letter->from)
            return o;
    return NULL;
}

static const char *optional(const mcpauth__serve_letter *letter, int i)
{
    return letter->lengths[i] ? letter->fields[i] : NULL;
}

/* An answer from the holder, played on the router's sink. */
static void on_answer(mcpauth__serve_relay *relay, const mcpauth__serve_letter *letter)
{
    outgoing *o = find_outgoing(relay, letter);
    if (!o)
        return;
    mcpauth_mcp_sink *sink = o->sink;
    switch (letter->kind) {
    case MCPAUTH__SERVE_LETTER_CALL_REPLY: {
        mcpauth_mcp_reply reply = {.status = letter->status,
                                   .content_type = optional(letter, 0),
                                   .body = optional(letter, 1),
                                   .body_length = letter->lengths[1],
                                   .session_id = optional(letter, 2),
                                   .retry_after = letter->extra};
        outgoing_free(o);
        sink->reply(&reply, sink->data);
        return;
    }
    case MCPAUTH__SERVE_LETTER_CALL_START:
        o->streaming = true;
        sink->stream_start(optional(letter, 0), sink->data);
        return;
    case MCPAUTH__SERVE_LETTER_CALL_DATA:
        if (sink->stream_write(letter->fields[0], letter->lengths[0], sink->data) != 0) {
            /* The client does not read (or is gone): the holder stops, as
             * its engine would have on a local stream. */
            mcpauth__serve_letter abort = {
                .kind = MCPAUTH__SERVE_LETTER_CALL_ABORT, .to_pid = o->holder_pid, .seq = o->seq};
            send_letter(relay, o->to, &abort);
            outgoing_free(o);
            sink->stream_end(sink->data);
        }
        return;
    case MCPAUTH__SERVE_LETTER_CALL_END:
        outgoing_free(o);
        sink->stream_end(sink->data);
        return;
    default:
        return;
    }
}

/* Requests whose holder died (its slot now names another process, or
 * none) end here rather than wait for ever. */
static void on_check(uv_timer_t *timer)
{
    mcpauth__serve_relay *relay = timer->data;
    const mcpauth__serve_shared *shared = relay->ctx->shared;
    outgoing *next;
    for (outgoing *o = relay->out; o; o = next) {
        next = o->next;
        int64_t pid = (int64_t)__atomic_load_n(&shared->metrics[o->to].pid, __ATOMIC_RELAXED);
        if (pid == o->holder_pid && kill((pid_t)pid, 0) == 0)
            continue;
        outgoing_fail(o);
    }
}

/* ---- requests we answer for others ---- */

static void incoming_free(incoming *in)
{
    UNLINK(in->relay->in, in);
    if (in->fields[F_TOKEN])
        explicit_bzero(in->fields[F_TOKEN], strlen(in->fields[F_TOKEN]));
    for (int i = 0; i < MCPAUTH__SERVE_LETTER_FIELDS; i++)
        free(in->fields[i]);
    free(in);
}

static void in_reply(const mcpauth_mcp_reply *reply, void *data)
{
    incoming *in = data;
    mcpauth__serve_letter letter = {.kind = MCPAUTH__SERVE_LETTER_CALL_REPLY,
                                    .to_pid = in->from_pid,
                                    .seq = in->seq,
                                    .status = reply->status,
                                    .extra = reply->retry_after,
                                    .fields = {reply->content_type, reply->body, reply->session_id},
                                    .lengths = {[1] = reply->body_length}};
    if (!reply->body)
        letter.lengths[1] = 0;
    send_letter(in->relay, in->from, &letter);
    incoming_free(in);
}

static void in_start(const char *session_id, void *data)
{
    incoming *in = data;
    mcpauth__serve_letter letter = {.kind = MCPAUTH__SERVE_LETTER_CALL_START,
                                    .to_pid = in->from_pid,
                                    .seq = in->seq,
                                    .fields = {session_id}};
    send_letter(in->relay, in->from, &letter);
}

static int in_write(const char *bytes, size_t length, void *data)
{
    incoming *in = data;
    mcpauth__serve_letter letter = {.kind = MCPAUTH__SERVE_LETTER_CALL_DATA,
                                    .to_pid = in->from_pid,
                                    .seq = in->seq,
                                    .fields = {bytes},
                                    .lengths = {length}};
    return send_letter(in->relay, in->from, &letter) == 0 ? 0 : UV_ENOBUFS;
}

static void in_end(void *data)
{
    incoming *in = data;
    mcpauth__serve_letter letter = {
        .kind = MCPAUTH__SERVE_LETTER_CALL_END, .to_pid = in->from_pid, .seq = in->seq};
    send_letter(in->relay, in->from, &letter);
    incoming_free(in);
}

/* Runs the request through this worker's engine, as the router would. */
static void in_run(incoming *in, const mcpauth_token_info *token, const char *validated_by,
                   bool cache_hit)
{
    mcpauth__serve_context *ctx = in->relay->ctx;
    mcpauth_mcp_request req = {
        .session_id = in->fields[F_SESSION],
        .protocol_version = in->fields[F_VERSION],
        .accept = in->fields[F_ACCEPT],
        .content_type = in->fields[F_CONTENT_TYPE],
        .last_event_id = in->fields[F_LAST_EVENT],
        .body = in->fields[F_BODY],
        .body_length = in->body_length,
        .identity = {.token = token, .validated_by = validated_by, .cache_hit = cache_hit},
        .now = (int64_t)time(NULL),
    };
    in->sink = (mcpauth_mcp_sink){
        .reply = in_reply,
        .stream_start = in_start,
        .stream_write = in_write,
        .stream_end = in_end,
        .data = in,
    };
    const char *method = in->fields[F_METHOD];
    if (strcmp(method, "POST") == 0)
        mcpauth_mcp_handle_post(ctx->mcp, &req, &in->sink);
    else if (strcmp(method, "GET") == 0)
        mcpauth_mcp_handle_get(ctx->mcp, &req, &in->sink);
    else if (strcmp(method, "DELETE") == 0)
        mcpauth_mcp_handle_delete(ctx->mcp, &req, &in->sink);
    else
        in_reply(&(mcpauth_mcp_reply){.status = 405}, in);
    mcpauth_mcp_request_release(&req);
}

static void on_in_validated(const mcpauth_validation *v, void *data)
{
    incoming *in = data;
    if (in->gone || in->relay->stopped)
        incoming_free(in);
    else if (v->outcome == MCPAUTH_VALIDATION_VALID)
        in_run(in, v->info, v->validated_by, v->cache_hit);
    else
        in_reply(&(mcpauth_mcp_reply){.status =
                                          v->outcome == MCPAUTH_VALIDATION_UNAVAILABLE ? 503 : 401},
                 in);
}

static void on_call(mcpauth__serve_relay *relay, const mcpauth__serve_letter *letter)
{
    mcpauth__serve_context *ctx = relay->ctx;
    incoming *in = calloc(1, sizeof *in);
    if (!in)
        return; /* the sender ends it when we are gone; until then the client waits */
    in->relay = relay;
    in->from = letter->from;
    in->from_pid = letter->from_pid;
    in->seq = letter->seq;
    in->body_length = letter->lengths[F_BODY];
    LINK(relay->in, in);
    static const int present_bit[MCPAUTH__SERVE_LETTER_FIELDS] = {
        [F_VERSION] = 1, [F_ACCEPT] = 2, [F_CONTENT_TYPE] = 4, [F_LAST_EVENT] = 8};
    bool ok = true;
    for (int i = 0; i < MCPAUTH__SERVE_LETTER_FIELDS; i++) {
        bool present = present_bit[i] ? (letter->extra & present_bit[i]) != 0
                                      : i != F_SESSION || letter->lengths[i] > 0;
        if (present && !(in->fields[i] = malloc(letter->lengths[i] + 1)))
            ok = false;
        else if (present)
            memcpy(in->fields[i], letter->fields[i], letter->lengths[i] + 1);
    }
    if (!ok || relay->stopped) {
        in_reply(&(mcpauth_mcp_reply){.status = 503, .retry_after = 1}, in);
        return;
    }
    if (!ctx->validator) {
        in_run(in, NULL, "none", false);
        return;
    }
    mcpauth_validator_validate(ctx->validator, in->fields[F_TOKEN], letter->lengths[F_TOKEN], NULL,
                               0, on_in_validated, in);
}

static void on_abort_letter(mcpauth__serve_relay *relay, const mcpauth__serve_letter *letter)
{
    if (letter->to_pid != getpid())
        return;
    for (incoming *in = relay->in; in; in = in->next) {
        if (in->seq != letter->seq || in->from_pid != letter->from_pid)
            continue;
        if (in->sink.reply) {
            /* The engine holds the sink: it lets go, then nothing more is sent. */
            if (in->sink.on_abort)
                in->sink.on_abort(&in->sink);
            incoming_free(in);
        } else {
            in->gone = true; /* its token is still being checked */
        }
        return;
    }
}

/* ---- the module ---- */

mcpauth__serve_relay *mcpauth__serve_relay_new(mcpauth__serve_context *ctx)
{
    mcpauth__serve_relay *relay = calloc(1, sizeof *relay);
    if (!relay)
        return NULL;
    relay->ctx = ctx;
    uv_timer_init(ctx->loop, &relay->timer);
    relay->timer.data = relay;
    uv_timer_start(&relay->timer, on_check, HOLDER_CHECK_MS, HOLDER_CHECK_MS);
    return relay;
}

void mcpauth__serve_relay_letter(mcpauth__serve_relay *relay, const mcpauth__serve_letter *letter)
{
    if (!relay)
        return;
    if (letter->kind == MCPAUTH__SERVE_LETTER_CALL)
        on_call(relay, letter);
    else if (letter->kind == MCPAUTH__SERVE_LETTER_CALL_ABORT)
        on_abort_letter(relay, letter);
    else
        on_answer(relay, letter);
}

void mcpauth__serve_relay_stop(mcpauth__serve_relay *relay)
{
    if (!relay || relay->stopped)
        return;
    relay->stopped = true;
    while (relay->out)
        outgoing_fail(relay->out);
    for (incoming *in = relay->in, *next; in; in = next) {
        next = in->next;
        if (!in->sink.reply) {
            in->gone = true;
            continue;
        }
        if (in->sink.on_abort)
            in->sink.on_abort(&in->sink);
        incoming_free(in);
    }
    uv_timer_stop(&relay->timer);
    uv_close((uv_handle_t *)&relay->timer, NULL);
}

void mcpauth__serve_relay_free(mcpauth__serve_relay *relay)
{
    free(relay);
}
