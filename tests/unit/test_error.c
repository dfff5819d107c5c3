#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/error.h"
#include "testlib.h"

/* --- mcpauth_error_set -------------------------------------------------- */

START_TEST(set_formats_message_and_status)
{
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_error_set(&err, MCPAUTH_EREMOTE, "bad %s: %d", "thing", 42),
                     MCPAUTH_EREMOTE);
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    ck_assert_str_eq(err.message, "bad thing: 42");
}
END_TEST

START_TEST(set_replaces_previous)
{
    mcpauth_error err = {0};

    mcpauth_error_set(&err, MCPAUTH_ELOCAL, "first message that is rather long");
    mcpauth_error_set(&err, MCPAUTH_ENETWORK, "second");
    ck_assert_int_eq(err.status, MCPAUTH_ENETWORK);
    ck_assert_str_eq(err.message, "second");
}
END_TEST

START_TEST(set_null_err_returns_status)
{
    ck_assert_int_eq(mcpauth_error_set(NULL, MCPAUTH_EUSAGE, "ignored %d", 1), MCPAUTH_EUSAGE);
    ck_assert_int_eq(mcpauth_error_set(NULL, MCPAUTH_OK, "ignored"), MCPAUTH_OK);
}
END_TEST

START_TEST(set_truncates_long_message)
{
    mcpauth_error err;
    size_t long_length = 3 * MCPAUTH_ERROR_MESSAGE_MAX;
    char *long_text = malloc(long_length + 1);

    ck_assert_ptr_nonnull(long_text);
    memset(long_text, 'x', long_length);
    long_text[long_length] = '\0';
    memset(&err, 'Q', sizeof err);
    ck_assert_int_eq(mcpauth_error_set(&err, MCPAUTH_EREMOTE, "start %s", long_text),
                     MCPAUTH_EREMOTE);
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    ck_assert_uint_eq(strnlen(err.message, sizeof err.message), MCPAUTH_ERROR_MESSAGE_MAX - 1);
    ck_assert_int_eq(err.message[MCPAUTH_ERROR_MESSAGE_MAX - 1], '\0');
    ck_assert(strncmp(err.message, "start xxx", 9) == 0);
    ck_assert_int_eq(err.message[MCPAUTH_ERROR_MESSAGE_MAX - 2], 'x');
    free(long_text);
}
END_TEST

/* --- mcpauth_error_prefix ----------------------------------------------- */

START_TEST(prefix_prepends_and_keeps_status)
{
    mcpauth_error err = {0};

    mcpauth_error_set(&err, MCPAUTH_ENETWORK, "connection refused");
    ck_assert_int_eq(mcpauth_error_prefix(&err, "fetching %s", "https://as/x"), MCPAUTH_ENETWORK);
    ck_assert_int_eq(err.status, MCPAUTH_ENETWORK);
    ck_assert_str_eq(err.message, "fetching https://as/x: connection refused");
}
END_TEST

START_TEST(prefix_twice_nests)
{
    mcpauth_error err = {0};

    mcpauth_error_set(&err, MCPAUTH_ELOCAL, "inner");
    mcpauth_error_prefix(&err, "middle");
    mcpauth_error_prefix(&err, "outer %d", 3);
    ck_assert_int_eq(err.status, MCPAUTH_ELOCAL);
    ck_assert_str_eq(err.message, "outer 3: middle: inner");
}
END_TEST

START_TEST(prefix_on_empty_message)
{
    mcpauth_error err = {0};

    mcpauth_error_set(&err, MCPAUTH_EUSAGE, "%s", "");
    mcpauth_error_prefix(&err, "what");
    ck_assert_str_eq(err.message, "what: ");
    ck_assert_int_eq(err.status, MCPAUTH_EUSAGE);
}
END_TEST

START_TEST(prefix_null_err)
{
    /* Callers write `return mcpauth_error_prefix(err, ...)` on a failure
     * path: without an err to carry it, the result must still be a failure. */
    ck_assert_int_ne(mcpauth_error_prefix(NULL, "x %d", 1), MCPAUTH_OK);
}
END_TEST

