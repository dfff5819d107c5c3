#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/form.h"
#include "mcpauth/secret.h"
#include "mcpauth/strbuf.h"
#include "testlib.h"

/* --- mcpauth_form_encode ------------------------------------------------ */

typedef struct encode_case {
    const char *value;
    const char *encoded;
} encode_case;

static const encode_case encode_cases[] = {
    {"", ""},
    {"abcxyzABCXYZ0189", "abcxyzABCXYZ0189"},
    {"*-._", "*-._"},
    /* WHATWG URL §5.2: '~' is not in the form-urlencoded safe set. */
    {"~", "%7E"},
    {" ", "+"},
    {"a b  c", "a+b++c"},
    {"+", "%2B"},
    {"a+b c", "a%2Bb+c"},
    {"&=?#/:%", "%26%3D%3F%23%2F%3A%25"},
    {"!'()", "%21%27%28%29"},
    {"\"<>\\^`{|}[]@$,;", "%22%3C%3E%5C%5E%60%7B%7C%7D%5B%5D%40%24%2C%3B"},
    {"caf\xc3\xa9", "caf%C3%A9"},
    {"\xf0\x9f\x98\x80", "%F0%9F%98%80"},
    {"\n\t\r", "%0A%09%0D"},
    {"\x01\x7f\x80\xff", "%01%7F%80%FF"},
    {"https://as.example/cb?x=1", "https%3A%2F%2Fas.example%2Fcb%3Fx%3D1"},
};

START_TEST(encode)
{
    const encode_case *c = &encode_cases[_i];
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;

    mcpauth_form_encode(&sb, c->value);
    char *out = mcpauth_strbuf_detach(&sb);
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out, c->encoded);
    free(out);
}
END_TEST

START_TEST(encode_appends)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;

    mcpauth_strbuf_appends(&sb, "prefix:");
    mcpauth_form_encode(&sb, "a b");
    mcpauth_form_encode(&sb, "/");
    ck_assert_str_eq(sb.data, "prefix:a+b%2F");
    ck_assert_uint_eq(sb.length, strlen("prefix:a+b%2F"));
    mcpauth_strbuf_free(&sb);
}
END_TEST

START_TEST(encode_every_byte)
{
    /* Each byte comes out as itself when safe, '+' for space, else %XX with
     * uppercase hex. */
    for (int c = 1; c < 256; c++) {
        char value[2] = {(char)c, '\0'};
        mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
        mcpauth_form_encode(&sb, value);
        bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '*' || c == '-' || c == '.' || c == '_';
        char expected[4];
        if (safe)
            snprintf(expected, sizeof expected, "%c", c);
        else if (c == ' ')
            snprintf(expected, sizeof expected, "+");
        else
            snprintf(expected, sizeof expected, "%%%02X", (unsigned)c);
        ck_assert_msg(strcmp(sb.data, expected) == 0, "byte 0x%02x: %s, expected %s", c, sb.data,
                      expected);
        mcpauth_strbuf_free(&sb);
    }
}
END_TEST

/* --- mcpauth_form_add --------------------------------------------------- */

START_TEST(add_first_has_no_ampersand)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;

    mcpauth_form_add(&sb, "grant_type", "authorization_code");
    ck_assert_str_eq(sb.data, "grant_type=authorization_code");
    mcpauth_strbuf_free(&sb);
}
END_TEST

START_TEST(add_joins_with_ampersand)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;

    mcpauth_form_add(&sb, "grant_type", "refresh_token");
    mcpauth_form_add(&sb, "refresh_token", "r/t+1=");
    mcpauth_form_add(&sb, "scope", "mcp read write");
    mcpauth_form_add(&sb, "empty", "");
    char *out = mcpauth_strbuf_detach(&sb);
    ck_assert_str_eq(out, "grant_type=refresh_token&refresh_token=r%2Ft%2B1%3D&scope=mcp+read+"
                          "write&empty=");
    free(out);
}
END_TEST

START_TEST(add_encodes_name)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;

    mcpauth_form_add(&sb, "a b&c=", "v");
    ck_assert_str_eq(sb.data, "a+b%26c%3D=v");
    mcpauth_strbuf_free(&sb);
}
END_TEST

