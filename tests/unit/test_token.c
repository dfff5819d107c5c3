#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/json.h"
#include "mcpauth/token.h"
#include "testlib.h"

#define NOW      INT64_C(1767222100)
#define ISSUER   "http://127.0.0.1:3000"
#define RESOURCE "http://localhost:8000/mcp"

/* What oidc-provider's introspection endpoint answers for a live token. */
static const char oidc_provider_response[] =
    "{\"active\":true,\"client_id\":\"c\",\"exp\":1767225600,\"iat\":1767222000,"
    "\"iss\":\"http://127.0.0.1:3000\",\"scope\":\"mcp\",\"sub\":\"alice\","
    "\"token_type\":\"Bearer\",\"aud\":\"http://localhost:8000/mcp\"}";

static mcpauth_status parse_info(const char *text, mcpauth_token_info *info, mcpauth_error *err)
{
    mcpauth_error parse_err = {0};
    json_object *claims = mcpauth_json_parse(text, strlen(text), "test response", &parse_err);
    ck_assert_msg(claims != NULL, "%s: %s", text, parse_err.message);
    mcpauth_status status = mcpauth_token_info_from_json(claims, info, err);
    json_object_put(claims);
    return status;
}

static void assert_zeroed(const mcpauth_token_info *info)
{
    ck_assert(!info->active);
    ck_assert_ptr_null(info->subject);
    ck_assert_ptr_null(info->client_id);
    ck_assert_ptr_null(info->username);
    ck_assert_ptr_null(info->issuer);
    ck_assert_ptr_null(info->scopes);
    ck_assert_uint_eq(info->scope_count, 0);
    ck_assert_ptr_null(info->audiences);
    ck_assert_uint_eq(info->audience_count, 0);
    ck_assert_int_eq(info->expires_at, 0);
    ck_assert_int_eq(info->issued_at, 0);
    ck_assert_int_eq(info->not_before, 0);
}

static void assert_list(char **items, size_t count, const char *const *expected,
                        size_t expected_count)
{
    ck_assert_uint_eq(count, expected_count);
    for (size_t i = 0; i < count; i++)
        ck_assert_str_eq(items[i], expected[i]);
}

/* --- mcpauth_token_info_from_json: accepted ----------------------------- */

START_TEST(info_oidc_provider)
{
    mcpauth_token_info info;
    mcpauth_error err = {0};

    ck_assert_int_eq(parse_info(oidc_provider_response, &info, &err), MCPAUTH_OK);
    ck_assert(info.active);
    ck_assert_str_eq(info.subject, "alice");
    ck_assert_str_eq(info.client_id, "c");
    ck_assert_ptr_null(info.username);
    ck_assert_str_eq(info.issuer, ISSUER);
    static const char *scopes[] = {"mcp"};
    assert_list(info.scopes, info.scope_count, scopes, 1);
    static const char *audiences[] = {RESOURCE};
    assert_list(info.audiences, info.audience_count, audiences, 1);
    ck_assert_int_eq(info.expires_at, 1767225600);
    ck_assert_int_eq(info.issued_at, 1767222000);
    ck_assert_int_eq(info.not_before, 0);
    mcpauth_token_info_free(&info);
    assert_zeroed(&info);
}
END_TEST

START_TEST(info_full)
{
    mcpauth_token_info info;
    mcpauth_error err = {0};
    const char *text =
        "{\"active\":true,\"sub\":\"248289761001\",\"client_id\":\"l238j323ds-23ij4\","
        "\"username\":\"jdoe\",\"iss\":\"https://server.example.com/\",\"scope\":\"read write "
        "dolphin\",\"aud\":[\"https://rs.example/mcp\",\"client-x\",\"https://rs.example/mcp\"],"
        "\"resource\":[\"client-x\",\"https://other.example/\"],\"exp\":1419356238,"
        "\"iat\":1419350238,\"nbf\":1419350000,\"jti\":\"abc\",\"extension_field\":{\"a\":1}}";

    ck_assert_int_eq(parse_info(text, &info, &err), MCPAUTH_OK);
    ck_assert(info.active);
    ck_assert_str_eq(info.subject, "248289761001");
    ck_assert_str_eq(info.client_id, "l238j323ds-23ij4");
    ck_assert_str_eq(info.username, "jdoe");
    ck_assert_str_eq(info.issuer, "https://server.example.com/");
    static const char *scopes[] = {"read", "write", "dolphin"};
    assert_list(info.scopes, info.scope_count, scopes, 3);
    /* aud and resource merged, duplicates gone, first-seen order kept */
    static const char *audiences[] = {"https://rs.example/mcp", "client-x",
                                      "https://other.example/"};
    assert_list(info.audiences, info.audience_count, audiences, 3);
    ck_assert_int_eq(info.expires_at, 1419356238);
    ck_assert_int_eq(info.issued_at, 1419350238);
    ck_assert_int_eq(info.not_before, 1419350000);
    mcpauth_token_info_free(&info);
}
END_TEST

