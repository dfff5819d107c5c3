/* The authorization code grant (src/oauth/authorization.c): the front
 * channel (the state value, the authorization request URL, the checks on the
 * redirect's query: state, RFC 9207 iss, errors) and the decisions taken
 * before any request (does the server offer S256 and promise iss, which
 * registered redirect URI can be listened on, which client authentication
 * applies, the refusals that come before the browser). The listener itself
 * is exercised by tests/integration/token.test.mjs and
 * tests/interop/token.test.mjs. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/authorization.h"
#include "mcpauth/discovery.h"
#include "mcpauth/oauth_token.h"
#include "mcpauth/secret.h"
#include "testlib.h"

/* RFC 7636 Appendix B's code challenge, as a sample S256 value. */
static const char rfc_challenge[] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/* --- state ----------------------------------------------------------------- */

START_TEST(state_shape)
{
    char a[MCPAUTH_STATE_LENGTH + 1], b[MCPAUTH_STATE_LENGTH + 1];
    ck_assert_int_eq(mcpauth_authorization_new_state(a, NULL), MCPAUTH_OK);
    ck_assert_int_eq(mcpauth_authorization_new_state(b, NULL), MCPAUTH_OK);
    ck_assert_uint_eq(strlen(a), 43);
    ck_assert_uint_eq(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                      43);
    ck_assert_str_ne(a, b);
}
END_TEST

/* --- the authorization URL --------------------------------------------- */

static const char *const two_resources[] = {"https://mcp.example/mcp", "https://b.example/x?y=1&z"};

static mcpauth_authorization_request base_request(const char *endpoint)
{
    return (mcpauth_authorization_request){
        .authorization_endpoint = endpoint,
        .client_id = "client 1",
        .redirect_uri = "http://127.0.0.1:8765/callback",
        .scope = "mcp offline_access",
        .state = "st-1_x",
        .code_challenge = rfc_challenge,
    };
}

START_TEST(url_every_parameter)
{
    mcpauth_authorization_request req = base_request("https://as.example/authorize");
    req.resources = two_resources;
    req.resource_count = 2;
    mcpauth_error err = {0};
    char *url = mcpauth_authorization_url(&req, &err);
    ck_assert_ptr_nonnull(url);
    ck_assert_str_eq(url, "https://as.example/authorize?response_type=code&client_id=client+1"
                          "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback"
                          "&scope=mcp+offline_access&state=st-1_x"
                          "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
                          "&code_challenge_method=S256"
                          "&resource=https%3A%2F%2Fmcp.example%2Fmcp"
                          "&resource=https%3A%2F%2Fb.example%2Fx%3Fy%3D1%26z");
    free(url);
}
END_TEST

START_TEST(url_without_scope_or_resource)
{
    mcpauth_authorization_request req = base_request("http://127.0.0.1:9000/auth");
    req.scope = NULL;
    char *url = mcpauth_authorization_url(&req, NULL);
    ck_assert_ptr_nonnull(url);
    ck_assert_ptr_null(strstr(url, "scope="));
    ck_assert_ptr_null(strstr(url, "resource="));
    ck_assert_ptr_nonnull(strstr(url, "&code_challenge_method=S256"));
    free(url);
    req.scope = "";
    url = mcpauth_authorization_url(&req, NULL);
    ck_assert_ptr_null(strstr(url, "scope="));
    free(url);
}
END_TEST

START_TEST(url_keeps_endpoint_query)
{
    /* RFC 6749 §3.1: the endpoint's query component must be retained. */
    mcpauth_authorization_request req = base_request("https://as.example/authorize?tenant=a%20b");
    char *url = mcpauth_authorization_url(&req, NULL);
    ck_assert_ptr_nonnull(url);
    ck_assert(strncmp(url, "https://as.example/authorize?tenant=a%20b&response_type=code&",
                      strlen("https://as.example/authorize?tenant=a%20b&response_type=code&")) ==
              0);
    free(url);

    req = base_request("https://as.example/authorize?");
    url = mcpauth_authorization_url(&req, NULL);
    ck_assert(strncmp(url, "https://as.example/authorize?response_type=code&",
                      strlen("https://as.example/authorize?response_type=code&")) == 0);
    free(url);
}
END_TEST

