/* One request through the resource server, in the order MCP asks for
 * (MCP 2025-11-25 basic/transports §Security Warning, basic/authorization
 * §Access Token Usage): route by path; for the MCP endpoint check
 * Origin and Host, then the bearer token (RFC 6750), then hand the request
 * to the MCP engine. Every answer goes through respond(), which counts and
 * logs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mcpauth/bearer.h"
#include "mcpauth/devissuer.h"
#include "mcpauth/json.h"
#include "mcpauth/mcp_tool_policy.h"
#include "mcpauth/strbuf.h"
#include "mcpauth/url.h"
#include "serve_internal.h"

#define MAX_TOKEN_LENGTH (16 * 1024)
#define MAX_FIELDS       12

/* The request's bookkeeping while it waits for validation. */
typedef struct request {
    mcpauth__serve_context *ctx;
    mcpauth_http_exchange *ex;
    char token_hash[13];
    const char *cache;   /* "hit", "miss" or NULL */
    const char *subject; /* borrowed while answering */
    const char *detail;
} request;

typedef struct field_list {
    mcpauth_http_field items[MAX_FIELDS];
    size_t count;
} field_list;

static void add_field(field_list *f, const char *name, const char *value)
{
    if (value && f->count < MAX_FIELDS)
        f->items[f->count++] = (mcpauth_http_field){name, value};
}

static void log_answer(request *r, int status)
{
    mcpauth__serve_context *ctx = r->ctx;
    mcpauth__serve_metrics_count_status(&ctx->metrics, status);
    mcpauth__serve_log_entry entry = {
        .method = mcpauth_http_exchange_method(r->ex),
        .path = mcpauth_http_exchange_path(r->ex),
        .peer = mcpauth_http_exchange_client(r->ex),
        .scheme = mcpauth_http_exchange_scheme(r->ex),
        .status = status,
        .latency_ms = (double)(uv_hrtime() - mcpauth_http_exchange_start_ns(r->ex)) / 1e6,
        .token_hash = r->token_hash[0] ? r->token_hash : NULL,
        .subject = r->subject,
        .cache = r->cache,
        .detail = r->detail,
    };
    mcpauth__serve_log_request(ctx->config, &entry);
}

static void respond(request *r, int status, field_list *fields, const char *body, size_t length)
{
    log_answer(r, status);
    mcpauth_http_respond(r->ex, status, fields ? fields->items : NULL, fields ? fields->count : 0,
                         body, length);
}

static void respond_text(request *r, int status, const char *text)
{
    field_list f = {0};
    add_field(&f, "Content-Type", "text/plain; charset=utf-8");
    respond(r, status, &f, text, strlen(text));
}

/* An OAuth-style JSON error body: {"error": ..., "error_description": ...}. */
static void respond_oauth_error(request *r, int status, field_list *f, const char *error,
                                const char *description)
{
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "error", json_object_new_string(error));
    if (description)
        json_object_object_add(doc, "error_description", json_object_new_string(description));
    const char *body = mcpauth_json_compact(doc);
    add_field(f, "Content-Type", "application/json");
    respond(r, status, f, body, body ? strlen(body) : 0);
    json_object_put(doc);
}

/* ---- CORS ---- */

/* Metadata and challenges are for anyone, browsers included (RFC 9728 §3: any client may fetch
 * them). */
static void add_cors(field_list *f)
{
    add_field(f, "Access-Control-Allow-Origin", "*");
    add_field(f, "Access-Control-Expose-Headers", "WWW-Authenticate, Mcp-Session-Id");
}