START_TEST(info_inactive)
{
    static const char *texts[] = {
        "{\"active\":false}",
        /* whatever else an inactive answer says is ignored, even nonsense */
        "{\"active\":false,\"sub\":42,\"scope\":[1],\"exp\":\"soon\",\"aud\":{}}",
        "{\"active\":false,\"sub\":\"alice\",\"scope\":\"mcp\",\"exp\":1767225600}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        mcpauth_token_info info;
        mcpauth_error err = {0};
        ck_assert_int_eq(parse_info(texts[i], &info, &err), MCPAUTH_OK);
        assert_zeroed(&info);
        mcpauth_token_info_free(&info);
    }
}
END_TEST

START_TEST(info_minimal_active)
{
    mcpauth_token_info info;
    mcpauth_error err = {0};
    ck_assert_int_eq(parse_info("{\"active\":true}", &info, &err), MCPAUTH_OK);
    ck_assert(info.active);
    ck_assert_ptr_null(info.subject);
    ck_assert_uint_eq(info.scope_count, 0);
    ck_assert_uint_eq(info.audience_count, 0);
    ck_assert_int_eq(info.expires_at, 0);
    mcpauth_token_info_free(&info);

    /* JSON null counts as absent */
    ck_assert_int_eq(
        parse_info("{\"active\":true,\"sub\":null,\"scope\":null,\"aud\":null,\"exp\":null}", &info,
                   &err),
        MCPAUTH_OK);
    ck_assert(info.active);
    ck_assert_ptr_null(info.subject);
    ck_assert_uint_eq(info.scope_count, 0);
    ck_assert_uint_eq(info.audience_count, 0);
    ck_assert_int_eq(info.expires_at, 0);
    mcpauth_token_info_free(&info);
}
END_TEST

typedef struct scope_case {
    const char *text;
    const char *scopes[4];
    size_t count;
} scope_case;

static const scope_case scope_cases[] = {
    {"{\"active\":true,\"scope\":\"mcp\"}", {"mcp"}, 1},
    {"{\"active\":true,\"scope\":\"  mcp   read  write \"}", {"mcp", "read", "write"}, 3},
    {"{\"active\":true,\"scope\":\"mcp mcp read mcp\"}", {"mcp", "read"}, 2},
    {"{\"active\":true,\"scope\":\"\"}", {NULL}, 0},
    {"{\"active\":true,\"scope\":\"   \"}", {NULL}, 0},
    {"{\"active\":true,\"scope\":\"MCP mcp\"}", {"MCP", "mcp"}, 2},
    {"{\"active\":true,\"scp\":[\"a\",\"b\",\"a\"]}", {"a", "b"}, 2},
    {"{\"active\":true,\"scp\":[]}", {NULL}, 0},
    /* "scope" wins over "scp": merging could grant more than either says */
    {"{\"active\":true,\"scope\":\"a\",\"scp\":[\"admin\"]}", {"a"}, 1},
};

START_TEST(info_scopes)
{
    const scope_case *c = &scope_cases[_i];
    mcpauth_token_info info;
    mcpauth_error err = {0};
    ck_assert_int_eq(parse_info(c->text, &info, &err), MCPAUTH_OK);
    assert_list(info.scopes, info.scope_count, c->scopes, c->count);
    mcpauth_token_info_free(&info);
}
END_TEST

/* A response with n distinct values in member (a scope string when
 * as_string, else an array). Caller frees. */
static char *many_values(const char *member, size_t n, bool as_string)
{
    size_t size = 64 + n * 16;
    char *text = malloc(size);
    ck_assert_ptr_nonnull(text);
    size_t o =
        (size_t)snprintf(text, size, "{\"active\":true,\"%s\":%s", member, as_string ? "\"" : "[");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(text + o, size - o, as_string ? "%ss%zu" : "%s\"v%zu\"",
                              i == 0 ? "" : (as_string ? " " : ","), i);
    snprintf(text + o, size - o, "%s}", as_string ? "\"" : "]");
    return text;
}

