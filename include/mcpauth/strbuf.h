/* A growable NUL-terminated byte buffer for building requests and output.
 * Allocation failure is sticky: later appends are no-ops and
 * mcpauth_strbuf_failed() reports it, so callers check once at the end. */
#ifndef MCPAUTH_STRBUF_H
#define MCPAUTH_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct mcpauth_strbuf {
    char *data; /* NUL-terminated once anything was appended; owned */
    size_t length;
    size_t capacity;
    bool failed;
} mcpauth_strbuf;

#define MCPAUTH_STRBUF_INIT                                                                        \
    {                                                                                              \
        NULL, 0, 0, false                                                                          \
    }

/* Makes room for extra more bytes (and the NUL) at once, for a caller that
 * knows its total: one allocation instead of several doublings. False
 * after an allocation failure (which is sticky, as for appends). */
bool mcpauth_strbuf_reserve(mcpauth_strbuf *sb, size_t extra);
void mcpauth_strbuf_append(mcpauth_strbuf *sb, const char *data, size_t length);
void mcpauth_strbuf_appends(mcpauth_strbuf *sb, const char *text);

/* mcpauth_strbuf_append() inlined, for the serializers of every answer:
 * within the capacity at hand it is a copy and no call. */
static inline void mcpauth_strbuf_put(mcpauth_strbuf *sb, const char *data, size_t length)
{
    if (sb->capacity - sb->length > length) {
        memcpy(sb->data + sb->length, data, length);
        sb->length += length;
        sb->data[sb->length] = '\0';
    } else {
        mcpauth_strbuf_append(sb, data, length);
    }
}
void mcpauth_strbuf_appendf(mcpauth_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends value in decimal: what appendf("%lld") writes, without printf. */
void mcpauth_strbuf_append_int(mcpauth_strbuf *sb, long long value);
void mcpauth_strbuf_append_uint(mcpauth_strbuf *sb, unsigned long long value);
bool mcpauth_strbuf_failed(const mcpauth_strbuf *sb);

/* Returns the contents ("" when empty) and leaves sb empty; caller frees.
 * NULL after an allocation failure. */
char *mcpauth_strbuf_detach(mcpauth_strbuf *sb);

/* Wipes (for buffers that held secrets) and frees the contents. */
void mcpauth_strbuf_free(mcpauth_strbuf *sb);

#endif
