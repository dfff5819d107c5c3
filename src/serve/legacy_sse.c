/* The legacy HTTP+SSE transport's HTTP side (MCP 2024-11-05 transports
 * §HTTP with SSE): GET on --sse-path opens a stream and a session
 * (mcp_legacy.h), POST on --messages-path?session_id= feeds it. The router
 * has checked Host, Origin and the token as for the MCP endpoint. A stream
 * lives in the worker that opened it; its POSTs must reach that worker,
 * hence one worker (run.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcpauth/mcp_legacy.h"
#include "mcpauth/secret.h"
#include "serve_internal.h"

/* A comment line on a stream idle this long keeps proxies and clients from
 * giving up on it (as the Streamable HTTP streams do). */
#define KEEPALIVE_MS 15000
/* How often streams are looked at: a keep-alive is at most this late. */
#define TICK_MS 1000

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

struct mcpauth__serve_legacy {
    mcpauth__serve_context *ctx;
    uv_timer_t timer; /* keep-alives, touches and deferred closes */
    legacy_stream *streams;
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

static void on_tick(uv_timer_t *timer)
{
    mcpauth__serve_legacy *legacy = timer->data;
    uint64_t now_ms = uv_now(legacy->ctx->loop);
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

static void post_message(mcpauth__serve_legacy *legacy, mcpauth_http_exchange *ex,
                         const mcpauth__serve_caller *caller)
{
    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    legacy_stream *s = mcpauth_mcp_legacy_query_session(mcpauth_http_exchange_query(ex), id)
                           ? find_stream(legacy, id)
                           : NULL;
    post_answer a = {.ctx = legacy->ctx, .ex = ex, .caller = caller};
    mcpauth_mcp_sink sink = {.reply = on_post_reply, .data = &a};
    mcpauth_mcp_legacy_post(s ? s->session : NULL, caller->request, &sink);
}

/* ---- the module ---- */

const char *mcpauth__serve_legacy_off_reason(const mcpauth_serve_config *config)
{
    if (config->no_legacy_sse || config->mcp.stateless)
        return NULL;
    if (config->workers > 1)
        return "it needs --workers 1 (a stream and its POSTs must reach one process); "
               "--no-legacy-sse silences this";
    return NULL;
}

bool mcpauth__serve_legacy_start(mcpauth__serve_context *ctx)
{
    const mcpauth_serve_config *config = ctx->config;
    ctx->legacy = NULL;
    if (config->no_legacy_sse || config->mcp.stateless || mcpauth__serve_legacy_off_reason(config))
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
    uv_timer_stop(&legacy->timer);
    uv_close((uv_handle_t *)&legacy->timer, NULL);
}

void mcpauth__serve_legacy_free(mcpauth__serve_legacy *legacy)
{
    free(legacy);
}
