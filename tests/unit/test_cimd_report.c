#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/cimd_report.h"
#include "mcpauth/json.h"
#include "testlib.h"

#define URL "https://app.example/oauth/client.json"

/* What a report said: each check's verdict and detail, in order. */
typedef struct seen {
    char names[40][32];
    mcpauth_oauth_cimd_report_verdict verdicts[40];
    char details[40][512];
    size_t count;
} seen;

static void collect(const mcpauth_oauth_cimd_report_result *result, void *data)
{
    seen *s = data;
    ck_assert_uint_lt(s->count, 40);
    snprintf(s->names[s->count], sizeof s->names[0], "%s", result->name);
    s->verdicts[s->count] = result->verdict;
    snprintf(s->details[s->count], sizeof s->details[0], "%s", result->detail);
    ck_assert_ptr_null(strchr(result->detail, '\n'));
    s->count++;
}

static mcpauth_oauth_cimd_report report_into(seen *s)
{
    memset(s, 0, sizeof *s);
    return (mcpauth_oauth_cimd_report){.cb = collect, .data = s};
}

/* The verdict of check name, which must have been reported exactly once. */
static mcpauth_oauth_cimd_report_verdict verdict_of(const seen *s, const char *name)
{
    int found = -1;
    for (size_t i = 0; i < s->count; i++) {
        if (strcmp(s->names[i], name) == 0) {
            ck_assert_msg(found < 0, "%s reported twice", name);
            found = (int)i;
        }
    }
    ck_assert_msg(found >= 0, "%s not reported", name);
    return s->verdicts[found];
}

static const char *detail_of(const seen *s, const char *name)
{
    for (size_t i = 0; i < s->count; i++) {
        if (strcmp(s->names[i], name) == 0)
            return s->details[i];
    }
    ck_abort_msg("%s not reported", name);
    return NULL;
}

/* Every check but the ones named in fails (NULL-terminated) passed; those failed. */
static void assert_only_failures(const seen *s, const char *const *fails)
{
    for (size_t i = 0; i < s->count; i++) {
        bool expected = false;
        for (const char *const *f = fails; *f; f++)
            expected = expected || strcmp(*f, s->names[i]) == 0;
        ck_assert_msg(s->verdicts[i] == (expected ? MCPAUTH_OAUTH_CIMD_REPORT_FAIL
                                                  : MCPAUTH_OAUTH_CIMD_REPORT_PASS),
                      "%s: %s (%s)", s->names[i],
                      mcpauth_oauth_cimd_report_verdict_name(s->verdicts[i]), s->details[i]);
    }
    for (const char *const *f = fails; *f; f++)
        ck_assert_int_eq(verdict_of(s, *f), MCPAUTH_OAUTH_CIMD_REPORT_FAIL);
}

static json_object *doc_from(const char *text)
{
    mcpauth_error err = {0};
    json_object *doc = mcpauth_json_parse_object(text, strlen(text), "test", &err);
    ck_assert_msg(doc != NULL, "%s: %s", text, err.message);
    return doc;
}

#define GOOD_DOC                                                                                   \
    "{\"client_id\": \"" URL "\", \"client_name\": \"App\","                                       \
    " \"redirect_uris\": [\"http://127.0.0.1:3000/callback\"],"                                    \
    " \"grant_types\": [\"authorization_code\", \"refresh_token\"],"                               \
    " \"response_types\": [\"code\"], \"token_endpoint_auth_method\": \"none\"}"

#define GOOD_AS                                                                                    \
    "{\"issuer\": \"https://as.example\", \"client_id_metadata_document_supported\": true,"        \
    " \"response_types_supported\": [\"code\"],"                                                   \
    " \"grant_types_supported\": [\"authorization_code\", \"refresh_token\"],"                     \
    " \"token_endpoint_auth_methods_supported\": [\"none\", \"private_key_jwt\"],"                 \
    " \"code_challenge_methods_supported\": [\"S256\"]}"

/* --- the URL ------------------------------------------------------------ */

