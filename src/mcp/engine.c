/* The MCP engine behind the Streamable HTTP endpoint (MCP 2025-11-25
 * basic/transports §Streamable HTTP, basic/lifecycle): checks one POST or
 * DELETE in the order Accept, Content-Type, JSON, message shape,
 * MCP-Protocol-Version, session, then dispatches each message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcp_internal.h"
#include "mcpauth/json.h"
#include "mcpauth/mcp_legacy.h"
#include "mcpauth/strbuf.h"
#include "mcpauth_config.h"

/* Newest first; MCPAUTH_MCP_LATEST_VERSION is what initialize falls back to. */
static const char *const supported_versions[] = {MCPAUTH_MCP_LATEST_VERSION, "2025-06-18",
                                                 "2025-03-26"};
#define VERSION_COUNT (sizeof supported_versions / sizeof supported_versions[0])

/* MCP 2025-03-26 is the only supported revision with JSON-RPC batches, and
 * the one to assume when nothing says otherwise (transports §Protocol
 * Version Header). */
#define BATCH_VERSION   "2025-03-26"
#define DEFAULT_VERSION "2025-03-26"

/* MCP server/utilities/logging §Log Levels: the RFC 5424 severities. */
static const char *const log_levels[] = {"debug", "info",     "notice", "warning",
                                         "error", "critical", "alert",  "emergency"};
#define LOG_LEVEL_COUNT (sizeof log_levels / sizeof log_levels[0])

#define MAX_ECHOED_VERSION   64  /* bytes of a bad MCP-Protocol-Version we quote */
#define MAX_ECHOED_TOOL_NAME 128 /* MCP server/tools §Tool Names: 1 to 128 */

struct mcpauth_mcp_server {
    mcpauth_mcp_config config;
    mcpauth_mcp_sessions *sessions; /* NULL when stateless */
    bool owns_sessions;             /* made here, not borrowed from config */
};

/* One POST being handled. */
typedef struct exchange {
    mcpauth_mcp_server *server;
    const mcpauth_mcp_request *req;
    mcpauth_mcp_sink *sink;
    json_object *body;         /* the parsed message, for a backend */
    const char *subject;       /* the caller's; NULL when anonymous */
    const char *client_id;     /* the caller's; NULL when none */
    mcpauth__session *session; /* &found when the caller has a live session, else NULL */
    mcpauth__session found;
    bool legacy; /* posted to a session of the HTTP+SSE transport (legacy.c) */
} exchange;

void mcpauth_mcp_config_init(mcpauth_mcp_config *config)
{
    memset(config, 0, sizeof *config);
    config->server_name = "mcpauth";
    config->server_version = MCPAUTH_VERSION;
    config->max_sessions = 10000;
    config->session_idle_seconds = 3600;
}

mcpauth_mcp_server *mcpauth_mcp_server_new(const mcpauth_mcp_config *config)
{
    mcpauth_mcp_server *server = calloc(1, sizeof *server);
    if (!server)
        return NULL;
    server->config = *config;
    if (config->stateless)
        return server;
    server->sessions = config->sessions;
    if (!server->sessions) {
        server->sessions =
            mcpauth_mcp_sessions_new(config->max_sessions, config->session_idle_seconds);
        server->owns_sessions = true;
    }
    if (!server->sessions) {
        free(server);
        return NULL;
    }
    return server;
}

void mcpauth_mcp_server_free(mcpauth_mcp_server *server)
{
    if (!server)
        return;
    if (server->owns_sessions)
        mcpauth_mcp_sessions_free(server->sessions);
    free(server);
}

size_t mcpauth_mcp_session_count(mcpauth_mcp_server *server, int64_t now)
{
    return server->sessions ? mcpauth__session_sweep(server->sessions, now) : 0;
}

/* --- replies ------------------------------------------------------------ */

static void reply_send(mcpauth_mcp_sink *sink, int status, const char *body, size_t length,
                       const char *session_id)
{
    mcpauth_mcp_reply reply = {
        .status = status,
        .content_type = body ? "application/json" : NULL,
        .body = body,
        .body_length = body ? length : 0,
        .session_id = session_id,
    };
    sink->reply(&reply, sink->data);
}

