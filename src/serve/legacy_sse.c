/* The legacy HTTP+SSE transport's HTTP side (MCP 2024-11-05 transports
 * §HTTP with SSE): GET on --sse-path opens a stream and a session
 * (mcp_legacy.h), POST on --messages-path?session_id= feeds it. The router
 * has checked Host, Origin and the token as for the MCP endpoint.
 *
 * A stream lives in the worker that opened it, and the kernel gives each
 * connection to any worker: a POST for a stream another worker holds (the
 * session table names its process) is handed to that worker as a letter
 * (worker_mail.c) with the request's token, which the holder checks again
 * (a hit in the shared cache) and runs on its stream; its answer (202, or
 * 404 when the stream has gone) comes back as a letter and is the POST's. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include "mcpauth/mcp_legacy.h"
#include "mcpauth/secret.h"
#include "serve_internal.h"

/* A comment line on a stream idle this long keeps proxies and clients from
 * giving up on it (as the Streamable HTTP streams do). */
#define KEEPALIVE_MS 15000
/* How often streams are looked at: a keep-alive is at most this late. */
#define TICK_MS 1000
/* How long a POST handed to the worker holding its stream waits for the
 * answer (that worker takes it off its loop at once: only a stuck or dying
 * one is this slow). */
#define HANDOVER_TIMEOUT_MS 10000

typedef struct legacy_stream {
    mcpauth__serve_legacy *owner;
    mcpauth_http_exchange *ex;
    mcpauth_mcp_legacy *session;
    char *subject;
    char token_hash[13];
    const char *cache;
    const char *detail;
    uint64_t last_write_ms;
    uint64_t last_touch_ms; /* the session table last heard the stream is open */
    bool ending;            /* to be closed at the next tick */
    struct legacy_stream *prev, *next;
} legacy_stream;

/* A POST handed to the worker holding its stream, waiting for the answer. */
typedef struct forward {
    mcpauth__serve_legacy *owner;
    mcpauth_http_exchange *ex;
    uint64_t seq;
    int to;             /* the worker holding the stream */
    int64_t holder_pid; /* its process */
    uint64_t deadline_ms;
    char *subject;
    char token_hash[13];
    const char *cache;
    struct forward *prev, *next;
} forward;

/* A POST another worker handed to this one, while its token is checked. */
typedef struct handover {
    mcpauth__serve_legacy *legacy;
    int from;
    int64_t from_pid;
    uint64_t seq;
    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    char *content_type;     /* NULL: absent */
    char *protocol_version; /* NULL: absent */
    char *body;
    size_t body_length;
} handover;

struct mcpauth__serve_legacy {
    mcpauth__serve_context *ctx;
    uv_timer_t timer; /* keep-alives, touches and deferred closes */
    legacy_stream *streams;
    forward *forwards;
    uint64_t next_seq;
    bool stopped;
};

static void log_answer(mcpauth__serve_context *ctx, mcpauth_http_exchange *ex, int status,
                       const mcpauth__serve_caller *caller, const char *subject, const char *detail)
{
    mcpauth__serve_metrics_count_status(&ctx->metrics, status);
    mcpauth__serve_log_entry entry = {
        .method = mcpauth_http_exchange_method(ex),
        .path = mcpauth_http_exchange_path(ex),
        .peer = mcpauth_http_exchange_client(ex),
        .scheme = mcpauth_http_exchange_scheme(ex),
        .status = status,
        .latency_ms = (double)(uv_hrtime() - mcpauth_http_exchange_start_ns(ex)) / 1e6,
        .token_hash = caller->token_hash && caller->token_hash[0] ? caller->token_hash : NULL,
        .subject = subject,
        .cache = caller->cache,
        .detail = detail,
    };
    mcpauth__serve_log_request(ctx->config, &entry);
}

static void add_cors(mcpauth_http_field *f, size_t *n)
{
    f[(*n)++] = (mcpauth_http_field){"Access-Control-Allow-Origin", "*"};
    f[(*n)++] =
        (mcpauth_http_field){"Access-Control-Expose-Headers", "WWW-Authenticate, Mcp-Session-Id"};
}

