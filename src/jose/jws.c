/* JWS compact serialisation (RFC 7515 §7.1): splitting a token into its
 * three segments under strict limits, and verifying its signature with
 * GnuTLS. */
#include <gnutls/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "jose_internal.h"
#include "mcpauth/base64url.h"
#include "mcpauth/json.h"

static bool is_base64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Finds the two dots of a compact serialisation; false (with the number of
 * segments seen) when there are not exactly two. */
static bool split(const char *token, size_t length, size_t dots[2], size_t *segments)
{
    size_t n = 0;
    for (size_t i = 0; i < length; i++) {
        if (token[i] != '.')
            continue;
        if (n < 2)
            dots[n] = i;
        n++;
    }
    *segments = n + 1;
    return n == 2;
}

bool mcpauth_jwt_looks_like(const char *token, size_t length)
{
    size_t dots[2], segments;
    if (!token || !split(token, length, dots, &segments))
        return false;
    /* Header and payload are never empty in a JWT; the signature is empty
     * only in an unsecured one, which still is a JWT (to be refused). */
    if (dots[0] == 0 || dots[1] == dots[0] + 1)
        return false;
    for (size_t i = 0; i < length; i++) {
        if (i != dots[0] && i != dots[1] && !is_base64url(token[i]))
            return false;
    }
    /* RFC 7515 §7.1: the header is a JSON object, so its first character
     * decodes to '{' (or to JSON whitespace before it). Four characters
     * decode to three bytes; opaque tokens with two dots (PASETO's
     * "v4.public.", for one) fail here. */
    if (dots[0] < 4)
        return false;
    size_t decoded_length = 0;
    uint8_t *decoded = mcpauth_base64url_decode(token, 4, &decoded_length);
    bool object = decoded && decoded[0] != '\0' && strchr("{ \t\r\n", decoded[0]) != NULL;
    free(decoded);
    return object;
}

static mcpauth_status not_base64url(mcpauth_error *err, const char *part)
{
    return mcpauth_error_set(err, MCPAUTH_EREMOTE, "JWT %s is not base64url (RFC 7515 §2)", part);
}

mcpauth_status mcpauth__jws_parse(const char *token, size_t length, mcpauth__jws *out,
                                  mcpauth_error *err)
{
    memset(out, 0, sizeof *out);
    if (!token || length == 0)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "token is empty");
    if (length > MCPAUTH_JWT_MAX_LENGTH)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "token is %zu bytes, over the limit of %d",
                                 length, MCPAUTH_JWT_MAX_LENGTH);
    size_t dots[2], segments;
    if (!split(token, length, dots, &segments))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "token has %zu segments, not 3 (RFC 7515 §7.1)", segments);

    /* RFC 7515 §5.2 steps 2-4: each segment is strict base64url (no
     * padding, no whitespace, RFC 7515 §2) and the header a JSON object. */
    size_t header_length = 0;
    uint8_t *header = mcpauth_base64url_decode(token, dots[0], &header_length);
    if (!header)
        return not_base64url(err, "header");
    out->header = mcpauth_json_parse_object((const char *)header, header_length, "JWT header", err);
    free(header);
    if (!out->header)
        return MCPAUTH_EREMOTE;

    out->signing_input = token;
    out->signing_input_length = dots[1];
    out->payload =
        mcpauth_base64url_decode(token + dots[0] + 1, dots[1] - dots[0] - 1, &out->payload_length);
    if (!out->payload)
        return not_base64url(err, "payload");
    out->signature =
        mcpauth_base64url_decode(token + dots[1] + 1, length - dots[1] - 1, &out->signature_length);
    if (!out->signature)
        return not_base64url(err, "signature");
    return MCPAUTH_OK;
}

json_object *mcpauth__jws_payload(const mcpauth__jws *jws, mcpauth_error *err)
{
    /* RFC 7519 §7.2 step 10: the claims set is a JSON object. */
    return mcpauth_json_parse_object((const char *)jws->payload, jws->payload_length, "JWT payload",
                                     err);
}