START_TEST(info_bounds)
{
    struct {
        const char *member;
        size_t max;
        bool as_string;
    } cases[] = {
        {"scope", MCPAUTH_TOKEN_MAX_SCOPES, true},
        {"scp", MCPAUTH_TOKEN_MAX_SCOPES, false},
        {"aud", MCPAUTH_TOKEN_MAX_AUDIENCES, false},
        {"resource", MCPAUTH_TOKEN_MAX_AUDIENCES, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcpauth_token_info info;
        mcpauth_error err = {0};
        char *text = many_values(cases[i].member, cases[i].max, cases[i].as_string);
        ck_assert_msg(parse_info(text, &info, &err) == MCPAUTH_OK, "%s", err.message);
        ck_assert_uint_eq(cases[i].as_string || strcmp(cases[i].member, "scp") == 0
                              ? info.scope_count
                              : info.audience_count,
                          cases[i].max);
        mcpauth_token_info_free(&info);
        free(text);

        text = many_values(cases[i].member, cases[i].max + 1, cases[i].as_string);
        ck_assert_int_eq(parse_info(text, &info, &err), MCPAUTH_EREMOTE);
        ck_assert_ptr_nonnull(strstr(err.message, cases[i].member));
        assert_zeroed(&info);
        free(text);
    }

    /* aud and resource share one bound */
    mcpauth_token_info info;
    mcpauth_error err = {0};
    char text[1024];
    size_t o = (size_t)snprintf(text, sizeof text, "{\"active\":true,\"aud\":[");
    for (int i = 0; i < 10; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "%s\"a%d\"", i ? "," : "", i);
    o += (size_t)snprintf(text + o, sizeof text - o, "],\"resource\":[");
    for (int i = 0; i < 7; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "%s\"r%d\"", i ? "," : "", i);
    snprintf(text + o, sizeof text - o, "]}");
    ck_assert_int_eq(parse_info(text, &info, &err), MCPAUTH_EREMOTE);

    /* duplicates do not use the bound up */
    o = (size_t)snprintf(text, sizeof text, "{\"active\":true,\"aud\":[");
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "%s\"same\"", i ? "," : "");
    snprintf(text + o, sizeof text - o, "]}");
    ck_assert_int_eq(parse_info(text, &info, &err), MCPAUTH_OK);
    ck_assert_uint_eq(info.audience_count, 1);
    mcpauth_token_info_free(&info);
}
END_TEST

/* --- mcpauth_token_info_from_json: refused ------------------------------ */

typedef struct bad_case {
    const char *text;
    const char *message_part;
} bad_case;

static const bad_case bad_cases[] = {
    {"[]", "not a JSON object"},
    {"\"active\"", "not a JSON object"},
    {"{}", "has no boolean active (RFC 7662 §2.2)"},
    {"{\"sub\":\"alice\",\"scope\":\"mcp\"}", "has no boolean active"},
    {"{\"active\":\"true\"}", "has no boolean active"},
    {"{\"active\":1}", "has no boolean active"},
    {"{\"active\":null}", "has no boolean active"},
    {"{\"Active\":true}", "has no boolean active"},
    {"{\"active\":true,\"sub\":42}", "\"sub\" is not a string"},
    {"{\"active\":true,\"client_id\":[\"c\"]}", "\"client_id\" is not a string"},
    {"{\"active\":true,\"username\":false}", "\"username\" is not a string"},
    {"{\"active\":true,\"iss\":{}}", "\"iss\" is not a string"},
    {"{\"active\":true,\"scope\":[\"mcp\"]}", "\"scope\" is not a string"},
    {"{\"active\":true,\"scope\":7}", "\"scope\" is not a string"},
    {"{\"active\":true,\"scp\":\"mcp\"}", "\"scp\" is not an array"},
    {"{\"active\":true,\"scp\":[\"a\",1]}", "\"scp\" is not a string"},
    {"{\"active\":true,\"aud\":5}", "\"aud\" is neither a string nor an array"},
    {"{\"active\":true,\"aud\":[1]}", "\"aud\" is not a string"},
    {"{\"active\":true,\"aud\":[[\"x\"]]}", "\"aud\" is not a string"},
    {"{\"active\":true,\"aud\":[\"ok\",null]}", "\"aud\" is not a string"},
    {"{\"active\":true,\"resource\":{}}", "\"resource\" is neither a string nor an array"},
    {"{\"active\":true,\"exp\":\"1767225600\"}", "\"exp\" is not an integer"},
    {"{\"active\":true,\"exp\":1767225600.5}", "\"exp\" is not an integer"},
    {"{\"active\":true,\"exp\":true}", "\"exp\" is not an integer"},
    {"{\"active\":true,\"exp\":-1}", "\"exp\" is not a positive timestamp"},
    {"{\"active\":true,\"exp\":0}", "\"exp\" is not a positive timestamp"},
    {"{\"active\":true,\"iat\":-5}", "\"iat\" is not a non-negative timestamp"},
    {"{\"active\":true,\"iat\":1e9}", "\"iat\" is not an integer"},
    {"{\"active\":true,\"nbf\":[1]}", "\"nbf\" is not an integer"},
    {"{\"active\":true,\"nbf\":-1767225600}", "\"nbf\" is not a non-negative timestamp"},
    /* "\u0000" would otherwise cut the string short: aud would read as the resource */
    {"{\"active\":true,\"aud\":\"http://localhost:8000/mcp\\u0000.evil\"}", "NUL"},
    {"{\"active\":true,\"aud\":[\"http://localhost:8000/mcp\\u0000\"]}", "NUL"},
    {"{\"active\":true,\"iss\":\"http://127.0.0.1:3000\\u0000x\"}", "NUL"},
    {"{\"active\":true,\"scope\":\"mcp\\u0000 admin\"}", "NUL"},
    /* a good prefix does not survive a later bad member */
    {"{\"active\":true,\"sub\":\"alice\",\"scope\":\"mcp\",\"aud\":\"x\",\"exp\":\"never\"}",
     "\"exp\""},
};

