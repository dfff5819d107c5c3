/* mcpauth's own work for one tools/call in each MCP era, in process: no
 * network, no load generator, no HTTP parsing; for scripts/bench, which
 * measures the same calls over HTTP beside it. Each call goes through the
 * public API in the order the router takes it (mcpauth_mcp_request_modern,
 * mcpauth_mcp_check_tools, then the era's handler, then
 * mcpauth_mcp_request_release) with a cached token's identity and the
 * built-in tools, over a session table in shared memory as serve keeps it:
 *   2025-11-25: in a session opened once by initialize (Mcp-Session-Id);
 *   2026-07-28: stateless, _meta in params, Mcp-Method and Mcp-Name.
 * The two alternate in blocks, so that the machine's drift falls on both.
 *   bench-era-cost [CALLS]   (CALLS per era, 400000 by default)
 * Prints nanoseconds per call for each era (the median block) and the
 * 2026-07-28 / 2025-11-25 speed ratio (above 1: the stateless call costs
 * less). Exits 1 when a call is not answered with the greeting. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcpauth/mcp.h"

#define BLOCKS 20

static char *scopes[] = {"mcp"};
static const char *const base_scopes[] = {"mcp"};
static mcpauth_token_info token = {
    .active = true,
    .client_id = "bench-client",
    .scopes = scopes,
    .scope_count = 1,
};

typedef struct outcome {
    char session_id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    bool answered;
    bool read;          /* look into the answer, not only at its status */
    const char *expect; /* text the answer must hold when read; NULL: none */
} outcome;

/* The measure is mcpauth's work, not ours: every answer's status is
 * checked, and the text of the first of each block (the answers of a block
 * differ only in their ids). */
static void on_reply(const mcpauth_mcp_reply *reply, void *data)
{
    outcome *o = data;
    o->answered = reply->status == 200 && reply->body;
    if (o->answered && o->read)
        o->answered = strstr(reply->body, "\"result\"") != NULL &&
                      strstr(reply->body, "\"isError\":true") == NULL &&
                      (!o->expect || strstr(reply->body, o->expect) != NULL);
    if (reply->session_id)
        snprintf(o->session_id, sizeof o->session_id, "%s", reply->session_id);
}

/* One POST as the router hands it over; false when it was not answered
 * with a result. */
