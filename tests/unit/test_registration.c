/* RFC 7591 dynamic client registration and RFC 7592 client management
 * (src/oauth/registration.c) against a canned server on 127.0.0.1: what is
 * sent, what is accepted, and how every refusal reads. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/json.h"
#include "mcpauth/oauth_error.h"
#include "mcpauth/registration.h"
#include "testlib.h"

#define CLIENT_DOC "{\"client_id\":\"c-1\",\"client_name\":\"server's name\"}"

static testlib_server *server;
static mcpauth_http_options opts;
static mcpauth_error err;

static void setup(void)
{
    server = testlib_server_start();
    mcpauth_http_options_init(&opts);
    opts.timeout_seconds = 5;
    memset(&err, 0, sizeof err);
}

static void teardown(void)
{
    testlib_server_stop(server);
}

static json_object *metadata(void)
{
    json_object *md = json_object_new_object();
    json_object_object_add(md, "client_name", json_object_new_string("requested name"));
    json_object *uris = json_object_new_array();
    json_object_array_add(uris, json_object_new_string("http://127.0.0.1:9/cb"));
    json_object_object_add(md, "redirect_uris", uris);
    return md;
}

/* The last request must contain needle. */
static void assert_sent(const char *needle)
{
    char *request = testlib_server_last_request(server);
    ck_assert_ptr_nonnull(request);
    ck_assert_msg(strstr(request, needle), "no \"%s\" in:\n%s", needle, request);
    free(request);
}

static void assert_not_sent(const char *needle)
{
    char *request = testlib_server_last_request(server);
    ck_assert_ptr_nonnull(request);
    ck_assert_msg(!strstr(request, needle), "\"%s\" in:\n%s", needle, request);
    free(request);
}

static void assert_message(const char *expected)
{
    ck_assert_msg(strstr(err.message, expected), "\"%s\" not in \"%s\"", expected, err.message);
}

/* --- create (RFC 7591 §3) ----------------------------------------------- */

START_TEST(create_201)
{
    json_object *md = metadata(), *client = NULL;
    testlib_server_json(server, "POST", "/register", 201, CLIENT_DOC);

    ck_assert_int_eq(mcpauth_registration_create(&opts, testlib_server_url(server, "/register"), md,
                                                 NULL, &client, &err),
                     MCPAUTH_OK);
    /* RFC 7591 §3.2.1: the server's values, not the requested ones. */
    ck_assert_str_eq(mcpauth_json_string(client, "client_id"), "c-1");
    ck_assert_str_eq(mcpauth_json_string(client, "client_name"), "server's name");
    assert_sent("POST /register HTTP/1.1\r\n");
    assert_sent("\r\nContent-Type: application/json\r\n");
    assert_sent("\"client_name\":\"requested name\"");
    assert_sent("\"redirect_uris\":[\"http://127.0.0.1:9/cb\"]");
    assert_not_sent("Authorization:");
    ck_assert_int_eq(testlib_server_hits(server, "POST", "/register"), 1);
    json_object_put(client);
    json_object_put(md);
}
END_TEST

START_TEST(create_200_with_initial_access_token)
{
    json_object *md = metadata(), *client = NULL;
    testlib_server_json(server, "POST", "/register", 200, CLIENT_DOC);

    ck_assert_int_eq(mcpauth_registration_create(&opts, testlib_server_url(server, "/register"), md,
                                                 "iat-123", &client, &err),
                     MCPAUTH_OK);
    ck_assert_str_eq(mcpauth_json_string(client, "client_id"), "c-1");
    assert_sent("\r\nAuthorization: Bearer iat-123\r\n");
    json_object_put(client);
    json_object_put(md);
}
END_TEST