START_TEST(info_bad)
{
    const bad_case *c = &bad_cases[_i];
    mcpauth_token_info info;
    mcpauth_error err = {0};

    ck_assert_msg(parse_info(c->text, &info, &err) == MCPAUTH_EREMOTE, "%s accepted", c->text);
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    ck_assert_msg(strstr(err.message, c->message_part) != NULL, "%s: message \"%s\" lacks \"%s\"",
                  c->text, err.message, c->message_part);
    ck_assert_msg(strncmp(err.message, "introspection response", 22) == 0, "%s", err.message);
    assert_zeroed(&info);
}
END_TEST

START_TEST(info_missing_active_message)
{
    mcpauth_token_info info;
    mcpauth_error err = {0};
    ck_assert_int_eq(parse_info("{\"scope\":\"mcp\"}", &info, &err), MCPAUTH_EREMOTE);
    ck_assert_str_eq(err.message, "introspection response has no boolean active (RFC 7662 §2.2)");
}
END_TEST

START_TEST(info_null_claims)
{
    mcpauth_token_info info;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_token_info_from_json(NULL, &info, &err), MCPAUTH_EREMOTE);
    assert_zeroed(&info);
    /* err may be NULL */
    ck_assert_int_eq(mcpauth_token_info_from_json(NULL, &info, NULL), MCPAUTH_EREMOTE);
}
END_TEST

/* --- copy and free ------------------------------------------------------ */

/* to_json, then from_json: the same info, full or minimal. */
START_TEST(info_json_round_trip)
{
    static const char *const inputs[] = {
        "{\"active\":true,\"sub\":\"alice\",\"client_id\":\"c\",\"username\":\"al\","
        "\"iss\":\"" ISSUER "\",\"scope\":\"mcp read\",\"aud\":[\"a\",\"b\"],"
        "\"exp\":100,\"iat\":50,\"nbf\":40}",
        "{\"active\":true}",
        "{\"active\":true,\"scope\":\"one\",\"resource\":\"" RESOURCE "\"}",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        mcpauth_token_info info, back;
        mcpauth_error err = {0};
        ck_assert_int_eq(parse_info(inputs[i], &info, &err), MCPAUTH_OK);
        json_object *json = mcpauth_token_info_to_json(&info);
        ck_assert_ptr_nonnull(json);
        ck_assert_int_eq(mcpauth_token_info_from_json(json, &back, &err), MCPAUTH_OK);
        json_object_put(json);
        ck_assert(back.active);
        ck_assert_str_eq(back.subject ? back.subject : "-", info.subject ? info.subject : "-");
        ck_assert_str_eq(back.client_id ? back.client_id : "-",
                         info.client_id ? info.client_id : "-");
        ck_assert_str_eq(back.username ? back.username : "-", info.username ? info.username : "-");
        ck_assert_str_eq(back.issuer ? back.issuer : "-", info.issuer ? info.issuer : "-");
        assert_list(back.scopes, back.scope_count, (const char *const *)info.scopes,
                    info.scope_count);
        assert_list(back.audiences, back.audience_count, (const char *const *)info.audiences,
                    info.audience_count);
        ck_assert_int_eq(back.expires_at, info.expires_at);
        ck_assert_int_eq(back.issued_at, info.issued_at);
        ck_assert_int_eq(back.not_before, info.not_before);
        mcpauth_token_info_free(&info);
        mcpauth_token_info_free(&back);
    }
}
END_TEST

