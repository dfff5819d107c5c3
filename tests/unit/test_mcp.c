/* The MCP engine through its public API: lifecycle, tools, the transport's
 * error answers, sessions bound to identities, batches by protocol version
 * and stateless mode. */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/mcp/mcp_internal.h"
#include "mcpauth/mcp.h"
#include "testlib.h"

#define ACCEPT_BOTH "application/json, text/event-stream"
#define T0          1700000000

/* --- fixtures ----------------------------------------------------------- */

static char *alice_scopes[] = {"mcp", "profile"};
static char *alice_audiences[] = {"https://rs.example/mcp"};

static mcpauth_token_info alice = {
    .active = true,
    .subject = "sub-alice",
    .client_id = "client-1",
    .username = "alice",
    .issuer = "https://as.example",
    .scopes = alice_scopes,
    .scope_count = 2,
    .audiences = alice_audiences,
    .audience_count = 1,
    .expires_at = T0 + 3600,
};

/* Same subject as alice, other client. */
static mcpauth_token_info alice_other_client = {
    .active = true,
    .subject = "sub-alice",
    .client_id = "client-2",
    .username = "alice",
};

static mcpauth_token_info bob = {
    .active = true,
    .subject = "sub-bob",
    .client_id = "client-1",
    .username = "bob",
};

static mcpauth_token_info subject_only = {
    .active = true,
    .subject = "sub-123",
    .client_id = "client-1",
};

/* What the callback saw. */
typedef struct captured {
    int calls;
    int status;
    char *content_type;
    char *body;
    char *session_id;
    int retry_after;
    json_object *json; /* body parsed */
} captured;

static void capture(const mcpauth_mcp_reply *reply, void *data)
{
    captured *c = data;
    c->calls++;
    c->status = reply->status;
    c->retry_after = reply->retry_after;
    c->content_type = reply->content_type ? strdup(reply->content_type) : NULL;
    c->session_id = reply->session_id ? strdup(reply->session_id) : NULL;
    if (reply->body) {
        ck_assert_uint_eq(strlen(reply->body), reply->body_length);
        c->body = strndup(reply->body, reply->body_length);
        c->json = json_tokener_parse(c->body);
        ck_assert_msg(c->json != NULL, "reply body is not JSON: %s", c->body);
    } else {
        ck_assert_uint_eq(reply->body_length, 0);
    }
}

static void captured_clear(captured *c)
{
    free(c->content_type);
    free(c->body);
    free(c->session_id);
    json_object_put(c->json);
    memset(c, 0, sizeof *c);
}

/* One request's headers and caller; defaults fit a well-behaved client. */
typedef struct call {
    const char *session_id;
    const char *version;
    const char *accept;
    const char *content_type;
    const mcpauth_token_info *token;
    int64_t now;
} call;

static mcpauth_mcp_server *server;
static captured reply;

/* per_identity: config.max_sessions_per_identity. */
static mcpauth_mcp_server *make_server_limited(bool stateless, size_t max_sessions, int64_t idle,
                                               size_t per_identity)
{
    mcpauth_mcp_config config;
    mcpauth_mcp_config_init(&config);
    config.max_sessions_per_identity = per_identity;
    config.server_version = "1.2.3";
    config.instructions = "Call whoami to see your token's claims.";
    config.stateless = stateless;
    config.max_sessions = max_sessions;
    config.session_idle_seconds = idle;
    mcpauth_mcp_server *s = mcpauth_mcp_server_new(&config);
    ck_assert_ptr_nonnull(s);
    return s;
}

static mcpauth_mcp_server *make_server(bool stateless, size_t max_sessions, int64_t idle)
{
    mcpauth_mcp_config config;
    mcpauth_mcp_config_init(&config);
    return make_server_limited(stateless, max_sessions, idle, config.max_sessions_per_identity);
}

static void setup(void)
{
    server = make_server(false, 10000, 3600);
}

static void teardown(void)
{
    captured_clear(&reply);
    mcpauth_mcp_server_free(server);
    server = NULL;
}

static mcpauth_mcp_request request_for(const call *c, const char *body)
{
    mcpauth_mcp_request req = {
        .session_id = c->session_id,
        .protocol_version = c->version,
        .accept = c->accept ? c->accept : ACCEPT_BOTH,
        .content_type = c->content_type ? c->content_type : "application/json",
        .body = body,
        .body_length = body ? strlen(body) : 0,
        .identity = {.token = c->token, .validated_by = "introspection", .cache_hit = false},
        .now = c->now ? c->now : T0,
    };
    return req;
}

/* POSTs body and leaves the answer in reply (cleared first). */
static void post_as(const call *c, const char *body)
{
    captured_clear(&reply);
    mcpauth_mcp_request req = request_for(c, body);
    mcpauth_mcp_handle_post(server, &req, &(mcpauth_mcp_sink){.reply = capture, .data = &reply});
    ck_assert_int_eq(reply.calls, 1);
}

static void delete_as(const call *c)
{
    captured_clear(&reply);
    mcpauth_mcp_request req = request_for(c, NULL);
    mcpauth_mcp_handle_delete(server, &req, &(mcpauth_mcp_sink){.reply = capture, .data = &reply});
    ck_assert_int_eq(reply.calls, 1);
}

static json_object *member(json_object *obj, const char *path)
{
    char buffer[256];
    snprintf(buffer, sizeof buffer, "%s", path);
    json_object *cur = obj;
    for (char *save = NULL, *key = strtok_r(buffer, ".", &save); key;
         key = strtok_r(NULL, ".", &save)) {
        json_object *next = NULL;
        if (json_object_is_type(cur, json_type_array))
            next = json_object_array_get_idx(cur, (size_t)atoi(key));
        else if (!json_object_object_get_ex(cur, key, &next))
            return NULL;
        cur = next;
    }
    return cur;
}

static const char *string_at(json_object *obj, const char *path)
{
    json_object *value = member(obj, path);
    ck_assert_msg(json_object_is_type(value, json_type_string), "%s is not a string", path);
    return json_object_get_string(value);
}

static bool has(json_object *obj, const char *path)
{
    char buffer[256];
    snprintf(buffer, sizeof buffer, "%s", path);
    char *dot = strrchr(buffer, '.');
    json_object *parent = obj;
    const char *key = buffer;
    if (dot) {
        *dot = '\0';
        parent = member(obj, buffer);
        key = dot + 1;
    }
    return parent && json_object_object_get_ex(parent, key, NULL);
}

/* The reply is a JSON-RPC error with this HTTP status, code and id null. */
static void assert_transport_error(int status, int code)
{
    ck_assert_int_eq(reply.status, status);
    ck_assert_str_eq(reply.content_type, "application/json");
    ck_assert_ptr_nonnull(reply.json);
    ck_assert_str_eq(string_at(reply.json, "jsonrpc"), "2.0");
    ck_assert(has(reply.json, "id"));
    ck_assert(json_object_is_type(member(reply.json, "id"), json_type_null));
    ck_assert_int_eq(json_object_get_int(member(reply.json, "error.code")), code);
    ck_assert(json_object_is_type(member(reply.json, "error.message"), json_type_string));
    ck_assert(!has(reply.json, "result"));
}

/* The reply is HTTP 200 carrying a JSON-RPC error for request id 1. */
static void assert_rpc_error(int code)
{
    ck_assert_int_eq(reply.status, 200);
    ck_assert_ptr_nonnull(reply.json);
    ck_assert_int_eq(json_object_get_int(member(reply.json, "id")), 1);
    ck_assert_int_eq(json_object_get_int(member(reply.json, "error.code")), code);
    ck_assert(!has(reply.json, "result"));
}

/* The reply is HTTP 200 with a result for request id 1; returns it. */
static json_object *assert_result(void)
{
    ck_assert_msg(reply.status == 200, "status %d body %s", reply.status,
                  reply.body ? reply.body : "(none)");
    ck_assert_str_eq(reply.content_type, "application/json");
    ck_assert_str_eq(string_at(reply.json, "jsonrpc"), "2.0");
    ck_assert_int_eq(json_object_get_int(member(reply.json, "id")), 1);
    ck_assert(!has(reply.json, "error"));
    json_object *result = member(reply.json, "result");
    ck_assert(json_object_is_type(result, json_type_object));
    return result;
}

