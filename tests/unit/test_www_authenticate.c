#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/www_authenticate.h"
#include "testlib.h"

static mcpauth_challenge_list parse_ok(const char *value)
{
    mcpauth_challenge_list list = {0};
    mcpauth_error err = {0};
    ck_assert_msg(mcpauth_www_authenticate_parse(value, &list, &err) == MCPAUTH_OK, "%s: %s", value,
                  err.message);
    return list;
}

static void assert_param(const mcpauth_challenge *c, const char *name, const char *value)
{
    ck_assert_ptr_nonnull(c);
    const char *got = mcpauth_challenge_param(c, name);
    ck_assert_msg(got, "no parameter %s in %s", name, c->scheme);
    ck_assert_str_eq(got, value);
}

START_TEST(mcp_bearer)
{
    mcpauth_challenge_list list =
        parse_ok("Bearer resource_metadata=\"https://h/.well-known/oauth-protected-resource/mcp\", "
                 "scope=\"a b\"");
    ck_assert_uint_eq(list.count, 1);
    ck_assert_str_eq(list.items[0].scheme, "Bearer");
    ck_assert_ptr_null(list.items[0].token68);
    ck_assert_uint_eq(list.items[0].param_count, 2);
    ck_assert_str_eq(list.items[0].params[0].name, "resource_metadata");
    assert_param(&list.items[0], "resource_metadata",
                 "https://h/.well-known/oauth-protected-resource/mcp");
    assert_param(&list.items[0], "scope", "a b");
    mcpauth_challenge_list_free(&list);
}
END_TEST

START_TEST(multiple_challenges)
{
    mcpauth_challenge_list list =
        parse_ok("Basic realm=\"x\", Bearer resource_metadata=\"https://h/m\", scope=\"a b\"");
    ck_assert_uint_eq(list.count, 2);
    ck_assert_str_eq(list.items[0].scheme, "Basic");
    ck_assert_uint_eq(list.items[0].param_count, 1);
    assert_param(&list.items[0], "realm", "x");
    const mcpauth_challenge *bearer = mcpauth_challenge_find(&list, "Bearer");
    ck_assert_ptr_eq(bearer, &list.items[1]);
    ck_assert_uint_eq(bearer->param_count, 2);
    assert_param(bearer, "resource_metadata", "https://h/m");
    assert_param(bearer, "scope", "a b");
    ck_assert_ptr_null(mcpauth_challenge_param(bearer, "realm"));
    mcpauth_challenge_list_free(&list);
}
END_TEST

/* RFC 9110 §11.6.1's own example. */
START_TEST(rfc9110_example)
{
    mcpauth_challenge_list list =
        parse_ok("Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", "
                 "Basic realm=\"simple\"");
    ck_assert_uint_eq(list.count, 2);
    ck_assert_uint_eq(list.items[0].param_count, 3);
    assert_param(&list.items[0], "realm", "apps");
    assert_param(&list.items[0], "type", "1");
    assert_param(&list.items[0], "title", "Login to \"apps\"");
    assert_param(mcpauth_challenge_find(&list, "basic"), "realm", "simple");
    mcpauth_challenge_list_free(&list);
}
END_TEST

START_TEST(repeated_header)
{
    mcpauth_challenge_list list = {0};
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_www_authenticate_parse("Basic realm=\"a\"", &list, &err), MCPAUTH_OK);
    ck_assert_int_eq(
        mcpauth_www_authenticate_parse("Bearer resource_metadata=\"https://h/x\"", &list, &err),
        MCPAUTH_OK);
    ck_assert_int_eq(mcpauth_www_authenticate_parse("DPoP algs=\"ES256\"", &list, &err),
                     MCPAUTH_OK);
    ck_assert_uint_eq(list.count, 3);
    assert_param(mcpauth_challenge_find(&list, "bearer"), "resource_metadata", "https://h/x");
    assert_param(mcpauth_challenge_find(&list, "DPOP"), "algs", "ES256");
    mcpauth_challenge_list_free(&list);
    ck_assert_uint_eq(list.count, 0);
    ck_assert_ptr_null(list.items);
}
END_TEST

START_TEST(case_insensitive)
{
    mcpauth_challenge_list list = parse_ok("bEaReR Resource_Metadata=\"https://h/x\", SCOPE=read");
    ck_assert_str_eq(list.items[0].scheme, "bEaReR"); /* as received */
    ck_assert_str_eq(list.items[0].params[0].name, "resource_metadata");
    ck_assert_str_eq(list.items[0].params[1].name, "scope");
    const mcpauth_challenge *c = mcpauth_challenge_find(&list, "BEARER");
    assert_param(c, "RESOURCE_METADATA", "https://h/x");
    assert_param(c, "Scope", "read");
    mcpauth_challenge_list_free(&list);
}
END_TEST