static const struct {
    const char *url;
    const char *fails[3];
} url_cases[] = {
    {URL, {NULL}},
    {"https://app.example/c.json?v=1", {NULL}},
    {"http://app.example/client.json", {"https", NULL}},
    {"HTTPS://app.example/client.json", {"https", NULL}},
    {"https://app.example", {"client-id-url", NULL}},
    {"https://app.example/", {"client-id-url", NULL}},
    {"https://app.example/client.json#x", {"client-id-url", NULL}},
    {"https://app.example/a/../client.json", {"client-id-url", NULL}},
    {"https://app.example/./client.json", {"client-id-url", NULL}},
    {"https://app.example/a/..", {"client-id-url", NULL}},
    {"https://user:pw@app.example/client.json", {"client-id-url", NULL}},
    {"ftp://app.example/client.json", {"https", "client-id-url", NULL}},
};

START_TEST(url_checks)
{
    seen s;
    mcpauth_oauth_cimd_report r = report_into(&s);
    mcpauth_oauth_cimd_report_url(&r, url_cases[_i].url);
    ck_assert_uint_eq(s.count, 2);
    assert_only_failures(&s, url_cases[_i].fails);
}
END_TEST

START_TEST(url_dots_inside_names_are_fine)
{
    seen s;
    mcpauth_oauth_cimd_report r = report_into(&s);
    mcpauth_oauth_cimd_report_url(&r, "https://app.example/.well-known/..client.json");
    ck_assert_int_eq(verdict_of(&s, "client-id-url"), MCPAUTH_OAUTH_CIMD_REPORT_PASS);
}
END_TEST

/* --- the response ------------------------------------------------------- */

static mcpauth_http_response response(long status, const char *url, const char *type,
                                      const char *body)
{
    static mcpauth_http_header header;
    header.name = (char *)"Content-Type";
    header.value = (char *)type;
    return (mcpauth_http_response){
        .status = status,
        .url = (char *)url,
        .body = (char *)body,
        .body_length = strlen(body),
        .headers = type ? &header : NULL,
        .header_count = type ? 1 : 0,
    };
}

START_TEST(response_good)
{
    seen s;
    mcpauth_oauth_cimd_report r = report_into(&s);
    mcpauth_http_response resp = response(200, URL, "application/json; charset=utf-8", GOOD_DOC);
    json_object *doc = mcpauth_oauth_cimd_report_response(&r, URL, &resp);
    ck_assert_ptr_nonnull(doc);
    ck_assert_uint_eq(s.count, 5);
    static const char *const none[] = {NULL};
    assert_only_failures(&s, none);
    json_object_put(doc);
}
END_TEST

START_TEST(response_redirected)
{
    seen s;
    mcpauth_oauth_cimd_report r = report_into(&s);
    mcpauth_http_response resp =
        response(200, "https://elsewhere.example/c.json", "application/json", GOOD_DOC);
    json_object_put(mcpauth_oauth_cimd_report_response(&r, URL, &resp));
    static const char *const fails[] = {"no-redirect", NULL};
    assert_only_failures(&s, fails);
    ck_assert_ptr_nonnull(strstr(detail_of(&s, "no-redirect"), "elsewhere.example"));
}
END_TEST

START_TEST(response_bad_status_type_and_body)
{
    seen s;
    mcpauth_oauth_cimd_report r = report_into(&s);
    mcpauth_http_response resp = response(404, URL, "text/html", "<h1>not here</h1>");
    ck_assert_ptr_null(mcpauth_oauth_cimd_report_response(&r, URL, &resp));
    static const char *const fails[] = {"status-200", "content-type", "json-object", NULL};
    assert_only_failures(&s, fails);
    ck_assert_ptr_nonnull(strstr(detail_of(&s, "status-200"), "404"));
}
END_TEST

START_TEST(response_no_content_type_and_array)
{
    seen s;
    mcpauth_oauth_cimd_report r = report_into(&s);
    mcpauth_http_response resp = response(200, URL, NULL, "[1, 2]");
    ck_assert_ptr_null(mcpauth_oauth_cimd_report_response(&r, URL, &resp));
    static const char *const fails[] = {"content-type", "json-object", NULL};
    assert_only_failures(&s, fails);
}
END_TEST

