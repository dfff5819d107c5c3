/* Shared between the files of src/jose/: the algorithm table, parsed keys
 * and the split JWS. Not for use outside src/jose/. */
#ifndef MCPAUTH_JOSE_INTERNAL_H
#define MCPAUTH_JOSE_INTERNAL_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcpauth/error.h"
#include "mcpauth/jose.h"

/* The kinds of public key the supported algorithms need (RFC 7518 §3.1,
 * RFC 8037 §3.1). A key is exactly one of them. */
typedef enum mcpauth__key_type {
    MCPAUTH__KEY_RSA,
    MCPAUTH__KEY_EC_P256,
    MCPAUTH__KEY_EC_P384,
    MCPAUTH__KEY_EC_P521,
    MCPAUTH__KEY_OKP_ED25519,
    MCPAUTH__KEY_OKP_ED448,
} mcpauth__key_type;

/* "RSA", "EC P-256", ..., "OKP Ed25519": for messages. */
const char *mcpauth__key_type_name(mcpauth__key_type type);

/* What verifying one algorithm takes. */
typedef struct mcpauth__alg_info {
    const char *name;             /* the "alg" value, RFC 7518 §3.1 */
    mcpauth__key_type key_type;   /* the only key type it may be used with */
    gnutls_sign_algorithm_t sign; /* for gnutls_pubkey_verify_data2() */
    size_t signature_size;        /* exact size in bytes; 0: the RSA modulus size */
} mcpauth__alg_info;

const mcpauth__alg_info *mcpauth__alg_info_of(mcpauth_jws_alg alg);

/* True when a key of this type may verify alg: its own key type, and for
 * the polymorphic EdDSA either Edwards curve (RFC 8037 §3.1). */
bool mcpauth__alg_takes_key_type(mcpauth_jws_alg alg, mcpauth__key_type type);

/* How alg verifies with a key of this type (which must be one it takes):
 * alg's own entry, but for EdDSA the curve of the key decides. */
const mcpauth__alg_info *mcpauth__alg_info_for_key(mcpauth_jws_alg alg, mcpauth__key_type type);

/* One usable verification key of a JWK Set. */
typedef struct mcpauth__jwk {
    char *kid; /* NULL when the JWK has none */
    mcpauth__key_type type;
    bool has_alg;        /* the JWK names its algorithm (RFC 7517 §4.4) */
    mcpauth_jws_alg alg; /* that algorithm, when has_alg */
    size_t size;         /* RSA modulus bytes, EC coordinate bytes, 32 Ed25519, 57 Ed448 */
    gnutls_pubkey_t pubkey;
} mcpauth__jwk;

struct mcpauth_jwks {
    mcpauth__jwk *keys;
    size_t count;
};

/* True when key may verify alg: its type is the one alg needs (RFC 8725
 * §3.1) and its own "alg", when it has one, is alg. */
bool mcpauth__jwk_fits(const mcpauth__jwk *key, mcpauth_jws_alg alg);

/* The key with this kid (length bytes, may hold no NUL), or NULL. */
const mcpauth__jwk *mcpauth__jwks_find(const mcpauth_jwks *jwks, const char *kid, size_t length);

/* A JWS compact serialisation split into its parts (RFC 7515 §7.1), with
 * the header decoded and parsed. The token's text is borrowed. */
typedef struct mcpauth__jws {
    json_object *header;       /* owned */
    const char *signing_input; /* "header.payload" as sent: RFC 7515 §5.2 step 8 */
    size_t signing_input_length;
    uint8_t *payload; /* owned: the decoded payload, not yet parsed */
    size_t payload_length;
    uint8_t *signature; /* owned; may be empty */
    size_t signature_length;
} mcpauth__jws;

/* Splits and decodes token under the limits of jose.h: at most
 * MCPAUTH_JWT_MAX_LENGTH bytes, three segments, each strict base64url, the
 * header a depth-limited UTF-8 JSON object. The payload is decoded but not
 * parsed: that waits for the signature. MCPAUTH_EREMOTE with a message that
 * never quotes the token. Free *out with mcpauth__jws_free(), even on
 * failure. */
mcpauth_status mcpauth__jws_parse(const char *token, size_t length, mcpauth__jws *out,
                                  mcpauth_error *err);

/* Parses the payload as a JSON object (new reference), or NULL with err
 * set. */
json_object *mcpauth__jws_payload(const mcpauth__jws *jws, mcpauth_error *err);

/* Verifies the signature of jws made with alg under key, which must fit
 * alg. MCPAUTH_OK, or MCPAUTH_ENEGATIVE with "bad signature" or a wrong
 * signature length in err (MCPAUTH_ELOCAL when out of memory). */
mcpauth_status mcpauth__jws_verify(const mcpauth__jws *jws, mcpauth_jws_alg alg,
                                   const mcpauth__jwk *key, mcpauth_error *err);

void mcpauth__jws_free(mcpauth__jws *jws);

/* Writes text[0..length) into buf for a message: bare when it is a short
 * run of harmless characters ("RS256", "application/jwt", "k2"), else
 * quoted by mcpauth_url_quote(). buf holds MCPAUTH_URL_QUOTE_SIZE bytes.
 * Returns buf. */
const char *mcpauth__jose_show(const char *text, size_t length, char *buf);

#endif
