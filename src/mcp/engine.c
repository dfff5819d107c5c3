/* The MCP engine under both transports (MCP 2025-11-25 basic/lifecycle,
 * basic/transports §Session Management): the protocol versions, the
 * sessions bound to the caller, initialize, the batch rules, the tool
 * policy, and handing each checked message to the backend through its
 * operations (mcp_internal.h). It knows no HTTP: streamable_http.c and
 * legacy.c are the transports that call it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "mcpauth/json.h"
#include "mcpauth/mcp_legacy.h"
#include "mcpauth/strbuf.h"
#include "mcpauth_config.h"

/* Newest first; MCPAUTH_MCP_LATEST_VERSION is what initialize falls back to. */
static const char *const supported_versions[] = {MCPAUTH_MCP_LATEST_VERSION, "2025-06-18",
                                                 "2025-03-26"};
#define VERSION_COUNT (sizeof supported_versions / sizeof supported_versions[0])

/* Every version a server with the built-in tools answers, both eras. */
static const char *const served_versions[] = {
    MCPAUTH_MCP_MODERN_VERSION, MCPAUTH_MCP_LATEST_VERSION, "2025-06-18", "2025-03-26"};
#define SERVED_COUNT (sizeof served_versions / sizeof served_versions[0])

/* MCP 2025-03-26 is the only supported revision with JSON-RPC batches, and
 * the one to assume when nothing says otherwise (transports §Protocol
 * Version Header). */
#define BATCH_VERSION   "2025-03-26"
#define DEFAULT_VERSION "2025-03-26"

#define MAX_ECHOED_VERSION 64 /* bytes of a bad MCP-Protocol-Version we quote */

struct mcpauth_mcp_server {
    mcpauth_mcp_config config;
    mcpauth_mcp_sessions *sessions; /* NULL when stateless */
    bool owns_sessions;             /* made here, not borrowed from config */
    mcpauth_mcp_backend *backend;   /* config.backend, or the built-in tools */
    bool owns_backend;
    struct mcpauth__listen *listens; /* open subscriptions/listen streams */
    struct mcpauth__era *era;        /* era_bridge.c: modern callers of a 2025 backend */
    uint64_t limit_hits[MCPAUTH_MCP_LIMIT_COUNT];
};

/* One POST being handled. */
typedef struct exchange {
    mcpauth_mcp_server *server;
    const mcpauth_mcp_request *req;
    mcpauth_mcp_sink *sink;
    json_object *body;         /* the parsed message, for a backend */
    mcpauth__session *session; /* &found when the caller has a live session, else NULL */
    mcpauth__session found;
    mcpauth__transport transport;
    const char *version; /* stateless: the request's own */
    bool legacy;         /* posted to a session of the HTTP+SSE transport (legacy.c) */
    bool stateless;      /* no sessions: every POST stands alone */
} exchange;

void mcpauth_mcp_config_init(mcpauth_mcp_config *config)
{
    memset(config, 0, sizeof *config);
    config->server_name = "mcpauth";
    config->server_version = MCPAUTH_VERSION;
    config->max_sessions = 10000;
    config->max_sessions_per_identity = 16;
    config->session_idle_seconds = 3600;
    config->keepalive_ms = 15000;
    config->request_state_ttl_ms = 300000;
    config->max_input_waits = 16;
}

mcpauth_mcp_server *mcpauth_mcp_server_new(const mcpauth_mcp_config *config)
{
    mcpauth_mcp_server *server = calloc(1, sizeof *server);
    if (!server)
        return NULL;
    server->config = *config;
    server->backend = config->backend;
    if (!server->backend) {
        server->backend = mcpauth__mcp_builtin_new();
        server->owns_backend = true;
    }
    if (!config->stateless) {
        server->sessions = config->sessions;
        if (!server->sessions) {
            server->sessions =
                mcpauth_mcp_sessions_new(config->max_sessions, config->session_idle_seconds);
            server->owns_sessions = true;
        }
    }
    if (!server->backend || (!config->stateless && !server->sessions)) {
        mcpauth_mcp_server_free(server);
        return NULL;
    }
    mcpauth__backend_bind(server->backend, server, server->sessions, &server->config);
    if (server->backend->ops->sessions && server->sessions &&
        !(server->era = mcpauth__era_new(server))) {
        mcpauth_mcp_server_free(server);
        return NULL;
    }
    return server;
}

