/* Counters for GET /metrics, in the Prometheus text exposition format. */
#include "mcpauth/strbuf.h"
#include "serve_internal.h"

#include <time.h>

#define LIMIT_LOG_INTERVAL_MS 10000

void mcpauth__serve_metrics_count_status(mcpauth__serve_metrics *m, int status)
{
    int cls = status / 100;
    m->requests_by_class[(cls >= 1 && cls <= 5) ? cls - 1 : 5]++;
}

/* The label of each mcpauth_http_limit in /metrics, and what it did. */
static const char *const limit_labels[MCPAUTH_HTTP_LIMIT_COUNT] = {
    "output_buffer", "stream_output_buffer", "write_timeout", "file_descriptors"};
static const char *const limit_events[MCPAUTH_HTTP_LIMIT_COUNT] = {
    "stopped reading from a client that leaves over --max-output-buffer unread",
    "refused a stream write: the client leaves over --max-output-buffer unread",
    "closed a connection whose output did not move for --write-timeout",
    "out of file descriptors: answered a new connection 503 and closed it",
};

/* Under attack a limit may act thousands of times a second: one line per
 * interval says it did, and how often. */
void mcpauth__serve_handle_limit(mcpauth_http_limit limit, const char *peer, void *data)
{
    mcpauth__serve_context *ctx = data;
    mcpauth__serve_metrics *m = &ctx->metrics;
    m->limits[limit]++;
    m->limits_unlogged[limit]++;
    uint64_t now = uv_now(ctx->loop) + 1; /* never 0 */
    if (m->limits_logged_ms[limit] != 0 && now - m->limits_logged_ms[limit] < LIMIT_LOG_INTERVAL_MS)
        return;
    mcpauth__serve_log_event(
        ctx->config, "warning", "%s (client %s; %llu time%s since the last report)",
        limit_events[limit], peer, (unsigned long long)m->limits_unlogged[limit],
        m->limits_unlogged[limit] == 1 ? "" : "s");
    m->limits_logged_ms[limit] = now;
    m->limits_unlogged[limit] = 0;
}

