#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/bearer.h"
#include "testlib.h"

#define MAX_TOKEN 4096

/* --- mcpauth_bearer_extract: one Authorization field -------------------- */

typedef struct extract_case {
    const char *value;
    mcpauth_bearer_status status;
    const char *token; /* expected token on FOUND */
} extract_case;

static const extract_case extract_cases[] = {
    /* RFC 6750 §2.1 and the scheme's case-insensitivity (RFC 9110 §11.1) */
    {"Bearer abc", MCPAUTH_BEARER_FOUND, "abc"},
    {"bearer abc", MCPAUTH_BEARER_FOUND, "abc"},
    {"BEARER abc", MCPAUTH_BEARER_FOUND, "abc"},
    {"bEaReR abc", MCPAUTH_BEARER_FOUND, "abc"},
    {"Bearer    abc", MCPAUTH_BEARER_FOUND, "abc"},
    {"Bearer abc   ", MCPAUTH_BEARER_FOUND, "abc"},
    {"Bearer abc \t ", MCPAUTH_BEARER_FOUND, "abc"},
    {"  Bearer abc", MCPAUTH_BEARER_FOUND, "abc"},
    {"Bearer a-b.c_d~e+f/g09AZ", MCPAUTH_BEARER_FOUND, "a-b.c_d~e+f/g09AZ"},
    {"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln-_", MCPAUTH_BEARER_FOUND,
     "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln-_"},
    {"Bearer abc=", MCPAUTH_BEARER_FOUND, "abc="},
    {"Bearer abc==", MCPAUTH_BEARER_FOUND, "abc=="},
    {"Bearer abc==  ", MCPAUTH_BEARER_FOUND, "abc=="},
    {"Bearer x", MCPAUTH_BEARER_FOUND, "x"},
    /* padding only at the end, and never alone */
    {"Bearer ==", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer =abc", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer a=b", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer abc=.", MCPAUTH_BEARER_MALFORMED, NULL},
    /* no token */
    {"Bearer", MCPAUTH_BEARER_MALFORMED, NULL},
    {"bearer", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer ", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer     ", MCPAUTH_BEARER_MALFORMED, NULL},
    {"", MCPAUTH_BEARER_MALFORMED, NULL},
    {"   ", MCPAUTH_BEARER_MALFORMED, NULL},
    /* 1*SP: a tab is not a space */
    {"Bearer\tabc", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer \tabc", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer\t", MCPAUTH_BEARER_MALFORMED, NULL},
    /* one token only, nothing after it */
    {"Bearer a b", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer abc def", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer abc,", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer abc, Basic xyz", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer realm=\"x\"", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer abc\r\n", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer abc\n", MCPAUTH_BEARER_MALFORMED, NULL},
    /* characters outside b64token */
    {"Bearer a\"b", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer \"abc\"", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer a%20b", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer a:b", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer a\\b", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer ab\xc3\xa9", MCPAUTH_BEARER_MALFORMED, NULL},
    {"Bearer a\x01", MCPAUTH_BEARER_MALFORMED, NULL},
    /* the scheme itself is broken */
    {"\"Bearer\" abc", MCPAUTH_BEARER_MALFORMED, NULL},
    {",Bearer abc", MCPAUTH_BEARER_MALFORMED, NULL},
    {"\tBearer\tabc", MCPAUTH_BEARER_MALFORMED, NULL},
    /* RFC 6750 §3.1: other schemes are no bearer credentials at all */
    {"Basic dXNlcjpwYXNz", MCPAUTH_BEARER_OTHER_SCHEME, NULL},
    {"basic xyz", MCPAUTH_BEARER_OTHER_SCHEME, NULL},
    {"Basic", MCPAUTH_BEARER_OTHER_SCHEME, NULL},
    {"Digest username=\"a\", realm=\"b\"", MCPAUTH_BEARER_OTHER_SCHEME, NULL},
    {"DPoP eyJ.abc.def", MCPAUTH_BEARER_OTHER_SCHEME, NULL},
    {"Bearerabc", MCPAUTH_BEARER_OTHER_SCHEME, NULL},
    {"Bearer2 abc", MCPAUTH_BEARER_OTHER_SCHEME, NULL},
    {"Beare abc", MCPAUTH_BEARER_OTHER_SCHEME, NULL},
    {"Token abc", MCPAUTH_BEARER_OTHER_SCHEME, NULL},
};

static const char *status_name(mcpauth_bearer_status status)
{
    switch (status) {
    case MCPAUTH_BEARER_NONE:
        return "NONE";
    case MCPAUTH_BEARER_OTHER_SCHEME:
        return "OTHER_SCHEME";
    case MCPAUTH_BEARER_FOUND:
        return "FOUND";
    case MCPAUTH_BEARER_MALFORMED:
        return "MALFORMED";
    }
    return "?";
}

START_TEST(extract_single)
{
    const extract_case *c = &extract_cases[_i];
    const char *values[] = {c->value};
    const char *token = "unchanged";
    size_t length = 12345;

    mcpauth_bearer_status status = mcpauth_bearer_extract(values, 1, MAX_TOKEN, &token, &length);

    ck_assert_msg(status == c->status, "\"%s\": got %s, want %s", c->value, status_name(status),
                  status_name(c->status));
    if (c->status == MCPAUTH_BEARER_FOUND) {
        /* Borrowed: a pointer into the field value, not a copy. */
        ck_assert(token >= c->value && token < c->value + strlen(c->value));
        ck_assert_uint_eq(length, strlen(c->token));
        ck_assert_int_eq(memcmp(token, c->token, length), 0);
    } else {
        ck_assert_ptr_null(token);
        ck_assert_uint_eq(length, 0);
    }
}
END_TEST

/* --- mcpauth_bearer_extract: field count and limits --------------------- */

START_TEST(extract_no_field)
{
    const char *token = "unchanged";
    size_t length = 7;

    ck_assert_int_eq(mcpauth_bearer_extract(NULL, 0, MAX_TOKEN, &token, &length),
                     MCPAUTH_BEARER_NONE);
    ck_assert_ptr_null(token);
    ck_assert_uint_eq(length, 0);

    const char *values[] = {"Bearer abc"};
    ck_assert_int_eq(mcpauth_bearer_extract(values, 0, MAX_TOKEN, &token, &length),
                     MCPAUTH_BEARER_NONE);
}
END_TEST

START_TEST(extract_several_fields)
{
    const char *token = NULL;
    size_t length = 0;
    const char *two_bearer[] = {"Bearer abc", "Bearer abc"};
    const char *bearer_basic[] = {"Bearer abc", "Basic xyz"};
    const char *two_basic[] = {"Basic a", "Basic b"};
    const char *three[] = {"Bearer a", "Bearer b", "Bearer c"};

    ck_assert_int_eq(mcpauth_bearer_extract(two_bearer, 2, MAX_TOKEN, &token, &length),
                     MCPAUTH_BEARER_MALFORMED);
    ck_assert_ptr_null(token);
    ck_assert_int_eq(mcpauth_bearer_extract(bearer_basic, 2, MAX_TOKEN, &token, &length),
                     MCPAUTH_BEARER_MALFORMED);
    ck_assert_int_eq(mcpauth_bearer_extract(two_basic, 2, MAX_TOKEN, &token, &length),
                     MCPAUTH_BEARER_MALFORMED);
    ck_assert_int_eq(mcpauth_bearer_extract(three, 3, MAX_TOKEN, &token, &length),
                     MCPAUTH_BEARER_MALFORMED);
}
END_TEST

START_TEST(extract_max_length)
{
    char value[7 + MAX_TOKEN + 3 + 1];
    const char *values[] = {value};
    const char *token = NULL;
    size_t length = 0;

    memcpy(value, "Bearer ", 7);
    memset(value + 7, 'a', MAX_TOKEN);
    value[7 + MAX_TOKEN] = '\0';

    ck_assert_int_eq(mcpauth_bearer_extract(values, 1, MAX_TOKEN, &token, &length),
                     MCPAUTH_BEARER_FOUND);
    ck_assert_ptr_eq(token, value + 7);
    ck_assert_uint_eq(length, MAX_TOKEN);

    ck_assert_int_eq(mcpauth_bearer_extract(values, 1, MAX_TOKEN - 1, &token, &length),
                     MCPAUTH_BEARER_MALFORMED);
    ck_assert_ptr_null(token);

    /* Padding counts towards the length; trailing spaces do not. */
    value[7 + MAX_TOKEN - 1] = '=';
    ck_assert_int_eq(mcpauth_bearer_extract(values, 1, MAX_TOKEN - 1, &token, &length),
                     MCPAUTH_BEARER_MALFORMED);
    memcpy(value + 7 + MAX_TOKEN, "   ", 4);
    ck_assert_int_eq(mcpauth_bearer_extract(values, 1, MAX_TOKEN, &token, &length),
                     MCPAUTH_BEARER_FOUND);
    ck_assert_uint_eq(length, MAX_TOKEN);

    const char *short_one[] = {"Bearer abcd"};
    ck_assert_int_eq(mcpauth_bearer_extract(short_one, 1, 3, &token, &length),
                     MCPAUTH_BEARER_MALFORMED);
    ck_assert_int_eq(mcpauth_bearer_extract(short_one, 1, 4, &token, &length),
                     MCPAUTH_BEARER_FOUND);
}
END_TEST

START_TEST(extract_null_outputs)
{
    const char *values[] = {"Bearer abc"};
    ck_assert_int_eq(mcpauth_bearer_extract(values, 1, MAX_TOKEN, NULL, NULL),
                     MCPAUTH_BEARER_FOUND);
    const char *missing[] = {NULL};
    ck_assert_int_eq(mcpauth_bearer_extract(missing, 1, MAX_TOKEN, NULL, NULL),
                     MCPAUTH_BEARER_NONE);
}
END_TEST

/* --- mcpauth_bearer_challenge ------------------------------------------- */

#define PRM "https://rs.example/.well-known/oauth-protected-resource/mcp"

typedef struct challenge_case {
    const char *url;
    const char *scope;
    const char *error;
    const char *description;
    const char *expected;
} challenge_case;

static const challenge_case challenge_cases[] = {
    /* RFC 9728 §5.1 / RFC 6750 §3.1: no credentials, so no error */
    {PRM, NULL, NULL, NULL, "Bearer resource_metadata=\"" PRM "\""},
    {PRM, "mcp", NULL, NULL, "Bearer resource_metadata=\"" PRM "\", scope=\"mcp\""},
    {PRM, "mcp tools:read files.write", NULL, NULL,
     "Bearer resource_metadata=\"" PRM "\", scope=\"mcp tools:read files.write\""},
    {PRM, "mcp", "invalid_token", "expired 12 s ago",
     "Bearer resource_metadata=\"" PRM "\", scope=\"mcp\", error=\"invalid_token\", "
     "error_description=\"expired 12 s ago\""},
    {PRM, "mcp admin", "insufficient_scope", "missing scope admin",
     "Bearer resource_metadata=\"" PRM "\", scope=\"mcp admin\", error=\"insufficient_scope\", "
     "error_description=\"missing scope admin\""},
    {PRM, NULL, "invalid_token", NULL,
     "Bearer resource_metadata=\"" PRM "\", error=\"invalid_token\""},
    {PRM, NULL, "invalid_request", "",
     "Bearer resource_metadata=\"" PRM "\", error=\"invalid_request\""},
    {NULL, "mcp", "invalid_token", "x",
     "Bearer scope=\"mcp\", error=\"invalid_token\", error_description=\"x\""},
    {NULL, NULL, "invalid_token", NULL, "Bearer error=\"invalid_token\""},
    {NULL, NULL, NULL, NULL, "Bearer"},
    /* error_description explains an error and is not sent without one */
    {PRM, NULL, NULL, "orphan", "Bearer resource_metadata=\"" PRM "\""},
    {PRM, NULL, "", "orphan", "Bearer resource_metadata=\"" PRM "\""},
    /* RFC 6750 §3: the description is repaired, not dropped */
    {PRM, NULL, "invalid_token", "say \"hi\" \\ bye",
     "Bearer resource_metadata=\"" PRM "\", error=\"invalid_token\", "
     "error_description=\"say ?hi? ? bye\""},
    {PRM, NULL, "invalid_token", "line one\r\nline two\tend\x7f",
     "Bearer resource_metadata=\"" PRM "\", error=\"invalid_token\", "
     "error_description=\"line one??line two?end?\""},
    {PRM, NULL, "invalid_token", "caf\xc3\xa9!#[]{}~",
     "Bearer resource_metadata=\"" PRM "\", error=\"invalid_token\", "
     "error_description=\"caf?\?!#[]{}~\""},
    /* values that cannot be written correctly are left out */
    {PRM, "mcp  admin", NULL, NULL, "Bearer resource_metadata=\"" PRM "\""},
    {PRM, " mcp", NULL, NULL, "Bearer resource_metadata=\"" PRM "\""},
    {PRM, "mcp ", NULL, NULL, "Bearer resource_metadata=\"" PRM "\""},
    {PRM, "", NULL, NULL, "Bearer resource_metadata=\"" PRM "\""},
    {PRM, "a\"b", NULL, NULL, "Bearer resource_metadata=\"" PRM "\""},
    {PRM, "a\\b", NULL, NULL, "Bearer resource_metadata=\"" PRM "\""},
    {PRM, "a\tb", NULL, NULL, "Bearer resource_metadata=\"" PRM "\""},
    {PRM, "mcp\n", "invalid_token", NULL,
     "Bearer resource_metadata=\"" PRM "\", error=\"invalid_token\""},
    {PRM, "mcp", "bad\"error", "desc", "Bearer resource_metadata=\"" PRM "\", scope=\"mcp\""},
    {PRM, "mcp", "bad\nerror", "desc", "Bearer resource_metadata=\"" PRM "\", scope=\"mcp\""},
    {"https://rs.example/a\"b", "mcp", NULL, NULL, "Bearer scope=\"mcp\""},
    {"https://rs.example/a b", "mcp", NULL, NULL, "Bearer scope=\"mcp\""},
    {"", "mcp", NULL, NULL, "Bearer scope=\"mcp\""},
};

START_TEST(challenge)
{
    const challenge_case *c = &challenge_cases[_i];
    char *header = mcpauth_bearer_challenge(c->url, c->scope, c->error, c->description);
    ck_assert_ptr_nonnull(header);
    ck_assert_str_eq(header, c->expected);
    free(header);
}
END_TEST

START_TEST(challenge_description_cut)
{
    char description[301];
    memset(description, 'd', 300);
    description[300] = '\0';
    char expected[512];

    char *header = mcpauth_bearer_challenge(NULL, NULL, "invalid_token", description);
    ck_assert_ptr_nonnull(header);
    snprintf(expected, sizeof expected,
             "Bearer error=\"invalid_token\", error_description=\"%.200s\"", description);
    ck_assert_str_eq(header, expected);
    free(header);

    /* exactly 200 bytes fit; 201 lose one */
    description[200] = '\0';
    header = mcpauth_bearer_challenge(NULL, NULL, "invalid_token", description);
    ck_assert_str_eq(header, expected);
    free(header);
    description[200] = 'e';
    description[201] = '\0';
    header = mcpauth_bearer_challenge(NULL, NULL, "invalid_token", description);
    ck_assert_str_eq(header, expected);
    free(header);

    /* cut after sanitising: a multi-byte character at the end is two '?' */
    memset(description, 'd', 198);
    memcpy(description + 198, "\xc3\xa9\xc3\xa9", 5);
    header = mcpauth_bearer_challenge(NULL, NULL, "invalid_token", description);
    const char *value = strstr(header, "error_description=\"") + strlen("error_description=\"");
    ck_assert_uint_eq(strlen(value), 201);
    ck_assert_str_eq(value + 198, "??\"");
    free(header);
}
END_TEST

/* MCP 2026-07-28 authorization §Refresh Tokens: offline_access is no
 * resource requirement; a challenge leaves it out wherever it stands. */
START_TEST(challenge_without_offline_access)
{
    static const struct {
        const char *scope, *expected;
    } cases[] = {
        {"mcp offline_access", "Bearer scope=\"mcp\", error=\"insufficient_scope\""},
        {"offline_access mcp:a mcp:b",
         "Bearer scope=\"mcp:a mcp:b\", error=\"insufficient_scope\""},
        {"a offline_access b", "Bearer scope=\"a b\", error=\"insufficient_scope\""},
        {"offline_access", "Bearer error=\"insufficient_scope\""},
        {"offline_accessx offline_acces", "Bearer scope=\"offline_accessx offline_acces\", "
                                          "error=\"insufficient_scope\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *header = mcpauth_bearer_challenge(NULL, cases[i].scope, "insufficient_scope", NULL);
        ck_assert_ptr_nonnull(header);
        ck_assert_str_eq(header, cases[i].expected);
        free(header);
    }
}
END_TEST

START_TEST(challenge_params_once)
{
    static const char *names[] = {"resource_metadata=", "scope=", "error=", "error_description="};
    char *header =
        mcpauth_bearer_challenge(PRM, "error= scope=", "invalid_token", "error=x, scope=y");
    ck_assert_ptr_nonnull(header);
    /* Names inside quoted values do not count; outside them each appears once. */
    size_t seen[4] = {0};
    bool quoted = false;
    for (const char *p = header; *p; p++) {
        if (*p == '"') {
            quoted = !quoted;
            continue;
        }
        if (quoted || (p != header && p[-1] != ' '))
            continue;
        for (size_t i = 0; i < 4; i++) {
            if (strncmp(p, names[i], strlen(names[i])) == 0)
                seen[i]++;
        }
    }
    for (size_t i = 0; i < 4; i++)
        ck_assert_msg(seen[i] == 1, "%s appears %zu times in %s", names[i], seen[i], header);
    free(header);
}
END_TEST

static Suite *bearer_suite(void)
{
    Suite *s = suite_create("bearer");
    TCase *tc = tcase_create("extract");
    tcase_add_loop_test(tc, extract_single, 0, sizeof extract_cases / sizeof extract_cases[0]);
    tcase_add_test(tc, extract_no_field);
    tcase_add_test(tc, extract_several_fields);
    tcase_add_test(tc, extract_max_length);
    tcase_add_test(tc, extract_null_outputs);
    suite_add_tcase(s, tc);

    tc = tcase_create("challenge");
    tcase_add_loop_test(tc, challenge, 0, sizeof challenge_cases / sizeof challenge_cases[0]);
    tcase_add_test(tc, challenge_description_cut);
    tcase_add_test(tc, challenge_params_once);
    tcase_add_test(tc, challenge_without_offline_access);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(bearer_suite());
}