void mcpauth_mcp_server_free(mcpauth_mcp_server *server)
{
    if (!server)
        return;
    mcpauth__era_free(server->era);
    if (server->owns_sessions)
        mcpauth_mcp_sessions_free(server->sessions);
    if (server->owns_backend)
        mcpauth_mcp_backend_free(server->backend);
    free(server);
}

size_t mcpauth_mcp_session_count(mcpauth_mcp_server *server, int64_t now)
{
    return server->sessions ? mcpauth__session_sweep(server->sessions, now) : 0;
}

int64_t mcpauth_mcp_session_holder(mcpauth_mcp_server *server, const char *session_id, int64_t now)
{
    return server->sessions ? mcpauth__session_pid(server->sessions, session_id, now) : 0;
}

void mcpauth_mcp_limit_hits(const mcpauth_mcp_server *server,
                            uint64_t hits[MCPAUTH_MCP_LIMIT_COUNT])
{
    memcpy(hits, server->limit_hits, sizeof server->limit_hits);
}

mcpauth_mcp_sessions *mcpauth__engine_sessions(mcpauth_mcp_server *server)
{
    return server->sessions;
}

mcpauth_mcp_backend *mcpauth__engine_backend(mcpauth_mcp_server *server)
{
    return server->backend;
}

bool mcpauth_mcp_server_reads_param_headers(const mcpauth_mcp_server *server)
{
    return !mcpauth__builtin_is(server->backend);
}

const mcpauth_mcp_config *mcpauth__engine_config(const mcpauth_mcp_server *server)
{
    return &server->config;
}

struct mcpauth__listen **mcpauth__engine_listens(mcpauth_mcp_server *server)
{
    return &server->listens;
}

struct mcpauth__era **mcpauth__engine_era(mcpauth_mcp_server *server)
{
    return &server->era;
}

const char *const *mcpauth__engine_session_versions(size_t *count)
{
    *count = VERSION_COUNT;
    return supported_versions;
}

/* The built-in tools speak both eras; another backend the 2026-07-28 one
 * while it says so (an upstream that answered server/discover), or
 * through the era bridge when it keeps sessions. */
const char *const *mcpauth__engine_served_versions(const mcpauth_mcp_server *server, size_t *count)
{
    mcpauth_mcp_backend *backend = server->backend;
    if (mcpauth__builtin_is(backend) ||
        (backend->ops->speaks_modern && backend->ops->speaks_modern(backend)) ||
        mcpauth__era_bridges(server)) {
        *count = SERVED_COUNT;
        return served_versions;
    }
    *count = VERSION_COUNT;
    return supported_versions;
}

bool mcpauth__engine_streams(const mcpauth_mcp_server *server)
{
    return server->backend->ops->open_stream != NULL;
}

/* --- versions ----------------------------------------------------------- */

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
const char *mcpauth__engine_version(const char *version, mcpauth__transport transport)
{
    if (transport == MCPAUTH__TRANSPORT_LEGACY_SSE && version &&
        strcmp(version, MCPAUTH_MCP_LEGACY_VERSION) == 0)
        return MCPAUTH_MCP_LEGACY_VERSION;
    return supported_version(version);
}

/* The body names what we support, in the words of the TypeScript SDK, with
 * the list as data too (as the 2026-07-28 UnsupportedProtocolVersion error
 * carries it). */
void mcpauth__engine_reply_bad_version(mcpauth_mcp_sink *sink, const char *requested)
{
    mcpauth_strbuf message = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&message, "Bad Request: Unsupported protocol version");
    if (mcpauth__mcp_quotable(requested, MAX_ECHOED_VERSION))
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
    mcpauth__mcp_reply_json(sink, 400, error, NULL);
    json_object_put(list);
    json_object_put(detail);
    mcpauth_strbuf_free(&message);
}

/* --- the request body --------------------------------------------------- */

static const char *const meta_path[] = {"params", "_meta"};
static const char *const meta_members[MCPAUTH__META_CHECKED] = {
    [MCPAUTH__META_VERSION] = "io.modelcontextprotocol/protocolVersion",
    [MCPAUTH__META_CAPABILITIES] = "io.modelcontextprotocol/clientCapabilities",
    [MCPAUTH__META_LOG_LEVEL] = "io.modelcontextprotocol/logLevel",
};
static const mcpauth_json_deferral meta_deferral = {meta_path, 2, meta_members,
                                                    MCPAUTH__META_CHECKED};

