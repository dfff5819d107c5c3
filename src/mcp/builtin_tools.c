/* The built-in tools: hello_world greets the authenticated user the way the
 * seed server does, whoami shows what authentication established about the
 * caller. Neither ever sees or returns the token itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "mcpauth/json.h"

typedef json_object *(*tool_fn)(const mcpauth_mcp_identity *identity);

typedef struct tool {
    const char *name;
    const char *title;
    const char *description;
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
              mcpauth__json_add(item, "type", json_object_new_string("text")) &&
              mcpauth__json_add(item, "text", json_object_get(text)) &&
              json_object_array_add(content, item) == 0;
    if (ok)
        item = NULL;
    ok = ok && mcpauth__json_add(result, "content", json_object_get(content));
    ok = ok && (!is_error || mcpauth__json_add(result, "isError", json_object_new_boolean(1)));
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

json_object *mcpauth__tools_list(void)
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

mcpauth__tool_status mcpauth__tools_call(const char *name, json_object *arguments,
                                         const mcpauth_mcp_identity *identity, json_object **result)
{
    *result = NULL;
    const tool *t = NULL;
    for (size_t i = 0; i < TOOL_COUNT && !t; i++) {
        if (strcmp(tools[i].name, name) == 0)
            t = &tools[i];
    }
    if (!t)
        return MCPAUTH__TOOL_UNKNOWN;

    /* MCP server/tools §Error Handling: input validation errors are tool
     * results with isError, so the model can see and correct them. */
    if (arguments && json_object_object_length(arguments) > 0) {
        char message[128];
        snprintf(message, sizeof message, "%s takes no arguments", t->name);
        *result = text_result(json_object_new_string(message), true);
    } else {
        *result = t->run(identity);
    }
    return *result ? MCPAUTH__TOOL_OK : MCPAUTH__TOOL_NO_MEMORY;
}