/* The introspection latency histogram (Prometheus buckets are cumulative). */
static void render_latency(mcpauth_strbuf *sb, const mcpauth_validator_stats *s)
{
    static const double bounds[] = MCPAUTH_VALIDATOR_LATENCY_BOUNDS;
    mcpauth_strbuf_appends(sb, "# HELP mcpauth_introspection_duration_seconds Time an "
                               "introspection call took.\n"
                               "# TYPE mcpauth_introspection_duration_seconds histogram\n");
    uint64_t cumulative = 0;
    for (size_t i = 0; i < MCPAUTH_VALIDATOR_LATENCY_BUCKETS; i++) {
        cumulative += s->latency_buckets[i];
        if (i < sizeof bounds / sizeof bounds[0])
            mcpauth_strbuf_appendf(
                sb, "mcpauth_introspection_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[i],
                (unsigned long long)cumulative);
        else
            mcpauth_strbuf_appendf(
                sb, "mcpauth_introspection_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cumulative);
    }
    mcpauth_strbuf_appendf(sb,
                           "mcpauth_introspection_duration_seconds_sum %.6f\n"
                           "mcpauth_introspection_duration_seconds_count %llu\n",
                           s->latency_sum_seconds, (unsigned long long)cumulative);
}

/* --shared-cache: how much the other instances' results saved, and whether
 * Redis is there (while it is not, every instance validates on its own). */
static void render_redis(mcpauth_strbuf *sb, const mcpauth_redis_cache *shared)
{
    mcpauth_redis_cache_stats s;
    mcpauth_redis_cache_stats_get(shared, &s);
    mcpauth_strbuf_appendf(
        sb,
        "# HELP mcpauth_shared_cache_hits_total Validations answered by another instance's "
        "result.\n"
        "# TYPE mcpauth_shared_cache_hits_total counter\n"
        "mcpauth_shared_cache_hits_total %llu\n"
        "# HELP mcpauth_shared_cache_misses_total Validations the shared cache could not answer.\n"
        "# TYPE mcpauth_shared_cache_misses_total counter\n"
        "mcpauth_shared_cache_misses_total %llu\n"
        "# HELP mcpauth_shared_cache_waits_total Validations that waited for another instance's "
        "result.\n"
        "# TYPE mcpauth_shared_cache_waits_total counter\n"
        "mcpauth_shared_cache_waits_total %llu\n"
        "# HELP mcpauth_shared_cache_errors_total Redis answers late or wrong, connections lost "
        "or refused.\n"
        "# TYPE mcpauth_shared_cache_errors_total counter\n"
        "mcpauth_shared_cache_errors_total %llu\n"
        "# HELP mcpauth_shared_cache_up Whether Redis is connected now.\n"
        "# TYPE mcpauth_shared_cache_up gauge\n"
        "mcpauth_shared_cache_up %d\n",
        (unsigned long long)s.hits, (unsigned long long)s.misses, (unsigned long long)s.waits,
        (unsigned long long)s.errors, s.up ? 1 : 0);
}

char *mcpauth__serve_metrics_render(const mcpauth__serve_context *ctx)
{
    static const char *const classes[MCPAUTH__SERVE_STATUS_CLASSES] = {"1xx", "2xx", "3xx",
                                                                       "4xx", "5xx", "other"};
    const mcpauth__serve_metrics *m = &ctx->metrics;
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, "# HELP mcpauth_http_requests_total HTTP requests answered.\n"
                                "# TYPE mcpauth_http_requests_total counter\n");
    for (int i = 0; i < MCPAUTH__SERVE_STATUS_CLASSES; i++)
        mcpauth_strbuf_appendf(&sb, "mcpauth_http_requests_total{code=\"%s\"} %llu\n", classes[i],
                               (unsigned long long)m->requests_by_class[i]);
    mcpauth_strbuf_appendf(
        &sb,
        "# HELP mcpauth_token_validations_total Outcomes of access token checks.\n"
        "# TYPE mcpauth_token_validations_total counter\n"
        "mcpauth_token_validations_total{outcome=\"valid\"} %llu\n"
        "mcpauth_token_validations_total{outcome=\"invalid\"} %llu\n"
        "mcpauth_token_validations_total{outcome=\"insufficient_scope\"} %llu\n"
        "mcpauth_token_validations_total{outcome=\"unavailable\"} %llu\n"
        "mcpauth_token_validations_total{outcome=\"missing\"} %llu\n",
        (unsigned long long)m->valid, (unsigned long long)m->invalid,
        (unsigned long long)m->insufficient_scope, (unsigned long long)m->unavailable,
        (unsigned long long)m->missing);
    if (ctx->validator) {
        mcpauth_validator_stats s;
        mcpauth_validator_stats_get(ctx->validator, &s);
        mcpauth_strbuf_appendf(
            &sb,
            "# HELP mcpauth_token_cache_hits_total Validations answered from the cache.\n"
            "# TYPE mcpauth_token_cache_hits_total counter\n"
            "mcpauth_token_cache_hits_total %llu\n"
            "# HELP mcpauth_token_cache_misses_total Validations not in the cache.\n"
            "# TYPE mcpauth_token_cache_misses_total counter\n"
            "mcpauth_token_cache_misses_total %llu\n"
            "# HELP mcpauth_introspection_requests_total Introspection calls sent.\n"
            "# TYPE mcpauth_introspection_requests_total counter\n"
            "mcpauth_introspection_requests_total %llu\n"
            "# HELP mcpauth_introspection_failures_total Introspection calls that failed.\n"
            "# TYPE mcpauth_introspection_failures_total counter\n"
            "mcpauth_introspection_failures_total %llu\n"
            "# HELP mcpauth_introspection_overloaded_total Validations answered 503 because "
            "--max-introspections calls were out and --max-introspection-queue more waited.\n"
            "# TYPE mcpauth_introspection_overloaded_total counter\n"
            "mcpauth_introspection_overloaded_total %llu\n"
            "# HELP mcpauth_introspections_in_flight Introspection calls out now.\n"
            "# TYPE mcpauth_introspections_in_flight gauge\n"
            "mcpauth_introspections_in_flight %llu\n"
            "# HELP mcpauth_introspections_queued Validations waiting for an introspection slot.\n"
            "# TYPE mcpauth_introspections_queued gauge\n"
            "mcpauth_introspections_queued %llu\n",
            (unsigned long long)s.cache_hits, (unsigned long long)s.cache_misses,
            (unsigned long long)s.backend_calls, (unsigned long long)s.backend_failures,
            (unsigned long long)s.backend_overloaded, (unsigned long long)s.backend_in_flight,
            (unsigned long long)s.backend_queued);
        render_latency(&sb, &s);
    }
    if (ctx->jwks) {
        mcpauth_jwks_cache_stats j;
        mcpauth_jwks_cache_stats_get(ctx->jwks, &j);
        mcpauth_strbuf_appendf(&sb,
                               "# HELP mcpauth_jwks_fetches_total JWK Set fetches started.\n"
                               "# TYPE mcpauth_jwks_fetches_total counter\n"
                               "mcpauth_jwks_fetches_total %llu\n"
                               "# HELP mcpauth_jwks_fetch_failures_total JWK Set fetches that "
                               "failed.\n"
                               "# TYPE mcpauth_jwks_fetch_failures_total counter\n"
                               "mcpauth_jwks_fetch_failures_total %llu\n",
                               (unsigned long long)j.fetches, (unsigned long long)j.fetch_failures);
    }
    if (ctx->redis)
        render_redis(&sb, ctx->redis);
    mcpauth_strbuf_appends(&sb, "# HELP mcpauth_http_limit_hits_total Times an HTTP connection "
                                "limit acted (--max-output-buffer, --write-timeout, file "
                                "descriptors).\n"
                                "# TYPE mcpauth_http_limit_hits_total counter\n");
    for (int i = 0; i < MCPAUTH_HTTP_LIMIT_COUNT; i++)
        mcpauth_strbuf_appendf(&sb, "mcpauth_http_limit_hits_total{limit=\"%s\"} %llu\n",
                               limit_labels[i], (unsigned long long)m->limits[i]);
    static const char *const mcp_limit_labels[MCPAUTH_MCP_LIMIT_COUNT] = {
        "sessions", "sessions_per_identity", "children"};
    uint64_t mcp_hits[MCPAUTH_MCP_LIMIT_COUNT];
    mcpauth_mcp_limit_hits(ctx->mcp, mcp_hits);
    mcpauth_strbuf_appends(&sb, "# HELP mcpauth_mcp_limit_hits_total New MCP sessions refused at "
                                "a limit (--max-sessions: 503; --max-sessions-per-identity, "
                                "--max-children: 429).\n"
                                "# TYPE mcpauth_mcp_limit_hits_total counter\n");
    for (int i = 0; i < MCPAUTH_MCP_LIMIT_COUNT; i++)
        mcpauth_strbuf_appendf(&sb, "mcpauth_mcp_limit_hits_total{limit=\"%s\"} %llu\n",
                               mcp_limit_labels[i], (unsigned long long)mcp_hits[i]);
    mcpauth_strbuf_appendf(&sb,
                           "# HELP mcpauth_open_connections Client connections open now.\n"
                           "# TYPE mcpauth_open_connections gauge\n"
                           "mcpauth_open_connections %zu\n"
                           "# HELP mcpauth_mcp_sessions MCP sessions alive now.\n"
                           "# TYPE mcpauth_mcp_sessions gauge\n"
                           "mcpauth_mcp_sessions %zu\n",
                           mcpauth_http_server_connection_count(ctx->server),
                           mcpauth_mcp_session_count(ctx->mcp, (int64_t)time(NULL)));
    return mcpauth_strbuf_detach(&sb);
}
