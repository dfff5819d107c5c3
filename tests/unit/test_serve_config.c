/* serve's configuration rules that depend on several options: the default
 * required scope and the resource URL as an accepted audience. The checks
 * of mcpauth_serve_config_check run through the binary in
 * tests/integration/serve*.test.mjs. */
#include <check.h>
#include <stdlib.h>

#include "mcpauth/serve.h"

START_TEST(complete_defaults)
{
    mcpauth_serve_config c;
    mcpauth_serve_config_init(&c);
    c.resource = "https://mcp.example/mcp";
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_serve_config_complete(&c, &err), MCPAUTH_OK);
    ck_assert_uint_eq(c.required_scopes.count, 1);
    ck_assert_str_eq(c.required_scopes.items[0], "mcp");
    ck_assert_uint_eq(c.audiences.count, 1);
    ck_assert_str_eq(c.audiences.items[0], "https://mcp.example/mcp");
}
END_TEST

/* Scopes given replace the default; audiences given follow the resource. */
START_TEST(complete_keeps_given)
{
    mcpauth_serve_config c;
    mcpauth_serve_config_init(&c);
    c.resource = "https://mcp.example/mcp";
    c.required_scopes.items[c.required_scopes.count++] = "read";
    c.audiences.items[c.audiences.count++] = "api://a";
    c.audiences.items[c.audiences.count++] = "api://b";
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_serve_config_complete(&c, &err), MCPAUTH_OK);
    ck_assert_uint_eq(c.required_scopes.count, 1);
    ck_assert_str_eq(c.required_scopes.items[0], "read");
    ck_assert_uint_eq(c.audiences.count, 3);
    ck_assert_str_eq(c.audiences.items[0], "https://mcp.example/mcp");
    ck_assert_str_eq(c.audiences.items[1], "api://a");
    ck_assert_str_eq(c.audiences.items[2], "api://b");
}
END_TEST

START_TEST(complete_audiences_full)
{
    mcpauth_serve_config c;
    mcpauth_serve_config_init(&c);
    while (c.audiences.count < MCPAUTH_SERVE_MAX_LIST)
        c.audiences.items[c.audiences.count++] = "api://x";
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_serve_config_complete(&c, &err), MCPAUTH_EUSAGE);
    ck_assert_str_eq(err.message, "--audience: at most 31 values");
    ck_assert_uint_eq(c.audiences.count, MCPAUTH_SERVE_MAX_LIST);
}
END_TEST

static Suite *serve_config_suite(void)
{
    Suite *s = suite_create("serve_config");
    TCase *tc = tcase_create("complete");
    tcase_add_test(tc, complete_defaults);
    tcase_add_test(tc, complete_keeps_given);
    tcase_add_test(tc, complete_audiences_full);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(serve_config_suite());
    srunner_run_all(runner, CK_ENV);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