static void respond_preflight(request *r)
{
    field_list f = {0};
    add_cors(&f);
    add_field(&f, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
    add_field(&f, "Access-Control-Allow-Headers",
              "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, "
              "Last-Event-ID, Mcp-Method, Mcp-Name");
    add_field(&f, "Access-Control-Max-Age", "86400");
    respond(r, 204, &f, NULL, 0);
}

/* ---- Origin and Host (MCP basic/transports §Security Warning) ---- */

/* The loopback exemption needs the authority parsed strictly: a lenient
 * host[:port] split reads "[::1]evil.com" or "localhost:80@evil.com" as
 * loopback. */
static bool host_is_loopback(const char *host)
{
    mcpauth_url authority;
    if (mcpauth_url_parse_authority(host, &authority, NULL) != MCPAUTH_OK)
        return false;
    bool loopback = mcpauth_url_is_loopback(&authority);
    mcpauth_url_free(&authority);
    return loopback;
}

static bool host_allowed(const mcpauth__serve_context *ctx, const char *host)
{
    if (!host)
        return true; /* HTTP/1.0 without Host: nothing to rebind */
    if (strcasecmp(host, ctx->resource.host) == 0)
        return true;
    if (host_is_loopback(host))
        return true;
    const mcpauth_string_array *extra = &ctx->config->allowed_hosts;
    for (size_t i = 0; i < extra->count; i++) {
        if (strcasecmp(host, extra->items[i]) == 0)
            return true;
    }
    return false;
}

static bool origin_allowed(const mcpauth__serve_context *ctx, const char *origin)
{
    if (!origin)
        return true; /* not a browser: nothing to check */
    if (strcasecmp(origin, ctx->resource.origin) == 0)
        return true;
    const mcpauth_string_array *extra = &ctx->config->allowed_origins;
    for (size_t i = 0; i < extra->count; i++) {
        if (strcmp(extra->items[i], "*") == 0 || strcasecmp(origin, extra->items[i]) == 0)
            return true;
    }
    return false;
}

/* ---- challenges (RFC 6750 §3, RFC 9728 §5.1) ---- */

/* scope NULL: the resource's required scopes. */
static void respond_challenge(request *r, int status, const char *error, const char *description,
                              const char *scope)
{
    mcpauth__serve_context *ctx = r->ctx;
    if (!scope)
        scope = ctx->resource.scope;
    if (!scope[0])
        scope = NULL;
    char *challenge =
        mcpauth_bearer_challenge(ctx->resource.metadata_url, scope, error, description);
    field_list f = {0};
    add_field(&f, "WWW-Authenticate", challenge);
    add_cors(&f);
    r->detail = description;
    respond_oauth_error(r, status, &f, error ? error : "unauthorized",
                        description ? description : "an access token is required");
    free(challenge);
}

/* ---- the MCP endpoint ---- */

/* One exchange with the MCP engine. It lives until the answer ends, which
 * with a stdio backend may be long after serve_mcp() returns, and may be a
 * stream (mcp.h: mcpauth_mcp_sink). */
typedef struct mcp_call {
    request log; /* what the access log line needs; subject points to ours */
    char *subject;
    mcpauth_mcp_sink sink;
    bool streaming;
    bool modern; /* a 2026-07-28 request: POST is all there is */
} mcp_call;

static void call_free(mcp_call *call)
{
    free(call->subject);
    free(call);
}

/* What a 405 offers: POST alone to a 2026-07-28 client; GET too where a
 * 2025 session has a standalone stream (a stdio or upstream backend). */
static const char *allowed_methods(const mcp_call *call)
{
    const mcpauth_serve_config *config = call->log.ctx->config;
    if (call->modern)
        return "POST";
    return config->backend.stdio.argv || config->backend.upstream.url ? "GET, POST, DELETE"
                                                                      : "POST, DELETE";
}

static void on_mcp_reply(const mcpauth_mcp_reply *reply, void *data)
{
    mcp_call *call = data;
    field_list f = {0};
    add_field(&f, "Content-Type", reply->content_type);
    add_field(&f, "Mcp-Session-Id", reply->session_id);
    char retry_after[16];
    if (reply->retry_after > 0) {
        snprintf(retry_after, sizeof retry_after, "%d", reply->retry_after);
        add_field(&f, "Retry-After", retry_after);
    }
    /* RFC 9110 §15.5.6: a 405 names the methods that would work. */
    if (reply->status == 405)
        add_field(&f, "Allow", allowed_methods(call));
    add_cors(&f);
    respond(&call->log, reply->status, &f, reply->body, reply->body_length);
    call_free(call);
}

static void on_mcp_stream_start(const char *session_id, void *data)
{
    mcp_call *call = data;
    field_list f = {0};
    add_field(&f, "Content-Type", "text/event-stream");
    add_field(&f, "Cache-Control", "no-cache");
    /* Proxies must pass events on at once (MCP transports §Streamable HTTP:
     * each event is delivered as the server sends it). */
    add_field(&f, "X-Accel-Buffering", "no");
    add_field(&f, "Mcp-Session-Id", session_id);
    add_cors(&f);
    call->streaming = true;
    mcpauth_http_stream_start(call->log.ex, 200, f.items, f.count);
}

static int on_mcp_stream_write(const char *bytes, size_t length, void *data)
{
    mcp_call *call = data;
    /* A client that does not read its stream is not buffered for without
     * end: the stream is refused and ends; the client may resume it. */
    if (mcpauth_http_stream_pending(call->log.ex) > call->log.ctx->config->backend.max_buffered)
        return UV_ENOBUFS;
    return mcpauth_http_stream_write(call->log.ex, bytes, length);
}

static void on_mcp_stream_end(void *data)
{
    mcp_call *call = data;
    log_answer(&call->log, 200);
    mcpauth_http_stream_end(call->log.ex);
    call_free(call);
}

/* The client went away while the engine still held the sink: the engine
 * lets go of it (its answer goes to the replay buffer), then the exchange
 * ends here. */
static void on_mcp_abort(mcpauth_http_exchange *ex, void *data)
{
    mcp_call *call = data;
    if (call->sink.on_abort)
        call->sink.on_abort(&call->sink);
    call->log.detail = "client went away";
    log_answer(&call->log, call->streaming ? 200 : 499);
    if (call->streaming)
        mcpauth_http_stream_end(ex);
    else
        mcpauth_http_respond(ex, 503, NULL, 0, NULL, 0);
    call_free(call);
}

/* A tools/call the token lacks the tool's scopes for is refused here, as
 * the engine decides (mcpauth_mcp_check_tools), before the engine's
 * transports or a backend see any of the body (MCP 2025-11-25
 * authorization §Scope Challenge Handling: 403 insufficient_scope naming
 * every scope the call needs). False when it was answered. */
static bool tools_allowed(request *r, mcpauth_mcp_request *req)
{
    mcpauth__serve_context *ctx = r->ctx;
    const mcpauth_string_array *base = &ctx->config->required_scopes;
    mcpauth_mcp_tool_policy_verdict verdict;
    if (mcpauth_mcp_check_tools(ctx->mcp, req, (const char *const *)base->items, base->count,
                                &verdict) != MCPAUTH_OK) {
        respond_text(r, 503, "out of memory\n");
        return false;
    }
    if (verdict.allowed)
        return true;
    ctx->metrics.insufficient_scope++;
    respond_challenge(r, 403, "insufficient_scope", verdict.reason, verdict.scope);
    mcpauth_mcp_tool_policy_verdict_free(&verdict);
    return false;
}

static void serve_mcp_call(request *r, mcpauth_mcp_request *req);

#define MAX_PARAM_HEADERS 16

static void free_lines(char **lines, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(lines[i]);
}

/* MCP 2026-07-28 streamable-http §Server Behavior for Custom Headers: an
 * intermediary passes Mcp-Param-{Name} on. At most MAX_PARAM_HEADERS; the
 * lines are freed by the caller. */
static size_t param_headers(mcpauth_http_exchange *ex, char **lines)
{
    static const char prefix[] = "Mcp-Param-";
    const char *name, *value;
    size_t n = 0;
    for (size_t i = 0; n < MAX_PARAM_HEADERS && mcpauth_http_exchange_field(ex, i, &name, &value);
         i++) {
        if ((name[0] | 0x20) == 'm' && strncasecmp(name, prefix, sizeof prefix - 1) == 0 &&
            asprintf(&lines[n], "%s: %s", name, value) >= 0)
            n++;
    }
    return n;
}

static void serve_mcp(request *r, const mcpauth_token_info *info, const char *validated_by,
                      bool cache_hit)
{
    mcpauth_http_exchange *ex = r->ex;
    mcpauth_mcp_request req = {
        .session_id = mcpauth_http_exchange_header(ex, "Mcp-Session-Id", 0),
        .protocol_version = mcpauth_http_exchange_header(ex, "MCP-Protocol-Version", 0),
        .accept = mcpauth_http_exchange_header(ex, "Accept", 0),
        .content_type = mcpauth_http_exchange_header(ex, "Content-Type", 0),
        .last_event_id = mcpauth_http_exchange_header(ex, "Last-Event-ID", 0),
        .mcp_method = mcpauth_http_exchange_header(ex, "Mcp-Method", 0),
        .mcp_name = mcpauth_http_exchange_header(ex, "Mcp-Name", 0),
        .identity = {.token = info, .validated_by = validated_by, .cache_hit = cache_hit},
        .now = (int64_t)time(NULL),
    };
    req.body = mcpauth_http_exchange_body(ex, &req.body_length);
    bool legacy_sse = mcpauth__serve_legacy_path(r->ctx->legacy, mcpauth_http_exchange_path(ex));
    /* The era decides the transport (MCP 2026-07-28 basic/versioning
     * §Backward Compatibility): the 2024-11-05 paths keep theirs. */
    char *params[MAX_PARAM_HEADERS];
    size_t param_count = 0;
    if (!legacy_sse && mcpauth_mcp_request_modern(&req) &&
        mcpauth_mcp_server_reads_param_headers(r->ctx->mcp)) {
        param_count = param_headers(ex, params);
        req.param_headers = (const char *const *)params;
        req.param_header_count = param_count;
    }
    /* Per-tool scopes on every transport, before anything reaches the
     * engine or a backend. */
    if (info && strcmp(mcpauth_http_exchange_method(ex), "POST") == 0 && !tools_allowed(r, &req)) {
        mcpauth_mcp_request_release(&req);
        free_lines(params, param_count);
        return;
    }
    if (legacy_sse) {
        mcpauth__serve_caller legacy_caller = {.token = info,
                                               .validated_by = validated_by,
                                               .cache_hit = cache_hit,
                                               .token_hash = r->token_hash,
                                               .cache = r->cache,
                                               .request = &req};
        mcpauth__serve_legacy_handle(r->ctx->legacy, ex, &legacy_caller);
    } else {
        serve_mcp_call(r, &req);
    }
    mcpauth_mcp_request_release(&req);
    free_lines(params, param_count);
}

/* The Streamable HTTP endpoint: the engine answers on the call's sink. */
static void serve_mcp_call(request *r, mcpauth_mcp_request *req)
{
    mcpauth_http_exchange *ex = r->ex;
    const char *method = mcpauth_http_exchange_method(ex);
    const mcpauth_token_info *info = req->identity.token;
    r->subject = info ? info->subject : NULL;
    mcp_call *call = calloc(1, sizeof *call);
    if (!call || (r->subject && !(call->subject = strdup(r->subject)))) {
        free(call);
        respond_text(r, 503, "out of memory\n");
        return;
    }
    call->log = *r;
    call->log.subject = call->subject;
    call->modern = req->modern;
    call->sink = (mcpauth_mcp_sink){
        .reply = on_mcp_reply,
        .stream_start = on_mcp_stream_start,
        .stream_write = on_mcp_stream_write,
        .stream_end = on_mcp_stream_end,
        .data = call,
    };
    mcpauth_http_exchange_on_abort(ex, on_mcp_abort, call);
    /* A session's backend part (a stdio child, an upstream session) lives
     * in the worker that created it: the request goes there. */
    int holder = req->modern ? -1 : mcpauth__serve_relay_holder(r->ctx->relay, req->session_id);
    if (holder >= 0) {
        call->log.detail = "handed to the session's worker";
        mcpauth__serve_relay_send(r->ctx->relay, holder, ex, req, &call->sink);
        return;
    }
    /* 2026-07-28 streamable-http §Earlier Streamable HTTP Revisions: the
     * modern era is POST only; GET and DELETE belong to 2025 sessions. */
    if (req->modern && strcmp(method, "POST") == 0)
        mcpauth_mcp_handle_modern_post(r->ctx->mcp, req, &call->sink);
    else if (req->modern)
        on_mcp_reply(&(mcpauth_mcp_reply){.status = 405}, call);
    else if (strcmp(method, "POST") == 0)
        mcpauth_mcp_handle_post(r->ctx->mcp, req, &call->sink);
    else if (strcmp(method, "DELETE") == 0)
        mcpauth_mcp_handle_delete(r->ctx->mcp, req, &call->sink);
    else if (strcmp(method, "GET") == 0)
        mcpauth_mcp_handle_get(r->ctx->mcp, req, &call->sink);
    else
        on_mcp_reply(&(mcpauth_mcp_reply){.status = 405}, call);
}

/* The token lacks a scope every request needs. When the request calls
 * tools, the challenge names their scopes too, so that one step-up covers
 * the whole operation (MCP 2026-07-28 authorization §Scope Challenge
 * Handling: all scopes required for the operation in a single challenge).
 * The tools are checked as for a token holding nothing: the challenge
 * names every scope the operation needs, held or not, as the per-tool
 * refusal in tools_allowed() does. */
static void respond_insufficient_scope(request *r, const char *reason)
{
    mcpauth__serve_context *ctx = r->ctx;
    mcpauth_http_exchange *ex = r->ex;
    const mcpauth_string_array *base = &ctx->config->required_scopes;
    mcpauth_mcp_request req = {
        .protocol_version = mcpauth_http_exchange_header(ex, "MCP-Protocol-Version", 0),
        .content_type = mcpauth_http_exchange_header(ex, "Content-Type", 0),
        .mcp_method = mcpauth_http_exchange_header(ex, "Mcp-Method", 0),
        .mcp_name = mcpauth_http_exchange_header(ex, "Mcp-Name", 0),
    };
    req.body = mcpauth_http_exchange_body(ex, &req.body_length);
    mcpauth_mcp_tool_policy_verdict verdict = {.allowed = true};
    if (strcmp(mcpauth_http_exchange_method(ex), "POST") == 0) {
        if (!mcpauth__serve_legacy_path(ctx->legacy, mcpauth_http_exchange_path(ex)))
            mcpauth_mcp_request_modern(&req);
        if (mcpauth_mcp_check_tools(ctx->mcp, &req, (const char *const *)base->items, base->count,
                                    &verdict) != MCPAUTH_OK)
            verdict.allowed = true; /* out of memory: the required scopes still go out */
    }
    respond_challenge(r, 403, "insufficient_scope", reason, verdict.allowed ? NULL : verdict.scope);
    mcpauth_mcp_tool_policy_verdict_free(&verdict);
    mcpauth_mcp_request_release(&req);
}

static void on_validated(const mcpauth_validation *v, void *data)
{
    request *r = data;
    mcpauth__serve_context *ctx = r->ctx;
    memcpy(r->token_hash, v->token_hash, sizeof r->token_hash);
    r->cache = v->cache_hit ? "hit" : "miss";
    switch (v->outcome) {
    case MCPAUTH_VALIDATION_VALID:
        ctx->metrics.valid++;
        serve_mcp(r, v->info, v->validated_by, v->cache_hit);
        break;
    case MCPAUTH_VALIDATION_INVALID:
        ctx->metrics.invalid++;
        respond_challenge(r, 401, "invalid_token", v->reason, NULL);
        break;
    case MCPAUTH_VALIDATION_INSUFFICIENT_SCOPE:
        ctx->metrics.insufficient_scope++;
        r->subject = v->info ? v->info->subject : NULL;
        respond_insufficient_scope(r, v->reason);
        break;
    case MCPAUTH_VALIDATION_UNAVAILABLE: {
        /* Not the client's fault (RFC 6750 §3.1 has no error for it): 503, and the operator hears
         * why. */
        ctx->metrics.unavailable++;
        mcpauth__serve_log_event(ctx->config, "error", "cannot validate token %s: %s",
                                 v->token_hash, v->reason);
        field_list f = {0};
        add_field(&f, "Retry-After", "5");
        add_cors(&f);
        r->detail = "authorization server unavailable";
        respond_oauth_error(r, 503, &f, "temporarily_unavailable",
                            "the authorization server could not validate the token; retry later");
        break;
    }
    }
    free(r);
}

static void authenticate(request *r)
{
    mcpauth__serve_context *ctx = r->ctx;
    mcpauth_http_exchange *ex = r->ex;
    if (ctx->config->no_auth) {
        serve_mcp(r, NULL, "none", false);
        free(r);
        return;
    }
    /* The token is taken from the Authorization header only: a query-string
     * access_token is ignored (OAuth 2.1 §5.1, B-3). */
    const char *values[4];
    size_t count = mcpauth_http_exchange_header_count(ex, "Authorization");
    for (size_t i = 0; i < count && i < 4; i++)
        values[i] = mcpauth_http_exchange_header(ex, "Authorization", i);
    const char *token = NULL;
    size_t length = 0;
    switch (
        mcpauth_bearer_extract(values, count > 4 ? 4 : count, MAX_TOKEN_LENGTH, &token, &length)) {
    case MCPAUTH_BEARER_NONE:
    case MCPAUTH_BEARER_OTHER_SCHEME:
        ctx->metrics.missing++;
        respond_challenge(r, 401, NULL, NULL, NULL);
        free(r);
        return;
    case MCPAUTH_BEARER_MALFORMED:
        ctx->metrics.invalid++;
        respond_challenge(r, 400, "invalid_request", "malformed Authorization header", NULL);
        free(r);
        return;
    case MCPAUTH_BEARER_FOUND:
        break;
    }
    const mcpauth_string_array *scopes = &ctx->config->required_scopes;
    mcpauth_validator_validate(ctx->validator, token, length, scopes->items, scopes->count,
                               on_validated, r);
}

static void handle_mcp_endpoint(request *r)
{
    mcpauth__serve_context *ctx = r->ctx;
    mcpauth_http_exchange *ex = r->ex;
    if (!host_allowed(ctx, mcpauth_http_exchange_header(ex, "Host", 0))) {
        r->detail = "Host not allowed";
        respond_text(r, 403, "Forbidden: Host not allowed\n");
        free(r);
        return;
    }
    if (!origin_allowed(ctx, mcpauth_http_exchange_header(ex, "Origin", 0))) {
        static const char body[] =
            "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,\"message\":\"Forbidden: Origin not "
            "allowed\"},\"id\":null}";
        field_list f = {0};
        add_field(&f, "Content-Type", "application/json");
        r->detail = "Origin not allowed";
        respond(r, 403, &f, body, sizeof body - 1);
        free(r);
        return;
    }
    if (strcmp(mcpauth_http_exchange_method(ex), "OPTIONS") == 0) {
        respond_preflight(r);
        free(r);
        return;
    }
    authenticate(r);
}

/* ---- other paths ---- */

static void handle_metadata(request *r)
{
    const char *method = mcpauth_http_exchange_method(r->ex);
    if (strcmp(method, "OPTIONS") == 0) {
        respond_preflight(r);
        return;
    }
    field_list f = {0};
    add_cors(&f);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        add_field(&f, "Allow", "GET, HEAD, OPTIONS");
        respond(r, 405, &f, NULL, 0);
        return;
    }
    const char *doc = r->ctx->resource.metadata_json;
    add_field(&f, "Content-Type", "application/json");
    add_field(&f, "Cache-Control", "max-age=3600");
    respond(r, 200, &f, doc, strlen(doc));
}

