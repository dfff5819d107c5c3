#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/mcp_tool_policy.h"
#include "mcpauth/scope_implies.h"
#include "mcpauth/token.h"
#include "testlib.h"

/* A closed set of the rules, NULL-terminated; fails the test on an error. */
static mcpauth_scope_implies *closed(const char *const *rules)
{
    mcpauth_error err = {0};
    mcpauth_scope_implies *set = mcpauth_scope_implies_new();
    ck_assert_ptr_nonnull(set);
    for (size_t i = 0; rules[i]; i++)
        ck_assert_msg(mcpauth_scope_implies_add(set, rules[i], &err) == MCPAUTH_OK, "%s: %s",
                      rules[i], err.message);
    ck_assert_msg(mcpauth_scope_implies_close(set, &err) == MCPAUTH_OK, "%s", err.message);
    return set;
}

/* The message the rules fail with, at add or at close. */
static void failure(const char *const *rules, char *message, size_t size)
{
    mcpauth_error err = {0};
    mcpauth_scope_implies *set = mcpauth_scope_implies_new();
    mcpauth_status status = MCPAUTH_OK;
    for (size_t i = 0; rules[i] && status == MCPAUTH_OK; i++)
        status = mcpauth_scope_implies_add(set, rules[i], &err);
    if (status == MCPAUTH_OK)
        status = mcpauth_scope_implies_close(set, &err);
    ck_assert_int_eq(status, MCPAUTH_ELOCAL);
    ck_assert_ptr_null(strchr(err.message, '\n'));
    snprintf(message, size, "%s", err.message);
    mcpauth_scope_implies_free(set);
}

#define ck_assert_fails(expected, ...)                                                             \
    do {                                                                                           \
        const char *rules_[] = {__VA_ARGS__, NULL};                                                \
        char message_[512];                                                                        \
        failure(rules_, message_, sizeof message_);                                                \
        ck_assert_str_eq(message_, expected);                                                      \
    } while (0)

/* A token holding the space-separated scopes. */
static mcpauth_token_info *token_with(char *scopes)
{
    static char *items[8];
    static mcpauth_token_info info;
    memset(&info, 0, sizeof info);
    info.active = true;
    info.scopes = items;
    for (char *s = strtok(scopes, " "); s && info.scope_count < 8; s = strtok(NULL, " "))
        items[info.scope_count++] = s;
    return &info;
}

START_TEST(transitive)
{
    const char *rules[] = {"a=b", "b=c", "c=d", NULL};
    mcpauth_scope_implies *set = closed(rules);
    ck_assert(mcpauth_scope_implies_covers(set, "a", "b"));
    ck_assert(mcpauth_scope_implies_covers(set, "a", "c"));
    ck_assert(mcpauth_scope_implies_covers(set, "a", "d"));
    ck_assert(mcpauth_scope_implies_covers(set, "b", "d"));
    ck_assert(mcpauth_scope_implies_covers(set, "d", "d"));
    /* Implication runs one way only. */
    ck_assert(!mcpauth_scope_implies_covers(set, "d", "a"));
    ck_assert(!mcpauth_scope_implies_covers(set, "c", "b"));
    mcpauth_scope_implies_free(set);
}
END_TEST

START_TEST(transitive_any_order)
{
    /* The rules may come in any order: the closure is computed at the end. */
    const char *rules[] = {"c=d", "b=c", "a=b", NULL};
    mcpauth_scope_implies *set = closed(rules);
    ck_assert(mcpauth_scope_implies_covers(set, "a", "d"));
    mcpauth_scope_implies_free(set);
}
END_TEST

START_TEST(diamond)
{
    const char *rules[] = {"admin=read,write", "read=list", "write=list", NULL};
    mcpauth_scope_implies *set = closed(rules);
    ck_assert(mcpauth_scope_implies_covers(set, "admin", "list"));
    ck_assert(mcpauth_scope_implies_covers(set, "write", "list"));
    ck_assert(!mcpauth_scope_implies_covers(set, "read", "write"));
    ck_assert(!mcpauth_scope_implies_covers(set, "list", "admin"));
    mcpauth_scope_implies_free(set);
}
END_TEST