static void assert_accepted(void)
{
    ck_assert_int_eq(reply.status, 202);
    ck_assert_ptr_null(reply.body);
    ck_assert_ptr_null(reply.content_type);
}

static char *request_body(const char *method, const char *params)
{
    char *body = NULL;
    ck_assert_int_ge(asprintf(&body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"%s%s}", method,
                              params ? ",\"params\":" : "", params ? params : ""),
                     0);
    return body;
}

static void post_request(const call *c, const char *method, const char *params)
{
    char *body = request_body(method, params);
    post_as(c, body);
    free(body);
}

static char *initialize_body(const char *version)
{
    char *body = NULL;
    ck_assert_int_ge(asprintf(&body,
                              "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                              "\"protocolVersion\":\"%s\",\"capabilities\":{},"
                              "\"clientInfo\":{\"name\":\"test\",\"version\":\"0\"}}}",
                              version),
                     0);
    return body;
}

/* Initializes as token with version and returns the new session id. */
static char *open_session(const mcpauth_token_info *token, const char *version)
{
    char *body = initialize_body(version);
    call c = {.token = token};
    post_as(&c, body);
    free(body);
    assert_result();
    ck_assert_ptr_nonnull(reply.session_id);
    return strdup(reply.session_id);
}

static bool lowercase_hex(const char *s, size_t length)
{
    if (strlen(s) != length)
        return false;
    for (size_t i = 0; i < length; i++) {
        if (!strchr("0123456789abcdef", s[i]))
            return false;
    }
    return true;
}

/* --- lifecycle ---------------------------------------------------------- */

START_TEST(initialize_result_shape)
{
    char *body = initialize_body("2025-11-25");
    call c = {.token = &alice};
    post_as(&c, body);
    free(body);
    json_object *result = assert_result();
    ck_assert_str_eq(string_at(result, "protocolVersion"), "2025-11-25");
    ck_assert(
        json_object_is_type(member(result, "capabilities.tools.listChanged"), json_type_boolean));
    ck_assert(!json_object_get_boolean(member(result, "capabilities.tools.listChanged")));
    ck_assert(json_object_is_type(member(result, "capabilities.logging"), json_type_object));
    ck_assert_int_eq(json_object_object_length(member(result, "capabilities")), 2);
    ck_assert_str_eq(string_at(result, "serverInfo.name"), "mcpauth");
    ck_assert_str_eq(string_at(result, "serverInfo.version"), "1.2.3");
    ck_assert_str_eq(string_at(result, "instructions"), "Call whoami to see your token's claims.");
    ck_assert_ptr_nonnull(reply.session_id);
    ck_assert(lowercase_hex(reply.session_id, MCPAUTH_MCP_SESSION_ID_LENGTH));
    /* Compact JSON: no spaces between tokens. */
    ck_assert_ptr_null(strstr(reply.body, "\": "));
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0), 1);
}
END_TEST

START_TEST(initialize_without_instructions)
{
    mcpauth_mcp_server_free(server);
    mcpauth_mcp_config config;
    mcpauth_mcp_config_init(&config);
    ck_assert_str_eq(config.server_name, "mcpauth");
    ck_assert(!config.stateless);
    ck_assert_uint_eq(config.max_sessions, 10000);
    ck_assert_int_eq(config.session_idle_seconds, 3600);
    ck_assert_ptr_null(config.instructions);
    server = mcpauth_mcp_server_new(&config);
    ck_assert_ptr_nonnull(server);
    char *id = open_session(&alice, "2025-11-25");
    ck_assert(!has(member(reply.json, "result"), "instructions"));
    ck_assert_str_eq(string_at(reply.json, "result.serverInfo.version"), config.server_version);
    free(id);
}
END_TEST

START_TEST(full_flow)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .version = "2025-11-25", .token = &alice};

    post_as(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    assert_accepted();

    post_request(&c, "tools/list", NULL);
    json_object *tools = member(assert_result(), "tools");
    ck_assert(json_object_is_type(tools, json_type_array));
    ck_assert_uint_eq(json_object_array_length(tools), 2);
    ck_assert_str_eq(string_at(tools, "0.name"), "hello_world");
    ck_assert_str_eq(string_at(tools, "0.description"), "Say hello to the authenticated user");
    ck_assert_str_eq(string_at(tools, "1.name"), "whoami");
    for (size_t i = 0; i < 2; i++) {
        json_object *tool = json_object_array_get_idx(tools, i);
        ck_assert(strlen(string_at(tool, "description")) > 0);
        ck_assert_str_eq(string_at(tool, "inputSchema.type"), "object");
        ck_assert(json_object_is_type(member(tool, "inputSchema.properties"), json_type_object));
    }

    post_request(&c, "tools/call", "{\"name\":\"hello_world\",\"arguments\":{}}");
    json_object *result = assert_result();
    ck_assert_str_eq(string_at(result, "content.0.type"), "text");
    ck_assert_str_eq(string_at(result, "content.0.text"), "Hello, alice!");
    ck_assert_uint_eq(json_object_array_length(member(result, "content")), 1);
    ck_assert(!has(result, "isError"));

    post_request(&c, "ping", NULL);
    ck_assert_int_eq(json_object_object_length(assert_result()), 0);

    post_request(&c, "logging/setLevel", "{\"level\":\"info\"}");
    ck_assert_int_eq(json_object_object_length(assert_result()), 0);

    delete_as(&c);
    ck_assert_int_eq(reply.status, 200);
    ck_assert_ptr_null(reply.body);
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0), 0);

    post_request(&c, "tools/list", NULL);
    assert_transport_error(404, -32001);
    delete_as(&c);
    assert_transport_error(404, -32001);
    free(id);
}
END_TEST

/* Issue 5: with a per-tool policy, tools/list shows the caller only the
 * tools its token may call. */