static void respond(mcpauth__serve_context *ctx, mcpauth_http_exchange *ex,
                    const mcpauth__serve_caller *caller, int status, const char *content_type,
                    const char *allow, const char *body, size_t length)
{
    mcpauth_http_field f[6];
    size_t n = 0;
    char retry_after[16];
    if (status == 429) {
        snprintf(retry_after, sizeof retry_after, "%d", MCPAUTH_MCP_LIMIT_RETRY_AFTER);
        f[n++] = (mcpauth_http_field){"Retry-After", retry_after};
    }
    if (content_type)
        f[n++] = (mcpauth_http_field){"Content-Type", content_type};
    if (allow)
        f[n++] = (mcpauth_http_field){"Allow", allow};
    add_cors(f, &n);
    const mcpauth_token_info *token = caller->token;
    log_answer(ctx, ex, status, caller, token ? token->subject : NULL, NULL);
    mcpauth_http_respond(ex, status, f, n, body, length);
}

/* ---- streams ---- */

static void stream_unlink(legacy_stream *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        s->owner->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
}

/* Ends the session and the response; the access log gets its line now. */
static void stream_close(legacy_stream *s, bool client_gone)
{
    mcpauth__serve_context *ctx = s->owner->ctx;
    stream_unlink(s);
    mcpauth_mcp_legacy_close(s->session);
    mcpauth__serve_caller caller = {.token_hash = s->token_hash, .cache = s->cache};
    log_answer(ctx, s->ex, 200, &caller, s->subject, client_gone ? "client went away" : s->detail);
    mcpauth_http_stream_end(s->ex);
    free(s->subject);
    free(s);
}

static void on_tick(uv_timer_t *timer);

static void schedule_close(legacy_stream *s)
{
    s->ending = true;
    if (!s->owner->stopped)
        uv_timer_start(&s->owner->timer, on_tick, 0, TICK_MS);
}

static int on_stream_write(const char *bytes, size_t length, void *data)
{
    legacy_stream *s = data;
    mcpauth__serve_context *ctx = s->owner->ctx;
    if (s->ending)
        return UV_ECONNRESET;
    /* A client that does not read its stream is not buffered for without
     * end: this transport cannot resume, so the session is dropped. */
    size_t pending = mcpauth_http_stream_pending(s->ex);
    if (pending > ctx->config->backend.max_buffered) {
        char fingerprint[MCPAUTH_FINGERPRINT_LENGTH + 1];
        mcpauth_secret_fingerprint(mcpauth_mcp_legacy_id(s->session), fingerprint);
        mcpauth__serve_log_event(
            ctx->config, "warning",
            "legacy SSE session %s dropped: the client leaves %zu bytes unread", fingerprint,
            pending);
        s->detail = "client not reading";
        schedule_close(s);
        return UV_ENOBUFS;
    }
    int rc = mcpauth_http_stream_write(s->ex, bytes, length);
    if (rc != 0)
        schedule_close(s);
    else
        s->last_write_ms = uv_now(ctx->loop);
    return rc;
}

static void on_stream_end(void *data)
{
    legacy_stream *s = data;
    if (!s->detail)
        s->detail = "session ended";
    schedule_close(s);
}

static void on_stream_abort(mcpauth_http_exchange *ex, void *data)
{
    (void)ex;
    stream_close(data, true);
}

static void forwards_expire(mcpauth__serve_legacy *legacy, uint64_t now_ms);

static void on_tick(uv_timer_t *timer)
{
    mcpauth__serve_legacy *legacy = timer->data;
    uint64_t now_ms = uv_now(legacy->ctx->loop);
    forwards_expire(legacy, now_ms);
    int64_t now = (int64_t)time(NULL);
    legacy_stream *next;
    for (legacy_stream *s = legacy->streams; s; s = next) {
        next = s->next;
        /* An open stream is a session in use, whether or not POSTs come;
         * one that left the table (DELETE at the MCP endpoint) ends. */
        if (!s->ending && now_ms - s->last_touch_ms >= KEEPALIVE_MS) {
            s->last_touch_ms = now_ms;
            if (!mcpauth_mcp_legacy_touch(s->session, now)) {
                s->detail = "session ended";
                s->ending = true;
            }
        }
        if (!s->ending && now_ms - s->last_write_ms >= KEEPALIVE_MS) {
            static const char comment[] = ": keepalive\n\n";
            on_stream_write(comment, sizeof comment - 1, s);
        }
        if (s->ending)
            stream_close(s, false);
    }
    uv_timer_start(&legacy->timer, on_tick, TICK_MS, TICK_MS);
}

