/* JSON-RPC 2.0 for MCP: telling requests, notifications and responses apart,
 * rejecting malformed messages, and building result and error objects. */
#include <stdint.h>
#include <string.h>

#include "mcp_internal.h"
#include "mcpauth/json.h"
#include "mcpauth/strbuf.h"

/* JSON-RPC 2.0 §5: the response's id "MUST be the same as the value of the
 * id member in the Request". json-c keeps an integer, not its text, and an
 * integer beyond 64 bits parses as the nearest bound (-2^63 or 2^64-1): such
 * an id would come back as another number. Those bounds are refused, so the
 * integer ids echoed exactly are -(2^63-1) .. 2^64-2. */
static bool integer_id_echoable(json_object *id)
{
    return json_object_get_int64(id) != INT64_MIN && json_object_get_uint64(id) != UINT64_MAX;
}

/* MCP basic §Requests: "Requests MUST include a string or integer ID ...
 * the ID MUST NOT be null". Long string ids are refused so that echoing one
 * back stays bounded. */
static bool request_id_valid(json_object *id)
{
    if (json_object_is_type(id, json_type_int))
        return integer_id_echoable(id);
    return json_object_is_type(id, json_type_string) &&
           (size_t)json_object_get_string_len(id) <= MCPAUTH__JSONRPC_MAX_ID_LENGTH;
}

/* JSON-RPC 2.0 §5: a response carries the request's id (null only when the
 * request's could not be read) and exactly one of result and error. */
static mcpauth__jsonrpc_kind classify_response(json_object *value, json_object *id,
                                               mcpauth__jsonrpc_message *out)
{
    bool has_result = json_object_object_get_ex(value, "result", NULL);
    json_object *error = NULL;
    bool has_error = json_object_object_get_ex(value, "error", &error);
    if (has_result == has_error)
        return MCPAUTH__JSONRPC_INVALID;
    if (!json_object_is_type(id, json_type_null) && !request_id_valid(id))
        return MCPAUTH__JSONRPC_INVALID;
    if (has_error && !json_object_is_type(error, json_type_object))
        return MCPAUTH__JSONRPC_INVALID;
    out->id = id;
    return MCPAUTH__JSONRPC_RESPONSE;
}

/* Which of the methods acted on name (length bytes) is. */
static mcpauth__mcp_method method_known(const char *name, size_t length)
{
    static const struct {
        const char *name;
        size_t length;
        mcpauth__mcp_method method;
    } known[] = {
#define KNOWN(text, method) {text, sizeof text - 1, method}
        KNOWN("tools/call", MCPAUTH__METHOD_TOOLS_CALL),
        KNOWN("tools/list", MCPAUTH__METHOD_TOOLS_LIST),
        KNOWN("initialize", MCPAUTH__METHOD_INITIALIZE),
        KNOWN("ping", MCPAUTH__METHOD_PING),
        KNOWN("logging/setLevel", MCPAUTH__METHOD_LOGGING_SET_LEVEL),
        KNOWN("server/discover", MCPAUTH__METHOD_SERVER_DISCOVER),
        KNOWN("subscriptions/listen", MCPAUTH__METHOD_SUBSCRIPTIONS_LISTEN),
        KNOWN("prompts/get", MCPAUTH__METHOD_PROMPTS_GET),
        KNOWN("resources/read", MCPAUTH__METHOD_RESOURCES_READ),
#undef KNOWN
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (known[i].length == length && memcmp(known[i].name, name, length) == 0)
            return known[i].method;
    }
    return MCPAUTH__METHOD_OTHER;
}

mcpauth__jsonrpc_kind mcpauth__jsonrpc_classify(json_object *value, mcpauth__jsonrpc_message *out)
{
    memset(out, 0, sizeof *out);
    out->kind = MCPAUTH__JSONRPC_INVALID;
    if (!json_object_is_type(value, json_type_object))
        return out->kind;

    json_object *version = NULL;
    if (!json_object_object_get_ex(value, "jsonrpc", &version) ||
        !json_object_is_type(version, json_type_string) ||
        strcmp(json_object_get_string(version), "2.0") != 0)
        return out->kind;

    json_object *method = NULL;
    json_object *id = NULL;
    bool has_method = json_object_object_get_ex(value, "method", &method);
    bool has_id = json_object_object_get_ex(value, "id", &id);
    if (!has_method) {
        if (has_id)
            out->kind = classify_response(value, id, out);
        return out->kind;
    }

    /* A method name is used as a C string: one holding U+0000 would be cut
     * at it ("ping\u0000x" read as "ping"). No method is named so. */
    if (!json_object_is_type(method, json_type_string) ||
        strlen(json_object_get_string(method)) != (size_t)json_object_get_string_len(method))
        return out->kind;
    json_object *params = NULL;
    if (json_object_object_get_ex(value, "params", &params) &&
        !json_object_is_type(params, json_type_object) &&
        !json_object_is_type(params, json_type_array))
        return out->kind;
    if (has_id && !request_id_valid(id))
        return out->kind;

    out->method = json_object_get_string(method);
    out->known = method_known(out->method, (size_t)json_object_get_string_len(method));
    out->params = params;
    switch (out->known) {
    case MCPAUTH__METHOD_TOOLS_CALL:
    case MCPAUTH__METHOD_PROMPTS_GET:
        out->named = mcpauth__json_member(params, "name", json_type_string);
        break;
    case MCPAUTH__METHOD_RESOURCES_READ:
        out->named = mcpauth__json_member(params, "uri", json_type_string);
        break;
    default:
        break;
    }
    out->id = has_id ? id : NULL;
    out->kind = has_id ? MCPAUTH__JSONRPC_REQUEST : MCPAUTH__JSONRPC_NOTIFICATION;
    return out->kind;
}

