#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/json.h"
#include "testlib.h"

static json_object *parse(const char *text, mcpauth_error *err)
{
    return mcpauth_json_parse(text, strlen(text), "test document", err);
}

static json_object *parse_object(const char *text, mcpauth_error *err)
{
    return mcpauth_json_parse_object(text, strlen(text), "test document", err);
}

/* "[[[...]]]" with depth levels of nesting; caller frees. */
static char *nested_arrays(int depth)
{
    char *text = malloc((size_t)depth * 2 + 1);
    ck_assert_ptr_nonnull(text);
    for (int i = 0; i < depth; i++) {
        text[i] = '[';
        text[depth + i] = ']';
    }
    text[depth * 2] = '\0';
    return text;
}

/* --- accepted ----------------------------------------------------------- */

START_TEST(parse_valid_object)
{
    mcpauth_error err = {0};
    json_object *obj = parse_object(
        "{\"issuer\":\"https://as.example\",\"n\":7,\"list\":[1,2],\"ok\":true}", &err);

    ck_assert_ptr_nonnull(obj);
    ck_assert(json_object_is_type(obj, json_type_object));
    ck_assert_str_eq(mcpauth_json_string(obj, "issuer"), "https://as.example");
    json_object *n = NULL;
    ck_assert(json_object_object_get_ex(obj, "n", &n));
    ck_assert_int_eq(json_object_get_int(n), 7);
    json_object *list = NULL;
    ck_assert(json_object_object_get_ex(obj, "list", &list));
    ck_assert_uint_eq(json_object_array_length(list), 2);
    json_object_put(obj);
}
END_TEST

START_TEST(parse_surrounding_whitespace)
{
    mcpauth_error err = {0};
    json_object *obj = parse_object(" \t\r\n{\"a\" : \"b\"}\n\r\t  ", &err);

    ck_assert_ptr_nonnull(obj);
    ck_assert_str_eq(mcpauth_json_string(obj, "a"), "b");
    json_object_put(obj);
}
END_TEST

START_TEST(parse_uses_length_not_nul)
{
    mcpauth_error err = {0};
    const char *text = "{\"a\":1}garbage that is not part of the input";
    json_object *obj = mcpauth_json_parse(text, 7, "doc", &err);

    ck_assert_ptr_nonnull(obj);
    json_object_put(obj);
}
END_TEST

START_TEST(parse_non_object_values)
{
    static const char *values[] = {"[1,2,3]", "[]", "\"text\"", "42\n", "true ", "-0.5e3\t"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        mcpauth_error err = {0};
        json_object *value = parse(values[i], &err);
        ck_assert_msg(value != NULL, "%s: %s", values[i], err.message);
        json_object_put(value);
    }
}
END_TEST

/* RFC 8259 §2: any value is a JSON text, also a scalar that ends exactly at
 * the end of the input (json-c waits for more digits or letters there). */
static const char *const top_level_scalars[] = {"42", "-1.5e3", "0", "true", "false"};

START_TEST(parse_top_level_scalar)
{
    mcpauth_error err = {0};
    json_object *value = parse(top_level_scalars[_i], &err);

    ck_assert_msg(value != NULL, "%s: %s", top_level_scalars[_i], err.message);
    json_object_put(value);
}
END_TEST

/* json.h: a bare null is refused (json-c represents it as a NULL object,
 * which means failure here), with a message that says so. */
static const char *const null_texts[] = {"null", " null\n", "null "};

START_TEST(parse_null_literal)
{
    mcpauth_error err = {0};

    ck_assert_ptr_null(parse(null_texts[_i], &err));
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    ck_assert_msg(strncmp(err.message, "test document ", 14) == 0, "message: %s", err.message);
    ck_assert_msg(strstr(err.message, "null") != NULL, "message: %s", err.message);
    ck_assert_msg(strstr(err.message, "success") == NULL, "message: %s", err.message);

    mcpauth_error_clear(&err);
    ck_assert_ptr_null(parse_object(null_texts[_i], &err));
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    ck_assert_msg(strncmp(err.message, "test document ", 14) == 0, "message: %s", err.message);
    ck_assert_msg(strstr(err.message, "success") == NULL, "message: %s", err.message);
}
END_TEST

START_TEST(parse_utf8_kept)
{
    mcpauth_error err = {0};
    json_object *obj = parse_object("{\"name\":\"caf\xc3\xa9 \\u00e9\\ud83d\\ude00\"}", &err);

    ck_assert_ptr_nonnull(obj);
    ck_assert_str_eq(mcpauth_json_string(obj, "name"), "caf\xc3\xa9 \xc3\xa9\xf0\x9f\x98\x80");
    json_object_put(obj);
}
END_TEST

