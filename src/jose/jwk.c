/* JWK Sets (RFC 7517 §5) turned into GnuTLS public keys: RSA (RFC 7518
 * §6.3.1), EC on P-256/P-384/P-521 (RFC 7518 §6.2.1) and OKP Ed25519
 * (RFC 8037 §2). Keys we cannot verify with are skipped, as RFC 7517 §5
 * asks ("Implementations SHOULD ignore JWKs within a JWK Set that use
 * 'kty' values that are not understood by them, that are missing required
 * members, or for which values are out of the supported ranges"). Private
 * members (d, p, q, ...) are never read. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jose_internal.h"
#include "mcpauth/base64url.h"
#include "mcpauth/json.h"
#include "mcpauth/url.h"

/* RFC 8725 §3.5 and NIST SP 800-57: RSA under 2048 bits is too weak. The
 * upper bounds keep the cost of one verification small. */
#define RSA_MIN_BITS     2048
#define RSA_MAX_BITS     16384
#define RSA_MAX_EXPONENT 8 /* bytes */
#define SKIP_REASON_SIZE 256

typedef enum jwk_result {
    JWK_USABLE,
    JWK_SKIPPED, /* why says why */
    JWK_NO_MEMORY,
} jwk_result;

static jwk_result skip(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static jwk_result skip(char *why, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, SKIP_REASON_SIZE, fmt, ap);
    va_end(ap);
    return JWK_SKIPPED;
}

/* The string member key of jwk with its length; false when absent, not a
 * string, or holding a NUL (which would cut a C string short). */
static bool string_member(json_object *jwk, const char *key, const char **text, size_t *length)
{
    json_object *value = NULL;
    if (!json_object_object_get_ex(jwk, key, &value) ||
        !json_object_is_type(value, json_type_string))
        return false;
    *text = json_object_get_string(value);
    *length = (size_t)json_object_get_string_len(value);
    return strlen(*text) == *length;
}

static bool has_member(json_object *jwk, const char *key)
{
    return json_object_object_get_ex(jwk, key, NULL);
}

static bool string_is(const char *text, size_t length, const char *expected)
{
    return length == strlen(expected) && memcmp(text, expected, length) == 0;
}

/* A base64url member holding an unsigned big-endian integer or a
 * coordinate (RFC 7518 §2 Base64urlUInt, §6.2.1.2). NULL when absent or
 * malformed; the caller frees. */
static uint8_t *bytes_member(json_object *jwk, const char *key, size_t *length)
{
    const char *text = NULL;
    size_t text_length = 0;
    if (!string_member(jwk, key, &text, &text_length))
        return NULL;
    return mcpauth_base64url_decode(text, text_length, length);
}

/* RFC 7518 §6.3.1.1 wants the shortest form, but notes that some libraries
 * emit a leading zero octet; it changes nothing, so it is dropped. */
static void strip_leading_zeros(const uint8_t **data, size_t *length)
{
    while (*length > 1 && (*data)[0] == 0) {
        (*data)++;
        (*length)--;
    }
}

static size_t bit_length(const uint8_t *data, size_t length)
{
    if (length == 0)
        return 0;
    size_t bits = (length - 1) * 8;
    for (uint8_t top = data[0]; top; top >>= 1)
        bits++;
    return bits;
}

static jwk_result import_done(int ret, gnutls_pubkey_t pubkey, const char *what, char *why)
{
    if (ret == GNUTLS_E_MEMORY_ERROR)
        return JWK_NO_MEMORY;
    if (ret < 0)
        return skip(why, "%s rejected by GnuTLS (%s)", what, gnutls_strerror(ret));
    /* For EC keys this checks that the point is on the curve. */
    ret = gnutls_pubkey_verify_params(pubkey);
    if (ret < 0)
        return skip(why, "%s is not a valid public key (%s)", what, gnutls_strerror(ret));
    return JWK_USABLE;
}

static jwk_result import_rsa(const uint8_t *n, size_t n_length, const uint8_t *e, size_t e_length,
                             mcpauth__jwk *out, char *why)
{
    strip_leading_zeros(&n, &n_length);
    strip_leading_zeros(&e, &e_length);
    size_t bits = bit_length(n, n_length);
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
        return skip(why, "RSA key of %zu bits, not %d to %d", bits, RSA_MIN_BITS, RSA_MAX_BITS);
    /* A public exponent is odd and at least 3; a huge one only slows
     * verification down. */
    if (e_length > RSA_MAX_EXPONENT || (e[e_length - 1] & 1) == 0 || (e_length == 1 && e[0] < 3))
        return skip(why, "RSA key with an unusable exponent e");
    const gnutls_datum_t m_datum = {(unsigned char *)n, (unsigned)n_length};
    const gnutls_datum_t e_datum = {(unsigned char *)e, (unsigned)e_length};
    out->type = MCPAUTH__KEY_RSA;
    /* RFC 8017 §8.2.2 step 1: a signature is exactly as long as n. */
    out->size = n_length;
    return import_done(gnutls_pubkey_import_rsa_raw(out->pubkey, &m_datum, &e_datum), out->pubkey,
                       "RSA key", why);
}

