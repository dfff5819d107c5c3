/* Reading Server-Sent Events incrementally (HTML Living Standard §9.2.6). */
#include <string.h>

#include "mcpauth/http_sse.h"

void mcpauth_http_sse_reader_init(mcpauth_http_sse_reader *reader, size_t max_bytes,
                                  mcpauth_http_sse_event_cb on_event, void *cb_data)
{
    memset(reader, 0, sizeof *reader);
    reader->max_bytes = max_bytes;
    reader->on_event = on_event;
    reader->cb_data = cb_data;
}

void mcpauth_http_sse_reader_free(mcpauth_http_sse_reader *reader)
{
    mcpauth_strbuf_free(&reader->line);
    mcpauth_strbuf_free(&reader->data);
    mcpauth_strbuf_free(&reader->id);
    mcpauth_strbuf_free(&reader->type);
}

/* §9.2.6 "dispatch the event": only one with data; the fields reset. */
static bool dispatch(mcpauth_http_sse_reader *r)
{
    bool ok = true;
    if (r->data.length) {
        mcpauth_http_sse_event event = {
            .data = r->data.data,
            .data_length = r->data.length,
            .id = r->has_id ? (r->id.data ? r->id.data : "") : NULL,
            .type = r->has_type ? (r->type.data ? r->type.data : "") : NULL,
        };
        ok = r->on_event(&event, r->cb_data);
    }
    r->data.length = 0;
    r->has_id = r->has_type = false;
    return ok;
}

/* The value of field NAME in line ("NAME:" and one optional space), or NULL. */
static const char *field(const char *line, size_t length, const char *name, size_t *value_length)
{
    size_t n = strlen(name);
    if (length <= n || memcmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    const char *value = line + n + 1;
    *value_length = length - n - 1;
    if (*value_length && *value == ' ')
        value++, (*value_length)--;
    return value;
}

static void set(mcpauth_strbuf *sb, const char *value, size_t length)
{
    sb->length = 0;
    mcpauth_strbuf_append(sb, value, length);
}

/* One line without its end of line. */
static bool process_line(mcpauth_http_sse_reader *r, const char *line, size_t length)
{
    if (length == 0)
        return dispatch(r);
    size_t n;
    const char *value;
    if ((value = field(line, length, "data", &n))) {
        if (r->data.length)
            mcpauth_strbuf_append(&r->data, "\n", 1);
        mcpauth_strbuf_append(&r->data, value, n);
        return !mcpauth_strbuf_failed(&r->data) && r->data.length <= r->max_bytes;
    }
    if ((value = field(line, length, "id", &n))) {
        set(&r->id, value, n);
        r->has_id = true;
        return !mcpauth_strbuf_failed(&r->id);
    }
    if ((value = field(line, length, "event", &n))) {
        set(&r->type, value, n);
        r->has_type = true;
        return !mcpauth_strbuf_failed(&r->type);
    }
    /* retry, comments, and fields the standard does not know. */
    return true;
}

static bool end_line(mcpauth_http_sse_reader *r)
{
    size_t n = r->line.length;
    if (n && r->line.data[n - 1] == '\r')
        n--;
    r->line.length = 0;
    return process_line(r, n ? r->line.data : "", n);
}

bool mcpauth_http_sse_reader_feed(mcpauth_http_sse_reader *reader, const char *bytes, size_t length)
{
    const char *end = bytes + length;
    for (const char *p = bytes; p < end;) {
        const char *newline = memchr(p, '\n', (size_t)(end - p));
        const char *stop = newline ? newline : end;
        mcpauth_strbuf_append(&reader->line, p, (size_t)(stop - p));
        if (mcpauth_strbuf_failed(&reader->line) || reader->line.length > reader->max_bytes)
            return false;
        if (!newline)
            break;
        if (!end_line(reader))
            return false;
        p = newline + 1;
    }
    return true;
}

bool mcpauth_http_sse_reader_finish(mcpauth_http_sse_reader *reader)
{
    if (reader->line.length && !end_line(reader))
        return false;
    return dispatch(reader);
}
