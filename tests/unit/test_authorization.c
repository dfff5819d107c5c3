/* The authorization code grant's decisions taken before any request: does
 * the server offer S256 and promise iss, which registered redirect URI can
 * be listened on, which client authentication applies, whether two issuer
 * identifiers name one server, and the refusals that come before the
 * browser. The front channel itself runs against real servers in
 * tests/integration/token.test.mjs and tests/interop/token.test.mjs. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/authorization.h"
#include "mcpauth/discovery.h"
#include "mcpauth/oauth_token.h"

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
    TCase *tc = tcase_create("decisions");
    tcase_add_test(tc, offers_s256);
    tcase_add_test(tc, requires_iss);
    tcase_add_test(tc, loopback_uri);
    tcase_add_test(tc, client_auth_default);
    suite_add_tcase(s, tc);
    tc = tcase_create("grant");
    tcase_add_test(tc, grant_refusals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(authorization_suite());
    srunner_run_all(runner, CK_ENV);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