START_TEST(quoted_escapes)
{
    mcpauth_challenge_list list =
        parse_ok("Bearer realm=\"a \\\"quoted\\\" \\\\ back\", error_description=\"x\\,y\\z\", "
                 "empty=\"\", commas=\"a,b=c, d=\\\"e\\\"\", tab=\"a\tb\", utf8=\"caf\xc3\xa9\"");
    const mcpauth_challenge *c = &list.items[0];
    ck_assert_uint_eq(list.count, 1);
    ck_assert_uint_eq(c->param_count, 6);
    assert_param(c, "realm", "a \"quoted\" \\ back");
    assert_param(c, "error_description", "x,yz");
    assert_param(c, "empty", "");
    assert_param(c, "commas", "a,b=c, d=\"e\"");
    assert_param(c, "tab", "a\tb");
    assert_param(c, "utf8", "caf\xc3\xa9");
    mcpauth_challenge_list_free(&list);
}
END_TEST

START_TEST(token_values)
{
    mcpauth_challenge_list list =
        parse_ok("Bearer error=invalid_token, scope=read, n=1, odd=!#$%&'*+-.^_`|~");
    const mcpauth_challenge *c = &list.items[0];
    assert_param(c, "error", "invalid_token");
    assert_param(c, "scope", "read");
    assert_param(c, "n", "1");
    assert_param(c, "odd", "!#$%&'*+-.^_`|~");
    mcpauth_challenge_list_free(&list);
}
END_TEST

START_TEST(bws_around_equals)
{
    mcpauth_challenge_list list =
        parse_ok("Bearer realm = \"x\" , scope= y,error =z ,\turi\t=\t\"u\"\t");
    const mcpauth_challenge *c = &list.items[0];
    ck_assert_uint_eq(list.count, 1);
    ck_assert_uint_eq(c->param_count, 4);
    assert_param(c, "realm", "x");
    assert_param(c, "scope", "y");
    assert_param(c, "error", "z");
    assert_param(c, "uri", "u");
    mcpauth_challenge_list_free(&list);
}
END_TEST

START_TEST(empty_elements)
{
    mcpauth_challenge_list list =
        parse_ok(", ,Bearer realm=\"x\",, ,scope=\"y\" ,,, Basic realm=\"z\",  ,");
    ck_assert_uint_eq(list.count, 2);
    ck_assert_uint_eq(list.items[0].param_count, 2);
    assert_param(&list.items[0], "scope", "y");
    assert_param(&list.items[1], "realm", "z");
    mcpauth_challenge_list_free(&list);

    list = parse_ok("");
    ck_assert_uint_eq(list.count, 0);
    list = parse_ok("  ,\t, ");
    ck_assert_uint_eq(list.count, 0);
    mcpauth_challenge_list_free(&list);
}
END_TEST

START_TEST(bare_schemes)
{
    mcpauth_challenge_list list = parse_ok("Bearer");
    ck_assert_uint_eq(list.count, 1);
    ck_assert_uint_eq(list.items[0].param_count, 0);
    ck_assert_ptr_null(list.items[0].token68);
    mcpauth_challenge_list_free(&list);

    list = parse_ok("Negotiate, Bearer realm=x , NTLM ,Basic");
    ck_assert_uint_eq(list.count, 4);
    ck_assert_str_eq(list.items[0].scheme, "Negotiate");
    ck_assert_str_eq(list.items[1].scheme, "Bearer");
    ck_assert_uint_eq(list.items[1].param_count, 1);
    ck_assert_str_eq(list.items[2].scheme, "NTLM");
    ck_assert_str_eq(list.items[3].scheme, "Basic");
    mcpauth_challenge_list_free(&list);
}
END_TEST

