/* An incremental reader of a Server-Sent Events stream (HTML Living
 * Standard §9.2.6 "Interpreting an event stream"): bytes go in as they
 * arrive, cut anywhere; whole events come out. Lines end at LF (a CR before
 * it is dropped); "data:" lines of one event join with LF, "id:" and
 * "event:" are kept with it, other fields and comments are ignored, and a
 * blank line ends the event. An event without data is not reported (as the
 * standard says of an empty data buffer; a priming event is one).
 *
 * Bounded: a line, and an event's joined data, longer than max_bytes stop
 * the reader (a protocol violation, not something to buffer).
 *
 * Pure computation over caller-owned memory: nothing blocks. Used by the
 * MCP upstream backend and by the probe.
 */
#ifndef MCPAUTH_HTTP_SSE_H
#define MCPAUTH_HTTP_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "mcpauth/strbuf.h"

/* One event. Borrowed from the reader: valid during the callback. */
typedef struct mcpauth_http_sse_event {
    const char *data; /* NUL-terminated */
    size_t data_length;
    const char *id;   /* the event's id: field, or NULL */
    const char *type; /* the event's event: field, or NULL ("message") */
} mcpauth_http_sse_event;

/* false stops the reader: feed() then returns false. */
typedef bool (*mcpauth_http_sse_event_cb)(const mcpauth_http_sse_event *event, void *data);

typedef struct mcpauth_http_sse_reader {
    mcpauth_strbuf line; /* the line so far */
    mcpauth_strbuf data; /* the event's data so far */
    mcpauth_strbuf id, type;
    bool has_id, has_type;
    size_t max_bytes;
    mcpauth_http_sse_event_cb on_event;
    void *cb_data;
} mcpauth_http_sse_reader;

void mcpauth_http_sse_reader_init(mcpauth_http_sse_reader *reader, size_t max_bytes,
                                  mcpauth_http_sse_event_cb on_event, void *cb_data);

/* Reads length more bytes, reporting each event they complete. False when
 * a limit was passed, memory ran out or the callback said stop; the reader
 * is then of no further use (free it). */
bool mcpauth_http_sse_reader_feed(mcpauth_http_sse_reader *reader, const char *bytes,
                                  size_t length);

/* The stream ended: a last line without its end of line, and a last event
 * without the blank line after it, are reported as if they had them. Same
 * return as feed(). */
bool mcpauth_http_sse_reader_finish(mcpauth_http_sse_reader *reader);

void mcpauth_http_sse_reader_free(mcpauth_http_sse_reader *reader);

#endif
