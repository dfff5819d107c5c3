/* The 2026-07-28 Streamable HTTP rules (MCP 2026-07-28
 * basic/transports/streamable-http) beside the 2025 ones of
 * streamable_http.c, on the same endpoint: which era a request belongs to,
 * the request metadata headers checked against the body (§Standard Request
 * Headers, §Value Encoding, §Server Validation), the version in force and
 * the per-request _meta (basic §_meta; basic/versioning §Protocol Version
 * Negotiation), then the engine with no session at all. Also the
 * subscriptions/listen streams (basic/patterns/subscriptions), which are
 * HTTP streams kept open with keep-alive comments. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "mcpauth/base64url.h"
#include "mcpauth/json.h"
#include "mcpauth/strbuf.h"

#define META_VERSION      "io.modelcontextprotocol/protocolVersion"
#define META_CAPABILITIES "io.modelcontextprotocol/clientCapabilities"
#define META_LOG_LEVEL    "io.modelcontextprotocol/logLevel"
#define META_SUBSCRIPTION "io.modelcontextprotocol/subscriptionId"

#define MAX_ECHOED 64   /* bytes of a header or body value quoted back */
#define MAX_NAME   4096 /* bytes of a decoded Mcp-Name */

/* --- which era ---------------------------------------------------------- */

/* The versions that negotiate with initialize and keep sessions. */
static bool session_era_version(const char *version)
{
    if (strcmp(version, MCPAUTH_MCP_MODERN_VERSION) == 0)
        return false; /* the common case, at once */
    static const char *const versions[] = {MCPAUTH_MCP_LATEST_VERSION, "2025-06-18", "2025-03-26"};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        if (strcmp(version, versions[i]) == 0)
            return true;
    }
    return false;
}

static json_object *request_meta(json_object *body)
{
    return mcpauth__json_member(mcpauth__json_member(body, "params", json_type_object), "_meta",
                                json_type_object);
}

bool mcpauth_mcp_request_modern(mcpauth_mcp_request *req)
{
    if (req->protocol_version)
        return req->modern = !session_era_version(req->protocol_version);
    json_object *meta = req->body ? request_meta(mcpauth__engine_parsed(req)) : NULL;
    return req->modern = meta && json_object_object_get_ex(meta, META_VERSION, NULL);
}

/* --- header values (§Value Encoding) ------------------------------------ */

/* RFC 4648 §4 Base64 with its padding; NULL when malformed or when the
 * text holds a NUL (no JSON string we compare with could). Caller frees. */
static char *base64_decode(const char *text, size_t length)
{
    size_t n = 0;
    char *out = (char *)mcpauth_base64_decode(text, length, &n);
    if (out && memchr(out, '\0', n)) {
        free(out);
        return NULL;
    }
    return out;
}

/* A plain value is visible ASCII and spaces with no space at either end;
 * anything else comes as =?base64?...?= (markers case-sensitive). NULL when
 * the value is neither. Caller frees. */
char *mcpauth__stateless_header_decode(const char *raw)
{
    static const char prefix[] = "=?base64?", suffix[] = "?=";
    /* RFC 9110 §5.5: whitespace around a field value is not part of it. */
    while (*raw == ' ' || *raw == '\t')
        raw++;
    size_t length = strlen(raw);
    while (length > 0 && (raw[length - 1] == ' ' || raw[length - 1] == '\t'))
        length--;
    char *copy = strndup(raw, length);
    if (!copy)
        return NULL;
    char *decoded = NULL;
    const char *value = copy;
    if (length >= sizeof prefix - 1 + sizeof suffix - 1 &&
        strncmp(value, prefix, sizeof prefix - 1) == 0 &&
        strcmp(value + length - (sizeof suffix - 1), suffix) == 0) {
        size_t inner = length - (sizeof prefix - 1) - (sizeof suffix - 1);
        if (inner <= MAX_NAME / 3 * 4)
            decoded = base64_decode(value + sizeof prefix - 1, inner);
        free(copy);
        return decoded;
    }
    bool plain = length > 0 && length <= MAX_NAME;
    for (const unsigned char *p = (const unsigned char *)value; plain && *p; p++)
        plain = *p >= 0x20 && *p <= 0x7e;
    if (!plain) {
        free(copy);
        return NULL;
    }
    return copy;
}

