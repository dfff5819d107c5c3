/* Server-Sent Events: event formatting, event ids, and the bounded replay
 * buffer behind Last-Event-ID (never another stream's events). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "src/mcp/mcp_internal.h"
#include "testlib.h"

START_TEST(event_format)
{
    size_t length = 0;
    char *event = mcpauth__sse_event(3, 7, "{\"a\":1}", 7, &length);
    ck_assert_str_eq(event, "id: 3-7\ndata: {\"a\":1}\n\n");
    ck_assert_uint_eq(length, strlen(event));
    free(event);
    /* The priming event: an id and empty data (GE-4). */
    event = mcpauth__sse_event(0, 0, NULL, 0, &length);
    ck_assert_str_eq(event, "id: 0-0\ndata: \n\n");
    free(event);
    event = mcpauth__sse_event(UINT64_MAX, UINT64_MAX, "x", 1, &length);
    ck_assert_str_eq(event, "id: 18446744073709551615-18446744073709551615\ndata: x\n\n");
    free(event);
}
END_TEST

START_TEST(event_ids)
{
    uint64_t stream = 99, seq = 99;
    ck_assert(mcpauth__sse_parse_id("12-34", &stream, &seq));
    ck_assert_uint_eq(stream, 12);
    ck_assert_uint_eq(seq, 34);
    ck_assert(mcpauth__sse_parse_id("0-0", &stream, &seq));
    ck_assert_uint_eq(stream + seq, 0);
    const char *bad[] = {"",
                         "-",
                         "1-",
                         "-1",
                         "1",
                         "a-1",
                         "1-b",
                         "1-2-3",
                         " 1-2",
                         "1-2 ",
                         "+1-2",
                         "1--2",
                         "12345678901234567890-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!mcpauth__sse_parse_id(bad[i], &stream, &seq), "accepted '%s'", bad[i]);
}
END_TEST

typedef struct collected {
    char text[1024];
    size_t count;
} collected;

static void collect(const char *event, size_t length, void *data)
{
    collected *c = data;
    strncat(c->text, event, length);
    c->count++;
}

static void add(mcpauth__sse_replay *r, uint64_t stream, uint64_t seq, const char *data)
{
    size_t length;
    char *event = mcpauth__sse_event(stream, seq, data, strlen(data), &length);
    ck_assert(mcpauth__sse_replay_add(r, stream, seq, event, length));
    free(event);
}

START_TEST(replay_one_stream_only)
{
    mcpauth__sse_replay *r = mcpauth__sse_replay_new(4096);
    add(r, 0, 1, "a");
    add(r, 1, 1, "p");
    add(r, 0, 2, "b");
    add(r, 1, 2, "q");
    add(r, 0, 3, "c");
    collected c = {0};
    ck_assert_uint_eq(mcpauth__sse_replay_since(r, 0, 1, collect, &c), 2);
    ck_assert_str_eq(c.text, "id: 0-2\ndata: b\n\nid: 0-3\ndata: c\n\n");
    memset(&c, 0, sizeof c);
    ck_assert_uint_eq(mcpauth__sse_replay_since(r, 1, 0, collect, &c), 2);
    ck_assert_str_eq(c.text, "id: 1-1\ndata: p\n\nid: 1-2\ndata: q\n\n");
    memset(&c, 0, sizeof c);
    ck_assert_uint_eq(mcpauth__sse_replay_since(r, 2, 0, collect, &c), 0);
    ck_assert_uint_eq(mcpauth__sse_replay_since(r, 0, 3, collect, &c), 0);
    mcpauth__sse_replay_free(r);
}
END_TEST

START_TEST(replay_bounded)
{
    /* Each event is 17 bytes ("id: 0-N\ndata: X\n\n" with one-digit N). */
    mcpauth__sse_replay *r = mcpauth__sse_replay_new(40);
    add(r, 0, 1, "a");
    add(r, 0, 2, "b");
    ck_assert_uint_eq(mcpauth__sse_replay_bytes(r), 34);
    add(r, 0, 3, "c"); /* the oldest goes */
    ck_assert_uint_le(mcpauth__sse_replay_bytes(r), 40);
    collected c = {0};
    ck_assert_uint_eq(mcpauth__sse_replay_since(r, 0, 0, collect, &c), 2);
    ck_assert_str_eq(c.text, "id: 0-2\ndata: b\n\nid: 0-3\ndata: c\n\n");
    /* An event larger than the whole buffer is not kept, and evicts nothing. */
    char big[64];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert(!mcpauth__sse_replay_add(r, 0, 4, big, strlen(big)));
    ck_assert_uint_eq(mcpauth__sse_replay_bytes(r), 34);
    mcpauth__sse_replay_free(r);
    mcpauth__sse_replay_free(NULL);
}
END_TEST

static Suite *sse_suite(void)
{
    Suite *s = suite_create("sse");
    TCase *tc = tcase_create("sse");
    tcase_add_test(tc, event_format);
    tcase_add_test(tc, event_ids);
    tcase_add_test(tc, replay_one_stream_only);
    tcase_add_test(tc, replay_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(sse_suite());
}