START_TEST(parse_depth_at_limit)
{
    mcpauth_error err = {0};
    char *text = nested_arrays(MCPAUTH_JSON_MAX_DEPTH);
    json_object *obj = parse(text, &err);

    ck_assert_msg(obj != NULL, "depth %d refused: %s", MCPAUTH_JSON_MAX_DEPTH, err.message);
    json_object_put(obj);
    free(text);
}
END_TEST

/* --- refused ------------------------------------------------------------ */

typedef struct bad_case {
    const char *text;
    const char *reason; /* a substring of the message */
} bad_case;

static const bad_case bad_cases[] = {
    {"", "unexpected end of input"},
    {"   \n", "unexpected end of input"},
    {"{", "unexpected end of input"},
    {"{\"a\":", "unexpected end of input"},
    {"{\"a\":1,}", "not valid JSON"},
    {"{\"a\" 1}", "not valid JSON"},
    {"[1 2]", "not valid JSON"},
    {"{} x", ""},
    {"{}{}", ""},
    {"{\"a\":1} 2", ""},
    {"[1]]", ""},
    {"{}\x01", ""},
    {"/*c*/{}", "not valid JSON"},
    {"{}//c", ""},
    {"['a']", "not valid JSON"},
    {"{\"a\":TRUE}", "not valid JSON"},
    {"{\"a\":01}", "not valid JSON"},
    {".5", "not valid JSON"},
    {"<html>error</html>", "not valid JSON"},
    {"\x89PNG\r\n", "not valid"},
    /* json-c's tokener took these; RFC 8259 does not. */
    {"[1.]", "a digit expected after the decimal point"},
    {"1.", "a digit expected after the decimal point"},
    {"[00]", "a number with a leading zero"},
    {"[-.5]", "a digit expected after the minus sign"},
    {"[\"a\tb\"]", "a control character in a string"},
    {"[\"\\x\"]", "an invalid escape in a string"},
    {"[\"\\u12\"]", "an invalid escape in a string"},
    {"{\"a\" 1}", "an object member or its end expected at byte 5"},
};

START_TEST(parse_bad)
{
    const bad_case *c = &bad_cases[_i];
    mcpauth_error err = {0};
    json_object *obj = parse(c->text, &err);

    ck_assert_msg(obj == NULL, "accepted %s", c->text);
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    ck_assert_msg(strncmp(err.message, "test document ", 14) == 0, "message %s", err.message);
    ck_assert_msg(strstr(err.message, c->reason) != NULL, "message %s lacks %s", err.message,
                  c->reason);
    ck_assert_msg(strstr(err.message, "not valid") || strstr(err.message, "trailing data"),
                  "message %s", err.message);
}
END_TEST

START_TEST(parse_trailing_garbage_reason)
{
    mcpauth_error err = {0};
    ck_assert_ptr_null(parse("{\"a\":1}   garbage", &err));
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "test document"));
}
END_TEST

START_TEST(parse_embedded_nul_is_trailing_data)
{
    mcpauth_error err = {0};
    const char text[] = "{\"a\":1}\0{\"b\":2}";
    ck_assert_ptr_null(mcpauth_json_parse(text, sizeof text - 1, "doc", &err));
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    ck_assert(strncmp(err.message, "doc ", 4) == 0);
}
END_TEST

START_TEST(parse_depth_over_limit)
{
    mcpauth_error err = {0};
    char *text = nested_arrays(MCPAUTH_JSON_MAX_DEPTH + 1);

    ck_assert_ptr_null(parse(text, &err));
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "nesting too deep"));
    free(text);
}
END_TEST

START_TEST(parse_depth_far_over_limit)
{
    mcpauth_error err = {0};
    char *text = nested_arrays(100000);

    ck_assert_ptr_null(parse(text, &err));
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    free(text);
}
END_TEST

START_TEST(parse_deep_objects_refused)
{
    mcpauth_error err = {0};
    char text[64 * 8] = "";
    for (int i = 0; i < MCPAUTH_JSON_MAX_DEPTH + 1; i++)
        strcat(text, "{\"a\":");
    strcat(text, "1");
    for (int i = 0; i < MCPAUTH_JSON_MAX_DEPTH + 1; i++)
        strcat(text, "}");
    ck_assert_ptr_null(parse(text, &err));
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
}
END_TEST

static const char *const bad_utf8[] = {
    "{\"a\":\"\xff\"}",             /* never valid */
    "{\"a\":\"\xc3\x28\"}",         /* bad continuation byte */
    "{\"a\":\"\xc3\"}",             /* truncated sequence */
    "{\"a\":\"\xc0\xaf\"}",         /* overlong '/' */
    "{\"a\":\"\xed\xa0\x80\"}",     /* UTF-16 surrogate */
    "{\"a\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
};

