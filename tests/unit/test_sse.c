/* Server-Sent Events: event formatting, event ids, and the bounded replay
 * buffer behind Last-Event-ID (never another stream's events). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/http_sse.h"
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

/* The incremental reader (src/http/sse_reader.c): events cut anywhere
 * across reads come out whole, with their id and type. */
typedef struct read_events {
    char text[1024];
    size_t count;
} read_events;

static bool on_read_event(const mcpauth_http_sse_event *event, void *data)
{
    read_events *r = data;
    size_t n = strlen(r->text);
    snprintf(r->text + n, sizeof r->text - n, "[%s|%s|%s]", event->id ? event->id : "-",
             event->type ? event->type : "-", event->data);
    r->count++;
    return true;
}

START_TEST(reader_across_reads)
{
    static const char stream[] = ": comment\r\nid: 0-0\ndata: \n\nevent: message\nid: 1-1\n"
                                 "data: {\"a\":\ndata:1}\r\nretry: 5\n\ndata: tail";
    for (size_t cut = 0; cut <= sizeof stream - 1; cut++) {
        read_events r = {{0}, 0};
        mcpauth_http_sse_reader reader;
        mcpauth_http_sse_reader_init(&reader, 64, on_read_event, &r);
        ck_assert(mcpauth_http_sse_reader_feed(&reader, stream, cut));
        ck_assert(mcpauth_http_sse_reader_feed(&reader, stream + cut, sizeof stream - 1 - cut));
        ck_assert_uint_eq(r.count, 1);
        ck_assert(mcpauth_http_sse_reader_finish(&reader));
        ck_assert_str_eq(r.text, "[1-1|message|{\"a\":\n1}][-|-|tail]");
        mcpauth_http_sse_reader_free(&reader);
    }
}
END_TEST

static bool stop_at_first(const mcpauth_http_sse_event *event, void *data)
{
    (void)event;
    (*(int *)data)++;
    return false;
}

START_TEST(reader_bounded)
{
    int seen = 0;
    mcpauth_http_sse_reader reader;
    mcpauth_http_sse_reader_init(&reader, 8, stop_at_first, &seen);
    ck_assert(!mcpauth_http_sse_reader_feed(&reader, "data: 123456789", 15));
    mcpauth_http_sse_reader_free(&reader);
    mcpauth_http_sse_reader_init(&reader, 8, stop_at_first, &seen);
    ck_assert(!mcpauth_http_sse_reader_feed(&reader, "data:1234\ndata:1234\n", 20));
    mcpauth_http_sse_reader_free(&reader);
    mcpauth_http_sse_reader_init(&reader, 8, stop_at_first, &seen);
    ck_assert(!mcpauth_http_sse_reader_feed(&reader, "data:1\n\ndata:2\n\n", 16));
    ck_assert_int_eq(seen, 1);
    mcpauth_http_sse_reader_free(&reader);
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
    tcase_add_test(tc, reader_across_reads);
    tcase_add_test(tc, reader_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(sse_suite());
}