START_TEST(add_after_existing_text)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;

    mcpauth_strbuf_appends(&sb, "x=1");
    mcpauth_form_add(&sb, "y", "2");
    ck_assert_str_eq(sb.data, "x=1&y=2");
    mcpauth_strbuf_free(&sb);
}
END_TEST

/* --- mcpauth_form_basic_credentials ------------------------------------- */

typedef struct basic_case {
    const char *id;
    const char *secret;
    const char *header;
} basic_case;

static const basic_case basic_cases[] = {
    /* base64("client:secret") */
    {"client", "secret", "Basic Y2xpZW50OnNlY3JldA=="},
    /* RFC 6749 §2.3.1: form-encoded first, so base64("a%3Ab:c+d") */
    {"a:b", "c d", "Basic YSUzQWI6Yytk"},
    /* base64("%C3%A9%7E:p%26w%3D") */
    {"\xc3\xa9~", "p&w=", "Basic JUMzJUE5JTdFOnAlMjZ3JTNE"},
    /* base64("id:") */
    {"id", "", "Basic aWQ6"},
    /* padding: one and two '=' and none */
    {"ab", "c", "Basic YWI6Yw=="},
    {"x", "y", "Basic eDp5"},
    {"abc", "de", "Basic YWJjOmRl"},
};

START_TEST(basic_credentials)
{
    const basic_case *c = &basic_cases[_i];
    char *header = mcpauth_form_basic_credentials(c->id, c->secret);

    ck_assert_ptr_nonnull(header);
    ck_assert_str_eq(header, c->header);
    mcpauth_secret_free(header);
}
END_TEST

START_TEST(basic_credentials_long)
{
    size_t n = 3000;
    char *secret = malloc(n + 1);
    ck_assert_ptr_nonnull(secret);
    memset(secret, 'A', n);
    secret[n] = '\0';
    char *header = mcpauth_form_basic_credentials("id", secret);
    ck_assert_ptr_nonnull(header);
    /* "id:" + 3000 bytes = 3003 bytes -> 4004 base64 characters. */
    ck_assert_uint_eq(strlen(header), 6 + 4004);
    ck_assert(strncmp(header, "Basic aWQ6QUFB", 14) == 0);
    mcpauth_secret_free(header);
    free(secret);
}
END_TEST

/* --- strbuf (form builds on it) ----------------------------------------- */

START_TEST(strbuf_starts_empty)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;

    ck_assert_ptr_null(sb.data);
    ck_assert_uint_eq(sb.length, 0);
    ck_assert(!mcpauth_strbuf_failed(&sb));
    char *out = mcpauth_strbuf_detach(&sb);
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out, "");
    free(out);
}
END_TEST

START_TEST(strbuf_append_variants)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;

    mcpauth_strbuf_append(&sb, "abcdef", 3);
    ck_assert_str_eq(sb.data, "abc");
    mcpauth_strbuf_appends(&sb, "-x-");
    mcpauth_strbuf_appendf(&sb, "%d:%s:%zu", -42, "str", (size_t)7);
    mcpauth_strbuf_append(&sb, "", 0);
    mcpauth_strbuf_appends(&sb, "");
    ck_assert_str_eq(sb.data, "abc-x--42:str:7");
    ck_assert_uint_eq(sb.length, 15);
    ck_assert_uint_ge(sb.capacity, sb.length + 1);
    ck_assert(!mcpauth_strbuf_failed(&sb));
    mcpauth_strbuf_free(&sb);
}
END_TEST

START_TEST(strbuf_binary_data)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;

    mcpauth_strbuf_append(&sb, "a\0b", 3);
    ck_assert_uint_eq(sb.length, 3);
    ck_assert_int_eq(memcmp(sb.data, "a\0b", 4), 0);
    mcpauth_strbuf_free(&sb);
}
END_TEST

START_TEST(strbuf_grows)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    char expected[10001];

    for (int i = 0; i < 10000; i++) {
        char c = (char)('a' + i % 26);
        mcpauth_strbuf_append(&sb, &c, 1);
        expected[i] = c;
        ck_assert_int_eq(sb.data[sb.length], '\0');
    }
    expected[10000] = '\0';
    ck_assert_uint_eq(sb.length, 10000);
    ck_assert_str_eq(sb.data, expected);
    mcpauth_strbuf_free(&sb);
}
END_TEST