/* RFC 8259 §8.1: JSON exchanged between systems MUST be UTF-8. */
START_TEST(parse_invalid_utf8)
{
    mcpauth_error err = {0};
    json_object *obj = parse(bad_utf8[_i], &err);

    ck_assert_msg(obj == NULL, "accepted invalid UTF-8 (case %d)", _i);
    json_object_put(obj);
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "test document"));
}
END_TEST

/* --- mcpauth_json_parse_object ------------------------------------------ */

START_TEST(parse_object_refuses_non_objects)
{
    static const char *values[] = {"[1,2,3]", "[]", "\"text\"", "\"{}\"", "42\n", "true\n"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        mcpauth_error err = {0};
        ck_assert_ptr_null(parse_object(values[i], &err));
        ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
        ck_assert_msg(strcmp(err.message, "test document is not a JSON object") == 0, "%s: %s",
                      values[i], err.message);
    }
}
END_TEST

START_TEST(parse_object_passes_parse_errors)
{
    mcpauth_error err = {0};
    ck_assert_ptr_null(parse_object("{\"a\":", &err));
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "test document is not valid JSON"));
}
END_TEST

START_TEST(parse_null_err_is_fine)
{
    ck_assert_ptr_null(mcpauth_json_parse("{", 1, "doc", NULL));
    ck_assert_ptr_null(mcpauth_json_parse_object("[]", 2, "doc", NULL));
    json_object *obj = mcpauth_json_parse_object("{}", 2, "doc", NULL);
    ck_assert_ptr_nonnull(obj);
    json_object_put(obj);
}
END_TEST

/* --- mcpauth_json_string ------------------------------------------------ */

START_TEST(string_accessor)
{
    mcpauth_error err = {0};
    json_object *obj = parse_object("{\"s\":\"value\",\"empty\":\"\",\"n\":12,\"b\":false,"
                                    "\"nul\":null,\"o\":{\"s\":\"inner\"},\"a\":[\"x\"]}",
                                    &err);

    ck_assert_ptr_nonnull(obj);
    ck_assert_str_eq(mcpauth_json_string(obj, "s"), "value");
    ck_assert_str_eq(mcpauth_json_string(obj, "empty"), "");
    ck_assert_ptr_null(mcpauth_json_string(obj, "missing"));
    ck_assert_ptr_null(mcpauth_json_string(obj, "n"));
    ck_assert_ptr_null(mcpauth_json_string(obj, "b"));
    ck_assert_ptr_null(mcpauth_json_string(obj, "nul"));
    ck_assert_ptr_null(mcpauth_json_string(obj, "o"));
    ck_assert_ptr_null(mcpauth_json_string(obj, "a"));
    ck_assert_ptr_null(mcpauth_json_string(obj, "S"));
    ck_assert_ptr_null(mcpauth_json_string(NULL, "s"));
    json_object_put(obj);
}
END_TEST

/* --- serialisation ------------------------------------------------------ */

START_TEST(compact_output)
{
    mcpauth_error err = {0};
    json_object *obj =
        parse_object("{ \"url\" : \"http://x/y\", \"list\" : [ 1, { \"t\" : true } ] }", &err);

    ck_assert_ptr_nonnull(obj);
    ck_assert_str_eq(mcpauth_json_compact(obj),
                     "{\"url\":\"http://x/y\",\"list\":[1,{\"t\":true}]}");
    json_object_put(obj);
}
END_TEST

START_TEST(pretty_output)
{
    mcpauth_error err = {0};
    json_object *obj = parse_object("{\"url\":\"http://x/y\",\"list\":[1,{\"t\":true}]}", &err);

    ck_assert_ptr_nonnull(obj);
    ck_assert_str_eq(mcpauth_json_pretty(obj), "{\n"
                                               "  \"url\": \"http://x/y\",\n"
                                               "  \"list\": [\n"
                                               "    1,\n"
                                               "    {\n"
                                               "      \"t\": true\n"
                                               "    }\n"
                                               "  ]\n"
                                               "}");
    json_object_put(obj);
}
END_TEST

START_TEST(output_escapes_what_json_requires)
{
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "s", json_object_new_string("a\"b\\c\nd/e"));
    ck_assert_str_eq(mcpauth_json_compact(obj), "{\"s\":\"a\\\"b\\\\c\\nd/e\"}");
    ck_assert_ptr_null(strstr(mcpauth_json_pretty(obj), "\\/"));
    json_object_put(obj);
}
END_TEST

