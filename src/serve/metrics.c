/* Counters for GET /metrics, in the Prometheus text exposition format.
 *
 * Each worker counts in its own memory and publishes its figures to its
 * slot of a region every worker maps (made before they fork) after each
 * answer, each limit hit and on the log timer; /metrics, whichever worker the kernel hands
 * it to, sums the slots. One writer per slot, so no lock and no contended
 * cache line: relaxed atomic stores and loads keep every value whole. */
#include "mcpauth/strbuf.h"
#include "serve_internal.h"

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define LIMIT_LOG_INTERVAL_MS 10000

mcpauth__serve_metrics_slot *mcpauth__serve_metrics_map(int workers)
{
    void *mapping = mmap(NULL, (size_t)workers * sizeof(mcpauth__serve_metrics_slot),
                         PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return mapping == MAP_FAILED ? NULL : mapping;
}

void mcpauth__serve_metrics_unmap(mcpauth__serve_metrics_slot *slots, int workers)
{
    if (slots)
        munmap(slots, (size_t)workers * sizeof *slots);
}

static void put(uint64_t *dst, uint64_t value)
{
    __atomic_store_n(dst, value, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *src)
{
    return __atomic_load_n(src, __ATOMIC_RELAXED);
}

/* Counters: what the slot held when this worker took it over (from a
 * worker that died) plus this worker's own. */
static void add_all(uint64_t *dst, const uint64_t *base, const uint64_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(&dst[i], base[i] + src[i]);
}

#define ADD(field, value) put(&slot->field, base->field + (value))

void mcpauth__serve_metrics_adopt(mcpauth__serve_context *ctx)
{
    const mcpauth__serve_metrics_slot *slot = &ctx->shared->metrics[ctx->worker];
    uint64_t *dst = (uint64_t *)&ctx->metrics_base;
    const uint64_t *src = (const uint64_t *)slot;
    for (size_t i = 0; i < sizeof *slot / sizeof(uint64_t); i++)
        dst[i] = get(&src[i]);
    /* Other workers find this one by its pid from now on. */
    ctx->pid = (uint64_t)getpid();
    put(&ctx->shared->metrics[ctx->worker].pid, ctx->pid);
}

void mcpauth__serve_metrics_publish(mcpauth__serve_context *ctx)
{
    if (!ctx->shared)
        return;
    mcpauth__serve_metrics_slot *slot = &ctx->shared->metrics[ctx->worker];
    const mcpauth__serve_metrics_slot *base = &ctx->metrics_base;
    const mcpauth__serve_metrics *m = &ctx->metrics;
    put(&slot->pid, ctx->pid);
    add_all(slot->requests_by_class, base->requests_by_class, m->requests_by_class,
            MCPAUTH__SERVE_STATUS_CLASSES);
    ADD(valid, m->valid);
    ADD(invalid, m->invalid);
    ADD(insufficient_scope, m->insufficient_scope);
    ADD(unavailable, m->unavailable);
    ADD(missing, m->missing);
    add_all(slot->limits, base->limits, m->limits, MCPAUTH_HTTP_LIMIT_COUNT);
    if (ctx->validator) {
        mcpauth_validator_stats s;
        mcpauth_validator_stats_get(ctx->validator, &s);
        ADD(cache_hits, s.cache_hits);
        ADD(cache_misses, s.cache_misses);
        ADD(backend_calls, s.backend_calls);
        ADD(backend_failures, s.backend_failures);
        ADD(backend_overloaded, s.backend_overloaded);
        put(&slot->backend_in_flight, s.backend_in_flight);
        put(&slot->backend_queued, s.backend_queued);
        add_all(slot->latency_buckets, base->latency_buckets, s.latency_buckets,
                MCPAUTH_VALIDATOR_LATENCY_BUCKETS);
        ADD(latency_sum_ns, (uint64_t)(s.latency_sum_seconds * 1e9));
    }
    if (ctx->jwks) {
        mcpauth_jwks_cache_stats j;
        mcpauth_jwks_cache_stats_get(ctx->jwks, &j);
        ADD(jwks_fetches, j.fetches);
        ADD(jwks_fetch_failures, j.fetch_failures);
    }
    if (ctx->redis) {
        mcpauth_redis_cache_stats r;
        mcpauth_redis_cache_stats_get(ctx->redis, &r);
        ADD(redis_hits, r.hits);
        ADD(redis_misses, r.misses);
        ADD(redis_waits, r.waits);
        ADD(redis_errors, r.errors);
        put(&slot->redis_up, r.up);
    }
    if (ctx->mcp) {
        uint64_t hits[MCPAUTH_MCP_LIMIT_COUNT];
        mcpauth_mcp_limit_hits(ctx->mcp, hits);
        add_all(slot->mcp_limits, base->mcp_limits, hits, MCPAUTH_MCP_LIMIT_COUNT);
    }
    put(&slot->open_connections,
        ctx->server ? mcpauth_http_server_connection_count(ctx->server) : 0);
}

void mcpauth__serve_metrics_count_status(mcpauth__serve_metrics *m, int status)
{
    int cls = status / 100;
    m->requests_by_class[(cls >= 1 && cls <= 5) ? cls - 1 : 5]++;
    if (m->owner)
        mcpauth__serve_metrics_publish(m->owner);
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
    /* Published now: a limit often ends a connection with no answer after
     * it, and /metrics asked of another worker must not miss it until the
     * next log tick. */
    mcpauth__serve_metrics_publish(ctx);
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

/* The sum over every slot of the counter at offset (in bytes) in a slot. */
static uint64_t sum_at(const mcpauth__serve_metrics_slot *slots, int workers, size_t offset)
{
    uint64_t total = 0;
    for (int w = 0; w < workers; w++)
        total += get((const uint64_t *)((const char *)&slots[w] + offset));
    return total;
}

#define SUM(field) sum_at(slots, workers, offsetof(mcpauth__serve_metrics_slot, field))
#define SUM_AT(arr, i)                                                                             \
    sum_at(slots, workers, offsetof(mcpauth__serve_metrics_slot, arr) + (i) * sizeof(uint64_t))

/* The introspection latency histogram (Prometheus buckets are cumulative). */
static void render_latency(mcpauth_strbuf *sb, const mcpauth__serve_metrics_slot *slots,
                           int workers)
{
    static const double bounds[] = MCPAUTH_VALIDATOR_LATENCY_BOUNDS;
    mcpauth_strbuf_appends(sb, "# HELP mcpauth_introspection_duration_seconds Time an "
                               "introspection call took.\n"
                               "# TYPE mcpauth_introspection_duration_seconds histogram\n");
    uint64_t cumulative = 0;
    for (size_t i = 0; i < MCPAUTH_VALIDATOR_LATENCY_BUCKETS; i++) {
        cumulative += SUM_AT(latency_buckets, i);
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
                           (double)SUM(latency_sum_ns) / 1e9, (unsigned long long)cumulative);
}

/* --shared-cache: how much the other instances' results saved, and whether
 * Redis is there (while it is not, every instance validates on its own).
 * Up only while every worker is connected: each has its own connection. */
static void render_redis(mcpauth_strbuf *sb, const mcpauth__serve_metrics_slot *slots, int workers)
{
    bool up = true;
    for (int i = 0; i < workers; i++)
        up = up && (get(&slots[i].pid) == 0 || get(&slots[i].redis_up) != 0);
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
        "# HELP mcpauth_shared_cache_up Whether every worker is connected to Redis now.\n"
        "# TYPE mcpauth_shared_cache_up gauge\n"
        "mcpauth_shared_cache_up %d\n",
        (unsigned long long)SUM(redis_hits), (unsigned long long)SUM(redis_misses),
        (unsigned long long)SUM(redis_waits), (unsigned long long)SUM(redis_errors), up ? 1 : 0);
}

char *mcpauth__serve_metrics_render(mcpauth__serve_context *ctx)
{
    static const char *const classes[MCPAUTH__SERVE_STATUS_CLASSES] = {"1xx", "2xx", "3xx",
                                                                       "4xx", "5xx", "other"};
    /* This worker's own figures are current; the others' as of their last
     * answer or log tick. */
    mcpauth__serve_metrics_publish(ctx);
    const mcpauth__serve_metrics_slot *slots = ctx->shared->metrics;
    int workers = ctx->shared->workers;
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, "# HELP mcpauth_http_requests_total HTTP requests answered.\n"
                                "# TYPE mcpauth_http_requests_total counter\n");
    for (int i = 0; i < MCPAUTH__SERVE_STATUS_CLASSES; i++)
        mcpauth_strbuf_appendf(&sb, "mcpauth_http_requests_total{code=\"%s\"} %llu\n", classes[i],
                               (unsigned long long)SUM_AT(requests_by_class, i));
    mcpauth_strbuf_appendf(
        &sb,
        "# HELP mcpauth_token_validations_total Outcomes of access token checks.\n"
        "# TYPE mcpauth_token_validations_total counter\n"
        "mcpauth_token_validations_total{outcome=\"valid\"} %llu\n"
        "mcpauth_token_validations_total{outcome=\"invalid\"} %llu\n"
        "mcpauth_token_validations_total{outcome=\"insufficient_scope\"} %llu\n"
        "mcpauth_token_validations_total{outcome=\"unavailable\"} %llu\n"
        "mcpauth_token_validations_total{outcome=\"missing\"} %llu\n",
        (unsigned long long)SUM(valid), (unsigned long long)SUM(invalid),
        (unsigned long long)SUM(insufficient_scope), (unsigned long long)SUM(unavailable),
        (unsigned long long)SUM(missing));
    if (ctx->validator) {
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
            (unsigned long long)SUM(cache_hits), (unsigned long long)SUM(cache_misses),
            (unsigned long long)SUM(backend_calls), (unsigned long long)SUM(backend_failures),
            (unsigned long long)SUM(backend_overloaded), (unsigned long long)SUM(backend_in_flight),
            (unsigned long long)SUM(backend_queued));
        render_latency(&sb, slots, workers);
    }
    if (ctx->jwks) {
        mcpauth_strbuf_appendf(&sb,
                               "# HELP mcpauth_jwks_fetches_total JWK Set fetches started.\n"
                               "# TYPE mcpauth_jwks_fetches_total counter\n"
                               "mcpauth_jwks_fetches_total %llu\n"
                               "# HELP mcpauth_jwks_fetch_failures_total JWK Set fetches that "
                               "failed.\n"
                               "# TYPE mcpauth_jwks_fetch_failures_total counter\n"
                               "mcpauth_jwks_fetch_failures_total %llu\n",
                               (unsigned long long)SUM(jwks_fetches),
                               (unsigned long long)SUM(jwks_fetch_failures));
    }
    if (ctx->redis)
        render_redis(&sb, slots, workers);
    mcpauth_strbuf_appends(&sb, "# HELP mcpauth_http_limit_hits_total Times an HTTP connection "
                                "limit acted (--max-output-buffer, --write-timeout, file "
                                "descriptors).\n"
                                "# TYPE mcpauth_http_limit_hits_total counter\n");
    for (int i = 0; i < MCPAUTH_HTTP_LIMIT_COUNT; i++)
        mcpauth_strbuf_appendf(&sb, "mcpauth_http_limit_hits_total{limit=\"%s\"} %llu\n",
                               limit_labels[i], (unsigned long long)SUM_AT(limits, i));
    static const char *const mcp_limit_labels[MCPAUTH_MCP_LIMIT_COUNT] = {
        "sessions", "sessions_per_identity", "children"};
    mcpauth_strbuf_appends(&sb, "# HELP mcpauth_mcp_limit_hits_total New MCP sessions refused at "
                                "a limit (--max-sessions: 503; --max-sessions-per-identity, "
                                "--max-children: 429).\n"
                                "# TYPE mcpauth_mcp_limit_hits_total counter\n");
    for (int i = 0; i < MCPAUTH_MCP_LIMIT_COUNT; i++)
        mcpauth_strbuf_appendf(&sb, "mcpauth_mcp_limit_hits_total{limit=\"%s\"} %llu\n",
                               mcp_limit_labels[i], (unsigned long long)SUM_AT(mcp_limits, i));
    mcpauth_strbuf_appendf(&sb,
                           "# HELP mcpauth_open_connections Client connections open now.\n"
                           "# TYPE mcpauth_open_connections gauge\n"
                           "mcpauth_open_connections %llu\n",
                           (unsigned long long)SUM(open_connections));
    /* Per worker only what tells them apart: how the kernel spread the
     * connections, and which process serves as which worker. */
    mcpauth_strbuf_appends(&sb, "# HELP mcpauth_worker_open_connections Client connections "
                                "open now, per worker process.\n"
                                "# TYPE mcpauth_worker_open_connections gauge\n");
    for (int w = 0; w < workers; w++)
        if (get(&slots[w].pid))
            mcpauth_strbuf_appendf(
                &sb, "mcpauth_worker_open_connections{worker=\"%d\",pid=\"%llu\"} %llu\n", w,
                (unsigned long long)get(&slots[w].pid),
                (unsigned long long)get(&slots[w].open_connections));
    mcpauth_strbuf_appendf(&sb,
                           "# HELP mcpauth_workers Worker processes of this server.\n"
                           "# TYPE mcpauth_workers gauge\n"
                           "mcpauth_workers %d\n"
                           "# HELP mcpauth_mcp_sessions MCP sessions alive now.\n"
                           "# TYPE mcpauth_mcp_sessions gauge\n"
                           "mcpauth_mcp_sessions %zu\n",
                           workers, mcpauth_mcp_session_count(ctx->mcp, (int64_t)time(NULL)));
    return mcpauth_strbuf_detach(&sb);
}
