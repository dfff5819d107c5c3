/* Token endpoint requests: the form bodies of each grant and client
 * authentication method, and the judging of the answers (RFC 6749 §5). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/http_client.h"
#include "mcpauth/oauth_token.h"
#include "testlib.h"

static const char *const resources[] = {"https://mcp.example/mcp", "https://b.example/x?y=1"};

static mcpauth_oauth_token_client client_with(mcpauth_client_auth auth)
{
    return (mcpauth_oauth_token_client){
        .token_endpoint = "https://as.example/token",
        .client_id = "id:1",
        .client_secret = "p&s=1 +%",
        .auth = auth,
    };
}

/* The body for client and params, or NULL with *status set. */
static char *body_for(const mcpauth_oauth_token_client *client,
                      const mcpauth_oauth_token_params *params, mcpauth_status *status,
                      mcpauth_error *err)
{
    mcpauth_strbuf body = MCPAUTH_STRBUF_INIT;
    memset(err, 0, sizeof *err);
    *status = mcpauth_oauth_token_request_body(client, params, &body, err);
    char *text = *status == MCPAUTH_OK ? mcpauth_strbuf_detach(&body) : NULL;
    mcpauth_strbuf_free(&body);
    return text;
}

/* --- auth method names -------------------------------------------------- */

START_TEST(auth_names)
{
    static const char *const names[] = {"client_secret_basic", "client_secret_post", "none"};
    for (size_t i = 0; i < 3; i++) {
        mcpauth_client_auth auth;
        ck_assert(mcpauth_client_auth_from_name(names[i], &auth));
        ck_assert_str_eq(mcpauth_client_auth_name(auth), names[i]);
    }
    mcpauth_client_auth auth = MCPAUTH_CLIENT_AUTH_POST;
    ck_assert(!mcpauth_client_auth_from_name("private_key_jwt", &auth));
    ck_assert(!mcpauth_client_auth_from_name("basic", &auth));
    ck_assert(!mcpauth_client_auth_from_name("", &auth));
    ck_assert_int_eq(auth, MCPAUTH_CLIENT_AUTH_POST);
}
END_TEST

/* --- bodies ---------------------------------------------------------------- */

START_TEST(client_credentials_basic)
{
    mcpauth_oauth_token_client c = client_with(MCPAUTH_CLIENT_AUTH_BASIC);
    mcpauth_oauth_token_params p = {.grant_type = "client_credentials",
                                    .scope = "mcp read:all",
                                    .resources = resources,
                                    .resource_count = 2};
    mcpauth_status st;
    mcpauth_error err;
    char *body = body_for(&c, &p, &st, &err);
    ck_assert_int_eq(st, MCPAUTH_OK);
    /* With Basic the credentials go in the header, not the body. */
    ck_assert_str_eq(body, "grant_type=client_credentials&scope=mcp+read%3Aall"
                           "&resource=https%3A%2F%2Fmcp.example%2Fmcp"
                           "&resource=https%3A%2F%2Fb.example%2Fx%3Fy%3D1");
    free(body);
}
END_TEST

START_TEST(client_credentials_post)
{
    mcpauth_oauth_token_client c = client_with(MCPAUTH_CLIENT_AUTH_POST);
    mcpauth_oauth_token_params p = {.grant_type = "client_credentials"};
    mcpauth_status st;
    mcpauth_error err;
    char *body = body_for(&c, &p, &st, &err);
    ck_assert_int_eq(st, MCPAUTH_OK);
    ck_assert_str_eq(body, "grant_type=client_credentials&client_id=id%3A1"
                           "&client_secret=p%26s%3D1+%2B%25");
    free(body);
}
END_TEST

START_TEST(public_client_sends_id_only)
{
    mcpauth_oauth_token_client c = client_with(MCPAUTH_CLIENT_AUTH_NONE);
    mcpauth_oauth_token_params p = {.grant_type = "refresh_token", .refresh_token = "rt/1+2=="};
    mcpauth_status st;
    mcpauth_error err;
    char *body = body_for(&c, &p, &st, &err);
    ck_assert_int_eq(st, MCPAUTH_OK);
    ck_assert_str_eq(body, "grant_type=refresh_token&refresh_token=rt%2F1%2B2%3D%3D"
                           "&client_id=id%3A1");
    ck_assert_ptr_null(strstr(body, "secret"));
    free(body);
    c.client_secret = NULL;
    body = body_for(&c, &p, &st, &err);
    ck_assert_int_eq(st, MCPAUTH_OK);
    free(body);
}
END_TEST