START_TEST(tools_list_follows_the_policy)
{
    mcpauth_mcp_tool_policy *policy = mcpauth_mcp_tool_policy_new();
    mcpauth_error err;
    ck_assert_ptr_nonnull(policy);
    ck_assert_int_eq(mcpauth_mcp_tool_policy_add_text(policy, "whoami=profile", &err), MCPAUTH_OK);
    ck_assert_int_eq(mcpauth_mcp_tool_policy_add_text(policy, "hello_*=mcp:hello", &err),
                     MCPAUTH_OK);
    mcpauth_mcp_server_free(server);
    mcpauth_mcp_config config;
    mcpauth_mcp_config_init(&config);
    config.stateless = true;
    config.tool_policy = policy;
    server = mcpauth_mcp_server_new(&config);
    ck_assert_ptr_nonnull(server);

    call c = {.version = "2025-11-25", .token = &alice}; /* mcp profile */
    post_request(&c, "tools/list", NULL);
    json_object *tools = member(assert_result(), "tools");
    ck_assert_uint_eq(json_object_array_length(tools), 1);
    ck_assert_str_eq(string_at(tools, "0.name"), "whoami");

    c.token = &bob;
    post_request(&c, "tools/list", NULL);
    ck_assert_uint_eq(json_object_array_length(member(assert_result(), "tools")), 0);

    c.token = NULL; /* no token holds no scope */
    post_request(&c, "tools/list", NULL);
    ck_assert_uint_eq(json_object_array_length(member(assert_result(), "tools")), 0);
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

/* The tool policy for either transport: tools/call decided once per POST
 * (mcpauth_mcp_check_tools), and the body it parsed is the one the engine
 * then runs. */
START_TEST(tools_call_checked_once_and_parsed_once)
{
    mcpauth_mcp_tool_policy *policy = mcpauth_mcp_tool_policy_new();
    mcpauth_error err;
    ck_assert_ptr_nonnull(policy);
    ck_assert_int_eq(mcpauth_mcp_tool_policy_add_text(policy, "hello_*=mcp:hello", &err),
                     MCPAUTH_OK);
    mcpauth_mcp_server_free(server);
    mcpauth_mcp_config config;
    mcpauth_mcp_config_init(&config);
    config.stateless = true;
    config.tool_policy = policy;
    server = mcpauth_mcp_server_new(&config);
    ck_assert_ptr_nonnull(server);

    static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                               "\"params\":{\"name\":\"hello_world\"}}";
    static const char *const base[] = {"mcp"};
    call c = {.version = "2025-11-25", .token = &alice};
    mcpauth_mcp_request req = request_for(&c, body);
    mcpauth_mcp_tool_policy_verdict verdict;
    ck_assert_int_eq(mcpauth_mcp_check_tools(server, &req, base, 1, &verdict), MCPAUTH_OK);
    ck_assert(!verdict.allowed);
    ck_assert_str_eq(verdict.scope, "mcp mcp:hello");
    ck_assert(req.body_parsed);
    ck_assert_ptr_nonnull(req.parsed);
    mcpauth_mcp_tool_policy_verdict_free(&verdict);

    /* whoami needs nothing more: allowed, and the engine runs the parsed
     * body, not the bytes (which no longer say the same). */
    json_object_object_add(json_object_object_get(req.parsed, "params"), "name",
                           json_object_new_string("whoami"));
    ck_assert_int_eq(mcpauth_mcp_check_tools(server, &req, base, 1, &verdict), MCPAUTH_OK);
    ck_assert(verdict.allowed);
    captured_clear(&reply);
    mcpauth_mcp_handle_post(server, &req, &(mcpauth_mcp_sink){.reply = capture, .data = &reply});
    ck_assert_int_eq(reply.calls, 1);
    ck_assert_int_eq(reply.status, 200);
    ck_assert_ptr_nonnull(strstr(reply.body, "structuredContent"));
    mcpauth_mcp_request_release(&req);
    ck_assert_ptr_null(req.parsed);
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

/* Without a stdio backend nothing speaks first: no standalone stream. */
START_TEST(get_without_backend)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .token = &alice, .accept = "text/event-stream"};
    captured_clear(&reply);
    mcpauth_mcp_request req = request_for(&c, NULL);
    mcpauth_mcp_handle_get(server, &req, &(mcpauth_mcp_sink){.reply = capture, .data = &reply});
    ck_assert_int_eq(reply.calls, 1);
    ck_assert_int_eq(reply.status, 405);
    ck_assert_ptr_null(reply.body);
    free(id);
}
END_TEST

START_TEST(whoami_reports_identity_without_token)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .token = &alice};
    post_request(&c, "tools/call", "{\"name\":\"whoami\"}");
    json_object *result = assert_result();
    json_object *who = member(result, "structuredContent");
    ck_assert(json_object_is_type(who, json_type_object));
    ck_assert_str_eq(string_at(who, "subject"), "sub-alice");
    ck_assert_str_eq(string_at(who, "client_id"), "client-1");
    ck_assert_str_eq(string_at(who, "username"), "alice");
    ck_assert_str_eq(string_at(who, "issuer"), "https://as.example");
    ck_assert_uint_eq(json_object_array_length(member(who, "scopes")), 2);
    ck_assert_str_eq(string_at(who, "scopes.0"), "mcp");
    ck_assert_str_eq(string_at(who, "scopes.1"), "profile");
    ck_assert_uint_eq(json_object_array_length(member(who, "audiences")), 1);
    ck_assert_str_eq(string_at(who, "audiences.0"), "https://rs.example/mcp");
    ck_assert_int_eq(json_object_get_int64(member(who, "expires_at")), T0 + 3600);
    ck_assert_str_eq(string_at(who, "validated_by"), "introspection");
    ck_assert_str_eq(string_at(who, "cache"), "miss");
    ck_assert_int_eq(json_object_object_length(who), 9);
    json_object_object_foreach(who, key, value)
    {
        (void)value;
        ck_assert_msg(!strstr(key, "token"), "whoami has a member %s", key);
    }
    /* The text is the same object, pretty-printed. */
    const char *text = string_at(result, "content.0.text");
    ck_assert_ptr_nonnull(strchr(text, '\n'));
    json_object *parsed = json_tokener_parse(text);
    ck_assert_ptr_nonnull(parsed);
    ck_assert(json_object_equal(parsed, who));
    json_object_put(parsed);
    /* No slash escaping in the compact body. */
    ck_assert_ptr_nonnull(strstr(reply.body, "https://rs.example/mcp"));
    free(id);
}
END_TEST

START_TEST(whoami_anonymous_and_cache_hit)
{
    char *id = open_session(NULL, "2025-11-25");
    captured_clear(&reply);
    char *body = request_body("tools/call", "{\"name\":\"whoami\"}");
    call c = {.session_id = id};
    mcpauth_mcp_request req = request_for(&c, body);
    req.identity.validated_by = "none";
    req.identity.cache_hit = true;
    mcpauth_mcp_handle_post(server, &req, &(mcpauth_mcp_sink){.reply = capture, .data = &reply});
    free(body);
    json_object *who = member(assert_result(), "structuredContent");
    ck_assert(json_object_is_type(member(who, "subject"), json_type_null));
    ck_assert(has(who, "subject"));
    ck_assert(json_object_is_type(member(who, "client_id"), json_type_null));
    ck_assert(json_object_is_type(member(who, "expires_at"), json_type_null));
    ck_assert_uint_eq(json_object_array_length(member(who, "scopes")), 0);
    ck_assert_uint_eq(json_object_array_length(member(who, "audiences")), 0);
    ck_assert_str_eq(string_at(who, "validated_by"), "none");
    ck_assert_str_eq(string_at(who, "cache"), "hit");
    free(id);
}
END_TEST

START_TEST(hello_for_each_kind_of_identity)
{
    struct {
        const mcpauth_token_info *token;
        const char *expected;
    } cases[] = {
        {&alice, "Hello, alice!"},
        {&subject_only, "Hello, user with ID sub-123!"},
        {NULL, "Hello, anonymous user!"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = mcpauth_mcp_hello_text(cases[i].token);
        ck_assert_str_eq(text, cases[i].expected);
        free(text);

        char *id = open_session(cases[i].token, "2025-11-25");
        call c = {.session_id = id, .version = "2025-11-25", .token = cases[i].token};
        post_request(&c, "tools/call", "{\"name\":\"hello_world\"}");
        ck_assert_str_eq(string_at(assert_result(), "content.0.text"), cases[i].expected);
        free(id);
    }
    /* An empty username or subject counts as absent. */
    mcpauth_token_info empty = {.subject = "", .username = ""};
    char *text = mcpauth_mcp_hello_text(&empty);
    ck_assert_str_eq(text, "Hello, anonymous user!");
    free(text);
}
END_TEST

START_TEST(version_negotiation)
{
    struct {
        const char *requested;
        const char *expected;
    } cases[] = {
        {"2025-11-25", "2025-11-25"}, {"2025-06-18", "2025-06-18"}, {"2025-03-26", "2025-03-26"},
        {"2024-11-05", "2025-11-25"}, {"2099-01-01", "2025-11-25"}, {"nonsense", "2025-11-25"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *id = open_session(&alice, cases[i].requested);
        ck_assert_str_eq(string_at(reply.json, "result.protocolVersion"), cases[i].expected);
        free(id);
    }
}
END_TEST

START_TEST(initialize_needs_protocol_version)
{
    const char *params[] = {NULL, "{}", "{\"protocolVersion\":20250618}", "[\"2025-11-25\"]"};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        call c = {.token = &alice};
        post_request(&c, "initialize", params[i]);
        assert_rpc_error(-32602);
        ck_assert_ptr_null(reply.session_id);
    }
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0), 0);
}
END_TEST

