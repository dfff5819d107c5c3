/* ES256 signing on GnuTLS, for the development issuer's access tokens:
 * key generation, the public JWK with its RFC 7638 thumbprint as kid, and
 * JWS compact serialisation with the signature converted from GnuTLS's DER
 * to the fixed-size r || s that RFC 7518 §3.4 asks for.
 */
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

#include "jose_internal.h"
#include "mcpauth/base64url.h"
#include "mcpauth/json.h"
#include "mcpauth/secret.h"
#include "mcpauth/strbuf.h"

#define P256_BYTES 32

struct mcpauth_jws_signer {
    gnutls_privkey_t key;
    char *x, *y; /* base64url coordinates, 32 bytes each before encoding */
    char *kid;
};

void mcpauth_jws_signer_free(mcpauth_jws_signer *signer)
{
    if (!signer)
        return;
    gnutls_privkey_deinit(signer->key);
    free(signer->x);
    free(signer->y);
    free(signer->kid);
    free(signer);
}

/* base64url of value left-padded with zeros to size bytes: JWK coordinates
 * and r, s have a fixed length (RFC 7518 §6.2.1.2, §3.4). */
static char *encode_fixed(const gnutls_datum_t *value, size_t size)
{
    uint8_t buf[66] = {0};
    const uint8_t *data = value->data;
    size_t length = value->size;
    while (length > size && data[0] == 0) {
        data++;
        length--;
    }
    if (length > size || size > sizeof buf)
        return NULL;
    memcpy(buf + size - length, data, length);
    return mcpauth_base64url_encode(buf, size);
}

/* RFC 7638 §3.2: SHA-256 over the required members in lexicographic order,
 * no whitespace. */
static char *thumbprint(const char *x, const char *y)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appendf(&sb, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x,
                           y);
    if (mcpauth_strbuf_failed(&sb))
        return NULL;
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, sb.length, (const uint8_t *)sb.data);
    sha256_digest(&ctx, sizeof digest, digest);
    mcpauth_strbuf_free(&sb);
    return mcpauth_base64url_encode(digest, sizeof digest);
}

/* Fills x, y and kid from the key's public point. */
static mcpauth_status describe_key(mcpauth_jws_signer *signer, mcpauth_error *err)
{
    gnutls_ecc_curve_t curve;
    gnutls_datum_t x = {0}, y = {0};
    if (gnutls_privkey_export_ecc_raw(signer->key, &curve, &x, &y, NULL) != 0)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot read the signing key");
    if (curve == GNUTLS_ECC_CURVE_SECP256R1) {
        signer->x = encode_fixed(&x, P256_BYTES);
        signer->y = encode_fixed(&y, P256_BYTES);
    }
    gnutls_free(x.data);
    gnutls_free(y.data);
    if (!signer->x || !signer->y || !(signer->kid = thumbprint(signer->x, signer->y)))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot describe the signing key");
    return MCPAUTH_OK;
}

/* Completes a signer whose key is in place with its coordinates and kid;
 * frees it and returns NULL when that fails. */
static mcpauth_jws_signer *with_description(mcpauth_jws_signer *signer, mcpauth_error *err)
{
    if (describe_key(signer, err) == MCPAUTH_OK)
        return signer;
    mcpauth_jws_signer_free(signer);
    return NULL;
}

mcpauth_jws_signer *mcpauth_jws_signer_generate_es256(mcpauth_error *err)
{
    mcpauth_jws_signer *signer = calloc(1, sizeof *signer);
    if (!signer) {
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        return NULL;
    }
    int rc = gnutls_privkey_init(&signer->key);
    if (rc == 0)
        rc = gnutls_privkey_generate2(signer->key, GNUTLS_PK_ECDSA,
                                      GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0, NULL, 0);
    if (rc != 0) {
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot generate an ES256 key: %s",
                          gnutls_strerror(rc));
        mcpauth_jws_signer_free(signer);
        return NULL;
    }
    return with_description(signer, err);
}

/* Decodes a base64url JWK member of exactly size bytes. */
static uint8_t *member_bytes(json_object *jwk, const char *name, size_t size)
{
    const char *text = mcpauth_json_string(jwk, name);
    size_t length = 0;
    uint8_t *data = text ? mcpauth_base64url_decode(text, strlen(text), &length) : NULL;
    if (data && length != size) {
        explicit_bzero(data, length);
        free(data);
        return NULL;
    }
    return data;
}

mcpauth_jws_signer *mcpauth_jws_signer_from_jwk(json_object *jwk, mcpauth_error *err)
{
    const char *kty = mcpauth_json_string(jwk, "kty");
    const char *crv = mcpauth_json_string(jwk, "crv");
    uint8_t *x = member_bytes(jwk, "x", P256_BYTES), *y = member_bytes(jwk, "y", P256_BYTES);
    uint8_t *d = member_bytes(jwk, "d", P256_BYTES);
    mcpauth_jws_signer *signer = calloc(1, sizeof *signer);
    bool ok = signer && x && y && d && kty && crv && strcmp(kty, "EC") == 0 &&
              strcmp(crv, "P-256") == 0 && gnutls_privkey_init(&signer->key) == 0;
    if (ok) {
        gnutls_datum_t xd = {x, P256_BYTES}, yd = {y, P256_BYTES}, dd = {d, P256_BYTES};
        ok = gnutls_privkey_import_ecc_raw(signer->key, GNUTLS_ECC_CURVE_SECP256R1, &xd, &yd,
                                           &dd) == 0 &&
             gnutls_privkey_verify_params(signer->key) == 0;
    }
    if (d)
        explicit_bzero(d, P256_BYTES);
    free(x);
    free(y);
    free(d);
    if (!ok) {
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "the signing key is not a P-256 private JWK");
        mcpauth_jws_signer_free(signer);
        return NULL;
    }
    return with_description(signer, err);
}