START_TEST(authorization_code_body)
{
    mcpauth_oauth_token_client c = client_with(MCPAUTH_CLIENT_AUTH_BASIC);
    mcpauth_oauth_token_params p = {
        .grant_type = "authorization_code",
        .code = "c0de+x",
        .redirect_uri = "http://127.0.0.1:8765/callback",
        .code_verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        .resources = resources,
        .resource_count = 1,
    };
    mcpauth_status st;
    mcpauth_error err;
    char *body = body_for(&c, &p, &st, &err);
    ck_assert_int_eq(st, MCPAUTH_OK);
    ck_assert_str_eq(body, "grant_type=authorization_code&code=c0de%2Bx"
                           "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback"
                           "&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
                           "&resource=https%3A%2F%2Fmcp.example%2Fmcp");
    free(body);
}
END_TEST

START_TEST(refresh_with_scope)
{
    mcpauth_oauth_token_client c = client_with(MCPAUTH_CLIENT_AUTH_POST);
    mcpauth_oauth_token_params p = {
        .grant_type = "refresh_token", .refresh_token = "R", .scope = "mcp"};
    mcpauth_status st;
    mcpauth_error err;
    char *body = body_for(&c, &p, &st, &err);
    ck_assert_int_eq(st, MCPAUTH_OK);
    ck_assert_str_eq(body, "grant_type=refresh_token&refresh_token=R&scope=mcp"
                           "&client_id=id%3A1&client_secret=p%26s%3D1+%2B%25");
    free(body);
}
END_TEST

START_TEST(incomplete_requests)
{
    mcpauth_oauth_token_client c = client_with(MCPAUTH_CLIENT_AUTH_BASIC);
    mcpauth_oauth_token_params missing_verifier = {
        .grant_type = "authorization_code", .code = "x", .redirect_uri = "http://127.0.0.1/cb"};
    mcpauth_oauth_token_params missing_code = {.grant_type = "authorization_code",
                                               .redirect_uri = "http://127.0.0.1/cb",
                                               .code_verifier = "v"};
    mcpauth_oauth_token_params missing_refresh = {.grant_type = "refresh_token"};
    mcpauth_oauth_token_params unknown = {.grant_type = "password"};
    mcpauth_oauth_token_params none = {.grant_type = NULL};
    const mcpauth_oauth_token_params *cases[] = {&missing_verifier, &missing_code, &missing_refresh,
                                                 &unknown, &none};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcpauth_status st;
        mcpauth_error err;
        ck_assert_ptr_null(body_for(&c, cases[i], &st, &err));
        ck_assert_int_eq(st, MCPAUTH_EUSAGE);
    }
}
END_TEST

START_TEST(secret_methods_need_a_secret)
{
    mcpauth_oauth_token_params p = {.grant_type = "client_credentials"};
    mcpauth_client_auth methods[] = {MCPAUTH_CLIENT_AUTH_BASIC, MCPAUTH_CLIENT_AUTH_POST};
    for (size_t i = 0; i < 2; i++) {
        mcpauth_oauth_token_client c = client_with(methods[i]);
        c.client_secret = NULL;
        mcpauth_status st;
        mcpauth_error err;
        ck_assert_ptr_null(body_for(&c, &p, &st, &err));
        ck_assert_int_eq(st, MCPAUTH_EUSAGE);
        ck_assert_ptr_nonnull(strstr(err.message, "secret"));
        c.client_secret = "";
        ck_assert_ptr_null(body_for(&c, &p, &st, &err));
    }
    mcpauth_oauth_token_client c = client_with(MCPAUTH_CLIENT_AUTH_NONE);
    c.client_id = "";
    mcpauth_status st;
    mcpauth_error err;
    ck_assert_ptr_null(body_for(&c, &p, &st, &err));
    ck_assert_int_eq(st, MCPAUTH_EUSAGE);
}
END_TEST