/* --- the checks --------------------------------------------------------- */

/* Why a request is refused: the HTTP status, the JSON-RPC error. Only data
 * is set before the checks; refuse() writes the rest (its message is a
 * quarter of a kilobyte, not worth clearing for every request that passes),
 * which is read only after it did. */
typedef struct refusal {
    int status;
    int code;
    char message[256];
    json_object *data; /* owned; NULL for none */
} refusal;

static bool refuse(refusal *r, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool refuse(refusal *r, int status, int code, const char *fmt, ...)
{
    r->status = status;
    r->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    return false;
}

static const char *quoted(const char *text)
{
    return mcpauth__mcp_quotable(text, MAX_ECHOED) ? text : "(not shown)";
}

/* Whether header (whitespace around it aside, RFC 9110 §5.5) is text. */
static bool same_token(const char *header, const char *text)
{
    while (*header == ' ' || *header == '\t')
        header++;
    size_t n = strlen(text);
    if (strncmp(header, text, n) != 0)
        return false;
    for (header += n; *header == ' ' || *header == '\t'; header++)
        ;
    return *header == '\0';
}

/* The body value Mcp-Name mirrors (§Standard Request Headers): params.name
 * of tools/call and prompts/get, params.uri of resources/read. NULL for
 * other methods; *applies tells whether the method has one. */
static const char *named_value(const mcpauth__jsonrpc_message *msg, bool *applies)
{
    *applies = msg->known == MCPAUTH__METHOD_TOOLS_CALL ||
               msg->known == MCPAUTH__METHOD_PROMPTS_GET ||
               msg->known == MCPAUTH__METHOD_RESOURCES_READ;
    return msg->named ? json_object_get_string(msg->named) : NULL;
}

/* Whether a header value in the plain form is text, compared where it is
 * (the common case, with no copy): 1 it is, 0 it is not, -1 the value is
 * not plain (the Base64 form, or malformed), for
 * mcpauth__stateless_header_decode() to read. */
static int plain_value_is(const char *raw, const char *text)
{
    while (*raw == ' ' || *raw == '\t')
        raw++;
    size_t length = strlen(raw);
    while (length > 0 && (raw[length - 1] == ' ' || raw[length - 1] == '\t'))
        length--;
    if (length == 0 || length > MAX_NAME || strncmp(raw, "=?", 2) == 0)
        return -1;
    for (size_t i = 0; i < length; i++) {
        if ((unsigned char)raw[i] < 0x20 || (unsigned char)raw[i] > 0x7e)
            return -1;
    }
    return text && strlen(text) == length && memcmp(raw, text, length) == 0;
}

/* §Server Validation: Mcp-Method and Mcp-Name (decoded) equal the body;
 * both are required of requests, Mcp-Name only where the method has a
 * name. *name gets the decoded Mcp-Name (caller frees) when asked for. */
static bool check_headers(const mcpauth_mcp_request *req, const mcpauth__jsonrpc_message *msg,
                          refusal *r, char **name)
{
    bool request = msg->kind == MCPAUTH__JSONRPC_REQUEST;
    if (!req->mcp_method && request)
        return refuse(r, 400, MCPAUTH__JSONRPC_HEADER_MISMATCH,
                      "Header mismatch: the Mcp-Method header is required");
    if (req->mcp_method && !same_token(req->mcp_method, msg->method))
        return refuse(r, 400, MCPAUTH__JSONRPC_HEADER_MISMATCH,
                      "Header mismatch: Mcp-Method header value '%s' does not match body value "
                      "'%s'",
                      quoted(req->mcp_method), quoted(msg->method));
    bool applies;
    const char *expected = named_value(msg, &applies);
    if (!applies || (!request && !req->mcp_name))
        return true;
    if (!req->mcp_name)
        return refuse(r, 400, MCPAUTH__JSONRPC_HEADER_MISMATCH,
                      "Header mismatch: the Mcp-Name header is required for %s", msg->method);
    if (!name && plain_value_is(req->mcp_name, expected) == 1)
        return true;
    char *decoded = mcpauth__stateless_header_decode(req->mcp_name);
    if (!decoded)
        return refuse(r, 400, MCPAUTH__JSONRPC_HEADER_MISMATCH,
                      "Header mismatch: the Mcp-Name header value is malformed");
    if (!expected || strcmp(decoded, expected) != 0) {
        refuse(r, 400, MCPAUTH__JSONRPC_HEADER_MISMATCH,
               "Header mismatch: Mcp-Name header value '%s' does not match body value '%s'",
               quoted(decoded), expected ? quoted(expected) : "");
        free(decoded);
        return false;
    }
    if (name)
        *name = decoded;
    else
        free(decoded);
    return true;
}

/* {"supported": versions, "requested": requested}; NULL on allocation
 * failure. */
static json_object *unsupported_data(const char *requested, const char *const *versions,
                                     size_t count)
{
    json_object *data = json_object_new_object();
    json_object *list = json_object_new_array();
    bool ok = data && list;
    for (size_t i = 0; ok && i < count; i++)
        ok = json_object_array_add(list, json_object_new_string(versions[i])) == 0;
    ok = ok && mcpauth__json_add(data, "supported", json_object_get(list)) &&
         mcpauth__json_add(data, "requested", json_object_new_string(requested));
    json_object_put(list);
    if (!ok) {
        json_object_put(data);
        return NULL;
    }
    return data;
}

json_object *mcpauth__stateless_unsupported(json_object *id, const char *requested,
                                            const char *const *versions, size_t count)
{
    json_object *data = unsupported_data(requested, versions, count);
    return data ? mcpauth__jsonrpc_error(id, MCPAUTH__JSONRPC_UNSUPPORTED_VERSION,
                                         "Unsupported protocol version", data)
                : NULL;
}

/* basic/versioning §Protocol Version Negotiation: -32022 names every
 * version served and the one asked for. */
static bool refuse_version(refusal *r, mcpauth_mcp_server *server, const char *requested)
{
    size_t count;
    const char *const *versions = mcpauth__engine_served_versions(server, &count);
    r->data = unsupported_data(requested, versions, count);
    return refuse(r, 400, MCPAUTH__JSONRPC_UNSUPPORTED_VERSION, "Unsupported protocol version");
}

static bool served(mcpauth_mcp_server *server, const char *version)
{
    size_t count;
    const char *const *versions = mcpauth__engine_served_versions(server, &count);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(version, versions[i]) == 0)
            return true;
    }
    return false;
}