json_object *mcpauth__engine_parse_body(const char *text, size_t length, bool modern,
                                        mcpauth_json_deferred *meta)
{
    *meta = (mcpauth_json_deferred){0};
    if (!text)
        return NULL;
    if (!modern)
        return mcpauth_json_parse(text, length, "request body", NULL);
    return mcpauth_json_parse_deferring(text, length, "request body", &meta_deferral, meta, NULL);
}

bool mcpauth__engine_restore_meta(json_object *body, const mcpauth_json_deferred *meta)
{
    return mcpauth_json_restore(body, &meta_deferral, meta->text);
}

json_object *mcpauth__engine_parsed(mcpauth_mcp_request *req)
{
    if (!req->body_parsed) {
        req->parsed =
            mcpauth__engine_parse_body(req->body, req->body_length, req->modern, &req->meta);
        req->body_parsed = true;
    }
    return req->parsed;
}

/* --- the tool policy ---------------------------------------------------- */

/* 2026-07-28 streamable-http §Server Validation (Note): the tool name is
 * read from Mcp-Name, trusted only because the revision makes the server
 * check it against the body; a request that fails that check decides
 * nothing here and is refused with -32020 before anything runs. */
mcpauth_status mcpauth_mcp_check_tools(mcpauth_mcp_server *server, mcpauth_mcp_request *req,
                                       const char *const *base, size_t base_count,
                                       mcpauth_mcp_tool_policy_verdict *verdict)
{
    json_object *parsed = mcpauth__engine_parsed(req);
    if (req->modern) {
        /* Without rules nothing is decided: spare reading the headers. */
        char *tool = mcpauth_mcp_tool_policy_is_empty(server->config.tool_policy)
                         ? NULL
                         : mcpauth__stateless_called_tool(req);
        mcpauth_status status =
            tool
                ? mcpauth_mcp_tool_policy_check_call(server->config.tool_policy, tool,
                                                     req->identity.token, base, base_count, verdict)
                : mcpauth_mcp_tool_policy_check_message(NULL, NULL, NULL, base, base_count,
                                                        verdict);
        free(tool);
        return status;
    }
    return mcpauth_mcp_tool_policy_check_message(server->config.tool_policy, parsed,
                                                 req->identity.token, base, base_count, verdict);
}

void mcpauth_mcp_request_release(mcpauth_mcp_request *req)
{
    json_object_put(req->parsed);
    req->parsed = NULL;
    req->body_parsed = false;
}

/* --- sessions ----------------------------------------------------------- */

/* Who the caller is, for binding sessions: no token means anonymous. */
static void caller(const mcpauth_mcp_request *req, const char **subject, const char **client_id)
{
    const mcpauth_token_info *token = req->identity.token;
    *subject = token ? token->subject : NULL;
    *client_id = token ? token->client_id : NULL;
}

bool mcpauth__engine_find_session(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                                  mcpauth__session *out)
{
    const char *subject, *client_id;
    caller(req, &subject, &client_id);
    return server->sessions && req->session_id &&
           mcpauth__session_find(server->sessions, req->session_id, subject, client_id, req->now,
                                 out);
}

/* Whether the backend still serves the session; one it no longer does is
 * over (transports §Session Management 3: 404, and the client starts
 * again). False when sink was answered. */
static bool backend_serves(mcpauth_mcp_server *server, const char *session_id,
                           mcpauth_mcp_sink *sink)
{
    if (!server->backend->ops->sessions ||
        mcpauth__backend_session_find(server->backend, session_id))
        return true;
    mcpauth__session_remove(server->sessions, session_id);
    mcpauth__mcp_reply_error(sink, 404, MCPAUTH__JSONRPC_NO_SESSION, "Session not found");
    return false;
}

/* A session refused at a limit: 503 when the table is full (the server's
 * trouble), 429 (RFC 6585 §4) at the caller's limit or the backend's, with
 * Retry-After (RFC 9110 §10.2.3) as a hint, since a session frees when its
 * client ends it or it expires; the JSON-RPC error names the limit. */
