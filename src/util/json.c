#include "mcpauth/json.h"

#include "json_text.h"

#include <stdint.h>

#include <string.h>

const char *mcpauth_json_string(json_object *obj, const char *key)
{
    json_object *member = NULL;
    if (!obj || !json_object_object_get_ex(obj, key, &member))
        return NULL;
    if (!json_object_is_type(member, json_type_string))
        return NULL;
    return json_object_get_string(member);
}

bool mcpauth_json_array_has(json_object *obj, const char *key, const char *value)
{
    json_object *array = NULL;
    if (!obj || !json_object_object_get_ex(obj, key, &array) ||
        !json_object_is_type(array, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(array); i++) {
        json_object *item = json_object_array_get_idx(array, i);
        if (json_object_is_type(item, json_type_string) &&
            strcmp(json_object_get_string(item), value) == 0)
            return true;
    }
    return false;
}

bool mcpauth_json_true(json_object *obj, const char *key)
{
    json_object *member = NULL;
    return obj && json_object_object_get_ex(obj, key, &member) &&
           json_object_is_type(member, json_type_boolean) && json_object_get_boolean(member);
}

const char *mcpauth_json_pretty(json_object *obj)
{
    return json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
}

const char *mcpauth_json_compact(json_object *obj)
{
    return json_object_to_json_string_ext(obj,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The escapes of json-c's serializer (no escaped slashes) for length
 * bytes of s, into out as mcpauth_json_quote() describes. */
static size_t quote(char *out, size_t size, const char *s, size_t length)
{
    const char *end = s + length;
    static const char hex[] = "0123456789abcdef";
    if (size < 2)
        return 0;
    size_t used = 0, room = size - 1; /* the closing quote always fits */
    size_t sequence_at = 0;           /* where the last UTF-8 sequence began */
    int sequence_left = 0;            /* its continuation bytes still to come */
    out[used++] = '"';
    for (; s < end; s++) {
        /* A run of ASCII that needs no escape goes over in one copy. */
        size_t run = 0;
        while (s + run < end && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x80 &&
               s[run] != '"' && s[run] != '\\')
            run++;
        if (run > 0) {
            if (run > room - used)
                run = room - used;
            memcpy(out + used, s, run);
            used += run;
            s += run;
            sequence_left = 0;
            if (s == end || used == room)
                break;
        }
        unsigned char c = (unsigned char)*s;
        char piece[6];
        size_t n = 0;
        switch (c) {
        case '"':
        case '\\':
            piece[n++] = '\\';
            piece[n++] = (char)c;
            break;
        case '\b':
            piece[n++] = '\\';
            piece[n++] = 'b';
            break;
        case '\f':
            piece[n++] = '\\';
            piece[n++] = 'f';
            break;
        case '\n':
            piece[n++] = '\\';
            piece[n++] = 'n';
            break;
        case '\r':
            piece[n++] = '\\';
            piece[n++] = 'r';
            break;
        case '\t':
            piece[n++] = '\\';
            piece[n++] = 't';
            break;
        default:
            if (c < 0x20) {
                memcpy(piece, "\\u00", 4);
                piece[4] = hex[c >> 4];
                piece[5] = hex[c & 15];
                n = 6;
            } else {
                piece[n++] = (char)c;
            }
        }
        if (used + n > room)
            break;
        if (c >= 0xc0) {
            sequence_at = used;
            sequence_left = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
        } else if (c >= 0x80 && sequence_left > 0) {
            sequence_left--;
        }
        memcpy(out + used, piece, n);
        used += n;
    }
    if (s < end && sequence_left > 0)
        used = sequence_at; /* cut short: no half of a character */
    out[used++] = '"';
    return used;
}

size_t mcpauth_json_quote(char *out, size_t size, const char *s)
{
    return quote(out, size, s, strlen(s));
}

/* The bytes quote() writes for length bytes of s, quotes included: the
 * room reserved is exact, not six times the string (a tool's answer may
 * hold megabytes of text). */
static size_t quoted_length(const char *s, size_t length)
{
    size_t n = 2;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
            n += 2;
        else if (c < 0x20)
            n += 6;
        else
            n += 1;
    }
    return n;
}

static void append_quoted(mcpauth_strbuf *sb, const char *s, size_t length)
{
    /* Most strings need no escape: one look, one copy. */
    if (mcpauth__json_plain_run(s, length) == length) {
        if (!mcpauth_strbuf_reserve(sb, length + 2)) {
            sb->failed = true;
            return;
        }
        char *out = sb->data + sb->length;
        out[0] = '"';
        memcpy(out + 1, s, length);
        out[length + 1] = '"';
        sb->length += length + 2;
        sb->data[sb->length] = '\0';
        return;
    }
    size_t n = quoted_length(s, length);
    if (!mcpauth_strbuf_reserve(sb, n)) {
        sb->failed = true;
        return;
    }
    sb->length += quote(sb->data + sb->length, n + 1, s, length);
    sb->data[sb->length] = '\0';
}

static void append_value(mcpauth_strbuf *sb, json_object *obj);

/* An object's members; with members, that text after them (and, with
 * key, only in the member so named, an object, instead). */
static void append_object(mcpauth_strbuf *sb, json_object *obj, const char *key,
                          const char *members)
{
    bool first = true;
    mcpauth_strbuf_put(sb, "{", 1);
    json_object_object_foreach(obj, name, value)
    {
        if (!first)
            mcpauth_strbuf_put(sb, ",", 1);
        first = false;
        append_quoted(sb, name, strlen(name));
        mcpauth_strbuf_put(sb, ":", 1);
        if (key && name[0] == key[0] && strcmp(name, key) == 0 &&
            json_object_is_type(value, json_type_object) && !json_object_get_userdata(value))
            append_object(sb, value, NULL, members);
        else
            append_value(sb, value);
    }
    if (members && !key) {
        if (!first)
            mcpauth_strbuf_put(sb, ",", 1);
        mcpauth_strbuf_put(sb, members, strlen(members));
    }
    mcpauth_strbuf_put(sb, "}", 1);
}

static void append_value(mcpauth_strbuf *sb, json_object *obj)
{
    if (!obj) {
        mcpauth_strbuf_put(sb, "null", 4);
        return;
    }
    /* An object with userdata has a serializer of its own (a double kept
     * as it was written, or a value given one): json-c writes it. */
    if (json_object_get_userdata(obj) || json_object_is_type(obj, json_type_double)) {
        size_t n = 0;
        const char *text = json_object_to_json_string_length(
            obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        if (!text)
            sb->failed = true;
        else
            mcpauth_strbuf_put(sb, text, n);
        return;
    }
    switch (json_object_get_type(obj)) {
    case json_type_object:
        append_object(sb, obj, NULL, NULL);
        break;
    case json_type_array: {
        size_t n = json_object_array_length(obj);
        mcpauth_strbuf_put(sb, "[", 1);
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                mcpauth_strbuf_put(sb, ",", 1);
            append_value(sb, json_object_array_get_idx(obj, i));
        }
        mcpauth_strbuf_put(sb, "]", 1);
        break;
    }
    case json_type_string:
        append_quoted(sb, json_object_get_string(obj), (size_t)json_object_get_string_len(obj));
        break;
    case json_type_int: {
        /* A json-c integer is an int64 or a uint64 above INT64_MAX. */
        int64_t value = json_object_get_int64(obj);
        if (value < INT64_MAX)
            mcpauth_strbuf_append_int(sb, value);
        else
            mcpauth_strbuf_append_uint(sb, json_object_get_uint64(obj));
        break;
    }
    case json_type_boolean:
        if (json_object_get_boolean(obj))
            mcpauth_strbuf_put(sb, "true", 4);
        else
            mcpauth_strbuf_put(sb, "false", 5);
        break;
    default:
        mcpauth_strbuf_put(sb, "null", 4);
        break;
    }
}

bool mcpauth_json_append(mcpauth_strbuf *sb, json_object *obj)
{
    mcpauth_strbuf_reserve(sb, 512); /* most answers: one allocation */
    append_value(sb, obj);
    return !mcpauth_strbuf_failed(sb);
}

bool mcpauth_json_append_extending(mcpauth_strbuf *sb, json_object *obj, const char *key,
                                   const char *members)
{
    if (!members || !json_object_is_type(obj, json_type_object) || json_object_get_userdata(obj))
        return mcpauth_json_append(sb, obj);
    mcpauth_strbuf_reserve(sb, 512);
    append_object(sb, obj, key, members);
    return !mcpauth_strbuf_failed(sb);
}