START_TEST(prefix_truncates_long_result)
{
    mcpauth_error err;
    char body[MCPAUTH_ERROR_MESSAGE_MAX];

    memset(body, 'b', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    mcpauth_error_set(&err, MCPAUTH_EREMOTE, "%s", body);
    ck_assert_uint_eq(strlen(err.message), MCPAUTH_ERROR_MESSAGE_MAX - 1);
    mcpauth_error_prefix(&err, "pre");
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    ck_assert_uint_eq(strnlen(err.message, sizeof err.message), MCPAUTH_ERROR_MESSAGE_MAX - 1);
    ck_assert(strncmp(err.message, "pre: bbb", 8) == 0);
    ck_assert_int_eq(err.message[MCPAUTH_ERROR_MESSAGE_MAX - 2], 'b');
}
END_TEST

START_TEST(prefix_long_prefix_truncates)
{
    mcpauth_error err;
    char prefix[2 * MCPAUTH_ERROR_MESSAGE_MAX];

    memset(prefix, 'p', sizeof prefix - 1);
    prefix[sizeof prefix - 1] = '\0';
    mcpauth_error_set(&err, MCPAUTH_ELOCAL, "tail");
    mcpauth_error_prefix(&err, "%s", prefix);
    ck_assert_int_eq(err.status, MCPAUTH_ELOCAL);
    ck_assert_uint_eq(strnlen(err.message, sizeof err.message), MCPAUTH_ERROR_MESSAGE_MAX - 1);
    ck_assert_int_eq(err.message[0], 'p');
    ck_assert_int_eq(err.message[MCPAUTH_ERROR_MESSAGE_MAX - 1], '\0');
}
END_TEST

/* --- mcpauth_error_clear ------------------------------------------------ */

START_TEST(clear_resets)
{
    mcpauth_error err;

    mcpauth_error_set(&err, MCPAUTH_ELOCAL, "something failed");
    mcpauth_error_clear(&err);
    ck_assert_int_eq(err.status, MCPAUTH_OK);
    ck_assert_str_eq(err.message, "");
}
END_TEST

START_TEST(clear_null_is_fine)
{
    mcpauth_error_clear(NULL);
}
END_TEST

/* --- mcpauth_status_name ------------------------------------------------ */

START_TEST(status_names)
{
    ck_assert_str_eq(mcpauth_status_name(MCPAUTH_OK), "success");
    ck_assert_str_eq(mcpauth_status_name(MCPAUTH_ENEGATIVE), "negative answer");
    ck_assert_str_eq(mcpauth_status_name(MCPAUTH_EUSAGE), "usage error");
    ck_assert_str_eq(mcpauth_status_name(MCPAUTH_ENETWORK), "network error");
    ck_assert_str_eq(mcpauth_status_name(MCPAUTH_EREMOTE), "remote error");
    ck_assert_str_eq(mcpauth_status_name(MCPAUTH_ELOCAL), "local error");
}
END_TEST

START_TEST(status_name_unknown)
{
    ck_assert_str_eq(mcpauth_status_name((mcpauth_status)99), "unknown error");
    ck_assert_str_eq(mcpauth_status_name((mcpauth_status)-1), "unknown error");
}
END_TEST

START_TEST(status_values_are_exit_codes)
{
    /* mcpauth(1) documents these numbers as exit codes. */
    ck_assert_int_eq(MCPAUTH_OK, 0);
    ck_assert_int_eq(MCPAUTH_ENEGATIVE, 1);
    ck_assert_int_eq(MCPAUTH_EUSAGE, 2);
    ck_assert_int_eq(MCPAUTH_ENETWORK, 3);
    ck_assert_int_eq(MCPAUTH_EREMOTE, 4);
    ck_assert_int_eq(MCPAUTH_ELOCAL, 5);
}
END_TEST

static Suite *error_suite(void)
{
    Suite *s = suite_create("error");

    TCase *tc = tcase_create("set");
    tcase_add_test(tc, set_formats_message_and_status);
    tcase_add_test(tc, set_replaces_previous);
    tcase_add_test(tc, set_null_err_returns_status);
    tcase_add_test(tc, set_truncates_long_message);
    suite_add_tcase(s, tc);

    tc = tcase_create("prefix");
    tcase_add_test(tc, prefix_prepends_and_keeps_status);
    tcase_add_test(tc, prefix_twice_nests);
    tcase_add_test(tc, prefix_on_empty_message);
    tcase_add_test(tc, prefix_null_err);
    tcase_add_test(tc, prefix_truncates_long_result);
    tcase_add_test(tc, prefix_long_prefix_truncates);
    suite_add_tcase(s, tc);

    tc = tcase_create("clear");
    tcase_add_test(tc, clear_resets);
    tcase_add_test(tc, clear_null_is_fine);
    suite_add_tcase(s, tc);

    tc = tcase_create("status");
    tcase_add_test(tc, status_names);
    tcase_add_test(tc, status_name_unknown);
    tcase_add_test(tc, status_values_are_exit_codes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(error_suite());
}