START_TEST(token68)
{
    mcpauth_challenge_list list =
        parse_ok("Negotiate YIIB3gYGKwYBBQUCoIIB0jCCAc6gDTALBgkqhkiG9xIBAgI=");
    ck_assert_str_eq(list.items[0].token68, "YIIB3gYGKwYBBQUCoIIB0jCCAc6gDTALBgkqhkiG9xIBAgI=");
    ck_assert_uint_eq(list.items[0].param_count, 0);
    mcpauth_challenge_list_free(&list);

    list = parse_ok("Basic dG9rZW4==, Bearer realm=\"x\", NewAuth abc/+.-_~ ,Other a");
    ck_assert_uint_eq(list.count, 4);
    ck_assert_str_eq(list.items[0].token68, "dG9rZW4==");
    ck_assert_ptr_null(list.items[1].token68);
    assert_param(&list.items[1], "realm", "x");
    ck_assert_str_eq(list.items[2].token68, "abc/+.-_~");
    ck_assert_str_eq(list.items[3].token68, "a");
    mcpauth_challenge_list_free(&list);

    /* "abc=" is a token68, not a parameter with a missing value. */
    list = parse_ok("X abc=, Y def==");
    ck_assert_str_eq(list.items[0].token68, "abc=");
    ck_assert_str_eq(list.items[1].token68, "def==");
    mcpauth_challenge_list_free(&list);

    /* RFC 9110's grammar reads "Bearer realm=" as a token68 too. */
    list = parse_ok("Bearer realm=");
    ck_assert_str_eq(list.items[0].token68, "realm=");
    ck_assert_ptr_null(mcpauth_challenge_param(&list.items[0], "realm"));
    mcpauth_challenge_list_free(&list);
}
END_TEST

START_TEST(find_and_param_edges)
{
    mcpauth_challenge_list list = parse_ok("Basic realm=x");
    ck_assert_ptr_null(mcpauth_challenge_find(&list, "Bearer"));
    ck_assert_ptr_null(mcpauth_challenge_find(&list, "Basi"));
    ck_assert_ptr_null(mcpauth_challenge_find(&list, NULL));
    ck_assert_ptr_null(mcpauth_challenge_find(NULL, "Basic"));
    ck_assert_ptr_null(mcpauth_challenge_param(NULL, "realm"));
    ck_assert_ptr_null(mcpauth_challenge_param(&list.items[0], NULL));
    ck_assert_ptr_null(mcpauth_challenge_param(&list.items[0], "real"));
    mcpauth_challenge_list_free(&list);
    mcpauth_challenge_list_free(&list);
    mcpauth_challenge_list_free(NULL);

    /* The first matching challenge wins. */
    list = parse_ok("Bearer realm=a, Bearer realm=b");
    assert_param(mcpauth_challenge_find(&list, "bearer"), "realm", "a");
    mcpauth_challenge_list_free(&list);
}
END_TEST

/* --- malformed ---------------------------------------------------------- */

typedef struct bad_case {
    const char *value;
    const char *reason;
    size_t kept; /* complete challenges left in the list */
} bad_case;

static const bad_case bad_cases[] = {
    {"Bearer realm=\"unterminated", "unterminated quoted-string", 0},
    {"Bearer realm=\"x\\", "unterminated quoted-string", 0},
    {"Bearer realm= ,scope=x", "expected a space after the auth-scheme", 1},
    {"Bearer realm=\"x\" scope=\"y\"", "expected ',' or the end", 0},
    {"Bearer realm=a b", "expected ',' or the end", 0},
    {"Bearer a=b=c", "expected ',' or the end", 0},
    {"Bearer realm=\"x\"y", "expected ',' or the end", 0},
    {"Bearer realm=\"x\", realm=\"y\"", "parameter \"realm\" repeated", 0},
    {"Bearer REALM=\"x\", realm=\"y\"", "parameter \"realm\" repeated", 0},
    {"=x", "expected an auth-scheme", 0},
    {"\"Bearer\"", "expected an auth-scheme", 0},
    {"Bearer realm=\"a\x01"
     "b\"",
     "control character", 0},
    {"Bearer realm=\"a\x7f\"", "control character", 0},
    {"Bearer realm=\"a\\\x01\"", "control character", 0},
    {"Bearer realm=a\x01", "expected ',' or the end", 0},
    {"Bearer \"quoted\"", "expected a token68 or auth-params", 0},
    {"Bearer ,=", "expected an auth-scheme", 1},
    {"Bear@er realm=x", "expected a space after the auth-scheme", 0},
    {"Basic abc def", "expected ',' or the end", 0},
    {"Basic abc=, realm=x", "expected a space after the auth-scheme", 1},
    {"Basic realm=\"x\", Bearer realm=\"unterminated", "unterminated", 1},
    {"Basic realm=\"x\", Digest a=1, Bearer scope=(", "expected ',' or the end", 2},
    {"Bearer\x01", "expected a space after the auth-scheme", 0},
    {"Bearer\r\n realm=x", "expected a space after the auth-scheme", 0},
};

START_TEST(malformed)
{
    const bad_case *c = &bad_cases[_i];
    mcpauth_challenge_list list = {0};
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_www_authenticate_parse(c->value, &list, &err), MCPAUTH_EREMOTE);
    ck_assert_msg(strstr(err.message, c->reason), "%s: \"%s\" lacks \"%s\"", c->value, err.message,
                  c->reason);
    ck_assert_ptr_nonnull(strstr(err.message, "malformed WWW-Authenticate header \""));
    ck_assert_ptr_nonnull(strstr(err.message, "at offset"));
    ck_assert_ptr_null(strchr(err.message, '\n'));
    ck_assert_ptr_null(strchr(err.message, '\x01'));
    ck_assert_uint_eq(list.count, c->kept);
    mcpauth_challenge_list_free(&list);
}
END_TEST

