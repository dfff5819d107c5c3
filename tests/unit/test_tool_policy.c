#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/json.h"
#include "mcpauth/mcp_tool_policy.h"
#include "mcpauth/strbuf.h"
#include "mcpauth/mcp_tool_policy.h"
#include "testlib.h"

/* A policy from the JSON text of a "tools" object; fails the test when it
 * does not parse. */
static mcpauth_mcp_tool_policy *policy_from(const char *text)
{
    mcpauth_error err = {0};
    json_object *tools = mcpauth_json_parse(text, strlen(text), "test", &err);
    ck_assert_msg(tools, "%s: %s", text, err.message);
    mcpauth_mcp_tool_policy *policy = mcpauth_mcp_tool_policy_new();
    ck_assert_ptr_nonnull(policy);
    mcpauth_status status = mcpauth_mcp_tool_policy_add_json(policy, tools, "tools", &err);
    ck_assert_msg(status == MCPAUTH_OK, "%s: %s", text, err.message);
    json_object_put(tools);
    return policy;
}

/* The error message add_json gives for text (which must fail). */
static void json_error(const char *text, char *message, size_t size)
{
    mcpauth_error err = {0};
    json_object *tools = mcpauth_json_parse(text, strlen(text), "test", &err);
    ck_assert_msg(tools, "%s: %s", text, err.message);
    mcpauth_mcp_tool_policy *policy = mcpauth_mcp_tool_policy_new();
    ck_assert_int_eq(mcpauth_mcp_tool_policy_add_json(policy, tools, "tools", &err),
                     MCPAUTH_ELOCAL);
    snprintf(message, size, "%s", err.message);
    mcpauth_mcp_tool_policy_free(policy);
    json_object_put(tools);
}

/* The scopes tool needs, space-separated ("" for none). */
static char *needs(const mcpauth_mcp_tool_policy *policy, const char *tool)
{
    size_t count;
    const char *const *scopes = mcpauth_mcp_tool_policy_required_scopes(policy, tool, &count);
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, "");
    for (size_t i = 0; i < count; i++)
        mcpauth_strbuf_appendf(&sb, "%s%s", i ? " " : "", scopes[i]);
    return mcpauth_strbuf_detach(&sb);
}

#define ck_assert_needs(policy, tool, expected)                                                    \
    do {                                                                                           \
        char *got_ = needs(policy, tool);                                                          \
        ck_assert_str_eq(got_, expected);                                                          \
        free(got_);                                                                                \
    } while (0)

/* A token granting the scopes in a space-separated list. */
typedef struct token {
    mcpauth_token_info info;
    char *items[16];
    char text[256];
} token;

static const mcpauth_token_info *grant(token *t, const char *scopes)
{
    memset(t, 0, sizeof *t);
    snprintf(t->text, sizeof t->text, "%s", scopes);
    for (char *p = strtok(t->text, " "); p && t->info.scope_count < 16; p = strtok(NULL, " "))
        t->items[t->info.scope_count++] = p;
    t->info.active = true;
    t->info.scopes = t->items;
    return &t->info;
}

/* A string of n copies of c. */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* --- parsing: the example and matching --------------------------------- */

static const char example[] = "{\"default_scopes\": [\"mcp:basic\"],"
                              " \"scopes\": {\"admin_read\": [\"mcp:admin:read\"],"
                              " \"admin_*\": [\"mcp:admin\", \"mcp:write\"],"
                              " \"hello_world\": []}}";