START_TEST(output_round_trips)
{
    mcpauth_error err = {0};
    const char *text = "{\"redirect_uris\":[\"http://localhost:6274/oauth/callback\"],"
                       "\"n\":-3,\"f\":false,\"z\":null}";
    json_object *obj = parse_object(text, &err);
    ck_assert_ptr_nonnull(obj);
    ck_assert_str_eq(mcpauth_json_compact(obj), text);

    const char *pretty = mcpauth_json_pretty(obj);
    json_object *again = mcpauth_json_parse_object(pretty, strlen(pretty), "pretty", &err);
    ck_assert_ptr_nonnull(again);
    ck_assert(json_object_equal(obj, again));
    json_object_put(again);
    json_object_put(obj);
}
END_TEST

/* mcpauth_json_quote() writes what json-c writes for the same string. */
static const char *const quote_cases[] = {
    "",
    "plain",
    "a\"b\\c/d",
    "line\nbreak\ttab\rret\bbs\fff",
    "\x01\x1f ctl",
    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
    "\x7f del",
};

START_TEST(quote_matches_json_c)
{
    const char *s = quote_cases[_i];
    char out[256];
    size_t n = mcpauth_json_quote(out, sizeof out, s);
    json_object *str = json_object_new_string(s);
    ck_assert_str_eq(json_object_to_json_string_ext(str, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE),
                     (out[n] = '\0', out));
    json_object_put(str);
}
END_TEST

/* Cut short at any size, the output stays one valid JSON string holding a
 * prefix of the input: no half escape, no half UTF-8 character. */
START_TEST(quote_cut_short_stays_valid)
{
    const char *s = "a\"\n\x01\xc3\xa9\xf0\x9f\x98\x80z";
    char whole[64];
    size_t full = mcpauth_json_quote(whole, sizeof whole, s);
    ck_assert_uint_eq(mcpauth_json_quote(whole, 1, s), 0);
    for (size_t size = 2; size <= full + 1; size++) {
        char out[64];
        size_t n = mcpauth_json_quote(out, size, s);
        ck_assert_uint_le(n, size);
        mcpauth_error err = {0};
        json_object *back = mcpauth_json_parse(out, n, "quoted", &err);
        ck_assert_msg(back != NULL, "size %zu: %s", size, err.message);
        const char *text = json_object_get_string(back);
        ck_assert(strncmp(text, s, strlen(text)) == 0);
        if (size > full)
            ck_assert_str_eq(text, s);
        json_object_put(back);
    }
}
END_TEST

/* mcpauth_json_append() writes what json-c writes, byte for byte. */
static const char *const append_docs[] = {
    "{}",
    "[]",
    "{\"a\":{},\"b\":[],\"c\":[{}],\"d\":null}",
    "[0,-1,9223372036854775807,-9223372036854775808]",
    "[18446744073709551615,9223372036854775808]",
    "[0.10,1e5,-1.5E-3,1e400,0e0]",
    "[true,false,null]",
    "{\"k\\\"ey\":\"v/a\\\\l\\u0001\\n\\t\\u001f\\u007f\",\"caf\u00e9\":\"\\ud83d\\ude00\"}",
    "{\"id\":\"1-7\",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]}}",
    "[\"a\\u0000b\",\"\",[[[\"deep\"]]]]",
    "\"top\"",
    "42",
    "-0.0",
};

START_TEST(append_matches_json_c)
{
    mcpauth_error err = {0};
    json_object *obj = parse(append_docs[_i], &err);
    ck_assert_msg(obj != NULL, "%s: %s", append_docs[_i], err.message);
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    ck_assert(mcpauth_json_append(&sb, obj));
    ck_assert_str_eq(sb.data, mcpauth_json_compact(obj));
    mcpauth_strbuf_free(&sb);
    json_object_put(obj);
}
END_TEST

/* Objects built in code: a double made from a number, an unsigned
 * integer, a string holding a NUL, a part with a serializer of its own
 * (written by it), a member whose value is null. */
START_TEST(append_matches_json_c_for_built_objects)
{
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "double", json_object_new_double(0.1));
    json_object_object_add(obj, "uint", json_object_new_uint64(UINT64_MAX));
    json_object_object_add(obj, "nul", json_object_new_string_len("a\0b", 3));
    json_object *meta = json_object_new_object();
    json_object_object_add(meta, "ignored", json_object_new_int(1));
    json_object_set_serializer(meta, json_object_userdata_to_json_string,
                               strdup("{\"pre\":\"made\"}"), json_object_free_userdata);
    json_object_object_add(obj, "_meta", meta);
    json_object_object_add(obj, "none", NULL);
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    ck_assert(mcpauth_json_append(&sb, obj));
    ck_assert_str_eq(sb.data, mcpauth_json_compact(obj));
    ck_assert_ptr_nonnull(strstr(sb.data, "\"_meta\":{\"pre\":\"made\"}"));
    mcpauth_strbuf_free(&sb);
    json_object_put(obj);
}
END_TEST

/* Where a string stops (its quote, an escape, a control character),
 * found at every offset within and across the eight-byte words the
 * parser and the serializer look at together. */