START_TEST(null_inputs)
{
    mcpauth_challenge_list list = {0};
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_www_authenticate_parse(NULL, &list, &err), MCPAUTH_EREMOTE);
    ck_assert_int_eq(mcpauth_www_authenticate_parse("Bearer realm=\"", &list, NULL),
                     MCPAUTH_EREMOTE);
    ck_assert_int_eq(mcpauth_www_authenticate_parse("Bearer realm=x", &list, NULL), MCPAUTH_OK);
    ck_assert_uint_eq(list.count, 1);
    mcpauth_challenge_list_free(&list);
}
END_TEST

START_TEST(oversize)
{
    char *value = malloc(8194);
    mcpauth_challenge_list list = {0};
    mcpauth_error err = {0};

    /* Exactly 8 KiB is fine... */
    strcpy(value, "Bearer realm=\"");
    memset(value + 14, 'a', 8192 - 15);
    value[8191] = '"';
    value[8192] = '\0';
    ck_assert_int_eq(mcpauth_www_authenticate_parse(value, &list, &err), MCPAUTH_OK);
    ck_assert_uint_eq(strlen(mcpauth_challenge_param(&list.items[0], "realm")), 8192 - 15);
    mcpauth_challenge_list_free(&list);

    /* ...one byte more is not. */
    value[8192] = ' ';
    value[8193] = '\0';
    ck_assert_int_eq(mcpauth_www_authenticate_parse(value, &list, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "longer than 8192 bytes"));
    ck_assert_ptr_nonnull(strstr(err.message, "...\""));
    ck_assert_uint_lt(strlen(err.message), 400);
    ck_assert_uint_eq(list.count, 0);
    free(value);
}
END_TEST

START_TEST(long_message_truncated)
{
    char value[4000];
    mcpauth_challenge_list list = {0};
    mcpauth_error err = {0};

    memset(value, 'a', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    value[3000] = '"';
    ck_assert_int_eq(mcpauth_www_authenticate_parse(value, &list, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "at offset 3000"));
    ck_assert_uint_lt(strlen(err.message), 400);
}
END_TEST

/* Random bytes drawn from the grammar's alphabet: the parser must end with
 * OK or EREMOTE, and under ASan without touching memory it does not own. */
START_TEST(fuzz)
{
    static const char alphabet[] = "Bearer realm=\"\\, \t=abc/+~\x01\xff";
    uint32_t state = 2463534242u;
    char value[64];

    for (int round = 0; round < 20000; round++) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        size_t length = state % sizeof value;
        for (size_t i = 0; i < length; i++) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            value[i] = alphabet[state % (sizeof alphabet - 1)];
        }
        value[length] = '\0';
        mcpauth_challenge_list list = {0};
        mcpauth_error err = {0};
        mcpauth_status status = mcpauth_www_authenticate_parse(value, &list, &err);
        ck_assert(status == MCPAUTH_OK || status == MCPAUTH_EREMOTE);
        for (size_t i = 0; i < list.count; i++) {
            ck_assert_ptr_nonnull(list.items[i].scheme);
            ck_assert(list.items[i].token68 == NULL || list.items[i].param_count == 0);
        }
        mcpauth_challenge_list_free(&list);
    }
}
END_TEST

static Suite *www_authenticate_suite(void)
{
    Suite *s = suite_create("www_authenticate");
    TCase *tc;

    tc = tcase_create("valid");
    tcase_add_test(tc, mcp_bearer);
    tcase_add_test(tc, multiple_challenges);
    tcase_add_test(tc, rfc9110_example);
    tcase_add_test(tc, repeated_header);
    tcase_add_test(tc, case_insensitive);
    tcase_add_test(tc, quoted_escapes);
    tcase_add_test(tc, token_values);
    tcase_add_test(tc, bws_around_equals);
    tcase_add_test(tc, empty_elements);
    tcase_add_test(tc, bare_schemes);
    tcase_add_test(tc, token68);
    tcase_add_test(tc, find_and_param_edges);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_add_loop_test(tc, malformed, 0, sizeof bad_cases / sizeof bad_cases[0]);
    tcase_add_test(tc, null_inputs);
    tcase_add_test(tc, oversize);
    tcase_add_test(tc, long_message_truncated);
    tcase_add_test(tc, fuzz);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(www_authenticate_suite());
}
