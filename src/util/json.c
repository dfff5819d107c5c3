#include "mcpauth/json.h"

#include <string.h>

json_object *mcpauth_json_parse(const char *text, size_t length, const char *what,
                                mcpauth_error *err)
{
    if (length > (size_t)INT32_MAX) {
        mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s is too large to parse", what);
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(MCPAUTH_JSON_MAX_DEPTH);
    if (!tok) {
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *obj = json_tokener_parse_ex(tok, text, (int)length);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    /* A bare number or literal at the very end ("42") may still continue as
     * far as json-c knows: a NUL byte tells it the input has ended. */
    if (!obj && jerr == json_tokener_continue && used == length) {
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
    }
    json_tokener_free(tok);
    if (!obj || jerr != json_tokener_success) {
        json_object_put(obj);
        mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s is not valid JSON (%s)", what,
                          jerr == json_tokener_continue ? "unexpected end of input"
                                                        : json_tokener_error_desc(jerr));
        return NULL;
    }
    /* json-c stops after the first value; anything but whitespace after it
     * means the input was not one JSON document. */
    for (size_t i = used; i < length; i++) {
        if (!strchr(" \t\r\n", text[i])) {
            json_object_put(obj);
            mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s has trailing data after the JSON value",
                              what);
            return NULL;
        }
    }
    return obj;
}

json_object *mcpauth_json_parse_object(const char *text, size_t length, const char *what,
                                       mcpauth_error *err)
{
    json_object *obj = mcpauth_json_parse(text, length, what, err);
    if (obj && !json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s is not a JSON object", what);
        return NULL;
    }
    return obj;
}

const char *mcpauth_json_string(json_object *obj, const char *key)
{
    json_object *member = NULL;
    if (!obj || !json_object_object_get_ex(obj, key, &member))
        return NULL;
    if (!json_object_is_type(member, json_type_string))
        return NULL;
    return json_object_get_string(member);
}

const char *mcpauth_json_pretty(json_object *obj)
{
    return json_object_to_json_string_ext(
        obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
}

const char *mcpauth_json_compact(json_object *obj)
{
    return json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
}
