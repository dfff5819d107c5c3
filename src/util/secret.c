#include "mcpauth/secret.h"

#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

bool mcpauth_secret_equal(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    size_t la = strlen(a), lb = strlen(b);
    /* Walk the longer length so the time does not reveal where a mismatch is;
     * a length difference is folded into the result rather than returned early. */
    size_t n = la > lb ? la : lb;
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < n; i++) {
        unsigned char ca = i < la ? (unsigned char)a[i] : 0;
        unsigned char cb = i < lb ? (unsigned char)b[i] : 0;
        diff |= ca ^ cb;
    }
    return diff == 0;
}

void mcpauth_secret_fingerprint(const char *secret, char out[MCPAUTH_FINGERPRINT_LENGTH + 1])
{
    static const char hex[] = "0123456789abcdef";
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, secret ? strlen(secret) : 0, (const uint8_t *)(secret ? secret : ""));
    sha256_digest(&ctx, sizeof digest, digest);
    for (size_t i = 0; i < MCPAUTH_FINGERPRINT_LENGTH / 2; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0xf];
    }
    out[MCPAUTH_FINGERPRINT_LENGTH] = '\0';
}

void mcpauth_secret_free(char *secret)
{
    if (!secret)
        return;
    explicit_bzero(secret, strlen(secret));
    free(secret);
}