START_TEST(strings_stop_at_every_offset)
{
    static const char *const stops[] = {"\\\"", "\\n", "\\u0041"};
    static const char *const decoded[] = {"\"", "\n", "A"};
    for (size_t k = 0; k < 3; k++) {
        for (size_t at = 0; at < 40; at++) {
            char text[128], want[64];
            memset(want, 'a', at);
            snprintf(want + at, sizeof want - at, "%sbcdefghijklmnop", decoded[k]);
            snprintf(text, sizeof text, "[\"%.*s%sbcdefghijklmnop\",1]", (int)at,
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", stops[k]);
            mcpauth_error err = {0};
            json_object *obj = parse(text, &err);
            ck_assert_msg(obj != NULL, "%s: %s", text, err.message);
            ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(obj, 0)), want);
            mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
            ck_assert(mcpauth_json_append(&sb, obj));
            ck_assert_str_eq(sb.data, mcpauth_json_compact(obj));
            mcpauth_strbuf_free(&sb);
            json_object_put(obj);
        }
    }
    /* A raw control character is refused wherever it stands. */
    for (size_t at = 0; at < 40; at++) {
        char text[128];
        snprintf(text, sizeof text, "[\"%.*s\tb\"]", (int)at,
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        mcpauth_error err = {0};
        ck_assert_ptr_null(parse(text, &err));
    }
}
END_TEST

/* Members made ahead go at the end of the named member, an object, and
 * nowhere else; without one the message is written as it is. */
START_TEST(append_extending_adds_members)
{
    static const struct {
        const char *doc, *expected;
    } cases[] = {
        {"{\"id\":1,\"result\":{\"a\":1}}", "{\"id\":1,\"result\":{\"a\":1,\"m\":true,\"n\":2}}"},
        {"{\"result\":{},\"id\":1}", "{\"result\":{\"m\":true,\"n\":2},\"id\":1}"},
        {"{\"id\":1,\"error\":{\"code\":1,\"result\":{}}}",
         "{\"id\":1,\"error\":{\"code\":1,\"result\":{}}}"},
        {"{\"result\":[1]}", "{\"result\":[1]}"},
        {"[{\"result\":{}}]", "[{\"result\":{}}]"},
        {"{\"results\":{},\"resul\":{}}", "{\"results\":{},\"resul\":{}}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcpauth_error err = {0};
        json_object *obj = parse(cases[i].doc, &err);
        ck_assert_msg(obj != NULL, "%s: %s", cases[i].doc, err.message);
        mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
        ck_assert(mcpauth_json_append_extending(&sb, obj, "result", "\"m\":true,\"n\":2"));
        ck_assert_str_eq(sb.data, cases[i].expected);
        mcpauth_strbuf_free(&sb);
        ck_assert(mcpauth_json_append_extending(&sb, obj, "result", NULL));
        ck_assert_str_eq(sb.data, mcpauth_json_compact(obj));
        mcpauth_strbuf_free(&sb);
        json_object_put(obj);
    }
}
END_TEST

/* What json-c's tokener did and peers may count on, kept. */
START_TEST(parse_keeps_json_c_quirks)
{
    mcpauth_error err = {0};
    json_object *obj = parse("[NaN,Infinity,-Infinity,\"\\ud83d\\ude00|\\ud83d|\\ude00x\","
                             "12345678901234567890123,-99999999999999999999,18446744073709551615,"
                             "{\"a\":1,\"b\":2,\"a\":3},-0,1E+2]",
                             &err);
    ck_assert_msg(obj != NULL, "%s", err.message);
    ck_assert_str_eq(mcpauth_json_compact(obj),
                     "[NaN,Infinity,-Infinity,\"\xf0\x9f\x98\x80|\xef\xbf\xbd|\xef\xbf\xbdx\","
                     "18446744073709551615,-9223372036854775808,18446744073709551615,"
                     "{\"a\":3,\"b\":2},0,1E+2]");
    json_object_put(obj);
}
END_TEST

/* Many escaped strings in a big text: each decoded in a buffer of its own
 * size (not the rest of the text's), so this takes no time. */
START_TEST(parse_many_escaped_strings)
{
    size_t count = 20000;
    char *text = malloc(count * 8 + 3);
    ck_assert_ptr_nonnull(text);
    size_t at = 0;
    text[at++] = '[';
    for (size_t i = 0; i < count; i++) {
        memcpy(text + at, i ? ",\"\\n\\t\"" : "\"\\n\\t\"", i ? 7 : 6);
        at += i ? 7 : 6;
    }
    text[at++] = ']';
    mcpauth_error err = {0};
    json_object *obj = mcpauth_json_parse(text, at, "doc", &err);
    ck_assert_msg(obj != NULL, "%s", err.message);
    ck_assert_uint_eq(json_object_array_length(obj), count);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(obj, 7)), "\n\t");
    json_object_put(obj);
    free(text);
}
END_TEST

