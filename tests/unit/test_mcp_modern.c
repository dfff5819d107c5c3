/* MCP 2026-07-28 through the public API: which era a request belongs to,
 * the request metadata headers checked against the body, the version and
 * _meta rules, the built-in methods in the modern shape, the per-tool
 * scopes read from Mcp-Name, and subscriptions/listen streams. */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "mcpauth/mcp.h"
#include "testlib.h"

#define ACCEPT_BOTH "application/json, text/event-stream"
#define MODERN      "2026-07-28"
#define ENVELOPE                                                                                   \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                       \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}"

static char *alice_scopes[] = {"mcp"};

static mcpauth_token_info alice = {
    .active = true,
    .subject = "sub-alice",
    .client_id = "client-1",
    .username = "alice",
    .scopes = alice_scopes,
    .scope_count = 1,
};

static mcpauth_token_info subject_only = {.active = true, .subject = "sub-123"};

typedef struct captured {
    int calls;
    int status;
    char *session_id;
    json_object *json;
} captured;

static void capture(const mcpauth_mcp_reply *reply, void *data)
{
    captured *c = data;
    c->calls++;
    c->status = reply->status;
    c->session_id = reply->session_id ? strdup(reply->session_id) : NULL;
    c->json = reply->body ? json_tokener_parse(reply->body) : NULL;
}

static void captured_clear(captured *c)
{
    free(c->session_id);
    json_object_put(c->json);
    memset(c, 0, sizeof *c);
}

/* One modern request's headers. */
typedef struct call {
    const char *version; /* MCP-Protocol-Version; NULL: MODERN, "" none */
    const char *method;  /* Mcp-Method; NULL: none */
    const char *name;    /* Mcp-Name; NULL: none */
    const char *session_id;
    const mcpauth_token_info *token;
} call;

static mcpauth_mcp_server *server;
static mcpauth_mcp_tool_policy *policy;
static captured reply;

static void make_server(bool with_policy)
{
    mcpauth_mcp_config config;
    mcpauth_mcp_config_init(&config);
    config.server_version = "1.2.3";
    if (with_policy) {
        policy = mcpauth_mcp_tool_policy_new();
        ck_assert_ptr_nonnull(policy);
        ck_assert_int_eq(mcpauth_mcp_tool_policy_add_text(policy, "whoami=admin", NULL),
                         MCPAUTH_OK);
        config.tool_policy = policy;
    }
    server = mcpauth_mcp_server_new(&config);
    ck_assert_ptr_nonnull(server);
}

static void setup(void)
{
    make_server(false);
}

static void teardown(void)
{
    captured_clear(&reply);
    mcpauth_mcp_server_free(server);
    server = NULL;
    mcpauth_mcp_tool_policy_free(policy);
    policy = NULL;
}

static mcpauth_mcp_request request_for(const call *c, const char *body)
{
    const char *version = c->version ? (*c->version ? c->version : NULL) : MODERN;
    return (mcpauth_mcp_request){
        .session_id = c->session_id,
        .protocol_version = version,
        .accept = ACCEPT_BOTH,
        .content_type = "application/json",
        .body = body,
        .body_length = body ? strlen(body) : 0,
        .identity = {.token = c->token, .validated_by = "jwt"},
        .mcp_method = c->method,
        .mcp_name = c->name,
        .now = 1700000000,
    };
}

static void post(const call *c, const char *body)
{
    captured_clear(&reply);
    mcpauth_mcp_request req = request_for(c, body);
    ck_assert(mcpauth_mcp_request_modern(&req));
    mcpauth_mcp_handle_modern_post(server, &req,
                                   &(mcpauth_mcp_sink){.reply = capture, .data = &reply});
    mcpauth_mcp_request_release(&req);
    ck_assert_int_eq(reply.calls, 1);
}