START_TEST(response_size_limit_edge)
{
    char *body = malloc(MCPAUTH_OAUTH_CIMD_REPORT_MAX_BYTES + 2);
    ck_assert_ptr_nonnull(body);
    for (int extra = 0; extra <= 1; extra++) {
        size_t length = MCPAUTH_OAUTH_CIMD_REPORT_MAX_BYTES + (size_t)extra;
        /* {"a":"xxxx...x"} of exactly length bytes */
        memset(body, 'x', length);
        memcpy(body, "{\"a\":\"", 6);
        memcpy(body + length - 2, "\"}", 2);
        body[length] = '\0';
        seen s;
        mcpauth_oauth_cimd_report r = report_into(&s);
        mcpauth_http_response resp = response(200, URL, "application/json", body);
        json_object_put(mcpauth_oauth_cimd_report_response(&r, URL, &resp));
        ck_assert_int_eq(verdict_of(&s, "size"),
                         extra ? MCPAUTH_OAUTH_CIMD_REPORT_FAIL : MCPAUTH_OAUTH_CIMD_REPORT_PASS);
        ck_assert_int_eq(verdict_of(&s, "json-object"), MCPAUTH_OAUTH_CIMD_REPORT_PASS);
    }
    free(body);
}
END_TEST

/* --- the document ------------------------------------------------------- */

static const struct {
    const char *doc;
    const char *fails[3];
} doc_cases[] = {
    {GOOD_DOC, {NULL}},
    /* byte for byte: a trailing slash or another case is another id */
    {"{\"client_id\": \"" URL "/\", \"client_name\": \"A\", \"redirect_uris\": "
     "[\"https://app.example/cb\"], \"token_endpoint_auth_method\": \"none\"}",
     {"client-id", NULL}},
    {"{\"client_id\": \"https://APP.example/oauth/client.json\", \"client_name\": \"A\", "
     "\"redirect_uris\": [\"https://app.example/cb\"], \"token_endpoint_auth_method\": \"none\"}",
     {"client-id", NULL}},
    {"{\"client_name\": \"A\", \"redirect_uris\": [\"https://app.example/cb\"], "
     "\"token_endpoint_auth_method\": \"none\"}",
     {"client-id", NULL}},
    /* a NUL after the matching prefix */
    {"{\"client_id\": \"" URL "\\u0000.evil\", \"client_name\": \"A\", \"redirect_uris\": "
     "[\"https://app.example/cb\"], \"token_endpoint_auth_method\": \"none\"}",
     {"client-id", NULL}},
    {"{\"client_id\": \"" URL "\", \"client_name\": \"A\", \"redirect_uris\": "
     "[\"https://app.example/cb\"]}",
     {"auth-method", NULL}},
    {"{\"client_id\": \"" URL "\", \"client_name\": \"A\", \"redirect_uris\": "
     "[\"https://app.example/cb\"], \"token_endpoint_auth_method\": \"client_secret_basic\"}",
     {"auth-method", NULL}},
    {"{\"client_id\": \"" URL "\", \"client_name\": \"A\", \"redirect_uris\": "
     "[\"https://app.example/cb\"], \"token_endpoint_auth_method\": \"private_key_jwt\"}",
     {"auth-method", NULL}},
    {"{\"client_id\": \"" URL "\", \"client_name\": \"A\", \"redirect_uris\": "
     "[\"https://app.example/cb\"], \"token_endpoint_auth_method\": \"private_key_jwt\", "
     "\"jwks_uri\": \"https://app.example/jwks\"}",
     {NULL}},
    {"{\"client_id\": \"" URL "\", \"client_name\": \"A\", \"redirect_uris\": "
     "[\"https://app.example/cb\"], \"token_endpoint_auth_method\": \"none\", "
     "\"client_secret\": \"s3cret-value\"}",
     {"no-secret", NULL}},
    {"{\"client_id\": \"" URL "\", \"client_name\": \"A\", \"redirect_uris\": "
     "[\"https://app.example/cb\"], \"token_endpoint_auth_method\": \"none\", "
     "\"client_secret_expires_at\": 0}",
     {"no-secret", NULL}},
    {"{\"client_id\": \"" URL "\", \"redirect_uris\": [\"https://app.example/cb\"], "
     "\"token_endpoint_auth_method\": \"none\"}",
     {"client-name", NULL}},
    {"{\"client_id\": \"" URL "\", \"client_name\": \"A\", \"token_endpoint_auth_method\": "
     "\"none\"}",
     {"redirect-uris", NULL}},
    {"{\"client_id\": \"" URL "\", \"client_name\": \"A\", \"redirect_uris\": [], "
     "\"token_endpoint_auth_method\": \"none\"}",
     {"redirect-uris", NULL}},
    {"{\"client_id\": \"" URL "\", \"client_name\": \"A\", \"redirect_uris\": "
     "[\"http://app.example/cb\"], \"token_endpoint_auth_method\": \"none\"}",
     {"redirect-uris", "metadata"}},
    {"{\"client_id\": \"" URL "\", \"client_name\": \"A\", \"redirect_uris\": "
     "[\"https://app.example/cb\"], \"token_endpoint_auth_method\": \"none\", "
     "\"logo_uri\": \"not a uri\"}",
     {"metadata", NULL}},
};