static void reply_limit(mcpauth_mcp_server *server, mcpauth_mcp_limit limit, mcpauth_mcp_sink *sink)
{
    static const char *const messages[MCPAUTH_MCP_LIMIT_COUNT] = {
        [MCPAUTH_MCP_LIMIT_SESSIONS] = "Service Unavailable: too many sessions",
        [MCPAUTH_MCP_LIMIT_SESSIONS_PER_IDENTITY] =
            ("Too Many Requests: this identity holds --max-sessions-per-identity sessions; end "
             "one (DELETE) or wait for one to expire"),
        [MCPAUTH_MCP_LIMIT_CHILDREN] =
            "Too Many Requests: the backend runs --max-children processes",
    };
    static const char *const names[MCPAUTH_MCP_LIMIT_COUNT] = {
        [MCPAUTH_MCP_LIMIT_SESSIONS] = "max-sessions",
        [MCPAUTH_MCP_LIMIT_SESSIONS_PER_IDENTITY] = "max-sessions-per-identity",
        [MCPAUTH_MCP_LIMIT_CHILDREN] = "max-children",
    };
    server->limit_hits[limit]++;
    json_object *data = json_object_new_object();
    if (data && !mcpauth__json_add(data, "limit", json_object_new_string(names[limit]))) {
        json_object_put(data);
        data = NULL;
    }
    json_object *error =
        data ? mcpauth__jsonrpc_error(NULL, MCPAUTH__JSONRPC_SERVER_ERROR, messages[limit], data)
             : NULL;
    size_t length = 0;
    const char *body = error ? mcpauth__jsonrpc_serialize(error, &length) : NULL;
    mcpauth_mcp_reply reply = {
        .status = body ? (limit == MCPAUTH_MCP_LIMIT_SESSIONS ? 503 : 429) : 500,
        .content_type = body ? "application/json" : NULL,
        .body = body,
        .body_length = length,
        .retry_after =
            body && limit != MCPAUTH_MCP_LIMIT_SESSIONS ? MCPAUTH_MCP_LIMIT_RETRY_AFTER : 0,
    };
    sink->reply(&reply, sink->data);
    json_object_put(error);
}

/* The caller's own limit first: it is the one the caller can do something
 * about, by ending sessions it holds. Without a token (serving without
 * authentication, loopback only) every caller would be one identity: the
 * table's bound and the backend's apply alone. */
bool mcpauth__engine_new_session(mcpauth_mcp_server *server, const mcpauth_mcp_identity *identity,
                                 const char *version, int64_t now, mcpauth_mcp_sink *sink,
                                 mcpauth__session *out)
{
    const mcpauth_token_info *token = identity->token;
    switch (mcpauth__session_create(
        server->sessions, token ? token->subject : NULL, token ? token->client_id : NULL, version,
        token ? server->config.max_sessions_per_identity : 0, now, out)) {
    case MCPAUTH__SESSION_CREATED:
        break;
    case MCPAUTH__SESSION_OWNER_FULL:
        reply_limit(server, MCPAUTH_MCP_LIMIT_SESSIONS_PER_IDENTITY, sink);
        return false;
    case MCPAUTH__SESSION_FULL:
        reply_limit(server, MCPAUTH_MCP_LIMIT_SESSIONS, sink);
        return false;
    case MCPAUTH__SESSION_NO_MEMORY:
        mcpauth__mcp_reply_status(sink, 500);
        return false;
    }
    mcpauth_mcp_backend *backend = server->backend;
    if (backend->ops->full && backend->ops->full(backend)) {
        mcpauth__session_remove(server->sessions, out->id);
        reply_limit(server, MCPAUTH_MCP_LIMIT_CHILDREN, sink);
        return false;
    }
    return true;
}

bool mcpauth__engine_end_session(mcpauth_mcp_server *server, const char *session_id)
{
    bool removed = mcpauth__session_remove(server->sessions, session_id);
    if (server->backend->ops->sessions)
        mcpauth__backend_end_session(server->backend, session_id, MCPAUTH__SESSION_DELETED);
    return removed;
}

void mcpauth__engine_open_stream(mcpauth_mcp_server *server, const mcpauth__session *session,
                                 const mcpauth_mcp_request *req, mcpauth_mcp_sink *sink)
{
    if (!backend_serves(server, session->id, sink))
        return;
    mcpauth__session_touch(server->sessions, session->id, req->now);
    server->backend->ops->open_stream(server->backend, session->id, req->last_event_id, sink);
}

/* --- to the backend ----------------------------------------------------- */