/* server/utilities/logging §Log Levels. */
static bool log_level_known(const char *level)
{
    static const char *const levels[] = {"debug", "info",     "notice", "warning",
                                         "error", "critical", "alert",  "emergency"};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (strcmp(level, levels[i]) == 0)
            return true;
    }
    return false;
}

/* One of them: present or not, its type, and where its value is: in the
 * text the parse left, or a string of the objects (borrowed). */
typedef struct meta_member {
    bool present;
    json_type type;
    mcpauth_json_span text;
    const char *string;
    size_t string_length;
} meta_member;

/* The members of the request's _meta the checks read: found by the parse
 * that left it as text (mcpauth__engine_parse_body), or read from the
 * objects, when the body was parsed before its era was known. */
static void meta_read(const mcpauth__jsonrpc_message *msg, const mcpauth_json_deferred *deferred,
                      meta_member out[MCPAUTH__META_CHECKED])
{
    static const char *const keys[MCPAUTH__META_CHECKED] = {
        [MCPAUTH__META_VERSION] = META_VERSION,
        [MCPAUTH__META_CAPABILITIES] = META_CAPABILITIES,
        [MCPAUTH__META_LOG_LEVEL] = META_LOG_LEVEL,
    };
    if (deferred->text.text) {
        for (int i = 0; i < MCPAUTH__META_CHECKED; i++) {
            mcpauth_json_span value = deferred->members[i];
            out[i] = (meta_member){.present = value.text != NULL,
                                   .type = mcpauth_json_span_type(value),
                                   .text = value};
        }
        return;
    }
    json_object *meta = mcpauth__json_member(msg->params, "_meta", json_type_object);
    for (int i = 0; i < MCPAUTH__META_CHECKED; i++) {
        json_object *value = NULL;
        bool present = meta && json_object_object_get_ex(meta, keys[i], &value);
        json_type type = json_object_get_type(value);
        bool string = type == json_type_string;
        out[i] = (meta_member){.present = present,
                               .type = type,
                               .string = string ? json_object_get_string(value) : NULL,
                               .string_length =
                                   string ? (size_t)json_object_get_string_len(value) : 0};
    }
}