START_TEST(url_refuses_bad_endpoints)
{
    static const char *const bad[] = {"https://as.example/authorize#frag", "not a url",
                                      "ftp://as.example/authorize", "/authorize"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mcpauth_authorization_request req = base_request(bad[i]);
        mcpauth_error err = {0};
        ck_assert_ptr_null(mcpauth_authorization_url(&req, &err));
        ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
        ck_assert_ptr_nonnull(strstr(err.message, "authorization_endpoint"));
    }
}
END_TEST

/* --- the authorization response ------------------------------------------ */

static const mcpauth_authorization_expect expect_iss = {
    .state = "S-123",
    .issuer = "https://as.example",
    .require_iss = true,
};
static const mcpauth_authorization_expect expect_plain = {
    .state = "S-123",
    .issuer = "https://as.example",
    .require_iss = false,
};

static mcpauth_status check(const char *query, const mcpauth_authorization_expect *expect,
                            char **code, mcpauth_error *err)
{
    memset(err, 0, sizeof *err);
    return mcpauth_authorization_response_check(query, expect, code, err);
}

START_TEST(response_success_with_iss)
{
    char *code = NULL;
    mcpauth_error err;
    ck_assert_int_eq(
        check("code=abc.DEF-1&state=S-123&iss=https%3A%2F%2Fas.example", &expect_iss, &code, &err),
        MCPAUTH_OK);
    ck_assert_str_eq(code, "abc.DEF-1");
    mcpauth_secret_free(code);
}
END_TEST

START_TEST(response_decodes_and_ignores_unknown)
{
    char *code = NULL;
    mcpauth_error err;
    ck_assert_int_eq(
        check("foo=1&code=a%2Bb+c&bar&state=S-123&session_state=x", &expect_plain, &code, &err),
        MCPAUTH_OK);
    ck_assert_str_eq(code, "a+b c");
    mcpauth_secret_free(code);
}
END_TEST

START_TEST(response_state_checked)
{
    static const char *const queries[] = {
        "code=abc&state=S-124",
        "code=abc&state=S-12",
        "code=abc&state=S-1234",
        "code=abc&state=",
        "code=abc",
        "code=abc&state=s-123",
        "state=X&error=access_denied",
    };
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        char *code = NULL;
        mcpauth_error err;
        ck_assert_int_eq(check(queries[i], &expect_plain, &code, &err), MCPAUTH_EREMOTE);
        ck_assert_ptr_null(code);
        ck_assert_ptr_nonnull(strstr(err.message, "state"));
        ck_assert_ptr_null(strstr(err.message, "abc")); /* the code is never quoted */
    }
}
END_TEST

START_TEST(response_iss_checked)
{
    char *code = NULL;
    mcpauth_error err;
    /* RFC 9207 §2.4: a different issuer is rejected, advertised or not. */
    ck_assert_int_eq(
        check("code=abc&state=S-123&iss=https%3A%2F%2Fevil.example", &expect_plain, &code, &err),
        MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "evil.example"));
    ck_assert_ptr_nonnull(strstr(err.message, "mix-up"));
    ck_assert_int_eq(
        check("code=abc&state=S-123&iss=https%3A%2F%2Fas.example%2F", &expect_iss, &code, &err),
        MCPAUTH_EREMOTE);
    /* Advertised: a response without iss is rejected; else it is fine. */
    ck_assert_int_eq(check("code=abc&state=S-123", &expect_iss, &code, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "no iss"));
    ck_assert_ptr_null(code);
    ck_assert_int_eq(check("code=abc&state=S-123", &expect_plain, &code, &err), MCPAUTH_OK);
    mcpauth_secret_free(code);
}
END_TEST