START_TEST(document_checks)
{
    seen s;
    mcpauth_oauth_cimd_report r = report_into(&s);
    json_object *doc = doc_from(doc_cases[_i].doc);
    mcpauth_oauth_cimd_report_document(&r, URL, doc);
    ck_assert_uint_eq(s.count, 6);
    assert_only_failures(&s, doc_cases[_i].fails);
    json_object_put(doc);
}
END_TEST

START_TEST(document_secret_never_echoed)
{
    seen s;
    mcpauth_oauth_cimd_report r = report_into(&s);
    size_t with_secret = 0;
    while (!strstr(doc_cases[with_secret].doc, "s3cret-value"))
        with_secret++;
    json_object *doc = doc_from(doc_cases[with_secret].doc);
    mcpauth_oauth_cimd_report_document(&r, URL, doc);
    for (size_t i = 0; i < s.count; i++)
        ck_assert_ptr_null(strstr(s.details[i], "s3cret-value"));
    json_object_put(doc);
}
END_TEST

START_TEST(document_absent_skips)
{
    seen s;
    mcpauth_oauth_cimd_report r = report_into(&s);
    mcpauth_oauth_cimd_report_document(&r, URL, NULL);
    ck_assert_uint_eq(s.count, 6);
    ck_assert_uint_eq(r.skipped, 6);
    ck_assert_uint_eq(r.failed, 0);
}
END_TEST

/* --- the authorization server ------------------------------------------- */

static const struct {
    const char *as;
    const char *fails[3];
} server_cases[] = {
    {GOOD_AS, {NULL}},
    {"{\"response_types_supported\": [\"code\"], \"grant_types_supported\": "
     "[\"authorization_code\", \"refresh_token\"], \"token_endpoint_auth_methods_supported\": "
     "[\"none\"], \"code_challenge_methods_supported\": [\"S256\"]}",
     {"as-cimd-supported", NULL}},
    {"{\"client_id_metadata_document_supported\": \"true\", \"response_types_supported\": "
     "[\"code\"], \"grant_types_supported\": [\"authorization_code\", \"refresh_token\"], "
     "\"token_endpoint_auth_methods_supported\": [\"none\"], "
     "\"code_challenge_methods_supported\": [\"S256\"]}",
     {"as-cimd-supported", NULL}},
    /* absent auth methods: client_secret_basic only (RFC 8414 §2) */
    {"{\"client_id_metadata_document_supported\": true, \"response_types_supported\": "
     "[\"code\"], \"grant_types_supported\": [\"authorization_code\", \"refresh_token\"], "
     "\"code_challenge_methods_supported\": [\"S256\"]}",
     {"as-auth-method", NULL}},
    /* absent grant types: authorization_code and implicit, no refresh_token */
    {"{\"client_id_metadata_document_supported\": true, \"response_types_supported\": "
     "[\"code\"], \"token_endpoint_auth_methods_supported\": [\"none\"], "
     "\"code_challenge_methods_supported\": [\"S256\"]}",
     {"as-grant-types", NULL}},
    {"{\"client_id_metadata_document_supported\": true, \"response_types_supported\": "
     "[\"token\"], \"grant_types_supported\": [\"authorization_code\", \"refresh_token\"], "
     "\"token_endpoint_auth_methods_supported\": [\"none\"], "
     "\"code_challenge_methods_supported\": [\"S256\"]}",
     {"as-response-types", NULL}},
    {"{\"client_id_metadata_document_supported\": true, \"grant_types_supported\": "
     "[\"authorization_code\", \"refresh_token\"], \"token_endpoint_auth_methods_supported\": "
     "[\"none\"], \"code_challenge_methods_supported\": [\"S256\"]}",
     {"as-response-types", NULL}},
    {"{\"client_id_metadata_document_supported\": true, \"response_types_supported\": "
     "[\"code\"], \"grant_types_supported\": [\"authorization_code\", \"refresh_token\"], "
     "\"token_endpoint_auth_methods_supported\": [\"none\"], "
     "\"code_challenge_methods_supported\": [\"plain\"]}",
     {"as-pkce-s256", NULL}},
};