/* Whether a string member is text. */
static bool meta_string_is(const meta_member *m, const char *text)
{
    if (m->type != json_type_string)
        return false;
    if (!m->string)
        return mcpauth_json_span_string_is(m->text, text);
    /* The whole string: one with an escaped NUL is not the text before it. */
    return m->string_length == strlen(text) && memcmp(m->string, text, m->string_length) == 0;
}

/* A string member's text for a message or a lookup; the caller frees.
 * NULL when memory ran out. */
static char *meta_string(const meta_member *m)
{
    return m->string ? strdup(m->string) : mcpauth_json_span_string(m->text);
}

static bool check_meta(const mcpauth_mcp_request *req, const mcpauth__jsonrpc_message *msg,
                       const meta_member meta[MCPAUTH__META_CHECKED], refusal *r)
{
    const meta_member *version = &meta[MCPAUTH__META_VERSION];
    bool has_version = version->type == json_type_string;
    if (msg->kind != MCPAUTH__JSONRPC_REQUEST && !has_version)
        return true;
    if (!has_version || meta[MCPAUTH__META_CAPABILITIES].type != json_type_object)
        return refuse(r, 400, MCPAUTH__JSONRPC_INVALID_PARAMS,
                      "Invalid params: _meta must carry " META_VERSION " and " META_CAPABILITIES);
    if (!meta_string_is(version, req->protocol_version)) {
        char *text = meta_string(version);
        refuse(r, 400, MCPAUTH__JSONRPC_HEADER_MISMATCH,
               "Header mismatch: MCP-Protocol-Version header value '%s' does not match _meta value "
               "'%s'",
               quoted(req->protocol_version), text ? quoted(text) : "(not shown)");
        free(text);
        return false;
    }
    const meta_member *level = &meta[MCPAUTH__META_LOG_LEVEL];
    if (level->present) {
        char *text = level->type == json_type_string ? meta_string(level) : NULL;
        bool known = text && log_level_known(text);
        free(text);
        if (!known)
            return refuse(r, 400, MCPAUTH__JSONRPC_INVALID_PARAMS,
                          "Invalid params: " META_LOG_LEVEL " must be one of debug, info, notice, "
                          "warning, error, critical, alert, emergency");
    }
    return true;
}

/* The version header names a version served (-32022), the request's _meta
 * carries the version and the client's capabilities (basic §_meta: -32602)
 * and the version equals the header's (-32020); a log level asked for is
 * one we know (logging §Error Handling: -32602). A notification needs only
 * the header. */
static bool check_version(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                          const mcpauth__jsonrpc_message *msg,
                          const mcpauth_json_deferred *deferred, refusal *r)
{
    if (!req->protocol_version)
        return refuse(r, 400, MCPAUTH__JSONRPC_HEADER_MISMATCH,
                      "Header mismatch: the MCP-Protocol-Version header is required");
    /* A backend of this era (an upstream, a stdio child) negotiates
     * versions itself: what it says must agree with its own
     * server/discover. */
    bool upstream_decides = !mcpauth__builtin_is(mcpauth__engine_backend(server)) &&
                            !mcpauth__era_bridges(server) &&
                            served(server, MCPAUTH_MCP_MODERN_VERSION);
    if (!upstream_decides &&
        (!served(server, req->protocol_version) || session_era_version(req->protocol_version)))
        return refuse_version(r, server, req->protocol_version);
    meta_member meta[MCPAUTH__META_CHECKED];
    meta_read(msg, deferred, meta);
    return check_meta(req, msg, meta, r);
}