static bool is_request(const mcpauth__jsonrpc_message *msg, mcpauth__mcp_method method)
{
    return msg->kind == MCPAUTH__JSONRPC_REQUEST && msg->known == method;
}

/* One message to the backend. A tools/list answer shows only the tools the
 * caller's token may call (MCP 2025-11-25 authorization §Scope Challenge
 * Handling): the filter goes with the call, whichever backend answers. */
static void post_one(exchange *x, json_object *message, const mcpauth__jsonrpc_message *msg,
                     mcpauth_mcp_sink *sink)
{
    bool failed = false;
    mcpauth__mcp_call call = {
        .session_id = x->session ? x->session->id : NULL,
        .protocol_version = x->session ? x->session->protocol_version : x->version,
        .message = message,
        .msg = msg,
        .identity = &x->req->identity,
        .sink = sink,
        .request = x->req,
    };
    if (is_request(msg, MCPAUTH__METHOD_TOOLS_LIST))
        call.filter =
            mcpauth__mcp_filter_new(x->server->config.tool_policy, x->req->identity.token, &failed);
    if (failed) {
        mcpauth__mcp_reply_status(sink, 500);
        return;
    }
    x->server->backend->ops->post(x->server->backend, &call);
    mcpauth__mcp_filter_free(call.filter);
}

/* A 2025-03-26 batch's answers, gathered from a backend that answers before
 * post() returns: one array, or 202 when nothing needed an answer
 * (transports §Sending Messages 4). */
typedef struct batch_answers {
    mcpauth_strbuf array;
    size_t count;
    bool failed;
} batch_answers;

static void on_batch_reply(const mcpauth_mcp_reply *reply, void *data)
{
    batch_answers *answers = data;
    if (reply->status == 202)
        return;
    if (reply->status != 200 || !reply->body) {
        answers->failed = true;
        return;
    }
    mcpauth_strbuf_appends(&answers->array, answers->count++ ? "," : "[");
    mcpauth_strbuf_append(&answers->array, reply->body, reply->body_length);
}

static void post_batch(exchange *x, json_object *body, const mcpauth__jsonrpc_message *messages,
                       size_t count)
{
    batch_answers answers = {.array = MCPAUTH_STRBUF_INIT};
    mcpauth_mcp_sink gather = {.reply = on_batch_reply, .data = &answers};
    for (size_t i = 0; i < count && !answers.failed; i++) {
        if (messages[i].kind == MCPAUTH__JSONRPC_REQUEST)
            post_one(x, json_object_array_get_idx(body, i), &messages[i], &gather);
    }
    mcpauth_strbuf_appends(&answers.array, "]");
    if (answers.failed || mcpauth_strbuf_failed(&answers.array))
        mcpauth__mcp_reply_status(x->sink, 500);
    else if (answers.count == 0)
        mcpauth__mcp_reply_status(x->sink, 202);
    else
        x->sink->reply(&(mcpauth_mcp_reply){.status = 200,
                                            .content_type = "application/json",
                                            .body = answers.array.data,
                                            .body_length = answers.array.length},
                       x->sink->data);
    mcpauth_strbuf_free(&answers.array);
}

/* --- initialize --------------------------------------------------------- */

/* The legacy transport made its session when the stream opened: initialize
 * runs in it, once with a backend that serves sessions itself. False when
 * sink was answered. */
static bool legacy_session_ready(exchange *x)
{
    if (!x->session) {
        mcpauth__mcp_reply_error(x->sink, 404, MCPAUTH__JSONRPC_NO_SESSION, "Session not found");
        return false;
    }
    if (x->server->backend->ops->sessions &&
        mcpauth__backend_session_find(x->server->backend, x->session->id)) {
        mcpauth__mcp_reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                                 "Invalid Request: Server already initialized");
        return false;
    }
    return true;
}

/* lifecycle §Initialization: the session is made here, bound to the
 * caller; the backend answers (its capabilities are its own). */