START_TEST(dedup)
{
    const char *rules[] = {"a=b,b,c", "a=c", "a=b", NULL};
    mcpauth_scope_implies *set = closed(rules);
    size_t count;
    const char *const *scopes = mcpauth_scope_implies_scopes(set, &count);
    ck_assert_uint_eq(count, 3);
    ck_assert_str_eq(scopes[0], "a");
    ck_assert_str_eq(scopes[1], "b");
    ck_assert_str_eq(scopes[2], "c");
    ck_assert(mcpauth_scope_implies_covers(set, "a", "c"));
    mcpauth_scope_implies_free(set);
}
END_TEST

START_TEST(unknown_scopes)
{
    const char *rules[] = {"mcp:admin=mcp:tools:read", NULL};
    mcpauth_scope_implies *set = closed(rules);
    /* Scopes no rule names: themselves only. */
    ck_assert(mcpauth_scope_implies_covers(set, "other", "other"));
    ck_assert(!mcpauth_scope_implies_covers(set, "other", "mcp:tools:read"));
    ck_assert(!mcpauth_scope_implies_covers(set, "mcp:admin", "other"));
    /* Case-sensitive (RFC 6749 §3.3). */
    ck_assert(!mcpauth_scope_implies_covers(set, "MCP:ADMIN", "mcp:tools:read"));
    /* No set: one to one. */
    ck_assert(mcpauth_scope_implies_covers(NULL, "x", "x"));
    ck_assert(!mcpauth_scope_implies_covers(NULL, "mcp:admin", "mcp:tools:read"));
    size_t count = 1;
    mcpauth_scope_implies_scopes(NULL, &count);
    ck_assert_uint_eq(count, 0);
    mcpauth_scope_implies_free(set);
}
END_TEST

START_TEST(granted)
{
    const char *rules[] = {"mcp:admin=mcp:tools:read,mcp:tools:write", NULL};
    mcpauth_scope_implies *set = closed(rules);
    char scopes[] = "mcp mcp:admin";
    mcpauth_token_info *info = token_with(scopes);
    const char *needed[] = {"mcp", "mcp:tools:read", "mcp:tools:write"};
    ck_assert(mcpauth_scope_implies_granted(set, info, needed, 3));
    ck_assert(!mcpauth_scope_implies_granted(NULL, info, needed, 3));
    const char *other[] = {"mcp:tools:read", "mcp:billing"};
    ck_assert(!mcpauth_scope_implies_granted(set, info, other, 2));
    ck_assert(!mcpauth_scope_implies_granted(set, NULL, needed, 1));
    ck_assert(mcpauth_scope_implies_granted(set, NULL, needed, 0));
    mcpauth_scope_implies_free(set);
}
END_TEST

START_TEST(token_check_uses_implies)
{
    const char *rules[] = {"broad=narrow", NULL};
    mcpauth_scope_implies *set = closed(rules);
    char scopes[] = "broad";
    mcpauth_token_info *info = token_with(scopes);
    const char *required[] = {"narrow", "other"};
    mcpauth_token_policy policy = {.required_scopes = required, .required_scope_count = 1};
    char reason[256];
    ck_assert_int_eq(mcpauth_token_check(&policy, info, 0, reason, sizeof reason),
                     MCPAUTH_TOKEN_INSUFFICIENT_SCOPE);
    policy.implies = set;
    ck_assert_int_eq(mcpauth_token_check(&policy, info, 0, reason, sizeof reason),
                     MCPAUTH_TOKEN_VALID);
    policy.required_scope_count = 2;
    ck_assert_int_eq(mcpauth_token_check(&policy, info, 0, reason, sizeof reason),
                     MCPAUTH_TOKEN_INSUFFICIENT_SCOPE);
    ck_assert_str_eq(reason, "missing scope other");
    mcpauth_scope_implies_free(set);
}
END_TEST