START_TEST(initialize_twice_in_a_session)
{
    char *id = open_session(&alice, "2025-11-25");
    char *body = initialize_body("2025-11-25");
    call c = {.session_id = id, .token = &alice};
    post_as(&c, body);
    free(body);
    assert_transport_error(400, -32600);
    ck_assert_str_eq(string_at(reply.json, "error.message"),
                     "Invalid Request: Server already initialized");
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0), 1);
    free(id);
}
END_TEST

START_TEST(session_ids_are_random_hex)
{
    mcpauth_mcp_server_free(server);
    server = make_server_limited(false, 10000, 3600, 0);
    char *ids[20];
    for (size_t i = 0; i < 20; i++) {
        ids[i] = open_session(&alice, "2025-11-25");
        ck_assert(lowercase_hex(ids[i], 32));
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(ids[i], ids[j]);
    }
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0), 20);
    for (size_t i = 0; i < 20; i++)
        free(ids[i]);
}
END_TEST

/* --- methods and tools -------------------------------------------------- */

START_TEST(unknown_method)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .token = &alice};
    post_request(&c, "resources/list", NULL);
    assert_rpc_error(-32601);
    free(id);
}
END_TEST

START_TEST(unknown_tool)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .token = &alice};
    post_request(&c, "tools/call", "{\"name\":\"nope\",\"arguments\":{}}");
    assert_rpc_error(-32602);
    ck_assert_str_eq(string_at(reply.json, "error.message"), "Unknown tool: nope");
    free(id);
}
END_TEST

START_TEST(tools_call_bad_params)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .token = &alice};
    const char *params[] = {NULL, "{}", "{\"name\":7}", "[\"hello_world\"]",
                            "{\"name\":\"hello_world\",\"arguments\":[]}"};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        post_request(&c, "tools/call", params[i]);
        assert_rpc_error(-32602);
    }
    free(id);
}
END_TEST

START_TEST(tool_argument_error_is_a_result)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .token = &alice};
    post_request(&c, "tools/call", "{\"name\":\"hello_world\",\"arguments\":{\"x\":1}}");
    json_object *result = assert_result();
    ck_assert(json_object_get_boolean(member(result, "isError")));
    ck_assert_str_eq(string_at(result, "content.0.type"), "text");
    ck_assert_str_eq(string_at(result, "content.0.text"), "hello_world takes no arguments");
    free(id);
}
END_TEST

START_TEST(logging_levels)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .token = &alice};
    const char *good[] = {"debug", "info",     "notice", "warning",
                          "error", "critical", "alert",  "emergency"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char params[64];
        snprintf(params, sizeof params, "{\"level\":\"%s\"}", good[i]);
        post_request(&c, "logging/setLevel", params);
        assert_result();
    }
    const char *bad[] = {NULL, "{}", "{\"level\":\"verbose\"}", "{\"level\":\"INFO\"}",
                         "{\"level\":3}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        post_request(&c, "logging/setLevel", bad[i]);
        assert_rpc_error(-32602);
    }
    free(id);
}
END_TEST

START_TEST(ids_echoed_as_sent)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .token = &alice};
    post_as(&c, "{\"jsonrpc\":\"2.0\",\"id\":\"req-\\/7\",\"method\":\"ping\"}");
    ck_assert_int_eq(reply.status, 200);
    ck_assert_str_eq(string_at(reply.json, "id"), "req-/7");
    post_as(&c, "{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"method\":\"ping\"}");
    ck_assert_int_eq(reply.status, 200);
    ck_assert_ptr_nonnull(strstr(reply.body, "\"id\":9007199254740993"));
    post_as(&c, "{\"jsonrpc\":\"2.0\",\"id\":-4,\"method\":\"nope\"}");
    ck_assert_int_eq(json_object_get_int(member(reply.json, "id")), -4);
    ck_assert_int_eq(json_object_get_int(member(reply.json, "error.code")), -32601);
    /* A 256-byte id is fine, 257 is not. */
    char body[600];
    snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":\"%0256d\",\"method\":\"ping\"}", 0);
    post_as(&c, body);
    ck_assert_int_eq(reply.status, 200);
    ck_assert_uint_eq(strlen(string_at(reply.json, "id")), 256);
    snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":\"%0257d\",\"method\":\"ping\"}", 0);
    post_as(&c, body);
    assert_transport_error(400, -32600);

    /* Integers come back as sent from -(2^63-1) to 2^64-2; beyond, json-c
     * holds a bound (-2^63, 2^64-1) instead of the number, so the bounds and
     * everything past them are refused. */
    static const char *const echoed[] = {"9223372036854775807", "9223372036854775808",
                                         "18446744073709551614", "-9223372036854775807"};
    for (size_t i = 0; i < sizeof echoed / sizeof echoed[0]; i++) {
        char expected[64];
        snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"ping\"}",
                 echoed[i]);
        post_as(&c, body);
        ck_assert_int_eq(reply.status, 200);
        snprintf(expected, sizeof expected, "\"id\":%s,", echoed[i]);
        ck_assert_msg(strstr(reply.body, expected), "%s not echoed: %s", echoed[i], reply.body);
    }
    static const char *const too_big[] = {"18446744073709551615", "18446744073709551616",
                                          "-9223372036854775808", "-99999999999999999999"};
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
        snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"ping\"}",
                 too_big[i]);
        post_as(&c, body);
        ck_assert_msg(reply.status == 400, "id %s: %d %s", too_big[i], reply.status, reply.body);
        assert_transport_error(400, -32600);
    }
    char digits[401];
    memset(digits, '7', 400);
    digits[400] = '\0';
    snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"ping\"}", digits);
    post_as(&c, body);
    ck_assert_msg(reply.status == 400, "a 400-digit id: %d %s", reply.status, reply.body);
    assert_transport_error(400, -32600);
    free(id);
}
END_TEST

/* A method name is a C string inside: U+0000 in it would cut "ping\u0000x"
 * to "ping". It is refused, in requests and notifications. */
START_TEST(method_with_nul_refused)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .token = &alice};
    post_as(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\\u0000x\"}");
    ck_assert_msg(reply.status == 400, "%d %s", reply.status, reply.body);
    assert_transport_error(400, -32600);
    post_as(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\\u0000\"}");
    assert_transport_error(400, -32600);
    post_as(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\\u0000\"}");
    assert_transport_error(400, -32600);
    post_as(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_result();
    free(id);
}
END_TEST

START_TEST(notifications_and_responses_accepted)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .token = &alice};
    const char *bodies[] = {
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1}}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"no/such/notification\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":\"s-1\",\"error\":{\"code\":-1,\"message\":\"no\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"x\"}}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        post_as(&c, bodies[i]);
        assert_accepted();
    }
    /* Notifications need a session like requests do. */
    call no_session = {.token = &alice};
    post_as(&no_session, bodies[0]);
    assert_transport_error(400, -32000);
    free(id);
}
END_TEST

/* --- transport errors --------------------------------------------------- */

START_TEST(accept_header)
{
    char *id = open_session(&alice, "2025-11-25");
    const char *refused[] = {"",
                             "application/json",
                             "text/event-stream",
                             "text/html, application/xml",
                             "application/json, text/event-stream;q=0",
                             "application/json;q=0.0, text/event-stream",
                             "application/jsonx, text/event-streams"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        call c = {.session_id = id, .token = &alice, .accept = refused[i]};
        post_request(&c, "ping", NULL);
        assert_transport_error(406, -32000);
    }
    /* A missing Accept header. */
    captured_clear(&reply);
    char *body = request_body("ping", NULL);
    call c = {.session_id = id, .token = &alice};
    mcpauth_mcp_request req = request_for(&c, body);
    req.accept = NULL;
    mcpauth_mcp_handle_post(server, &req, &(mcpauth_mcp_sink){.reply = capture, .data = &reply});
    free(body);
    assert_transport_error(406, -32000);

    const char *accepted[] = {"application/json, text/event-stream",
                              "text/event-stream,application/json",
                              "*/*",
                              "Application/JSON ; charset=utf-8 , TEXT/Event-Stream;q=0.5",
                              "application/*, text/*",
                              "text/html;q=0.9, */*;q=0.1"};
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        call ok = {.session_id = id, .token = &alice, .accept = accepted[i]};
        post_request(&ok, "ping", NULL);
        ck_assert_msg(reply.status == 200, "Accept %s: %d", accepted[i], reply.status);
    }
    free(id);
}
END_TEST

