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

#define MCPAUTH_JSON_DEFER_MEMBERS 4

/* Which member mcpauth_json_parse_deferring() leaves as text: its path
 * (the names of nested members from the top-level object, depth of them),
 * and the members of it (when it is an object) to find on the way. */
typedef struct mcpauth_json_deferral {
    const char *const *path;
    size_t depth;
    const char *const *members;
    size_t count; /* at most MCPAUTH_JSON_DEFER_MEMBERS */
} mcpauth_json_deferral;

/* What it left: the member's text, and the text of each member of it asked
 * for (text NULL: absent). The last value of a name counts, as in a parse. */
typedef struct mcpauth_json_deferred {
    mcpauth_json_span text;
    mcpauth_json_span members[MCPAUTH_JSON_DEFER_MEMBERS];
} mcpauth_json_deferred;

/* mcpauth_json_parse(), except that the member how names is checked as
 * strictly but not built, nor added to its object: *out gets its text and
 * that of the members asked for, pointing into text (all NULL when absent
 * or on failure). For a member most documents carry and few readers need,
 * whose objects and hashed names would be made for nothing: MCP's
 * params._meta. */
json_object *mcpauth_json_parse_deferring(const char *text, size_t length, const char *what,
                                          const mcpauth_json_deferral *how,
                                          mcpauth_json_deferred *out, mcpauth_error *err);

/* The type of the value at a span (any number: json_type_double; an absent
 * one: json_type_null). */
json_type mcpauth_json_span_type(mcpauth_json_span value);

/* The string at a span, unescaped; the caller frees it. NULL when it is not
 * a string, or memory ran out. */
char *mcpauth_json_span_string(mcpauth_json_span value);

/* Whether the value at a span is the string text (unescaped). */
bool mcpauth_json_span_string_is(mcpauth_json_span value, const char *text);

/* Builds the member left as text and adds it where how says, in root. True
 * when it was absent or is there now; false when memory ran out. */
bool mcpauth_json_restore(json_object *root, const mcpauth_json_deferral *how,
                          mcpauth_json_span text);

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

/* mcpauth_json_append() of an object obj whose member key, an object, gets
 * members at its end: text of one or more "name":value pairs serialized
 * ahead (not checked here), for parts every answer shares, written once
 * rather than built into each answer. Without that member obj is written
 * as it is. */
bool mcpauth_json_append_extending(mcpauth_strbuf *sb, json_object *obj, const char *key,
                                   const char *members);

#endif
