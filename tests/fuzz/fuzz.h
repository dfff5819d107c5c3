/* What the libFuzzer harnesses share: the entry point's prototype and a
 * splitter that cuts one input into NUL-terminated pieces, so a harness can
 * feed several strings (a JWK Set and a token, a request's fields) from one
 * input and libFuzzer's mutations reach each of them. Header-only; built
 * into each harness with -fsanitize=fuzzer,address,undefined. */
#ifndef MCPAUTH_FUZZ_H
#define MCPAUTH_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input's pieces, split at the byte FUZZ_SEPARATOR (which the seeds
 * use between fields); each piece is a malloc'ed NUL-terminated copy, so
 * a read past its end is ASan's to see. */
#define FUZZ_SEPARATOR  '\x01'
#define FUZZ_MAX_PIECES 16

typedef struct fuzz_pieces {
    char *piece[FUZZ_MAX_PIECES];
    size_t length[FUZZ_MAX_PIECES];
    size_t count;
} fuzz_pieces;

/* Splits data into at most max pieces (the last takes the rest, separators
 * included); pieces the input does not have are "" so harnesses need not
 * check. */
static inline void fuzz_split(const uint8_t *data, size_t size, size_t max, fuzz_pieces *out)
{
    if (max > FUZZ_MAX_PIECES)
        max = FUZZ_MAX_PIECES;
    out->count = 0;
    size_t start = 0;
    while (out->count < max) {
        size_t end = start;
        bool last = out->count + 1 == max;
        while (end < size && (last || data[end] != (uint8_t)FUZZ_SEPARATOR))
            end++;
        size_t n = end - start;
        char *p = malloc(n + 1);
        if (!p)
            abort();
        if (n)
            memcpy(p, data + start, n);
        p[n] = '\0';
        out->piece[out->count] = p;
        out->length[out->count++] = n;
        start = end < size ? end + 1 : size;
    }
}

static inline void fuzz_pieces_free(fuzz_pieces *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->piece[i]);
    p->count = 0;
}

#endif
