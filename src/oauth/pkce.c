#include "mcpauth/pkce.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/sha2.h>
#include <string.h>

#include "mcpauth/base64url.h"
#include "mcpauth/secret.h"

/* base64url of exactly 32 octets (43 characters) into a fixed buffer; the
 * heap copy is wiped, since the verifier is a secret. */
static mcpauth_status encode_32(const uint8_t in[32], char out[44], mcpauth_error *err)
{
    char *encoded = mcpauth_base64url_encode(in, 32);
    if (!encoded) {
        memset(out, 0, 44);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    memcpy(out, encoded, 44);
    mcpauth_secret_free(encoded);
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_pkce_challenge_s256(const char *verifier,
                                           char challenge[MCPAUTH_PKCE_CHALLENGE_LENGTH + 1],
                                           mcpauth_error *err)
{
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, strlen(verifier), (const uint8_t *)verifier);
    sha256_digest(&ctx, sizeof digest, digest);
    explicit_bzero(&ctx, sizeof ctx);
    return encode_32(digest, challenge, err);
}

mcpauth_status mcpauth_pkce_from_octets(const uint8_t octets[MCPAUTH_PKCE_OCTETS],
                                        mcpauth_pkce *out, mcpauth_error *err)
{
    if (encode_32(octets, out->verifier, err) != MCPAUTH_OK ||
        mcpauth_pkce_challenge_s256(out->verifier, out->challenge, err) != MCPAUTH_OK) {
        mcpauth_pkce_clear(out);
        return MCPAUTH_ELOCAL;
    }
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_pkce_generate(mcpauth_pkce *out, mcpauth_error *err)
{
    uint8_t octets[MCPAUTH_PKCE_OCTETS];
    /* RFC 7636 §7.1: the verifier must be unguessable; GNUTLS_RND_RANDOM is
     * the level meant for secret values. */
    if (gnutls_rnd(GNUTLS_RND_RANDOM, octets, sizeof octets) != 0) {
        mcpauth_pkce_clear(out);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot get random bytes for PKCE");
    }
    mcpauth_status st = mcpauth_pkce_from_octets(octets, out, err);
    explicit_bzero(octets, sizeof octets);
    return st;
}

bool mcpauth_pkce_verifier_valid(const char *verifier)
{
    size_t length = strlen(verifier);
    if (length < 43 || length > 128)
        return false;
    for (const char *p = verifier; *p; p++) {
        char c = *p;
        bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (!unreserved)
            return false;
    }
    return true;
}

void mcpauth_pkce_clear(mcpauth_pkce *pkce)
{
    explicit_bzero(pkce, sizeof *pkce);
}