/* A long string takes about its own length in the buffer, not the six
 * times its worst-case escaping would. */
START_TEST(append_reserves_what_it_writes)
{
    size_t length = 1 << 20;
    char *text = malloc(length + 1);
    ck_assert_ptr_nonnull(text);
    memset(text, 'a', length);
    text[length] = '\0';
    json_object *str = json_object_new_string_len(text, (int)length);
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    ck_assert(mcpauth_json_append(&sb, str));
    ck_assert_uint_eq(sb.length, length + 2);
    ck_assert_msg(sb.capacity < 3 * length, "capacity %zu for %zu bytes", sb.capacity, sb.length);
    mcpauth_strbuf_free(&sb);
    json_object_put(str);
    free(text);
}
END_TEST

START_TEST(json_helpers)
{
    json_object *doc = json_tokener_parse("{\"a\":[\"x\",2,\"y\"],\"s\":\"x\",\"t\":true,"
                                          "\"f\":false,\"n\":1}");
    ck_assert(mcpauth_json_array_has(doc, "a", "y"));
    ck_assert(!mcpauth_json_array_has(doc, "a", "2"));
    ck_assert(!mcpauth_json_array_has(doc, "s", "x"));
    ck_assert(!mcpauth_json_array_has(doc, "missing", "x"));
    ck_assert(!mcpauth_json_array_has(NULL, "a", "x"));
    ck_assert(mcpauth_json_true(doc, "t"));
    ck_assert(!mcpauth_json_true(doc, "f"));
    ck_assert(!mcpauth_json_true(doc, "n"));
    ck_assert(!mcpauth_json_true(doc, "missing"));
    ck_assert(!mcpauth_json_true(NULL, "t"));
    json_object_put(doc);
}
END_TEST


/* --- a member left as text ---------------------------------------------- */

static const char *const meta_path[] = {"params", "_meta"};
static const char *const meta_members[] = {"a/b", "o", "n", "z"};
static const mcpauth_json_deferral meta_how = {meta_path, 2, meta_members, 4};

static json_object *parse_lean(const char *text, mcpauth_json_deferred *meta, mcpauth_error *err)
{
    return mcpauth_json_parse_deferring(text, strlen(text), "test document", &meta_how, meta, err);
}

static void assert_span(mcpauth_json_span span, const char *text)
{
    ck_assert_ptr_nonnull(span.text);
    ck_assert_msg(span.length == strlen(text) && memcmp(span.text, text, span.length) == 0,
                  "span \"%.*s\", expected \"%s\"", (int)span.length, span.text, text);
}

/* params._meta is checked, left out of the objects and given as its text;
 * everything else is built as usual. */
START_TEST(deferred_member_left_as_text)
{
    const char *text = "{\"id\":1,\"params\":{\"name\":\"t\", \"_meta\" : {\"a\":[1,2],\"b\":{}} ,"
                       "\"x\":true},\"_meta\":5}";
    mcpauth_json_deferred meta;
    json_object *doc = parse_lean(text, &meta, NULL);
    ck_assert_ptr_nonnull(doc);
    assert_span(meta.text, "{\"a\":[1,2],\"b\":{}}");
    ck_assert_str_eq(mcpauth_json_compact(doc),
                     "{\"id\":1,\"params\":{\"name\":\"t\",\"x\":true},\"_meta\":5}");
    ck_assert(mcpauth_json_restore(doc, &meta_how, meta.text));
    json_object *whole = parse(text, NULL);
    ck_assert(json_object_equal(doc, whole));
    json_object_put(whole);
    json_object_put(doc);
}
END_TEST

/* Only that path from the top-level object: not a _meta elsewhere, not
 * under a top-level array. */
START_TEST(deferred_member_only_on_its_path)
{
    static const char *const texts[] = {
        "{\"x\":{\"_meta\":{}}}",
        "[{\"params\":{\"_meta\":{}}}]",
        "{\"params\":[{\"_meta\":{}}]}",
        "{\"params\":{\"x\":{\"_meta\":{}}}}",
        "{\"params\":{}}",
        "{\"_meta\":{}}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        mcpauth_json_deferred meta;
        json_object *doc = parse_lean(texts[i], &meta, NULL);
        ck_assert_ptr_nonnull(doc);
        ck_assert_msg(meta.text.text == NULL, "deferred in %s", texts[i]);
        json_object *whole = parse(texts[i], NULL);
        ck_assert_str_eq(mcpauth_json_compact(doc), mcpauth_json_compact(whole));
        json_object_put(whole);
        json_object_put(doc);
    }
}
END_TEST