static void handle_initialize(exchange *x, const mcpauth__jsonrpc_message *msg)
{
    mcpauth_mcp_server *server = x->server;
    if (x->legacy && !legacy_session_ready(x))
        return;
    /* A session exists already: the TypeScript SDK's answer to a second
     * initialize. */
    if (!x->stateless && x->req->session_id && !x->legacy) {
        mcpauth__mcp_reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                                 "Invalid Request: Server already initialized");
        return;
    }
    json_object *requested = NULL;
    if (!msg->params || !json_object_is_type(msg->params, json_type_object) ||
        !json_object_object_get_ex(msg->params, "protocolVersion", &requested) ||
        !json_object_is_type(requested, json_type_string)) {
        mcpauth__mcp_reply_json(x->sink, 200,
                                mcpauth__jsonrpc_error(msg->id, MCPAUTH__JSONRPC_INVALID_PARAMS,
                                                       "Invalid params: initialize needs "
                                                       "protocolVersion",
                                                       NULL),
                                NULL);
        return;
    }
    /* lifecycle §Version Negotiation: echo a version we support, else offer
     * our latest; the client decides whether it can live with that. */
    const char *version = mcpauth__engine_version(json_object_get_string(requested), x->transport);
    if (!version)
        version = MCPAUTH_MCP_LATEST_VERSION;

    mcpauth__session created;
    mcpauth__session *session = x->legacy ? x->session : NULL;
    if (!x->stateless && !x->legacy) {
        if (!mcpauth__engine_new_session(server, &x->req->identity, version, x->req->now, x->sink,
                                         &created))
            return;
        session = &created;
    } else if (x->legacy && server->backend->ops->full &&
               server->backend->ops->full(server->backend)) {
        /* The legacy session exists already; its child starts now. */
        reply_limit(server, MCPAUTH_MCP_LIMIT_CHILDREN, x->sink);
        return;
    }
    mcpauth__mcp_call call = {
        .session_id = session ? session->id : NULL,
        .protocol_version = version,
        .message = x->body,
        .msg = msg,
        .identity = &x->req->identity,
        .sink = x->sink,
    };
    if (!server->backend->ops->open_session(server->backend, &call) && session)
        mcpauth__session_remove(server->sessions, session->id);
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

/* The version in force for this POST: the header's when present, else the
 * session's, else 2025-03-26 (transports §Protocol Version Header). NULL
 * when the header names a version we do not support. */
static const char *effective_version(const exchange *x)
{
    if (x->req->protocol_version)
        return mcpauth__engine_version(x->req->protocol_version, x->transport);
    return x->session ? x->session->protocol_version : DEFAULT_VERSION;
}

static void handle_body(exchange *x, json_object *body)
{
    const mcpauth_mcp_request *req = x->req;
    bool batch = json_object_is_type(body, json_type_array);
    size_t count = batch ? json_object_array_length(body) : 1;
    if (!batch && !json_object_is_type(body, json_type_object)) {
        mcpauth__mcp_reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                                 "Invalid Request: expected a JSON-RPC message object");
        return;
    }
    if (batch && count == 0) {
        mcpauth__mcp_reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                                 "Invalid Request: empty batch");
        return;
    }
    if (batch && count > MCPAUTH__JSONRPC_MAX_BATCH) {
        mcpauth__mcp_reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                                 "Invalid Request: a batch holds at most 64 messages");
        return;
    }

    if (mcpauth__engine_find_session(x->server, req, &x->found))
        x->session = &x->found;
    /* 2025-06-18 changelog §Major 1: batching was removed; only a client
     * speaking 2025-03-26 may send arrays (2025-03-26 transports §Sending
     * Messages 3). */
    const char *version = effective_version(x);
    if (batch && (!version || strcmp(version, BATCH_VERSION) != 0)) {
        mcpauth__mcp_reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                                 "Invalid Request: batches are only allowed with protocol version "
                                 "2025-03-26");
        return;
    }

    mcpauth__jsonrpc_message messages[MCPAUTH__JSONRPC_MAX_BATCH];
    if (!classify_all(body, messages, count)) {
        mcpauth__mcp_reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                                 "Invalid Request: not a valid JSON-RPC 2.0 message");
        return;
    }
    if (req->protocol_version && !version) {
        mcpauth__engine_reply_bad_version(x->sink, req->protocol_version);
        return;
    }
    /* 2025-03-26 lifecycle §Initialization: initialize MUST NOT be part of a
     * batch. */
    for (size_t i = 0; batch && i < count; i++) {
        if (is_request(&messages[i], MCPAUTH__METHOD_INITIALIZE)) {
            mcpauth__mcp_reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                                     "Invalid Request: initialize must not be part of a batch");
            return;
        }
    }
    if (!batch && is_request(&messages[0], MCPAUTH__METHOD_INITIALIZE)) {
        handle_initialize(x, &messages[0]);
        return;
    }

    /* transports §Session Management 2-4: no id is 400; an unknown, expired
     * or someone else's id is 404 alike, revealing nothing. */
    if (!x->stateless) {
        if (!req->session_id) {
            mcpauth__mcp_reply_error(x->sink, 400, MCPAUTH__JSONRPC_SERVER_ERROR,
                                     "Bad Request: Mcp-Session-Id header is required");
            return;
        }
        if (!x->session) {
            mcpauth__mcp_reply_error(x->sink, 404, MCPAUTH__JSONRPC_NO_SESSION,
                                     "Session not found");
            return;
        }
        mcpauth__session_touch(x->server->sessions, x->session->id, req->now);
    }
    if (batch && !x->server->backend->ops->batches) {
        mcpauth__mcp_reply_error(x->sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                                 "Invalid Request: batches are not supported with a stdio backend");
        return;
    }
    if (x->session && !backend_serves(x->server, x->session->id, x->sink))
        return;
    if (batch)
        post_batch(x, body, messages, count);
    else
        post_one(x, body, &messages[0], x->sink);
}

