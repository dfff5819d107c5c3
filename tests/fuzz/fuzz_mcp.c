/* MCP message handling in both eras, through the public API with the
 * built-in tools (which answer before the call returns): the Streamable
 * HTTP transport (mcpauth_mcp_handle_post, with sessions and statelessly),
 * the legacy HTTP+SSE transport of 2024-11-05 (mcpauth_mcp_legacy_post and
 * the events it writes), the per-tool scope gate, and JSON-RPC
 * classification (src/mcp/jsonrpc.c). Input, separated by \x01: the
 * MCP-Protocol-Version header ("" for none), then up to five POST bodies;
 * the first opens the session (an initialize, usually), the others use it. */
#include <stdbool.h>
#include <stdio.h>

#include "../../src/mcp/mcp_internal.h"
#include "fuzz.h"
#include "mcpauth/json.h"
#include "mcpauth/mcp.h"
#include "mcpauth/mcp_legacy.h"
#include "mcpauth/mcp_tool_policy.h"

#define NOW 1765000000

static char *scopes[] = {"mcp"};
static char *audiences[] = {"https://rs.example/mcp"};
static mcpauth_token_info alice = {
    .active = true,
    .subject = "sub-alice",
    .client_id = "client-1",
    .username = "alice",
    .scopes = scopes,
    .scope_count = 1,
    .audiences = audiences,
    .audience_count = 1,
};

typedef struct answer {
    int calls;
    char session_id[128];
} answer;

static void on_reply(const mcpauth_mcp_reply *reply, void *data)
{
    answer *a = data;
    a->calls++;
    static const int statuses[] = {200, 202, 400, 403, 404, 405, 406, 409, 415, 500, 502, 503};
    bool known = false;
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        known = known || reply->status == statuses[i];
    if (!known)
        abort(); /* mcp.h lists what the transports answer */
    if ((reply->body == NULL) != (reply->body_length == 0) ||
        (reply->body && strlen(reply->body) != reply->body_length))
        abort();
    if (reply->body) {
        json_object *doc = json_tokener_parse(reply->body);
        if (!doc)
            abort(); /* every body is JSON */
        json_object_put(doc);
    }
    if (getenv("MCPAUTH_FUZZ_VERBOSE")) /* for writing seeds */
        fprintf(stderr, "-> %d %.*s\n", reply->status, (int)reply->body_length,
                reply->body ? reply->body : "");
    if (reply->session_id)
        snprintf(a->session_id, sizeof a->session_id, "%s", reply->session_id);
}

static void on_stream_start(const char *session_id, void *data)
{
    (void)session_id;
    (void)data;
}

static int on_stream_write(const char *bytes, size_t length, void *data)
{
    (void)data;
    const char *event_data;
    size_t event_length;
    (void)mcpauth_mcp_legacy_event_data(bytes, length, &event_data, &event_length);
    return 0;
}

static void on_stream_end(void *data)
{
    (void)data;
}

static void post(mcpauth_mcp_server *server, const char *session_id, const char *version,
                 const char *body, size_t length, answer *a)
{
    mcpauth_mcp_request req = {
        .session_id = session_id,
        .protocol_version = version,
        .accept = "application/json, text/event-stream",
        .content_type = "application/json",
        .body = body,
        .body_length = length,
        .identity = {.token = &alice, .validated_by = "jwt"},
        .now = NOW,
    };
    mcpauth_mcp_sink sink = {
        .reply = on_reply,
        .stream_start = on_stream_start,
        .stream_write = on_stream_write,
        .stream_end = on_stream_end,
        .data = a,
    };
    int before = a->calls;
    static const char *const base[] = {"mcp"};
    mcpauth_mcp_tool_policy_verdict verdict = {0};
    if (mcpauth_mcp_check_tools(server, &req, base, 1, &verdict) == MCPAUTH_OK &&
        !verdict.allowed) {
        mcpauth_mcp_tool_policy_verdict_free(&verdict);
        mcpauth_mcp_request_release(&req);
        return;
    }
    mcpauth_mcp_tool_policy_verdict_free(&verdict);
    mcpauth_mcp_handle_post(server, &req, &sink);
    mcpauth_mcp_request_release(&req);
    if (a->calls != before + 1)
        abort(); /* the sink is answered exactly once, before return here */
}