static void handle_metrics(request *r)
{
    char *text = mcpauth__serve_metrics_render(r->ctx);
    field_list f = {0};
    add_field(&f, "Content-Type", "text/plain; version=0.0.4");
    if (text)
        respond(r, 200, &f, text, strlen(text));
    else
        respond_text(r, 500, "out of memory\n");
    free(text);
}

/* Sends the development issuer's answer to r. */
static void send_dev_answer(request *r, const mcpauth_devissuer_response *resp)
{
    field_list f = {0};
    for (size_t i = 0; i < resp->field_count; i++)
        add_field(&f, resp->fields[i].name, resp->fields[i].value);
    r->detail = resp->detail;
    respond(r, resp->status, &f, resp->body, resp->body_length);
}

/* An answer that waited on a client metadata document fetch. */
static void dev_answered_later(const mcpauth_devissuer_response *resp, void *data)
{
    request *r = data;
    send_dev_answer(r, resp);
    free(r);
}

/* --dev: the development issuer answers its own paths; the answer still
 * goes through respond(), for the access log and the metrics. */
static void handle_dev_issuer(request *r)
{
    mcpauth_http_exchange *ex = r->ex;
    /* The same DNS-rebinding defence as the MCP endpoint (transports §Security Warning): a page
     * whose name resolves to us must not drive the issuer. */
    if (!host_allowed(r->ctx, mcpauth_http_exchange_header(ex, "Host", 0))) {
        r->detail = "Host not allowed";
        respond_text(r, 403, "Forbidden: Host not allowed\n");
        return;
    }
    mcpauth_devissuer_request req = {
        .method = mcpauth_http_exchange_method(ex),
        .path = mcpauth_http_exchange_path(ex),
        .query = mcpauth_http_exchange_query(ex),
        .authorization = mcpauth_http_exchange_header(ex, "Authorization", 0),
        .content_type = mcpauth_http_exchange_header(ex, "Content-Type", 0),
        .origin = mcpauth_http_exchange_header(ex, "Origin", 0),
        .now = (int64_t)time(NULL),
    };
    req.body = mcpauth_http_exchange_body(ex, &req.body_length);
    mcpauth_devissuer_response resp;
    /* A request naming a client by its metadata document may wait for the
     * fetch: then it is answered from dev_answered_later, with its own copy
     * of r (the caller frees r). */
    request *later = malloc(sizeof *later);
    if (!later) {
        respond_text(r, 503, "out of memory\n");
        return;
    }
    *later = *r;
    if (!mcpauth_devissuer_handle_async(r->ctx->resource.dev, &req, &resp, dev_answered_later,
                                        later))
        return;
    free(later);
    send_dev_answer(r, &resp);
    mcpauth_devissuer_response_free(&resp);
}