/* Sends message (taken) with status; NULL message means allocation failed
 * somewhere, answered with a bodiless 500. */
static void reply_json(mcpauth_mcp_sink *sink, int status, json_object *message,
                       const char *session_id)
{
    size_t length = 0;
    const char *body = message ? mcpauth__jsonrpc_serialize(message, &length) : NULL;
    if (body)
        reply_send(sink, status, body, length, session_id);
    else
        reply_send(sink, 500, NULL, 0, NULL);
    json_object_put(message);
}

/* Transport-level errors: the request's id is not known or not relevant, so
 * the body is a JSON-RPC error with id null (JSON-RPC 2.0 §5; MCP
 * transports §Sending Messages 4). */
static void reply_error(mcpauth_mcp_sink *sink, int status, int code, const char *message)
{
    reply_json(sink, status, mcpauth__jsonrpc_error(NULL, code, message, NULL), NULL);
}

static void reply_empty(mcpauth_mcp_sink *sink, int status)
{
    reply_send(sink, status, NULL, 0, NULL);
}

/* --- header checks ------------------------------------------------------ */

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *trim_end(const char *start, const char *end)
{
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return end;
}

static bool token_equals(const char *start, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - start) == n && strncasecmp(start, word, n) == 0;
}

/* RFC 9110 §12.4.2: a weight of zero means "not acceptable". */
static bool zero_weight(const char *params, const char *end)
{
    for (const char *p = params; p < end;) {
        const char *next = memchr(p, ';', (size_t)(end - p));
        const char *stop = next ? next : end;
        const char *name = skip_space(p, stop);
        if (stop - name >= 2 && (name[0] == 'q' || name[0] == 'Q') && name[1] == '=') {
            const char *value = name + 2;
            const char *value_end = trim_end(value, stop);
            if (value < value_end && *value == '0') {
                bool zero = true;
                for (const char *v = value + 1; v < value_end; v++)
                    zero = zero && (*v == '0' || (*v == '.' && v == value + 1));
                if (zero)
                    return true;
            }
        }
        p = next ? next + 1 : end;
    }
    return false;
}

/* Whether one Accept element (RFC 9110 §12.5.1 media range) covers
 * type/subtype. */
static bool range_matches(const char *start, const char *end, const char *type, const char *subtype)
{
    const char *semicolon = memchr(start, ';', (size_t)(end - start));
    const char *range_end = trim_end(start, semicolon ? semicolon : end);
    start = skip_space(start, range_end);
    const char *slash = memchr(start, '/', (size_t)(range_end - start));
    if (!slash)
        return false;
    if (semicolon && zero_weight(semicolon + 1, end))
        return false;
    if (token_equals(start, slash, "*"))
        return token_equals(slash + 1, range_end, "*");
    return token_equals(start, slash, type) &&
           (token_equals(slash + 1, range_end, "*") || token_equals(slash + 1, range_end, subtype));
}

static bool accepts(const char *accept, const char *type, const char *subtype)
{
    const char *end = accept + strlen(accept);
    for (const char *p = accept; p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if (range_matches(p, stop, type, subtype))
            return true;
        p = comma ? comma + 1 : end;
    }
    return false;
}

/* MCP transports §Sending Messages 2: the client's Accept lists both
 * application/json and text/event-stream. A missing Accept fails too, as in
 * the TypeScript SDK's server. */
static bool accept_ok(const char *accept)
{
    return accept && accepts(accept, "application", "json") &&
           accepts(accept, "text", "event-stream");
}

/* RFC 9110 §8.3: the media type before any parameters, case-insensitively. */
static bool content_type_ok(const char *content_type)
{
    if (!content_type)
        return false;
    const char *end = content_type + strcspn(content_type, ";");
    const char *start = skip_space(content_type, end);
    return token_equals(start, trim_end(start, end), "application/json");
}

static const char *supported_version(const char *version)
{
    for (size_t i = 0; version && i < VERSION_COUNT; i++) {
        if (strcmp(version, supported_versions[i]) == 0)
            return supported_versions[i];
    }
    return NULL;
}

/* The legacy HTTP+SSE transport belongs to 2024-11-05, which its clients
 * typically ask for; Streamable HTTP never spoke it. */
