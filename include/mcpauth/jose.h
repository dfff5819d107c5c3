/* JOSE for access tokens: JWK sets (RFC 7517) turned into GnuTLS public
 * keys, JWS compact serialisation (RFC 7515) parsed under strict limits and
 * verified with GnuTLS, and RFC 9068 JWT access token checks with RFC 8725
 * hygiene (algorithm allow-list, key type bound to the algorithm, no "none",
 * no HMAC, "crit" refused). Pure computation; nothing here blocks.
 *
 * Supported: RS256/384/512, PS256/384/512, ES256/384/512 (P-256/384/521),
 * EdDSA (Ed25519 or Ed448 keys, RFC 8037), and the fully-specified Ed25519
 * and Ed448 of RFC 9864, each bound to its own curve.
 */
#ifndef MCPAUTH_JOSE_H
#define MCPAUTH_JOSE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "mcpauth/error.h"
#include "mcpauth/token.h"

#define MCPAUTH_JWT_MAX_LENGTH (16 * 1024)
#define MCPAUTH_JWKS_MAX_KEYS  64

typedef enum mcpauth_jws_alg {
    MCPAUTH_JWS_RS256,
    MCPAUTH_JWS_RS384,
    MCPAUTH_JWS_RS512,
    MCPAUTH_JWS_PS256,
    MCPAUTH_JWS_PS384,
    MCPAUTH_JWS_PS512,
    MCPAUTH_JWS_ES256,
    MCPAUTH_JWS_ES384,
    MCPAUTH_JWS_ES512,
    MCPAUTH_JWS_EDDSA,
    MCPAUTH_JWS_ED25519,
    MCPAUTH_JWS_ED448,
    MCPAUTH_JWS_ALG_COUNT,
} mcpauth_jws_alg;

/* "RS256" -> MCPAUTH_JWS_RS256; false for anything unsupported ("none",
 * "HS256", ...). */
bool mcpauth_jws_alg_parse(const char *name, mcpauth_jws_alg *out);
const char *mcpauth_jws_alg_name(mcpauth_jws_alg alg);

/* ---- keys ---- */

typedef struct mcpauth_jwks mcpauth_jwks; /* opaque; owns its GnuTLS keys */

/* Parses a JWK Set document. Keys that cannot verify signatures (kty oct,
 * use "enc", unsupported curves or sizes, RSA under 2048 bits) are skipped
 * rather than failing the set; a set left with no usable key, more than
 * MCPAUTH_JWKS_MAX_KEYS keys, or malformed JSON is MCPAUTH_EREMOTE. The
 * caller frees *out with mcpauth_jwks_free(). */
mcpauth_status mcpauth_jwks_parse(const char *text, size_t length, mcpauth_jwks **out,
                                  mcpauth_error *err);

void mcpauth_jwks_free(mcpauth_jwks *jwks);

/* Usable keys in the set. */
size_t mcpauth_jwks_count(const mcpauth_jwks *jwks);

/* ---- JWT access tokens (RFC 9068) ---- */

typedef struct mcpauth_jwt_policy {
    bool allowed[MCPAUTH_JWS_ALG_COUNT]; /* the algorithm allow-list */
    bool typ_optional;                   /* accept a missing typ (never a wrong one) */
} mcpauth_jwt_policy;

/* The default allow-list: RS256, ES256, EdDSA, Ed25519, PS256; typ required. */
void mcpauth_jwt_policy_init(mcpauth_jwt_policy *policy);

typedef enum mcpauth_jwt_outcome {
    MCPAUTH_JWT_VERIFIED,    /* signature and header good; claims in *info */
    MCPAUTH_JWT_UNKNOWN_KEY, /* no key with this kid: the set may be stale */
    MCPAUTH_JWT_INVALID,     /* malformed, alg not allowed, typ, bad signature */
} mcpauth_jwt_outcome;

