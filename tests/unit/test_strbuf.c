#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/strbuf.h"
#include "testlib.h"

static const long long int_cases[] = {0,         7,        -7, 10, 200, 404, 1234567890123LL,
                                      LLONG_MAX, LLONG_MIN};

START_TEST(append_int_writes_what_printf_writes)
{
    char expected[32];
    snprintf(expected, sizeof expected, "x%lld", int_cases[_i]);
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, "x");
    mcpauth_strbuf_append_int(&sb, int_cases[_i]);
    ck_assert(!mcpauth_strbuf_failed(&sb));
    ck_assert_str_eq(sb.data, expected);
    ck_assert_uint_eq(sb.length, strlen(expected));
    mcpauth_strbuf_free(&sb);
}
END_TEST

START_TEST(appends_grow_and_detach)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    for (int i = 0; i < 1000; i++)
        mcpauth_strbuf_appendf(&sb, "%03d,", i % 1000);
    ck_assert_uint_eq(sb.length, 4000);
    ck_assert(strncmp(sb.data + 3996, "999,", 4) == 0);
    char *text = mcpauth_strbuf_detach(&sb);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(strlen(text), 4000);
    ck_assert_ptr_null(sb.data);
    free(text);
}
END_TEST

static Suite *strbuf_suite(void)
{
    Suite *s = suite_create("strbuf");
    TCase *tc = tcase_create("append");
    tcase_add_loop_test(tc, append_int_writes_what_printf_writes, 0,
                        (int)(sizeof int_cases / sizeof int_cases[0]));
    tcase_add_test(tc, appends_grow_and_detach);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(strbuf_suite());
}