/* --- 2026-07-28: every request stands alone ----------------------------- */

/* The methods a modern client may send (2026-07-28 schema ClientRequest)
 * that the built-in tools serve; the backend answers them in the modern
 * shape (call.protocol_version). Others, the removed ones among them (ping,
 * logging/setLevel, initialize), are 404 -32601 (streamable-http §Protocol
 * Version Header). Notifications (notifications/cancelled for a listen
 * stream the client closes anyway) are 202. */
static void handle_stateless(exchange *x, json_object *body, const mcpauth__jsonrpc_message *m)
{
    mcpauth__jsonrpc_message msg = *m;
    /* A backend of the 2025 era only: through the era bridge. */
    if (mcpauth__era_bridges(x->server)) {
        mcpauth__era_post(x->server, x->req, body, x->sink);
        return;
    }
    /* Another backend that speaks this era answers everything itself. */
    if (!mcpauth__builtin_is(x->server->backend)) {
        x->version = x->req->protocol_version;
        post_one(x, body, &msg, x->sink);
        return;
    }
    if (msg.kind != MCPAUTH__JSONRPC_REQUEST) {
        mcpauth__mcp_reply_status(x->sink, 202);
        return;
    }
    if (msg.known == MCPAUTH__METHOD_SUBSCRIPTIONS_LISTEN) {
        mcpauth__stateless_listen(x->server, &msg, x->sink);
        return;
    }
    if (msg.known != MCPAUTH__METHOD_SERVER_DISCOVER && msg.known != MCPAUTH__METHOD_TOOLS_LIST &&
        msg.known != MCPAUTH__METHOD_TOOLS_CALL) {
        mcpauth__mcp_reply_json(x->sink, 404,
                                mcpauth__jsonrpc_error(msg.id, MCPAUTH__JSONRPC_METHOD_NOT_FOUND,
                                                       "Method not found", NULL),
                                NULL);
        return;
    }
    x->version = MCPAUTH_MCP_MODERN_VERSION;
    post_one(x, body, &msg, x->sink);
}

void mcpauth__engine_post(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                          json_object *body, mcpauth__transport transport, mcpauth_mcp_sink *sink)
{
    exchange x = {
        .server = server,
        .req = req,
        .sink = sink,
        .body = body,
        .transport = transport,
        .legacy = transport == MCPAUTH__TRANSPORT_LEGACY_SSE,
        .stateless = server->config.stateless,
    };
    handle_body(&x, body);
}

void mcpauth__engine_post_stateless(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                                    json_object *body, const mcpauth__jsonrpc_message *msg,
                                    const mcpauth_json_deferred *meta, mcpauth_mcp_sink *sink)
{
    /* Backends other than the built-in tools read _meta, and pass it on. */
    if ((mcpauth__era_bridges(server) || !mcpauth__builtin_is(server->backend)) &&
        !mcpauth__engine_restore_meta(body, meta)) {
        mcpauth__mcp_reply_status(sink, 500);
        return;
    }
    exchange x = {
        .server = server,
        .req = req,
        .sink = sink,
        .body = body,
        .transport = MCPAUTH__TRANSPORT_STATELESS_HTTP,
        .stateless = server->config.stateless,
    };
    handle_stateless(&x, body, msg);
}