/* True when token has the shape of a JWS compact serialisation (three
 * base64url segments), i.e. should be verified locally rather than
 * introspected. Cheap; proves nothing. */
bool mcpauth_jwt_looks_like(const char *token, size_t length);

/* Verifies a JWT access token against jwks: size limit, three segments,
 * header and payload JSON objects (depth-limited), alg allowed and matching
 * the key's type, no crit, typ "at+jwt" or "application/at+jwt"
 * (case-insensitive; RFC 9068 §2.1), kid selects the key (a set with one
 * usable key may be used without kid), signature. On VERIFIED, *info holds
 * the payload's claims (active true; scope from "scope" or "scp"; aud) for
 * mcpauth_token_check() to judge, and the caller frees it. Otherwise reason
 * says what failed ("alg HS256 not allowed", "bad signature", "no key with
 * kid k2", "typ JWT is not at+jwt"), never the token. */
mcpauth_jwt_outcome mcpauth_jwt_verify(const char *token, size_t length, const mcpauth_jwks *jwks,
                                       const mcpauth_jwt_policy *policy, mcpauth_token_info *info,
                                       char *reason, size_t reason_size);

/* Decodes without verifying anything (for `check-token --decode`): the
 * header and payload as new JSON objects the caller releases. */
mcpauth_status mcpauth_jwt_decode(const char *token, size_t length, json_object **header,
                                  json_object **payload, mcpauth_error *err);

/* True when a decoded header's typ is "at+jwt" or "application/at+jwt"
 * (case-insensitive; RFC 9068 §2.1), the test mcpauth_jwt_verify() makes. */
bool mcpauth_jwt_typ_is_at_jwt(json_object *header);

/* The RFC 9068 §2.2 claims (iss, exp, aud, sub, client_id, iat, jti) that
 * decoded claims lack, as a new JSON array of their names, in that order,
 * which the caller releases; NULL when out of memory. */
json_object *mcpauth_jwt_missing_claims(json_object *claims);

/* ---- signing (for the development issuer) ---- */

typedef struct mcpauth_jws_signer mcpauth_jws_signer; /* opaque; owns its private key */

/* Generates a fresh ES256 (P-256) key with GnuTLS. The key id is the RFC
 * 7638 thumbprint of the public JWK. Free with mcpauth_jws_signer_free().
 * NULL with err set (MCPAUTH_ELOCAL) on failure. */
mcpauth_jws_signer *mcpauth_jws_signer_generate_es256(mcpauth_error *err);

/* Rebuilds a signer from a private EC JWK (kty EC, crv P-256, x, y, d), as
 * mcpauth_jws_signer_private_jwk() wrote it. NULL with err set
 * (MCPAUTH_ELOCAL) when the JWK is not such a key. */
mcpauth_jws_signer *mcpauth_jws_signer_from_jwk(json_object *jwk, mcpauth_error *err);

void mcpauth_jws_signer_free(mcpauth_jws_signer *signer);

/* The key id (borrowed; lives as long as the signer). */
const char *mcpauth_jws_signer_kid(const mcpauth_jws_signer *signer);

/* The public JWK (kty, crv, x, y, kid, use "sig", alg "ES256") as a new
 * object the caller releases; NULL when out of memory. */
json_object *mcpauth_jws_signer_public_jwk(const mcpauth_jws_signer *signer);

/* The same with the private part d: a secret, for a 0600 state file only. */
json_object *mcpauth_jws_signer_private_jwk(const mcpauth_jws_signer *signer);

/* Signs payload as a JWS compact serialisation with header {alg, typ, kid}
 * (RFC 7515 §7.1); the ECDSA signature is the 64-byte r || s of RFC 7518
 * §3.4, not GnuTLS's DER. Returns a string the caller frees, or NULL with
 * err set. */
char *mcpauth_jws_sign(const mcpauth_jws_signer *signer, const char *typ, json_object *payload,
                       mcpauth_error *err);

#endif