START_TEST(info_copy)
{
    mcpauth_token_info info, copy;
    mcpauth_error err = {0};
    ck_assert_int_eq(
        parse_info("{\"active\":true,\"sub\":\"alice\",\"client_id\":\"c\",\"username\":\"al\","
                   "\"iss\":\"" ISSUER "\",\"scope\":\"mcp read\",\"aud\":[\"a\",\"b\"],"
                   "\"exp\":100,\"iat\":50,\"nbf\":40}",
                   &info, &err),
        MCPAUTH_OK);

    ck_assert(mcpauth_token_info_copy(&info, &copy));
    ck_assert(copy.active);
    ck_assert_str_eq(copy.subject, "alice");
    ck_assert_ptr_ne(copy.subject, info.subject);
    ck_assert_str_eq(copy.client_id, "c");
    ck_assert_str_eq(copy.username, "al");
    ck_assert_str_eq(copy.issuer, ISSUER);
    ck_assert_ptr_ne(copy.scopes, info.scopes);
    assert_list(copy.scopes, copy.scope_count, (const char *const[]){"mcp", "read"}, 2);
    ck_assert_ptr_ne(copy.scopes[0], info.scopes[0]);
    assert_list(copy.audiences, copy.audience_count, (const char *const[]){"a", "b"}, 2);
    ck_assert_ptr_ne(copy.audiences[1], info.audiences[1]);
    ck_assert_int_eq(copy.expires_at, 100);
    ck_assert_int_eq(copy.issued_at, 50);
    ck_assert_int_eq(copy.not_before, 40);

    /* independent lifetimes */
    mcpauth_token_info_free(&info);
    ck_assert_str_eq(copy.subject, "alice");
    ck_assert_str_eq(copy.audiences[1], "b");
    mcpauth_token_info_free(&copy);

    mcpauth_token_info empty = {0};
    ck_assert(mcpauth_token_info_copy(&empty, &copy));
    assert_zeroed(&copy);
    ck_assert(!mcpauth_token_info_copy(NULL, &copy));
    assert_zeroed(&copy);

    mcpauth_token_info_free(NULL);
    mcpauth_token_info_free(&copy);
}
END_TEST

/* --- mcpauth_token_check ------------------------------------------------ */

static const char *const default_audiences[] = {RESOURCE};
static const char *const default_scopes[] = {"mcp"};

static mcpauth_token_policy default_policy(void)
{
    mcpauth_token_policy policy = {
        .issuer = ISSUER,
        .audiences = default_audiences,
        .audience_count = 1,
        .required_scopes = default_scopes,
        .required_scope_count = 1,
        .leeway_seconds = 60,
        .require_expiry = true,
    };
    return policy;
}

/* A good token for default_policy(); the strings are static, so tests may
 * point members elsewhere freely. Never freed. */
static char *good_scopes[] = {"mcp", "read"};
static char *good_audiences[] = {RESOURCE};

static mcpauth_token_info good_info(void)
{
    mcpauth_token_info info = {
        .active = true,
        .subject = "alice",
        .client_id = "c",
        .issuer = ISSUER,
        .scopes = good_scopes,
        .scope_count = 2,
        .audiences = good_audiences,
        .audience_count = 1,
        .expires_at = NOW + 3500,
        .issued_at = NOW - 100,
    };
    return info;
}

static mcpauth_token_verdict check(const mcpauth_token_policy *policy,
                                   const mcpauth_token_info *info, char reason[256])
{
    memset(reason, 'X', 256);
    return mcpauth_token_check(policy, info, NOW, reason, 256);
}

START_TEST(check_valid)
{
    mcpauth_token_policy policy = default_policy();
    mcpauth_token_info info = good_info();
    char reason[256];

    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);
    ck_assert_str_eq(reason, "");

    /* the oidc-provider response, end to end */
    mcpauth_error err = {0};
    mcpauth_token_info parsed;
    ck_assert_int_eq(parse_info(oidc_provider_response, &parsed, &err), MCPAUTH_OK);
    ck_assert_int_eq(check(&policy, &parsed, reason), MCPAUTH_TOKEN_VALID);
    ck_assert_int_eq(mcpauth_token_check(&policy, &parsed, 1767225600 + 61, reason, 256),
                     MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "expired 61 s ago");
    mcpauth_token_info_free(&parsed);
}
END_TEST

START_TEST(check_inactive)
{
    mcpauth_token_policy policy = default_policy();
    mcpauth_token_info info = good_info();
    char reason[256];

    info.active = false;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "token is not active");

    /* an inactive token from an introspection answer */
    mcpauth_error err = {0};
    mcpauth_token_info parsed;
    ck_assert_int_eq(parse_info("{\"active\":false}", &parsed, &err), MCPAUTH_OK);
    ck_assert_int_eq(check(&policy, &parsed, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "token is not active");
}
END_TEST

START_TEST(check_expiry)
{
    mcpauth_token_policy policy = default_policy();
    mcpauth_token_info info = good_info();
    char reason[256];

    info.expires_at = NOW - 100;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "expired 100 s ago");

    info.expires_at = NOW - 61;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "expired 61 s ago");

    /* within the leeway */
    info.expires_at = NOW - 60;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);
    info.expires_at = NOW;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);

    policy.leeway_seconds = 0;
    info.expires_at = NOW - 1;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "expired 1 s ago");

    /* a negative leeway is no leeway, not a stricter check */
    policy.leeway_seconds = -30;
    info.expires_at = NOW;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);
}
END_TEST