START_TEST(content_type_header)
{
    char *id = open_session(&alice, "2025-11-25");
    const char *refused[] = {"", "text/plain", "application/json-seq", "application/jsonx",
                             "multipart/form-data"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        call c = {.session_id = id, .token = &alice, .content_type = refused[i]};
        post_request(&c, "ping", NULL);
        assert_transport_error(415, -32000);
    }
    captured_clear(&reply);
    char *body = request_body("ping", NULL);
    call c = {.session_id = id, .token = &alice};
    mcpauth_mcp_request req = request_for(&c, body);
    req.content_type = NULL;
    mcpauth_mcp_handle_post(server, &req, &(mcpauth_mcp_sink){.reply = capture, .data = &reply});
    free(body);
    assert_transport_error(415, -32000);

    const char *accepted[] = {"application/json; charset=utf-8", "Application/Json",
                              " application/json ;charset=UTF-8"};
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        call ok = {.session_id = id, .token = &alice, .content_type = accepted[i]};
        post_request(&ok, "ping", NULL);
        ck_assert_msg(reply.status == 200, "Content-Type %s: %d", accepted[i], reply.status);
    }
    /* Accept is checked before Content-Type. */
    call both = {
        .session_id = id, .token = &alice, .accept = "text/html", .content_type = "text/plain"};
    post_request(&both, "ping", NULL);
    ck_assert_int_eq(reply.status, 406);
    free(id);
}
END_TEST

START_TEST(parse_errors)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .token = &alice};
    const char *bodies[] = {"", "{", "{\"jsonrpc\":\"2.0\",}", "not json", "{} {}", "[1,"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        post_as(&c, bodies[i]);
        assert_transport_error(400, -32700);
    }
    captured_clear(&reply);
    mcpauth_mcp_request req = request_for(&c, NULL);
    mcpauth_mcp_handle_post(server, &req, &(mcpauth_mcp_sink){.reply = capture, .data = &reply});
    assert_transport_error(400, -32700);
    free(id);
}
END_TEST

START_TEST(invalid_requests)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .token = &alice};
    /* Bare scalars are spelt with a trailing space: mcpauth_json_parse()
     * does not yet finish a number or literal at the end of input. */
    const char *bodies[] = {
        "42 ",
        "true ",
        "\"ping\"",
        "{}",
        "{\"id\":1,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
        "{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":\"x\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":null}",
        "{\"jsonrpc\":\"2.0\",\"id\":1}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"bad\"}",
        "{\"jsonrpc\":\"2.0\",\"result\":{}}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        post_as(&c, bodies[i]);
        ck_assert_msg(reply.status == 400, "%s: %d", bodies[i], reply.status);
        assert_transport_error(400, -32600);
    }
    free(id);
}
END_TEST

START_TEST(unsupported_protocol_version_header)
{
    char *id = open_session(&alice, "2025-11-25");
    const char *versions[] = {"2024-11-05", "2099-01-01", "", "garbage\x01"};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        call c = {.session_id = id, .version = versions[i], .token = &alice};
        post_request(&c, "ping", NULL);
        assert_transport_error(400, -32000);
        const char *message = string_at(reply.json, "error.message");
        ck_assert_ptr_nonnull(strstr(message, "2025-11-25, 2025-06-18, 2025-03-26"));
        ck_assert_ptr_null(strchr(message, '\x01'));
        ck_assert_uint_eq(json_object_array_length(member(reply.json, "error.data.supported")), 3);
        ck_assert_str_eq(string_at(reply.json, "error.data.supported.0"), "2025-11-25");
    }
    call c = {.session_id = id, .version = "2024-11-05", .token = &alice};
    post_request(&c, "ping", NULL);
    ck_assert_str_eq(string_at(reply.json, "error.message"),
                     "Bad Request: Unsupported protocol version: 2024-11-05 (supported versions: "
                     "2025-11-25, 2025-06-18, 2025-03-26)");
    /* Supported versions in the header are fine whatever was negotiated. */
    const char *supported[] = {"2025-11-25", "2025-06-18", "2025-03-26"};
    for (size_t i = 0; i < 3; i++) {
        call ok = {.session_id = id, .version = supported[i], .token = &alice};
        post_request(&ok, "ping", NULL);
        assert_result();
    }
    /* Unsupported header on DELETE too; the session survives. */
    delete_as(&c);
    assert_transport_error(400, -32000);
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0), 1);
    free(id);
}
END_TEST

/* --- batches ------------------------------------------------------------ */

#define PING_BATCH                                                                                 \
    "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"                                         \
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"                              \
    "{\"jsonrpc\":\"2.0\",\"id\":\"two\",\"method\":\"tools/list\"}]"

START_TEST(batch_refused_after_2025_03_26)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .version = "2025-06-18", .token = &alice};
    post_as(&c, PING_BATCH);
    assert_transport_error(400, -32600);
    c.version = "2025-11-25";
    post_as(&c, PING_BATCH);
    assert_transport_error(400, -32600);
    /* Without the header the negotiated version decides. */
    c.version = NULL;
    post_as(&c, PING_BATCH);
    assert_transport_error(400, -32600);
    free(id);
}
END_TEST

START_TEST(batch_allowed_with_2025_03_26)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .version = "2025-03-26", .token = &alice};
    post_as(&c, PING_BATCH);
    ck_assert_int_eq(reply.status, 200);
    ck_assert(json_object_is_type(reply.json, json_type_array));
    ck_assert_uint_eq(json_object_array_length(reply.json), 2);
    ck_assert_int_eq(json_object_get_int(member(reply.json, "0.id")), 1);
    ck_assert(json_object_is_type(member(reply.json, "0.result"), json_type_object));
    ck_assert_str_eq(string_at(reply.json, "1.id"), "two");
    ck_assert_uint_eq(json_object_array_length(member(reply.json, "1.result.tools")), 2);

    /* Only notifications and responses: 202. */
    post_as(&c, "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
                "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}]");
    assert_accepted();
    free(id);

    /* A session negotiated at 2025-03-26 batches without the header. */
    id = open_session(&alice, "2025-03-26");
    call negotiated = {.session_id = id, .token = &alice};
    post_as(&negotiated, PING_BATCH);
    ck_assert_int_eq(reply.status, 200);
    ck_assert_uint_eq(json_object_array_length(reply.json), 2);
    free(id);
}
END_TEST

START_TEST(batch_limits)
{
    char *id = open_session(&alice, "2025-03-26");
    call c = {.session_id = id, .version = "2025-03-26", .token = &alice};
    post_as(&c, "[]");
    assert_transport_error(400, -32600);

    /* One invalid element spoils the batch. */
    post_as(&c, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},{\"id\":2}]");
    assert_transport_error(400, -32600);
    post_as(&c, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},7]");
    assert_transport_error(400, -32600);

    /* initialize never travels in a batch (2025-03-26 lifecycle). */
    char *init = initialize_body("2025-03-26");
    char *batch = NULL;
    ck_assert_int_ge(asprintf(&batch, "[%s]", init), 0);
    post_as(&c, batch);
    assert_transport_error(400, -32600);
    free(batch);
    free(init);

    /* 64 elements are fine, 65 are not. */
    const char *element = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
    size_t size = 66 * (strlen(element) + 1) + 3;
    char *big = malloc(size);
    ck_assert_ptr_nonnull(big);
    for (size_t n = 64; n <= 65; n++) {
        strcpy(big, "[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                strcat(big, ",");
            strcat(big, element);
        }
        strcat(big, "]");
        post_as(&c, big);
        if (n == 64) {
            ck_assert_int_eq(reply.status, 200);
            ck_assert_uint_eq(json_object_array_length(reply.json), 64);
        } else {
            assert_transport_error(400, -32600);
        }
    }
    free(big);
    free(id);
}
END_TEST