char *mcpauth__stateless_called_tool(mcpauth_mcp_request *req)
{
    mcpauth__jsonrpc_message msg;
    json_object *body = mcpauth__engine_parsed(req);
    if (!body || mcpauth__jsonrpc_classify(body, &msg) != MCPAUTH__JSONRPC_REQUEST ||
        msg.known != MCPAUTH__METHOD_TOOLS_CALL)
        return NULL;
    refusal r;
    r.data = NULL;
    char *name = NULL;
    if (!check_headers(req, &msg, &r, &name))
        json_object_put(r.data);
    return name;
}

/* --- POST --------------------------------------------------------------- */

void mcpauth_mcp_handle_modern_post(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                                    mcpauth_mcp_sink *sink)
{
    json_object *own;
    mcpauth_json_deferred meta;
    json_object *body = mcpauth__http_post_body(req, sink, &own, &meta);
    if (!body)
        return;
    /* streamable-http §Sending Messages: one message per POST, no batches. */
    mcpauth__jsonrpc_message msg;
    if (!json_object_is_type(body, json_type_object) ||
        mcpauth__jsonrpc_classify(body, &msg) == MCPAUTH__JSONRPC_INVALID) {
        mcpauth__mcp_reply_error(sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                                 "Invalid Request: not a valid JSON-RPC 2.0 message");
        json_object_put(own);
        return;
    }
    if (msg.kind == MCPAUTH__JSONRPC_RESPONSE) {
        /* basic/patterns: servers send no requests, so nothing answers one. */
        mcpauth__mcp_reply_error(sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                                 "Invalid Request: a server of this revision sends no requests");
        json_object_put(own);
        return;
    }
    refusal r;
    r.data = NULL;
    if (!check_version(server, req, &msg, &meta, &r) || !check_headers(req, &msg, &r, NULL)) {
        mcpauth__mcp_reply_json(sink, r.status,
                                mcpauth__jsonrpc_error(msg.id, r.code, r.message, r.data), NULL);
        json_object_put(own);
        return;
    }
    mcpauth__engine_post_stateless(server, req, body, &msg, &meta, sink);
    json_object_put(own);
}

/* --- subscriptions/listen ----------------------------------------------- */

/* One open listen stream: its sink is the HTTP layer's until the client
 * closes it (on_abort) or we end it. */
typedef struct mcpauth__listen {
    struct mcpauth__listen *next;
    mcpauth_mcp_server *server;
    mcpauth_mcp_sink *sink;
    json_object *id; /* the listen request's: the subscription id */
    uv_timer_t timer;
    bool timed;
} listen_stream;

static void on_timer_closed(uv_handle_t *handle)
{
    free(handle->data);
}

/* Off the server's list and freed (after its timer closed). */
static void listen_free(listen_stream *l)
{
    for (listen_stream **p = mcpauth__engine_listens(l->server); *p; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            break;
        }
    }
    json_object_put(l->id);
    if (l->timed) {
        l->timer.data = l;
        uv_close((uv_handle_t *)&l->timer, on_timer_closed);
    } else {
        free(l);
    }
}

/* One message as one Server-Sent Event: no id, since this revision has no
 * resumability (streamable-http §Receiving Messages). */
static int write_event(mcpauth_mcp_sink *sink, json_object *message)
{
    if (!message)
        return -1;
    size_t length;
    const char *json = mcpauth__jsonrpc_serialize(message, &length);
    mcpauth_strbuf event = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&event, "event: message\ndata: ");
    mcpauth_strbuf_append(&event, json, length);
    mcpauth_strbuf_appends(&event, "\n\n");
    int rc = mcpauth_strbuf_failed(&event)
                 ? -1
                 : sink->stream_write(event.data, event.length, sink->data);
    mcpauth_strbuf_free(&event);
    json_object_put(message);
    return rc;
}

static void on_listen_abort(mcpauth_mcp_sink *sink)
{
    listen_free(sink->engine_data);
}

/* The stream ends on our side: the client's sink is let go of. */
static void listen_end(listen_stream *l)
{
    l->sink->on_abort = NULL;
    l->sink->stream_end(l->sink->data);
    listen_free(l);
}

/* streamable-http §Receiving Messages (Note): a comment line now and then
 * keeps intermediaries from closing an idle stream. */
