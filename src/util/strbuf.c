#include "mcpauth/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool mcpauth_strbuf_reserve(mcpauth_strbuf *sb, size_t extra)
{
    if (sb->failed)
        return false;
    if (extra > SIZE_MAX / 2 - sb->length) {
        sb->failed = true;
        return false;
    }
    size_t need = sb->length + extra + 1;
    if (need <= sb->capacity)
        return true;
    size_t capacity = sb->capacity ? sb->capacity : 64;
    while (capacity < need)
        capacity *= 2;
    char *data = realloc(sb->data, capacity);
    if (!data) {
        sb->failed = true;
        return false;
    }
    sb->data = data;
    sb->capacity = capacity;
    return true;
}

void mcpauth_strbuf_append(mcpauth_strbuf *sb, const char *data, size_t length)
{
    if (!mcpauth_strbuf_reserve(sb, length))
        return;
    memcpy(sb->data + sb->length, data, length);
    sb->length += length;
    sb->data[sb->length] = '\0';
}

void mcpauth_strbuf_appends(mcpauth_strbuf *sb, const char *text)
{
    mcpauth_strbuf_append(sb, text, strlen(text));
}

void mcpauth_strbuf_appendf(mcpauth_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->failed = true;
        return;
    }
    if (!mcpauth_strbuf_reserve(sb, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->length, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->length += (size_t)n;
}

static void append_decimal(mcpauth_strbuf *sb, unsigned long long magnitude, bool negative)
{
    char digits[24];
    size_t at = sizeof digits;
    do {
        digits[--at] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude > 0);
    if (negative)
        digits[--at] = '-';
    mcpauth_strbuf_append(sb, digits + at, sizeof digits - at);
}

void mcpauth_strbuf_append_int(mcpauth_strbuf *sb, long long value)
{
    /* Through unsigned: -LLONG_MIN does not fit a long long. */
    append_decimal(sb, value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value,
                   value < 0);
}

void mcpauth_strbuf_append_uint(mcpauth_strbuf *sb, unsigned long long value)
{
    append_decimal(sb, value, false);
}

bool mcpauth_strbuf_failed(const mcpauth_strbuf *sb)
{
    return sb->failed;
}

char *mcpauth_strbuf_detach(mcpauth_strbuf *sb)
{
    if (sb->failed) {
        mcpauth_strbuf_free(sb);
        return NULL;
    }
    char *data = sb->data ? sb->data : strdup("");
    *sb = (mcpauth_strbuf)MCPAUTH_STRBUF_INIT;
    return data;
}

void mcpauth_strbuf_free(mcpauth_strbuf *sb)
{
    if (sb->data) {
        explicit_bzero(sb->data, sb->capacity);
        free(sb->data);
    }
    *sb = (mcpauth_strbuf)MCPAUTH_STRBUF_INIT;
}
