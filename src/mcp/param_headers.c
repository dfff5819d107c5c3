/* Mcp-Param-{Name} headers checked against a tools/call's arguments (MCP
 * 2026-07-28 basic/transports/streamable-http §Schema Extension, §Server
 * Behavior for Custom Headers), for a backend that cannot check them
 * itself: a stdio child never sees HTTP headers, so the intermediary that
 * parses the body does it. The declarations come from the backend's
 * tools/list results: an inputSchema property reached from the root through
 * "properties" alone that carries "x-mcp-header". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcp_internal.h"

#define HEADER_KEY "x-mcp-header"
#define PREFIX     "Mcp-Param-"
#define MAX_TOOLS  10000 /* tools whose declarations are kept */
#define MAX_DEPTH  16    /* nesting of "properties" followed */

struct mcpauth__param_decls {
    /* tool name -> [{"h": header name, "p": [keys], "t": JSON type}] */
    json_object *tools;
};

mcpauth__param_decls *mcpauth__param_decls_new(void)
{
    mcpauth__param_decls *d = calloc(1, sizeof *d);
    if (d && !(d->tools = json_object_new_object())) {
        free(d);
        return NULL;
    }
    return d;
}

void mcpauth__param_decls_free(mcpauth__param_decls *d)
{
    if (!d)
        return;
    json_object_put(d->tools);
    free(d);
}

/* §Schema Extension: x-mcp-header only on properties reached purely
 * through "properties" (never items, the combinators or $ref). */
static void visit(json_object *schema, json_object *path, int depth, json_object *out)
{
    json_object *header = mcpauth__json_member(schema, HEADER_KEY, json_type_string);
    if (header && json_object_array_length(path) > 0) {
        json_object *decl = json_object_new_object();
        json_object *type = mcpauth__json_member(schema, "type", json_type_string);
        if (decl && mcpauth__json_add(decl, "h", json_object_get(header)) &&
            mcpauth__json_add(decl, "p", json_object_get(path)) &&
            mcpauth__json_add(decl, "t",
                              json_object_new_string(type ? json_object_get_string(type) : "")))
            json_object_array_add(out, decl);
        else
            json_object_put(decl);
    }
    json_object *properties = mcpauth__json_member(schema, "properties", json_type_object);
    if (!properties || depth == MAX_DEPTH)
        return;
    json_object_object_foreach(properties, key, child)
    {
        json_object *next = json_object_new_array();
        size_t n = json_object_array_length(path);
        bool ok = next != NULL;
        for (size_t i = 0; ok && i < n; i++)
            ok = json_object_array_add(next, json_object_get(json_object_array_get_idx(path, i))) ==
                 0;
        if (ok && json_object_array_add(next, json_object_new_string(key)) == 0)
            visit(child, next, depth + 1, out);
        json_object_put(next);
    }
}

void mcpauth__param_decls_learn(mcpauth__param_decls *d, json_object *result)
{
    json_object *tools = mcpauth__json_member(result, "tools", json_type_array);
    size_t count = tools ? json_object_array_length(tools) : 0;
    for (size_t i = 0; i < count; i++) {
        json_object *tool = json_object_array_get_idx(tools, i);
        json_object *name = mcpauth__json_member(tool, "name", json_type_string);
        json_object *schema = mcpauth__json_member(tool, "inputSchema", json_type_object);
        if (!name)
            continue;
        const char *key = json_object_get_string(name);
        if (!json_object_object_get_ex(d->tools, key, NULL) &&
            json_object_object_length(d->tools) >= MAX_TOOLS)
            continue;
        json_object *decls = json_object_new_array();
        json_object *root = json_object_new_array();
        if (decls && root && schema)
            visit(schema, root, 0, decls);
        json_object_put(root);
        if (decls && json_object_array_length(decls) > 0)
            json_object_object_add(d->tools, key, decls);
        else {
            json_object_object_del(d->tools, key);
            json_object_put(decls);
        }
    }
}

