/* The token check behind `check-token --verify / --introspect`: the
 * comparison of two views of one token, and a local verification against a
 * JWK Set file (no network). Introspection runs against fake and real
 * servers in tests/integration and tests/interop. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mcpauth/jose.h"
#include "mcpauth/token_report.h"

#define ISSUER   "https://as.example"
#define RESOURCE "https://rs.example/mcp"

static char *strings[] = {"mcp", "read", "other"};

static mcpauth_token_info info_of(char *subject, char **scopes, size_t scope_count)
{
    return (mcpauth_token_info){
        .active = true,
        .subject = subject,
        .client_id = "c1",
        .issuer = ISSUER,
        .scopes = scopes,
        .scope_count = scope_count,
        .expires_at = 100,
    };
}

START_TEST(compare_agree)
{
    char *reversed[] = {"read", "mcp"};
    mcpauth_token_info a = info_of("alice", strings, 2), b = info_of("alice", reversed, 2);
    char buf[128] = "x";
    mcpauth_probe_token_compare(&a, &b, buf, sizeof buf);
    ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(compare_disagree)
{
    mcpauth_token_info a = info_of("alice", strings, 2), b = info_of("bob", strings, 3);
    b.expires_at = 101;
    b.issuer = NULL;
    char buf[128];
    mcpauth_probe_token_compare(&a, &b, buf, sizeof buf);
    ck_assert_str_eq(buf, "sub, iss, exp, scope");
    /* Cut short, never past the buffer. */
    char small[8];
    mcpauth_probe_token_compare(&a, &b, small, sizeof small);
    ck_assert_str_eq(small, "sub");
}
END_TEST

/* ---- --verify with a key file ---- */

static mcpauth_jws_signer *signer;
static char dir[64];
static char path[128];

static void setup_keys(void)
{
    mcpauth_error err = {0};
    signer = mcpauth_jws_signer_generate_es256(&err);
    ck_assert_msg(signer != NULL, "%s", err.message);
    strcpy(dir, "/tmp/mcpauth-report-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/jwks.json", dir);
    json_object *set = json_object_new_object(), *keys = json_object_new_array();
    json_object_array_add(keys, mcpauth_jws_signer_public_jwk(signer));
    json_object_object_add(set, "keys", keys);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(json_object_to_json_string(set), f);
    fclose(f);
    json_object_put(set);
}

static void teardown_keys(void)
{
    unlink(path);
    rmdir(dir);
    mcpauth_jws_signer_free(signer);
}

static char *mint(const char *audience, int64_t now)
{
    json_object *claims = json_object_new_object();
    json_object_object_add(claims, "iss", json_object_new_string(ISSUER));
    json_object_object_add(claims, "sub", json_object_new_string("alice"));
    json_object_object_add(claims, "aud", json_object_new_string(audience));
    json_object_object_add(claims, "client_id", json_object_new_string("c1"));
    json_object_object_add(claims, "scope", json_object_new_string("mcp"));
    json_object_object_add(claims, "iat", json_object_new_int64(now));
    json_object_object_add(claims, "exp", json_object_new_int64(now + 300));
    json_object_object_add(claims, "jti", json_object_new_string("j1"));
    mcpauth_error err = {0};
    char *token = mcpauth_jws_sign(signer, "at+jwt", claims, &err);
    ck_assert_msg(token != NULL, "%s", err.message);
    json_object_put(claims);
    return token;
}

static mcpauth_probe_token_config verify_config(const char *const *audiences)
{
    mcpauth_probe_token_config config = {
        .verify = true,
        .jwks_file = path,
        .policy = {.issuer = ISSUER,
                   .audiences = audiences,
                   .audience_count = 1,
                   .leeway_seconds = 30,
                   .require_expiry = true},
    };
    mcpauth_jwt_policy_init(&config.jwt);
    return config;
}

START_TEST(verify_good)
{
    static const char *const audiences[] = {RESOURCE};
    mcpauth_probe_token_config config = verify_config(audiences);
    int64_t now = (int64_t)time(NULL);
    char *token = mint(RESOURCE, now);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_probe_token_report report;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_probe_token(&opts, &config, token, now, &report, &err), MCPAUTH_OK);
    ck_assert(report.jwt.asked && report.jwt.accepted && report.jwt.claims_ok);
    ck_assert(!report.introspection.asked);
    ck_assert_str_eq(report.why, "");
    ck_assert_str_eq(report.disagree, "");
    ck_assert_str_eq(report.jwt.info.subject, "alice");
    ck_assert_ptr_nonnull(strstr(report.jwt.how, "ES256, kid "));
    ck_assert_ptr_nonnull(strstr(report.jwt.source, path));
    ck_assert_ptr_nonnull(report.jwt.raw);
    mcpauth_probe_token_report_free(&report);
    free(token);
}
END_TEST

/* A good signature on a token for another audience: the claims fail, and
 * that is the verdict, not an error. */
START_TEST(verify_wrong_audience)
{
    static const char *const audiences[] = {RESOURCE};
    mcpauth_probe_token_config config = verify_config(audiences);
    int64_t now = (int64_t)time(NULL);
    char *token = mint("https://elsewhere.example/mcp", now);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_probe_token_report report;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_probe_token(&opts, &config, token, now, &report, &err), MCPAUTH_OK);
    ck_assert(report.jwt.accepted && !report.jwt.claims_ok);
    ck_assert_ptr_nonnull(strstr(report.why, "audience"));
    ck_assert_ptr_null(strstr(report.why, token));
    mcpauth_probe_token_report_free(&report);
    free(token);
}
END_TEST

START_TEST(verify_opaque_and_bad_file)
{
    static const char *const audiences[] = {RESOURCE};
    mcpauth_probe_token_config config = verify_config(audiences);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_probe_token_report report;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_probe_token(&opts, &config, "opaque-token", 0, &report, &err),
                     MCPAUTH_OK);
    ck_assert(report.jwt.asked && !report.jwt.accepted);
    ck_assert_str_eq(report.why, "not a JWT (an opaque token: use --introspect)");
    mcpauth_probe_token_report_free(&report);

    config.jwks_file = "/nonexistent/jwks.json";
    char *token = mint(RESOURCE, 0);
    ck_assert_int_eq(mcpauth_probe_token(&opts, &config, token, 0, &report, &err), MCPAUTH_ELOCAL);
    mcpauth_probe_token_report_free(&report);
    free(token);
}
END_TEST

static Suite *token_report_suite(void)
{
    Suite *s = suite_create("token_report");
    TCase *tc = tcase_create("compare");
    tcase_add_test(tc, compare_agree);
    tcase_add_test(tc, compare_disagree);
    suite_add_tcase(s, tc);
    tc = tcase_create("verify");
    tcase_add_checked_fixture(tc, setup_keys, teardown_keys);
    tcase_add_test(tc, verify_good);
    tcase_add_test(tc, verify_wrong_audience);
    tcase_add_test(tc, verify_opaque_and_bad_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(token_report_suite());
    srunner_run_all(runner, CK_ENV);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