/* RFC 7518 §6.3.1: "n" and "e". */
static jwk_result read_rsa(json_object *jwk, mcpauth__jwk *out, char *why)
{
    size_t n_length = 0, e_length = 0;
    uint8_t *n = bytes_member(jwk, "n", &n_length);
    uint8_t *e = bytes_member(jwk, "e", &e_length);
    jwk_result result;
    if (!n || !e || n_length == 0 || e_length == 0)
        result = skip(why, "RSA key without base64url n and e");
    else
        result = import_rsa(n, n_length, e, e_length, out, why);
    free(n);
    free(e);
    return result;
}

typedef struct curve {
    const char *crv;
    mcpauth__key_type type;
    gnutls_ecc_curve_t gnutls;
    size_t size; /* bytes of one coordinate */
} curve;

static const curve ec_curves[] = {
    {"P-256", MCPAUTH__KEY_EC_P256, GNUTLS_ECC_CURVE_SECP256R1, 32},
    {"P-384", MCPAUTH__KEY_EC_P384, GNUTLS_ECC_CURVE_SECP384R1, 48},
    {"P-521", MCPAUTH__KEY_EC_P521, GNUTLS_ECC_CURVE_SECP521R1, 66},
};

/* RFC 7518 §6.2.1: "crv", "x" and "y", each coordinate exactly as long as
 * the curve's field (§6.2.1.2, §6.2.1.3). */
static jwk_result read_ec(json_object *jwk, mcpauth__jwk *out, char *why)
{
    const char *crv = NULL;
    size_t crv_length = 0;
    const curve *c = NULL;
    if (string_member(jwk, "crv", &crv, &crv_length)) {
        for (size_t i = 0; i < sizeof ec_curves / sizeof ec_curves[0]; i++) {
            if (string_is(crv, crv_length, ec_curves[i].crv))
                c = &ec_curves[i];
        }
    }
    if (!c)
        return skip(why, "EC key on an unsupported curve");

    size_t x_length = 0, y_length = 0;
    uint8_t *x = bytes_member(jwk, "x", &x_length);
    uint8_t *y = bytes_member(jwk, "y", &y_length);
    jwk_result result;
    if (!x || !y || x_length != c->size || y_length != c->size) {
        result = skip(why, "EC %s key without %zu-byte base64url x and y", c->crv, c->size);
    } else {
        const gnutls_datum_t x_datum = {x, (unsigned)x_length};
        const gnutls_datum_t y_datum = {y, (unsigned)y_length};
        result =
            import_done(gnutls_pubkey_import_ecc_raw(out->pubkey, c->gnutls, &x_datum, &y_datum),
                        out->pubkey, "EC key", why);
        out->type = c->type;
        out->size = c->size;
    }
    free(x);
    free(y);
    return result;
}

/* RFC 8037 §2: "crv" Ed25519 or Ed448 and the public key in "x" (32 and 57
 * bytes, RFC 8032 §5.1.5, §5.2.5). The X25519/X448 key agreement curves are
 * not for signatures. */
static const struct okp_curve {
    const char *crv;
    const char *what; /* for messages */
    gnutls_ecc_curve_t curve;
    mcpauth__key_type type;
    size_t size;
} okp_curves[] = {
    {"Ed25519", "Ed25519 key", GNUTLS_ECC_CURVE_ED25519, MCPAUTH__KEY_OKP_ED25519, 32},
    {"Ed448", "Ed448 key", GNUTLS_ECC_CURVE_ED448, MCPAUTH__KEY_OKP_ED448, 57},
};