static json_object *at(json_object *obj, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_object *cur = obj;
    for (char *save = NULL, *key = strtok_r(buf, ".", &save); key && cur;
         key = strtok_r(NULL, ".", &save)) {
        json_object *next = NULL;
        if (json_object_is_type(cur, json_type_array))
            next = json_object_array_get_idx(cur, (size_t)atoi(key));
        else if (!json_object_object_get_ex(cur, key, &next))
            next = NULL;
        cur = next;
    }
    return cur;
}

static const char *str(const char *path)
{
    json_object *v = at(reply.json, path);
    return v ? json_object_get_string(v) : NULL;
}

static void assert_error(int status, int code)
{
    ck_assert_int_eq(reply.status, status);
    ck_assert_msg(at(reply.json, "error.code") != NULL, "no error: %s",
                  json_object_to_json_string(reply.json));
    ck_assert_int_eq(json_object_get_int(at(reply.json, "error.code")), code);
    ck_assert_ptr_null(reply.session_id);
}

static char body_buf[1024];

/* A request of method with params (without braces) and the envelope. */
static const char *request(const char *id, const char *method, const char *params)
{
    snprintf(body_buf, sizeof body_buf,
             "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"%s\",\"params\":{%s%s" ENVELOPE "}}", id,
             method, params, *params ? "," : "");
    return body_buf;
}

/* --- era ---------------------------------------------------------------- */

static bool modern(const char *version, const char *body)
{
    mcpauth_mcp_request req = {
        .protocol_version = version, .body = body, .body_length = body ? strlen(body) : 0};
    bool result = mcpauth_mcp_request_modern(&req);
    ck_assert(req.modern == result);
    mcpauth_mcp_request_release(&req);
    return result;
}

START_TEST(era_is_told_apart)
{
    ck_assert(!modern("2025-11-25", request("1", "tools/list", "")));
    ck_assert(!modern("2025-06-18", NULL));
    ck_assert(!modern("2025-03-26", NULL));
    ck_assert(modern(MODERN, NULL));
    ck_assert(modern("1900-01-01", NULL));
    ck_assert(modern("2024-11-05", NULL));
    /* No header: the body's _meta decides. */
    ck_assert(modern(NULL, request("1", "tools/list", "")));
    ck_assert(!modern(NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                            "{\"protocolVersion\":\"2025-11-25\"}}"));
    ck_assert(!modern(NULL, "not json"));
    ck_assert(!modern(NULL, NULL));
}
END_TEST

/* --- the built-in methods ----------------------------------------------- */

START_TEST(discover_lists_every_version)
{
    post(&(call){.method = "server/discover"}, request("\"d\"", "server/discover", ""));
    ck_assert_int_eq(reply.status, 200);
    ck_assert_str_eq(str("id"), "d");
    json_object *versions = at(reply.json, "result.supportedVersions");
    ck_assert_uint_eq(json_object_array_length(versions), 4);
    const char *expected[] = {MODERN, "2025-11-25", "2025-06-18", "2025-03-26"};
    for (size_t i = 0; i < 4; i++)
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(versions, i)),
                         expected[i]);
    ck_assert_ptr_nonnull(at(reply.json, "result.capabilities.tools"));
    ck_assert_ptr_null(at(reply.json, "result.capabilities.logging"));
    ck_assert_str_eq(str("result.resultType"), "complete");
    json_object *meta = at(reply.json, "result._meta");
    json_object *info = NULL;
    ck_assert(json_object_object_get_ex(meta, "io.modelcontextprotocol/serverInfo", &info));
    ck_assert_str_eq(json_object_get_string(at(info, "name")), "mcpauth");
    ck_assert_str_eq(json_object_get_string(at(info, "version")), "1.2.3");
    ck_assert_int_eq(json_object_get_int(at(reply.json, "result.ttlMs")), 300000);
    ck_assert_str_eq(str("result.cacheScope"), "public");
    ck_assert_ptr_null(reply.session_id);
}
END_TEST