/* The last value of a name counts, as in a whole parse: a second _meta
 * wins (with its members only), and a second params drops what the first
 * deferred. */
START_TEST(deferred_member_last_value_counts)
{
    mcpauth_json_deferred meta;
    json_object *doc =
        parse_lean("{\"params\":{\"_meta\":{\"o\":1,\"n\":2},\"_meta\":{\"n\":3}}}", &meta, NULL);
    assert_span(meta.text, "{\"n\":3}");
    ck_assert_ptr_null(meta.members[1].text);
    assert_span(meta.members[2], "3");
    json_object_put(doc);
    doc = parse_lean("{\"params\":{\"_meta\":{\"o\":1}},\"params\":{\"y\":2}}", &meta, NULL);
    ck_assert_ptr_null(meta.text.text);
    ck_assert_ptr_null(meta.members[1].text);
    ck_assert_str_eq(mcpauth_json_compact(doc), "{\"params\":{\"y\":2}}");
    json_object_put(doc);
    doc = parse_lean("{\"params\":{\"_meta\":null}}", &meta, NULL);
    assert_span(meta.text, "null");
    ck_assert(mcpauth_json_restore(doc, &meta_how, meta.text));
    ck_assert_str_eq(mcpauth_json_compact(doc), "{\"params\":{\"_meta\":null}}");
    json_object_put(doc);
}
END_TEST

/* What is left as text is held to the same rules, with the same message. */
static const char *const deferred_bad[] = {
    "{\"params\":{\"_meta\":{\"a\":01}}}",
    "{\"params\":{\"_meta\":{\"a\" 1}}}",
    "{\"params\":{\"_meta\":[1,]}}",
    "{\"params\":{\"_meta\":\"\\x\"}}",
    "{\"params\":{\"_meta\":{\"a\":tru}}}",
    "{\"params\":{\"_meta\":-}}",
    "{\"params\":{\"_meta\":{\"a\":1}",
    "{\"params\":{\"_meta\":{\"o\":1,}}}",
    "{\"params\":{\"_meta\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}",
};

START_TEST(deferred_member_refused_alike)
{
    mcpauth_error lean_err = {0}, whole_err = {0};
    mcpauth_json_deferred meta;
    json_object *doc = parse_lean(deferred_bad[_i], &meta, &lean_err);
    json_object *whole = parse(deferred_bad[_i], &whole_err);
    ck_assert_ptr_null(doc);
    ck_assert_ptr_null(whole);
    ck_assert_ptr_null(meta.text.text);
    ck_assert_ptr_null(meta.members[1].text);
    ck_assert_str_eq(lean_err.message, whole_err.message);
}
END_TEST

/* The members asked for are found on the way, by their unescaped names,
 * the last of a name counting; the text's types; strings unescaped. */