static jwk_result read_okp(json_object *jwk, mcpauth__jwk *out, char *why)
{
    const char *crv = NULL;
    size_t crv_length = 0;
    const struct okp_curve *c = NULL;
    if (string_member(jwk, "crv", &crv, &crv_length)) {
        for (size_t i = 0; i < sizeof okp_curves / sizeof okp_curves[0]; i++)
            if (string_is(crv, crv_length, okp_curves[i].crv))
                c = &okp_curves[i];
    }
    if (!c)
        return skip(why, "OKP key on a curve other than Ed25519 and Ed448");
    size_t x_length = 0;
    uint8_t *x = bytes_member(jwk, "x", &x_length);
    jwk_result result;
    if (!x || x_length != c->size) {
        result = skip(why, "OKP %s key without a %zu-byte base64url x", c->crv, c->size);
    } else {
        const gnutls_datum_t x_datum = {x, (unsigned)c->size};
        result = import_done(gnutls_pubkey_import_ecc_raw(out->pubkey, c->curve, &x_datum, NULL),
                             out->pubkey, c->what, why);
        out->type = c->type;
        out->size = c->size;
    }
    free(x);
    return result;
}

/* RFC 7517 §4.3: with "key_ops", only keys listing "verify" verify. */
static bool ops_allow_verify(json_object *ops)
{
    if (!json_object_is_type(ops, json_type_array))
        return false;
    size_t n = json_object_array_length(ops);
    for (size_t i = 0; i < n; i++) {
        json_object *op = json_object_array_get_idx(ops, i);
        if (json_object_is_type(op, json_type_string) &&
            strcmp(json_object_get_string(op), "verify") == 0 &&
            json_object_get_string_len(op) == 6)
            return true;
    }
    return false;
}

/* The members that say what a key is for: "use" (RFC 7517 §4.2),
 * "key_ops" (§4.3) and "alg" (§4.4). */
static jwk_result read_purpose(json_object *jwk, mcpauth__jwk *out, char *why)
{
    const char *text = NULL;
    size_t length = 0;
    char shown[MCPAUTH_URL_QUOTE_SIZE];
    json_object *ops = NULL;

    if (has_member(jwk, "use")) {
        if (!string_member(jwk, "use", &text, &length))
            return skip(why, "use is not a string");
        if (!string_is(text, length, "sig"))
            return skip(why, "use %s, not sig", mcpauth__jose_show(text, length, shown));
    }
    if (json_object_object_get_ex(jwk, "key_ops", &ops) && !ops_allow_verify(ops))
        return skip(why, "key_ops without verify");
    if (has_member(jwk, "alg")) {
        if (!string_member(jwk, "alg", &text, &length))
            return skip(why, "alg is not a string");
        if (!mcpauth_jws_alg_parse(text, &out->alg))
            return skip(why, "alg %s not supported", mcpauth__jose_show(text, length, shown));
        out->has_alg = true;
    }
    return JWK_USABLE;
}

static jwk_result read_key_material(json_object *jwk, mcpauth__jwk *out, char *why)
{
    const char *kty = NULL;
    size_t kty_length = 0;
    char shown[MCPAUTH_URL_QUOTE_SIZE];
    if (!string_member(jwk, "kty", &kty, &kty_length))
        return skip(why, "no kty");
    /* RFC 7517 §4.1: kty values are case-sensitive. "oct" (shared secrets)
     * is refused by name: RFC 8725 §3.1, no HMAC for access tokens. */
    bool rsa = string_is(kty, kty_length, "RSA");
    bool ec = string_is(kty, kty_length, "EC");
    bool okp = string_is(kty, kty_length, "OKP");
    if (!rsa && !ec && !okp)
        return skip(why, "kty %s not supported", mcpauth__jose_show(kty, kty_length, shown));
    if (gnutls_pubkey_init(&out->pubkey) < 0)
        return JWK_NO_MEMORY;
    if (rsa)
        return read_rsa(jwk, out, why);
    return ec ? read_ec(jwk, out, why) : read_okp(jwk, out, why);
}

static void jwk_clear(mcpauth__jwk *key)
{
    free(key->kid);
    if (key->pubkey)
        gnutls_pubkey_deinit(key->pubkey);
    memset(key, 0, sizeof *key);
}

static jwk_result read_jwk(json_object *jwk, mcpauth__jwk *out, char *why)
{
    memset(out, 0, sizeof *out);
    if (!json_object_is_type(jwk, json_type_object))
        return skip(why, "not a JSON object");

    const char *kid = NULL;
    size_t kid_length = 0;
    if (has_member(jwk, "kid") && !string_member(jwk, "kid", &kid, &kid_length))
        return skip(why, "kid is not a string");
    jwk_result result = read_purpose(jwk, out, why);
    if (result == JWK_USABLE)
        result = read_key_material(jwk, out, why);
    if (result == JWK_USABLE && out->has_alg && !mcpauth__jwk_fits(out, out->alg))
        result = skip(why, "alg %s does not fit a %s key", mcpauth_jws_alg_name(out->alg),
                      mcpauth__key_type_name(out->type));
    if (result == JWK_USABLE && kid) {
        out->kid = strndup(kid, kid_length);
        if (!out->kid)
            result = JWK_NO_MEMORY;
    }
    if (result != JWK_USABLE)
        jwk_clear(out);
    return result;
}