START_TEST(tools_list_in_order_with_cache_hints)
{
    post(&(call){.method = "tools/list"}, request("2", "tools/list", ""));
    ck_assert_int_eq(reply.status, 200);
    ck_assert_str_eq(str("result.tools.0.name"), "hello_world");
    ck_assert_str_eq(str("result.tools.1.name"), "whoami");
    ck_assert_str_eq(str("result.resultType"), "complete");
    ck_assert_int_eq(json_object_get_int(at(reply.json, "result.ttlMs")), 300000);
    ck_assert_str_eq(str("result.cacheScope"), "public");
}
END_TEST

/* server/utilities/caching §Choosing a Cache Scope: a list filtered by
 * the caller's scopes is private. */
START_TEST(tools_list_filtered_is_private)
{
    teardown();
    make_server(true);
    post(&(call){.method = "tools/list", .token = &alice}, request("2", "tools/list", ""));
    ck_assert_int_eq(reply.status, 200);
    ck_assert_uint_eq(json_object_array_length(at(reply.json, "result.tools")), 1);
    ck_assert_str_eq(str("result.tools.0.name"), "hello_world");
    ck_assert_str_eq(str("result.cacheScope"), "private");
}
END_TEST

START_TEST(hello_world_greets)
{
    post(&(call){.method = "tools/call", .name = "hello_world", .token = &alice},
         request("3", "tools/call", "\"name\":\"hello_world\",\"arguments\":{}"));
    ck_assert_int_eq(reply.status, 200);
    ck_assert_str_eq(str("result.content.0.text"), "Hello, alice!");
    ck_assert_str_eq(str("result.resultType"), "complete");
    ck_assert_ptr_null(at(reply.json, "result.ttlMs"));
    post(&(call){.method = "tools/call", .name = "hello_world", .token = &subject_only},
         request("4", "tools/call", "\"name\":\"hello_world\""));
    ck_assert_str_eq(str("result.content.0.text"), "Hello, user with ID sub-123!");
    post(&(call){.method = "tools/call", .name = "hello_world"},
         request("5", "tools/call", "\"name\":\"hello_world\""));
    ck_assert_str_eq(str("result.content.0.text"), "Hello, anonymous user!");
}
END_TEST

START_TEST(whoami_and_unknown_tool)
{
    post(&(call){.method = "tools/call", .name = "whoami", .token = &alice},
         request("6", "tools/call", "\"name\":\"whoami\""));
    ck_assert_int_eq(reply.status, 200);
    ck_assert_str_eq(str("result.structuredContent.subject"), "sub-alice");
    post(&(call){.method = "tools/call", .name = "nope"},
         request("7", "tools/call", "\"name\":\"nope\""));
    assert_error(200, -32602);
}
END_TEST

/* streamable-http §Earlier Streamable HTTP Revisions: Mcp-Session-Id is
 * ignored, none is minted. */
START_TEST(session_id_is_ignored)
{
    post(&(call){.method = "tools/call", .name = "hello_world", .session_id = "no-such-session"},
         request("8", "tools/call", "\"name\":\"hello_world\""));
    ck_assert_int_eq(reply.status, 200);
    ck_assert_ptr_null(reply.session_id);
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, 1700000000), 0);
}
END_TEST

/* --- header validation (-32020) ----------------------------------------- */

