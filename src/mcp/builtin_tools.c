/* The built-in tools, a backend like the others (mcp_internal.h,
 * mcpauth__mcp_backend_ops) that answers everything before post()
 * returns: hello_world greets the authenticated user the way the seed
 * server does, whoami shows what authentication established about the
 * caller. Neither ever sees or returns the token itself. Besides the tools:
 * initialize, ping and logging/setLevel; and, for MCP 2026-07-28,
 * server/discover and every result in that revision's shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "mcpauth/json.h"
#include "mcpauth_config.h"

typedef json_object *(*tool_fn)(const mcpauth_mcp_identity *identity);

/* A tool (MCP server/tools §Tool): what tools/list shows, and its code. */
typedef struct tool {
    const char *name, *title, *description;
    tool_fn run;
} tool;

/* Claims that are present and not empty. */
static const char *claim(const char *value)
{
    return value && *value ? value : NULL;
}

char *mcpauth_mcp_hello_text(const mcpauth_token_info *token)
{
    const char *username = token ? claim(token->username) : NULL;
    const char *subject = token ? claim(token->subject) : NULL;
    char *text = NULL;
    int n;
    if (username)
        n = asprintf(&text, "Hello, %s!", username);
    else if (subject)
        n = asprintf(&text, "Hello, user with ID %s!", subject);
    else
        n = asprintf(&text, "Hello, anonymous user!");
    return n < 0 ? NULL : text;
}

/* A CallToolResult (MCP server/tools §Tool Result) holding one text item,
 * taking text. */
static json_object *text_result(json_object *text, bool is_error)
{
    json_object *result = json_object_new_object();
    json_object *content = json_object_new_array();
    json_object *item = json_object_new_object();
    bool ok = result && content && item && text &&
              mcpauth__json_add_literal(item, "type", json_object_new_string("text")) &&
              mcpauth__json_add_literal(item, "text", json_object_get(text)) &&
              json_object_array_add(content, item) == 0;
    if (ok)
        item = NULL;
    ok = ok && mcpauth__json_add_literal(result, "content", json_object_get(content));
    ok = ok && (!is_error || mcpauth__json_add_literal(result, "isError", json_object_new_boolean(1)));
    json_object_put(item);
    json_object_put(content);
    json_object_put(text);
    if (!ok) {
        json_object_put(result);
        return NULL;
    }
    return result;
}

static json_object *hello_world(const mcpauth_mcp_identity *identity)
{
    char *greeting = mcpauth_mcp_hello_text(identity->token);
    if (!greeting)
        return NULL;
    json_object *text = json_object_new_string(greeting);
    free(greeting);
    return text_result(text, false);
}

/* Adds a member that may legitimately be null. */
static bool add_nullable(json_object *obj, const char *key, const char *value)
{
    if (!value)
        return json_object_object_add(obj, key, NULL) == 0;
    return mcpauth__json_add(obj, key, json_object_new_string(value));
}

static json_object *string_array(char *const *items, size_t count)
{
    json_object *array = json_object_new_array();
    for (size_t i = 0; array && i < count; i++) {
        json_object *item = json_object_new_string(items[i]);
        if (!item || json_object_array_add(array, item) != 0) {
            json_object_put(item);
            json_object_put(array);
            return NULL;
        }
    }
    return array;
}

/* Adds a time in seconds since the epoch; 0 (absent) is null. */
static bool add_time(json_object *obj, const char *key, int64_t value)
{
    if (value == 0)
        return json_object_object_add(obj, key, NULL) == 0;
    return mcpauth__json_add(obj, key, json_object_new_int64(value));
}

/* What the server knows about the caller. Deliberately built member by
 * member from the claims: the token itself is never in mcpauth_token_info,
 * and nothing here could add it. Without authentication every claim is
 * null or empty. */