START_TEST(example_matches_first_rule_in_order)
{
    mcpauth_mcp_tool_policy *policy = policy_from(example);
    ck_assert(!mcpauth_mcp_tool_policy_is_empty(policy));
    /* admin_read matches both patterns: the first in file order wins. */
    ck_assert_needs(policy, "admin_read", "mcp:admin:read");
    ck_assert_needs(policy, "admin_reset", "mcp:admin mcp:write");
    ck_assert_needs(policy, "admin_", "mcp:admin mcp:write");
    /* An explicit empty list is not the defaults. */
    ck_assert_needs(policy, "hello_world", "");
    ck_assert_needs(policy, "whoami", "mcp:basic");
    ck_assert_needs(policy, "Admin_reset", "mcp:basic"); /* fnmatch is case-sensitive */
    ck_assert_needs(policy, "", "mcp:basic");
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(order_is_file_order_not_specificity)
{
    /* "*" first shadows everything after it. */
    mcpauth_mcp_tool_policy *policy =
        policy_from("{\"scopes\": {\"*\": [\"all\"], \"admin_*\": [\"admin\"]}}");
    ck_assert_needs(policy, "admin_x", "all");
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(glob_forms)
{
    mcpauth_mcp_tool_policy *policy =
        policy_from("{\"scopes\": {\"fs/*\": [\"fs\"], \"db?\": [\"db\"], \"[xy]ray\": [\"ray\"],"
                    " \"lit\\\\*\": [\"star\"], \"*.tool\": [\"dot\"]}}");
    /* No FNM_PATHNAME: '*' crosses '/'. */
    ck_assert_needs(policy, "fs/read", "fs");
    ck_assert_needs(policy, "fs/deep/read", "fs");
    ck_assert_needs(policy, "db1", "db");
    ck_assert_needs(policy, "db12", "");
    ck_assert_needs(policy, "xray", "ray");
    ck_assert_needs(policy, "yray", "ray");
    ck_assert_needs(policy, "zray", "");
    /* A backslash escapes: "lit\*" matches only "lit*". */
    ck_assert_needs(policy, "lit*", "star");
    ck_assert_needs(policy, "litx", "");
    /* No FNM_PERIOD: '*' matches a leading dot. */
    ck_assert_needs(policy, ".tool", "dot");
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(empty_and_null_policies)
{
    mcpauth_mcp_tool_policy *policy = mcpauth_mcp_tool_policy_new();
    ck_assert(mcpauth_mcp_tool_policy_is_empty(policy));
    ck_assert(mcpauth_mcp_tool_policy_is_empty(NULL));
    ck_assert_needs(policy, "anything", "");
    ck_assert_needs(NULL, "anything", "");
    ck_assert(mcpauth_mcp_tool_policy_allows(policy, "anything", NULL));
    ck_assert(mcpauth_mcp_tool_policy_allows(NULL, "anything", NULL));
    mcpauth_mcp_tool_policy_free(policy);
    mcpauth_mcp_tool_policy_free(NULL);

    /* {} and empty members parse to an empty policy. */
    policy = policy_from("{\"default_scopes\": [], \"scopes\": {}}");
    ck_assert(mcpauth_mcp_tool_policy_is_empty(policy));
    mcpauth_mcp_tool_policy_free(policy);
    policy = policy_from("{}");
    ck_assert(mcpauth_mcp_tool_policy_is_empty(policy));
    mcpauth_mcp_tool_policy_free(policy);

    /* Defaults alone make it non-empty. */
    policy = policy_from("{\"default_scopes\": [\"d\"]}");
    ck_assert(!mcpauth_mcp_tool_policy_is_empty(policy));
    ck_assert_needs(policy, "x", "d");
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(valid_scope_characters)
{
    /* Every NQCHAR that is not '"' or '\' may be in a scope (RFC 6749 §3.3). */
    mcpauth_mcp_tool_policy *policy = policy_from("{\"scopes\": {\"t\": [\"!#$%&'()*+,-./0:;<=>?@AZ"
                                                  "[]^_`az{|}~\", \"https://x.example/scope\"]}}");
    ck_assert_needs(policy, "t", "!#$%&'()*+,-./0:;<=>?@AZ[]^_`az{|}~ https://x.example/scope");
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(json_rules_append_and_defaults_replace)
{
    mcpauth_mcp_tool_policy *policy = policy_from("{\"default_scopes\": [\"d1\"],"
                                                  " \"scopes\": {\"a\": [\"first\"]}}");
    mcpauth_error err = {0};
    const char *more = "{\"default_scopes\": [\"d2\"], \"scopes\": {\"a\": [\"second\"],"
                       " \"b\": [\"b\"]}}";
    json_object *tools = mcpauth_json_parse(more, strlen(more), "test", &err);
    ck_assert_int_eq(mcpauth_mcp_tool_policy_add_json(policy, tools, "tools", &err), MCPAUTH_OK);
    json_object_put(tools);
    ck_assert_needs(policy, "a", "first");
    ck_assert_needs(policy, "b", "b");
    ck_assert_needs(policy, "c", "d2");
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

/* --- parsing: errors name the JSON path -------------------------------- */

typedef struct error_case {
    const char *json;
    const char *message; /* the whole message, or its start when it ends in "..." */
} error_case;

static const error_case error_cases[] = {
    {"[]", "tools: must be an object with \"default_scopes\" and \"scopes\""},
    {"\"mcp\"", "tools: must be an object with \"default_scopes\" and \"scopes\""},
    {"{\"default\": [\"mcp\"]}",
     "tools: unknown member \"default\" (only \"default_scopes\" and \"scopes\")"},
    {"{\"default_scopes\": \"mcp\"}", "tools.default_scopes: must be an array of scope tokens"},
    {"{\"default_scopes\": null}", "tools.default_scopes: must be an array of scope tokens"},
    {"{\"default_scopes\": [\"ok\", 1]}", "tools.default_scopes[1]: must be a string"},
    {"{\"default_scopes\": [\"a b\"]}", "tools.default_scopes[0]: not a valid scope token..."},
    {"{\"scopes\": []}", "tools.scopes: must be an object of patterns and scope arrays"},
    {"{\"scopes\": \"x\"}", "tools.scopes: must be an object of patterns and scope arrays"},
    {"{\"scopes\": {\"admin_*\": \"mcp:admin\"}}",
     "tools.scopes[\"admin_*\"]: must be an array of scope tokens"},
    {"{\"scopes\": {\"admin_*\": {}}}",
     "tools.scopes[\"admin_*\"]: must be an array of scope tokens"},
    {"{\"scopes\": {\"admin_*\": [\"ok\", null]}}",
     "tools.scopes[\"admin_*\"][1]: must be a string"},
    {"{\"scopes\": {\"admin_*\": [\"ok\", [\"x\"]]}}",
     "tools.scopes[\"admin_*\"][1]: must be a string"},
    {"{\"scopes\": {\"admin_*\": [\"mcp\", \"a b\"]}}",
     "tools.scopes[\"admin_*\"][1]: not a valid scope token (RFC 6749 §3.3: 1 to 128 visible "
     "ASCII characters, no '\"' or '\\')"},
    {"{\"scopes\": {\"t\": [\"\"]}}", "tools.scopes[\"t\"][0]: not a valid scope token..."},
    {"{\"scopes\": {\"t\": [\"a\\\"b\"]}}", "tools.scopes[\"t\"][0]: not a valid scope token..."},
    {"{\"scopes\": {\"t\": [\"a\\\\b\"]}}", "tools.scopes[\"t\"][0]: not a valid scope token..."},
    {"{\"scopes\": {\"t\": [\"a\\tb\"]}}", "tools.scopes[\"t\"][0]: not a valid scope token..."},
    {"{\"scopes\": {\"t\": [\"a\\u007fb\"]}}",
     "tools.scopes[\"t\"][0]: not a valid scope token..."},
    {"{\"scopes\": {\"t\": [\"caf\\u00e9\"]}}",
     "tools.scopes[\"t\"][0]: not a valid scope token..."},
    /* An embedded NUL must not cut the checked string short. */
    {"{\"scopes\": {\"t\": [\"mcp\\u0000admin\"]}}",
     "tools.scopes[\"t\"][0]: not a valid scope token..."},
    {"{\"scopes\": {\"\": []}}",
     "tools.scopes[\"\"]: not a valid pattern (1 to 128 visible ASCII characters)"},
    {"{\"scopes\": {\"a b\": []}}", "tools.scopes[\"a b\"]: not a valid pattern..."},
    /* Quotes, backslashes and control characters of a key are escaped. */
    {"{\"scopes\": {\"a\\u0001b\": []}}", "tools.scopes[\"a\\x01b\"]: not a valid pattern..."},
    {"{\"scopes\": {\"a\\\"b\\\\\": [1]}}", "tools.scopes[\"a\\\"b\\\\\"][0]: must be a string"},
    /* The first bad member stops, in file order. */
    {"{\"scopes\": {\"ok\": [\"x\"], \"bad\": [\"a b\"]}, \"junk\": 1}",
     "tools.scopes[\"bad\"][0]: not a valid scope token..."},
};

START_TEST(json_errors)
{
    const error_case *c = &error_cases[_i];
    char message[MCPAUTH_ERROR_MESSAGE_MAX];
    json_error(c->json, message, sizeof message);
    size_t n = strlen(c->message);
    if (n > 3 && strcmp(c->message + n - 3, "...") == 0)
        ck_assert_msg(strncmp(message, c->message, n - 3) == 0, "%s: got %s", c->json, message);
    else
        ck_assert_str_eq(message, c->message);
    ck_assert_ptr_null(strchr(message, '\n'));
}
END_TEST

START_TEST(long_keys_are_cut_in_messages)
{
    char *pattern = repeat('p', 129);
    char json[512];
    snprintf(json, sizeof json, "{\"scopes\": {\"%s\": []}}", pattern);
    char message[MCPAUTH_ERROR_MESSAGE_MAX];
    json_error(json, message, sizeof message);
    ck_assert_msg(strstr(message, "pppp...\"]: not a valid pattern"), "%s", message);
    ck_assert_ptr_null(strstr(message, pattern));
    free(pattern);
}
END_TEST

/* --- limits: the bound is accepted, one more is refused ----------------- */

START_TEST(pattern_length_limit)
{
    char json[512];
    char *pattern = repeat('p', MCPAUTH_MCP_TOOL_POLICY_MAX_PATTERN);
    snprintf(json, sizeof json, "{\"scopes\": {\"%s\": [\"s\"]}}", pattern);
    mcpauth_mcp_tool_policy *policy = policy_from(json);
    ck_assert_needs(policy, pattern, "s");
    mcpauth_mcp_tool_policy_free(policy);
    free(pattern);
    pattern = repeat('p', MCPAUTH_MCP_TOOL_POLICY_MAX_PATTERN + 1);
    snprintf(json, sizeof json, "{\"scopes\": {\"%s\": [\"s\"]}}", pattern);
    char message[MCPAUTH_ERROR_MESSAGE_MAX];
    json_error(json, message, sizeof message);
    ck_assert_ptr_nonnull(strstr(message, "not a valid pattern"));
    free(pattern);
}
END_TEST

START_TEST(scope_length_limit)
{
    char json[512];
    char *scope = repeat('s', MCPAUTH_MCP_TOOL_POLICY_MAX_SCOPE);
    snprintf(json, sizeof json, "{\"default_scopes\": [\"%s\"]}", scope);
    mcpauth_mcp_tool_policy *policy = policy_from(json);
    ck_assert_needs(policy, "x", scope);
    mcpauth_mcp_tool_policy_free(policy);
    free(scope);
    scope = repeat('s', MCPAUTH_MCP_TOOL_POLICY_MAX_SCOPE + 1);
    snprintf(json, sizeof json, "{\"default_scopes\": [\"%s\"]}", scope);
    char message[MCPAUTH_ERROR_MESSAGE_MAX];
    json_error(json, message, sizeof message);
    ck_assert_msg(strncmp(message, "tools.default_scopes[0]: not a valid scope token", 48) == 0,
                  "%s", message);
    free(scope);
}
END_TEST

/* {"default_scopes" or a pattern: [n scopes]} */
static char *many_scopes_json(bool defaults, size_t n)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, defaults ? "{\"default_scopes\": [" : "{\"scopes\": {\"t\": [");
    for (size_t i = 0; i < n; i++)
        mcpauth_strbuf_appendf(&sb, "%s\"s%zu\"", i ? ", " : "", i);
    mcpauth_strbuf_appends(&sb, defaults ? "]}" : "]}}");
    return mcpauth_strbuf_detach(&sb);
}

START_TEST(scope_count_limit)
{
    for (int defaults = 0; defaults < 2; defaults++) {
        char *json = many_scopes_json(defaults, MCPAUTH_MCP_TOOL_POLICY_MAX_SCOPES);
        mcpauth_mcp_tool_policy *policy = policy_from(json);
        size_t count;
        mcpauth_mcp_tool_policy_required_scopes(policy, "t", &count);
        ck_assert_uint_eq(count, MCPAUTH_MCP_TOOL_POLICY_MAX_SCOPES);
        mcpauth_mcp_tool_policy_free(policy);
        free(json);
        json = many_scopes_json(defaults, MCPAUTH_MCP_TOOL_POLICY_MAX_SCOPES + 1);
        char message[MCPAUTH_ERROR_MESSAGE_MAX];
        json_error(json, message, sizeof message);
        ck_assert_str_eq(message, defaults ? "tools.default_scopes: more than 32 scopes"
                                           : "tools.scopes[\"t\"]: more than 32 scopes");
        free(json);
    }
}
END_TEST

static char *many_patterns_json(size_t n)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, "{\"scopes\": {");
    for (size_t i = 0; i < n; i++)
        mcpauth_strbuf_appendf(&sb, "%s\"tool%zu\": [\"s%zu\"]", i ? ", " : "", i, i);
    mcpauth_strbuf_appends(&sb, "}}");
    return mcpauth_strbuf_detach(&sb);
}

START_TEST(pattern_count_limit)
{
    char *json = many_patterns_json(MCPAUTH_MCP_TOOL_POLICY_MAX_RULES);
    mcpauth_mcp_tool_policy *policy = policy_from(json);
    ck_assert_needs(policy, "tool255", "s255");
    free(json);
    /* The limit counts the --tool-scope rules too. */
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_mcp_tool_policy_add_text(policy, "x=y", &err), MCPAUTH_EUSAGE);
    ck_assert_str_eq(err.message, "--tool-scope \"x=y\": more than 256 patterns");
    mcpauth_mcp_tool_policy_free(policy);

    json = many_patterns_json(MCPAUTH_MCP_TOOL_POLICY_MAX_RULES + 1);
    char message[MCPAUTH_ERROR_MESSAGE_MAX];
    json_error(json, message, sizeof message);
    ck_assert_str_eq(message, "tools.scopes[\"tool256\"]: more than 256 patterns");
    free(json);

    policy = mcpauth_mcp_tool_policy_new();
    ck_assert_int_eq(mcpauth_mcp_tool_policy_add_text(policy, "first=f", &err), MCPAUTH_OK);
    json = many_patterns_json(MCPAUTH_MCP_TOOL_POLICY_MAX_RULES);
    json_object *tools = mcpauth_json_parse(json, strlen(json), "test", &err);
    ck_assert_int_eq(mcpauth_mcp_tool_policy_add_json(policy, tools, "tools", &err),
                     MCPAUTH_ELOCAL);
    ck_assert_str_eq(err.message, "tools.scopes[\"tool255\"]: more than 256 patterns");
    json_object_put(tools);
    mcpauth_mcp_tool_policy_free(policy);
    free(json);
}
END_TEST

/* --- --tool-scope PATTERN=SCOPE[,SCOPE...] ------------------------------ */

typedef struct text_case {
    const char *text;
    const char *pattern_tool; /* a tool the rule's pattern matches */
    const char *needs;        /* NULL: the text is refused with message */
    const char *message;
} text_case;

static const text_case text_cases[] = {
    {"admin_*=mcp:admin", "admin_x", "mcp:admin", NULL},
    {"admin_*=mcp:admin,mcp:write", "admin_x", "mcp:admin mcp:write", NULL},
    {"hello_world=", "hello_world", "", NULL},
    /* The pattern ends at the first '='; '=' is an NQCHAR in scopes. */
    {"t=a=b", "t", "a=b", NULL},
    {"admin_*", NULL, NULL, "--tool-scope \"admin_*\": not PATTERN=SCOPE[,SCOPE...]"},
    {"=mcp", NULL, NULL,
     "--tool-scope \"=mcp\": not a valid pattern (1 to 128 visible ASCII characters)"},
    {"a b=mcp", NULL, NULL, "--tool-scope \"a b=mcp\": not a valid pattern..."},
    {"t=mcp admin", NULL, NULL,
     "--tool-scope \"t=mcp admin\": \"mcp admin\" is not a valid scope token (RFC 6749 §3.3: 1 "
     "to 128 visible ASCII characters, no '\"' or '\\')"},
    {"t=a,", NULL, NULL, "--tool-scope \"t=a,\": \"\" is not a valid scope token..."},
    {"t=,a", NULL, NULL, "--tool-scope \"t=,a\": \"\" is not a valid scope token..."},
    {"t=a\"b", NULL, NULL, "--tool-scope \"t=a\\\"b\": \"a\\\"b\" is not a valid scope token..."},
    {"t=a\nb", NULL, NULL, "--tool-scope \"t=a\\x0ab\": \"a\\x0ab\" is not a valid scope..."},
    {"t=s0,s1,s2,s3,s4,s5,s6,s7,s8,s9,s10,s11,s12,s13,s14,s15,s16,s17,s18,s19,s20,s21,s22,s23,"
     "s24,s25,s26,s27,s28,s29,s30,s31,s32",
     NULL, NULL,
     "--tool-scope \"t=s0,s1,s2,s3,s4,s5,s6,s7,s8,s9,s10,s11,s12,s13,...\": "
     "more than 32 scopes"},
};

START_TEST(text_rules)
{
    const text_case *c = &text_cases[_i];
    mcpauth_mcp_tool_policy *policy = mcpauth_mcp_tool_policy_new();
    mcpauth_error err = {0};
    mcpauth_status status = mcpauth_mcp_tool_policy_add_text(policy, c->text, &err);
    if (c->needs) {
        ck_assert_msg(status == MCPAUTH_OK, "%s: %s", c->text, err.message);
        ck_assert_needs(policy, c->pattern_tool, c->needs);
    } else {
        ck_assert_int_eq(status, MCPAUTH_EUSAGE);
        size_t n = strlen(c->message);
        if (strcmp(c->message + n - 3, "...") == 0)
            ck_assert_msg(strncmp(err.message, c->message, n - 3) == 0, "%s: got %s", c->text,
                          err.message);
        else
            ck_assert_str_eq(err.message, c->message);
        ck_assert(mcpauth_mcp_tool_policy_is_empty(policy));
    }
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(text_rules_come_before_json_rules)
{
    mcpauth_mcp_tool_policy *policy = mcpauth_mcp_tool_policy_new();
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_mcp_tool_policy_add_text(policy, "admin_*=from-flag", &err),
                     MCPAUTH_OK);
    json_object *tools = mcpauth_json_parse(example, strlen(example), "test", &err);
    ck_assert_int_eq(mcpauth_mcp_tool_policy_add_json(policy, tools, "tools", &err), MCPAUTH_OK);
    json_object_put(tools);
    ck_assert_needs(policy, "admin_read", "from-flag");
    ck_assert_needs(policy, "hello_world", "");
    ck_assert_needs(policy, "other", "mcp:basic");
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

/* --- allows, challenge scope, union ------------------------------------ */

START_TEST(allows_needs_every_scope_exactly)
{
    mcpauth_mcp_tool_policy *policy = policy_from(example);
    token t;
    ck_assert(
        mcpauth_mcp_tool_policy_allows(policy, "admin_reset", grant(&t, "mcp:admin mcp:write")));
    ck_assert(mcpauth_mcp_tool_policy_allows(policy, "admin_reset",
                                             grant(&t, "x mcp:write y mcp:admin")));
    ck_assert(!mcpauth_mcp_tool_policy_allows(policy, "admin_reset", grant(&t, "mcp:admin")));
    ck_assert(!mcpauth_mcp_tool_policy_allows(policy, "admin_reset", grant(&t, "")));
    ck_assert(!mcpauth_mcp_tool_policy_allows(policy, "admin_reset", NULL));
    /* RFC 6749 §3.3: case-sensitive, and no hierarchy or prefix matching. */
    ck_assert(
        !mcpauth_mcp_tool_policy_allows(policy, "admin_reset", grant(&t, "MCP:ADMIN MCP:WRITE")));
    ck_assert(!mcpauth_mcp_tool_policy_allows(policy, "admin_read", grant(&t, "mcp:admin")));
    ck_assert(mcpauth_mcp_tool_policy_allows(policy, "admin_read", grant(&t, "mcp:admin:read")));
    /* No scope of its own: anyone past the resource's check. */
    ck_assert(mcpauth_mcp_tool_policy_allows(policy, "hello_world", grant(&t, "")));
    ck_assert(mcpauth_mcp_tool_policy_allows(policy, "hello_world", NULL));
    ck_assert(mcpauth_mcp_tool_policy_allows(policy, "whoami", grant(&t, "mcp:basic")));
    ck_assert(!mcpauth_mcp_tool_policy_allows(policy, "whoami", grant(&t, "mcp")));
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(challenge_scope_is_base_then_tool)
{
    mcpauth_mcp_tool_policy *policy =
        policy_from("{\"scopes\": {\"admin_*\": [\"mcp:admin\", \"mcp\", \"mcp:write\"],"
                    " \"free\": []}}");
    const char *base[] = {"mcp", "profile"};
    char *s = mcpauth_mcp_tool_policy_challenge_scope(policy, "admin_x", base, 2);
    ck_assert_str_eq(s, "mcp profile mcp:admin mcp:write");
    free(s);
    s = mcpauth_mcp_tool_policy_challenge_scope(policy, "free", base, 2);
    ck_assert_str_eq(s, "mcp profile");
    free(s);
    s = mcpauth_mcp_tool_policy_challenge_scope(policy, "admin_x", NULL, 0);
    ck_assert_str_eq(s, "mcp:admin mcp mcp:write");
    free(s);
    s = mcpauth_mcp_tool_policy_challenge_scope(policy, "free", NULL, 0);
    ck_assert_str_eq(s, "");
    free(s);
    s = mcpauth_mcp_tool_policy_challenge_scope(NULL, "admin_x", base, 2);
    ck_assert_str_eq(s, "mcp profile");
    free(s);
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

static char *joined_union(const mcpauth_mcp_tool_policy *policy, const char *const *base, size_t n)
{
    size_t count = 99;
    const char **scopes = mcpauth_mcp_tool_policy_scopes_union(policy, base, n, &count);
    ck_assert_ptr_nonnull(scopes);
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, "");
    for (size_t i = 0; i < count; i++)
        mcpauth_strbuf_appendf(&sb, "%s%s", i ? " " : "", scopes[i]);
    free(scopes);
    return mcpauth_strbuf_detach(&sb);
}

START_TEST(scopes_union_in_order_each_once)
{
    mcpauth_mcp_tool_policy *policy = policy_from(example);
    const char *base[] = {"mcp", "mcp:write"};
    char *s = joined_union(policy, base, 2);
    ck_assert_str_eq(s, "mcp mcp:write mcp:basic mcp:admin:read mcp:admin");
    free(s);
    s = joined_union(policy, NULL, 0);
    ck_assert_str_eq(s, "mcp:basic mcp:admin:read mcp:admin mcp:write");
    free(s);
    s = joined_union(NULL, base, 2);
    ck_assert_str_eq(s, "mcp mcp:write");
    free(s);
    mcpauth_mcp_tool_policy_free(policy);
    /* Nothing at all: an empty array, still freeable. */
    s = joined_union(NULL, NULL, 0);
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

/* --- tools/list filtering ----------------------------------------------- */

static json_object *parse(const char *text)
{
    mcpauth_error err = {0};
    json_object *doc = mcpauth_json_parse(text, strlen(text), "test", &err);
    ck_assert_msg(doc, "%s: %s", text, err.message);
    return doc;
}

/* The names left in a filtered result, space-separated. */
static char *names(json_object *result)
{
    json_object *tools = json_object_object_get(result, "tools");
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, "");
    for (size_t i = 0; i < json_object_array_length(tools); i++) {
        json_object *tool = json_object_array_get_idx(tools, i);
        mcpauth_strbuf_appendf(&sb, "%s%s", i ? " " : "",
                               json_object_get_string(json_object_object_get(tool, "name")));
    }
    return mcpauth_strbuf_detach(&sb);
}

static const char tools_list[] =
    "{\"tools\": [{\"name\": \"hello_world\"}, {\"name\": \"admin_read\"},"
    " {\"name\": \"admin_reset\", \"description\": \"d\"}, {\"name\": \"whoami\"}],"
    " \"nextCursor\": \"c2\"}";

typedef struct filter_case {
    const char *granted;
    const char *left;
} filter_case;

static const filter_case filter_cases[] = {
    {"", "hello_world"},
    {"mcp:basic", "hello_world whoami"},
    {"mcp:admin", "hello_world"},
    {"mcp:admin mcp:write", "hello_world admin_reset"},
    {"mcp:admin:read mcp:basic", "hello_world admin_read whoami"},
    {"mcp:basic mcp:admin:read mcp:admin mcp:write", "hello_world admin_read admin_reset whoami"},
};

START_TEST(filter_by_granted_scopes)
{
    const filter_case *c = &filter_cases[_i];
    mcpauth_mcp_tool_policy *policy = policy_from(example);
    json_object *result = parse(tools_list);
    token t;
    mcpauth_error err = {0};
    ck_assert_int_eq(
        mcpauth_mcp_tool_policy_filter_tools_list(policy, result, grant(&t, c->granted), &err),
        MCPAUTH_OK);
    char *left = names(result);
    ck_assert_str_eq(left, c->left);
    free(left);
    /* The rest of the result and of each entry is untouched. */
    ck_assert_str_eq(json_object_get_string(json_object_object_get(result, "nextCursor")), "c2");
    json_object_put(result);
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(filter_keeps_entry_contents)
{
    mcpauth_mcp_tool_policy *policy = policy_from(example);
    json_object *result = parse(tools_list);
    token t;
    ck_assert_int_eq(mcpauth_mcp_tool_policy_filter_tools_list(
                         policy, result, grant(&t, "mcp:admin mcp:write"), NULL),
                     MCPAUTH_OK);
    ck_assert_str_eq(mcpauth_json_compact(result),
                     "{\"tools\":[{\"name\":\"hello_world\"},{\"name\":\"admin_reset\","
                     "\"description\":\"d\"}],\"nextCursor\":\"c2\"}");
    json_object_put(result);
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(filter_without_token_keeps_only_free_tools)
{
    mcpauth_mcp_tool_policy *policy = policy_from(example);
    json_object *result = parse(tools_list);
    ck_assert_int_eq(mcpauth_mcp_tool_policy_filter_tools_list(policy, result, NULL, NULL),
                     MCPAUTH_OK);
    char *left = names(result);
    ck_assert_str_eq(left, "hello_world");
    free(left);
    json_object_put(result);
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(filter_removes_entries_without_a_string_name)
{
    mcpauth_mcp_tool_policy *policy = policy_from("{\"scopes\": {\"secret\": [\"s\"]}}");
    json_object *result =
        parse("{\"tools\": [{\"name\": 7}, \"hello\", null, {\"title\": \"no name\"},"
              " {\"name\": \"ok\"}, {\"name\": null}, {\"name\": [\"ok\"]}, {\"name\": \"secret\"},"
              " {\"name\": \"ok2\"}]}");
    token t;
    ck_assert_int_eq(
        mcpauth_mcp_tool_policy_filter_tools_list(policy, result, grant(&t, "mcp"), NULL),
        MCPAUTH_OK);
    char *left = names(result);
    ck_assert_str_eq(left, "ok ok2");
    free(left);
    json_object_put(result);
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(filter_with_empty_policy_changes_nothing)
{
    static const char odd[] = "{\"tools\":[{\"name\":7},{\"name\":\"x\"}]}";
    mcpauth_mcp_tool_policy *empty = mcpauth_mcp_tool_policy_new();
    const mcpauth_mcp_tool_policy *policies[] = {empty, NULL};
    for (size_t i = 0; i < 2; i++) {
        json_object *result = parse(odd);
        ck_assert_int_eq(mcpauth_mcp_tool_policy_filter_tools_list(policies[i], result, NULL, NULL),
                         MCPAUTH_OK);
        ck_assert_str_eq(mcpauth_json_compact(result), odd);
        json_object_put(result);
    }
    mcpauth_mcp_tool_policy_free(empty);
}
END_TEST

static const char *const malformed_results[] = {
    "[]",
    "\"tools\"",
    "42",
    "{}",
    "{\"tools\": {}}",
    "{\"tools\": \"hello_world\"}",
    "{\"tools\": null}",
    "{\"Tools\": []}",
};

START_TEST(filter_leaves_malformed_results_alone)
{
    mcpauth_mcp_tool_policy *policy = policy_from(example);
    json_object *result = parse(malformed_results[_i]);
    char *before = strdup(mcpauth_json_compact(result));
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_mcp_tool_policy_filter_tools_list(policy, result, NULL, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_str_eq(err.message, "tools/list result is not an object with a \"tools\" array");
    ck_assert_str_eq(mcpauth_json_compact(result), before);
    free(before);
    json_object_put(result);
    /* And with a NULL result. */
    ck_assert_int_eq(mcpauth_mcp_tool_policy_filter_tools_list(policy, NULL, NULL, NULL),
                     MCPAUTH_EREMOTE);
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

/* --- tools/call verdicts ------------------------------------------------ */

static const char *const base_scopes[] = {"mcp"};

START_TEST(check_call_allowed)
{
    mcpauth_mcp_tool_policy *policy = policy_from(example);
    token t;
    mcpauth_mcp_tool_policy_verdict v;
    ck_assert_int_eq(mcpauth_mcp_tool_policy_check_call(policy, "admin_reset",
                                                        grant(&t, "mcp mcp:admin mcp:write"),
                                                        base_scopes, 1, &v),
                     MCPAUTH_OK);
    ck_assert(v.allowed);
    ck_assert_ptr_null(v.scope);
    ck_assert_str_eq(v.reason, "");
    mcpauth_mcp_tool_policy_verdict_free(&v);
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(check_call_refused)
{
    mcpauth_mcp_tool_policy *policy = policy_from(example);
    token t;
    mcpauth_mcp_tool_policy_verdict v;
    ck_assert_int_eq(mcpauth_mcp_tool_policy_check_call(
                         policy, "admin_reset", grant(&t, "mcp mcp:write"), base_scopes, 1, &v),
                     MCPAUTH_OK);
    ck_assert(!v.allowed);
    /* SC-3: all the call needs, granted or not, in one challenge. */
    ck_assert_str_eq(v.scope, "mcp mcp:admin mcp:write");
    /* The reason names only what is missing. */
    ck_assert_str_eq(v.reason, "tool admin_reset needs scope mcp:admin");
    mcpauth_mcp_tool_policy_verdict_free(&v);
    ck_assert_ptr_null(v.scope);

    ck_assert_int_eq(
        mcpauth_mcp_tool_policy_check_call(policy, "admin_reset", NULL, base_scopes, 1, &v),
        MCPAUTH_OK);
    ck_assert(!v.allowed);
    ck_assert_str_eq(v.reason, "tool admin_reset needs scopes mcp:admin mcp:write");
    mcpauth_mcp_tool_policy_verdict_free(&v);
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(check_call_does_not_echo_odd_names)
{
    mcpauth_mcp_tool_policy *policy = policy_from("{\"default_scopes\": [\"d\"]}");
    const char *odd[] = {"bad\nname", "a\"b", "tool name", ""};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        mcpauth_mcp_tool_policy_verdict v;
        ck_assert_int_eq(mcpauth_mcp_tool_policy_check_call(policy, odd[i], NULL, NULL, 0, &v),
                         MCPAUTH_OK);
        ck_assert(!v.allowed);
        ck_assert_str_eq(v.reason, "tool (unnamed) needs scope d");
        ck_assert_str_eq(v.scope, "d");
        mcpauth_mcp_tool_policy_verdict_free(&v);
    }
    /* A plain name of the longest allowed length is echoed, cut to fit. */
    char *name = repeat('n', 128);
    mcpauth_mcp_tool_policy_verdict v;
    mcpauth_mcp_tool_policy_check_call(policy, name, NULL, NULL, 0, &v);
    ck_assert_ptr_nonnull(strstr(v.reason, "nnnn"));
    ck_assert_uint_lt(strlen(v.reason), sizeof v.reason);
    mcpauth_mcp_tool_policy_verdict_free(&v);
    free(name);
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

/* --- whole request bodies ----------------------------------------------- */

typedef struct body_case {
    const char *body;
    const char *granted;
    bool allowed;
    const char *scope;  /* when refused */
    const char *reason; /* when refused */
} body_case;

#define CALL(id, tool)                                                                             \
    "{\"jsonrpc\":\"2.0\",\"id\":" id ",\"method\":\"tools/call\",\"params\":{\"name\":\"" tool    \
    "\"}}"

static const body_case body_cases[] = {
    {CALL("1", "hello_world"), "", true, NULL, NULL},
    {CALL("1", "whoami"), "mcp:basic", true, NULL, NULL},
    {CALL("1", "whoami"), "", false, "mcp mcp:basic", "tool whoami needs scope mcp:basic"},
    {CALL("1", "admin_reset"), "mcp:admin", false, "mcp mcp:admin mcp:write",
     "tool admin_reset needs scope mcp:write"},
    /* A notification is checked too. */
    {"{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"name\":\"whoami\"}}", "", false,
     "mcp mcp:basic", "tool whoami needs scope mcp:basic"},
    /* A batch: every call, the challenge covers all the refused ones. */
    {"[" CALL("1", "hello_world") "," CALL("2", "admin_read") "," CALL("3", "whoami") "]", "",
     false, "mcp mcp:admin:read mcp:basic",
     "tool admin_read needs scope mcp:admin:read (and 1 more tools)"},
    {"[" CALL("1", "hello_world") "," CALL("2", "whoami") "]", "mcp:basic", true, NULL, NULL},
    {"[]", "", true, NULL, NULL},
    /* Not for the policy to judge: the engine answers these. */
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", "", true, NULL, NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}", "", true, NULL, NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":[\"whoami\"]}", "", true,
     NULL, NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":7}}", "", true,
     NULL, NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"whoami\"}", "", true, NULL, NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"", "", true, NULL, NULL},
    {"not json", "", true, NULL, NULL},
    {"", "", true, NULL, NULL},
    {"[1, \"x\", null, " CALL("4", "whoami") "]", "", false, "mcp mcp:basic",
     "tool whoami needs scope mcp:basic"},
};

START_TEST(check_body)
{
    const body_case *c = &body_cases[_i];
    mcpauth_mcp_tool_policy *policy = policy_from(example);
    token t;
    mcpauth_mcp_tool_policy_verdict v;
    ck_assert_int_eq(mcpauth_mcp_tool_policy_check_body(policy, c->body, strlen(c->body),
                                                        grant(&t, c->granted), base_scopes, 1, &v),
                     MCPAUTH_OK);
    ck_assert_msg(v.allowed == c->allowed, "%s", c->body);
    if (c->allowed) {
        ck_assert_ptr_null(v.scope);
    } else {
        ck_assert_str_eq(v.scope, c->scope);
        ck_assert_str_eq(v.reason, c->reason);
    }
    mcpauth_mcp_tool_policy_verdict_free(&v);
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(check_body_without_policy_allows_everything)
{
    static const char body[] = CALL("1", "admin_reset");
    mcpauth_mcp_tool_policy *empty = mcpauth_mcp_tool_policy_new();
    mcpauth_mcp_tool_policy_verdict v;
    ck_assert_int_eq(
        mcpauth_mcp_tool_policy_check_body(empty, body, sizeof body - 1, NULL, NULL, 0, &v),
        MCPAUTH_OK);
    ck_assert(v.allowed);
    ck_assert_int_eq(
        mcpauth_mcp_tool_policy_check_body(NULL, body, sizeof body - 1, NULL, NULL, 0, &v),
        MCPAUTH_OK);
    ck_assert(v.allowed);
    ck_assert_int_eq(mcpauth_mcp_tool_policy_check_body(empty, NULL, 0, NULL, NULL, 0, &v),
                     MCPAUTH_OK);
    ck_assert(v.allowed);
    mcpauth_mcp_tool_policy_free(empty);
}
END_TEST

START_TEST(check_body_reads_only_length_bytes)
{
    /* The call is past length: only "[]" is seen. */
    static const char body[] = "[]" CALL("1", "whoami");
    mcpauth_mcp_tool_policy *policy = policy_from(example);
    mcpauth_mcp_tool_policy_verdict v;
    ck_assert_int_eq(mcpauth_mcp_tool_policy_check_body(policy, body, 2, NULL, NULL, 0, &v),
                     MCPAUTH_OK);
    ck_assert(v.allowed);
    ck_assert_int_eq(
        mcpauth_mcp_tool_policy_check_body(policy, body + 2, sizeof body - 3, NULL, NULL, 0, &v),
        MCPAUTH_OK);
    ck_assert(!v.allowed);
    mcpauth_mcp_tool_policy_verdict_free(&v);
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

/* A batch of n calls of hello_world (which needs nothing of its own). */
static char *batch_of(size_t n)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, "[");
    for (size_t i = 0; i < n; i++)
        mcpauth_strbuf_appendf(&sb, "%s" CALL("%zu", "hello_world"), i ? "," : "", i + 1);
    mcpauth_strbuf_appends(&sb, "]");
    return mcpauth_strbuf_detach(&sb);
}

START_TEST(check_body_bounds_the_work)
{
    mcpauth_mcp_tool_policy *policy = policy_from(example);
    mcpauth_mcp_tool_policy_verdict v;
    char *body = batch_of(MCPAUTH_MCP_TOOL_POLICY_MAX_CALLS);
    ck_assert_int_eq(
        mcpauth_mcp_tool_policy_check_body(policy, body, strlen(body), NULL, base_scopes, 1, &v),
        MCPAUTH_OK);
    ck_assert(v.allowed);
    free(body);
    /* One more is refused as a whole, not let through unchecked. */
    body = batch_of(MCPAUTH_MCP_TOOL_POLICY_MAX_CALLS + 1);
    ck_assert_int_eq(
        mcpauth_mcp_tool_policy_check_body(policy, body, strlen(body), NULL, base_scopes, 1, &v),
        MCPAUTH_OK);
    ck_assert(!v.allowed);
    ck_assert_str_eq(v.reason, "more than 64 tools/call requests at once");
    ck_assert_str_eq(v.scope, "mcp");
    mcpauth_mcp_tool_policy_verdict_free(&v);
    free(body);
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

static Suite *tool_policy_suite(void)
{
    Suite *s = suite_create("tool_policy");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, example_matches_first_rule_in_order);
    tcase_add_test(tc, order_is_file_order_not_specificity);
    tcase_add_test(tc, glob_forms);
    tcase_add_test(tc, empty_and_null_policies);
    tcase_add_test(tc, valid_scope_characters);
    tcase_add_test(tc, json_rules_append_and_defaults_replace);
    tcase_add_loop_test(tc, json_errors, 0, sizeof error_cases / sizeof error_cases[0]);
    tcase_add_test(tc, long_keys_are_cut_in_messages);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, pattern_length_limit);
    tcase_add_test(tc, scope_length_limit);
    tcase_add_test(tc, scope_count_limit);
    tcase_add_test(tc, pattern_count_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("text");
    tcase_add_loop_test(tc, text_rules, 0, sizeof text_cases / sizeof text_cases[0]);
    tcase_add_test(tc, text_rules_come_before_json_rules);
    suite_add_tcase(s, tc);

    tc = tcase_create("questions");
    tcase_add_test(tc, allows_needs_every_scope_exactly);
    tcase_add_test(tc, challenge_scope_is_base_then_tool);
    tcase_add_test(tc, scopes_union_in_order_each_once);
    suite_add_tcase(s, tc);

    tc = tcase_create("filter");
    tcase_add_loop_test(tc, filter_by_granted_scopes, 0,
                        sizeof filter_cases / sizeof filter_cases[0]);
    tcase_add_test(tc, filter_keeps_entry_contents);
    tcase_add_test(tc, filter_without_token_keeps_only_free_tools);
    tcase_add_test(tc, filter_removes_entries_without_a_string_name);
    tcase_add_test(tc, filter_with_empty_policy_changes_nothing);
    tcase_add_loop_test(tc, filter_leaves_malformed_results_alone, 0,
                        sizeof malformed_results / sizeof malformed_results[0]);
    suite_add_tcase(s, tc);

    tc = tcase_create("verdicts");
    tcase_add_test(tc, check_call_allowed);
    tcase_add_test(tc, check_call_refused);
    tcase_add_test(tc, check_call_does_not_echo_odd_names);
    tcase_add_loop_test(tc, check_body, 0, sizeof body_cases / sizeof body_cases[0]);
    tcase_add_test(tc, check_body_without_policy_allows_everything);
    tcase_add_test(tc, check_body_reads_only_length_bytes);
    tcase_add_test(tc, check_body_bounds_the_work);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(tool_policy_suite());
}