START_TEST(response_errors)
{
    char *code = NULL;
    mcpauth_error err;
    ck_assert_int_eq(check("error=access_denied&error_description=User+said+no&state=S-123"
                           "&iss=https%3A%2F%2Fas.example",
                           &expect_iss, &code, &err),
                     MCPAUTH_ENEGATIVE);
    ck_assert_ptr_nonnull(strstr(err.message, "access_denied"));
    ck_assert_ptr_nonnull(strstr(err.message, "User said no"));
    ck_assert_int_eq(check("error=server_error&state=S-123", &expect_plain, &code, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "server_error"));
    /* An error's iss is checked too. */
    ck_assert_int_eq(check("error=access_denied&state=S-123", &expect_iss, &code, &err),
                     MCPAUTH_EREMOTE);
    /* Control characters in the description cannot reach the terminal. */
    ck_assert_int_eq(check("error=invalid_scope&error_description=a%0A%1B%5B2Jb&state=S-123",
                           &expect_plain, &code, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_null(strchr(err.message, '\n'));
    ck_assert_ptr_null(strchr(err.message, '\x1b'));
    ck_assert_ptr_null(code);
}
END_TEST

START_TEST(response_malformed)
{
    static const char *const queries[] = {
        "code=a&code=b&state=S-123", /* repeated (RFC 6749 §3.1) */
        "code=a&state=S-123&state=S-123",
        "code=%zz&state=S-123", /* broken escapes */
        "code=a%4&state=S-123",
        "code=a%&state=S-123",
        "code=a%00b&state=S-123", /* an encoded NUL */
        "state=S-123",            /* neither code nor error */
        "code=&state=S-123",
    };
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        char *code = NULL;
        mcpauth_error err;
        ck_assert_msg(check(queries[i], &expect_plain, &code, &err) == MCPAUTH_EREMOTE, "%s",
                      queries[i]);
        ck_assert_ptr_null(code);
    }
}
END_TEST

START_TEST(response_not_a_response)
{
    char *code = NULL;
    mcpauth_error err;
    ck_assert_int_eq(check(NULL, &expect_plain, &code, &err), MCPAUTH_EUSAGE);
    ck_assert_int_eq(check("", &expect_plain, &code, &err), MCPAUTH_EUSAGE);
    ck_assert_int_eq(check("utm_source=x&foo", &expect_plain, &code, &err), MCPAUTH_EUSAGE);
    ck_assert_ptr_null(code);
}
END_TEST
static mcpauth_as_metadata metadata(const char *text)
{
    mcpauth_as_metadata md = {.issuer = "https://as.example"};
    md.document = json_tokener_parse(text);
    ck_assert_ptr_nonnull(md.document);
    return md;
}

START_TEST(offers_s256)
{
    const struct {
        const char *doc;
        bool expected;
    } cases[] = {
        {"{\"code_challenge_methods_supported\":[\"plain\",\"S256\"]}", true},
        {"{\"code_challenge_methods_supported\":[\"plain\"]}", false},
        {"{\"code_challenge_methods_supported\":[\"s256\"]}", false},
        {"{\"code_challenge_methods_supported\":\"S256\"}", false},
        {"{\"code_challenge_methods_supported\":[1,\"S256\"]}", true},
        {"{}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcpauth_as_metadata md = metadata(cases[i].doc);
        ck_assert_msg(mcpauth_authorization_offers_s256(&md) == cases[i].expected, "%s",
                      cases[i].doc);
        json_object_put(md.document);
    }
}
END_TEST

/* RFC 9207 §3: only the boolean true asks for iss. */
START_TEST(requires_iss)
{
    const struct {
        const char *doc;
        bool expected;
    } cases[] = {
        {"{\"authorization_response_iss_parameter_supported\":true}", true},
        {"{\"authorization_response_iss_parameter_supported\":false}", false},
        {"{\"authorization_response_iss_parameter_supported\":\"true\"}", false},
        {"{\"authorization_response_iss_parameter_supported\":1}", false},
        {"{}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcpauth_as_metadata md = metadata(cases[i].doc);
        ck_assert_msg(mcpauth_authorization_requires_iss(&md) == cases[i].expected, "%s",
                      cases[i].doc);
        json_object_put(md.document);
    }
}
END_TEST

START_TEST(loopback_uri)
{
    json_object *client = json_tokener_parse(
        "{\"redirect_uris\":[\"https://app.example/cb\",\"http://127.0.0.1:8/cb#x\","
        "\"com.example:/cb\",\"http://localhost:9/cb\",\"http://[::1]:7/cb\"]}");
    ck_assert_str_eq(mcpauth_authorization_loopback_uri(client), "http://localhost:9/cb");
    json_object_put(client);

    client = json_tokener_parse("{\"redirect_uris\":[\"https://app.example/cb\"]}");
    ck_assert_ptr_null(mcpauth_authorization_loopback_uri(client));
    json_object_put(client);
    client = json_tokener_parse("{\"redirect_uris\":\"http://127.0.0.1:8/cb\"}");
    ck_assert_ptr_null(mcpauth_authorization_loopback_uri(client));
    json_object_put(client);
    ck_assert_ptr_null(mcpauth_authorization_loopback_uri(NULL));
}
END_TEST

START_TEST(client_auth_default)
{
    mcpauth_client_auth auth;
    ck_assert(mcpauth_client_auth_default(NULL, true, &auth));
    ck_assert_int_eq(auth, MCPAUTH_CLIENT_AUTH_BASIC);
    ck_assert(mcpauth_client_auth_default(NULL, false, &auth));
    ck_assert_int_eq(auth, MCPAUTH_CLIENT_AUTH_NONE);
    /* What was registered wins, secret or not. */
    ck_assert(mcpauth_client_auth_default("client_secret_post", false, &auth));
    ck_assert_int_eq(auth, MCPAUTH_CLIENT_AUTH_POST);
    ck_assert(mcpauth_client_auth_default("none", true, &auth));
    ck_assert_int_eq(auth, MCPAUTH_CLIENT_AUTH_NONE);
    ck_assert(!mcpauth_client_auth_default("private_key_jwt", true, &auth));
}
END_TEST

/* Refusals that come before any listener is opened or request sent. */
START_TEST(grant_refusals)
{
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_oauth_token_client client = {.token_endpoint = "https://as.example/token",
                                         .client_id = "c1",
                                         .auth = MCPAUTH_CLIENT_AUTH_NONE};
    mcpauth_as_metadata md = metadata("{\"code_challenge_methods_supported\":[\"plain\"]}");
    mcpauth_authorization_grant grant = {.http = &opts, .metadata = &md, .client = &client};
    mcpauth_oauth_token_response resp = {0};
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_authorization_code_grant(&grant, &resp, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "does not list S256"));
    json_object_put(md.document);

    md = metadata("{\"code_challenge_methods_supported\":[\"S256\"]}");
    ck_assert_int_eq(mcpauth_authorization_code_grant(&grant, &resp, &err), MCPAUTH_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "no loopback redirect URI"));

    /* No authorization_endpoint: the server's fault, found before listening. */
    grant.redirect_uri = "http://127.0.0.1:1/cb";
    ck_assert_int_eq(mcpauth_authorization_code_grant(&grant, &resp, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "advertises no authorization_endpoint"));
    json_object_put(md.document);

    /* A plain-http endpoint from the metadata is refused as remote, not usage. */
    md = metadata("{\"code_challenge_methods_supported\":[\"S256\"],"
                  "\"authorization_endpoint\":\"http://as.example/authorize\"}");
    ck_assert_int_eq(mcpauth_authorization_code_grant(&grant, &resp, &err), MCPAUTH_EREMOTE);
    json_object_put(md.document);

    /* A redirect URI that cannot be listened on is the user's to fix. */
    md = metadata("{\"code_challenge_methods_supported\":[\"S256\"],"
                  "\"authorization_endpoint\":\"https://as.example/authorize\"}");
    grant.redirect_uri = "https://app.example/cb";
    ck_assert_int_eq(mcpauth_authorization_code_grant(&grant, &resp, &err), MCPAUTH_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "loopback"));
    json_object_put(md.document);
}
END_TEST