START_TEST(mcp_name_base64_sentinel)
{
    /* base64("hello_world") */
    post(&(call){.method = "tools/call", .name = "=?base64?aGVsbG9fd29ybGQ=?="},
         request("9", "tools/call", "\"name\":\"hello_world\""));
    ck_assert_int_eq(reply.status, 200);
    ck_assert_str_eq(str("result.content.0.text"), "Hello, anonymous user!");
    /* base64("whoami") names another tool than the body. */
    post(&(call){.method = "tools/call", .name = "=?base64?d2hvYW1p?="},
         request("10", "tools/call", "\"name\":\"hello_world\""));
    assert_error(400, -32020);
    /* Broken Base64, and a plain value that needed encoding. */
    post(&(call){.method = "tools/call", .name = "=?base64?a?b=?="},
         request("11", "tools/call", "\"name\":\"hello_world\""));
    assert_error(400, -32020);
    post(&(call){.method = "tools/call", .name = "hello_world "},
         request("12", "tools/call", "\"name\":\"hello_world \""));
    assert_error(400, -32020);
    /* The markers are case-sensitive: this is a plain value. */
    post(&(call){.method = "tools/call", .name = "=?BASE64?aGVsbG9fd29ybGQ=?="},
         request("13", "tools/call", "\"name\":\"hello_world\""));
    assert_error(400, -32020);
}
END_TEST

START_TEST(headers_must_match_the_body)
{
    const char *body = request("14", "tools/call", "\"name\":\"hello_world\"");
    post(&(call){.name = "hello_world"}, body);
    assert_error(400, -32020);
    ck_assert_int_eq(json_object_get_int(at(reply.json, "id")), 14);
    post(&(call){.method = "tools/list", .name = "hello_world"}, body);
    assert_error(400, -32020);
    post(&(call){.method = "tools/call"}, body);
    assert_error(400, -32020);
    post(&(call){.method = "tools/call", .name = "whoami"}, body);
    assert_error(400, -32020);
    ck_assert_str_eq(str("error.message"), "Header mismatch: Mcp-Name header value 'whoami' does "
                                           "not match body value 'hello_world'");
    /* Header version ≠ _meta version. */
    snprintf(body_buf, sizeof body_buf,
             "{\"jsonrpc\":\"2.0\",\"id\":16,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
             "\"io.modelcontextprotocol/protocolVersion\":\"2025-11-25\","
             "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    post(&(call){.method = "tools/list"}, body_buf);
    assert_error(400, -32020);
    /* The version header missing while _meta names the modern version. */
    post(&(call){.version = "", .method = "tools/list"}, request("17", "tools/list", ""));
    assert_error(400, -32020);
}
END_TEST

/* --- version and _meta --------------------------------------------------- */

START_TEST(unsupported_version_lists_every_version)
{
    post(&(call){.version = "1900-01-01", .method = "tools/list"},
         request("\"v\"", "tools/list", ""));
    assert_error(400, -32022);
    ck_assert_str_eq(str("id"), "v");
    json_object *supported = at(reply.json, "error.data.supported");
    ck_assert_uint_eq(json_object_array_length(supported), 4);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(supported, 0)), MODERN);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(supported, 3)), "2025-03-26");
    ck_assert_str_eq(str("error.data.requested"), "1900-01-01");
}
END_TEST

START_TEST(meta_is_required)
{
    post(&(call){.method = "tools/list"},
         "{\"jsonrpc\":\"2.0\",\"id\":18,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
         "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}");
    assert_error(400, -32602);
    post(&(call){.method = "tools/list"},
         "{\"jsonrpc\":\"2.0\",\"id\":19,\"method\":\"tools/list\"}");
    assert_error(400, -32602);
    post(&(call){.method = "tools/list"},
         request("20", "tools/list", "\"_x\":1,\"_meta2\":{}") /* envelope still there */);
    ck_assert_int_eq(reply.status, 200);
    snprintf(body_buf, sizeof body_buf,
             "{\"jsonrpc\":\"2.0\",\"id\":21,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
             "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
             "\"io.modelcontextprotocol/clientCapabilities\":{},"
             "\"io.modelcontextprotocol/logLevel\":\"loud\"}}}");
    post(&(call){.method = "tools/list"}, body_buf);
    assert_error(400, -32602);
}
END_TEST

/* The _meta checks decide the same whether the body was parsed with _meta
 * left as text (the era known first, as serve does) or built whole (a
 * caller of mcpauth_mcp_check_tools() that asked before the era). */
