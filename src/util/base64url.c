#include "mcpauth/base64url.h"

#include <stdlib.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *mcpauth_base64url_encode(const uint8_t *data, size_t length)
{
    if (length > (SIZE_MAX - 4) / 4 * 3)
        return NULL;
    char *out = malloc((length + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 3 <= length; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (length - i == 1) {
        uint32_t v = (uint32_t)data[i] << 16;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
    } else if (length - i == 2) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    return out;
}

/* The value of c in the alphabet whose last two characters are c62, c63. */
static int decode_char(char c, char c62, char c63)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == c62)
        return 62;
    if (c == c63)
        return 63;
    return -1;
}

/* Decodes unpadded text in the alphabet ending in c62, c63. */
static uint8_t *decode(const char *text, size_t length, size_t *out_length, char c62, char c63)
{
    /* A single leftover character cannot encode a whole byte. */
    if (length % 4 == 1)
        return NULL;
    uint8_t *out = malloc(length / 4 * 3 + 3);
    if (!out)
        return NULL;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < length; i++) {
        int v = decode_char(text[i], c62, c63);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* RFC 4648 §3.5: the unused low bits of the last character must be zero. */
    if (acc != 0) {
        free(out);
        return NULL;
    }
    out[o] = '\0';
    *out_length = o;
    return out;
}

uint8_t *mcpauth_base64url_decode(const char *text, size_t length, size_t *out_length)
{
    return decode(text, length, out_length, '-', '_');
}

uint8_t *mcpauth_base64_decode(const char *text, size_t length, size_t *out_length)
{
    /* RFC 4648 §4: padded to a multiple of four with at most two '='. */
    if (length % 4 != 0)
        return NULL;
    size_t pad = 0;
    while (pad < 2 && pad < length && text[length - 1 - pad] == '=')
        pad++;
    return decode(text, length - pad, out_length, '+', '/');
}
