/* Mcp-Param-{Name} headers checked against a tools/call's arguments for a
 * backend that cannot see headers (src/mcp/param_headers.c): which schema
 * properties declare x-mcp-header, the plain and Base64 forms, numbers
 * compared as numbers, absent and null arguments, unknown tools. */
#include <check.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "src/mcp/mcp_internal.h"
#include "testlib.h"

/* A tools/list result: region (where.region: Region, count: Count,
 * flag: Flag, ratio: Ratio) and tools whose declarations do not count. */
static const char list[] =
    "{\"tools\":["
    "{\"name\":\"region\",\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"where\":{\"type\":\"object\",\"properties\":{\"region\":{\"type\":\"string\","
    "\"x-mcp-header\":\"Region\"}}},"
    "\"count\":{\"type\":\"integer\",\"x-mcp-header\":\"Count\"},"
    "\"flag\":{\"type\":\"boolean\",\"x-mcp-header\":\"Flag\"},"
    "\"ratio\":{\"type\":\"number\",\"x-mcp-header\":\"Ratio\"}}}},"
    "{\"name\":\"items\",\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"list\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"x-mcp-header\":\"Item\"}},"
    "\"alt\":{\"anyOf\":[{\"type\":\"string\",\"x-mcp-header\":\"Alt\"}]}}}},"
    "{\"name\":\"plain\",\"inputSchema\":{\"type\":\"object\"}},"
    "{\"inputSchema\":{}}"
    "]}";

static mcpauth__param_decls *decls;

static void setup(void)
{
    decls = mcpauth__param_decls_new();
    ck_assert_ptr_nonnull(decls);
    json_object *result = json_tokener_parse(list);
    ck_assert_ptr_nonnull(result);
    mcpauth__param_decls_learn(decls, result);
    json_object_put(result);
}

static void teardown(void)
{
    mcpauth__param_decls_free(decls);
}

/* Checks a tools/call of tool with arguments (JSON) and header lines. */
static bool check(const char *tool, const char *arguments, const char *const *lines, size_t count,
                  char *why)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
             "\"arguments\":%s}}",
             tool, arguments);
    json_object *message = json_tokener_parse(text);
    ck_assert_ptr_nonnull(message);
    mcpauth__jsonrpc_message msg;
    ck_assert_int_eq(mcpauth__jsonrpc_classify(message, &msg), MCPAUTH__JSONRPC_REQUEST);
    mcpauth_mcp_request req = {.param_headers = lines, .param_header_count = count};
    why[0] = '\0';
    bool ok = mcpauth__param_decls_check(decls, &msg, &req, why, 256);
    json_object_put(message);
    return ok;
}

#define ARGS "{\"where\":{\"region\":\"eu-west\"},\"count\":42,\"flag\":true,\"ratio\":0.5}"

START_TEST(matching_headers_pass)
{
    const char *lines[] = {"Mcp-Param-Region: eu-west", "Mcp-Param-Count: 42",
                           "Mcp-Param-Flag: true", "Mcp-Param-Ratio: 0.5",
                           "Mcp-Param-Unknown: ignored"};
    char why[256];
    ck_assert(check("region", ARGS, lines, 5, why));
}
END_TEST

START_TEST(names_are_case_insensitive_and_values_may_be_encoded)
{
    /* streamable-http §Case Sensitivity, §Value Encoding. */
    const char *lines[] = {"mcp-param-region: =?base64?ZXUtd2VzdA==?=", "MCP-PARAM-COUNT: 42.0",
                           "Mcp-Param-Flag:  true ", "Mcp-Param-Ratio: 0.50"};
    char why[256];
    ck_assert_msg(check("region", ARGS, lines, 4, why), "%s", why);
}
END_TEST

START_TEST(missing_header_is_refused)
{
    const char *lines[] = {"Mcp-Param-Region: eu-west", "Mcp-Param-Flag: true",
                           "Mcp-Param-Ratio: 0.5"};
    char why[256];
    ck_assert(!check("region", ARGS, lines, 3, why));
    ck_assert_ptr_nonnull(strstr(why, "Mcp-Param-Count header is absent"));
}
END_TEST

START_TEST(mismatch_and_malformed_are_refused)
{
    static const char *const bad[][4] = {
        {"Mcp-Param-Region: us-east", "Mcp-Param-Count: 42", "Mcp-Param-Flag: true",
         "Mcp-Param-Ratio: 0.5"},
        {"Mcp-Param-Region: eu-west", "Mcp-Param-Count: 41", "Mcp-Param-Flag: true",
         "Mcp-Param-Ratio: 0.5"},
        {"Mcp-Param-Region: eu-west", "Mcp-Param-Count: 42", "Mcp-Param-Flag: TRUE",
         "Mcp-Param-Ratio: 0.5"},
        {"Mcp-Param-Region: =?base64?%%%?=", "Mcp-Param-Count: 42", "Mcp-Param-Flag: true",
         "Mcp-Param-Ratio: 0.5"},
        {"Mcp-Param-Region: eu\x01west", "Mcp-Param-Count: 42", "Mcp-Param-Flag: true",
         "Mcp-Param-Ratio: 0.5"},
        {"Mcp-Param-Region: eu-west", "Mcp-Param-Count: 4x2", "Mcp-Param-Flag: true",
         "Mcp-Param-Ratio: 0.5"},
    };
    char why[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(!check("region", ARGS, bad[i], 4, why), "case %zu passed", i);
        ck_assert_ptr_nonnull(strstr(why, "Header mismatch"));
    }
}
END_TEST

START_TEST(absent_or_null_arguments_need_no_header)
{
    char why[256];
    ck_assert(check("region", "{\"count\":null,\"where\":{}}", NULL, 0, why));
    ck_assert(check("region", "{}", NULL, 0, why));
    /* An object where a primitive is declared carries nothing to mirror. */
    ck_assert(check("region", "{\"where\":{\"region\":{\"a\":1}}}", NULL, 0, why));
}
END_TEST

START_TEST(only_properties_chains_declare)
{
    /* §Schema Extension: not under items or the combinators. */
    char why[256];
    ck_assert(check("items", "{\"list\":[\"a\"],\"alt\":\"b\"}", NULL, 0, why));
    ck_assert(check("plain", "{\"x\":1}", NULL, 0, why));
    ck_assert(check("unknown", "{\"x\":1}", NULL, 0, why));
}
END_TEST

START_TEST(a_new_list_replaces_what_was_known)
{
    json_object *result = json_tokener_parse(
        "{\"tools\":[{\"name\":\"region\",\"inputSchema\":{\"type\":\"object\"}}]}");
    mcpauth__param_decls_learn(decls, result);
    json_object_put(result);
    char why[256];
    ck_assert(check("region", ARGS, NULL, 0, why));
}
END_TEST

static Suite *param_headers_suite(void)
{
    Suite *s = suite_create("param_headers");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, matching_headers_pass);
    tcase_add_test(tc, names_are_case_insensitive_and_values_may_be_encoded);
    tcase_add_test(tc, missing_header_is_refused);
    tcase_add_test(tc, mismatch_and_malformed_are_refused);
    tcase_add_test(tc, absent_or_null_arguments_need_no_header);
    tcase_add_test(tc, only_properties_chains_declare);
    tcase_add_test(tc, a_new_list_replaces_what_was_known);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(param_headers_suite());
}