static void open_stream(mcpauth__serve_legacy *legacy, mcpauth_http_exchange *ex,
                        const mcpauth__serve_caller *caller)
{
    mcpauth__serve_context *ctx = legacy->ctx;
    legacy_stream *s = calloc(1, sizeof *s);
    const char *subject = caller->token ? caller->token->subject : NULL;
    if (!s || (subject && !(s->subject = strdup(subject)))) {
        free(s);
        respond(ctx, ex, caller, 503, "text/plain; charset=utf-8", NULL, "out of memory\n", 14);
        return;
    }
    mcpauth_mcp_identity identity = {.token = caller->token,
                                     .validated_by = caller->validated_by,
                                     .cache_hit = caller->cache_hit};
    mcpauth_mcp_legacy_stream callbacks = {
        .write = on_stream_write, .end = on_stream_end, .data = s};
    int status =
        mcpauth_mcp_legacy_open(ctx->mcp, &identity, (int64_t)time(NULL), &callbacks, &s->session);
    if (status != 0) {
        static const char full[] = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,\"message\":"
                                   "\"Service Unavailable: too many sessions\"},\"id\":null}";
        static const char limited[] =
            "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,\"message\":\"Too Many "
            "Requests: --max-sessions-per-identity or --max-children reached\"},\"id\":null}";
        free(s->subject);
        free(s);
        if (status == 503)
            respond(ctx, ex, caller, 503, "application/json", NULL, full, sizeof full - 1);
        else if (status == 429)
            respond(ctx, ex, caller, 429, "application/json", NULL, limited, sizeof limited - 1);
        else
            respond(ctx, ex, caller, status, NULL, NULL, NULL, 0);
        return;
    }
    s->owner = legacy;
    s->ex = ex;
    s->cache = caller->cache;
    if (caller->token_hash)
        snprintf(s->token_hash, sizeof s->token_hash, "%s", caller->token_hash);
    s->last_write_ms = s->last_touch_ms = uv_now(ctx->loop);
    s->next = legacy->streams;
    if (s->next)
        s->next->prev = s;
    legacy->streams = s;

    mcpauth_http_field f[6];
    size_t n = 0;
    f[n++] = (mcpauth_http_field){"Content-Type", "text/event-stream"};
    f[n++] = (mcpauth_http_field){"Cache-Control", "no-cache, no-transform"};
    f[n++] = (mcpauth_http_field){"X-Accel-Buffering", "no"};
    add_cors(f, &n);
    mcpauth_http_exchange_on_abort(ex, on_stream_abort, s);
    mcpauth_http_stream_start(ex, 200, f, n);
    size_t length;
    char *event = mcpauth_mcp_legacy_endpoint_event(ctx->config->messages_path,
                                                    mcpauth_mcp_legacy_id(s->session), &length);
    if (!event || on_stream_write(event, length, s) != 0)
        schedule_close(s);
    free(event);
}

/* ---- POST ---- */

typedef struct post_answer {
    mcpauth__serve_context *ctx;
    mcpauth_http_exchange *ex;
    const mcpauth__serve_caller *caller;
} post_answer;

static void on_post_reply(const mcpauth_mcp_reply *reply, void *data)
{
    post_answer *a = data;
    respond(a->ctx, a->ex, a->caller, reply->status, reply->content_type, NULL, reply->body,
            reply->body_length);
}

static legacy_stream *find_stream(mcpauth__serve_legacy *legacy, const char *id)
{
    for (legacy_stream *s = legacy->streams; s; s = s->next)
        if (!s->ending && mcpauth_secret_equal(mcpauth_mcp_legacy_id(s->session), id))
            return s;
    return NULL;
}

/* ---- POSTs for a stream another worker holds ---- */

static void forward_unlink(forward *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        f->owner->forwards = f->next;
    if (f->next)
        f->next->prev = f->prev;
}

/* Answers the handed-over POST and forgets it. */
static void forward_answer(forward *f, int status, const char *content_type, const char *body,
                           size_t length)
{
    mcpauth__serve_context *ctx = f->owner->ctx;
    forward_unlink(f);
    mcpauth_http_field fields[4];
    size_t n = 0;
    if (content_type && *content_type)
        fields[n++] = (mcpauth_http_field){"Content-Type", content_type};
    add_cors(fields, &n);
    mcpauth__serve_caller caller = {.token_hash = f->token_hash, .cache = f->cache};
    log_answer(ctx, f->ex, status, &caller, f->subject, "handed to the stream's worker");
    mcpauth_http_respond(f->ex, status, fields, n, body, length);
    free(f->subject);
    free(f);
}

