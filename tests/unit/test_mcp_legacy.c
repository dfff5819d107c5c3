/* The legacy HTTP+SSE transport (MCP 2024-11-05): the endpoint and message
 * events, the session id in the query, the data of the bridge's events, and
 * sessions through the engine with the built-in tools: 202 and the answer on
 * the stream, the POST's own 400/404/415, binding to subject and client,
 * max_sessions, and closing. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/mcp_legacy.h"
#include "src/mcp/mcp_internal.h"
#include "testlib.h"

#define NOW 1700000000

static mcpauth_token_info alice = {.subject = "alice", .client_id = "client-1"};
static mcpauth_token_info alice_other_client = {.subject = "alice", .client_id = "client-2"};
static mcpauth_token_info bob = {.subject = "bob", .client_id = "client-1"};

/* What the stream received: whole events, concatenated. */
typedef struct written {
    char text[8192];
    int ends;
    int fail; /* nonzero: writes fail (a client gone) */
} written;

static int on_write(const char *bytes, size_t length, void *data)
{
    written *w = data;
    if (w->fail)
        return w->fail;
    strncat(w->text, bytes, length);
    return 0;
}

static void on_end(void *data)
{
    ((written *)data)->ends++;
}

/* The last HTTP answer to a POST. */
typedef struct answered {
    int status;
    char body[512];
    int count;
} answered;

static void on_reply(const mcpauth_mcp_reply *reply, void *data)
{
    answered *a = data;
    a->status = reply->status;
    a->body[0] = '\0';
    if (reply->body)
        strncat(a->body, reply->body, reply->body_length < 511 ? reply->body_length : 511);
    a->count++;
}

static answered post(mcpauth_mcp_legacy *legacy, const mcpauth_token_info *token, const char *body,
                     const char *content_type)
{
    answered a = {0};
    mcpauth_mcp_sink sink = {.reply = on_reply, .data = &a};
    mcpauth_mcp_request req = {
        .content_type = content_type,
        .body = body,
        .body_length = body ? strlen(body) : 0,
        .identity = {.token = token, .validated_by = "introspection"},
        .now = NOW,
    };
    mcpauth_mcp_legacy_post(legacy, &req, &sink);
    ck_assert_int_eq(a.count, 1);
    return a;
}

static mcpauth_mcp_server *server_with(size_t max_sessions)
{
    mcpauth_mcp_config config;
    mcpauth_mcp_config_init(&config);
    config.max_sessions = max_sessions;
    mcpauth_mcp_server *server = mcpauth_mcp_server_new(&config);
    ck_assert_ptr_nonnull(server);
    return server;
}

static mcpauth_mcp_legacy *open_for(mcpauth_mcp_server *server, const mcpauth_token_info *token,
                                    written *w)
{
    mcpauth_mcp_legacy_stream stream = {.write = on_write, .end = on_end, .data = w};
    mcpauth_mcp_identity identity = {.token = token, .validated_by = "introspection"};
    mcpauth_mcp_legacy *legacy = NULL;
    ck_assert_int_eq(mcpauth_mcp_legacy_open(server, &identity, NOW, &stream, &legacy), 0);
    ck_assert_ptr_nonnull(legacy);
    return legacy;
}