static bool post(mcpauth_mcp_server *server, const char *version, const char *session_id,
                 bool named, const char *body, outcome *o)
{
    mcpauth_mcp_request req = {
        .session_id = session_id,
        .protocol_version = version,
        .accept = "application/json, text/event-stream",
        .content_type = "application/json",
        .body = body,
        .body_length = strlen(body),
        .identity = {.token = &token, .validated_by = "introspection", .cache_hit = true},
        .mcp_method = named ? "tools/call" : NULL,
        .mcp_name = named ? "hello_world" : NULL,
        .now = (int64_t)time(NULL),
    };
    mcpauth_mcp_sink sink = {.reply = on_reply, .data = o};
    o->answered = false;
    bool modern = mcpauth_mcp_request_modern(&req);
    mcpauth_mcp_tool_policy_verdict verdict;
    if (mcpauth_mcp_check_tools(server, &req, base_scopes, 1, &verdict) != MCPAUTH_OK ||
        !verdict.allowed) {
        mcpauth_mcp_tool_policy_verdict_free(&verdict);
        mcpauth_mcp_request_release(&req);
        return false;
    }
    if (modern)
        mcpauth_mcp_handle_modern_post(server, &req, &sink);
    else
        mcpauth_mcp_handle_post(server, &req, &sink);
    mcpauth_mcp_request_release(&req);
    return o->answered;
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* calls tools/call of one era, each with its own id as wrk's scripts send;
 * seconds taken, or a negative number when a call failed. */
static double block(mcpauth_mcp_server *server, bool modern, const char *session_id, long calls,
                    long *id)
{
    char body[512];
    outcome o = {.expect = "Hello, "};
    double start = seconds();
    for (long i = 0; i < calls; i++) {
        o.read = i == 0;
        if (modern)
            snprintf(body, sizeof body,
                     "{\"jsonrpc\":\"2.0\",\"id\":\"1-%ld\",\"method\":\"tools/call\","
                     "\"params\":{\"name\":\"hello_world\",\"arguments\":{},\"_meta\":{"
                     "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                     "\"io.modelcontextprotocol/clientCapabilities\":{}}}}",
                     ++*id);
        else
            snprintf(body, sizeof body,
                     "{\"jsonrpc\":\"2.0\",\"id\":\"1-%ld\",\"method\":\"tools/call\","
                     "\"params\":{\"name\":\"hello_world\",\"arguments\":{}}}",
                     ++*id);
        if (!post(server, modern ? MCPAUTH_MCP_MODERN_VERSION : MCPAUTH_MCP_LATEST_VERSION,
                  modern ? NULL : session_id, modern, body, &o))
            return -1;
    }
    return seconds() - start;
}

int main(int argc, char **argv)
{
    char *end = NULL;
    long calls = argc > 1 ? strtol(argv[1], &end, 10) : 400000;
    if (argc > 2 || (argc > 1 && (*end != '\0' || calls < BLOCKS || calls > 100000000))) {
        fprintf(stderr, "usage: bench-era-cost [CALLS]   (%d to 100000000; 400000)\n", BLOCKS);
        return 2;
    }
    mcpauth_mcp_config config;
    mcpauth_mcp_config_init(&config);
    config.sessions = mcpauth_mcp_sessions_new(config.max_sessions, config.session_idle_seconds);
    mcpauth_mcp_server *server = config.sessions ? mcpauth_mcp_server_new(&config) : NULL;
    if (!server) {
        fprintf(stderr, "bench-era-cost: out of memory\n");
        return 1;
    }
    outcome opened = {.read = true};
    bool ok = post(server, NULL, NULL, false,
                   "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                   "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
                   "\"clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}}}",
                   &opened) &&
              opened.session_id[0];
    double legacy[BLOCKS], modern[BLOCKS];
    long id = 0, per_block = calls / BLOCKS;
    /* Warm both paths, then legacy and modern in turn, each first half the
     * time. */
    ok = ok && block(server, false, opened.session_id, per_block, &id) >= 0 &&
         block(server, true, NULL, per_block, &id) >= 0;
    for (int b = 0; ok && b < BLOCKS; b++) {
        bool modern_first = b % 2;
        double first = block(server, modern_first, opened.session_id, per_block, &id);
        double second = block(server, !modern_first, opened.session_id, per_block, &id);
        ok = first >= 0 && second >= 0;
        legacy[b] = (modern_first ? second : first) / (double)per_block;
        modern[b] = (modern_first ? first : second) / (double)per_block;
    }
    mcpauth_mcp_server_free(server);
    mcpauth_mcp_sessions_free(config.sessions);
    if (!ok) {
        fprintf(stderr, "bench-era-cost: a tools/call was not answered with its result\n");
        return 1;
    }
    double ratios[BLOCKS];
    for (int b = 0; b < BLOCKS; b++)
        ratios[b] = legacy[b] / modern[b];
    qsort(legacy, BLOCKS, sizeof legacy[0], by_value);
    qsort(modern, BLOCKS, sizeof modern[0], by_value);
    qsort(ratios, BLOCKS, sizeof ratios[0], by_value);
    printf("2025-11-25 %.0f ns/call\n", legacy[BLOCKS / 2] * 1e9);
    printf("2026-07-28 %.0f ns/call\n", modern[BLOCKS / 2] * 1e9);
    printf("ratio %.3f %.3f %.3f\n", (ratios[BLOCKS / 2 - 1] + ratios[BLOCKS / 2]) / 2, ratios[0],
           ratios[BLOCKS - 1]);
    return 0;
}
