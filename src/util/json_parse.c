/* The JSON parser: RFC 8259 text to json-c objects, bounded and strict.
 *
 * Written here rather than json-c's tokener, which cost a fifth of
 * answering a small MCP request: it switches the thread's locale around
 * every call, grows a buffer byte by byte, and was made for input that
 * arrives in pieces, which ours never does. What it builds is json-c's, so
 * the rest of mcpauth is unchanged.
 *
 * The language is the one the tokener accepted in strict mode, less its
 * leniencies: a number ending in '.' ("1."), with leading zeros ("00") or
 * without a digit after its minus sign ("-.5"), a control character raw in
 * a string (RFC 8259 §7 wants it escaped) and invalid UTF-8 are refused
 * (tests/fuzz/fuzz_json.c holds it to that against the tokener). Kept for
 * peers that send them: NaN, Infinity and -Infinity (json-c writes
 * them back as they came); a lone UTF-16 surrogate escape becomes U+FFFD;
 * an integer beyond 64 bits becomes the nearest bound (-2^63 or 2^64-1); a
 * member named twice keeps the last value, in the first one's place. */
#include "mcpauth/json.h"

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_text.h"
#include "mcpauth/hex.h"

/* RFC 3629 §4: well-formed UTF-8 only, so no overlong forms, no UTF-16
 * surrogates (U+D800..U+DFFF) and nothing above U+10FFFF. json-c's own check
 * lets some of these through. */
static bool utf8_valid(const unsigned char *s, size_t length)
{
    size_t i = 0;
    while (i < length) {
        /* ASCII sixteen bytes at a time: no byte with its high bit set. */
        uint64_t word[2];
        if (length - i >= 16 && (memcpy(word, s + i, 16),
                                 ((word[0] | word[1]) & 0x8080808080808080ULL) == 0)) {
            i += 16;
            continue;
        }
        if (length - i >= 8 && (memcpy(word, s + i, 8), (word[0] & 0x8080808080808080ULL) == 0)) {
            i += 8;
            continue;
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return false;
        }
        if (length - i <= n || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        }
        i += n + 1;
    }
    return true;
}

/* Parses one value; *is_null tells a bare null (NULL, no error) apart. */
typedef struct reader {
    const char *p, *end;
    int depth;
    const char *problem; /* why the text was refused; NULL while it is fine */
    bool no_memory;      /* the problem is ours, not the text's */
    /* The member left as text (mcpauth_json_parse_deferring()), how many
     * of its path's names the objects being read match, and what it left. */
    const mcpauth_json_deferral *how;
    int matched;
    mcpauth_json_deferred *deferred;
    size_t member_lengths[MCPAUTH_JSON_DEFER_MEMBERS]; /* of how->members */
} reader;

static json_object *read_value(reader *r);