/* --- sessions ----------------------------------------------------------- */

START_TEST(missing_session)
{
    char *id = open_session(&alice, "2025-11-25");
    call c = {.token = &alice, .version = "2025-11-25"};
    post_request(&c, "tools/list", NULL);
    assert_transport_error(400, -32000);
    ck_assert_str_eq(string_at(reply.json, "error.message"),
                     "Bad Request: Mcp-Session-Id header is required");
    delete_as(&c);
    assert_transport_error(400, -32000);
    free(id);
}
END_TEST

START_TEST(unknown_session)
{
    char *id = open_session(&alice, "2025-11-25");
    char other[] = "00000000000000000000000000000000";
    const char *unknown[] = {other, "", "short", "not-a-session-id-of-the-right-size-at-all"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        call c = {.session_id = unknown[i], .token = &alice};
        post_request(&c, "tools/list", NULL);
        assert_transport_error(404, -32001);
        ck_assert_str_eq(string_at(reply.json, "error.message"), "Session not found");
    }
    /* One changed character. */
    char *near = strdup(id);
    near[31] = near[31] == 'a' ? 'b' : 'a';
    call c = {.session_id = near, .token = &alice};
    post_request(&c, "ping", NULL);
    assert_transport_error(404, -32001);
    delete_as(&c);
    assert_transport_error(404, -32001);
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0), 1);
    free(near);
    free(id);
}
END_TEST

START_TEST(session_bound_to_subject_and_client)
{
    char *id = open_session(&alice, "2025-11-25");
    const mcpauth_token_info *intruders[] = {&bob, &alice_other_client, &subject_only, NULL};
    for (size_t i = 0; i < sizeof intruders / sizeof intruders[0]; i++) {
        call c = {.session_id = id, .token = intruders[i]};
        post_request(&c, "tools/call", "{\"name\":\"whoami\"}");
        assert_transport_error(404, -32001);
        delete_as(&c);
        assert_transport_error(404, -32001);
    }
    /* A copy of the token's strings (another validation of the same token)
     * still matches. */
    mcpauth_token_info again = {.subject = "sub-alice", .client_id = "client-1"};
    call c = {.session_id = id, .token = &again};
    post_request(&c, "ping", NULL);
    assert_result();
    free(id);

    /* An anonymous session is not anyone's. */
    id = open_session(NULL, "2025-11-25");
    call anonymous = {.session_id = id};
    post_request(&anonymous, "ping", NULL);
    assert_result();
    call authenticated = {.session_id = id, .token = &alice};
    post_request(&authenticated, "ping", NULL);
    assert_transport_error(404, -32001);
    free(id);
}
END_TEST

START_TEST(max_sessions)
{
    mcpauth_mcp_server_free(server);
    server = make_server(false, 3, 600);
    char *ids[3];
    for (size_t i = 0; i < 3; i++) {
        call c = {.token = &alice, .now = T0 + (int64_t)i};
        char *body = initialize_body("2025-11-25");
        post_as(&c, body);
        free(body);
        ck_assert_int_eq(reply.status, 200);
        ids[i] = strdup(reply.session_id);
    }
    char *body = initialize_body("2025-11-25");
    call late = {.token = &bob, .now = T0 + 10};
    post_as(&late, body);
    assert_transport_error(503, -32000);
    ck_assert_ptr_null(reply.session_id);
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0 + 10), 3);

    /* Ending one frees a place. */
    call end = {.session_id = ids[1], .token = &alice, .now = T0 + 11};
    delete_as(&end);
    ck_assert_int_eq(reply.status, 200);
    post_as(&late, body);
    ck_assert_int_eq(reply.status, 200);
    ck_assert_ptr_nonnull(reply.session_id);
    post_as(&late, body);
    assert_transport_error(503, -32000);

    /* Sessions idle past session_idle_seconds make room: ids[0] was last
     * used at T0 and ids[2] at T0 + 2; use ids[2] at T0 + 300. */
    call use = {.session_id = ids[2], .token = &alice, .now = T0 + 300};
    post_request(&use, "ping", NULL);
    assert_result();
    late.now = T0 + 600;
    post_as(&late, body);
    ck_assert_int_eq(reply.status, 200);
    call first = {.session_id = ids[0], .token = &alice, .now = T0 + 600};
    post_request(&first, "ping", NULL);
    assert_transport_error(404, -32001);
    use.now = T0 + 601;
    post_request(&use, "ping", NULL);
    assert_result();
    free(body);
    for (size_t i = 0; i < 3; i++)
        free(ids[i]);
}
END_TEST

/* One identity (subject and client together) holds at most
 * max_sessions_per_identity sessions: one more is 429 with Retry-After and
 * an error naming the limit, while another identity, the same subject
 * through another client among them, still gets in; ending one of its
 * sessions, or its expiry, makes room again. */
START_TEST(max_sessions_per_identity)
{
    mcpauth_mcp_server_free(server);
    server = make_server_limited(false, 10000, 600, 3);
    char *ids[3];
    for (size_t i = 0; i < 3; i++)
        ids[i] = open_session(&alice, "2025-11-25");
    char *body = initialize_body("2025-11-25");
    call again = {.token = &alice};
    post_as(&again, body);
    assert_transport_error(429, -32000);
    ck_assert_ptr_null(reply.session_id);
    ck_assert_int_eq(reply.retry_after, MCPAUTH_MCP_LIMIT_RETRY_AFTER);
    json_object *error, *data, *limit;
    ck_assert(json_object_object_get_ex(reply.json, "error", &error));
    ck_assert(json_object_object_get_ex(error, "data", &data));
    ck_assert(json_object_object_get_ex(data, "limit", &limit));
    ck_assert_str_eq(json_object_get_string(limit), "max-sessions-per-identity");
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0), 3);

    char *others[3];
    others[0] = open_session(&bob, "2025-11-25");
    others[1] = open_session(&alice_other_client, "2025-11-25");
    others[2] = open_session(&subject_only, "2025-11-25");

    call end = {.session_id = ids[1], .token = &alice};
    delete_as(&end);
    ck_assert_int_eq(reply.status, 200);
    post_as(&again, body);
    ck_assert_int_eq(reply.status, 200);
    ck_assert_int_eq(reply.retry_after, 0);
    post_as(&again, body);
    ck_assert_int_eq(reply.status, 429);

    /* Expired sessions do not count. */
    again.now = T0 + 600;
    post_as(&again, body);
    ck_assert_int_eq(reply.status, 200);

    uint64_t hits[MCPAUTH_MCP_LIMIT_COUNT];
    mcpauth_mcp_limit_hits(server, hits);
    ck_assert_uint_eq(hits[MCPAUTH_MCP_LIMIT_SESSIONS_PER_IDENTITY], 2);
    ck_assert_uint_eq(hits[MCPAUTH_MCP_LIMIT_SESSIONS], 0);
    ck_assert_uint_eq(hits[MCPAUTH_MCP_LIMIT_CHILDREN], 0);
    free(body);
    for (size_t i = 0; i < 3; i++) {
        free(ids[i]);
        free(others[i]);
    }
}
END_TEST

/* One identity cannot fill the table and lock everyone else out: with the
 * default per-identity limit, a flood of initialize calls stops at it and
 * a second identity still gets a session. */