static int legacy_write(const char *bytes, size_t length, void *data)
{
    (void)data;
    const char *event_data;
    size_t event_length;
    if (mcpauth_mcp_legacy_event_data(bytes, length, &event_data, &event_length) &&
        (event_data < bytes || event_data + event_length > bytes + length))
        abort();
    return 0;
}

static void legacy_end(void *data)
{
    (void)data;
}

static void legacy_post(mcpauth_mcp_legacy *legacy, const char *version, const char *body,
                        size_t length)
{
    mcpauth_mcp_request req = {
        .protocol_version = version,
        .content_type = "application/json",
        .body = body,
        .body_length = length,
        .identity = {.token = &alice, .validated_by = "jwt"},
        .now = NOW,
    };
    answer a = {0};
    mcpauth_mcp_sink sink = {.reply = on_reply, .data = &a};
    mcpauth_mcp_legacy_post(legacy, &req, &sink);
    if (a.calls != 1)
        abort();
}

static void classify(const char *body, size_t length)
{
    json_object *doc = mcpauth_json_parse(body, length, "body", NULL);
    if (!doc)
        return;
    mcpauth__jsonrpc_message msg;
    if (json_object_is_type(doc, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(doc); i++)
            (void)mcpauth__jsonrpc_classify(json_object_array_get_idx(doc, i), &msg);
    } else if (mcpauth__jsonrpc_classify(doc, &msg) == MCPAUTH__JSONRPC_REQUEST) {
        json_object *error =
            mcpauth__jsonrpc_error(msg.id, MCPAUTH__JSONRPC_INVALID_PARAMS, "fuzz", NULL);
        size_t out;
        if (!error || !mcpauth__jsonrpc_serialize(error, &out))
            abort();
        json_object_put(error);
    }
    json_object_put(doc);
}

static mcpauth_mcp_server *server_new(bool stateless, const mcpauth_mcp_tool_policy *policy)
{
    mcpauth_mcp_config config;
    mcpauth_mcp_config_init(&config);
    config.stateless = stateless;
    config.max_sessions = 4;
    config.tool_policy = policy;
    mcpauth_mcp_server *server = mcpauth_mcp_server_new(&config);
    if (!server)
        abort();
    return server;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mcpauth_mcp_tool_policy *policy;
    if (!policy) {
        mcpauth_error err;
        policy = mcpauth_mcp_tool_policy_new();
        if (!policy || mcpauth_mcp_tool_policy_add_text(policy, "who*=mcp", &err) != MCPAUTH_OK ||
            mcpauth_mcp_tool_policy_add_text(policy, "hello_world=mcp:hello", &err) != MCPAUTH_OK)
            abort();
    }
    fuzz_pieces in;
    fuzz_split(data, size, 6, &in);
    const char *version = in.length[0] ? in.piece[0] : NULL;

    mcpauth_mcp_server *server = server_new(false, policy);
    answer a = {0};
    for (size_t i = 1; i < in.count; i++) {
        if (i > 1 && in.length[i] == 0)
            break;
        post(server, a.session_id[0] ? a.session_id : NULL, i > 1 ? version : NULL, in.piece[i],
             in.length[i], &a);
        classify(in.piece[i], in.length[i]);
    }

    mcpauth_mcp_legacy_stream stream = {.write = legacy_write, .end = legacy_end};
    mcpauth_mcp_identity identity = {.token = &alice, .validated_by = "jwt"};
    mcpauth_mcp_legacy *legacy = NULL;
    if (mcpauth_mcp_legacy_open(server, &identity, NOW, &stream, &legacy) == 0) {
        for (size_t i = 1; i < in.count && (i == 1 || in.length[i]); i++)
            legacy_post(legacy, version, in.piece[i], in.length[i]);
        char sid[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
        (void)mcpauth_mcp_legacy_query_session(in.piece[0], sid);
        mcpauth_mcp_legacy_close(legacy);
    }
    mcpauth_mcp_server_free(server);

    server = server_new(true, NULL);
    answer stateless = {0};
    for (size_t i = 1; i < in.count && (i == 1 || in.length[i]); i++)
        post(server, NULL, version, in.piece[i], in.length[i], &stateless);
    mcpauth_mcp_server_free(server);
    fuzz_pieces_free(&in);
    return 0;
}
