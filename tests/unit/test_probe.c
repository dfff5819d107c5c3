/* The probe's pure parts: finding the JSON-RPC response in an MCP answer
 * (a JSON body or a Server-Sent Events stream), verdict names, and the
 * URLs it refuses before sending anything. The checks themselves run
 * against fake and real servers in tests/integration and tests/interop. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/probe.h"
#include "src/probe/probe_internal.h"
#include "testlib.h"

/* A response with one Content-Type header and body (borrowed). */
typedef struct fake_response {
    mcpauth_http_header header;
    mcpauth_http_response resp;
} fake_response;

static void fake(fake_response *f, const char *type, const char *body)
{
    memset(f, 0, sizeof *f);
    f->header.name = "Content-Type";
    f->header.value = (char *)type;
    f->resp.status = 200;
    f->resp.body = (char *)body;
    f->resp.body_length = strlen(body);
    f->resp.headers = type ? &f->header : NULL;
    f->resp.header_count = type ? 1 : 0;
}

/* The "result" member of the response with id, as compact JSON, or NULL. */
static char *result_of(const char *type, const char *body, int id)
{
    fake_response f;
    fake(&f, type, body);
    json_object *message = mcpauth__probe_jsonrpc_response(&f.resp, id);
    if (!message)
        return NULL;
    json_object *result = NULL;
    json_object_object_get_ex(message, "result", &result);
    char *text = strdup(json_object_to_json_string_ext(result, JSON_C_TO_STRING_PLAIN));
    json_object_put(message);
    return text;
}

static void assert_result(const char *type, const char *body, int id, const char *expected)
{
    char *got = result_of(type, body, id);
    ck_assert_msg(got, "no response with id %d in %s", id, body);
    ck_assert_str_eq(got, expected);
    free(got);
}

static void assert_none(const char *type, const char *body, int id)
{
    char *got = result_of(type, body, id);
    ck_assert_msg(!got, "unexpected response %s in %s", got, body);
}

START_TEST(json_body)
{
    assert_result("application/json", "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"a\":1}}", 1,
                  "{\"a\":1}");
    assert_result(NULL, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":[]}", 7, "[]");
    /* An error is a response too. */
    fake_response f;
    fake(&f, "application/json", "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-1}}");
    json_object *message = mcpauth__probe_jsonrpc_response(&f.resp, 1);
    ck_assert_ptr_nonnull(message);
    json_object_put(message);
}
END_TEST

START_TEST(json_body_not_a_response)
{
    assert_none("application/json", "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}", 1);
    assert_none("application/json", "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{}}", 1);
    assert_none("application/json", "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":1}", 1);
    assert_none("application/json", "not json", 1);
    assert_none("application/json", "", 1);
    assert_none("application/json", "[1,2]", 1);
}
END_TEST

START_TEST(event_stream)
{
    const char *type = "text/event-stream";
    assert_result(type, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n", 1,
                  "{}");
    /* Notifications first, CRLF lines, an id line, no space after the colon. */
    assert_result(
        type,
        "id: 1\r\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"n\"}\r\n\r\n"
        "event: message\r\ndata:{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"b\":2}}\r\n\r\n",
        2, "{\"b\":2}");
    /* Data split over lines joins with a newline, which JSON allows. */
    assert_result(type, "data: {\"jsonrpc\":\"2.0\",\ndata: \"id\":3,\"result\":true}\n\n", 3,
                  "true");
    /* The stream may end without the blank line. */
    assert_result(type, "data: {\"jsonrpc\":\"2.0\",\"id\":4,\"result\":null}", 4, "null");
    assert_result("text/event-stream; charset=utf-8",
                  ": comment\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":5}\n\n", 5, "5");
}
END_TEST

START_TEST(event_stream_without_response)
{
    const char *type = "text/event-stream";
    assert_none(type, "", 1);
    assert_none(type, "\n\n\n", 1);
    assert_none(type, "data: {\"jsonrpc\":\"2.0\",\"method\":\"n\"}\n\n", 1);
    assert_none(type, "data: {\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}\n\n", 1);
    assert_none(type, "data: garbage\n\nevent: x\n\n", 1);
    /* "data" must start the line. */
    assert_none(type, " data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n", 1);
}
END_TEST

START_TEST(verdict_names)
{
    ck_assert_str_eq(mcpauth_probe_verdict_name(MCPAUTH_PROBE_PASS), "PASS");
    ck_assert_str_eq(mcpauth_probe_verdict_name(MCPAUTH_PROBE_FAIL), "FAIL");
    ck_assert_str_eq(mcpauth_probe_verdict_name(MCPAUTH_PROBE_WARN), "WARN");
    ck_assert_str_eq(mcpauth_probe_verdict_name(MCPAUTH_PROBE_SKIP), "SKIP");
}
END_TEST

static int reported;

static void count_check(const mcpauth_probe_check *check, void *data)
{
    (void)check;
    (void)data;
    reported++;
}

/* URLs refused before any request: nothing is reported, nothing sent. */
START_TEST(unusable_urls)
{
    static const char *const urls[] = {
        "ftp://example.com/mcp",
        "https://example.com/mcp#fragment",
        "http://example.com/mcp", /* plain http to a non-loopback host */
        "not a url",
    };
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        mcpauth_probe_config config = {.resource_url = urls[i]};
        mcpauth_probe_summary summary;
        mcpauth_error err = {0};
        reported = 0;
        mcpauth_status st = mcpauth_probe_run(&opts, &config, count_check, NULL, &summary, &err);
        ck_assert_msg(st == MCPAUTH_EUSAGE, "%s: status %d (%s)", urls[i], st, err.message);
        ck_assert_int_eq(reported, 0);
        ck_assert_uint_eq(summary.passed + summary.failed + summary.warned + summary.skipped, 0);
        ck_assert(err.message[0] != '\0');
    }
}
END_TEST

static Suite *probe_suite(void)
{
    Suite *s = suite_create("probe");
    TCase *tc = tcase_create("responses");
    tcase_add_test(tc, json_body);
    tcase_add_test(tc, json_body_not_a_response);
    tcase_add_test(tc, event_stream);
    tcase_add_test(tc, event_stream_without_response);
    suite_add_tcase(s, tc);

    tc = tcase_create("run");
    tcase_add_test(tc, verdict_names);
    tcase_add_test(tc, unusable_urls);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(probe_suite());
}