static const char initialize[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
    "\"2024-11-05\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";

START_TEST(endpoint_event)
{
    size_t length = 0;
    char *event = mcpauth_mcp_legacy_endpoint_event("/messages", "0123abcd", &length);
    ck_assert_str_eq(event, "event: endpoint\ndata: /messages?session_id=0123abcd\n\n");
    ck_assert_uint_eq(length, strlen(event));
    free(event);
}
END_TEST

START_TEST(message_event)
{
    size_t length = 0;
    char *event = mcpauth_mcp_legacy_message_event("{\"id\":1}xyz", 8, &length);
    ck_assert_str_eq(event, "event: message\ndata: {\"id\":1}\n\n");
    ck_assert_uint_eq(length, strlen(event));
    free(event);
}
END_TEST

START_TEST(query_session)
{
    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    const char *good = "0123456789abcdef0123456789abcdef";
    ck_assert(mcpauth_mcp_legacy_query_session("session_id=0123456789abcdef0123456789abcdef", id));
    ck_assert_str_eq(id, good);
    ck_assert(
        mcpauth_mcp_legacy_query_session("a=1&sessionId=0123456789abcdef0123456789abcdef&b", id));
    ck_assert_str_eq(id, good);
    /* An instance's label starts its ids (serve --instance-id). */
    ck_assert(mcpauth_mcp_legacy_query_session("session_id=mcp2-56789abcdef0123456789abcdef", id));
    ck_assert_str_eq(id, "mcp2-56789abcdef0123456789abcdef");
    const char *bad[] = {NULL,
                         "",
                         "session_id=",
                         "session_id=0123456789abcdef0123456789abcde",
                         "session_id=0123456789abcdef0123456789abcdef0",
                         "session_id=0123456789ABCDEF0123456789abcdef",
                         "session_id=0123456789abcdef0123456789abcde_",
                         "session_id=mcp2-56789abcdef0123456789abcd%2",
                         "session_id=mcp2.56789abcdef0123456789abcdef",
                         "xsession_id=0123456789abcdef0123456789abcdef",
                         "session_id%3D0123456789abcdef0123456789abcdef"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!mcpauth_mcp_legacy_query_session(bad[i], id), "accepted '%s'",
                      bad[i] ? bad[i] : "(null)");
}
END_TEST

START_TEST(event_data)
{
    const char *data = NULL;
    size_t length = 0;
    const char *event = "id: 1-2\ndata: {\"a\":1}\n\n";
    ck_assert(mcpauth_mcp_legacy_event_data(event, strlen(event), &data, &length));
    ck_assert_uint_eq(length, 7);
    ck_assert(strncmp(data, "{\"a\":1}", 7) == 0);
    const char *none[] = {"id: 0-0\ndata: \n\n", ": keepalive\n\n", "id: 1-1\n\n", ""};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        ck_assert_msg(!mcpauth_mcp_legacy_event_data(none[i], strlen(none[i]), &data, &length),
                      "data in '%s'", none[i]);
}
END_TEST

START_TEST(initialize_and_call_on_the_stream)
{
    mcpauth_mcp_server *server = server_with(10);
    written w = {0};
    mcpauth_mcp_legacy *legacy = open_for(server, &alice, &w);
    ck_assert_uint_eq(strlen(mcpauth_mcp_legacy_id(legacy)), MCPAUTH_MCP_SESSION_ID_LENGTH);
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, NOW), 1);

    answered a = post(legacy, &alice, initialize, "application/json; charset=utf-8");
    ck_assert_int_eq(a.status, 202);
    ck_assert_str_eq(a.body, "");
    ck_assert_ptr_nonnull(strstr(w.text, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,"));
    ck_assert_ptr_nonnull(strstr(w.text, "\"protocolVersion\":\"2024-11-05\""));

    w.text[0] = '\0';
    a = post(legacy, &alice, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
             "application/json");
    ck_assert_int_eq(a.status, 202);
    ck_assert_str_eq(w.text, "");

    a = post(legacy, &alice,
             "{\"jsonrpc\":\"2.0\",\"id\":\"h\",\"method\":\"tools/call\",\"params\":{\"name\":"
             "\"hello_world\"}}",
             "application/json");
    ck_assert_int_eq(a.status, 202);
    ck_assert_ptr_nonnull(strstr(w.text, "Hello, user with ID alice!"));
    ck_assert(strncmp(w.text, "event: message\ndata: ", 21) == 0);
    ck_assert_int_eq(w.ends, 0);

    mcpauth_mcp_legacy_close(legacy);
    ck_assert_uint_eq(mcpauth_mcp_session_count(server, NOW), 0);
    mcpauth_mcp_server_free(server);
}
END_TEST

START_TEST(post_errors)
{
    mcpauth_mcp_server *server = server_with(10);
    written w = {0};
    mcpauth_mcp_legacy *legacy = open_for(server, &alice, &w);
    /* Another subject, the same subject through another client, nobody: 404. */
    const mcpauth_token_info *intruders[] = {&bob, &alice_other_client, NULL};
    for (size_t i = 0; i < 3; i++) {
        answered a = post(legacy, intruders[i], initialize, "application/json");
        ck_assert_int_eq(a.status, 404);
        ck_assert_ptr_nonnull(strstr(a.body, "-32001"));
    }
    ck_assert_int_eq(post(NULL, &alice, initialize, "application/json").status, 404);
    ck_assert_int_eq(post(legacy, &alice, initialize, "text/plain").status, 415);
    ck_assert_int_eq(post(legacy, &alice, initialize, NULL).status, 415);
    answered a = post(legacy, &alice, "{\"jsonrpc\"", "application/json");
    ck_assert_int_eq(a.status, 400);
    ck_assert_ptr_nonnull(strstr(a.body, "-32700"));
    a = post(legacy, &alice, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
             "application/json");
    ck_assert_int_eq(a.status, 400);
    ck_assert_ptr_nonnull(strstr(a.body, "-32600"));
    a = post(legacy, &alice, "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
             "application/json");
    ck_assert_int_eq(a.status, 400);
    ck_assert_ptr_nonnull(strstr(a.body, "-32600"));
    ck_assert_str_eq(w.text, "");
    mcpauth_mcp_legacy_close(legacy);
    mcpauth_mcp_server_free(server);
}
END_TEST

START_TEST(sessions_are_counted)
{
    mcpauth_mcp_server *server = server_with(1);
    written w = {0};
    mcpauth_mcp_legacy *legacy = open_for(server, &alice, &w);
    mcpauth_mcp_legacy_stream stream = {.write = on_write, .end = on_end, .data = &w};
    mcpauth_mcp_identity identity = {.token = &bob};
    mcpauth_mcp_legacy *second = NULL;
    ck_assert_int_eq(mcpauth_mcp_legacy_open(server, &identity, NOW, &stream, &second), 503);
    ck_assert_ptr_null(second);
    ck_assert(mcpauth_mcp_legacy_touch(legacy, NOW + 1));
    mcpauth_mcp_legacy_close(legacy);
    ck_assert_int_eq(mcpauth_mcp_legacy_open(server, &identity, NOW, &stream, &second), 0);
    mcpauth_mcp_legacy_close(second);
    mcpauth_mcp_legacy_close(NULL);
    mcpauth_mcp_server_free(server);
}
END_TEST

START_TEST(stateless_has_no_legacy_sessions)
{
    mcpauth_mcp_config config;
    mcpauth_mcp_config_init(&config);
    config.stateless = true;
    mcpauth_mcp_server *server = mcpauth_mcp_server_new(&config);
    written w = {0};
    mcpauth_mcp_legacy_stream stream = {.write = on_write, .end = on_end, .data = &w};
    mcpauth_mcp_identity identity = {0};
    mcpauth_mcp_legacy *legacy = NULL;
    ck_assert_int_eq(mcpauth_mcp_legacy_open(server, &identity, NOW, &stream, &legacy), 405);
    mcpauth_mcp_server_free(server);
}
END_TEST

START_TEST(a_failed_write_asks_for_the_end_once)
{
    mcpauth_mcp_server *server = server_with(10);
    written w = {.fail = -1};
    mcpauth_mcp_legacy *legacy = open_for(server, &alice, &w);
    ck_assert_int_eq(post(legacy, &alice, initialize, "application/json").status, 202);
    ck_assert_int_eq(w.ends, 1);
    /* The session is ending: nothing more is taken. */
    ck_assert_int_eq(post(legacy, &alice, initialize, "application/json").status, 404);
    ck_assert_int_eq(w.ends, 1);
    mcpauth_mcp_legacy_close(legacy);
    mcpauth_mcp_server_free(server);
}
END_TEST

START_TEST(gone_from_the_table)
{
    mcpauth_mcp_server *server = server_with(10);
    written w = {0};
    mcpauth_mcp_legacy *legacy = open_for(server, &alice, &w);
    ck_assert(
        mcpauth__session_remove(mcpauth__engine_sessions(server), mcpauth_mcp_legacy_id(legacy)));
    ck_assert(!mcpauth_mcp_legacy_touch(legacy, NOW));
    ck_assert_int_eq(post(legacy, &alice, initialize, "application/json").status, 404);
    mcpauth_mcp_legacy_close(legacy);
    mcpauth_mcp_server_free(server);
}
END_TEST

static Suite *legacy_suite(void)
{
    Suite *s = suite_create("mcp_legacy");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, endpoint_event);
    tcase_add_test(tc, message_event);
    tcase_add_test(tc, query_session);
    tcase_add_test(tc, event_data);
    tcase_add_test(tc, initialize_and_call_on_the_stream);
    tcase_add_test(tc, post_errors);
    tcase_add_test(tc, sessions_are_counted);
    tcase_add_test(tc, stateless_has_no_legacy_sessions);
    tcase_add_test(tc, a_failed_write_asks_for_the_end_once);
    tcase_add_test(tc, gone_from_the_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(legacy_suite());
}