START_TEST(create_no_client_id)
{
    json_object *md = metadata(), *client = (json_object *)md;
    testlib_server_json(server, "POST", "/register", 201, "{\"client_name\":\"x\"}");
    const char *url = testlib_server_url(server, "/register");

    ck_assert_int_eq(mcpauth_registration_create(&opts, url, md, NULL, &client, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_null(client);
    char expected[256];
    snprintf(expected, sizeof expected,
             "%s: registration response has no client_id (RFC 7591 §3.2.1)", url);
    ck_assert_str_eq(err.message, expected);
    json_object_put(md);
}
END_TEST

static const char *const bad_bodies[] = {"not json", "[1,2]", "null", "\"text\"", "", "{"};

START_TEST(create_bad_json)
{
    json_object *md = metadata(), *client = (json_object *)md;
    testlib_server_json(server, "POST", "/register", 201, bad_bodies[_i]);
    const char *url = testlib_server_url(server, "/register");

    ck_assert_int_eq(mcpauth_registration_create(&opts, url, md, NULL, &client, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_null(client);
    ck_assert_msg(strncmp(err.message, url, strlen(url)) == 0, "%s", err.message);
    assert_message("registration response");
    json_object_put(md);
}
END_TEST

/* RFC 7591 §3.2.2: error and error_description make the message. */
START_TEST(create_rfc7591_error)
{
    json_object *md = metadata(), *client = NULL;
    testlib_server_json(server, "POST", "/register", 400,
                        "{\"error\":\"invalid_redirect_uri\",\"error_description\":"
                        "\"The redirection URI http://sketchy.example.com is not allowed\"}");
    const char *url = testlib_server_url(server, "/register");
    char expected[512];

    ck_assert_int_eq(mcpauth_registration_create(&opts, url, md, NULL, &client, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_null(client);
    snprintf(expected, sizeof expected,
             "registration at %s failed: HTTP 400 Bad Request: invalid_redirect_uri: The "
             "redirection URI http://sketchy.example.com is not allowed",
             url);
    ck_assert_str_eq(err.message, expected);

    testlib_server_json(server, "POST", "/register", 400,
                        "{\"error\":\"invalid_client_metadata\"}");
    ck_assert_int_eq(mcpauth_registration_create(&opts, url, md, NULL, &client, &err),
                     MCPAUTH_EREMOTE);
    snprintf(expected, sizeof expected,
             "registration at %s failed: HTTP 400 Bad Request: invalid_client_metadata", url);
    ck_assert_str_eq(err.message, expected);
    json_object_put(md);
}
END_TEST

START_TEST(create_401_hint)
{
    json_object *md = metadata(), *client = NULL;
    testlib_server_json(server, "POST", "/register", 401, "{\"error\":\"invalid_token\"}");
    const char *url = testlib_server_url(server, "/register");

    ck_assert_int_eq(mcpauth_registration_create(&opts, url, md, NULL, &client, &err),
                     MCPAUTH_EREMOTE);
    assert_message("failed: HTTP 401 Unauthorized: invalid_token; the authorization server "
                   "requires an initial access token (RFC 7591 §3)");
    assert_message("--initial-access-token-file");

    /* With a token given, the hint would be wrong. */
    ck_assert_int_eq(mcpauth_registration_create(&opts, url, md, "iat", &client, &err),
                     MCPAUTH_EREMOTE);
    assert_message("HTTP 401 Unauthorized: invalid_token");
    ck_assert_ptr_null(strstr(err.message, "initial access token"));
    json_object_put(md);
}
END_TEST

/* A hostile body must not reach the terminal: controls become '?', long
 * bodies are cut. */
START_TEST(create_error_body_excerpt)
{
    json_object *md = metadata(), *client = NULL;
    const char *url = testlib_server_url(server, "/register");
    testlib_route r = {
        .method = "POST", .target = "/register", .status = 500, .body = "oops\x1b[31m\r\nred"};
    testlib_server_route(server, &r);

    ck_assert_int_eq(mcpauth_registration_create(&opts, url, md, NULL, &client, &err),
                     MCPAUTH_EREMOTE);
    assert_message("failed: HTTP 500 ");
    assert_message(" (body: oops?[31m??red)");

    char long_body[400];
    memset(long_body, 'a', sizeof long_body - 1);
    long_body[sizeof long_body - 1] = '\0';
    r.body = long_body;
    testlib_server_route(server, &r);
    ck_assert_int_eq(mcpauth_registration_create(&opts, url, md, NULL, &client, &err),
                     MCPAUTH_EREMOTE);
    char excerpt[140];
    memset(excerpt, 'a', 120);
    strcpy(excerpt + 120, "...)");
    assert_message(excerpt);
    char too_long[122];
    memset(too_long, 'a', 121);
    too_long[121] = '\0';
    ck_assert_ptr_null(strstr(err.message, too_long));

    /* An error member that is not printable is sanitised too. */
    testlib_server_json(server, "POST", "/register", 400,
                        "{\"error\":\"bad\\nline\",\"error_description\":\"x\\u0007y\"}");
    ck_assert_int_eq(mcpauth_registration_create(&opts, url, md, NULL, &client, &err),
                     MCPAUTH_EREMOTE);
    assert_message("HTTP 400 Bad Request: bad?line: x?y");
    json_object_put(md);
}
END_TEST

START_TEST(create_transport_failures)
{
    json_object *md = metadata(), *client = (json_object *)md;

    /* Bigger than the response cap. */
    char big[4096];
    memset(big, ' ', sizeof big - 1);
    big[0] = '{';
    big[sizeof big - 2] = '}';
    big[sizeof big - 1] = '\0';
    testlib_server_json(server, "POST", "/big", 201, big);
    opts.max_response_bytes = 1024;
    ck_assert_int_eq(mcpauth_registration_create(&opts, testlib_server_url(server, "/big"), md,
                                                 NULL, &client, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_null(client);
    assert_message("larger than the 1024-byte limit");

    /* Plain http to a host that is not loopback. */
    client = (json_object *)md;
    ck_assert_int_eq(
        mcpauth_registration_create(&opts, "http://example.com/register", md, NULL, &client, &err),
        MCPAUTH_EUSAGE);
    ck_assert_ptr_null(client);
    json_object_put(md);
}
END_TEST

START_TEST(create_timeout)
{
    json_object *md = metadata(), *client = (json_object *)md;
    testlib_route r = {
        .method = "POST", .target = "/slow", .status = 201, .body = CLIENT_DOC, .delay_ms = 4000};
    testlib_server_route(server, &r);
    opts.timeout_seconds = 1;

    ck_assert_int_eq(mcpauth_registration_create(&opts, testlib_server_url(server, "/slow"), md,
                                                 NULL, &client, &err),
                     MCPAUTH_ENETWORK);
    ck_assert_ptr_null(client);
    json_object_put(md);
}
END_TEST

START_TEST(create_refused)
{
    json_object *md = metadata(), *client = (json_object *)md;
    char url[128];
    snprintf(url, sizeof url, "%s", testlib_server_url(server, "/register"));
    testlib_server_stop(server);
    server = testlib_server_start(); /* for teardown; url points at the closed port */

    ck_assert_int_eq(mcpauth_registration_create(&opts, url, md, NULL, &client, &err),
                     MCPAUTH_ENETWORK);
    ck_assert_ptr_null(client);
    json_object_put(md);
}
END_TEST

/* --- read, update, delete (RFC 7592 §2) --------------------------------- */

START_TEST(read_ok)
{
    json_object *client = NULL;
    testlib_server_json(server, "GET", "/register/c-1", 200, CLIENT_DOC);

    ck_assert_int_eq(mcpauth_registration_read(&opts, testlib_server_url(server, "/register/c-1"),
                                               "rat-9", &client, &err),
                     MCPAUTH_OK);
    ck_assert_str_eq(mcpauth_json_string(client, "client_id"), "c-1");
    assert_sent("GET /register/c-1 HTTP/1.1\r\n");
    assert_sent("\r\nAuthorization: Bearer rat-9\r\n");
    assert_not_sent("Content-Type:");
    json_object_put(client);
}
END_TEST

START_TEST(read_errors)
{
    json_object *client = NULL;
    const char *url = testlib_server_url(server, "/register/c-1");
    char expected[512];

    /* RFC 7592 §2.1: an invalid registration access token is 401. */
    testlib_server_json(server, "GET", "/register/c-1", 401, "{\"error\":\"invalid_token\"}");
    ck_assert_int_eq(mcpauth_registration_read(&opts, url, "old", &client, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_null(client);
    snprintf(expected, sizeof expected,
             "reading the registration at %s failed: HTTP 401 Unauthorized: invalid_token", url);
    ck_assert_str_eq(err.message, expected);

    /* 201 is not an answer to a read. */
    testlib_server_json(server, "GET", "/register/c-1", 201, CLIENT_DOC);
    ck_assert_int_eq(mcpauth_registration_read(&opts, url, "t", &client, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_null(client);
    assert_message("reading the registration at");

    testlib_server_json(server, "GET", "/register/c-1", 200, "{\"client_name\":\"x\"}");
    ck_assert_int_eq(mcpauth_registration_read(&opts, url, "t", &client, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_null(client);
    assert_message("registration response has no client_id");

    testlib_server_json(server, "GET", "/register/c-1", 200, "<html>");
    ck_assert_int_eq(mcpauth_registration_read(&opts, url, "t", &client, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_null(client);
}
END_TEST

START_TEST(update_ok)
{
    json_object *md = metadata(), *client = NULL;
    json_object_object_add(md, "client_id", json_object_new_string("c-1"));
    testlib_server_json(server, "PUT", "/register/c-1", 200, CLIENT_DOC);

    ck_assert_int_eq(mcpauth_registration_update(&opts, testlib_server_url(server, "/register/c-1"),
                                                 "rat-9", md, &client, &err),
                     MCPAUTH_OK);
    ck_assert_str_eq(mcpauth_json_string(client, "client_name"), "server's name");
    assert_sent("PUT /register/c-1 HTTP/1.1\r\n");
    assert_sent("\r\nAuthorization: Bearer rat-9\r\n");
    assert_sent("\r\nContent-Type: application/json\r\n");
    assert_sent("\"client_id\":\"c-1\"");
    json_object_put(client);
    json_object_put(md);
}
END_TEST

START_TEST(update_errors)
{
    json_object *md = metadata(), *client = NULL;
    const char *url = testlib_server_url(server, "/register/c-1");
    char expected[512];

    testlib_server_json(server, "PUT", "/register/c-1", 400,
                        "{\"error\":\"invalid_client_metadata\",\"error_description\":\"no\"}");
    ck_assert_int_eq(mcpauth_registration_update(&opts, url, "t", md, &client, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_null(client);
    snprintf(expected, sizeof expected,
             "updating the registration at %s failed: HTTP 400 Bad Request: "
             "invalid_client_metadata: no",
             url);
    ck_assert_str_eq(err.message, expected);

    testlib_server_json(server, "PUT", "/register/c-1", 200, "[]");
    ck_assert_int_eq(mcpauth_registration_update(&opts, url, "t", md, &client, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_null(client);
    json_object_put(md);
}
END_TEST

START_TEST(delete_ok)
{
    const char *url = testlib_server_url(server, "/register/c-1");
    testlib_route r = {.method = "DELETE", .target = "/register/c-1", .status = 204};
    testlib_server_route(server, &r);

    ck_assert_int_eq(mcpauth_registration_delete(&opts, url, "rat-9", &err), MCPAUTH_OK);
    assert_sent("DELETE /register/c-1 HTTP/1.1\r\n");
    assert_sent("\r\nAuthorization: Bearer rat-9\r\n");

    /* Some servers answer 200. */
    r.status = 200;
    testlib_server_route(server, &r);
    ck_assert_int_eq(mcpauth_registration_delete(&opts, url, "rat-9", &err), MCPAUTH_OK);
    ck_assert_int_eq(testlib_server_hits(server, "DELETE", "/register/c-1"), 2);
}
END_TEST

START_TEST(delete_errors)
{
    const char *url = testlib_server_url(server, "/register/c-1");
    char expected[512];
    testlib_route r = {.method = "DELETE", .target = "/register/c-1", .status = 405};
    testlib_server_route(server, &r);

    ck_assert_int_eq(mcpauth_registration_delete(&opts, url, "t", &err), MCPAUTH_EREMOTE);
    snprintf(expected, sizeof expected,
             "the authorization server does not allow clients to delete their registration "
             "(HTTP 405 at %s)",
             url);
    ck_assert_str_eq(err.message, expected);

    testlib_server_json(server, "DELETE", "/register/c-1", 401, "{\"error\":\"invalid_token\"}");
    ck_assert_int_eq(mcpauth_registration_delete(&opts, url, "t", &err), MCPAUTH_EREMOTE);
    snprintf(expected, sizeof expected,
             "deleting the registration at %s failed: HTTP 401 Unauthorized: invalid_token", url);
    ck_assert_str_eq(err.message, expected);

    ck_assert_int_eq(mcpauth_registration_delete(&opts, "http://example.com/r", "t", &err),
                     MCPAUTH_EUSAGE);
}
END_TEST

/* --- mcpauth_oauth_error_describe --------------------------------------- */

typedef struct describe_case {
    long status;
    const char *body;
    const char *expected;
} describe_case;

static const describe_case describe_cases[] = {
    {400, "{\"error\":\"invalid_request\",\"error_description\":\"bad\"}",
     "HTTP 400 Bad Request: invalid_request: bad"},
    {401, "{\"error\":\"invalid_client\"}", "HTTP 401 Unauthorized: invalid_client"},
    {599, "", "HTTP 599"},
    {500, "{\"error\":42}", "HTTP 500 Internal Server Error (body: {\"error\":42})"},
    {502, "<h1>Bad gateway</h1>", "HTTP 502 Bad Gateway (body: <h1>Bad gateway</h1>)"},
};

START_TEST(describe)
{
    const describe_case *c = &describe_cases[_i];
    mcpauth_http_response resp = {
        .status = c->status, .body = (char *)c->body, .body_length = strlen(c->body)};
    char buf[512];
    mcpauth_oauth_error_describe(&resp, buf, sizeof buf);
    ck_assert_str_eq(buf, c->expected);
}
END_TEST

START_TEST(describe_small_buffer)
{
    const char *body = "{\"error\":\"invalid_request\",\"error_description\":\"bad\"}";
    mcpauth_http_response resp = {.status = 400, .body = (char *)body, .body_length = strlen(body)};
    char buf[12];
    memset(buf, 'x', sizeof buf);
    mcpauth_oauth_error_describe(&resp, buf, sizeof buf);
    ck_assert_uint_lt(strlen(buf), sizeof buf);
    ck_assert_str_eq(buf, "HTTP 400 Ba");
}
END_TEST

static Suite *registration_suite(void)
{
    Suite *s = suite_create("registration");
    TCase *tc;

    tc = tcase_create("create");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, create_201);
    tcase_add_test(tc, create_200_with_initial_access_token);
    tcase_add_test(tc, create_no_client_id);
    tcase_add_loop_test(tc, create_bad_json, 0, sizeof bad_bodies / sizeof bad_bodies[0]);
    tcase_add_test(tc, create_rfc7591_error);
    tcase_add_test(tc, create_401_hint);
    tcase_add_test(tc, create_error_body_excerpt);
    tcase_add_test(tc, create_transport_failures);
    tcase_add_test(tc, create_timeout);
    tcase_add_test(tc, create_refused);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("manage");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, read_ok);
    tcase_add_test(tc, read_errors);
    tcase_add_test(tc, update_ok);
    tcase_add_test(tc, update_errors);
    tcase_add_test(tc, delete_ok);
    tcase_add_test(tc, delete_errors);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("describe");
    tcase_add_loop_test(tc, describe, 0, sizeof describe_cases / sizeof describe_cases[0]);
    tcase_add_test(tc, describe_small_buffer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run_http(registration_suite());
}