START_TEST(deferred_members_found)
{
    const char *text = "{\"params\":{\"_meta\":{ \"a\\/b\" : \"v\\u00e9\", \"o\":{\"x\":[],\"n\":9},"
                       "\"n\":-1.5e3,\"a/b\":\"last\",\"t\":true,\"a\\u0000b\":1,\"z\":null}}}";
    mcpauth_json_deferred meta;
    json_object *doc = parse_lean(text, &meta, NULL);
    ck_assert_ptr_nonnull(doc);
    char *s = mcpauth_json_span_string(meta.members[0]);
    ck_assert_str_eq(s, "last");
    free(s);
    ck_assert(mcpauth_json_span_string_is(meta.members[0], "last"));
    ck_assert(!mcpauth_json_span_string_is(meta.members[0], "las"));
    ck_assert_int_eq(mcpauth_json_span_type(meta.members[1]), json_type_object);
    assert_span(meta.members[1], "{\"x\":[],\"n\":9}");
    ck_assert_ptr_null(mcpauth_json_span_string(meta.members[1]));
    ck_assert(!mcpauth_json_span_string_is(meta.members[1], "{"));
    assert_span(meta.members[2], "-1.5e3"); /* not the nested "n" */
    ck_assert_int_eq(mcpauth_json_span_type(meta.members[2]), json_type_double);
    assert_span(meta.members[3], "null");
    ck_assert_int_eq(mcpauth_json_span_type(meta.members[3]), json_type_null);
    json_object_put(doc);

    doc = parse_lean("{\"params\":{\"_meta\":{\"a/b\":\"caf\\u00e9\\n\"}}}", &meta, NULL);
    s = mcpauth_json_span_string(meta.members[0]);
    ck_assert_str_eq(s, "caf\xc3\xa9\n");
    free(s);
    ck_assert(mcpauth_json_span_string_is(meta.members[0], "caf\xc3\xa9\n"));
    ck_assert_ptr_null(meta.members[1].text);
    json_object_put(doc);

    /* A name with an escaped NUL ends there, as json-c keeps it; a string
     * value with one is not the text before it. */
    doc = parse_lean("{\"params\":{\"_meta\":{\"o\\u0000x\":1,\"a/b\":\"v\\u0000w\"}}}", &meta,
                     NULL);
    assert_span(meta.members[1], "1");
    ck_assert(!mcpauth_json_span_string_is(meta.members[0], "v"));
    json_object_put(doc);

    /* Compared as decoded: an escape is not its own text, and text written
     * with an escape is the same text. */
    doc = parse_lean("{\"params\":{\"_meta\":{\"a/b\":\"x\\ny\",\"z\":\"2026\\u002d07\"}}}", &meta,
                     NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert(!mcpauth_json_span_string_is(meta.members[0], "x\\ny"));
    ck_assert(mcpauth_json_span_string_is(meta.members[0], "x\ny"));
    ck_assert(mcpauth_json_span_string_is(meta.members[3], "2026-07"));
    ck_assert(!mcpauth_json_span_string_is(meta.members[3], "2026\\u002d07"));
    json_object_put(doc);

    /* Not an object: its text, and no members. */
    doc = parse_lean("{\"params\":{\"_meta\":[{\"o\":1}]}}", &meta, NULL);
    assert_span(meta.text, "[{\"o\":1}]");
    ck_assert_ptr_null(meta.members[1].text);
    json_object_put(doc);
    ck_assert_int_eq(mcpauth_json_span_type((mcpauth_json_span){NULL, 0}), json_type_null);
    ck_assert_ptr_null(mcpauth_json_span_string((mcpauth_json_span){NULL, 0}));
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");

    TCase *tc = tcase_create("accepted");
    tcase_add_test(tc, parse_valid_object);
    tcase_add_test(tc, parse_surrounding_whitespace);
    tcase_add_test(tc, parse_uses_length_not_nul);
    tcase_add_test(tc, parse_non_object_values);
    tcase_add_loop_test(tc, parse_top_level_scalar, 0,
                        (int)(sizeof top_level_scalars / sizeof top_level_scalars[0]));
    tcase_add_test(tc, parse_utf8_kept);
    tcase_add_test(tc, parse_depth_at_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("members");
    tcase_add_test(tc, json_helpers);
    tcase_add_test(tc, deferred_member_left_as_text);
    tcase_add_test(tc, deferred_member_only_on_its_path);
    tcase_add_test(tc, deferred_member_last_value_counts);
    tcase_add_loop_test(tc, deferred_member_refused_alike, 0,
                        (int)(sizeof deferred_bad / sizeof deferred_bad[0]));
    tcase_add_test(tc, deferred_members_found);
    suite_add_tcase(s, tc);

    tc = tcase_create("refused");
    tcase_add_loop_test(tc, parse_bad, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, parse_trailing_garbage_reason);
    tcase_add_loop_test(tc, parse_null_literal, 0, (int)(sizeof null_texts / sizeof null_texts[0]));
    tcase_add_test(tc, parse_embedded_nul_is_trailing_data);
    tcase_add_test(tc, parse_keeps_json_c_quirks);
    tcase_add_test(tc, parse_many_escaped_strings);
    tcase_add_test(tc, parse_depth_over_limit);
    tcase_add_test(tc, parse_depth_far_over_limit);
    tcase_add_test(tc, parse_deep_objects_refused);
    tcase_add_loop_test(tc, parse_invalid_utf8, 0, (int)(sizeof bad_utf8 / sizeof bad_utf8[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("parse_object");
    tcase_add_test(tc, parse_object_refuses_non_objects);
    tcase_add_test(tc, parse_object_passes_parse_errors);
    tcase_add_test(tc, parse_null_err_is_fine);
    suite_add_tcase(s, tc);

    tc = tcase_create("accessors");
    tcase_add_test(tc, string_accessor);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_add_test(tc, compact_output);
    tcase_add_test(tc, pretty_output);
    tcase_add_test(tc, output_escapes_what_json_requires);
    tcase_add_test(tc, output_round_trips);
    tcase_add_loop_test(tc, quote_matches_json_c, 0,
                        (int)(sizeof quote_cases / sizeof quote_cases[0]));
    tcase_add_test(tc, quote_cut_short_stays_valid);
    tcase_add_loop_test(tc, append_matches_json_c, 0,
                        (int)(sizeof append_docs / sizeof append_docs[0]));
    tcase_add_test(tc, append_matches_json_c_for_built_objects);
    tcase_add_test(tc, append_reserves_what_it_writes);
    tcase_add_test(tc, append_extending_adds_members);
    tcase_add_test(tc, strings_stop_at_every_offset);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(json_suite());
}