START_TEST(server_checks)
{
    seen s;
    mcpauth_oauth_cimd_report r = report_into(&s);
    json_object *doc = doc_from(GOOD_DOC);
    json_object *as = doc_from(server_cases[_i].as);
    mcpauth_oauth_cimd_report_server(&r, doc, as);
    ck_assert_uint_eq(s.count, 5);
    assert_only_failures(&s, server_cases[_i].fails);
    json_object_put(doc);
    json_object_put(as);
}
END_TEST

START_TEST(server_defaults_for_the_document)
{
    /* A document without grant_types or response_types means
     * authorization_code and code (RFC 7591 §2). */
    seen s;
    mcpauth_oauth_cimd_report r = report_into(&s);
    json_object *doc = doc_from("{\"token_endpoint_auth_method\": \"none\"}");
    json_object *as = doc_from("{\"client_id_metadata_document_supported\": true, "
                               "\"response_types_supported\": [\"code\"], "
                               "\"grant_types_supported\": [\"authorization_code\"], "
                               "\"token_endpoint_auth_methods_supported\": [\"none\"], "
                               "\"code_challenge_methods_supported\": [\"S256\"]}");
    mcpauth_oauth_cimd_report_server(&r, doc, as);
    static const char *const none[] = {NULL};
    assert_only_failures(&s, none);
    json_object_put(doc);
    json_object_put(as);
}
END_TEST

START_TEST(server_absent_skips)
{
    seen s;
    mcpauth_oauth_cimd_report r = report_into(&s);
    json_object *as = doc_from(GOOD_AS);
    mcpauth_oauth_cimd_report_server(&r, NULL, as);
    ck_assert_int_eq(verdict_of(&s, "as-cimd-supported"), MCPAUTH_OAUTH_CIMD_REPORT_PASS);
    ck_assert_uint_eq(r.skipped, 4);
    json_object_put(as);

    r = report_into(&s);
    mcpauth_oauth_cimd_report_server(&r, NULL, NULL);
    ck_assert_uint_eq(r.skipped, 5);
}
END_TEST

/* --- fill ----------------------------------------------------------------- */

START_TEST(fill_sets_missing_only)
{
    mcpauth_error err = {0};
    json_object *doc = doc_from("{}");
    ck_assert_int_eq(mcpauth_oauth_cimd_report_fill(doc, URL, &err), MCPAUTH_OK);
    ck_assert_str_eq(mcpauth_json_string(doc, "client_id"), URL);
    ck_assert_str_eq(mcpauth_json_string(doc, "token_endpoint_auth_method"), "none");
    json_object_put(doc);

    doc = doc_from("{\"client_id\": \"other\", \"token_endpoint_auth_method\": "
                   "\"private_key_jwt\"}");
    ck_assert_int_eq(mcpauth_oauth_cimd_report_fill(doc, URL, &err), MCPAUTH_OK);
    ck_assert_str_eq(mcpauth_json_string(doc, "client_id"), "other");
    ck_assert_str_eq(mcpauth_json_string(doc, "token_endpoint_auth_method"), "private_key_jwt");
    json_object_put(doc);
}
END_TEST

/* --- all of it, against the canned server (plain http on loopback) ------- */