void mcpauth__serve_handle_refused(int status, const char *peer, const char *method,
                                   const char *path, const char *reason, uint64_t start_ns,
                                   void *data)
{
    mcpauth__serve_context *ctx = data;
    mcpauth__serve_metrics_count_status(&ctx->metrics, status);
    mcpauth__serve_log_entry entry = {
        .method = method ? method : "-",
        .path = path ? path : "-",
        .peer = peer,
        .status = status,
        .latency_ms = (double)(uv_hrtime() - start_ns) / 1e6,
        .detail = reason,
    };
    mcpauth__serve_log_request(ctx->config, &entry);
}

void mcpauth__serve_handle_request(mcpauth_http_exchange *ex, void *data)
{
    mcpauth__serve_context *ctx = data;
    request *r = calloc(1, sizeof *r);
    if (!r) {
        mcpauth_http_respond(ex, 503, NULL, 0, NULL, 0);
        return;
    }
    r->ctx = ctx;
    r->ex = ex;
    const char *path = mcpauth_http_exchange_path(ex);
    const char *resource_path = ctx->resource.path[0] ? ctx->resource.path : "/";

    /* The legacy HTTP+SSE transport's paths get the same checks. */
    if (strcmp(path, resource_path) == 0 || mcpauth__serve_legacy_path(ctx->legacy, path)) {
        handle_mcp_endpoint(r); /* frees r, now or after validation */
        return;
    }
    if (strcmp(path, ctx->resource.metadata_path) == 0)
        handle_metadata(r);
    else if (strcmp(path, "/healthz") == 0)
        respond_text(r, ctx->stopping ? 503 : 200, ctx->stopping ? "stopping\n" : "ok\n");
    else if (strcmp(path, "/metrics") == 0)
        handle_metrics(r);
    else if (ctx->resource.dev && mcpauth_devissuer_handles(ctx->resource.dev, path))
        handle_dev_issuer(r);
    else
        respond_text(r, 404, "Not Found\n");
    free(r);
}