static const char *version_for(bool legacy, const char *version)
{
    if (legacy && version && strcmp(version, MCPAUTH_MCP_LEGACY_VERSION) == 0)
        return MCPAUTH_MCP_LEGACY_VERSION;
    return supported_version(version);
}

bool mcpauth__engine_version_ok(const char *version, bool legacy)
{
    return version_for(legacy, version) != NULL;
}

/* Whether text is short, printable ASCII that can be quoted back safely. */
static bool quotable(const char *text, size_t max)
{
    size_t n = strnlen(text, max + 1);
    if (n == 0 || n > max)
        return false;
    for (const unsigned char *p = (const unsigned char *)text; p < (const unsigned char *)text + n;
         p++) {
        if (*p < 0x20 || *p > 0x7e)
            return false;
    }
    return true;
}

/* MCP transports §Protocol Version Header: an invalid or unsupported
 * MCP-Protocol-Version gets 400; the body names what we support, in the
 * words of the TypeScript SDK, with the list as data too (as the 2026-07-28
 * UnsupportedProtocolVersion error carries it). */
static void reply_bad_version(mcpauth_mcp_sink *sink, const char *requested)
{
    mcpauth_strbuf message = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&message, "Bad Request: Unsupported protocol version");
    if (quotable(requested, MAX_ECHOED_VERSION))
        mcpauth_strbuf_appendf(&message, ": %s", requested);
    json_object *detail = json_object_new_object();
    json_object *list = json_object_new_array();
    bool ok = detail && list;
    for (size_t i = 0; ok && i < VERSION_COUNT; i++) {
        mcpauth_strbuf_appendf(&message, "%s%s",
                               i ? ", " : " (supported versions: ", supported_versions[i]);
        json_object *item = json_object_new_string(supported_versions[i]);
        ok = item && json_object_array_add(list, item) == 0;
        if (!ok)
            json_object_put(item);
    }
    mcpauth_strbuf_appends(&message, ")");
    ok = ok && !mcpauth_strbuf_failed(&message) &&
         mcpauth__json_add(detail, "supported", json_object_get(list));
    json_object *error = ok ? mcpauth__jsonrpc_error(NULL, MCPAUTH__JSONRPC_SERVER_ERROR,
                                                     message.data, json_object_get(detail))
                            : NULL;
    reply_json(sink, 400, error, NULL);
    json_object_put(list);
    json_object_put(detail);
    mcpauth_strbuf_free(&message);
}

/* --- methods ------------------------------------------------------------ */

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
static json_object *logging_set_level(exchange *x, const mcpauth__jsonrpc_message *msg)
{
    json_object *level = params_member(msg, "level", json_type_string);
    for (size_t i = 0; level && i < LOG_LEVEL_COUNT; i++) {
        if (strcmp(json_object_get_string(level), log_levels[i]) == 0) {
            if (x->session)
                mcpauth__session_set_log_level(x->server->sessions, x->session->id, log_levels[i]);
            return mcpauth__jsonrpc_result(msg->id, json_object_new_object());
        }
    }
    return invalid_params(msg, "Invalid params: level must be one of debug, info, notice, "
                               "warning, error, critical, alert, emergency");
}

/* MCP server/tools §Calling Tools; §Error Handling: an unknown tool is a
 * JSON-RPC error (-32602), a tool's own failure a result with isError. */
static json_object *tools_call(exchange *x, const mcpauth__jsonrpc_message *msg)
{
    json_object *name = params_member(msg, "name", json_type_string);
    if (!name)
        return invalid_params(msg, "Invalid params: tools/call needs a tool name");
    json_object *arguments = NULL;
    if (json_object_object_get_ex(msg->params, "arguments", &arguments) &&
        !json_object_is_type(arguments, json_type_object))
        return invalid_params(msg, "Invalid params: arguments must be an object");

    json_object *result = NULL;
    switch (
        mcpauth__tools_call(json_object_get_string(name), arguments, &x->req->identity, &result)) {
    case MCPAUTH__TOOL_OK:
        return mcpauth__jsonrpc_result(msg->id, result);
    case MCPAUTH__TOOL_UNKNOWN:
        break;
    case MCPAUTH__TOOL_NO_MEMORY:
        return NULL;
    }
    const char *text = json_object_get_string(name);
    char message[64 + MAX_ECHOED_TOOL_NAME];
    if (quotable(text, MAX_ECHOED_TOOL_NAME))
        snprintf(message, sizeof message, "Unknown tool: %s", text);
    else
        snprintf(message, sizeof message, "Unknown tool");
    return invalid_params(msg, message);
}