static void forward_fail(forward *f, int status, const char *why)
{
    static const char format[] =
        "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,\"message\":\"%s\"},\"id\":null}";
    char body[256];
    int n = snprintf(body, sizeof body, format, why);
    forward_answer(f, status, "application/json", body, (size_t)n);
}

static void forwards_expire(mcpauth__serve_legacy *legacy, uint64_t now_ms)
{
    forward *next;
    for (forward *f = legacy->forwards; f; f = next) {
        next = f->next;
        /* A holder that died (its slot names another process now) will
         * not answer: its stream is gone with it. */
        int64_t pid =
            (int64_t)__atomic_load_n(&legacy->ctx->shared->metrics[f->to].pid, __ATOMIC_RELAXED);
        if (pid != f->holder_pid || kill((pid_t)pid, 0) != 0)
            forward_fail(f, 404, "Session not found");
        else if (now_ms >= f->deadline_ms)
            forward_fail(f, 503,
                         "Service Unavailable: the worker holding the stream did not answer");
    }
}

/* The client went away before the holder answered: the exchange ends
 * here, and the answer, when it comes, finds nobody waiting. */
static void on_forward_abort(mcpauth_http_exchange *ex, void *data)
{
    forward *f = data;
    forward_unlink(f);
    mcpauth__serve_caller caller = {.token_hash = f->token_hash, .cache = f->cache};
    log_answer(f->owner->ctx, ex, 499, &caller, f->subject, "client went away");
    mcpauth_http_respond(ex, 503, NULL, 0, NULL, 0);
    free(f->subject);
    free(f);
}

/* Hands the POST to worker `to`, process holder, which holds its stream. */
static void forward_post(mcpauth__serve_legacy *legacy, mcpauth_http_exchange *ex,
                         const mcpauth__serve_caller *caller, const char *id, int to,
                         int64_t holder)
{
    mcpauth__serve_context *ctx = legacy->ctx;
    forward *f = calloc(1, sizeof *f);
    const char *subject = caller->token ? caller->token->subject : NULL;
    if (!f || (subject && !(f->subject = strdup(subject)))) {
        free(f);
        respond(ctx, ex, caller, 503, "text/plain; charset=utf-8", NULL, "out of memory\n", 14);
        return;
    }
    f->owner = legacy;
    f->ex = ex;
    f->seq = ++legacy->next_seq;
    f->deadline_ms = uv_now(ctx->loop) + HANDOVER_TIMEOUT_MS;
    f->to = to;
    f->holder_pid = holder;
    f->cache = caller->cache;
    if (caller->token_hash)
        snprintf(f->token_hash, sizeof f->token_hash, "%s", caller->token_hash);
    f->next = legacy->forwards;
    if (f->next)
        f->next->prev = f;
    legacy->forwards = f;

    const char *content_type = mcpauth_http_exchange_header(ex, "Content-Type", 0);
    const char *version = mcpauth_http_exchange_header(ex, "MCP-Protocol-Version", 0);
    size_t token_length, body_length;
    const char *token = mcpauth__serve_bearer_token(ex, &token_length);
    const char *body = mcpauth_http_exchange_body(ex, &body_length);
    mcpauth__serve_letter letter = {
        .kind = MCPAUTH__SERVE_LETTER_POST,
        .from = ctx->worker,
        .from_pid = getpid(),
        .seq = f->seq,
        .fields = {id, token, content_type, version, body},
        .lengths = {strlen(id), token_length, content_type ? strlen(content_type) : 0,
                    version ? strlen(version) : 0, body_length},
    };
    int rc = mcpauth__serve_mail_send(ctx->shared, to, &letter);
    if (rc != 0) {
        mcpauth__serve_log_event(ctx->config, "warning",
                                 "cannot hand a legacy POST to worker %d: %s", to, strerror(-rc));
        forward_fail(f, 503, "Service Unavailable: the worker holding the stream is busy");
        return;
    }
    mcpauth_http_exchange_on_abort(ex, on_forward_abort, f);
}

static void on_reply_letter(mcpauth__serve_legacy *legacy, const mcpauth__serve_letter *letter)
{
    if (letter->to_pid != getpid())
        return; /* for the worker this one replaced */
    for (forward *f = legacy->forwards; f; f = f->next) {
        if (f->seq == letter->seq) {
            forward_answer(f, letter->status, letter->fields[0], letter->fields[1],
                           letter->lengths[1]);
            return;
        }
    }
}