const mcpauth__jwk *mcpauth__jwks_find(const mcpauth_jwks *jwks, const char *kid, size_t length)
{
    for (size_t i = 0; i < jwks->count; i++) {
        const char *k = jwks->keys[i].kid;
        if (k && strlen(k) == length && memcmp(k, kid, length) == 0)
            return &jwks->keys[i];
    }
    return NULL;
}

/* Names the key in a skip message: its kid when it has a string one. */
static const char *describe(json_object *jwk, size_t index, char *buf, size_t size)
{
    const char *kid = NULL;
    size_t kid_length = 0;
    char shown[MCPAUTH_URL_QUOTE_SIZE];
    if (json_object_is_type(jwk, json_type_object) && string_member(jwk, "kid", &kid, &kid_length))
        snprintf(buf, size, "key %s", mcpauth__jose_show(kid, kid_length, shown));
    else
        snprintf(buf, size, "key #%zu", index + 1);
    return buf;
}

static mcpauth_status read_keys(json_object *keys, mcpauth_jwks *jwks, mcpauth_error *err)
{
    size_t n = json_object_array_length(keys);
    size_t skipped = 0;
    char first_skip[SKIP_REASON_SIZE + MCPAUTH_URL_QUOTE_SIZE + 16] = "";

    jwks->keys = calloc(n > 0 ? n : 1, sizeof *jwks->keys);
    if (!jwks->keys)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_object *jwk = json_object_array_get_idx(keys, i);
        mcpauth__jwk *key = &jwks->keys[jwks->count];
        char why[SKIP_REASON_SIZE] = "";
        jwk_result result = read_jwk(jwk, key, why);
        if (result == JWK_NO_MEMORY)
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        /* A kid names one key; the first one wins, so a later entry
         * cannot take over a kid (RFC 7517 §4.5: kids should differ). */
        if (result == JWK_USABLE && key->kid &&
            mcpauth__jwks_find(jwks, key->kid, strlen(key->kid))) {
            jwk_clear(key);
            result = skip(why, "kid already taken by an earlier key");
        }
        if (result == JWK_USABLE) {
            jwks->count++;
            continue;
        }
        if (skipped++ == 0) {
            char name[MCPAUTH_URL_QUOTE_SIZE + 8];
            snprintf(first_skip, sizeof first_skip, "%s: %s", describe(jwk, i, name, sizeof name),
                     why);
        }
    }
    if (jwks->count == 0)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "JWK set has no usable signature key%s%s%s",
                                 skipped ? " (" : "", first_skip, skipped ? ")" : "");
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_jwks_parse(const char *text, size_t length, mcpauth_jwks **out,
                                  mcpauth_error *err)
{
    mcpauth_error local;
    if (!err)
        err = &local;
    *out = NULL;
    if (!text)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "JWK set is empty");
    json_object *doc = mcpauth_json_parse_object(text, length, "JWK set", err);
    if (!doc)
        return err->status;

    json_object *keys = NULL;
    if (!json_object_object_get_ex(doc, "keys", &keys) ||
        !json_object_is_type(keys, json_type_array)) {
        json_object_put(doc);
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "JWK set has no \"keys\" array (RFC 7517 §5)");
    }
    size_t n = json_object_array_length(keys);
    if (n > MCPAUTH_JWKS_MAX_KEYS) {
        json_object_put(doc);
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "JWK set has %zu keys, more than %d", n,
                                 MCPAUTH_JWKS_MAX_KEYS);
    }

    mcpauth_jwks *jwks = calloc(1, sizeof *jwks);
    if (!jwks) {
        json_object_put(doc);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    mcpauth_status status = read_keys(keys, jwks, err);
    json_object_put(doc);
    if (status != MCPAUTH_OK) {
        mcpauth_jwks_free(jwks);
        return status;
    }
    *out = jwks;
    return MCPAUTH_OK;
}

void mcpauth_jwks_free(mcpauth_jwks *jwks)
{
    if (!jwks)
        return;
    for (size_t i = 0; i < jwks->count; i++)
        jwk_clear(&jwks->keys[i]);
    free(jwks->keys);
    free(jwks);
}

size_t mcpauth_jwks_count(const mcpauth_jwks *jwks)
{
    return jwks ? jwks->count : 0;
}