/* The answer to one request other than initialize; NULL on allocation
 * failure. */
static json_object *dispatch(exchange *x, const mcpauth__jsonrpc_message *msg)
{
    const char *method = msg->method;
    /* basic/utilities/ping: an empty result, promptly. */
    if (strcmp(method, "ping") == 0)
        return mcpauth__jsonrpc_result(msg->id, json_object_new_object());
    if (strcmp(method, "tools/list") == 0) {
        json_object *tools = mcpauth__tools_list();
        /* Issue 5: the caller sees only the tools its token may call. Our
         * own list always has the shape the filter needs. */
        if (tools)
            mcpauth_tool_policy_filter_tools_list(x->server->config.tool_policy, tools,
                                                  x->req->identity.token, NULL);
        return mcpauth__jsonrpc_result(msg->id, tools);
    }
    if (strcmp(method, "tools/call") == 0)
        return tools_call(x, msg);
    if (strcmp(method, "logging/setLevel") == 0)
        return logging_set_level(x, msg);
    return mcpauth__jsonrpc_error(msg->id, MCPAUTH__JSONRPC_METHOD_NOT_FOUND, "Method not found",
                                  NULL);
}

/* lifecycle §Initialization: protocolVersion, capabilities, serverInfo and
 * optional instructions. We declare only what we implement (§Capability
 * Negotiation): tools (a fixed list) and logging. */
static json_object *initialize_result(const mcpauth_mcp_config *config, const char *version)
{
    json_object *result = json_object_new_object();
    json_object *capabilities = json_object_new_object();
    json_object *tools = json_object_new_object();
    json_object *info = json_object_new_object();
    bool ok =
        result && capabilities && tools && info &&
        mcpauth__json_add(tools, "listChanged", json_object_new_boolean(0)) &&
        mcpauth__json_add(capabilities, "tools", json_object_get(tools)) &&
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
    json_object_put(tools);
    json_object_put(capabilities);
    json_object_put(info);
    if (!ok) {
        json_object_put(result);
        return NULL;
    }
    return result;
}

/* The legacy transport made its session when the stream opened: initialize
 * runs in it, once with a backend (whose child it starts). False when sink
 * was answered. */
static bool legacy_session_ready(exchange *x)
{
    if (!x->session) {
        reply_error(x->sink, 404, MCPAUTH__JSONRPC_NO_SESSION, "Session not found");
        return false;
    }
    if (x->server->config.backend &&
        mcpauth__backend_has(x->server->config.backend, x->session->id)) {
        reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                    "Invalid Request: Server already initialized");
        return false;
    }
    return true;
}

static void handle_initialize(exchange *x, const mcpauth__jsonrpc_message *msg)
{
    mcpauth_mcp_server *server = x->server;
    if (x->legacy && !legacy_session_ready(x))
        return;
    /* A session exists already: the TypeScript SDK's answer to a second
     * initialize. */
    if (!server->config.stateless && x->req->session_id && !x->legacy) {
        reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                    "Invalid Request: Server already initialized");
        return;
    }
    json_object *requested = params_member(msg, "protocolVersion", json_type_string);
    if (!requested) {
        reply_json(x->sink, 200,
                   invalid_params(msg, "Invalid params: initialize needs protocolVersion"), NULL);
        return;
    }
    /* lifecycle §Version Negotiation: echo a version we support, else offer
     * our latest; the client decides whether it can live with that. */
    const char *version = version_for(x->legacy, json_object_get_string(requested));
    if (!version)
        version = MCPAUTH_MCP_LATEST_VERSION;

    mcpauth__session created;
    mcpauth__session *session = x->legacy ? x->session : NULL;
    if (!server->config.stateless && !x->legacy) {
        switch (mcpauth__session_create(server->sessions, x->subject, x->client_id, version,
                                        x->req->now, &created)) {
        case MCPAUTH__SESSION_CREATED:
            session = &created;
            break;
        case MCPAUTH__SESSION_FULL:
            reply_error(x->sink, 503, MCPAUTH__JSONRPC_SERVER_ERROR,
                        "Service Unavailable: too many sessions");
            return;
        case MCPAUTH__SESSION_NO_MEMORY:
            reply_json(x->sink, 500, NULL, NULL);
            return;
        }
    }
    /* A stdio backend answers initialize itself (its capabilities are its
     * own); the session above is what binds it to the caller. */
    if (server->config.backend && session) {
        if (!mcpauth__backend_initialize(server->config.backend, server->sessions, session->id,
                                         &x->req->identity, x->body, msg, x->sink))
            mcpauth__session_remove(server->sessions, session->id);
        return;
    }
    json_object *reply =
        mcpauth__jsonrpc_result(msg->id, initialize_result(&server->config, version));
    if (!reply && session && !x->legacy) {
        mcpauth__session_remove(server->sessions, session->id);
        session = NULL;
    }
    reply_json(x->sink, 200, reply, session ? session->id : NULL);
}