static const struct {
    const char *meta;
    int status, code;
} meta_cases[] = {
    {"{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
     "\"io.modelcontextprotocol/clientCapabilities\":{}}",
     200, 0},
    {"{\"io.modelcontextprotocol/protocolVersion\":\"2026-\\u0030\\u0037-28\","
     "\"io.modelcontextprotocol/clientCapabilities\":{\"x\":[1]},"
     "\"io.modelcontextprotocol/logLevel\":\"debug\"}",
     200, 0},
    {"{\"io.modelcontextprotocol/protocolVersion\":\"2025-11-25\","
     "\"io.modelcontextprotocol/clientCapabilities\":{}}",
     400, -32020},
    {"{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\\u0000x\","
     "\"io.modelcontextprotocol/clientCapabilities\":{}}",
     400, -32020},
    {"{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
     "\"io.modelcontextprotocol/clientCapabilities\":[]}",
     400, -32602},
    {"{\"io.modelcontextprotocol/protocolVersion\":7,"
     "\"io.modelcontextprotocol/clientCapabilities\":{}}",
     400, -32602},
    {"{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
     "\"io.modelcontextprotocol/clientCapabilities\":{},"
     "\"io.modelcontextprotocol/logLevel\":null}",
     400, -32602},
    {"{\"io.modelcontextprotocol/protocolVersion\":\"x\","
     "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
     "\"io.modelcontextprotocol/clientCapabilities\":{}}",
     200, 0},
    {"[]", 400, -32602},
};

START_TEST(meta_checked_alike_from_text_and_objects)
{
    snprintf(body_buf, sizeof body_buf,
             "{\"jsonrpc\":\"2.0\",\"id\":30,\"method\":\"tools/list\",\"params\":{\"_meta\":%s}}",
             meta_cases[_i].meta);
    for (int built = 0; built < 2; built++) {
        captured_clear(&reply);
        mcpauth_mcp_request req = request_for(&(call){.method = "tools/list"}, body_buf);
        if (built) {
            mcpauth_mcp_tool_policy_verdict verdict;
            static const char *const base[] = {"mcp"};
            ck_assert_int_eq(mcpauth_mcp_check_tools(server, &req, base, 1, &verdict),
                             MCPAUTH_OK);
            mcpauth_mcp_tool_policy_verdict_free(&verdict);
            ck_assert_ptr_null(req.meta.text.text);
        }
        ck_assert(mcpauth_mcp_request_modern(&req));
        mcpauth_mcp_handle_modern_post(server, &req,
                                       &(mcpauth_mcp_sink){.reply = capture, .data = &reply});
        mcpauth_mcp_request_release(&req);
        ck_assert_int_eq(reply.calls, 1);
        if (meta_cases[_i].code)
            assert_error(meta_cases[_i].status, meta_cases[_i].code);
        else
            ck_assert_msg(reply.status == 200 && at(reply.json, "result.tools"),
                          "built %d: %d %s", built, reply.status,
                          json_object_to_json_string(reply.json));
    }
}
END_TEST

START_TEST(unknown_and_removed_methods)
{
    const char *methods[] = {"foo/bar", "ping", "logging/setLevel", "initialize",
                             "resources/subscribe"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        post(&(call){.method = methods[i]}, request("22", methods[i], ""));
        assert_error(404, -32601);
        ck_assert_int_eq(json_object_get_int(at(reply.json, "id")), 22);
    }
}
END_TEST

START_TEST(notifications_are_accepted)
{
    post(&(call){0}, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                     "{\"requestId\":1}}");
    ck_assert_int_eq(reply.status, 202);
    ck_assert_ptr_null(reply.json);
    post(&(call){0}, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                     "{\"requestId\":1," ENVELOPE "}}");
    ck_assert_int_eq(reply.status, 202);
    /* A client sends no responses in this revision. */
    post(&(call){0}, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
    assert_error(400, -32600);
    /* Nor batches. */
    post(&(call){.method = "tools/list"}, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}]");
    assert_error(400, -32600);
}
END_TEST