START_TEST(strbuf_appendf_large)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    char big[5000];

    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    mcpauth_strbuf_appends(&sb, "<");
    mcpauth_strbuf_appendf(&sb, "%s>%d", big, 5);
    ck_assert_uint_eq(sb.length, 1 + 4999 + 2);
    ck_assert_int_eq(sb.data[0], '<');
    ck_assert_int_eq(sb.data[5000], '>');
    ck_assert_str_eq(sb.data + 5000, ">5");
    mcpauth_strbuf_free(&sb);
}
END_TEST

START_TEST(strbuf_detach_resets)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;

    mcpauth_strbuf_appends(&sb, "first");
    char *first = mcpauth_strbuf_detach(&sb);
    ck_assert_str_eq(first, "first");
    ck_assert_ptr_null(sb.data);
    ck_assert_uint_eq(sb.length, 0);
    ck_assert_uint_eq(sb.capacity, 0);
    mcpauth_strbuf_appends(&sb, "second");
    char *second = mcpauth_strbuf_detach(&sb);
    ck_assert_str_eq(second, "second");
    ck_assert_str_eq(first, "first");
    free(first);
    free(second);
}
END_TEST

START_TEST(strbuf_free_resets)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;

    mcpauth_strbuf_appends(&sb, "secret");
    mcpauth_strbuf_free(&sb);
    ck_assert_ptr_null(sb.data);
    ck_assert_uint_eq(sb.length, 0);
    ck_assert_uint_eq(sb.capacity, 0);
    ck_assert(!sb.failed);
    mcpauth_strbuf_free(&sb); /* twice is fine */
}
END_TEST

START_TEST(strbuf_failure_is_sticky)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;

    mcpauth_strbuf_appends(&sb, "kept");
    sb.failed = true; /* as after a failed realloc */
    mcpauth_strbuf_appends(&sb, "dropped");
    mcpauth_strbuf_appendf(&sb, "%s", "dropped");
    mcpauth_form_add(&sb, "dropped", "too");
    ck_assert(mcpauth_strbuf_failed(&sb));
    ck_assert_uint_eq(sb.length, 4);
    ck_assert_str_eq(sb.data, "kept");
    ck_assert_ptr_null(mcpauth_strbuf_detach(&sb));
    ck_assert_ptr_null(sb.data);
    ck_assert(!mcpauth_strbuf_failed(&sb));
}
END_TEST

START_TEST(strbuf_huge_append_fails)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;

    mcpauth_strbuf_appends(&sb, "x");
    /* Never read: the length check refuses before copying. */
    mcpauth_strbuf_append(&sb, "y", SIZE_MAX - 8);
    ck_assert(mcpauth_strbuf_failed(&sb));
    ck_assert_str_eq(sb.data, "x");
    mcpauth_strbuf_free(&sb);
}
END_TEST

static Suite *form_suite(void)
{
    Suite *s = suite_create("form");

    TCase *tc = tcase_create("encode");
    tcase_add_loop_test(tc, encode, 0, (int)(sizeof encode_cases / sizeof encode_cases[0]));
    tcase_add_test(tc, encode_appends);
    tcase_add_test(tc, encode_every_byte);
    suite_add_tcase(s, tc);

    tc = tcase_create("add");
    tcase_add_test(tc, add_first_has_no_ampersand);
    tcase_add_test(tc, add_joins_with_ampersand);
    tcase_add_test(tc, add_encodes_name);
    tcase_add_test(tc, add_after_existing_text);
    suite_add_tcase(s, tc);

    tc = tcase_create("basic_credentials");
    tcase_add_loop_test(tc, basic_credentials, 0,
                        (int)(sizeof basic_cases / sizeof basic_cases[0]));
    tcase_add_test(tc, basic_credentials_long);
    suite_add_tcase(s, tc);

    tc = tcase_create("strbuf");
    tcase_add_test(tc, strbuf_starts_empty);
    tcase_add_test(tc, strbuf_append_variants);
    tcase_add_test(tc, strbuf_binary_data);
    tcase_add_test(tc, strbuf_grows);
    tcase_add_test(tc, strbuf_appendf_large);
    tcase_add_test(tc, strbuf_detach_resets);
    tcase_add_test(tc, strbuf_free_resets);
    tcase_add_test(tc, strbuf_failure_is_sticky);
    tcase_add_test(tc, strbuf_huge_append_fails);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(form_suite());
}