/* --- POST --------------------------------------------------------------- */

/* Classifies every message; false when one is not valid JSON-RPC. */
static bool classify_all(json_object *body, mcpauth__jsonrpc_message *messages, size_t count)
{
    if (!json_object_is_type(body, json_type_array))
        return mcpauth__jsonrpc_classify(body, &messages[0]) != MCPAUTH__JSONRPC_INVALID;
    for (size_t i = 0; i < count; i++) {
        json_object *element = json_object_array_get_idx(body, i);
        if (mcpauth__jsonrpc_classify(element, &messages[i]) == MCPAUTH__JSONRPC_INVALID)
            return false;
    }
    return true;
}

static bool is_initialize(const mcpauth__jsonrpc_message *msg)
{
    return msg->kind == MCPAUTH__JSONRPC_REQUEST && strcmp(msg->method, "initialize") == 0;
}

/* Answers the requests among messages: one response object for a single
 * message, an array for a batch, 202 when nothing needed an answer
 * (transports §Sending Messages 4). Notifications and client responses are
 * accepted and otherwise ignored. */
static void answer(exchange *x, const mcpauth__jsonrpc_message *messages, size_t count, bool batch)
{
    json_object *responses = batch ? json_object_new_array() : NULL;
    json_object *single = NULL;
    if (batch && !responses) {
        reply_json(x->sink, 500, NULL, NULL);
        return;
    }
    size_t answered = 0;
    for (size_t i = 0; i < count; i++) {
        if (messages[i].kind != MCPAUTH__JSONRPC_REQUEST)
            continue;
        json_object *response = dispatch(x, &messages[i]);
        if (!response || (batch && json_object_array_add(responses, response) != 0)) {
            json_object_put(response);
            json_object_put(responses);
            reply_json(x->sink, 500, NULL, NULL);
            return;
        }
        if (!batch)
            single = response;
        answered++;
    }
    if (answered == 0) {
        json_object_put(responses);
        reply_empty(x->sink, 202);
        return;
    }
    reply_json(x->sink, 200, batch ? responses : single, NULL);
}

/* With a stdio backend every checked message goes to the session's child;
 * a session whose child is gone is over (transports §Session Management 3:
 * 404, and the client starts again). */
static void forward(exchange *x, const mcpauth__jsonrpc_message *msg, bool batch)
{
    mcpauth_mcp_backend *backend = x->server->config.backend;
    if (batch) {
        reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                    "Invalid Request: batches are not supported with a stdio backend");
        return;
    }
    if (!mcpauth__backend_has(backend, x->session->id)) {
        mcpauth__session_remove(x->server->sessions, x->session->id);
        reply_error(x->sink, 404, MCPAUTH__JSONRPC_NO_SESSION, "Session not found");
        return;
    }
    /* Issue 5: the child's tools/list answer is filtered for the token of
     * the request that asked (a shared child serves many callers). */
    const mcpauth_tool_policy *policy = x->server->config.tool_policy;
    mcpauth__tools_view view = {.policy = policy, .granted = x->req->identity.token};
    bool filter = msg->kind == MCPAUTH__JSONRPC_REQUEST && strcmp(msg->method, "tools/list") == 0 &&
                  !mcpauth_tool_policy_is_empty(policy);
    mcpauth__backend_post(backend, x->session->id, x->body, msg, filter ? &view : NULL, x->sink);
}