bool mcpauth__json_add(json_object *obj, const char *key, json_object *val)
{
    if (!val)
        return false;
    if (json_object_object_add(obj, key, val) != 0) {
        json_object_put(val);
        return false;
    }
    return true;
}

bool mcpauth__json_add_literal(json_object *obj, const char *key, json_object *val)
{
    if (!val)
        return false;
    if (json_object_object_add_ex(obj, key, val, JSON_C_OBJECT_ADD_CONSTANT_KEY) != 0) {
        json_object_put(val);
        return false;
    }
    return true;
}

json_object *mcpauth__json_member(json_object *obj, const char *key, json_type type)
{
    json_object *value = NULL;
    if (!json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &value) || !json_object_is_type(value, type))
        return NULL;
    return value;
}

json_object *mcpauth__jsonrpc_cancelled(int64_t request_id, const char *reason)
{
    json_object *n = json_object_new_object();
    json_object *params = json_object_new_object();
    bool ok = n && params && mcpauth__json_add(n, "jsonrpc", json_object_new_string("2.0")) &&
              mcpauth__json_add(n, "method", json_object_new_string("notifications/cancelled")) &&
              mcpauth__json_add(params, "requestId", json_object_new_int64(request_id)) &&
              mcpauth__json_add(params, "reason", json_object_new_string(reason)) &&
              mcpauth__json_add(n, "params", json_object_get(params));
    json_object_put(params);
    if (!ok) {
        json_object_put(n);
        return NULL;
    }
    return n;
}

/* A new {"jsonrpc":"2.0","id":id} (id NULL: null), or NULL. */
static json_object *envelope(json_object *id)
{
    json_object *message = json_object_new_object();
    if (!message || !mcpauth__json_add_literal(message, "jsonrpc", json_object_new_string("2.0")))
        goto fail;
    if (!id) {
        if (json_object_object_add_ex(message, "id", NULL, JSON_C_OBJECT_ADD_CONSTANT_KEY) != 0)
            goto fail;
    } else if (!mcpauth__json_add_literal(message, "id", json_object_get(id))) {
        goto fail;
    }
    return message;
fail:
    json_object_put(message);
    return NULL;
}

json_object *mcpauth__jsonrpc_result(json_object *id, json_object *result)
{
    json_object *message = result ? envelope(id) : NULL;
    if (!message || !mcpauth__json_add_literal(message, "result", result)) {
        if (!message)
            json_object_put(result);
        json_object_put(message);
        return NULL;
    }
    return message;
}

json_object *mcpauth__jsonrpc_error(json_object *id, int code, const char *message,
                                    json_object *data)
{
    json_object *error = json_object_new_object();
    if (!error || !mcpauth__json_add_literal(error, "code", json_object_new_int(code)) ||
        !mcpauth__json_add_literal(error, "message", json_object_new_string(message)) ||
        (data && !mcpauth__json_add_literal(error, "data", json_object_get(data)))) {
        json_object_put(error);
        json_object_put(data);
        return NULL;
    }
    json_object_put(data);
    json_object *reply = envelope(id);
    if (!reply || !mcpauth__json_add_literal(reply, "error", error)) {
        if (!reply)
            json_object_put(error);
        json_object_put(reply);
        return NULL;
    }
    return reply;
}

const char *mcpauth__jsonrpc_serialize(json_object *obj, size_t *length)
{
    size_t n = 0;
    const char *text = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (length)
        *length = text ? n : 0;
    return text;
}

/* --- answering a sink --------------------------------------------------- */

static void reply_json(mcpauth_mcp_sink *sink, int status, json_object *message,
                       const char *session_id, const char *result_members)
{
    mcpauth_strbuf text = MCPAUTH_STRBUF_INIT;
    const char *body =
        message && mcpauth_json_append_extending(&text, message, "result", result_members)
            ? text.data
            : NULL;
    mcpauth_mcp_reply reply = {
        .status = body ? status : 500,
        .content_type = body ? "application/json" : NULL,
        .body = body,
        .body_length = body ? text.length : 0,
        .session_id = body ? session_id : NULL,
    };
    sink->reply(&reply, sink->data);
    mcpauth_strbuf_free(&text);
    json_object_put(message);
}

void mcpauth__mcp_reply_json(mcpauth_mcp_sink *sink, int status, json_object *message,
                             const char *session_id)
{
    reply_json(sink, status, message, session_id, NULL);
}

void mcpauth__mcp_reply_result_extending(mcpauth_mcp_sink *sink, int status, json_object *message,
                                         const char *result_members)
{
    reply_json(sink, status, message, NULL, result_members);
}

void mcpauth__mcp_reply_error(mcpauth_mcp_sink *sink, int status, int code, const char *message)
{
    mcpauth__mcp_reply_json(sink, status, mcpauth__jsonrpc_error(NULL, code, message, NULL), NULL);
}

void mcpauth__mcp_reply_status(mcpauth_mcp_sink *sink, int status)
{
    mcpauth_mcp_reply reply = {.status = status};
    sink->reply(&reply, sink->data);
}

bool mcpauth__mcp_quotable(const char *text, size_t max)
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