static json_object *identity_object(const mcpauth_mcp_identity *identity)
{
    static const mcpauth_token_info anonymous;
    const mcpauth_token_info *token = identity->token ? identity->token : &anonymous;
    const char *validated_by = identity->validated_by ? identity->validated_by : "none";
    json_object *obj = json_object_new_object();
    if (!obj)
        return NULL;
    bool ok = add_nullable(obj, "subject", token->subject) &&
              add_nullable(obj, "client_id", token->client_id) &&
              add_nullable(obj, "username", token->username) &&
              mcpauth__json_add(obj, "scopes", string_array(token->scopes, token->scope_count)) &&
              mcpauth__json_add(obj, "audiences",
                                string_array(token->audiences, token->audience_count)) &&
              add_nullable(obj, "issuer", token->issuer) &&
              add_time(obj, "expires_at", token->expires_at) &&
              add_nullable(obj, "validated_by", validated_by) &&
              mcpauth__json_add(obj, "cache",
                                json_object_new_string(identity->cache_hit ? "hit" : "miss"));
    if (!ok) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

/* The identity as pretty-printed text and, for clients that read it, as
 * structuredContent (MCP server/tools §Structured Content: SHOULD also give
 * the serialised JSON as text). */
static json_object *whoami(const mcpauth_mcp_identity *identity)
{
    json_object *obj = identity_object(identity);
    if (!obj)
        return NULL;
    const char *pretty = mcpauth_json_pretty(obj);
    json_object *result = pretty ? text_result(json_object_new_string(pretty), false) : NULL;
    if (!result || !mcpauth__json_add(result, "structuredContent", obj)) {
        if (!result)
            json_object_put(obj);
        json_object_put(result);
        return NULL;
    }
    return result;
}

static const tool tools[] = {
    {"hello_world", "Hello World", "Say hello to the authenticated user", hello_world},
    {"whoami", "Who Am I",
     "Show who the server takes you for: subject, client, username, scopes, audiences, issuer, "
     "expiry, how the token was validated and whether the cache answered. Never the token.",
     whoami},
};

#define TOOL_COUNT (sizeof tools / sizeof tools[0])

/* Neither tool takes arguments: {"type":"object","properties":{},
 * "additionalProperties":false}. */
static json_object *empty_input_schema(void)
{
    json_object *schema = json_object_new_object();
    if (!schema || !mcpauth__json_add(schema, "type", json_object_new_string("object")) ||
        !mcpauth__json_add(schema, "properties", json_object_new_object()) ||
        !mcpauth__json_add(schema, "additionalProperties", json_object_new_boolean(0))) {
        json_object_put(schema);
        return NULL;
    }
    return schema;
}

/* Both tools only read what authentication already established. */
static json_object *read_only_annotations(void)
{
    json_object *annotations = json_object_new_object();
    if (!annotations ||
        !mcpauth__json_add(annotations, "readOnlyHint", json_object_new_boolean(1)) ||
        !mcpauth__json_add(annotations, "openWorldHint", json_object_new_boolean(0))) {
        json_object_put(annotations);
        return NULL;
    }
    return annotations;
}

static json_object *tool_definition(const tool *t)
{
    json_object *def = json_object_new_object();
    if (!def || !mcpauth__json_add(def, "name", json_object_new_string(t->name)) ||
        !mcpauth__json_add(def, "title", json_object_new_string(t->title)) ||
        !mcpauth__json_add(def, "description", json_object_new_string(t->description)) ||
        !mcpauth__json_add(def, "inputSchema", empty_input_schema()) ||
        !mcpauth__json_add(def, "annotations", read_only_annotations())) {
        json_object_put(def);
        return NULL;
    }
    return def;
}

static json_object *tools_list(void)
{
    json_object *list = json_object_new_array();
    for (size_t i = 0; list && i < TOOL_COUNT; i++) {
        json_object *def = tool_definition(&tools[i]);
        if (!def || json_object_array_add(list, def) != 0) {
            json_object_put(def);
            json_object_put(list);
            list = NULL;
        }
    }
    json_object *result = list ? json_object_new_object() : NULL;
    if (!result || !mcpauth__json_add(result, "tools", list)) {
        if (!result)
            json_object_put(list);
        json_object_put(result);
        return NULL;
    }
    return result;
}

typedef enum tool_status {
    TOOL_OK,      /* *result is a CallToolResult (maybe isError) */
    TOOL_UNKNOWN, /* no tool by that name */
    TOOL_NO_MEMORY,
} tool_status;

/* Runs tool name with arguments (an object, or NULL when absent) for
 * identity. On TOOL_OK the caller owns *result. */
static tool_status run_tool(const char *name, json_object *arguments,
                            const mcpauth_mcp_identity *identity, json_object **result)
{
    *result = NULL;
    const tool *t = NULL;
    for (size_t i = 0; i < TOOL_COUNT && !t; i++) {
        if (strcmp(tools[i].name, name) == 0)
            t = &tools[i];
    }
    if (!t)
        return TOOL_UNKNOWN;

    /* MCP server/tools §Error Handling: input validation errors are tool
     * results with isError, so the model can see and correct them. */
    if (arguments && json_object_object_length(arguments) > 0) {
        char message[128];
        snprintf(message, sizeof message, "%s takes no arguments", t->name);
        *result = text_result(json_object_new_string(message), true);
    } else {
        *result = t->run(identity);
    }
    return *result ? TOOL_OK : TOOL_NO_MEMORY;
}

/* --- the backend -------------------------------------------------------- */

#define MAX_ECHOED_TOOL_NAME 128 /* MCP server/tools §Tool Names: 1 to 128 */

/* MCP server/utilities/logging §Log Levels: the RFC 5424 severities. */
static const char *const log_levels[] = {"debug", "info",     "notice", "warning",
                                         "error", "critical", "alert",  "emergency"};
#define LOG_LEVEL_COUNT (sizeof log_levels / sizeof log_levels[0])

static json_object *invalid_params(const mcpauth__jsonrpc_message *msg, const char *message)
{
    return mcpauth__jsonrpc_error(msg->id, MCPAUTH__JSONRPC_INVALID_PARAMS, message, NULL);
}

static json_object *params_member(const mcpauth__jsonrpc_message *msg, const char *key,
                                  json_type type)
{
    json_object *value = NULL;
    if (!msg->params || !json_object_is_type(msg->params, json_type_object) ||
        !json_object_object_get_ex(msg->params, key, &value) || !json_object_is_type(value, type))
        return NULL;
    return value;
}

/* MCP server/utilities/logging §Setting Log Level. The level is kept with
 * the session; without one (stateless) there is nowhere to keep it. */
static json_object *logging_set_level(mcpauth_mcp_backend *backend, const mcpauth__mcp_call *call)
{
    const mcpauth__jsonrpc_message *msg = call->msg;
    json_object *level = params_member(msg, "level", json_type_string);
    for (size_t i = 0; level && i < LOG_LEVEL_COUNT; i++) {
        if (strcmp(json_object_get_string(level), log_levels[i]) == 0) {
            if (call->session_id)
                mcpauth__session_set_log_level(backend->table, call->session_id, log_levels[i]);
            return mcpauth__jsonrpc_result(msg->id, json_object_new_object());
        }
    }
    return invalid_params(msg, "Invalid params: level must be one of debug, info, notice, "
                               "warning, error, critical, alert, emergency");
}

/* MCP server/tools §Calling Tools; §Error Handling: an unknown tool is a
 * JSON-RPC error (-32602), a tool's own failure a result with isError. */
static json_object *tools_call(const mcpauth__mcp_call *call)
{
    const mcpauth__jsonrpc_message *msg = call->msg;
    json_object *name = msg->named;
    if (!name)
        return invalid_params(msg, "Invalid params: tools/call needs a tool name");
    json_object *arguments = NULL;
    if (json_object_object_get_ex(msg->params, "arguments", &arguments) &&
        !json_object_is_type(arguments, json_type_object))
        return invalid_params(msg, "Invalid params: arguments must be an object");

    json_object *result = NULL;
    switch (run_tool(json_object_get_string(name), arguments, call->identity, &result)) {
    case TOOL_OK:
        return mcpauth__jsonrpc_result(msg->id, result);
    case TOOL_UNKNOWN:
        break;
    case TOOL_NO_MEMORY:
        return NULL;
    }
    const char *text = json_object_get_string(name);
    char message[64 + MAX_ECHOED_TOOL_NAME];
    if (mcpauth__mcp_quotable(text, MAX_ECHOED_TOOL_NAME))
        snprintf(message, sizeof message, "Unknown tool: %s", text);
    else
        snprintf(message, sizeof message, "Unknown tool");
    return invalid_params(msg, message);
}

/* The answer to one request other than initialize; NULL on allocation
 * failure. */
static json_object *answer(mcpauth_mcp_backend *backend, const mcpauth__mcp_call *call)
{
    const mcpauth__jsonrpc_message *msg = call->msg;
    /* basic/utilities/ping: an empty result, promptly. */
    if (msg->known == MCPAUTH__METHOD_PING)
        return mcpauth__jsonrpc_result(msg->id, json_object_new_object());
    if (msg->known == MCPAUTH__METHOD_TOOLS_LIST) {
        /* Our own list always has the shape the filter needs. */
        json_object *response = mcpauth__jsonrpc_result(msg->id, tools_list());
        mcpauth__mcp_filter_apply(call->filter, response, NULL);
        return response;
    }
    if (msg->known == MCPAUTH__METHOD_TOOLS_CALL)
        return tools_call(call);
    if (msg->known == MCPAUTH__METHOD_LOGGING_SET_LEVEL)
        return logging_set_level(backend, call);
    return mcpauth__jsonrpc_error(msg->id, MCPAUTH__JSONRPC_METHOD_NOT_FOUND, "Method not found",
                                  NULL);
}

json_object *mcpauth__builtin_initialize_result(const mcpauth_mcp_config *config,
                                                const char *version)
{
    json_object *result = json_object_new_object();
    json_object *capabilities = json_object_new_object();
    json_object *tools_capability = json_object_new_object();
    json_object *info = json_object_new_object();
    bool ok =
        result && capabilities && tools_capability && info &&
        mcpauth__json_add(tools_capability, "listChanged", json_object_new_boolean(0)) &&
        mcpauth__json_add(capabilities, "tools", json_object_get(tools_capability)) &&
        mcpauth__json_add(capabilities, "logging", json_object_new_object()) &&
        mcpauth__json_add(
            info, "name",
            json_object_new_string(config->server_name ? config->server_name : "mcpauth")) &&
        mcpauth__json_add(info, "version",
                          json_object_new_string(config->server_version ? config->server_version
                                                                        : MCPAUTH_VERSION)) &&
        mcpauth__json_add(result, "protocolVersion", json_object_new_string(version)) &&
        mcpauth__json_add(result, "capabilities", json_object_get(capabilities)) &&
        mcpauth__json_add(result, "serverInfo", json_object_get(info)) &&
        (!config->instructions ||
         mcpauth__json_add(result, "instructions", json_object_new_string(config->instructions)));
    json_object_put(tools_capability);
    json_object_put(capabilities);
    json_object_put(info);
    if (!ok) {
        json_object_put(result);
        return NULL;
    }
    return result;
}

/* lifecycle §Initialization: protocolVersion, capabilities, serverInfo and
 * optional instructions. We declare only what we implement (§Capability
 * Negotiation): tools (a fixed list) and logging. */
static bool builtin_open_session(mcpauth_mcp_backend *backend, mcpauth__mcp_call *call)
{
    json_object *reply = mcpauth__jsonrpc_result(
        call->msg->id, mcpauth__builtin_initialize_result(backend->server, call->protocol_version));
    mcpauth__mcp_reply_json(call->sink, 200, reply, call->session_id);
    return reply != NULL;
}

/* --- MCP 2026-07-28 ----------------------------------------------------- */

/* server/utilities/caching §Time-to-Live: the built-in list and
 * capabilities never change while the server runs; five minutes bounds how
 * long a client keeps them across a restart with another policy. */
#define MODERN_TTL_MS 300000

static json_object *server_info(const mcpauth_mcp_config *config)
{
    json_object *info = json_object_new_object();
    if (!info ||
        !mcpauth__json_add(
            info, "name",
            json_object_new_string(config->server_name ? config->server_name : "mcpauth")) ||
        !mcpauth__json_add(info, "version",
                           json_object_new_string(config->server_version ? config->server_version
                                                                         : MCPAUTH_VERSION))) {
        json_object_put(info);
        return NULL;
    }
    return info;
}

/* server/discover §Response: every version served (both eras: a client
 * chooses from this list), what we implement (tools; logging is gone from
 * the modern revision), instructions. */
static json_object *discover_result(const mcpauth_mcp_config *config)
{
    size_t count;
    const char *const *versions = mcpauth__engine_session_versions(&count);
    json_object *result = json_object_new_object();
    json_object *list = json_object_new_array();
    json_object *capabilities = json_object_new_object();
    json_object *tools_capability = json_object_new_object();
    bool ok = result && list && capabilities && tools_capability &&
              json_object_array_add(list, json_object_new_string(MCPAUTH_MCP_MODERN_VERSION)) == 0;
    for (size_t i = 0; ok && i < count; i++)
        ok = json_object_array_add(list, json_object_new_string(versions[i])) == 0;
    ok = ok && mcpauth__json_add(tools_capability, "listChanged", json_object_new_boolean(0)) &&
         mcpauth__json_add(capabilities, "tools", json_object_get(tools_capability)) &&
         mcpauth__json_add(result, "supportedVersions", json_object_get(list)) &&
         mcpauth__json_add(result, "capabilities", json_object_get(capabilities)) &&
         (!config->instructions ||
          mcpauth__json_add(result, "instructions", json_object_new_string(config->instructions)));
    json_object_put(tools_capability);
    json_object_put(capabilities);
    json_object_put(list);
    if (!ok) {
        json_object_put(result);
        return NULL;
    }
    return result;
}

/* The built-in kind's state (backend->kind): the members every modern
 * result ends with, serialized once, on first use. */
typedef struct builtin_state {
    char *result_members;
} builtin_state;

/* basic §ResultType, §_meta: every result says it is complete and who
 * answered; neither changes while the server runs, so both are text made
 * once per backend and added as the answer is serialized. NULL on
 * allocation failure. */
static const char *result_members(mcpauth_mcp_backend *backend)
{
    builtin_state *state = backend->kind;
    if (state->result_members)
        return state->result_members;
    json_object *members = json_object_new_object();
    json_object *meta = json_object_new_object();
    const char *text = NULL;
    bool ok = members && meta &&
              mcpauth__json_add(meta, "io.modelcontextprotocol/serverInfo",
                                server_info(backend->server)) &&
              mcpauth__json_add(members, "_meta", json_object_get(meta)) &&
              mcpauth__json_add(members, "resultType", json_object_new_string("complete")) &&
              (text = mcpauth__jsonrpc_serialize(members, NULL)) != NULL;
    /* The members without the braces around them. */
    size_t length = text ? strlen(text) : 0;
    if (ok && length > 2)
        state->result_members = strndup(text + 1, length - 2);
    json_object_put(meta);
    json_object_put(members);
    return state->result_members;
}

/* server/utilities/caching §Cacheable Results: discover and tools/list say
 * how long and for whom they may be kept. A tools/list the policy filtered
 * depends on the caller's scopes: "private" (§Choosing a Cache Scope);
 * otherwise it is the same for everyone: "public". */
static bool cache_members(const mcpauth__mcp_call *call, json_object *response)
{
    mcpauth__mcp_method method = call->msg->known;
    json_object *result = NULL;
    if ((method != MCPAUTH__METHOD_SERVER_DISCOVER && method != MCPAUTH__METHOD_TOOLS_LIST) ||
        !json_object_object_get_ex(response, "result", &result))
        return true; /* not cacheable, or an error */
    const char *scope = call->filter ? "private" : "public";
    return mcpauth__json_add(result, "ttlMs", json_object_new_int(MODERN_TTL_MS)) &&
           mcpauth__json_add(result, "cacheScope", json_object_new_string(scope));
}

static void modern_post(mcpauth_mcp_backend *backend, const mcpauth__mcp_call *call)
{
    const mcpauth__jsonrpc_message *msg = call->msg;
    json_object *response = msg->known == MCPAUTH__METHOD_SERVER_DISCOVER
                                ? mcpauth__jsonrpc_result(msg->id, discover_result(backend->server))
                                : answer(backend, call);
    const char *members = response ? result_members(backend) : NULL;
    if (response && (!members || !cache_members(call, response))) {
        json_object_put(response);
        response = NULL;
    }
    mcpauth__mcp_reply_result_extending(call->sink, 200, response, members);
}

static bool is_modern(const mcpauth__mcp_call *call)
{
    return call->protocol_version &&
           strcmp(call->protocol_version, MCPAUTH_MCP_MODERN_VERSION) == 0;
}

/* Notifications and client responses are accepted and otherwise ignored
 * (transports §Sending Messages 4: 202). */
static void builtin_post(mcpauth_mcp_backend *backend, mcpauth__mcp_call *call)
{
    if (call->msg->kind != MCPAUTH__JSONRPC_REQUEST) {
        mcpauth__mcp_reply_status(call->sink, 202);
        return;
    }
    if (is_modern(call))
        modern_post(backend, call);
    else
        mcpauth__mcp_reply_json(call->sink, 200, answer(backend, call), NULL);
}

bool mcpauth__builtin_is(const mcpauth_mcp_backend *backend)
{
    return backend->ops == &mcpauth__mcp_builtin_ops;
}

static void builtin_free(mcpauth_mcp_backend *backend)
{
    builtin_state *state = backend->kind;
    if (state) {
        free(state->result_members);
        free(state);
    }
}

const mcpauth__mcp_backend_ops mcpauth__mcp_builtin_ops = {
    .name = "builtin",
    .batches = true,
    .open_session = builtin_open_session,
    .post = builtin_post,
    .free = builtin_free,
};

mcpauth_mcp_backend *mcpauth__mcp_builtin_new(void)
{
    mcpauth_mcp_backend *backend = calloc(1, sizeof *backend);
    builtin_state *state = calloc(1, sizeof *state);
    if (!backend || !state) {
        free(backend);
        free(state);
        return NULL;
    }
    backend->ops = &mcpauth__mcp_builtin_ops;
    backend->kind = state;
    return backend;
}