/* ---- POSTs another worker handed to this one ---- */

static void handover_free(handover *h)
{
    free(h->content_type);
    free(h->protocol_version);
    free(h->body);
    free(h);
}

static void handover_reply(handover *h, int status, const char *content_type, const char *body,
                           size_t length)
{
    mcpauth__serve_context *ctx = h->legacy->ctx;
    mcpauth__serve_letter letter = {
        .kind = MCPAUTH__SERVE_LETTER_REPLY,
        .from = ctx->worker,
        .from_pid = getpid(),
        .to_pid = h->from_pid,
        .seq = h->seq,
        .status = status,
        .fields = {content_type, body},
        .lengths = {content_type ? strlen(content_type) : 0, body ? length : 0},
    };
    int rc = mcpauth__serve_mail_send(ctx->shared, h->from, &letter);
    if (rc != 0)
        mcpauth__serve_log_event(ctx->config, "warning",
                                 "cannot answer worker %d's legacy POST: %s", h->from,
                                 strerror(-rc));
}

static void on_handover_reply(const mcpauth_mcp_reply *reply, void *data)
{
    handover_reply(data, reply->status, reply->content_type, reply->body, reply->body_length);
}

/* Runs the POST on this worker's stream, as post_message() would have. */
static void handover_run(handover *h, const mcpauth_token_info *token, const char *validated_by,
                         bool cache_hit)
{
    mcpauth__serve_legacy *legacy = h->legacy;
    legacy_stream *s = legacy->stopped ? NULL : find_stream(legacy, h->id);
    mcpauth_mcp_request req = {
        .protocol_version = h->protocol_version,
        .content_type = h->content_type,
        .body = h->body,
        .body_length = h->body_length,
        .identity = {.token = token, .validated_by = validated_by, .cache_hit = cache_hit},
        .now = (int64_t)time(NULL),
    };
    mcpauth_mcp_sink sink = {.reply = on_handover_reply, .data = h};
    mcpauth_mcp_legacy_post(s ? s->session : NULL, &req, &sink);
    mcpauth_mcp_request_release(&req);
}

static void on_handover_validated(const mcpauth_validation *v, void *data)
{
    handover *h = data;
    if (v->outcome == MCPAUTH_VALIDATION_VALID)
        handover_run(h, v->info, v->validated_by, v->cache_hit);
    else if (v->outcome == MCPAUTH_VALIDATION_UNAVAILABLE)
        handover_reply(h, 503, NULL, NULL, 0);
    else
        handover_reply(h, 401, NULL, NULL, 0);
    handover_free(h);
}

static char *copy_field(const mcpauth__serve_letter *letter, int i, bool empty_is_absent)
{
    if (empty_is_absent && letter->lengths[i] == 0)
        return NULL;
    char *copy = malloc(letter->lengths[i] + 1);
    if (copy)
        memcpy(copy, letter->fields[i], letter->lengths[i] + 1);
    return copy;
}

static void on_post_letter(mcpauth__serve_legacy *legacy, const mcpauth__serve_letter *letter)
{
    mcpauth__serve_context *ctx = legacy->ctx;
    handover *h = calloc(1, sizeof *h);
    if (!h)
        return; /* the sender's timeout answers */
    h->legacy = legacy;
    h->from = letter->from;
    h->from_pid = letter->from_pid;
    h->seq = letter->seq;
    if (letter->lengths[0] == MCPAUTH_MCP_SESSION_ID_LENGTH)
        memcpy(h->id, letter->fields[0], sizeof h->id);
    h->content_type = copy_field(letter, 2, true);
    h->protocol_version = copy_field(letter, 3, true);
    h->body = copy_field(letter, 4, false);
    h->body_length = letter->lengths[4];
    if (!h->body || (letter->lengths[2] && !h->content_type) ||
        (letter->lengths[3] && !h->protocol_version)) {
        handover_reply(h, 503, NULL, NULL, 0);
        handover_free(h);
        return;
    }
    if (!ctx->validator) {
        handover_run(h, NULL, "none", false);
        handover_free(h);
        return;
    }
    /* The sender checked the token; it is checked again here for the
     * identity the session is bound to (the shared cache has it). */
    mcpauth_validator_validate(ctx->validator, letter->fields[1], letter->lengths[1], NULL, 0,
                               on_handover_validated, h);
}

