/* RFC 7662 token introspection (src/oauth/introspection.c), blocking and on
 * a libuv loop, against a canned authorization server on 127.0.0.1: the
 * request sent, and how each kind of answer is judged. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/introspection.h"
#include "mcpauth/json.h"
#include "testlib.h"

#define TOKEN "tok-SECRET-4711"

#define ACTIVE_DOC                                                                                 \
    "{\"active\":true,\"client_id\":\"c\",\"sub\":\"alice\",\"scope\":\"mcp read\","               \
    "\"exp\":4102444800,\"aud\":\"http://127.0.0.1:8000/mcp\",\"extra\":1}"

static testlib_server *server;
static mcpauth_http_options opts;
static mcpauth_introspection_config cfg;
static mcpauth_error err;

static void setup(void)
{
    server = testlib_server_start();
    mcpauth_http_options_init(&opts);
    opts.timeout_seconds = 5;
    cfg = (mcpauth_introspection_config){
        .endpoint = testlib_server_url(server, "/introspect"),
        .client_id = "my client",
        .client_secret = "p@ss",
        .auth = MCPAUTH_CLIENT_AUTH_BASIC,
    };
    /* testlib_server_url's buffers rotate: keep the endpoint in our own. */
    static char endpoint[128];
    snprintf(endpoint, sizeof endpoint, "%s", cfg.endpoint);
    cfg.endpoint = endpoint;
    memset(&err, 0, sizeof err);
}

static void teardown(void)
{
    testlib_server_stop(server);
}

static void answer(int status, const char *body)
{
    testlib_server_json(server, "POST", "/introspect", status, body);
}

static void assert_sent(const char *needle, bool present)
{
    char *request = testlib_server_last_request(server);
    ck_assert_ptr_nonnull(request);
    ck_assert_msg(!strstr(request, needle) == !present, "\"%s\" %s in:\n%s", needle,
                  present ? "not" : "", request);
    free(request);
}

static mcpauth_status introspect(mcpauth_token_info *info, json_object **raw)
{
    return mcpauth_introspect_sync(&opts, &cfg, TOKEN, strlen(TOKEN), info, raw, &err);
}

static void assert_failed(mcpauth_status status, mcpauth_status expected, const char *message)
{
    ck_assert_int_eq(status, expected);
    ck_assert_msg(strstr(err.message, message), "\"%s\" not in \"%s\"", message, err.message);
    ck_assert_ptr_null(strstr(err.message, TOKEN));
}

/* --- blocking ----------------------------------------------------------- */

START_TEST(sync_active_basic)
{
    mcpauth_token_info info;
    json_object *raw = NULL;
    answer(200, ACTIVE_DOC);

    ck_assert_int_eq(introspect(&info, &raw), MCPAUTH_OK);
    ck_assert(info.active);
    ck_assert_str_eq(info.subject, "alice");
    ck_assert_str_eq(info.client_id, "c");
    ck_assert_uint_eq(info.scope_count, 2);
    ck_assert_str_eq(info.scopes[1], "read");
    ck_assert_uint_eq(info.audience_count, 1);
    ck_assert_int_eq(info.expires_at, 4102444800);
    ck_assert_int_eq(json_object_get_int(json_object_object_get(raw, "extra")), 1);

    /* RFC 7662 §2.1: a form POST; RFC 6749 §2.3.1: id and secret
     * form-encoded before base64 ("my+client:p%40ss"). */
    assert_sent("POST /introspect HTTP/1.1\r\n", true);
    assert_sent("\r\nContent-Type: application/x-www-form-urlencoded\r\n", true);
    assert_sent("\r\nAccept: application/json\r\n", true);
    assert_sent("\r\nAuthorization: Basic bXkrY2xpZW50OnAlNDBzcw==\r\n", true);
    assert_sent("\r\n\r\ntoken=" TOKEN "&token_type_hint=access_token", true);
    assert_sent("client_secret", false);
    mcpauth_token_info_free(&info);
    json_object_put(raw);
}
END_TEST

START_TEST(sync_client_secret_post)
{
    mcpauth_token_info info;
    cfg.auth = MCPAUTH_CLIENT_AUTH_POST;
    answer(200, ACTIVE_DOC);

    ck_assert_int_eq(introspect(&info, NULL), MCPAUTH_OK);
    ck_assert(info.active);
    assert_sent("token=" TOKEN "&token_type_hint=access_token&client_id=my+client&"
                "client_secret=p%40ss",
                true);
    assert_sent("Authorization:", false);
    mcpauth_token_info_free(&info);
}
END_TEST