/* The version in force for this POST: the header's when present, else the
 * session's, else 2025-03-26 (transports §Protocol Version Header). NULL
 * when the header names a version we do not support. */
static const char *effective_version(const exchange *x)
{
    if (x->req->protocol_version)
        return version_for(x->legacy, x->req->protocol_version);
    return x->session ? x->session->protocol_version : DEFAULT_VERSION;
}

static void handle_body(exchange *x, json_object *body)
{
    const mcpauth_mcp_request *req = x->req;
    bool batch = json_object_is_type(body, json_type_array);
    size_t count = batch ? json_object_array_length(body) : 1;
    if (!batch && !json_object_is_type(body, json_type_object)) {
        reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                    "Invalid Request: expected a JSON-RPC message object");
        return;
    }
    if (batch && count == 0) {
        reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST, "Invalid Request: empty batch");
        return;
    }
    if (batch && count > MCPAUTH__JSONRPC_MAX_BATCH) {
        reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                    "Invalid Request: a batch holds at most 64 messages");
        return;
    }

    if (!x->server->config.stateless && req->session_id &&
        mcpauth__session_find(x->server->sessions, req->session_id, x->subject, x->client_id,
                              req->now, &x->found))
        x->session = &x->found;
    /* 2025-06-18 changelog §Major 1: batching was removed; only a client
     * speaking 2025-03-26 may send arrays (T0326 §Sending Messages 3). */
    const char *version = effective_version(x);
    if (batch && (!version || strcmp(version, BATCH_VERSION) != 0)) {
        reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                    "Invalid Request: batches are only allowed with protocol version "
                    "2025-03-26");
        return;
    }

    mcpauth__jsonrpc_message messages[MCPAUTH__JSONRPC_MAX_BATCH];
    if (!classify_all(body, messages, count)) {
        reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                    "Invalid Request: not a valid JSON-RPC 2.0 message");
        return;
    }
    if (req->protocol_version && !version) {
        reply_bad_version(x->sink, req->protocol_version);
        return;
    }
    /* 2025-03-26 lifecycle §Initialization: initialize MUST NOT be part of a
     * batch. */
    for (size_t i = 0; batch && i < count; i++) {
        if (is_initialize(&messages[i])) {
            reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                        "Invalid Request: initialize must not be part of a batch");
            return;
        }
    }
    if (!batch && is_initialize(&messages[0])) {
        handle_initialize(x, &messages[0]);
        return;
    }

    /* transports §Session Management 2-4: no id is 400; an unknown, expired
     * or someone else's id is 404 alike, revealing nothing. */
    if (!x->server->config.stateless) {
        if (!req->session_id) {
            reply_error(x->sink, 400, MCPAUTH__JSONRPC_SERVER_ERROR,
                        "Bad Request: Mcp-Session-Id header is required");
            return;
        }
        if (!x->session) {
            reply_error(x->sink, 404, MCPAUTH__JSONRPC_NO_SESSION, "Session not found");
            return;
        }
        mcpauth__session_touch(x->server->sessions, x->session->id, req->now);
    }
    if (x->server->config.backend) {
        forward(x, &messages[0], batch);
        return;
    }
    answer(x, messages, count, batch);
}

/* Who the caller is, for binding sessions: no token means anonymous. */
static void caller(const mcpauth_mcp_request *req, const char **subject, const char **client_id)
{
    const mcpauth_token_info *token = req->identity.token;
    *subject = token ? token->subject : NULL;
    *client_id = token ? token->client_id : NULL;
}

void mcpauth_mcp_handle_post(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                             mcpauth_mcp_sink *sink)
{
    if (!accept_ok(req->accept)) {
        reply_error(sink, 406, MCPAUTH__JSONRPC_SERVER_ERROR,
                    "Not Acceptable: Client must accept both application/json and "
                    "text/event-stream");
        return;
    }
    if (!content_type_ok(req->content_type)) {
        reply_error(sink, 415, MCPAUTH__JSONRPC_SERVER_ERROR,
                    "Unsupported Media Type: Content-Type must be application/json");
        return;
    }
    json_object *body =
        req->body ? mcpauth_json_parse(req->body, req->body_length, "request body", NULL) : NULL;
    if (!body) {
        reply_error(sink, 400, MCPAUTH__JSONRPC_PARSE_ERROR, "Parse error: Invalid JSON");
        return;
    }
    exchange x = {.server = server, .req = req, .sink = sink, .body = body};
    caller(req, &x.subject, &x.client_id);
    handle_body(&x, body);
    json_object_put(body);
}