START_TEST(tool_policy_uses_implies)
{
    const char *rules[] = {"mcp:admin=mcp:tools:write", NULL};
    mcpauth_scope_implies *set = closed(rules);
    mcpauth_mcp_tool_policy *policy = mcpauth_mcp_tool_policy_new();
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_mcp_tool_policy_add_text(policy, "write_*=mcp:tools:write", &err),
                     MCPAUTH_OK);
    char scopes[] = "mcp mcp:admin";
    mcpauth_token_info *info = token_with(scopes);
    ck_assert(!mcpauth_mcp_tool_policy_allows(policy, "write_file", info));
    mcpauth_mcp_tool_policy_set_implies(policy, set);
    ck_assert(mcpauth_mcp_tool_policy_allows(policy, "write_file", info));
    /* A challenge names the scopes the rules ask for, not the broad one. */
    const char *base[] = {"mcp"};
    char *challenge = mcpauth_mcp_tool_policy_challenge_scope(policy, "write_file", base, 1);
    ck_assert_str_eq(challenge, "mcp mcp:tools:write");
    free(challenge);
    mcpauth_mcp_tool_policy_free(policy);
    mcpauth_scope_implies_free(set);
}
END_TEST

START_TEST(cycle_two)
{
    ck_assert_fails("--scope-implies \"a=b\": the rules form a cycle: a -> b -> a", "a=b", "b=a");
}
END_TEST

START_TEST(cycle_self)
{
    ck_assert_fails("--scope-implies \"a=b,a\": a implies itself", "a=b,a");
}
END_TEST

START_TEST(cycle_long)
{
    ck_assert_fails("--scope-implies \"x=y\": the rules form a cycle: x -> y -> z -> x", "w=x",
                    "x=y", "y=z", "z=x");
}
END_TEST

START_TEST(cycle_leaves_set_empty)
{
    mcpauth_error err = {0};
    mcpauth_scope_implies *set = mcpauth_scope_implies_new();
    ck_assert_int_eq(mcpauth_scope_implies_add(set, "a=b", &err), MCPAUTH_OK);
    ck_assert_int_eq(mcpauth_scope_implies_add(set, "b=a", &err), MCPAUTH_OK);
    ck_assert_int_eq(mcpauth_scope_implies_close(set, &err), MCPAUTH_ELOCAL);
    ck_assert(!mcpauth_scope_implies_covers(set, "a", "b"));
    size_t count;
    mcpauth_scope_implies_scopes(set, &count);
    ck_assert_uint_eq(count, 0);
    mcpauth_scope_implies_free(set);
}
END_TEST

START_TEST(bad_syntax)
{
    ck_assert_fails("--scope-implies \"admin\": not BROAD=NARROW[,NARROW...]", "admin");
    ck_assert_fails("--scope-implies \"=b\": empty scope name", "=b");
    ck_assert_fails("--scope-implies \"a=\": empty scope name", "a=");
    ck_assert_fails("--scope-implies \"a=b,,c\": empty scope name", "a=b,,c");
    ck_assert_fails("--scope-implies \"a=b,\": empty scope name", "a=b,");
    ck_assert_fails("--scope-implies \"a b=c\": \"a b\" is not a valid scope token (RFC 6749 "
                    "§3.3: 1 to 128 visible ASCII characters, no '\"' or '\\')",
                    "a b=c");
    ck_assert_fails("--scope-implies \"a=b\\\"\": \"b\\\"\" is not a valid scope token (RFC 6749 "
                    "§3.3: 1 to 128 visible ASCII characters, no '\"' or '\\')",
                    "a=b\"");
    ck_assert_fails("--scope-implies \"a=\\xc3\\xa9\": \"\\xc3\\xa9\" is not a valid scope "
                    "token (RFC 6749 §3.3: 1 to 128 visible ASCII characters, no '\"' or '\\')",
                    "a=\xc3\xa9");
    /* "a=b=c": the broad scope ends at the first '='; "b=c" is one name
     * and '=' is an NQCHAR, so it is a valid, if odd, scope. */
    const char *odd[] = {"a=b=c", NULL};
    mcpauth_scope_implies *set = closed(odd);
    ck_assert(mcpauth_scope_implies_covers(set, "a", "b=c"));
    mcpauth_scope_implies_free(set);
}
END_TEST