START_TEST(sync_no_client_auth)
{
    mcpauth_token_info info;
    cfg.auth = MCPAUTH_CLIENT_AUTH_NONE;
    answer(200, ACTIVE_DOC);

    ck_assert_int_eq(introspect(&info, NULL), MCPAUTH_OK);
    assert_sent("Authorization:", false);
    assert_sent("client_secret", false);
    mcpauth_token_info_free(&info);
}
END_TEST

START_TEST(sync_inactive)
{
    mcpauth_token_info info;
    json_object *raw = NULL;
    /* RFC 7662 §2.2: an inactive answer need carry nothing else. */
    answer(200, "{\"active\":false}");

    ck_assert_int_eq(introspect(&info, &raw), MCPAUTH_OK);
    ck_assert(!info.active);
    ck_assert_ptr_null(info.subject);
    ck_assert(!json_object_get_boolean(json_object_object_get(raw, "active")));
    mcpauth_token_info_free(&info);
    json_object_put(raw);
}
END_TEST

START_TEST(sync_credentials_refused)
{
    mcpauth_token_info info;
    json_object *raw = (json_object *)&info;
    answer(401, "{\"error\":\"invalid_client\"}");

    assert_failed(introspect(&info, &raw), MCPAUTH_EREMOTE,
                  "introspection endpoint answered HTTP 401 Unauthorized: invalid_client (check "
                  "the resource server's client credentials)");
    ck_assert_ptr_null(raw);
    ck_assert(!info.active);
}
END_TEST

typedef struct bad_answer {
    int status;
    const char *body;
    const char *message;
} bad_answer;

static const bad_answer bad_answers[] = {
    {500, "{\"error\":\"server_error\"}",
     "introspection endpoint answered HTTP 500 Internal Server Error: server_error"},
    {404, "", "introspection endpoint answered HTTP 404 Not Found"},
    {200, "not json", "introspection response"},
    {200, "[true]", "introspection response is not a JSON object"},
    {200, "{\"sub\":\"alice\"}", "has no boolean active (RFC 7662 §2.2)"},
    {200, "{\"active\":\"true\"}", "has no boolean active (RFC 7662 §2.2)"},
    /* An endpoint that echoes the token: the message names it, never shows it. */
    {400, "bad token " TOKEN, "HTTP 400 Bad Request (body: bad token [token])"},
    {400, "{\"error\":\"invalid_request\",\"error_description\":\"no such token " TOKEN "\"}",
     "invalid_request: no such token [token]"},
};

START_TEST(sync_bad_answers)
{
    const bad_answer *b = &bad_answers[_i];
    mcpauth_token_info info;
    json_object *raw = (json_object *)&info;
    answer(b->status, b->body);

    assert_failed(introspect(&info, &raw), MCPAUTH_EREMOTE, b->message);
    ck_assert_ptr_null(raw);
    ck_assert(!info.active);
    ck_assert_ptr_null(info.subject);
}
END_TEST

START_TEST(sync_transport_failures)
{
    mcpauth_token_info info;

    char big[4096];
    memset(big, ' ', sizeof big - 1);
    memcpy(big, "{\"active\":false", 15);
    big[sizeof big - 2] = '}';
    big[sizeof big - 1] = '\0';
    answer(200, big);
    opts.max_response_bytes = 1024;
    assert_failed(introspect(&info, NULL), MCPAUTH_EREMOTE, "introspection failed: ");
    ck_assert_msg(strstr(err.message, "larger than the 1024-byte limit"), "%s", err.message);

    cfg.endpoint = "http://example.com/introspect";
    assert_failed(introspect(&info, NULL), MCPAUTH_EUSAGE, "introspection failed: ");
}
END_TEST

START_TEST(sync_timeout)
{
    mcpauth_token_info info;
    testlib_route r = {.method = "POST",
                       .target = "/introspect",
                       .status = 200,
                       .body = "{\"active\":true}",
                       .delay_ms = 4000};
    testlib_server_route(server, &r);
    opts.timeout_seconds = 1;

    assert_failed(introspect(&info, NULL), MCPAUTH_ENETWORK, "introspection failed: ");
    ck_assert(!info.active);
}
END_TEST

/* --- on the loop -------------------------------------------------------- */

typedef struct result {
    bool done;
    int calls;
    mcpauth_introspection_outcome outcome;
    char subject[64];
    bool had_info;
    char reason[MCPAUTH_ERROR_MESSAGE_MAX];
} result;

static void on_result(mcpauth_introspection_outcome outcome, const mcpauth_token_info *info,
                      const char *reason, void *data)
{
    result *r = data;
    r->calls++;
    r->done = true;
    r->outcome = outcome;
    r->had_info = info != NULL;
    if (info)
        snprintf(r->subject, sizeof r->subject, "%s", info->subject ? info->subject : "");
    snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "(null)");
}