/* --- the legacy HTTP+SSE transport ------------------------------------- */

void mcpauth__engine_legacy_post(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                                 json_object *body, mcpauth_mcp_sink *sink)
{
    exchange x = {.server = server, .req = req, .sink = sink, .body = body, .legacy = true};
    caller(req, &x.subject, &x.client_id);
    handle_body(&x, body);
}

mcpauth_mcp_sessions *mcpauth__engine_sessions(mcpauth_mcp_server *server)
{
    return server->sessions;
}

struct mcpauth_mcp_backend *mcpauth__engine_backend(mcpauth_mcp_server *server)
{
    return server->config.backend;
}

/* --- DELETE ------------------------------------------------------------- */

/* transports §Session Management 5: DELETE ends a session; a server that
 * does not allow that (here: has no sessions) answers 405. */
/* The checks DELETE and GET share (they carry no body): the version header
 * (400), a session id (400) naming a live session of the caller's (404).
 * False when sink was answered. */
static bool bodiless_session(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                             mcpauth_mcp_sink *sink, mcpauth__session *out)
{
    if (req->protocol_version && !supported_version(req->protocol_version)) {
        reply_bad_version(sink, req->protocol_version);
        return false;
    }
    if (!req->session_id) {
        reply_error(sink, 400, MCPAUTH__JSONRPC_SERVER_ERROR,
                    "Bad Request: Mcp-Session-Id header is required");
        return false;
    }
    const char *subject, *client_id;
    caller(req, &subject, &client_id);
    if (!mcpauth__session_find(server->sessions, req->session_id, subject, client_id, req->now,
                               out)) {
        reply_error(sink, 404, MCPAUTH__JSONRPC_NO_SESSION, "Session not found");
        return false;
    }
    return true;
}

void mcpauth_mcp_handle_delete(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                               mcpauth_mcp_sink *sink)
{
    if (server->config.stateless) {
        reply_error(sink, 405, MCPAUTH__JSONRPC_SERVER_ERROR,
                    "Method Not Allowed: this server has no sessions");
        return;
    }
    mcpauth__session session;
    if (!bodiless_session(server, req, sink, &session))
        return;
    /* Another process may end it between the two calls: 404 then, as if it
     * had come first. */
    if (!mcpauth__session_remove(server->sessions, session.id)) {
        reply_error(sink, 404, MCPAUTH__JSONRPC_NO_SESSION, "Session not found");
        return;
    }
    if (server->config.backend)
        mcpauth__backend_end_session(server->config.backend, session.id);
    reply_empty(sink, 200);
}

/* --- GET ---------------------------------------------------------------- */

/* transports §Listening for Messages from the Server: the standalone SSE
 * stream exists only with a backend (the built-in tools never speak
 * first): 405 otherwise. Accept must list text/event-stream. */
void mcpauth_mcp_handle_get(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                            mcpauth_mcp_sink *sink)
{
    if (!server->config.backend || server->config.stateless || !sink->stream_start) {
        reply_empty(sink, 405);
        return;
    }
    if (!req->accept || !accepts(req->accept, "text", "event-stream")) {
        reply_error(sink, 406, MCPAUTH__JSONRPC_SERVER_ERROR,
                    "Not Acceptable: Client must accept text/event-stream");
        return;
    }
    mcpauth__session session;
    if (!bodiless_session(server, req, sink, &session))
        return;
    if (!mcpauth__backend_has(server->config.backend, session.id)) {
        mcpauth__session_remove(server->sessions, session.id);
        reply_error(sink, 404, MCPAUTH__JSONRPC_NO_SESSION, "Session not found");
        return;
    }
    mcpauth__session_touch(server->sessions, session.id, req->now);
    mcpauth__backend_get(server->config.backend, session.id, req->last_event_id, sink);
}