static Suite *authorization_suite(void)
{
    Suite *s = suite_create("authorization");

    TCase *tc = tcase_create("state");
    tcase_add_test(tc, state_shape);
    suite_add_tcase(s, tc);

    tc = tcase_create("authorization_url");
    tcase_add_test(tc, url_every_parameter);
    tcase_add_test(tc, url_without_scope_or_resource);
    tcase_add_test(tc, url_keeps_endpoint_query);
    tcase_add_test(tc, url_refuses_bad_endpoints);
    suite_add_tcase(s, tc);

    tc = tcase_create("decisions");
    tcase_add_test(tc, offers_s256);
    tcase_add_test(tc, requires_iss);
    tcase_add_test(tc, loopback_uri);
    tcase_add_test(tc, client_auth_default);
    suite_add_tcase(s, tc);

    tc = tcase_create("grant");
    tcase_add_test(tc, grant_refusals);
    suite_add_tcase(s, tc);

    tc = tcase_create("authorization_response");
    tcase_add_test(tc, response_success_with_iss);
    tcase_add_test(tc, response_decodes_and_ignores_unknown);
    tcase_add_test(tc, response_state_checked);
    tcase_add_test(tc, response_iss_checked);
    tcase_add_test(tc, response_errors);
    tcase_add_test(tc, response_malformed);
    tcase_add_test(tc, response_not_a_response);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(authorization_suite());
}