const char *mcpauth_jws_signer_kid(const mcpauth_jws_signer *signer)
{
    return signer->kid;
}

json_object *mcpauth_jws_signer_public_jwk(const mcpauth_jws_signer *signer)
{
    json_object *jwk = json_object_new_object();
    if (!jwk)
        return NULL;
    json_object_object_add(jwk, "kty", json_object_new_string("EC"));
    json_object_object_add(jwk, "crv", json_object_new_string("P-256"));
    json_object_object_add(jwk, "x", json_object_new_string(signer->x));
    json_object_object_add(jwk, "y", json_object_new_string(signer->y));
    json_object_object_add(jwk, "kid", json_object_new_string(signer->kid));
    json_object_object_add(jwk, "use", json_object_new_string("sig"));
    json_object_object_add(jwk, "alg", json_object_new_string("ES256"));
    return jwk;
}

json_object *mcpauth_jws_signer_private_jwk(const mcpauth_jws_signer *signer)
{
    gnutls_ecc_curve_t curve;
    gnutls_datum_t x = {0}, y = {0}, k = {0};
    if (gnutls_privkey_export_ecc_raw(signer->key, &curve, &x, &y, &k) != 0)
        return NULL;
    char *d = encode_fixed(&k, P256_BYTES);
    gnutls_free(x.data);
    gnutls_free(y.data);
    explicit_bzero(k.data, k.size);
    gnutls_free(k.data);
    json_object *jwk = d ? mcpauth_jws_signer_public_jwk(signer) : NULL;
    if (jwk)
        json_object_object_add(jwk, "d", json_object_new_string(d));
    mcpauth_secret_free(d);
    return jwk;
}

/* RFC 7518 §3.4: the JWS signature is r || s, each 32 bytes for P-256. */
static char *sign_input(const mcpauth_jws_signer *signer, const char *input, size_t length,
                        mcpauth_error *err)
{
    gnutls_datum_t data = {(unsigned char *)input, (unsigned)length}, der = {0}, r = {0}, s = {0};
    int rc = gnutls_privkey_sign_data2(signer->key, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &der);
    if (rc == 0)
        rc = gnutls_decode_rs_value(&der, &r, &s);
    gnutls_free(der.data);
    char *result = NULL;
    if (rc == 0) {
        uint8_t raw[2 * P256_BYTES] = {0};
        gnutls_datum_t parts[2] = {r, s};
        bool fits = true;
        for (int i = 0; i < 2; i++) {
            const uint8_t *p = parts[i].data;
            size_t n = parts[i].size;
            while (n > P256_BYTES && p[0] == 0) {
                p++;
                n--;
            }
            fits = fits && n <= P256_BYTES;
            if (fits)
                memcpy(raw + (size_t)i * P256_BYTES + P256_BYTES - n, p, n);
        }
        result = fits ? mcpauth_base64url_encode(raw, sizeof raw) : NULL;
    }
    gnutls_free(r.data);
    gnutls_free(s.data);
    if (!result)
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot sign: %s",
                          rc ? gnutls_strerror(rc) : "bad signature size");
    return result;
}

char *mcpauth_jws_sign(const mcpauth_jws_signer *signer, const char *typ, json_object *payload,
                       mcpauth_error *err)
{
    json_object *header = json_object_new_object();
    if (!header) {
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        return NULL;
    }
    json_object_object_add(header, "alg", json_object_new_string("ES256"));
    if (typ)
        json_object_object_add(header, "typ", json_object_new_string(typ));
    json_object_object_add(header, "kid", json_object_new_string(signer->kid));
    const char *h = mcpauth_json_compact(header), *p = mcpauth_json_compact(payload);
    char *h64 = h ? mcpauth_base64url_encode((const uint8_t *)h, strlen(h)) : NULL;
    char *p64 = p ? mcpauth_base64url_encode((const uint8_t *)p, strlen(p)) : NULL;
    json_object_put(header);
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    char *result = NULL;
    if (h64 && p64) {
        mcpauth_strbuf_appendf(&sb, "%s.%s", h64, p64);
        char *signature =
            mcpauth_strbuf_failed(&sb) ? NULL : sign_input(signer, sb.data, sb.length, err);
        if (signature) {
            mcpauth_strbuf_appendf(&sb, ".%s", signature);
            result = mcpauth_strbuf_detach(&sb);
        }
        free(signature);
    }
    mcpauth_strbuf_free(&sb);
    free(h64);
    free(p64);
    if (!result && err && err->status == MCPAUTH_OK)
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    return result;
}