START_TEST(one_identity_cannot_fill_the_table)
{
    mcpauth_mcp_server_free(server);
    server = make_server(false, 40, 3600);
    char *body = initialize_body("2025-11-25");
    call flood = {.token = &alice};
    size_t created = 0;
    for (size_t i = 0; i < 40; i++) {
        post_as(&flood, body);
        if (reply.status == 200)
            created++;
        else
            ck_assert_int_eq(reply.status, 429);
    }
    ck_assert_uint_eq(created, 16);
    call other = {.token = &bob};
    post_as(&other, body);
    ck_assert_int_eq(reply.status, 200);
    uint64_t hits[MCPAUTH_MCP_LIMIT_COUNT];
    mcpauth_mcp_limit_hits(server, hits);
    ck_assert_uint_eq(hits[MCPAUTH_MCP_LIMIT_SESSIONS_PER_IDENTITY], 24);
    free(body);
}
END_TEST

/* Without a token (serving without authentication) there is no identity:
 * the per-identity limit does not apply, the table's bound does. */
START_TEST(anonymous_callers_have_no_identity_limit)
{
    mcpauth_mcp_server_free(server);
    server = make_server_limited(false, 20, 3600, 2);
    char *body = initialize_body("2025-11-25");
    call anonymous = {0};
    for (size_t i = 0; i < 20; i++) {
        post_as(&anonymous, body);
        ck_assert_int_eq(reply.status, 200);
    }
    post_as(&anonymous, body);
    assert_transport_error(503, -32000);
    uint64_t hits[MCPAUTH_MCP_LIMIT_COUNT];
    mcpauth_mcp_limit_hits(server, hits);
    ck_assert_uint_eq(hits[MCPAUTH_MCP_LIMIT_SESSIONS], 1);
    ck_assert_uint_eq(hits[MCPAUTH_MCP_LIMIT_SESSIONS_PER_IDENTITY], 0);
    free(body);
}
END_TEST

START_TEST(idle_expiry)
{
    mcpauth_mcp_server_free(server);
    server = make_server(false, 100, 60);
    char *id = open_session(&alice, "2025-11-25");
    call c = {.session_id = id, .token = &alice, .now = T0 + 59};
    post_request(&c, "ping", NULL);
    assert_result();
    /* Every use counts: 59 s after the last one it is still alive. */
    c.now = T0 + 118;
    post_request(&c, "ping", NULL);
    assert_result();
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0 + 177), 1);
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0 + 178), 0);
    c.now = T0 + 178;
    post_request(&c, "ping", NULL);
    assert_transport_error(404, -32001);
    free(id);

    /* Expired sessions are found out on use as well as by counting. */
    id = open_session(&alice, "2025-11-25");
    call late = {.session_id = id, .token = &alice, .now = T0 + 1000};
    post_request(&late, "ping", NULL);
    assert_transport_error(404, -32001);
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0), 0);
    free(id);
}
END_TEST

START_TEST(many_sessions_survive_deletions)
{
    enum { N = 300 };
    char *ids[N];
    mcpauth_mcp_server_free(server);
    server = make_server_limited(false, 10000, 3600, 0);
    for (size_t i = 0; i < N; i++)
        ids[i] = open_session(&alice, "2025-11-25");
    for (size_t i = 0; i < N; i += 3) {
        call c = {.session_id = ids[i], .token = &alice};
        delete_as(&c);
        ck_assert_int_eq(reply.status, 200);
    }
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0), N - (N + 2) / 3);
    for (size_t i = 0; i < N; i++) {
        call c = {.session_id = ids[i], .token = &alice};
        post_request(&c, "ping", NULL);
        ck_assert_int_eq(reply.status, i % 3 == 0 ? 404 : 200);
        free(ids[i]);
    }
}
END_TEST

/* --- sessions shared between processes ---------------------------------- */

/* What a child process answered. */
typedef struct child_reply {
    int status;
    char session_id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
} child_reply;

static void child_capture(const mcpauth_mcp_reply *r, void *data)
{
    child_reply *c = data;
    c->status = r->status;
    snprintf(c->session_id, sizeof c->session_id, "%s", r->session_id ? r->session_id : "");
}

/* Forks a process that, like another worker of `mcpauth serve`, handles one
 * request (a DELETE when body is NULL) with a server of its own made from
 * config; returns its answer. The child makes no Check assertions (a failure
 * there would be taken for the parent's): it reports through a pipe. */
static child_reply in_child(const mcpauth_mcp_config *config, const call *c, const char *body)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        child_reply r = {0};
        mcpauth_mcp_server *worker = mcpauth_mcp_server_new(config);
        mcpauth_mcp_request req = request_for(c, body);
        if (worker && body)
            mcpauth_mcp_handle_post(worker, &req,
                                    &(mcpauth_mcp_sink){.reply = child_capture, .data = &r});
        else if (worker)
            mcpauth_mcp_handle_delete(worker, &req,
                                      &(mcpauth_mcp_sink){.reply = child_capture, .data = &r});
        mcpauth_mcp_server_free(worker);
        _exit(write(fds[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    child_reply r = {0};
    ck_assert_int_eq(read(fds[0], &r, sizeof r), sizeof r);
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return r;
}

START_TEST(sessions_shared_between_processes)
{
    mcpauth_mcp_server_free(server);
    mcpauth_mcp_sessions *shared = mcpauth_mcp_sessions_new(100, 3600);
    ck_assert_ptr_nonnull(shared);
    mcpauth_mcp_config config;
    mcpauth_mcp_config_init(&config);
    config.sessions = shared;
    server = mcpauth_mcp_server_new(&config);
    ck_assert_ptr_nonnull(server);

    /* Initialized in a child, used here, bound to the same caller. */
    char *init = initialize_body("2025-06-18");
    call as_alice = {.token = &alice};
    child_reply r = in_child(&config, &as_alice, init);
    free(init);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(strlen(r.session_id), MCPAUTH_MCP_SESSION_ID_LENGTH);
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0), 1);
    call c = {.session_id = r.session_id, .token = &alice};
    post_request(&c, "ping", NULL);
    assert_result();
    /* The version negotiated there is the one in force here: a batch is
     * refused for 2025-06-18 although no header says so. */
    post_as(&c, PING_BATCH);
    assert_transport_error(400, -32600);
    call other[] = {{.session_id = r.session_id, .token = &bob},
                    {.session_id = r.session_id, .token = &alice_other_client},
                    {.session_id = r.session_id}};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        post_request(&other[i], "ping", NULL);
        assert_transport_error(404, -32001);
    }

    /* Ended in a child: gone here. */
    call bob_deletes = {.session_id = r.session_id, .token = &bob};
    ck_assert_int_eq(in_child(&config, &bob_deletes, NULL).status, 404);
    ck_assert_int_eq(in_child(&config, &c, NULL).status, 200);
    post_request(&c, "ping", NULL);
    assert_transport_error(404, -32001);
    delete_as(&c);
    assert_transport_error(404, -32001);

    /* Initialized here, used and seen ended in a child. */
    char *id = open_session(&alice, "2025-11-25");
    call mine = {.session_id = id, .token = &alice};
    char *ping = request_body("ping", NULL);
    ck_assert_int_eq(in_child(&config, &mine, ping).status, 200);
    delete_as(&mine);
    ck_assert_int_eq(reply.status, 200);
    ck_assert_int_eq(in_child(&config, &mine, ping).status, 404);
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0), 0);
    free(ping);
    free(id);

    mcpauth_mcp_server_free(server);
    server = NULL;
    mcpauth_mcp_sessions_free(shared);
}
END_TEST

/* --- stateless ---------------------------------------------------------- */

START_TEST(stateless_mode)
{
    mcpauth_mcp_server_free(server);
    server = make_server(true, 10000, 3600);

    call c = {.token = &subject_only, .version = "2025-11-25"};
    post_request(&c, "tools/call", "{\"name\":\"hello_world\"}");
    ck_assert_str_eq(string_at(assert_result(), "content.0.text"), "Hello, user with ID sub-123!");

    /* A session id, even a made-up one, is ignored. */
    call with_id = {.token = &alice, .session_id = "00000000000000000000000000000000"};
    post_request(&with_id, "tools/list", NULL);
    assert_result();

    char *body = initialize_body("2025-06-18");
    post_as(&with_id, body);
    free(body);
    ck_assert_str_eq(string_at(assert_result(), "protocolVersion"), "2025-06-18");
    ck_assert_ptr_null(reply.session_id);
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, T0), 0);

    post_request(&c, "logging/setLevel", "{\"level\":\"debug\"}");
    assert_result();

    post_as(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    assert_accepted();

    /* Without the header 2025-03-26 is assumed, so batches are allowed. */
    call plain = {.token = &alice};
    post_as(&plain, PING_BATCH);
    ck_assert_int_eq(reply.status, 200);
    post_as(&c, PING_BATCH);
    assert_transport_error(400, -32600);

    delete_as(&with_id);
    assert_transport_error(405, -32000);
}
END_TEST