/* The argument a declaration names; NULL when absent. */
static json_object *value_at(json_object *args, json_object *path)
{
    json_object *node = args;
    size_t n = json_object_array_length(path);
    for (size_t i = 0; node && i < n; i++) {
        json_object *next = NULL;
        if (!json_object_is_type(node, json_type_object) ||
            !json_object_object_get_ex(
                node, json_object_get_string(json_object_array_get_idx(path, i)), &next))
            return NULL;
        node = next;
    }
    return node;
}

/* The header line "Mcp-Param-{name}: value" of req: its value, or NULL. */
static const char *param_header(const mcpauth_mcp_request *req, const char *name)
{
    size_t length = strlen(name);
    for (size_t i = 0; i < req->param_header_count; i++) {
        const char *line = req->param_headers[i] + sizeof PREFIX - 1;
        if (strncasecmp(line, name, length) == 0 && line[length] == ':')
            return line + length + 1;
    }
    return NULL;
}

/* §Value Encoding: a string as is, an integer in decimal, a boolean as
 * true/false; NULL for what no header can carry. */
static const char *as_text(json_object *value, char *buf, size_t size)
{
    switch (json_object_get_type(value)) {
    case json_type_string:
        return json_object_get_string(value);
    case json_type_boolean:
        return json_object_get_boolean(value) ? "true" : "false";
    case json_type_int:
        snprintf(buf, size, "%lld", (long long)json_object_get_int64(value));
        return buf;
    case json_type_double:
        snprintf(buf, size, "%.17g", json_object_get_double(value));
        return buf;
    default:
        return NULL;
    }
}

/* §Server Validation (Note): numbers compare numerically (42.0 = 42). */
static bool same_value(const char *header, const char *body, json_object *value, const char *type)
{
    if (strcmp(header, body) == 0)
        return true;
    bool numeric = strcmp(type, "integer") == 0 || strcmp(type, "number") == 0;
    if (!numeric || (!json_object_is_type(value, json_type_int) &&
                     !json_object_is_type(value, json_type_double)))
        return false;
    char *end = NULL;
    double parsed = strtod(header, &end);
    return end != header && *end == '\0' && strspn(header, "-0123456789.") == strlen(header) &&
           parsed == json_object_get_double(value);
}

bool mcpauth__param_decls_check(const mcpauth__param_decls *d, const mcpauth__jsonrpc_message *msg,
                                const mcpauth_mcp_request *req, char *why, size_t why_size)
{
    json_object *name = msg->named;
    json_object *decls = NULL;
    if (!d || !req || !name || msg->known != MCPAUTH__METHOD_TOOLS_CALL ||
        !json_object_object_get_ex(d->tools, json_object_get_string(name), &decls))
        return true;
    json_object *args = mcpauth__json_member(msg->params, "arguments", json_type_object);
    size_t count = json_object_array_length(decls);
    for (size_t i = 0; i < count; i++) {
        json_object *decl = json_object_array_get_idx(decls, i);
        const char *header =
            json_object_get_string(mcpauth__json_member(decl, "h", json_type_string));
        const char *type =
            json_object_get_string(mcpauth__json_member(decl, "t", json_type_string));
        json_object *value = value_at(args, mcpauth__json_member(decl, "p", json_type_array));
        char buf[64];
        const char *body = value ? as_text(value, buf, sizeof buf) : NULL;
        if (!body)
            continue; /* absent or null: the header is not expected */
        const char *raw = param_header(req, header);
        if (!raw) {
            snprintf(why, why_size,
                     "Header mismatch: the body carries the argument declared with x-mcp-header "
                     "'%.64s' but the " PREFIX "%.64s header is absent",
                     header, header);
            return false;
        }
        char *decoded = mcpauth__stateless_header_decode(raw);
        bool same = decoded && same_value(decoded, body, value, type);
        free(decoded);
        if (!same) {
            snprintf(why, why_size,
                     "Header mismatch: the " PREFIX "%.64s header value is malformed or does not "
                     "match the body",
                     header);
            return false;
        }
    }
    return true;
}
