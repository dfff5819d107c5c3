/* The incremental Server-Sent Events reader (src/http/sse_reader.c), fed
 * what an upstream MCP server sends. The first byte picks the limit and how
 * the rest is cut into reads; the events must not depend on where the cuts
 * fall, so the same bytes are read again in one piece and compared. */
#include <stdbool.h>

#include "fuzz.h"
#include "mcpauth/http_sse.h"

typedef struct record {
    mcpauth_strbuf log;
    size_t events;
    size_t stop_after; /* the callback says stop at this event (0: never) */
} record;

static bool on_event(const mcpauth_http_sse_event *event, void *data)
{
    record *r = data;
    if (!event->data || event->data[event->data_length] != '\0')
        abort();
    mcpauth_strbuf_appendf(&r->log, "%zu|%s|%s|", event->data_length, event->id ? event->id : "-",
                           event->type ? event->type : "-");
    mcpauth_strbuf_append(&r->log, event->data, event->data_length);
    mcpauth_strbuf_append(&r->log, "\n", 1);
    r->events++;
    return r->stop_after == 0 || r->events < r->stop_after;
}

static bool read_all(const char *bytes, size_t length, size_t max, size_t cut, size_t stop_after,
                     record *r)
{
    mcpauth_http_sse_reader reader;
    *r = (record){.stop_after = stop_after};
    mcpauth_http_sse_reader_init(&reader, max, on_event, r);
    bool ok = true;
    for (size_t at = 0; ok && at < length; at += cut) {
        size_t n = length - at < cut ? length - at : cut;
        ok = mcpauth_http_sse_reader_feed(&reader, bytes + at, n);
    }
    if (ok)
        ok = mcpauth_http_sse_reader_finish(&reader);
    mcpauth_http_sse_reader_free(&reader);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max = 16u << (data[0] & 7);     /* 16 bytes to 2 KiB */
    size_t cut = 1 + ((data[0] >> 3) & 7); /* reads of 1 to 8 bytes */
    size_t stop_after = data[0] >> 6;      /* the callback stops after 0-3 events */
    const char *bytes = (const char *)data + 1;
    size_t length = size - 1;

    record cut_up, whole;
    bool ok_cut = read_all(bytes, length, max, cut, stop_after, &cut_up);
    bool ok_whole = read_all(bytes, length, max, length ? length : 1, stop_after, &whole);
    /* Where the reads were cut changes neither the events nor whether a
     * limit stopped the reader. */
    if (ok_cut != ok_whole || cut_up.log.length != whole.log.length ||
        (whole.log.length && memcmp(cut_up.log.data, whole.log.data, whole.log.length) != 0))
        abort();
    mcpauth_strbuf_free(&cut_up.log);
    mcpauth_strbuf_free(&whole.log);
    return 0;
}