START_TEST(check_no_expiry)
{
    mcpauth_token_policy policy = default_policy();
    mcpauth_token_info info = good_info();
    char reason[256];

    info.expires_at = 0;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "token has no expiry (exp)");

    policy.require_expiry = false;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);
}
END_TEST

START_TEST(check_not_before)
{
    mcpauth_token_policy policy = default_policy();
    mcpauth_token_info info = good_info();
    char reason[256];

    info.not_before = NOW + 100;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "not valid for another 100 s");

    info.not_before = NOW + 61;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "not valid for another 61 s");

    info.not_before = NOW + 60;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);
    info.not_before = NOW - 1000;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);
}
END_TEST

START_TEST(check_issued_at)
{
    mcpauth_token_policy policy = default_policy();
    mcpauth_token_info info = good_info();
    char reason[256];

    info.issued_at = NOW + 300;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "issued 300 s in the future");

    info.issued_at = NOW + 60;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);
    info.issued_at = 0;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);
}
END_TEST

START_TEST(check_issuer)
{
    mcpauth_token_policy policy = default_policy();
    mcpauth_token_info info = good_info();
    char reason[256];

    info.issuer = "https://evil.example";
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "issuer \"https://evil.example\" is not " ISSUER);

    /* exact comparison: RFC 9068 §4 */
    info.issuer = ISSUER "/";
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "issuer \"" ISSUER "/\" is not " ISSUER);

    /* remote text is escaped */
    info.issuer = "a\"b\n";
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "issuer \"a\\\"b\\x0a\" is not " ISSUER);

    /* checked only when both sides have one */
    info.issuer = NULL;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);
    info.issuer = "https://evil.example";
    policy.issuer = NULL;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);
}
END_TEST

START_TEST(check_no_audience)
{
    mcpauth_token_policy policy = default_policy();
    mcpauth_token_info info = good_info();
    char reason[256];

    info.audience_count = 0;
    info.audiences = NULL;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "token has no audience");

    /* --no-audience-check */
    policy.audience_count = 0;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);
}
END_TEST

START_TEST(check_wrong_audience)
{
    mcpauth_token_policy policy = default_policy();
    mcpauth_token_info info = good_info();
    char reason[256];
    char *audiences[] = {"http://other.example/mcp", "client-x"};

    info.audiences = audiences;
    info.audience_count = 2;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(
        reason, "audience [\"http://other.example/mcp\", \"client-x\"] does not include " RESOURCE);

    static const char *const two[] = {RESOURCE, "https://mcp.example.com/mcp"};
    policy.audiences = two;
    policy.audience_count = 2;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "audience [\"http://other.example/mcp\", \"client-x\"] does not "
                             "include " RESOURCE " or any of 1 others");

    /* any one expected audience is enough */
    audiences[1] = "https://MCP.example.com/mcp/";
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);
}
END_TEST

START_TEST(check_audience_cut)
{
    mcpauth_token_policy policy = default_policy();
    mcpauth_token_info info = good_info();
    char reason[256];
    char long_audience[300];
    memset(long_audience, 'a', sizeof long_audience - 1);
    long_audience[sizeof long_audience - 1] = '\0';
    char *audiences[MCPAUTH_TOKEN_MAX_AUDIENCES];
    for (size_t i = 0; i < MCPAUTH_TOKEN_MAX_AUDIENCES; i++)
        audiences[i] = long_audience;
    audiences[3] = "a\"b\\c\n";

    info.audiences = audiences;
    info.audience_count = 1;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    /* each audience is cut... */
    ck_assert_msg(strstr(reason, "aaa...\"] does not include " RESOURCE) != NULL, "%s", reason);
    ck_assert_uint_lt(strlen(reason), 140);

    /* ...and so is the list */
    info.audience_count = MCPAUTH_TOKEN_MAX_AUDIENCES;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_msg(strstr(reason, "...\"...] does not include ") == NULL, "%s", reason);
    ck_assert_msg(strstr(reason, "... does not include " RESOURCE) != NULL, "%s", reason);
    ck_assert_uint_lt(strlen(reason), 255);

    /* remote text is escaped */
    info.audiences = audiences + 3;
    info.audience_count = 1;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "audience [\"a\\\"b\\\\c\\x0a\"] does not include " RESOURCE);
}
END_TEST

typedef struct audience_case {
    const char *token_audience;
    const char *expected;
    bool match;
} audience_case;

