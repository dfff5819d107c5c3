/* Bounded JSON parsing and small accessors over json-c.
 * Network input is hostile: parsing enforces a nesting depth and requires the
 * whole input to be one value. */
#ifndef MCPAUTH_JSON_H
#define MCPAUTH_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "mcpauth/error.h"
#include "mcpauth/strbuf.h"

#define MCPAUTH_JSON_MAX_DEPTH 32

/* Parses text[0..length) as one JSON value (trailing whitespace allowed;
 * a bare null is refused, since NULL means failure here).
 * Returns a new reference the caller releases with json_object_put(), or NULL
 * with err set (MCPAUTH_EREMOTE, "what" names the input in the message). */
json_object *mcpauth_json_parse(const char *text, size_t length, const char *what,
                                mcpauth_error *err);

/* Like mcpauth_json_parse() but also requires a JSON object. */
json_object *mcpauth_json_parse_object(const char *text, size_t length, const char *what,
                                       mcpauth_error *err);

/* A JSON value left as text by mcpauth_json_parse_deferring(): where it is
 * written in the parsed text, which must outlive it (text NULL: absent). */
typedef struct mcpauth_json_span {
    const char *text;
    size_t length;
} mcpauth_json_span;

/* mcpauth_json_parse(), except that the member at path (the names of
 * nested members from the top-level object, depth of them) is checked as
 * strictly but not built, nor added to its object: *deferred gets its text
 * (the last value of that name, as a parse keeps; NULL text when absent or
 * on failure). For a member most documents carry and few readers need,
 * whose objects and hashed names would be made for nothing: MCP's
 * params._meta. The span points into text. */
json_object *mcpauth_json_parse_deferring(const char *text, size_t length, const char *what,
                                          const char *const *path, size_t depth,
                                          mcpauth_json_span *deferred, mcpauth_error *err);

/* Over a span a parse checked, in one pass: the values of the members
 * keys[0..count) of the object written there (the last one of a name) into
 * values[0..count), text NULL for those absent. False (every text NULL)
 * when the span is not an object. */
bool mcpauth_json_span_members(mcpauth_json_span object, const char *const *keys, size_t count,
                               mcpauth_json_span *values);

/* The type of the value at a span (any number: json_type_double; an absent
 * one: json_type_null). */
json_type mcpauth_json_span_type(mcpauth_json_span value);

/* The string at a span, unescaped; the caller frees it. NULL when it is not
 * a string, or memory ran out. */
char *mcpauth_json_span_string(mcpauth_json_span value);

/* Builds the deferred member and adds it where it was, at path (as given to
 * mcpauth_json_parse_deferring()) in root. True when it was absent or is
 * there now; false when memory ran out. */
bool mcpauth_json_restore(json_object *root, const char *const *path, size_t depth,
                          mcpauth_json_span deferred);

/* The string member key of obj, or NULL when absent or not a string.
 * Borrowed: valid while obj lives. */
const char *mcpauth_json_string(json_object *obj, const char *key);

/* True when the member key of obj is an array holding the string value
 * (e.g. "S256" in code_challenge_methods_supported); false when obj is
 * NULL, the member is absent or not an array. Items that are not strings
 * never match. */
bool mcpauth_json_array_has(json_object *obj, const char *key, const char *value);

/* True when the member key of obj is the boolean true; an absent member or
 * another type is false (RFC 8414 §2 metadata flags default to false). */
bool mcpauth_json_true(json_object *obj, const char *key);

/* Serialises obj pretty-printed (2-space indent, no escaped slashes).
 * Borrowed: valid until obj is modified or released. */
const char *mcpauth_json_pretty(json_object *obj);

/* Serialises obj compactly (no escaped slashes). Borrowed, as above. */
const char *mcpauth_json_compact(json_object *obj);

/* Writes s as a JSON string, quotes included, into out (size bytes; not
 * NUL-terminated) with json-c's escapes (no escaped slashes), for output
 * built without a json_object. A string that does not fit is cut short at
 * a character boundary, never inside an escape, so the result is always a
 * valid JSON string. Returns the bytes written: 0 only when size < 2. */
size_t mcpauth_json_quote(char *out, size_t size, const char *s);

/* Appends obj serialized byte for byte as mcpauth_json_compact() does, with
 * no buffer kept in obj: the serializer of every answer, where json-c's
 * (its buffer grown piece by piece, then owned by the object) cost a tenth
 * of a small request. An object with userdata is written by its own
 * serializer, so a custom one must come with userdata. False when memory
 * ran out (sb's failure). */
bool mcpauth_json_append(mcpauth_strbuf *sb, json_object *obj);

#endif