/* --- per-tool scopes from Mcp-Name --------------------------------------- */

static bool allowed(const call *c, const char *body)
{
    mcpauth_mcp_request req = request_for(c, body);
    mcpauth_mcp_request_modern(&req);
    mcpauth_mcp_tool_policy_verdict verdict;
    static const char *const base[] = {"mcp"};
    ck_assert_int_eq(mcpauth_mcp_check_tools(server, &req, base, 1, &verdict), MCPAUTH_OK);
    bool ok = verdict.allowed;
    if (!ok)
        ck_assert_str_eq(verdict.scope, "mcp admin");
    mcpauth_mcp_tool_policy_verdict_free(&verdict);
    mcpauth_mcp_request_release(&req);
    return ok;
}

START_TEST(tool_scopes_from_mcp_name)
{
    teardown();
    make_server(true);
    ck_assert(allowed(&(call){.method = "tools/call", .name = "hello_world", .token = &alice},
                      request("1", "tools/call", "\"name\":\"hello_world\"")));
    ck_assert(!allowed(&(call){.method = "tools/call", .name = "whoami", .token = &alice},
                       request("1", "tools/call", "\"name\":\"whoami\"")));
    ck_assert(
        !allowed(&(call){.method = "tools/call", .name = "=?base64?d2hvYW1p?=", .token = &alice},
                 request("1", "tools/call", "\"name\":\"whoami\"")));
    /* Headers that disagree with the body decide nothing: the request is
     * refused with -32020 before anything runs. */
    ck_assert(allowed(&(call){.method = "tools/call", .name = "hello_world", .token = &alice},
                      request("1", "tools/call", "\"name\":\"whoami\"")));
    post(&(call){.method = "tools/call", .name = "hello_world", .token = &alice},
         request("1", "tools/call", "\"name\":\"whoami\""));
    assert_error(400, -32020);
}
END_TEST

/* --- subscriptions/listen ----------------------------------------------- */

typedef struct stream_log {
    bool started, ended;
    char data[4096];
    size_t length;
    int fail_writes; /* answer writes with an error */
} stream_log;

static void stream_start(const char *session_id, void *data)
{
    ck_assert_ptr_null(session_id);
    ((stream_log *)data)->started = true;
}

static int stream_write(const char *bytes, size_t length, void *data)
{
    stream_log *log = data;
    if (log->fail_writes)
        return -1;
    ck_assert_uint_lt(log->length + length, sizeof log->data);
    memcpy(log->data + log->length, bytes, length);
    log->length += length;
    log->data[log->length] = '\0';
    return 0;
}

static void stream_end(void *data)
{
    ((stream_log *)data)->ended = true;
}

static void unused_reply(const mcpauth_mcp_reply *answer, void *data)
{
    (void)data;
    ck_abort_msg("listen answered with a reply (%d)", answer->status);
}

static mcpauth_mcp_server *listen_server(uv_loop_t *loop)
{
    mcpauth_mcp_config config;
    mcpauth_mcp_config_init(&config);
    config.loop = loop;
    config.keepalive_ms = 10;
    mcpauth_mcp_server *s = mcpauth_mcp_server_new(&config);
    ck_assert_ptr_nonnull(s);
    return s;
}

static void open_listen(mcpauth_mcp_server *s, mcpauth_mcp_sink *sink, stream_log *log)
{
    *sink = (mcpauth_mcp_sink){.reply = unused_reply,
                               .stream_start = stream_start,
                               .stream_write = stream_write,
                               .stream_end = stream_end,
                               .data = log};
    mcpauth_mcp_request req = request_for(
        &(call){.method = "subscriptions/listen"},
        request("\"sub-1\"", "subscriptions/listen",
                "\"notifications\":{\"toolsListChanged\":true,\"promptsListChanged\":true}"));
    mcpauth_mcp_request_modern(&req);
    mcpauth_mcp_handle_modern_post(s, &req, sink);
    mcpauth_mcp_request_release(&req);
}