static const audience_case audience_cases[] = {
    {"http://localhost:8000/mcp", "http://localhost:8000/mcp", true},
    /* MCP canonical URI: scheme and host ignore case... */
    {"HTTP://LOCALHOST:8000/mcp", "http://localhost:8000/mcp", true},
    {"http://localhost:8000/mcp", "Http://LocalHost:8000/mcp", true},
    {"https://MCP.Example.COM/mcp", "https://mcp.example.com/mcp", true},
    /* ...and one trailing '/' on either side */
    {"http://localhost:8000/mcp/", "http://localhost:8000/mcp", true},
    {"http://localhost:8000/mcp", "http://localhost:8000/mcp/", true},
    {"https://mcp.example.com", "https://mcp.example.com/", true},
    {"https://mcp.example.com/", "https://MCP.EXAMPLE.COM", true},
    /* the path is exact */
    {"http://localhost:8000/MCP", "http://localhost:8000/mcp", false},
    {"http://localhost:8000/mcp//", "http://localhost:8000/mcp", false},
    {"http://localhost:8000/mcp/x", "http://localhost:8000/mcp", false},
    {"http://localhost:8000/mc", "http://localhost:8000/mcp", false},
    {"http://localhost:8000/mcp?x=1", "http://localhost:8000/mcp", false},
    {"http://localhost:8000/mcp#f", "http://localhost:8000/mcp", false},
    /* so are scheme, host and port, apart from case */
    {"https://localhost:8000/mcp", "http://localhost:8000/mcp", false},
    {"http://localhost:8001/mcp", "http://localhost:8000/mcp", false},
    {"http://localhost/mcp", "http://localhost:8000/mcp", false},
    {"http://127.0.0.1:8000/mcp", "http://localhost:8000/mcp", false},
    {"http://localhost:8000.evil/mcp", "http://localhost:8000/mcp", false},
    {"http://localhost:8000", "http://localhost:8000/mcp", false},
    {"localhost:8000/mcp", "http://localhost:8000/mcp", false},
    /* anything that is not a URL compares exactly */
    {"client-abc", "client-abc", true},
    {"Client-ABC", "client-abc", false},
    {"client-abc/", "client-abc", false},
    {"urn:example:rs", "urn:example:rs", true},
    {"URN:example:rs", "urn:example:rs", false},
    {"", "http://localhost:8000/mcp", false},
};

START_TEST(check_audience_canonical)
{
    const audience_case *c = &audience_cases[_i];
    const char *const expected[] = {c->expected};
    char *token_audiences[] = {(char *)c->token_audience};
    mcpauth_token_policy policy = default_policy();
    mcpauth_token_info info = good_info();
    char reason[256];

    policy.audiences = expected;
    info.audiences = token_audiences;
    ck_assert_msg((check(&policy, &info, reason) == MCPAUTH_TOKEN_VALID) == c->match,
                  "%s vs %s: %s", c->token_audience, c->expected, reason);
}
END_TEST

START_TEST(check_scopes)
{
    mcpauth_token_policy policy = default_policy();
    mcpauth_token_info info = good_info();
    char reason[256];
    char *scopes[] = {"read", "MCP"};

    info.scopes = scopes;
    info.scope_count = 2;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INSUFFICIENT_SCOPE);
    ck_assert_str_eq(reason, "missing scope mcp");

    static const char *const three[] = {"mcp", "read", "admin"};
    policy.required_scopes = three;
    policy.required_scope_count = 3;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INSUFFICIENT_SCOPE);
    ck_assert_str_eq(reason, "missing scopes mcp admin");

    info.scope_count = 0;
    info.scopes = NULL;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INSUFFICIENT_SCOPE);
    ck_assert_str_eq(reason, "missing scopes mcp read admin");

    policy.required_scope_count = 0;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);
}
END_TEST

/* The first failing check decides, in the documented order. */
START_TEST(check_order)
{
    mcpauth_token_policy policy = default_policy();
    mcpauth_token_info info = good_info();
    char reason[256];
    char *wrong_audience[] = {"http://other/mcp"};
    char *no_scope[] = {"read"};

    info.scopes = no_scope;
    info.scope_count = 1;
    info.audiences = wrong_audience;
    info.issuer = "https://evil.example";
    info.issued_at = NOW + 1000;
    info.not_before = NOW + 1000;
    info.expires_at = NOW - 1000;
    info.active = false;

    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "token is not active");
    info.active = true;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "expired 1000 s ago");
    info.expires_at = NOW + 2000;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "not valid for another 1000 s");
    info.not_before = 0;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "issued 1000 s in the future");
    info.issued_at = NOW;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "issuer \"https://evil.example\" is not " ISSUER);
    info.issuer = ISSUER;
    /* a wrong audience is a bad token, not a lack of scope */
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "audience [\"http://other/mcp\"] does not include " RESOURCE);
    info.audiences = good_audiences;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INSUFFICIENT_SCOPE);
    ck_assert_str_eq(reason, "missing scope mcp");
    info.scopes = good_scopes;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);
}
END_TEST