START_TEST(limits)
{
    char rule[4096];
    /* 128 bytes is a scope, 129 is not. */
    snprintf(rule, sizeof rule, "a=%0128d", 0);
    const char *ok[] = {rule, NULL};
    mcpauth_scope_implies_free(closed(ok));
    snprintf(rule, sizeof rule, "a=%0129d", 0);
    char message[512];
    const char *long_rules[] = {rule, NULL};
    failure(long_rules, message, sizeof message);
    ck_assert_ptr_nonnull(strstr(message, "is not a valid scope token"));
    /* 32 narrow scopes, then 33. */
    size_t n = (size_t)snprintf(rule, sizeof rule, "a=s0");
    for (int i = 1; i < 32; i++)
        n += (size_t)snprintf(rule + n, sizeof rule - n, ",s%d", i);
    mcpauth_scope_implies_free(closed(ok));
    snprintf(rule + n, sizeof rule - n, ",s32");
    const char *many[] = {rule, NULL};
    failure(many, message, sizeof message);
    ck_assert_ptr_nonnull(strstr(message, "more than 32 scopes"));
    /* 256 distinct scopes, then 257. */
    mcpauth_error err = {0};
    mcpauth_scope_implies *set = mcpauth_scope_implies_new();
    for (int i = 0; i < 255; i++) {
        snprintf(rule, sizeof rule, "root=n%d", i);
        ck_assert_int_eq(mcpauth_scope_implies_add(set, rule, &err), MCPAUTH_OK);
    }
    ck_assert_int_eq(mcpauth_scope_implies_add(set, "root=n255", &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, "more than 256 distinct scopes"));
    ck_assert_int_eq(mcpauth_scope_implies_close(set, &err), MCPAUTH_OK);
    ck_assert(mcpauth_scope_implies_covers(set, "root", "n254"));
    mcpauth_scope_implies_free(set);
}
END_TEST

START_TEST(closed_is_final)
{
    const char *rules[] = {"a=b", NULL};
    mcpauth_scope_implies *set = closed(rules);
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_scope_implies_add(set, "b=c", &err), MCPAUTH_ELOCAL);
    ck_assert_int_eq(mcpauth_scope_implies_close(set, &err), MCPAUTH_OK);
    mcpauth_scope_implies_free(set);
}
END_TEST

START_TEST(scope_token_valid)
{
    ck_assert(mcpauth_scope_token_valid("mcp:tools:read"));
    ck_assert(mcpauth_scope_token_valid("!#[]~"));
    ck_assert(!mcpauth_scope_token_valid(""));
    ck_assert(!mcpauth_scope_token_valid("a b"));
    ck_assert(!mcpauth_scope_token_valid("a\\b"));
    ck_assert(!mcpauth_scope_token_valid("a\tb"));
    ck_assert(!mcpauth_scope_token_valid("a\x7f"));
}
END_TEST

static Suite *scope_implies_suite(void)
{
    Suite *s = suite_create("scope_implies");
    TCase *tc = tcase_create("closure");
    tcase_add_test(tc, transitive);
    tcase_add_test(tc, transitive_any_order);
    tcase_add_test(tc, diamond);
    tcase_add_test(tc, dedup);
    tcase_add_test(tc, unknown_scopes);
    tcase_add_test(tc, granted);
    tcase_add_test(tc, token_check_uses_implies);
    tcase_add_test(tc, tool_policy_uses_implies);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, cycle_two);
    tcase_add_test(tc, cycle_self);
    tcase_add_test(tc, cycle_long);
    tcase_add_test(tc, cycle_leaves_set_empty);
    tcase_add_test(tc, bad_syntax);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, closed_is_final);
    tcase_add_test(tc, scope_token_valid);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(scope_implies_suite());
}
