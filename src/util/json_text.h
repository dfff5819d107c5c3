/* What the JSON parser and serializer both look for in a string's bytes. */
#ifndef MCPAUTH_UTIL_JSON_TEXT_H
#define MCPAUTH_UTIL_JSON_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* How many of s's first length bytes may stand in a JSON string as they
 * are: up to the first quote, backslash or control character (RFC 8259
 * §7). Eight bytes at a time: a word's high bits are set for the bytes
 * that are one of these, and may also be set for bytes after such a byte
 * (a borrow only runs on from a byte that is itself one of them), never
 * before one; so the lowest set bit is exact, and no byte-by-byte search is
 * needed to find it. */
static inline size_t mcpauth__json_plain_run(const char *s, size_t length)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t n = 0;
    while (length - n >= 8) {
        uint64_t w, quote, backslash, stops;
        memcpy(&w, s + n, 8);
        quote = w ^ (ones * '"');
        backslash = w ^ (ones * '\\');
        stops = (((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) |
                 ((w - ones * 0x20) & ~w)) &
                highs;
        if (stops) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return n + (size_t)__builtin_ctzll(stops) / 8;
#else
            break;
#endif
        }
        n += 8;
    }
    while (n < length && s[n] != '"' && s[n] != '\\' && (unsigned char)s[n] >= 0x20)
        n++;
    return n;
}

#endif