START_TEST(check_reason_buffer)
{
    mcpauth_token_policy policy = default_policy();
    mcpauth_token_info info = good_info();
    char small[8];

    info.expires_at = NOW - 100;
    ck_assert_int_eq(mcpauth_token_check(&policy, &info, NOW, NULL, 0), MCPAUTH_TOKEN_INVALID);
    ck_assert_int_eq(mcpauth_token_check(&policy, &info, NOW, small, 0), MCPAUTH_TOKEN_INVALID);
    ck_assert_int_eq(mcpauth_token_check(&policy, &info, NOW, small, sizeof small),
                     MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(small, "expired");

    ck_assert_int_eq(mcpauth_token_check(&policy, NULL, NOW, small, sizeof small),
                     MCPAUTH_TOKEN_INVALID);
    info.expires_at = NOW + 10;
    ck_assert_int_eq(mcpauth_token_check(NULL, &info, NOW, small, sizeof small),
                     MCPAUTH_TOKEN_VALID);
    ck_assert_str_eq(small, "");
}
END_TEST

/* Absurd timestamps and leeways must not overflow (UBSan watches). */
START_TEST(check_extreme_times)
{
    mcpauth_token_policy policy = default_policy();
    mcpauth_token_info info = good_info();
    char reason[256];

    policy.leeway_seconds = INT64_MAX;
    info.expires_at = INT64_MAX;
    info.not_before = INT64_MAX;
    info.issued_at = INT64_MAX;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_VALID);

    policy.leeway_seconds = 0;
    info.not_before = 0;
    info.issued_at = 0;
    info.expires_at = INT64_MIN;
    ck_assert_int_eq(check(&policy, &info, reason), MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "expired 9223372036854775807 s ago");

    info.expires_at = INT64_MAX;
    info.not_before = INT64_MAX;
    ck_assert_int_eq(mcpauth_token_check(&policy, &info, INT64_MIN, reason, sizeof reason),
                     MCPAUTH_TOKEN_INVALID);
    ck_assert_str_eq(reason, "not valid for another 9223372036854775807 s");
}
END_TEST

START_TEST(has_scopes)
{
    mcpauth_token_info info = good_info();
    static const char *const mcp[] = {"mcp"};
    static const char *const both[] = {"read", "mcp"};
    static const char *const other[] = {"mcp", "write"};

    ck_assert(mcpauth_token_has_scopes(&info, mcp, 1));
    ck_assert(mcpauth_token_has_scopes(&info, both, 2));
    ck_assert(!mcpauth_token_has_scopes(&info, other, 2));
    ck_assert(mcpauth_token_has_scopes(&info, other, 1));
    ck_assert(mcpauth_token_has_scopes(&info, NULL, 0));
    info.scope_count = 0;
    ck_assert(!mcpauth_token_has_scopes(&info, mcp, 1));
}
END_TEST

static Suite *token_suite(void)
{
    Suite *s = suite_create("token");
    TCase *tc = tcase_create("info");
    tcase_add_test(tc, info_oidc_provider);
    tcase_add_test(tc, info_json_round_trip);
    tcase_add_test(tc, info_full);
    tcase_add_test(tc, info_inactive);
    tcase_add_test(tc, info_minimal_active);
    tcase_add_loop_test(tc, info_scopes, 0, sizeof scope_cases / sizeof scope_cases[0]);
    tcase_add_test(tc, info_bounds);
    tcase_add_loop_test(tc, info_bad, 0, sizeof bad_cases / sizeof bad_cases[0]);
    tcase_add_test(tc, info_missing_active_message);
    tcase_add_test(tc, info_null_claims);
    tcase_add_test(tc, info_copy);
    suite_add_tcase(s, tc);

    tc = tcase_create("check");
    tcase_add_test(tc, check_valid);
    tcase_add_test(tc, check_inactive);
    tcase_add_test(tc, check_expiry);
    tcase_add_test(tc, check_no_expiry);
    tcase_add_test(tc, check_not_before);
    tcase_add_test(tc, check_issued_at);
    tcase_add_test(tc, check_issuer);
    tcase_add_test(tc, check_no_audience);
    tcase_add_test(tc, check_wrong_audience);
    tcase_add_test(tc, check_audience_cut);
    tcase_add_loop_test(tc, check_audience_canonical, 0,
                        sizeof audience_cases / sizeof audience_cases[0]);
    tcase_add_test(tc, check_scopes);
    tcase_add_test(tc, check_order);
    tcase_add_test(tc, check_reason_buffer);
    tcase_add_test(tc, check_extreme_times);
    tcase_add_test(tc, has_scopes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(token_suite());
}