void mcpauth__serve_legacy_letter(mcpauth__serve_legacy *legacy,
                                  const mcpauth__serve_letter *letter)
{
    if (!legacy)
        return; /* the sender's timeout answers */
    if (letter->kind == MCPAUTH__SERVE_LETTER_POST)
        on_post_letter(legacy, letter);
    else if (letter->kind == MCPAUTH__SERVE_LETTER_REPLY)
        on_reply_letter(legacy, letter);
}

/* ---- POST ---- */

static void post_message(mcpauth__serve_legacy *legacy, mcpauth_http_exchange *ex,
                         const mcpauth__serve_caller *caller)
{
    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1] = "";
    legacy_stream *s = mcpauth_mcp_legacy_query_session(mcpauth_http_exchange_query(ex), id)
                           ? find_stream(legacy, id)
                           : NULL;
    if (!s && legacy->ctx->mail && id[0]) {
        int64_t holder = mcpauth_mcp_session_holder(legacy->ctx->mcp, id, (int64_t)time(NULL));
        int to = holder && holder != getpid()
                     ? mcpauth__serve_mail_worker_of(legacy->ctx->shared, holder)
                     : -1;
        if (to >= 0) {
            forward_post(legacy, ex, caller, id, to, holder);
            return;
        }
    }
    post_answer a = {.ctx = legacy->ctx, .ex = ex, .caller = caller};
    mcpauth_mcp_sink sink = {.reply = on_post_reply, .data = &a};
    mcpauth_mcp_legacy_post(s ? s->session : NULL, caller->request, &sink);
}

/* ---- the module ---- */

bool mcpauth__serve_legacy_start(mcpauth__serve_context *ctx)
{
    const mcpauth_serve_config *config = ctx->config;
    ctx->legacy = NULL;
    if (config->no_legacy_sse || config->mcp.stateless)
        return true;
    mcpauth__serve_legacy *legacy = calloc(1, sizeof *legacy);
    if (!legacy)
        return false;
    legacy->ctx = ctx;
    uv_timer_init(ctx->loop, &legacy->timer);
    legacy->timer.data = legacy;
    uv_timer_start(&legacy->timer, on_tick, TICK_MS, TICK_MS);
    ctx->legacy = legacy;
    return true;
}

bool mcpauth__serve_legacy_path(const mcpauth__serve_legacy *legacy, const char *path)
{
    if (!legacy)
        return false;
    const mcpauth_serve_config *config = legacy->ctx->config;
    return strcmp(path, config->sse_path) == 0 || strcmp(path, config->messages_path) == 0;
}

void mcpauth__serve_legacy_handle(mcpauth__serve_legacy *legacy, mcpauth_http_exchange *ex,
                                  const mcpauth__serve_caller *caller)
{
    mcpauth__serve_context *ctx = legacy->ctx;
    const char *method = mcpauth_http_exchange_method(ex);
    bool sse = strcmp(mcpauth_http_exchange_path(ex), ctx->config->sse_path) == 0;
    if (sse && strcmp(method, "GET") != 0) {
        respond(ctx, ex, caller, 405, NULL, "GET, OPTIONS", NULL, 0);
        return;
    }
    if (!sse && strcmp(method, "POST") != 0) {
        respond(ctx, ex, caller, 405, NULL, "POST, OPTIONS", NULL, 0);
        return;
    }
    if (legacy->stopped || ctx->stopping) {
        respond(ctx, ex, caller, 503, "text/plain; charset=utf-8", NULL, "stopping\n", 9);
        return;
    }
    if (sse)
        open_stream(legacy, ex, caller);
    else
        post_message(legacy, ex, caller);
}

void mcpauth__serve_legacy_stop(mcpauth__serve_legacy *legacy)
{
    if (!legacy || legacy->stopped)
        return;
    legacy->stopped = true;
    while (legacy->streams) {
        legacy->streams->detail = "server stopping";
        stream_close(legacy->streams, false);
    }
    while (legacy->forwards)
        forward_fail(legacy->forwards, 503, "Service Unavailable: stopping");
    uv_timer_stop(&legacy->timer);
    uv_close((uv_handle_t *)&legacy->timer, NULL);
}

void mcpauth__serve_legacy_free(mcpauth__serve_legacy *legacy)
{
    free(legacy);
}