/* Runs one asynchronous introspection to its end. */
static void introspect_async(result *r, long timeout_seconds)
{
    testlib_async async;
    testlib_async_init(&async, timeout_seconds);
    memset(r, 0, sizeof *r);
    ck_assert_int_eq(mcpauth_introspect(async.http, &cfg, TOKEN, strlen(TOKEN), on_result, r, &err),
                     MCPAUTH_OK);
    testlib_async_run_until(&async, &r->done);
    testlib_async_close(&async);
    ck_assert_int_eq(r->calls, 1);
    ck_assert_ptr_null(strstr(r->reason, TOKEN));
}

START_TEST(async_active)
{
    result r;
    answer(200, ACTIVE_DOC);
    introspect_async(&r, 5);
    ck_assert_int_eq(r.outcome, MCPAUTH_INTROSPECTION_ACTIVE);
    ck_assert(r.had_info);
    ck_assert_str_eq(r.subject, "alice");
    ck_assert_str_eq(r.reason, "(null)");
    /* The same request as the blocking variant. */
    assert_sent("\r\nAuthorization: Basic bXkrY2xpZW50OnAlNDBzcw==\r\n", true);
    assert_sent("\r\n\r\ntoken=" TOKEN "&token_type_hint=access_token", true);
}
END_TEST

START_TEST(async_inactive)
{
    result r;
    answer(200, "{\"active\":false,\"sub\":\"alice\"}");
    introspect_async(&r, 5);
    ck_assert_int_eq(r.outcome, MCPAUTH_INTROSPECTION_INACTIVE);
    ck_assert(!r.had_info);
    ck_assert_str_eq(r.reason, "token is not active (introspection)");
}
END_TEST

START_TEST(async_bad_answers)
{
    const bad_answer *b = &bad_answers[_i];
    result r;
    answer(b->status, b->body);
    introspect_async(&r, 5);
    ck_assert_int_eq(r.outcome, MCPAUTH_INTROSPECTION_FAILED);
    ck_assert(!r.had_info);
    ck_assert_msg(strstr(r.reason, b->message), "%s", r.reason);
}
END_TEST

START_TEST(async_credentials_refused)
{
    result r;
    answer(401, "{\"error\":\"invalid_client\"}");
    introspect_async(&r, 5);
    ck_assert_int_eq(r.outcome, MCPAUTH_INTROSPECTION_FAILED);
    ck_assert_msg(strstr(r.reason, "check the resource server's client credentials"), "%s",
                  r.reason);
}
END_TEST

START_TEST(async_timeout)
{
    result r;
    testlib_route route = {.method = "POST",
                           .target = "/introspect",
                           .status = 200,
                           .body = "{\"active\":true}",
                           .delay_ms = 4000};
    testlib_server_route(server, &route);
    introspect_async(&r, 1);
    ck_assert_int_eq(r.outcome, MCPAUTH_INTROSPECTION_FAILED);
    ck_assert_msg(strncmp(r.reason, "introspection failed: ", 22) == 0, "%s", r.reason);
}
END_TEST

START_TEST(async_refused_by_policy)
{
    testlib_async async;
    result r = {0};
    testlib_async_init(&async, 5);
    cfg.endpoint = "http://example.com/introspect";
    ck_assert_int_eq(
        mcpauth_introspect(async.http, &cfg, TOKEN, strlen(TOKEN), on_result, &r, &err),
        MCPAUTH_EUSAGE);
    testlib_async_close(&async);
    ck_assert_int_eq(r.calls, 0); /* an error from start: no callback */
    ck_assert_int_eq(testlib_server_hits(server, NULL, NULL), 0);
}
END_TEST

static Suite *introspection_suite(void)
{
    Suite *s = suite_create("introspection");
    TCase *tc;
    size_t bad_count = sizeof bad_answers / sizeof bad_answers[0];

    tc = tcase_create("sync");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sync_active_basic);
    tcase_add_test(tc, sync_client_secret_post);
    tcase_add_test(tc, sync_no_client_auth);
    tcase_add_test(tc, sync_inactive);
    tcase_add_test(tc, sync_credentials_refused);
    tcase_add_loop_test(tc, sync_bad_answers, 0, bad_count);
    tcase_add_test(tc, sync_transport_failures);
    tcase_add_test(tc, sync_timeout);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("async");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, async_active);
    tcase_add_test(tc, async_inactive);
    tcase_add_loop_test(tc, async_bad_answers, 0, bad_count);
    tcase_add_test(tc, async_credentials_refused);
    tcase_add_test(tc, async_timeout);
    tcase_add_test(tc, async_refused_by_policy);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run_http(introspection_suite());
}