/* RFC 7518 §3.4: an ECDSA JWS signature is r || s, each as long as the
 * curve's order, while GnuTLS takes the DER SEQUENCE of RFC 3279 §2.2.3.
 * Leading zero octets are dropped here; DER integers are minimal. */
static int ecdsa_to_der(const uint8_t *signature, size_t length, gnutls_datum_t *der)
{
    const uint8_t *half[2] = {signature, signature + length / 2};
    gnutls_datum_t parts[2];
    for (int i = 0; i < 2; i++) {
        size_t n = length / 2;
        const uint8_t *p = half[i];
        while (n > 1 && *p == 0) {
            p++;
            n--;
        }
        parts[i].data = (unsigned char *)p;
        parts[i].size = (unsigned)n;
    }
    return gnutls_encode_rs_value(der, &parts[0], &parts[1]);
}

mcpauth_status mcpauth__jws_verify(const mcpauth__jws *jws, mcpauth_jws_alg alg,
                                   const mcpauth__jwk *key, mcpauth_error *err)
{
    const mcpauth__alg_info *info = mcpauth__alg_info_for_key(alg, key->type);
    /* RFC 7518 §3.4 (ECDSA), RFC 8032 §5.1.6/§5.2.6 (Ed25519, Ed448) and RFC 8017 §8.2.2
     * step 1 (RSA: as long as the modulus): anything else is not a
     * signature of this algorithm, whatever a lenient decoder would make
     * of it. */
    size_t expected = info->signature_size ? info->signature_size : key->size;
    if (jws->signature_length != expected)
        return mcpauth_error_set(err, MCPAUTH_ENEGATIVE, "%s signature is %zu bytes, not %zu",
                                 info->name, jws->signature_length, expected);

    /* RFC 8032 §5.2.7: S (the last 57 bytes) must be below the group order,
     * so its last byte is always 0. Nettle compares only the low 448 bits
     * with the order and ignores that byte: without this check, 255
     * variants of every Ed448 signature would verify. */
    if (info->key_type == MCPAUTH__KEY_OKP_ED448 && jws->signature[jws->signature_length - 1] != 0)
        return mcpauth_error_set(err, MCPAUTH_ENEGATIVE,
                                 "bad signature (Ed448 S out of range, RFC 8032 §5.2.7)");
    const gnutls_datum_t data = {(unsigned char *)jws->signing_input,
                                 (unsigned)jws->signing_input_length};
    gnutls_datum_t signature = {jws->signature, (unsigned)jws->signature_length};
    gnutls_datum_t der = {NULL, 0};
    bool ecdsa = info->key_type == MCPAUTH__KEY_EC_P256 || info->key_type == MCPAUTH__KEY_EC_P384 ||
                 info->key_type == MCPAUTH__KEY_EC_P521;
    if (ecdsa) {
        int ret = ecdsa_to_der(jws->signature, jws->signature_length, &der);
        if (ret == GNUTLS_E_MEMORY_ERROR)
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        if (ret < 0)
            return mcpauth_error_set(err, MCPAUTH_ENEGATIVE, "bad signature (%s)",
                                     gnutls_strerror(ret));
        signature = der;
    }
    int ret = gnutls_pubkey_verify_data2(key->pubkey, info->sign, 0, &data, &signature);
    gnutls_free(der.data);
    if (ret == GNUTLS_E_PK_SIG_VERIFY_FAILED)
        return mcpauth_error_set(err, MCPAUTH_ENEGATIVE, "bad signature");
    if (ret < 0)
        return mcpauth_error_set(err, MCPAUTH_ENEGATIVE, "bad signature (%s)",
                                 gnutls_strerror(ret));
    return MCPAUTH_OK;
}

void mcpauth__jws_free(mcpauth__jws *jws)
{
    if (!jws)
        return;
    json_object_put(jws->header);
    free(jws->payload);
    free(jws->signature);
    memset(jws, 0, sizeof *jws);
}