/* --- responses ------------------------------------------------------------- */

static mcpauth_status parse(long status, const char *body, mcpauth_oauth_token_response *out,
                            mcpauth_error *err)
{
    mcpauth_http_response resp = {
        .status = status, .body = (char *)body, .body_length = strlen(body)};
    memset(err, 0, sizeof *err);
    return mcpauth_oauth_token_response_parse(&resp, "https://as.example/token", out, err);
}

START_TEST(response_success)
{
    mcpauth_oauth_token_response r;
    mcpauth_error err;
    ck_assert_int_eq(parse(200,
                           "{\"access_token\":\"at-1.x/y+z=\",\"token_type\":\"bearer\","
                           "\"expires_in\":3600,\"refresh_token\":\"rt-1\",\"scope\":\"mcp\","
                           "\"extra\":{\"a\":1}}",
                           &r, &err),
                     MCPAUTH_OK);
    ck_assert_str_eq(r.access_token, "at-1.x/y+z=");
    ck_assert_str_eq(r.token_type, "bearer");
    ck_assert_str_eq(r.refresh_token, "rt-1");
    ck_assert_str_eq(r.scope, "mcp");
    ck_assert_int_eq(r.expires_in, 3600);
    ck_assert_ptr_nonnull(r.document);
    mcpauth_oauth_token_response_free(&r);
    ck_assert_ptr_null(r.document);
    ck_assert_ptr_null(r.access_token);
}
END_TEST

START_TEST(response_minimal)
{
    mcpauth_oauth_token_response r;
    mcpauth_error err;
    ck_assert_int_eq(parse(200, "{\"access_token\":\"a\",\"token_type\":\"Bearer\"}", &r, &err),
                     MCPAUTH_OK);
    ck_assert_ptr_null(r.refresh_token);
    ck_assert_ptr_null(r.scope);
    ck_assert_int_eq(r.expires_in, -1);
    mcpauth_oauth_token_response_free(&r);
    /* A numeric string for expires_in is tolerated. */
    ck_assert_int_eq(parse(200,
                           "{\"access_token\":\"a\",\"token_type\":\"BEARER\","
                           "\"expires_in\":\"60\"}",
                           &r, &err),
                     MCPAUTH_OK);
    ck_assert_int_eq(r.expires_in, 60);
    mcpauth_oauth_token_response_free(&r);
}
END_TEST

START_TEST(response_malformed)
{
    static const char *const bodies[] = {
        "",
        "not json",
        "[1]",
        "{}",
        "{\"token_type\":\"Bearer\"}",
        "{\"access_token\":\"a\"}",
        "{\"access_token\":42,\"token_type\":\"Bearer\"}",
        "{\"access_token\":\"\",\"token_type\":\"Bearer\"}",
        "{\"access_token\":\"has space\",\"token_type\":\"Bearer\"}",
        "{\"access_token\":\"line\\nbreak\",\"token_type\":\"Bearer\"}",
        "{\"access_token\":\"caf\\u00e9\",\"token_type\":\"Bearer\"}",
        "{\"access_token\":\"a\",\"token_type\":\"DPoP\"}",
        "{\"access_token\":\"a\",\"token_type\":\"N_A\"}",
        "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"refresh_token\":7}",
        "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"refresh_token\":\"a b\"}",
        "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"scope\":[\"mcp\"]}",
        "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"expires_in\":-1}",
        "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"expires_in\":1.5}",
        "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"expires_in\":\"soon\"}",
        "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"expires_in\":true}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        mcpauth_oauth_token_response r;
        mcpauth_error err;
        ck_assert_msg(parse(200, bodies[i], &r, &err) == MCPAUTH_EREMOTE, "%s", bodies[i]);
        ck_assert_ptr_null(r.document);
        ck_assert_ptr_nonnull(strstr(err.message, "https://as.example/token"));
        ck_assert_ptr_null(strstr(err.message, "has space"));
    }
}
END_TEST

