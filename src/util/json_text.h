/* What the JSON parser and serializer both look for in a string's bytes. */
#ifndef MCPAUTH_UTIL_JSON_TEXT_H
#define MCPAUTH_UTIL_JSON_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* How many of s's first length bytes may stand in a JSON string as they
 * are: up to the first quote, backslash or control character (RFC 8259
 * §7). Eight bytes at a time; the words hold no such byte exactly when no
 * bit of the three tests is set (a borrow only runs on from a byte that is
 * itself one of them). */
static inline size_t mcpauth__json_plain_run(const char *s, size_t length)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t n = 0;
    while (length - n >= 8) {
        uint64_t w, quote, backslash;
        memcpy(&w, s + n, 8);
        quote = w ^ (ones * '"');
        backslash = w ^ (ones * '\\');
        if (((quote - ones) & ~quote & highs) || ((backslash - ones) & ~backslash & highs) ||
            ((w - ones * 0x20) & ~w & highs))
            break;
        n += 8;
    }
    while (n < length && s[n] != '"' && s[n] != '\\' && (unsigned char)s[n] >= 0x20)
        n++;
    return n;
}

#endif