static void run_for(uv_loop_t *loop, uint64_t ms)
{
    uint64_t end = uv_now(loop) + ms;
    while (uv_now(loop) < end) {
        uv_run(loop, UV_RUN_NOWAIT);
        uv_sleep(2);
        uv_update_time(loop);
    }
}

START_TEST(listen_acknowledges_keeps_alive_and_closes)
{
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    mcpauth_mcp_server *s = listen_server(&loop);
    stream_log log = {0};
    mcpauth_mcp_sink sink;
    open_listen(s, &sink, &log);
    ck_assert(log.started);
    ck_assert_msg(strstr(log.data, "\"method\":\"notifications/subscriptions/acknowledged\"") &&
                      strstr(log.data, "\"io.modelcontextprotocol/subscriptionId\":\"sub-1\"") &&
                      strstr(log.data, "\"notifications\":{\"toolsListChanged\":true}"),
                  "%s", log.data);
    ck_assert_ptr_null(strstr(log.data, "promptsListChanged"));
    run_for(&loop, 60);
    ck_assert_msg(strstr(log.data, ": keepalive\n\n"), "%s", log.data);
    ck_assert(!log.ended);
    /* The server stops: the listen result, then the end. */
    mcpauth_mcp_close_streams(s);
    ck_assert(log.ended);
    ck_assert_msg(strstr(log.data, "\"id\":\"sub-1\",\"result\":{\"resultType\":\"complete\""),
                  "%s", log.data);
    run_for(&loop, 5);
    mcpauth_mcp_server_free(s);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(listen_ends_when_the_client_goes)
{
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    mcpauth_mcp_server *s = listen_server(&loop);
    stream_log log = {0};
    mcpauth_mcp_sink sink;
    open_listen(s, &sink, &log);
    ck_assert_ptr_nonnull(sink.on_abort);
    sink.on_abort(&sink);
    size_t length = log.length;
    run_for(&loop, 40);
    ck_assert_uint_eq(log.length, length); /* nothing written after */
    mcpauth_mcp_close_streams(s);          /* nothing left to close */
    ck_assert(!log.ended);
    /* A stream whose writes fail ends on our side. */
    stream_log failing = {0};
    mcpauth_mcp_sink sink2;
    open_listen(s, &sink2, &failing);
    ck_assert(failing.started);
    failing.fail_writes = 1;
    run_for(&loop, 40);
    ck_assert(failing.ended);
    run_for(&loop, 5);
    mcpauth_mcp_server_free(s);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static Suite *mcp_modern_suite(void)
{
    Suite *s = suite_create("mcp_modern");
    TCase *tc = tcase_create("modern");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, era_is_told_apart);
    tcase_add_test(tc, discover_lists_every_version);
    tcase_add_test(tc, tools_list_in_order_with_cache_hints);
    tcase_add_test(tc, tools_list_filtered_is_private);
    tcase_add_test(tc, hello_world_greets);
    tcase_add_test(tc, whoami_and_unknown_tool);
    tcase_add_test(tc, session_id_is_ignored);
    tcase_add_test(tc, mcp_name_base64_sentinel);
    tcase_add_test(tc, headers_must_match_the_body);
    tcase_add_test(tc, unsupported_version_lists_every_version);
    tcase_add_test(tc, meta_is_required);
    tcase_add_loop_test(tc, meta_checked_alike_from_text_and_objects, 0,
                        (int)(sizeof meta_cases / sizeof meta_cases[0]));
    tcase_add_test(tc, unknown_and_removed_methods);
    tcase_add_test(tc, notifications_are_accepted);
    tcase_add_test(tc, tool_scopes_from_mcp_name);
    tcase_add_test(tc, listen_acknowledges_keeps_alive_and_closes);
    tcase_add_test(tc, listen_ends_when_the_client_goes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(mcp_modern_suite());
}