START_TEST(response_oauth_errors)
{
    mcpauth_oauth_token_response r;
    mcpauth_error err;
    ck_assert_int_eq(parse(400,
                           "{\"error\":\"invalid_grant\",\"error_description\":\"grant "
                           "request is invalid\"}",
                           &r, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "HTTP 400"));
    ck_assert_ptr_nonnull(strstr(err.message, "invalid_grant: grant request is invalid"));
    ck_assert_int_eq(parse(401, "{\"error\":\"invalid_client\"}", &r, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "HTTP 401 Unauthorized: invalid_client"));
}
END_TEST

START_TEST(response_error_body_not_echoed)
{
    /* A broken server echoing the request must not get the secret, code or
     * refresh token into the message. */
    mcpauth_oauth_token_response r;
    mcpauth_error err;
    ck_assert_int_eq(
        parse(500, "grant_type=refresh_token&refresh_token=RT-SECRET&client_secret=S", &r, &err),
        MCPAUTH_EREMOTE);
    ck_assert_ptr_null(strstr(err.message, "RT-SECRET"));
    ck_assert_ptr_nonnull(strstr(err.message, "HTTP 500"));
    ck_assert_int_eq(parse(404, "{\"message\":\"RT-SECRET\"}", &r, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_null(strstr(err.message, "RT-SECRET"));
}
END_TEST

/* --- sending ----------------------------------------------------------------- */

START_TEST(request_refused_by_policy)
{
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_oauth_token_client c = client_with(MCPAUTH_CLIENT_AUTH_BASIC);
    c.token_endpoint = "http://as.example/token"; /* plain http, not loopback */
    mcpauth_oauth_token_params p = {.grant_type = "client_credentials"};
    mcpauth_oauth_token_response r;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_oauth_token_request(&opts, &c, &p, &r, &err), MCPAUTH_EUSAGE);
    ck_assert_ptr_null(r.document);
}
END_TEST

START_TEST(request_connection_refused)
{
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    opts.timeout_seconds = 5;
    mcpauth_oauth_token_client c = client_with(MCPAUTH_CLIENT_AUTH_POST);
    c.token_endpoint = "http://127.0.0.1:1/token";
    mcpauth_oauth_token_params p = {.grant_type = "client_credentials"};
    mcpauth_oauth_token_response r;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_oauth_token_request(&opts, &c, &p, &r, &err), MCPAUTH_ENETWORK);
}
END_TEST

START_TEST(request_incomplete_not_sent)
{
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_oauth_token_client c = client_with(MCPAUTH_CLIENT_AUTH_BASIC);
    c.token_endpoint = "http://127.0.0.1:1/token";
    mcpauth_oauth_token_params p = {.grant_type = "refresh_token"};
    mcpauth_oauth_token_response r;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_oauth_token_request(&opts, &c, &p, &r, &err), MCPAUTH_EUSAGE);
}
END_TEST

static Suite *token_request_suite(void)
{
    Suite *s = suite_create("token_request");

    TCase *tc = tcase_create("body");
    tcase_add_test(tc, auth_names);
    tcase_add_test(tc, client_credentials_basic);
    tcase_add_test(tc, client_credentials_post);
    tcase_add_test(tc, public_client_sends_id_only);
    tcase_add_test(tc, authorization_code_body);
    tcase_add_test(tc, refresh_with_scope);
    tcase_add_test(tc, incomplete_requests);
    tcase_add_test(tc, secret_methods_need_a_secret);
    suite_add_tcase(s, tc);

    tc = tcase_create("response");
    tcase_add_test(tc, response_success);
    tcase_add_test(tc, response_minimal);
    tcase_add_test(tc, response_malformed);
    tcase_add_test(tc, response_oauth_errors);
    tcase_add_test(tc, response_error_body_not_echoed);
    suite_add_tcase(s, tc);

    tc = tcase_create("request");
    tcase_add_test(tc, request_refused_by_policy);
    tcase_add_test(tc, request_connection_refused);
    tcase_add_test(tc, request_incomplete_not_sent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run_http(token_request_suite());
}