static void on_keepalive(uv_timer_t *timer)
{
    static const char comment[] = ": keepalive\n\n";
    listen_stream *l = timer->data;
    if (l->sink->stream_write(comment, sizeof comment - 1, l->sink->data) != 0)
        listen_end(l);
}

/* subscriptions §Acknowledgment: what we honour of the filter. The
 * built-in tools never change, so toolsListChanged is honoured (and never
 * fires); prompts and resources we do not serve. */
static json_object *honoured_filter(const mcpauth__jsonrpc_message *msg)
{
    json_object *asked = mcpauth__json_member(msg->params, "notifications", json_type_object);
    json_object *tools = mcpauth__json_member(asked, "toolsListChanged", json_type_boolean);
    json_object *filter = json_object_new_object();
    if (filter && tools && json_object_get_boolean(tools) &&
        !mcpauth__json_add(filter, "toolsListChanged", json_object_new_boolean(1))) {
        json_object_put(filter);
        return NULL;
    }
    return filter;
}

static json_object *subscription_meta(json_object *id)
{
    json_object *meta = json_object_new_object();
    if (meta && !mcpauth__json_add(meta, META_SUBSCRIPTION, json_object_get(id))) {
        json_object_put(meta);
        return NULL;
    }
    return meta;
}

static json_object *acknowledgement(const mcpauth__jsonrpc_message *msg)
{
    json_object *note = json_object_new_object();
    json_object *params = json_object_new_object();
    bool ok =
        note && params && mcpauth__json_add(note, "jsonrpc", json_object_new_string("2.0")) &&
        mcpauth__json_add(note, "method",
                          json_object_new_string("notifications/subscriptions/acknowledged")) &&
        mcpauth__json_add(params, "_meta", subscription_meta(msg->id)) &&
        mcpauth__json_add(params, "notifications", honoured_filter(msg)) &&
        mcpauth__json_add(note, "params", json_object_get(params));
    json_object_put(params);
    if (!ok) {
        json_object_put(note);
        return NULL;
    }
    return note;
}

void mcpauth__stateless_listen(mcpauth_mcp_server *server, const mcpauth__jsonrpc_message *msg,
                               mcpauth_mcp_sink *sink)
{
    if (!sink->stream_start) {
        mcpauth__mcp_reply_error(sink, 406, MCPAUTH__JSONRPC_SERVER_ERROR,
                                 "Not Acceptable: subscriptions/listen answers with a stream");
        return;
    }
    listen_stream *l = calloc(1, sizeof *l);
    if (!l) {
        mcpauth__mcp_reply_status(sink, 500);
        return;
    }
    l->server = server;
    l->sink = sink;
    l->id = json_object_get(msg->id);
    l->next = *mcpauth__engine_listens(server);
    *mcpauth__engine_listens(server) = l;
    sink->on_abort = on_listen_abort;
    sink->engine_data = l;
    sink->stream_start(NULL, sink->data);
    if (write_event(sink, acknowledgement(msg)) != 0) {
        listen_end(l);
        return;
    }
    const mcpauth_mcp_config *config = mcpauth__engine_config(server);
    if (config->loop && config->keepalive_ms > 0) {
        uv_timer_init(config->loop, &l->timer);
        l->timer.data = l;
        l->timed = true;
        uv_timer_start(&l->timer, on_keepalive, config->keepalive_ms, config->keepalive_ms);
    }
}

/* subscriptions §Graceful Closure: the listen result, then the end. */
static json_object *listen_result(listen_stream *l)
{
    json_object *result = json_object_new_object();
    if (!result || !mcpauth__json_add(result, "resultType", json_object_new_string("complete")) ||
        !mcpauth__json_add(result, "_meta", subscription_meta(l->id))) {
        json_object_put(result);
        return NULL;
    }
    return mcpauth__jsonrpc_result(l->id, result);
}

void mcpauth_mcp_close_streams(mcpauth_mcp_server *server)
{
    mcpauth__era_close(server);
    listen_stream **head = mcpauth__engine_listens(server);
    while (*head) {
        listen_stream *l = *head;
        write_event(l->sink, listen_result(l));
        listen_end(l);
    }
}