/* The method classify() tells apart, from a message's text. */
static mcpauth__mcp_method known_of(const char *text, mcpauth__jsonrpc_kind kind)
{
    json_object *message = json_tokener_parse(text);
    ck_assert_ptr_nonnull(message);
    mcpauth__jsonrpc_message msg;
    ck_assert_int_eq(mcpauth__jsonrpc_classify(message, &msg), kind);
    mcpauth__mcp_method known = msg.known;
    json_object_put(message);
    return known;
}

START_TEST(methods_are_told_apart_once)
{
    static const struct {
        const char *method;
        mcpauth__mcp_method known;
    } cases[] = {
        {"initialize", MCPAUTH__METHOD_INITIALIZE},
        {"ping", MCPAUTH__METHOD_PING},
        {"tools/list", MCPAUTH__METHOD_TOOLS_LIST},
        {"tools/call", MCPAUTH__METHOD_TOOLS_CALL},
        {"logging/setLevel", MCPAUTH__METHOD_LOGGING_SET_LEVEL},
        {"server/discover", MCPAUTH__METHOD_SERVER_DISCOVER},
        {"subscriptions/listen", MCPAUTH__METHOD_SUBSCRIPTIONS_LISTEN},
        {"prompts/get", MCPAUTH__METHOD_PROMPTS_GET},
        {"resources/read", MCPAUTH__METHOD_RESOURCES_READ},
        /* Near misses are none of them: the whole name, exactly. */
        {"tools/cal", MCPAUTH__METHOD_OTHER},
        {"tools/calls", MCPAUTH__METHOD_OTHER},
        {"Tools/call", MCPAUTH__METHOD_OTHER},
        {"tools/call ", MCPAUTH__METHOD_OTHER},
        {"tools\\/call", MCPAUTH__METHOD_TOOLS_CALL}, /* the same text, escaped */
        {"logging/setlevel", MCPAUTH__METHOD_OTHER},
        {"", MCPAUTH__METHOD_OTHER},
        {"resources/list", MCPAUTH__METHOD_OTHER},
    };
    char text[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"}",
                 cases[i].method);
        ck_assert_msg(known_of(text, MCPAUTH__JSONRPC_REQUEST) == cases[i].known, "%s",
                      cases[i].method);
        snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"method\":\"%s\"}", cases[i].method);
        ck_assert_msg(known_of(text, MCPAUTH__JSONRPC_NOTIFICATION) == cases[i].known, "%s",
                      cases[i].method);
    }
    /* A name with an escaped NUL is no message at all; a response has no
     * method. */
    ck_assert_int_eq(known_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\\u0000x\"}",
                              MCPAUTH__JSONRPC_INVALID),
                     MCPAUTH__METHOD_OTHER);
    ck_assert_int_eq(
        known_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", MCPAUTH__JSONRPC_RESPONSE),
        MCPAUTH__METHOD_OTHER);
}
END_TEST

/* What a request names, read once: params.name or params.uri by method,
 * only when a string. NULL when there is none. */
static char *named_of(const char *method, const char *params)
{
    char text[256];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}",
             method, params);
    json_object *message = json_tokener_parse(text);
    ck_assert_ptr_nonnull(message);
    mcpauth__jsonrpc_message msg;
    ck_assert_int_eq(mcpauth__jsonrpc_classify(message, &msg), MCPAUTH__JSONRPC_REQUEST);
    char *named = msg.named ? strdup(json_object_get_string(msg.named)) : NULL;
    json_object_put(message);
    return named;
}

static void assert_named(const char *method, const char *params, const char *expected)
{
    char *named = named_of(method, params);
    if (expected)
        ck_assert_msg(named && strcmp(named, expected) == 0, "%s %s: %s", method, params,
                      named ? named : "(none)");
    else
        ck_assert_msg(!named, "%s %s: %s", method, params, named);
    free(named);
}

START_TEST(what_a_request_names_is_read_once)
{
    assert_named("tools/call", "{\"name\":\"hello_world\",\"arguments\":{}}", "hello_world");
    assert_named("prompts/get", "{\"name\":\"p\"}", "p");
    assert_named("resources/read", "{\"uri\":\"file:///a\",\"name\":\"x\"}", "file:///a");
    assert_named("resources/read", "{\"name\":\"x\"}", NULL);
    assert_named("tools/call", "{\"name\":7}", NULL);
    assert_named("tools/call", "{\"name\":null}", NULL);
    assert_named("tools/call", "{}", NULL);
    assert_named("tools/call", "[\"hello_world\"]", NULL);
    assert_named("tools/list", "{\"name\":\"hello_world\"}", NULL);
    assert_named("ping", "{\"uri\":\"x\"}", NULL);
}
END_TEST

static Suite *mcp_suite(void)
{
    Suite *s = suite_create("mcp");

    TCase *tc = tcase_create("lifecycle");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, initialize_result_shape);
    tcase_add_test(tc, methods_are_told_apart_once);
    tcase_add_test(tc, what_a_request_names_is_read_once);
    tcase_add_test(tc, initialize_without_instructions);
    tcase_add_test(tc, full_flow);
    tcase_add_test(tc, whoami_reports_identity_without_token);
    tcase_add_test(tc, whoami_anonymous_and_cache_hit);
    tcase_add_test(tc, hello_for_each_kind_of_identity);
    tcase_add_test(tc, version_negotiation);
    tcase_add_test(tc, initialize_needs_protocol_version);
    tcase_add_test(tc, initialize_twice_in_a_session);
    tcase_add_test(tc, session_ids_are_random_hex);
    tcase_add_test(tc, max_sessions_per_identity);
    tcase_add_test(tc, one_identity_cannot_fill_the_table);
    tcase_add_test(tc, anonymous_callers_have_no_identity_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("methods");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, unknown_method);
    tcase_add_test(tc, unknown_tool);
    tcase_add_test(tc, tools_call_bad_params);
    tcase_add_test(tc, tool_argument_error_is_a_result);
    tcase_add_test(tc, logging_levels);
    tcase_add_test(tc, ids_echoed_as_sent);
    tcase_add_test(tc, method_with_nul_refused);
    tcase_add_test(tc, notifications_and_responses_accepted);
    tcase_add_test(tc, tools_list_follows_the_policy);
    tcase_add_test(tc, tools_call_checked_once_and_parsed_once);
    suite_add_tcase(s, tc);

    tc = tcase_create("transport");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, accept_header);
    tcase_add_test(tc, content_type_header);
    tcase_add_test(tc, parse_errors);
    tcase_add_test(tc, invalid_requests);
    tcase_add_test(tc, unsupported_protocol_version_header);
    tcase_add_test(tc, batch_refused_after_2025_03_26);
    tcase_add_test(tc, batch_allowed_with_2025_03_26);
    tcase_add_test(tc, batch_limits);
    suite_add_tcase(s, tc);

    tc = tcase_create("sessions");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, missing_session);
    tcase_add_test(tc, get_without_backend);
    tcase_add_test(tc, unknown_session);
    tcase_add_test(tc, session_bound_to_subject_and_client);
    tcase_add_test(tc, max_sessions);
    tcase_add_test(tc, idle_expiry);
    tcase_add_test(tc, many_sessions_survive_deletions);
    tcase_add_test(tc, sessions_shared_between_processes);
    tcase_add_test(tc, stateless_mode);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(mcp_suite());
}
