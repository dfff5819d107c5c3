/* The JWS algorithms we verify (RFC 7518 §3.1, RFC 8037 §3.1) and what
 * each one needs: its key type, its GnuTLS signature algorithm and its
 * signature size. Everything else ("none", HS256, ...) is refused by name
 * before any key is looked at (RFC 8725 §3.1, §3.2). */
#include <string.h>

#include "jose_internal.h"
#include "mcpauth/url.h"

/* RFC 7518 §3.3 (RS*), §3.5 (PS*: RSASSA-PSS with MGF1 on the same hash and
 * a salt as long as the hash, which is what GnuTLS uses for an RSA key's
 * PSS signatures), §3.4 (ES*: raw r || s, each as long as the curve's
 * order), RFC 8037 §3.1 (EdDSA: the key's curve decides, Ed25519 here and
 * Ed448 below), RFC 9864 §2.2 (Ed25519 and Ed448: EdDSA bound to one curve,
 * the names that deprecate the polymorphic one). */
static const mcpauth__alg_info algs[MCPAUTH_JWS_ALG_COUNT] = {
    [MCPAUTH_JWS_RS256] = {"RS256", MCPAUTH__KEY_RSA, GNUTLS_SIGN_RSA_SHA256, 0},
    [MCPAUTH_JWS_RS384] = {"RS384", MCPAUTH__KEY_RSA, GNUTLS_SIGN_RSA_SHA384, 0},
    [MCPAUTH_JWS_RS512] = {"RS512", MCPAUTH__KEY_RSA, GNUTLS_SIGN_RSA_SHA512, 0},
    [MCPAUTH_JWS_PS256] = {"PS256", MCPAUTH__KEY_RSA, GNUTLS_SIGN_RSA_PSS_RSAE_SHA256, 0},
    [MCPAUTH_JWS_PS384] = {"PS384", MCPAUTH__KEY_RSA, GNUTLS_SIGN_RSA_PSS_RSAE_SHA384, 0},
    [MCPAUTH_JWS_PS512] = {"PS512", MCPAUTH__KEY_RSA, GNUTLS_SIGN_RSA_PSS_RSAE_SHA512, 0},
    [MCPAUTH_JWS_ES256] = {"ES256", MCPAUTH__KEY_EC_P256, GNUTLS_SIGN_ECDSA_SHA256, 64},
    [MCPAUTH_JWS_ES384] = {"ES384", MCPAUTH__KEY_EC_P384, GNUTLS_SIGN_ECDSA_SHA384, 96},
    [MCPAUTH_JWS_ES512] = {"ES512", MCPAUTH__KEY_EC_P521, GNUTLS_SIGN_ECDSA_SHA512, 132},
    [MCPAUTH_JWS_EDDSA] = {"EdDSA", MCPAUTH__KEY_OKP_ED25519, GNUTLS_SIGN_EDDSA_ED25519, 64},
    [MCPAUTH_JWS_ED25519] = {"Ed25519", MCPAUTH__KEY_OKP_ED25519, GNUTLS_SIGN_EDDSA_ED25519, 64},
    [MCPAUTH_JWS_ED448] = {"Ed448", MCPAUTH__KEY_OKP_ED448, GNUTLS_SIGN_EDDSA_ED448, 114},
};

/* EdDSA with an Ed448 key (RFC 8037 §3.1, RFC 8032 §5.2.6: 114 bytes). */
static const mcpauth__alg_info eddsa_ed448 = {"EdDSA", MCPAUTH__KEY_OKP_ED448,
                                              GNUTLS_SIGN_EDDSA_ED448, 114};

bool mcpauth_jws_alg_parse(const char *name, mcpauth_jws_alg *out)
{
    if (!name)
        return false;
    /* RFC 7515 §4.1.1: "alg" values are case-sensitive. */
    for (int i = 0; i < MCPAUTH_JWS_ALG_COUNT; i++) {
        if (strcmp(name, algs[i].name) == 0) {
            *out = (mcpauth_jws_alg)i;
            return true;
        }
    }
    return false;
}

const char *mcpauth_jws_alg_name(mcpauth_jws_alg alg)
{
    if ((int)alg < 0 || alg >= MCPAUTH_JWS_ALG_COUNT)
        return "unknown";
    return algs[alg].name;
}

const mcpauth__alg_info *mcpauth__alg_info_of(mcpauth_jws_alg alg)
{
    return &algs[alg];
}

bool mcpauth__alg_takes_key_type(mcpauth_jws_alg alg, mcpauth__key_type type)
{
    if (alg == MCPAUTH_JWS_EDDSA)
        return type == MCPAUTH__KEY_OKP_ED25519 || type == MCPAUTH__KEY_OKP_ED448;
    return type == algs[alg].key_type;
}

const mcpauth__alg_info *mcpauth__alg_info_for_key(mcpauth_jws_alg alg, mcpauth__key_type type)
{
    if (alg == MCPAUTH_JWS_EDDSA && type == MCPAUTH__KEY_OKP_ED448)
        return &eddsa_ed448;
    return &algs[alg];
}

const char *mcpauth__key_type_name(mcpauth__key_type type)
{
    switch (type) {
    case MCPAUTH__KEY_RSA:
        return "RSA";
    case MCPAUTH__KEY_EC_P256:
        return "EC P-256";
    case MCPAUTH__KEY_EC_P384:
        return "EC P-384";
    case MCPAUTH__KEY_EC_P521:
        return "EC P-521";
    case MCPAUTH__KEY_OKP_ED25519:
        return "OKP Ed25519";
    case MCPAUTH__KEY_OKP_ED448:
        return "OKP Ed448";
    }
    return "unknown";
}

bool mcpauth__jwk_fits(const mcpauth__jwk *key, mcpauth_jws_alg alg)
{
    if (!mcpauth__alg_takes_key_type(alg, key->type))
        return false;
    return !key->has_alg || key->alg == alg;
}

static bool harmless(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("-_.+/:", c) != NULL;
}

const char *mcpauth__jose_show(const char *text, size_t length, char *buf)
{
    bool bare = length > 0 && length <= 64;
    for (size_t i = 0; bare && i < length; i++)
        bare = text[i] != '\0' && harmless(text[i]);
    if (bare) {
        memcpy(buf, text, length);
        buf[length] = '\0';
        return buf;
    }
    return mcpauth_url_quote(text, buf, MCPAUTH_URL_QUOTE_SIZE);
}