static void skip_space(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static json_object *refuse(reader *r, const char *problem)
{
    if (!r->problem)
        r->problem = r->p >= r->end ? "unexpected end of input" : problem;
    return NULL;
}

static void no_memory(reader *r)
{
    r->problem = "out of memory";
    r->no_memory = true;
}

static bool take(reader *r, const char *word, size_t length)
{
    if ((size_t)(r->end - r->p) < length || memcmp(r->p, word, length) != 0)
        return false;
    r->p += length;
    return true;
}

/* Four hex digits after "\u"; -1 when they are not. */
static long read_hex4(reader *r)
{
    if (r->end - r->p < 4)
        return -1;
    long value = 0;
    for (int i = 0; i < 4; i++) {
        int digit = mcpauth_hex_digit(r->p[i]);
        if (digit < 0)
            return -1;
        value = value * 16 + digit;
    }
    r->p += 4;
    return value;
}

static size_t put_utf8(char *out, unsigned long c)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xe0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* One escape after its backslash, decoded into out (at most 4 bytes);
 * 0 when it is not one. */
static size_t read_escape(reader *r, char *out)
{
    char c = *r->p++;
    switch (c) {
    case '"':
    case '\\':
    case '/':
        out[0] = c;
        return 1;
    case 'b':
        out[0] = '\b';
        return 1;
    case 'f':
        out[0] = '\f';
        return 1;
    case 'n':
        out[0] = '\n';
        return 1;
    case 'r':
        out[0] = '\r';
        return 1;
    case 't':
        out[0] = '\t';
        return 1;
    case 'u':
        break;
    default:
        return 0;
    }
    long unit = read_hex4(r);
    if (unit < 0)
        return 0;
    if (unit >= 0xd800 && unit <= 0xdbff && r->end - r->p >= 6 && r->p[0] == '\\' &&
        r->p[1] == 'u') {
        /* A high surrogate: with a low one after it, one character. */
        const char *back = r->p;
        r->p += 2;
        long low = read_hex4(r);
        if (low >= 0xdc00 && low <= 0xdfff)
            return put_utf8(out, 0x10000 + (((unsigned long)unit - 0xd800) << 10) +
                                     ((unsigned long)low - 0xdc00));
        r->p = back; /* not a pair: the next escape stands alone */
    }
    if (unit >= 0xd800 && unit <= 0xdfff)
        unit = 0xfffd;
    return put_utf8(out, (unsigned long)unit);
}

/* A string's contents after its opening quote, into *out (length bytes;
 * NUL-terminated; a copy only when it has escapes, else into the text).
 * *owned is what the caller frees. False when it is not a string. */
static bool read_string(reader *r, const char **out, size_t *length, char **owned)
{
    const char *start = r->p;
    /* Bytes >= 0x80 were checked as UTF-8 before. */
    r->p += mcpauth__json_plain_run(r->p, (size_t)(r->end - r->p));
    *owned = NULL;
    if (r->p < r->end && *r->p == '"') {
        *out = start;
        *length = (size_t)(r->p - start);
        r->p++;
        return true;
    }
    /* Escapes: decoded text is never longer than its source, which ends at
     * the first quote no backslash escapes. */
    const char *close = r->p;
    while (close < r->end && *close != '"')
        close += *close == '\\' ? 2 : 1;
    if (close > r->end)
        close = r->end;
    char *text = malloc((size_t)(close - start) + 1);
    if (!text) {
        no_memory(r);
        return false;
    }
    size_t used = (size_t)(r->p - start);
    memcpy(text, start, used);
    while (r->p < r->end && *r->p != '"') {
        unsigned char c = (unsigned char)*r->p;
        if (c < 0x20) {
            free(text);
            refuse(r, "a control character in a string");
            return false;
        }
        if (c != '\\') {
            text[used++] = (char)c;
            r->p++;
            continue;
        }
        r->p++;
        size_t n = r->p < r->end ? read_escape(r, text + used) : 0;
        if (n == 0) {
            free(text);
            refuse(r, "an invalid escape in a string");
            return false;
        }
        used += n;
    }
    if (r->p >= r->end) {
        free(text);
        refuse(r, "");
        return false;
    }
    r->p++;
    text[used] = '\0';
    *out = *owned = text;
    *length = used;
    return true;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* strtod() in the C locale, whatever the process's. */
static double c_strtod(const char *text)
{
    static locale_t c_locale;
    if (!c_locale)
        c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    return c_locale ? strtod_l(text, NULL, c_locale) : strtod(text, NULL);
}

/* The kinds of number text scan_number() finds. */
typedef enum number_kind { NUMBER_BAD, NUMBER_INTEGER, NUMBER_REAL, NUMBER_NAMED } number_kind;

/* Steps over a number's text (RFC 8259 §6, and the named doubles). */
static number_kind scan_number(reader *r)
{
    if (take(r, "NaN", 3) || take(r, "Infinity", 8) || take(r, "-Infinity", 9))
        return NUMBER_NAMED;
    bool negative = r->p < r->end && *r->p == '-';
    if (negative)
        r->p++;
    if (r->p >= r->end || !is_digit(*r->p)) {
        refuse(r, negative ? "a digit expected after the minus sign" : "a value expected");
        return NUMBER_BAD;
    }
    if (*r->p == '0') {
        r->p++;
        if (r->p < r->end && is_digit(*r->p)) {
            refuse(r, "a number with a leading zero");
            return NUMBER_BAD;
        }
    } else {
        while (r->p < r->end && is_digit(*r->p))
            r->p++;
    }
    number_kind kind = NUMBER_INTEGER;
    if (r->p < r->end && *r->p == '.') {
        kind = NUMBER_REAL;
        r->p++;
        if (r->p >= r->end || !is_digit(*r->p)) {
            r->problem = "a digit expected after the decimal point"; /* also at the end */
            return NUMBER_BAD;
        }
        while (r->p < r->end && is_digit(*r->p))
            r->p++;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        kind = NUMBER_REAL;
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (r->p >= r->end || !is_digit(*r->p)) {
            refuse(r, "a digit expected in the exponent");
            return NUMBER_BAD;
        }
        while (r->p < r->end && is_digit(*r->p))
            r->p++;
    }
    return kind;
}

static json_object *read_number(reader *r)
{
    const char *start = r->p;
    number_kind kind = scan_number(r);
    if (kind == NUMBER_BAD)
        return NULL;
    if (kind == NUMBER_NAMED) {
        size_t n = (size_t)(r->p - start);
        return n == 3   ? json_object_new_double_s(NAN, "NaN")
               : n == 8 ? json_object_new_double_s(INFINITY, "Infinity")
                        : json_object_new_double_s(-INFINITY, "-Infinity");
    }
    bool negative = *start == '-';
    bool integer = kind == NUMBER_INTEGER;
    size_t length = (size_t)(r->p - start);
    if (integer) {
        /* Beyond 64 bits: the nearest bound, as json-c has it. */
        uint64_t magnitude = 0;
        bool overflow = false;
        for (const char *d = start + negative; d < r->p; d++) {
            unsigned digit = (unsigned)(*d - '0');
            if (magnitude > (UINT64_MAX - digit) / 10)
                overflow = true;
            else
                magnitude = magnitude * 10 + digit;
        }
        if (negative)
            return json_object_new_int64(overflow || magnitude > (uint64_t)INT64_MAX + 1
                                             ? INT64_MIN
                                             : (int64_t)(0 - magnitude));
        if (overflow)
            return json_object_new_uint64(UINT64_MAX);
        return magnitude <= INT64_MAX ? json_object_new_int64((int64_t)magnitude)
                                      : json_object_new_uint64(magnitude);
    }
    /* A double keeps its text, which json-c writes back as it came. */
    char buffer[64];
    char *text = length < sizeof buffer ? buffer : malloc(length + 1);
    if (!text) {
        no_memory(r);
        return NULL;
    }
    memcpy(text, start, length);
    text[length] = '\0';
    json_object *number = json_object_new_double_s(c_strtod(text), text);
    if (text != buffer)
        free(text);
    return number;
}

static json_object *read_string_value(reader *r)
{
    const char *text;
    size_t length;
    char *owned;
    if (!read_string(r, &text, &length, &owned))
        return NULL;
    json_object *string = json_object_new_string_len(text, (int)length);
    free(owned);
    return string;
}

static bool enter(reader *r)
{
    if (++r->depth > MCPAUTH_JSON_MAX_DEPTH) {
        r->problem = "nesting too deep";
        return false;
    }
    return true;
}

/* An object or array that closes right after its opening (close is '}'
 * or ']'): stepped over, and its level left. */
static bool closes_now(reader *r, char close)
{
    skip_space(r);
    if (r->p >= r->end || *r->p != close)
        return false;
    r->p++;
    r->depth--;
    return true;
}

/* What follows a member or item: another (','), the end (close, its level
 * left), or neither, which the caller refuses. */
typedef enum after_item { ITEM_NEXT, ITEM_LAST, ITEM_BAD } after_item;

static after_item item_end(reader *r, char close)
{
    skip_space(r);
    if (r->p < r->end && *r->p == ',') {
        r->p++;
        return ITEM_NEXT;
    }
    if (r->p < r->end && *r->p == close) {
        r->p++;
        r->depth--;
        return ITEM_LAST;
    }
    return ITEM_BAD;
}

/* A member's name and its ':' (an object's '{' or ',' already read):
 * *owned as read_string() gives it, NULL after a failure. False when the
 * text holds no such name; the caller refuses. */
static bool read_member_name(reader *r, const char **name, size_t *length, char **owned)
{
    *owned = NULL;
    skip_space(r);
    if (r->p >= r->end || *r->p != '"')
        return false;
    r->p++;
    if (!read_string(r, name, length, owned))
        return false;
    skip_space(r);
    if (r->p >= r->end || *r->p != ':') {
        free(*owned);
        *owned = NULL;
        return false;
    }
    r->p++;
    return true;
}

/* --- values checked but not built ---------------------------------------- */

static bool skip_value(reader *r);

/* The index in how->members of name; how->count when it is not one. */
static size_t member_index(const reader *r, const mcpauth_json_deferral *how, const char *name,
                           size_t length)
{
    for (size_t i = 0; i < how->count && i < MCPAUTH_JSON_DEFER_MEMBERS; i++) {
        if (r->member_lengths[i] == length && memcmp(name, how->members[i], length) == 0)
            return i;
    }
    return how->count;
}

/* An object after its '{', held to read_object()'s rules; with found, the
 * text of the members of how it holds goes there. */
static bool skip_object(reader *r, const mcpauth_json_deferral *how, mcpauth_json_span *found)
{
    if (!enter(r))
        return false;
    if (closes_now(r, '}'))
        return true;
    for (;;) {
        const char *name;
        size_t length;
        char *owned;
        if (!read_member_name(r, &name, &length, &owned))
            break;
        /* A name with an escaped NUL ends there, as json-c keeps it. */
        size_t at = found ? member_index(r, how, name, owned ? strlen(owned) : length) : 0;
        free(owned);
        skip_space(r);
        const char *start = r->p;
        if (!skip_value(r))
            break;
        if (found && at < how->count)
            found[at] = (mcpauth_json_span){start, (size_t)(r->p - start)};
        after_item next = item_end(r, '}');
        if (next == ITEM_NEXT)
            continue;
        if (next == ITEM_LAST)
            return true;
        break;
    }
    refuse(r, "an object member or its end expected");
    return false;
}

/* An array after its '[', held to read_array()'s rules. */
static bool skip_array(reader *r)
{
    if (!enter(r))
        return false;
    if (closes_now(r, ']'))
        return true;
    for (;;) {
        if (!skip_value(r))
            break;
        after_item next = item_end(r, ']');
        if (next == ITEM_NEXT)
            continue;
        if (next == ITEM_LAST)
            return true;
        break;
    }
    refuse(r, "an array item or its end expected");
    return false;
}

/* Steps over one value, refusing what read_value() refuses. */
static bool skip_value(reader *r)
{
    skip_space(r);
    if (r->p >= r->end) {
        refuse(r, "");
        return false;
    }
    switch (*r->p) {
    case '{':
        r->p++;
        return skip_object(r, NULL, NULL);
    case '[':
        r->p++;
        return skip_array(r);
    case '"': {
        r->p++;
        const char *text;
        size_t length;
        char *owned;
        if (!read_string(r, &text, &length, &owned))
            return false;
        free(owned);
        return true;
    }
    case 't':
        if (take(r, "true", 4))
            return true;
        break;
    case 'f':
        if (take(r, "false", 5))
            return true;
        break;
    case 'n':
        if (take(r, "null", 4))
            return true;
        break;
    default:
        return scan_number(r) != NUMBER_BAD;
    }
    refuse(r, "a value expected");
    return false;
}

/* --- values built -------------------------------------------------------- */

/* The value of member key of the object being read at r->depth: left as
 * text when it is the deferred member; a member on the way to that one is
 * read with one more name matched, and a new value for it drops what an
 * earlier one deferred (the last value of a name counts). */
static json_object *read_member_value(reader *r, const char *key, bool *deferred)
{
    *deferred = false;
    const mcpauth_json_deferral *how = r->how;
    int at = r->depth - 1; /* the name's index in the path */
    if (!how || r->matched != at || at >= (int)how->depth || key[0] != how->path[at][0] ||
        strcmp(key, how->path[at]) != 0)
        return read_value(r);
    *r->deferred = (mcpauth_json_deferred){0};
    if (at + 1 == (int)how->depth) {
        *deferred = true;
        skip_space(r);
        const char *start = r->p;
        mcpauth_json_deferred found = {0};
        bool ok;
        if (r->p < r->end && *r->p == '{') {
            r->p++;
            ok = skip_object(r, how, found.members);
        } else {
            ok = skip_value(r);
        }
        if (ok) {
            found.text = (mcpauth_json_span){start, (size_t)(r->p - start)};
            *r->deferred = found;
        }
        return NULL;
    }
    r->matched++;
    json_object *value = read_value(r);
    r->matched--;
    return value;
}

/* Member names nearly every MCP message carries: json-c keeps these
 * without a copy of its own (the copy and its free were a tenth of building
 * a small request). */
#define NAME(text) {text, sizeof text - 1}
static const struct {
    const char *text;
    size_t length;
} common_names[] = {
    NAME("id"),      NAME("data"),    NAME("code"),    NAME("name"),    NAME("text"),
    NAME("type"),    NAME("_meta"),   NAME("error"),   NAME("tools"),   NAME("method"),
    NAME("params"),  NAME("result"),  NAME("content"), NAME("isError"), NAME("jsonrpc"),
    NAME("message"), NAME("arguments"),
};
#undef NAME

static const char *common_name(const char *name, size_t length)
{
    for (size_t i = 0; i < sizeof common_names / sizeof common_names[0]; i++) {
        if (common_names[i].length == length && common_names[i].text[0] == name[0] &&
            memcmp(common_names[i].text, name, length) == 0)
            return common_names[i].text;
    }
    return NULL;
}

static json_object *read_object(reader *r)
{
    if (!enter(r))
        return NULL;
    json_object *object = json_object_new_object();
    if (!object) {
        no_memory(r);
        return NULL;
    }
    if (closes_now(r, '}'))
        return object;
    for (;;) {
        const char *name;
        size_t length;
        char *owned;
        if (!read_member_name(r, &name, &length, &owned))
            break;
        /* json-c wants the name NUL-terminated: one from the text is not. */
        char small[128];
        char *key = owned;
        const char *common = owned ? NULL : common_name(name, length);
        if (common) {
            key = (char *)common; /* never written to, never freed */
        } else if (!key) {
            key = length < sizeof small ? small : malloc(length + 1);
            if (!key) {
                no_memory(r);
                break;
            }
            memcpy(key, name, length);
            key[length] = '\0';
        }
        bool deferred = false;
        json_object *value = read_member_value(r, key, &deferred);
        bool ok = !r->problem;
        if (ok && !deferred &&
            json_object_object_add_ex(object, key, value,
                                      common ? JSON_C_OBJECT_ADD_CONSTANT_KEY : 0) != 0) {
            json_object_put(value);
            no_memory(r);
            ok = false;
        }
        if (key != small && !common)
            free(key);
        if (!ok)
            break;
        after_item next = item_end(r, '}');
        if (next == ITEM_NEXT)
            continue;
        if (next == ITEM_LAST)
            return object;
        break;
    }
    json_object_put(object);
    return refuse(r, "an object member or its end expected");
}

static json_object *read_array(reader *r)
{
    if (!enter(r))
        return NULL;
    json_object *array = json_object_new_array();
    if (!array) {
        no_memory(r);
        return NULL;
    }
    if (closes_now(r, ']'))
        return array;
    for (;;) {
        json_object *item = read_value(r);
        if (r->problem)
            break;
        if (json_object_array_add(array, item) != 0) {
            json_object_put(item);
            no_memory(r);
            break;
        }
        after_item next = item_end(r, ']');
        if (next == ITEM_NEXT)
            continue;
        if (next == ITEM_LAST)
            return array;
        break;
    }
    json_object_put(array);
    return refuse(r, "an array item or its end expected");
}

/* What a json-c constructor made: NULL from it means memory ran out. */
static json_object *made(reader *r, json_object *value)
{
    if (!value && !r->problem)
        no_memory(r);
    return value;
}

/* A value, or NULL: the literal null when r->problem is still NULL. */
static json_object *read_value(reader *r)
{
    skip_space(r);
    if (r->p >= r->end)
        return refuse(r, "");
    switch (*r->p) {
    case '{':
        r->p++;
        return read_object(r);
    case '[':
        r->p++;
        return read_array(r);
    case '"':
        r->p++;
        return made(r, read_string_value(r));
    case 't':
        if (take(r, "true", 4))
            return made(r, json_object_new_boolean(1));
        break;
    case 'f':
        if (take(r, "false", 5))
            return made(r, json_object_new_boolean(0));
        break;
    case 'n':
        if (take(r, "null", 4))
            return NULL;
        break;
    default:
        return made(r, read_number(r));
    }
    return refuse(r, "a value expected");
}

/* Parses text as one JSON value, the literal null setting *is_null. */
static json_object *parse_value(reader r, const char *text, size_t length, const char *what,
                                bool *is_null, mcpauth_error *err)
{
    *is_null = false;
    if (!utf8_valid((const unsigned char *)text, length)) {
        mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s is not valid JSON: not UTF-8 (RFC 8259 §8.1)",
                          what);
        return NULL;
    }
    if (length > (size_t)INT32_MAX) {
        mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s is too large to parse", what);
        return NULL;
    }
    r.p = text;
    r.end = text + length;
    json_object *obj = read_value(&r);
    if (r.problem) {
        json_object_put(obj);
        mcpauth_error_set(err, r.no_memory ? MCPAUTH_ELOCAL : MCPAUTH_EREMOTE,
                          "%s is not valid JSON (%s at byte %zu)", what, r.problem,
                          (size_t)(r.p - text));
        return NULL;
    }
    /* Anything but whitespace after the value: not one JSON document. */
    skip_space(&r);
    if (r.p < r.end) {
        json_object_put(obj);
        mcpauth_error_set(err, MCPAUTH_EREMOTE,
                          "%s is not valid JSON (trailing data after the value at byte %zu)", what,
                          (size_t)(r.p - text));
        return NULL;
    }
    *is_null = !obj;
    return obj;
}

json_object *mcpauth_json_parse(const char *text, size_t length, const char *what,
                                mcpauth_error *err)
{
    bool is_null;
    json_object *obj = parse_value((reader){0}, text, length, what, &is_null, err);
    /* NULL means failure here, so a bare null cannot be returned; no caller
     * wants one anyway. */
    if (is_null)
        mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s is null, not a JSON object or array", what);
    return obj;
}

json_object *mcpauth_json_parse_object(const char *text, size_t length, const char *what,
                                       mcpauth_error *err)
{
    bool is_null;
    json_object *obj = parse_value((reader){0}, text, length, what, &is_null, err);
    if (is_null || (obj && !json_object_is_type(obj, json_type_object))) {
        json_object_put(obj);
        mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s is not a JSON object", what);
        return NULL;
    }
    return obj;
}

json_object *mcpauth_json_parse_deferring(const char *text, size_t length, const char *what,
                                          const mcpauth_json_deferral *how,
                                          mcpauth_json_deferred *out, mcpauth_error *err)
{
    *out = (mcpauth_json_deferred){0};
    reader r = {.how = how, .deferred = out};
    /* The deferred member's names, measured once a parse, not per name read. */
    for (size_t i = 0; i < how->count && i < MCPAUTH_JSON_DEFER_MEMBERS; i++)
        r.member_lengths[i] = strlen(how->members[i]);
    bool is_null;
    json_object *obj = parse_value(r, text, length, what, &is_null, err);
    if (is_null)
        mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s is null, not a JSON object or array", what);
    if (!obj)
        *out = (mcpauth_json_deferred){0};
    return obj;
}

/* A reader over text a parse has already checked. */
static reader span_reader(mcpauth_json_span span)
{
    return (reader){.p = span.text, .end = span.text + span.length};
}

json_type mcpauth_json_span_type(mcpauth_json_span value)
{
    if (!value.text || value.length == 0)
        return json_type_null;
    switch (value.text[0]) {
    case '{':
        return json_type_object;
    case '[':
        return json_type_array;
    case '"':
        return json_type_string;
    case 't':
    case 'f':
        return json_type_boolean;
    case 'n':
        return json_type_null;
    default:
        return json_type_double;
    }
}

char *mcpauth_json_span_string(mcpauth_json_span value)
{
    if (mcpauth_json_span_type(value) != json_type_string)
        return NULL;
    reader r = span_reader(value);
    r.p++;
    const char *text;
    size_t length;
    char *owned;
    if (!read_string(&r, &text, &length, &owned))
        return NULL;
    if (owned)
        return owned;
    return strndup(text, length);
}

bool mcpauth_json_span_string_is(mcpauth_json_span value, const char *text)
{
    if (mcpauth_json_span_type(value) != json_type_string)
        return false;
    /* Text without escapes compares as it stands; the span is between its
     * quotes. */
    size_t n = strlen(text);
    if (value.length == n + 2 && memcmp(value.text + 1, text, n) == 0 &&
        mcpauth__json_plain_run(text, n) == n)
        return true;
    reader r = span_reader(value);
    r.p++;
    const char *string;
    size_t length;
    char *owned;
    if (!read_string(&r, &string, &length, &owned))
        return false;
    bool same = n == length && memcmp(string, text, length) == 0;
    free(owned);
    return same;
}

bool mcpauth_json_restore(json_object *root, const mcpauth_json_deferral *how,
                          mcpauth_json_span deferred)
{
    if (!deferred.text)
        return true;
    json_object *parent = root;
    for (size_t i = 0; i + 1 < how->depth; i++) {
        if (!json_object_is_type(parent, json_type_object) ||
            !json_object_object_get_ex(parent, how->path[i], &parent))
            return false;
    }
    if (!json_object_is_type(parent, json_type_object))
        return false;
    bool is_null;
    json_object *value =
        parse_value((reader){0}, deferred.text, deferred.length, "a deferred member", &is_null, NULL);
    if (!value && !is_null)
        return false;
    if (json_object_object_add(parent, how->path[how->depth - 1], value) != 0) {
        json_object_put(value);
        return false;
    }
    return true;
}