START_TEST(run_against_server)
{
    testlib_server *srv = testlib_server_start();
    testlib_server_route(srv, &(testlib_route){
                                  .method = "GET",
                                  .target = "/oauth/client.json",
                                  .status = 200,
                                  .headers = "Content-Type: application/json\r\n",
                                  .body = "{\"client_id\": \"%s/oauth/client.json\", "
                                          "\"client_name\": \"App\", \"redirect_uris\": "
                                          "[\"http://127.0.0.1:3000/cb\"], "
                                          "\"token_endpoint_auth_method\": \"none\"}",
                              });
    testlib_server_route(srv, &(testlib_route){
                                  .method = "GET",
                                  .target = "/.well-known/oauth-authorization-server",
                                  .status = 200,
                                  .headers = "Content-Type: application/json\r\n",
                                  .body = "{\"issuer\": \"%s\", "
                                          "\"client_id_metadata_document_supported\": true, "
                                          "\"response_types_supported\": [\"code\"], "
                                          "\"token_endpoint_auth_methods_supported\": [\"none\"], "
                                          "\"code_challenge_methods_supported\": [\"S256\"]}",
                              });
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    seen s;
    mcpauth_oauth_cimd_report r = report_into(&s);
    char url[256];
    snprintf(url, sizeof url, "%s", testlib_server_url(srv, "/oauth/client.json"));
    mcpauth_oauth_cimd_report_run(&opts, url, testlib_server_base(srv), NULL, &r);
    /* Only the scheme fails: the test server speaks plain http. */
    static const char *const fails[] = {"https", NULL};
    assert_only_failures(&s, fails);
    ck_assert_uint_eq(s.count, 2 + 1 + 5 + 6 + 1 + 5);
    ck_assert_str_eq(s.names[0], "https");
    ck_assert_str_eq(s.names[s.count - 1], "as-pkce-s256");

    /* Nothing there and no metadata: fetch and as-metadata fail, the rest skip. */
    r = report_into(&s);
    mcpauth_oauth_cimd_report_run(&opts, "http://127.0.0.1:1/c.json", "http://127.0.0.1:1", NULL,
                                  &r);
    ck_assert_int_eq(verdict_of(&s, "fetch"), MCPAUTH_OAUTH_CIMD_REPORT_FAIL);
    ck_assert_int_eq(verdict_of(&s, "as-metadata"), MCPAUTH_OAUTH_CIMD_REPORT_FAIL);
    ck_assert_int_eq(verdict_of(&s, "client-id"), MCPAUTH_OAUTH_CIMD_REPORT_SKIP);
    ck_assert_int_eq(verdict_of(&s, "as-cimd-supported"), MCPAUTH_OAUTH_CIMD_REPORT_SKIP);
    testlib_server_stop(srv);
}
END_TEST

static Suite *cimd_check_suite(void)
{
    Suite *s = suite_create("cimd_report");
    TCase *tc = tcase_create("url");
    tcase_add_loop_test(tc, url_checks, 0, (int)(sizeof url_cases / sizeof url_cases[0]));
    tcase_add_test(tc, url_dots_inside_names_are_fine);
    suite_add_tcase(s, tc);

    tc = tcase_create("response");
    tcase_add_test(tc, response_good);
    tcase_add_test(tc, response_redirected);
    tcase_add_test(tc, response_bad_status_type_and_body);
    tcase_add_test(tc, response_no_content_type_and_array);
    tcase_add_test(tc, response_size_limit_edge);
    suite_add_tcase(s, tc);

    tc = tcase_create("document");
    tcase_add_loop_test(tc, document_checks, 0, (int)(sizeof doc_cases / sizeof doc_cases[0]));
    tcase_add_test(tc, document_secret_never_echoed);
    tcase_add_test(tc, document_absent_skips);
    suite_add_tcase(s, tc);

    tc = tcase_create("server");
    tcase_add_loop_test(tc, server_checks, 0, (int)(sizeof server_cases / sizeof server_cases[0]));
    tcase_add_test(tc, server_defaults_for_the_document);
    tcase_add_test(tc, server_absent_skips);
    suite_add_tcase(s, tc);

    tc = tcase_create("fill");
    tcase_add_test(tc, fill_sets_missing_only);
    suite_add_tcase(s, tc);

    tc = tcase_create("run");
    tcase_add_test(tc, run_against_server);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run_http(cimd_check_suite());
}
