/* JOSE: JWK Sets, JWS verification and RFC 9068 JWT access tokens. Every
 * key is generated at test time with GnuTLS and every token is signed here,
 * so nothing depends on fixed vectors. */
#include <check.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcpauth/base64url.h"
#include "mcpauth/jose.h"
#include "mcpauth/json.h"
#include "mcpauth/jwks_cache.h"
#include "mcpauth/token.h"
#include "testlib.h"

#define ISSUER   "https://as.example"
#define RESOURCE "https://rs.example/mcp"
#define CLAIMS                                                                                     \
    "{\"iss\":\"" ISSUER "\",\"sub\":\"alice\",\"aud\":[\"" RESOURCE "\",\"other\"],"              \
    "\"client_id\":\"c1\",\"exp\":1767225600,\"iat\":1767222000,\"jti\":\"j1\","                   \
    "\"scope\":\"mcp read\"}"

/* ---- keys made at test time -------------------------------------------- */

typedef enum key_id {
    KEY_RSA,
    KEY_RSA2,
    KEY_P256,
    KEY_P384,
    KEY_P521,
    KEY_ED25519,
    KEY_ED448,
    KEY_COUNT,
} key_id;

static const char *const kids[KEY_COUNT] = {"rsa",  "rsa2",    "p256", "p384",
                                            "p521", "ed25519", "ed448"};

typedef struct test_key {
    gnutls_privkey_t priv;
    gnutls_pubkey_t pub;
} test_key;

/* Made once in main(), before Check forks for each test. */
static test_key keys[KEY_COUNT];

static void generate_keys(void)
{
    static const struct {
        gnutls_pk_algorithm_t pk;
        unsigned bits;
    } specs[KEY_COUNT] = {
        [KEY_RSA] = {GNUTLS_PK_RSA, 2048},
        [KEY_RSA2] = {GNUTLS_PK_RSA, 2048},
        [KEY_P256] = {GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1)},
        [KEY_P384] = {GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1)},
        [KEY_P521] = {GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP521R1)},
        [KEY_ED25519] = {GNUTLS_PK_EDDSA_ED25519, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519)},
        [KEY_ED448] = {GNUTLS_PK_EDDSA_ED448, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED448)},
    };
    for (int i = 0; i < KEY_COUNT; i++) {
        if (gnutls_privkey_init(&keys[i].priv) < 0 ||
            gnutls_privkey_generate(keys[i].priv, specs[i].pk, specs[i].bits, 0) < 0 ||
            gnutls_pubkey_init(&keys[i].pub) < 0 ||
            gnutls_pubkey_import_privkey(keys[i].pub, keys[i].priv, 0, 0) < 0) {
            fprintf(stderr, "cannot generate test key %s\n", kids[i]);
            exit(EXIT_FAILURE);
        }
    }
}

static void free_keys(void)
{
    for (int i = 0; i < KEY_COUNT; i++) {
        gnutls_pubkey_deinit(keys[i].pub);
        gnutls_privkey_deinit(keys[i].priv);
    }
}

static key_id key_for(mcpauth_jws_alg alg)
{
    switch (alg) {
    case MCPAUTH_JWS_ES256:
        return KEY_P256;
    case MCPAUTH_JWS_ES384:
        return KEY_P384;
    case MCPAUTH_JWS_ES512:
        return KEY_P521;
    case MCPAUTH_JWS_EDDSA:
    case MCPAUTH_JWS_ED25519:
        return KEY_ED25519;
    case MCPAUTH_JWS_ED448:
        return KEY_ED448;
    default:
        return KEY_RSA;
    }
}

static gnutls_sign_algorithm_t sign_algorithm(mcpauth_jws_alg alg)
{
    static const gnutls_sign_algorithm_t table[MCPAUTH_JWS_ALG_COUNT] = {
        [MCPAUTH_JWS_RS256] = GNUTLS_SIGN_RSA_SHA256,
        [MCPAUTH_JWS_RS384] = GNUTLS_SIGN_RSA_SHA384,
        [MCPAUTH_JWS_RS512] = GNUTLS_SIGN_RSA_SHA512,
        [MCPAUTH_JWS_PS256] = GNUTLS_SIGN_RSA_PSS_RSAE_SHA256,
        [MCPAUTH_JWS_PS384] = GNUTLS_SIGN_RSA_PSS_RSAE_SHA384,
        [MCPAUTH_JWS_PS512] = GNUTLS_SIGN_RSA_PSS_RSAE_SHA512,
        [MCPAUTH_JWS_ES256] = GNUTLS_SIGN_ECDSA_SHA256,
        [MCPAUTH_JWS_ES384] = GNUTLS_SIGN_ECDSA_SHA384,
        [MCPAUTH_JWS_ES512] = GNUTLS_SIGN_ECDSA_SHA512,
        [MCPAUTH_JWS_EDDSA] = GNUTLS_SIGN_EDDSA_ED25519,
        [MCPAUTH_JWS_ED25519] = GNUTLS_SIGN_EDDSA_ED25519,
        [MCPAUTH_JWS_ED448] = GNUTLS_SIGN_EDDSA_ED448,
    };
    return table[alg];
}

/* Bytes of one of r and s (RFC 7518 §3.4); 0 for non-ECDSA algorithms. */
static size_t ecdsa_half(mcpauth_jws_alg alg)
{
    switch (alg) {
    case MCPAUTH_JWS_ES256:
        return 32;
    case MCPAUTH_JWS_ES384:
        return 48;
    case MCPAUTH_JWS_ES512:
        return 66;
    default:
        return 0;
    }
}

static char *b64(const void *data, size_t length)
{
    char *text = mcpauth_base64url_encode(data, length);
    ck_assert_ptr_nonnull(text);
    return text;
}

static char *b64_text(const char *text)
{
    return b64(text, strlen(text));
}

/* A big-endian integer left-padded to size bytes: GnuTLS drops leading
 * zeros, JOSE coordinates and r/s have a fixed width. */
static void put_padded(const gnutls_datum_t *value, uint8_t *out, size_t size)
{
    const uint8_t *p = value->data;
    size_t n = value->size;
    while (n > 0 && *p == 0) {
        p++;
        n--;
    }
    ck_assert_uint_le(n, size);
    memset(out, 0, size - n);
    memcpy(out + size - n, p, n);
}

static char *b64_padded(const gnutls_datum_t *value, size_t size)
{
    uint8_t buf[80];
    ck_assert_uint_le(size, sizeof buf);
    put_padded(value, buf, size);
    return b64(buf, size);
}

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *format(const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    ck_assert_int_ge(n, 0);
    return text;
}

static char *rsa_jwk(key_id id, const char *kid_member, const char *extra)
{
    gnutls_datum_t m, e;
    ck_assert_int_eq(gnutls_pubkey_export_rsa_raw2(keys[id].pub, &m, &e, GNUTLS_EXPORT_FLAG_NO_LZ),
                     0);
    char *n64 = b64(m.data, m.size);
    char *e64 = b64(e.data, e.size);
    char *jwk =
        format("{%s\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"%s}", kid_member, n64, e64, extra);
    free(n64);
    free(e64);
    gnutls_free(m.data);
    gnutls_free(e.data);
    return jwk;
}

static char *ecc_jwk(key_id id, const char *kid_member, const char *extra)
{
    gnutls_ecc_curve_t curve;
    gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
    ck_assert_int_eq(
        gnutls_pubkey_export_ecc_raw2(keys[id].pub, &curve, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ), 0);
    char *jwk;
    if (curve == GNUTLS_ECC_CURVE_ED25519 || curve == GNUTLS_ECC_CURVE_ED448) {
        bool ed448 = curve == GNUTLS_ECC_CURVE_ED448;
        char *x64 = b64_padded(&x, ed448 ? 57 : 32);
        jwk = format("{%s\"kty\":\"OKP\",\"crv\":\"%s\",\"x\":\"%s\"%s}", kid_member,
                     ed448 ? "Ed448" : "Ed25519", x64, extra);
        free(x64);
    } else {
        size_t size = curve == GNUTLS_ECC_CURVE_SECP256R1   ? 32
                      : curve == GNUTLS_ECC_CURVE_SECP384R1 ? 48
                                                            : 66;
        const char *crv = size == 32 ? "P-256" : size == 48 ? "P-384" : "P-521";
        char *x64 = b64_padded(&x, size);
        char *y64 = b64_padded(&y, size);
        jwk = format("{%s\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s}", kid_member,
                     crv, x64, y64, extra);
        free(x64);
        free(y64);
    }
    gnutls_free(x.data);
    gnutls_free(y.data);
    return jwk;
}

/* The public JWK of a test key with this kid (NULL: none) and extra
 * members (",\"use\":\"sig\"" or ""). Caller frees. */
static char *jwk_of(key_id id, const char *kid, const char *extra)
{
    char *kid_member = kid ? format("\"kid\":\"%s\",", kid) : format("%s", "");
    char *jwk = id == KEY_RSA || id == KEY_RSA2 ? rsa_jwk(id, kid_member, extra)
                                                : ecc_jwk(id, kid_member, extra);
    free(kid_member);
    return jwk;
}

static mcpauth_jwks *parse_set(const char *text)
{
    mcpauth_jwks *jwks = NULL;
    mcpauth_error err = {0};
    mcpauth_status status = mcpauth_jwks_parse(text, strlen(text), &jwks, &err);
    ck_assert_msg(status == MCPAUTH_OK, "%s", err.message);
    ck_assert_ptr_nonnull(jwks);
    return jwks;
}

/* A set of the given JWK texts. */
static mcpauth_jwks *set_of(const char *a, const char *b)
{
    char *text = b ? format("{\"keys\":[%s,%s]}", a, b) : format("{\"keys\":[%s]}", a);
    mcpauth_jwks *jwks = parse_set(text);
    free(text);
    return jwks;
}

/* Every test key but KEY_RSA2, each with its kid. */
static mcpauth_jwks *full_set(void)
{
    char *parts[KEY_COUNT];
    int n = 0;
    for (int i = 0; i < KEY_COUNT; i++) {
        if (i != KEY_RSA2)
            parts[n++] = jwk_of((key_id)i, kids[i], "");
    }
    char *text = format("{\"keys\":[%s,%s,%s,%s,%s,%s]}", parts[0], parts[1], parts[2], parts[3],
                        parts[4], parts[5]);
    mcpauth_jwks *jwks = parse_set(text);
    ck_assert_uint_eq(mcpauth_jwks_count(jwks), 6);
    free(text);
    for (int i = 0; i < n; i++)
        free(parts[i]);
    return jwks;
}

/* Expects the set to be refused, with message_part in the message. */
static void expect_set_refused(const char *text, const char *message_part)
{
    mcpauth_jwks *jwks = (mcpauth_jwks *)&jwks; /* must be reset to NULL */
    mcpauth_error err = {0};
    mcpauth_status status = mcpauth_jwks_parse(text, strlen(text), &jwks, &err);
    ck_assert_msg(status == MCPAUTH_EREMOTE, "status %d for %.80s", status, text);
    ck_assert_ptr_null(jwks);
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    ck_assert_msg(strstr(err.message, message_part) != NULL, "message \"%s\" lacks \"%s\"",
                  err.message, message_part);
}

/* ---- tokens signed at test time ------------------------------------------ */

static char *header_for(mcpauth_jws_alg alg, const char *kid)
{
    if (!kid)
        return format("{\"alg\":\"%s\",\"typ\":\"at+jwt\"}", mcpauth_jws_alg_name(alg));
    return format("{\"alg\":\"%s\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", mcpauth_jws_alg_name(alg),
                  kid);
}

/* "base64url(header).base64url(payload)": RFC 7515 §5.1 step 4-5. */
static char *signing_input(const char *header, const char *payload)
{
    char *h = b64_text(header);
    char *p = b64_text(payload);
    char *input = format("%s.%s", h, p);
    free(h);
    free(p);
    return input;
}

/* Signs input as alg with a test key into raw (at least 512 bytes) in the
 * JWS form: ECDSA's DER turned into r || s (RFC 7518 §3.4). */
static size_t sign_raw(key_id id, mcpauth_jws_alg alg, const char *input, uint8_t *raw)
{
    const gnutls_datum_t data = {(unsigned char *)input, (unsigned)strlen(input)};
    gnutls_datum_t sig = {NULL, 0};
    /* EdDSA signs with the curve of the key (RFC 8037 §3.1). */
    gnutls_sign_algorithm_t how =
        alg == MCPAUTH_JWS_EDDSA && id == KEY_ED448 ? GNUTLS_SIGN_EDDSA_ED448 : sign_algorithm(alg);
    ck_assert_int_eq(gnutls_privkey_sign_data2(keys[id].priv, how, 0, &data, &sig), 0);
    size_t half = ecdsa_half(alg), length;
    if (half) {
        gnutls_datum_t r, s;
        ck_assert_int_eq(gnutls_decode_rs_value(&sig, &r, &s), 0);
        put_padded(&r, raw, half);
        put_padded(&s, raw + half, half);
        gnutls_free(r.data);
        gnutls_free(s.data);
        length = 2 * half;
    } else {
        ck_assert_uint_le(sig.size, 512);
        memcpy(raw, sig.data, sig.size);
        length = sig.size;
    }
    gnutls_free(sig.data);
    return length;
}

static char *join(const char *input, const uint8_t *sig, size_t length)
{
    char *s = b64(sig, length);
    char *token = format("%s.%s", input, s);
    free(s);
    return token;
}

/* A JWS of header and payload (JSON texts) signed by key id with alg. */
static char *mint(key_id id, mcpauth_jws_alg alg, const char *header, const char *payload)
{
    char *input = signing_input(header, payload);
    uint8_t raw[512];
    size_t length = sign_raw(id, alg, input, raw);
    char *token = join(input, raw, length);
    free(input);
    return token;
}

/* The usual access token: alg, kid of the alg's key, typ at+jwt, CLAIMS. */
static char *mint_default(mcpauth_jws_alg alg)
{
    key_id id = key_for(alg);
    char *header = header_for(alg, kids[id]);
    char *token = mint(id, alg, header, CLAIMS);
    free(header);
    return token;
}

static mcpauth_jwt_policy default_policy(void)
{
    mcpauth_jwt_policy policy;
    mcpauth_jwt_policy_init(&policy);
    return policy;
}

static mcpauth_jwt_policy all_algs_policy(void)
{
    mcpauth_jwt_policy policy;
    mcpauth_jwt_policy_init(&policy);
    for (int i = 0; i < MCPAUTH_JWS_ALG_COUNT; i++)
        policy.allowed[i] = true;
    return policy;
}

/* The reason must not repeat any part of the token (issue 4: "never
 * including the token"). */
static void assert_no_token_in(const char *reason, const char *token)
{
    const char *p = token;
    while (*p) {
        size_t n = strcspn(p, ".");
        if (n >= 6) {
            char *segment = strndup(p, n);
            ck_assert_msg(strstr(reason, segment) == NULL, "reason \"%s\" quotes the token",
                          reason);
            free(segment);
        }
        p += n;
        if (*p == '.')
            p++;
    }
}

static void assert_info_zeroed(const mcpauth_token_info *info)
{
    ck_assert(!info->active);
    ck_assert_ptr_null(info->subject);
    ck_assert_ptr_null(info->scopes);
    ck_assert_ptr_null(info->audiences);
    ck_assert_int_eq(info->expires_at, 0);
}

/* Verifies token; expects outcome and reason_part in the reason (NULL:
 * any). On VERIFIED the claims are those of CLAIMS unless claims_checked
 * is false. */
static void expect_outcome(const char *token, const mcpauth_jwks *jwks,
                           const mcpauth_jwt_policy *policy, mcpauth_jwt_outcome outcome,
                           const char *reason_part)
{
    mcpauth_token_info info;
    char reason[256];
    memset(reason, 'x', sizeof reason);
    mcpauth_jwt_outcome got =
        mcpauth_jwt_verify(token, strlen(token), jwks, policy, &info, reason, sizeof reason);
    ck_assert_msg(got == outcome, "outcome %d, expected %d (reason \"%s\")", got, outcome, reason);
    if (outcome == MCPAUTH_JWT_VERIFIED) {
        ck_assert_str_eq(reason, "");
        ck_assert(info.active);
    } else {
        assert_info_zeroed(&info);
        ck_assert_msg(reason[0] != '\0', "no reason given");
    }
    if (reason_part)
        ck_assert_msg(strstr(reason, reason_part) != NULL, "reason \"%s\" lacks \"%s\"", reason,
                      reason_part);
    assert_no_token_in(reason, token);
    mcpauth_token_info_free(&info);
}

static void expect_invalid(const char *token, const mcpauth_jwks *jwks, const char *reason_part)
{
    mcpauth_jwt_policy policy = all_algs_policy();
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_INVALID, reason_part);
}

/* ---- algorithms and policy ------------------------------------------------ */

START_TEST(alg_names_round_trip)
{
    static const char *const names[MCPAUTH_JWS_ALG_COUNT] = {
        "RS256", "RS384", "RS512", "PS256", "PS384",   "PS512",
        "ES256", "ES384", "ES512", "EdDSA", "Ed25519", "Ed448",
    };
    for (int i = 0; i < MCPAUTH_JWS_ALG_COUNT; i++) {
        mcpauth_jws_alg alg = MCPAUTH_JWS_ALG_COUNT;
        ck_assert(mcpauth_jws_alg_parse(names[i], &alg));
        ck_assert_int_eq(alg, i);
        ck_assert_str_eq(mcpauth_jws_alg_name(alg), names[i]);
    }
}
END_TEST

/* RFC 8725 §3.1-3.2: none, HMAC and anything unknown have no name here;
 * RFC 7515 §4.1.1: names are case-sensitive. */
START_TEST(alg_refused_names)
{
    static const char *const refused[] = {
        "none", "None",   "HS256",   "HS384", "HS512",    "rs256", "RS256 ", " RS256",
        "RS",   "ES256K", "ed25519", "EDDSA", "RSA-OAEP", "dir",   "",       "PS256\n",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        mcpauth_jws_alg alg = MCPAUTH_JWS_ALG_COUNT;
        ck_assert_msg(!mcpauth_jws_alg_parse(refused[i], &alg), "\"%s\" accepted", refused[i]);
        ck_assert_int_eq(alg, MCPAUTH_JWS_ALG_COUNT);
    }
    mcpauth_jws_alg alg;
    ck_assert(!mcpauth_jws_alg_parse(NULL, &alg));
}
END_TEST

/* The default allow-list is RS256, ES256, EdDSA, Ed25519 (RFC 9864's name
 * for EdDSA on Ed25519), PS256, and typ is required. */
START_TEST(policy_defaults)
{
    mcpauth_jwt_policy policy;
    memset(&policy, 0xff, sizeof policy);
    mcpauth_jwt_policy_init(&policy);
    for (int i = 0; i < MCPAUTH_JWS_ALG_COUNT; i++) {
        bool expected = i == MCPAUTH_JWS_RS256 || i == MCPAUTH_JWS_ES256 ||
                        i == MCPAUTH_JWS_EDDSA || i == MCPAUTH_JWS_ED25519 ||
                        i == MCPAUTH_JWS_PS256;
        ck_assert_msg(policy.allowed[i] == expected, "%s", mcpauth_jws_alg_name(i));
    }
    ck_assert(!policy.typ_optional);
}
END_TEST

/* ---- JWK Sets --------------------------------------------------------------- */

START_TEST(jwks_every_key_type)
{
    mcpauth_jwks *jwks = full_set();
    ck_assert_uint_eq(mcpauth_jwks_count(jwks), 6);
    mcpauth_jwks_free(jwks);
}
END_TEST

/* RFC 7517 §5: keys we cannot use are skipped, not fatal. oct keys are
 * shared secrets: HMAC, never for access tokens (RFC 8725 §3.1). */
START_TEST(jwks_skips_oct)
{
    char *rsa = jwk_of(KEY_RSA, "rsa", "");
    mcpauth_jwks *jwks =
        set_of("{\"kty\":\"oct\",\"kid\":\"hmac\",\"k\":\"c2VjcmV0LXNlY3JldC1zZWNyZXQ\"}", rsa);
    ck_assert_uint_eq(mcpauth_jwks_count(jwks), 1);
    free(rsa);
    mcpauth_jwks_free(jwks);

    expect_set_refused("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"hmac\",\"k\":\"c2VjcmV0\"}]}",
                       "kty oct not supported");
}
END_TEST

/* RFC 7517 §4.2: "use":"enc" keys are for encryption. */
START_TEST(jwks_skips_use_enc)
{
    char *enc = jwk_of(KEY_RSA2, "enc", ",\"use\":\"enc\"");
    char *sig = jwk_of(KEY_RSA, "rsa", ",\"use\":\"sig\"");
    mcpauth_jwks *jwks = set_of(enc, sig);
    ck_assert_uint_eq(mcpauth_jwks_count(jwks), 1);

    /* A token naming the skipped key finds no key at all. */
    char *header = header_for(MCPAUTH_JWS_RS256, "enc");
    char *token = mint(KEY_RSA2, MCPAUTH_JWS_RS256, header, CLAIMS);
    mcpauth_jwt_policy policy = default_policy();
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_UNKNOWN_KEY, "no key with kid enc");
    free(token);
    free(header);
    mcpauth_jwks_free(jwks);

    char *set = format("{\"keys\":[%s]}", enc);
    expect_set_refused(set, "use enc, not sig");
    free(set);
    free(enc);
    free(sig);
}
END_TEST

/* RFC 7517 §4.3: with key_ops, only keys allowing "verify". */
START_TEST(jwks_key_ops)
{
    static const struct {
        const char *member;
        bool usable;
    } cases[] = {
        {",\"key_ops\":[\"verify\"]", true},   {",\"key_ops\":[\"sign\",\"verify\"]", true},
        {",\"key_ops\":[\"encrypt\"]", false}, {",\"key_ops\":[]", false},
        {",\"key_ops\":\"verify\"", false},    {",\"use\":7", false},
        {",\"use\":\"SIG\"", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *jwk = jwk_of(KEY_P256, "k", cases[i].member);
        char *other = jwk_of(KEY_RSA, "rsa", "");
        mcpauth_jwks *jwks = set_of(jwk, other);
        ck_assert_msg(mcpauth_jwks_count(jwks) == (cases[i].usable ? 2u : 1u), "%s",
                      cases[i].member);
        mcpauth_jwks_free(jwks);
        free(jwk);
        free(other);
    }
}
END_TEST

/* A 1024-bit modulus: random bytes with the top bit set are enough, the
 * size check comes before any use. */
START_TEST(jwks_skips_small_rsa)
{
    uint8_t n[128];
    ck_assert_int_eq(gnutls_rnd(GNUTLS_RND_NONCE, n, sizeof n), 0);
    n[0] |= 0x80;
    n[127] |= 1;
    char *n64 = b64(n, sizeof n);
    char *small = format("{\"kty\":\"RSA\",\"kid\":\"small\",\"n\":\"%s\",\"e\":\"AQAB\"}", n64);
    char *rsa = jwk_of(KEY_RSA, "rsa", "");
    mcpauth_jwks *jwks = set_of(small, rsa);
    ck_assert_uint_eq(mcpauth_jwks_count(jwks), 1);
    mcpauth_jwks_free(jwks);

    char *set = format("{\"keys\":[%s]}", small);
    expect_set_refused(set, "key small: RSA key of 1024 bits");
    free(set);
    free(small);
    free(rsa);
    free(n64);
}
END_TEST

START_TEST(jwks_rsa_exponents)
{
    gnutls_datum_t m, e;
    ck_assert_int_eq(
        gnutls_pubkey_export_rsa_raw2(keys[KEY_RSA].pub, &m, &e, GNUTLS_EXPORT_FLAG_NO_LZ), 0);
    char *n64 = b64(m.data, m.size);
    /* even, 1, empty, longer than 8 bytes */
    static const char *const bad_e[] = {"AQAA", "AQ", "", "AQAAAAAAAAAAAQ", "AQ=="};
    for (size_t i = 0; i < sizeof bad_e / sizeof bad_e[0]; i++) {
        char *set =
            format("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}]}", n64, bad_e[i]);
        expect_set_refused(set, "no usable signature key");
        free(set);
    }
    /* RFC 7518 §6.3.1.1 asks for no leading zero octet, yet some
     * libraries add one; it changes nothing and is accepted. */
    uint8_t padded[520];
    padded[0] = 0;
    memcpy(padded + 1, m.data, m.size);
    char *padded64 = b64(padded, m.size + 1);
    char *jwk = format("{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AAEAAQ\"}", padded64);
    mcpauth_jwks *jwks = set_of(jwk, NULL);
    char *header = header_for(MCPAUTH_JWS_RS256, NULL);
    char *token = mint(KEY_RSA, MCPAUTH_JWS_RS256, header, CLAIMS);
    mcpauth_jwt_policy policy = default_policy();
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_VERIFIED, NULL);
    mcpauth_jwks_free(jwks);
    free(token);
    free(header);
    free(jwk);
    free(padded64);
    free(n64);
    gnutls_free(m.data);
    gnutls_free(e.data);
}
END_TEST

START_TEST(jwks_empty_and_malformed)
{
    expect_set_refused("{\"keys\":[]}", "no usable signature key");
    expect_set_refused("{}", "no \"keys\" array");
    expect_set_refused("{\"keys\":{}}", "no \"keys\" array");
    expect_set_refused("{\"keys\":null}", "no \"keys\" array");
    expect_set_refused("[]", "JWK set is not a JSON object");
    expect_set_refused("", "JWK set");
    expect_set_refused("not json", "JWK set is not valid JSON");
    expect_set_refused("{\"keys\":[]} {}", "JWK set is not valid JSON");
    expect_set_refused("{\"keys\":[1,\"x\",null,[]]}", "key #1: not a JSON object");

    mcpauth_jwks *jwks = (mcpauth_jwks *)&jwks;
    ck_assert_int_eq(mcpauth_jwks_parse(NULL, 0, &jwks, NULL), MCPAUTH_EREMOTE);
    ck_assert_ptr_null(jwks);
    ck_assert_int_eq(mcpauth_jwks_parse("{}", 2, &jwks, NULL), MCPAUTH_EREMOTE);
}
END_TEST

/* MCPAUTH_JWKS_MAX_KEYS bounds the work one document can cause. */
START_TEST(jwks_too_many_keys)
{
    char *jwk = jwk_of(KEY_P256, NULL, "");
    size_t size = (MCPAUTH_JWKS_MAX_KEYS + 1) * (strlen(jwk) + 32) + 32;
    for (int count = MCPAUTH_JWKS_MAX_KEYS; count <= MCPAUTH_JWKS_MAX_KEYS + 1; count++) {
        char *text = malloc(size);
        ck_assert_ptr_nonnull(text);
        size_t o = (size_t)snprintf(text, size, "{\"keys\":[");
        for (int i = 0; i < count; i++) {
            char *keyed = jwk_of(KEY_P256, NULL, "");
            /* distinct kids: "k0", "k1", ... */
            o += (size_t)snprintf(text + o, size - o, "%s{\"kid\":\"k%d\",%s", i ? "," : "", i,
                                  keyed + 1);
            free(keyed);
        }
        snprintf(text + o, size - o, "]}");
        if (count == MCPAUTH_JWKS_MAX_KEYS) {
            mcpauth_jwks *jwks = parse_set(text);
            ck_assert_uint_eq(mcpauth_jwks_count(jwks), MCPAUTH_JWKS_MAX_KEYS);
            mcpauth_jwks_free(jwks);
        } else {
            expect_set_refused(text, "65 keys, more than 64");
        }
        free(text);
    }
    free(jwk);
}
END_TEST

/* RFC 7518 §6.2.1.2-3: x and y are exactly as long as the curve's field. */
START_TEST(jwks_ec_coordinate_lengths)
{
    uint8_t bytes[67];
    memset(bytes, 0x42, sizeof bytes);
    char *c31 = b64(bytes, 31), *c32 = b64(bytes, 32), *c33 = b64(bytes, 33);
    char *set = format("{\"keys\":["
                       "{\"kty\":\"EC\",\"kid\":\"a\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
                       "{\"kty\":\"EC\",\"kid\":\"b\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
                       "{\"kty\":\"EC\",\"kid\":\"c\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\"},"
                       "{\"kty\":\"EC\",\"kid\":\"d\",\"crv\":\"P-256\",\"x\":\"%s\"}]}",
                       c31, c32, c32, c33, c32, c32, c32);
    expect_set_refused(set, "key a: EC P-256 key without 32-byte base64url x and y");
    free(set);

    /* A P-521 key with a 65-byte x, as if written without its leading octet. */
    gnutls_ecc_curve_t curve;
    gnutls_datum_t x, y;
    ck_assert_int_eq(
        gnutls_pubkey_export_ecc_raw2(keys[KEY_P521].pub, &curve, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ),
        0);
    uint8_t x66[66];
    put_padded(&x, x66, 66);
    char *x65 = b64(x66 + 1, 65), *y66 = b64_padded(&y, 66);
    set = format("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"%s\",\"y\":\"%s\"}]}", x65,
                 y66);
    expect_set_refused(set, "66-byte");
    free(set);
    free(x65);
    free(y66);
    gnutls_free(x.data);
    gnutls_free(y.data);
    free(c31);
    free(c32);
    free(c33);
}
END_TEST

/* A point that is not on the curve is no public key (the classic invalid
 * curve attack needs one). */
START_TEST(jwks_ec_point_off_curve)
{
    gnutls_ecc_curve_t curve;
    gnutls_datum_t x, y;
    ck_assert_int_eq(
        gnutls_pubkey_export_ecc_raw2(keys[KEY_P256].pub, &curve, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ),
        0);
    uint8_t yb[32];
    put_padded(&y, yb, 32);
    yb[31] ^= 1;
    char *x64 = b64_padded(&x, 32), *y64 = b64(yb, 32);
    char *set = format(
        "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"off\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}",
        x64, y64);
    expect_set_refused(set, "key off: EC key");
    free(set);
    free(x64);
    free(y64);
    gnutls_free(x.data);
    gnutls_free(y.data);
}
END_TEST

START_TEST(jwks_unsupported_curves_and_types)
{
    static const char *const sets[] = {
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"AAAA\"}]}",
        ("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"X25519\","
         "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}"),
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}",
        "{\"keys\":[{\"kty\":\"rsa\",\"n\":\"AAAA\",\"e\":\"AQAB\"}]}",
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}]}",
        "{\"keys\":[{\"n\":\"AAAA\",\"e\":\"AQAB\"}]}",
        "{\"keys\":[{\"kty\":1}]}",
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        expect_set_refused(sets[i], "no usable signature key");
}
END_TEST

/* RFC 7517 §4.4: a key's "alg" binds it to that algorithm; one we do not
 * verify, or one that does not fit the key type, makes it unusable. */
START_TEST(jwks_alg_member)
{
    char *oaep = jwk_of(KEY_RSA, "oaep", ",\"alg\":\"RSA-OAEP\"");
    char *mismatch = jwk_of(KEY_RSA, "mismatch", ",\"alg\":\"ES256\"");
    char *hs = jwk_of(KEY_RSA, "hs", ",\"alg\":\"HS256\"");
    char *ps = jwk_of(KEY_RSA, "ps", ",\"alg\":\"PS256\"");
    char *text = format("{\"keys\":[%s,%s,%s,%s]}", oaep, mismatch, hs, ps);
    mcpauth_jwks *jwks = parse_set(text);
    ck_assert_uint_eq(mcpauth_jwks_count(jwks), 1);
    mcpauth_jwks_free(jwks);
    free(text);

    text = format("{\"keys\":[%s]}", mismatch);
    expect_set_refused(text, "alg ES256 does not fit a RSA key");
    free(text);
    text = format("{\"keys\":[%s]}", oaep);
    expect_set_refused(text, "alg RSA-OAEP not supported");
    free(text);
    free(oaep);
    free(mismatch);
    free(hs);
    free(ps);
}
END_TEST

/* Two keys with one kid: the first is kept, the second cannot take over. */
START_TEST(jwks_duplicate_kid_keeps_first)
{
    char *rsa = jwk_of(KEY_RSA, "same", "");
    char *ec = jwk_of(KEY_P256, "same", "");
    mcpauth_jwks *jwks = set_of(rsa, ec);
    ck_assert_uint_eq(mcpauth_jwks_count(jwks), 1);

    char *header = header_for(MCPAUTH_JWS_RS256, "same");
    char *token = mint(KEY_RSA, MCPAUTH_JWS_RS256, header, CLAIMS);
    mcpauth_jwt_policy policy = default_policy();
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_VERIFIED, NULL);
    free(token);
    free(header);

    header = header_for(MCPAUTH_JWS_ES256, "same");
    token = mint(KEY_P256, MCPAUTH_JWS_ES256, header, CLAIMS);
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_INVALID, "key same is RSA, not for ES256");
    free(token);
    free(header);
    mcpauth_jwks_free(jwks);
    free(rsa);
    free(ec);
}
END_TEST

/* Private members are never read: a private JWK verifies like its public
 * half. */
START_TEST(jwks_private_members_ignored)
{
    char *rsa = jwk_of(KEY_RSA, "rsa", ",\"d\":\"!!not base64!!\",\"p\":5,\"q\":null");
    char *ec = jwk_of(KEY_P256, "p256", ",\"d\":\"AAAA\"");
    mcpauth_jwks *jwks = set_of(rsa, ec);
    ck_assert_uint_eq(mcpauth_jwks_count(jwks), 2);
    mcpauth_jwks_free(jwks);
    free(rsa);
    free(ec);
}
END_TEST

START_TEST(jwks_bad_kid)
{
    char *jwk = jwk_of(KEY_RSA, NULL, ",\"kid\":7");
    char *text = format("{\"keys\":[%s]}", jwk);
    expect_set_refused(text, "kid is not a string");
    free(text);
    free(jwk);

    jwk = jwk_of(KEY_RSA, NULL, ",\"kid\":\"a\\u0000b\"");
    text = format("{\"keys\":[%s]}", jwk);
    expect_set_refused(text, "kid is not a string");
    free(text);
    free(jwk);
}
END_TEST

START_TEST(jwks_free_and_count_null)
{
    mcpauth_jwks_free(NULL);
    ck_assert_uint_eq(mcpauth_jwks_count(NULL), 0);
}
END_TEST

/* ---- verification: every algorithm ---------------------------------------- */

START_TEST(verify_every_alg)
{
    mcpauth_jws_alg alg = (mcpauth_jws_alg)_i;
    mcpauth_jwks *jwks = full_set();
    char *token = mint_default(alg);
    mcpauth_jwt_policy policy = all_algs_policy();

    mcpauth_token_info info;
    char reason[256] = "untouched";
    ck_assert_int_eq(
        mcpauth_jwt_verify(token, strlen(token), jwks, &policy, &info, reason, sizeof reason),
        MCPAUTH_JWT_VERIFIED);
    ck_assert_str_eq(reason, "");
    ck_assert(info.active);
    ck_assert_str_eq(info.subject, "alice");
    ck_assert_str_eq(info.client_id, "c1");
    ck_assert_str_eq(info.issuer, ISSUER);
    ck_assert_uint_eq(info.audience_count, 2);
    ck_assert_str_eq(info.audiences[0], RESOURCE);
    ck_assert_str_eq(info.audiences[1], "other");
    ck_assert_uint_eq(info.scope_count, 2);
    ck_assert_str_eq(info.scopes[0], "mcp");
    ck_assert_str_eq(info.scopes[1], "read");
    ck_assert_int_eq(info.expires_at, 1767225600);
    ck_assert_int_eq(info.issued_at, 1767222000);
    mcpauth_token_info_free(&info);

    /* The default policy takes exactly its four algorithms. */
    mcpauth_jwt_policy defaults = default_policy();
    expect_outcome(token, jwks, &defaults,
                   defaults.allowed[alg] ? MCPAUTH_JWT_VERIFIED : MCPAUTH_JWT_INVALID,
                   defaults.allowed[alg] ? NULL : "not allowed");
    free(token);
    mcpauth_jwks_free(jwks);
}
END_TEST

/* RFC 7515 §5.2 step 8: the signature covers header and payload exactly. */
START_TEST(tampered_payload)
{
    mcpauth_jws_alg alg = (mcpauth_jws_alg)_i;
    mcpauth_jwks *jwks = full_set();
    char *token = mint_default(alg);
    char *evil = b64_text("{\"iss\":\"" ISSUER "\",\"sub\":\"mallory\",\"aud\":\"" RESOURCE
                          "\",\"exp\":1767225600,\"scope\":\"mcp admin\"}");
    char *dot1 = strchr(token, '.'), *dot2 = strchr(dot1 + 1, '.');
    char *tampered = format("%.*s.%s%s", (int)(dot1 - token), token, evil, dot2);
    expect_invalid(tampered, jwks, "bad signature");

    /* The header too: typ dropped for optional-typ servers. */
    char *header = header_for(alg, kids[key_for(alg)]);
    header[strlen(header) - 1] = '\0';
    char *header2 = format("%s,\"x\":1}", header);
    char *h64 = b64_text(header2);
    char *tampered2 = format("%s%s", h64, dot1);
    expect_invalid(tampered2, jwks, "bad signature");

    free(tampered2);
    free(h64);
    free(header2);
    free(header);
    free(tampered);
    free(evil);
    free(token);
    mcpauth_jwks_free(jwks);
}
END_TEST

START_TEST(tampered_signature)
{
    mcpauth_jws_alg alg = (mcpauth_jws_alg)_i;
    mcpauth_jwks *jwks = full_set();
    key_id id = key_for(alg);
    char *header = header_for(alg, kids[id]);
    char *input = signing_input(header, CLAIMS);
    uint8_t raw[512];
    size_t length = sign_raw(id, alg, input, raw);

    /* A flipped bit at the start, in the middle and at the end. */
    size_t positions[] = {0, length / 2 + 1, length - 1};
    for (size_t i = 0; i < 3; i++) {
        raw[positions[i]] ^= 0x04;
        char *token = join(input, raw, length);
        expect_invalid(token, jwks, "bad signature");
        free(token);
        raw[positions[i]] ^= 0x04;
    }
    char *token = join(input, raw, length);
    mcpauth_jwt_policy policy = all_algs_policy();
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_VERIFIED, NULL);
    free(token);
    free(input);
    free(header);
    mcpauth_jwks_free(jwks);
}
END_TEST

/* Signed with another key of the same type under this kid. */
START_TEST(signed_by_other_key)
{
    mcpauth_jwks *jwks = full_set();
    char *header = header_for(MCPAUTH_JWS_RS256, "rsa");
    char *token = mint(KEY_RSA2, MCPAUTH_JWS_RS256, header, CLAIMS);
    expect_invalid(token, jwks, "bad signature");
    free(token);
    free(header);
    mcpauth_jwks_free(jwks);
}
END_TEST

/* ---- RFC 8725 hygiene ---------------------------------------------------------- */

/* RFC 8725 §3.2 / RFC 9068 §4: unsecured JWTs are never accepted. */
START_TEST(alg_none_refused)
{
    mcpauth_jwks *jwks = full_set();
    static const char *const headers[] = {
        "{\"alg\":\"none\",\"typ\":\"at+jwt\"}",
        "{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"rsa\"}",
        "{\"alg\":\"None\",\"typ\":\"at+jwt\"}",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *input = signing_input(headers[i], CLAIMS);
        char *token = format("%s.", input);
        expect_invalid(token, jwks, "not allowed");
        free(token);
        /* Even with a real signature tacked on. */
        uint8_t raw[512];
        size_t length = sign_raw(KEY_RSA, MCPAUTH_JWS_RS256, input, raw);
        token = join(input, raw, length);
        expect_invalid(token, jwks, "not allowed");
        free(token);
        free(input);
    }
    char *input = signing_input(headers[0], CLAIMS);
    char *token = format("%s.", input);
    expect_invalid(token, jwks, "alg none not allowed");
    free(token);
    free(input);
    mcpauth_jwks_free(jwks);
}
END_TEST

static char *hs256_token(const char *kid, const void *secret, size_t secret_length)
{
    char *header = format("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    char *input = signing_input(header, CLAIMS);
    uint8_t mac[32];
    ck_assert_int_eq(
        gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, secret_length, input, strlen(input), mac), 0);
    char *token = join(input, mac, sizeof mac);
    free(input);
    free(header);
    return token;
}

/* The classic key confusion: an HS256 token whose HMAC key is the RSA
 * public key, in any of the forms a verifier might hold it (RFC 8725
 * §2.1, §3.1). */
START_TEST(hs256_with_rsa_public_key)
{
    mcpauth_jwks *jwks = full_set();
    mcpauth_jwt_policy policy = all_algs_policy();
    gnutls_datum_t der, pem, m, e;
    ck_assert_int_eq(gnutls_pubkey_export2(keys[KEY_RSA].pub, GNUTLS_X509_FMT_DER, &der), 0);
    ck_assert_int_eq(gnutls_pubkey_export2(keys[KEY_RSA].pub, GNUTLS_X509_FMT_PEM, &pem), 0);
    ck_assert_int_eq(
        gnutls_pubkey_export_rsa_raw2(keys[KEY_RSA].pub, &m, &e, GNUTLS_EXPORT_FLAG_NO_LZ), 0);
    char *jwk = jwk_of(KEY_RSA, "rsa", "");

    const gnutls_datum_t secrets[] = {der, pem, m, {(unsigned char *)jwk, (unsigned)strlen(jwk)}};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        char *token = hs256_token("rsa", secrets[i].data, secrets[i].size);
        expect_outcome(token, jwks, &policy, MCPAUTH_JWT_INVALID, "alg HS256 not allowed");
        free(token);
    }
    free(jwk);
    gnutls_free(der.data);
    gnutls_free(pem.data);
    gnutls_free(m.data);
    gnutls_free(e.data);
    mcpauth_jwks_free(jwks);
}
END_TEST

/* RFC 8725 §3.1: the key's type must be the algorithm's. An RS256 token
 * naming an EC key's kid is refused before any verification. */
START_TEST(rs256_against_ec_key)
{
    char *ec = jwk_of(KEY_P256, "k1", "");
    mcpauth_jwks *jwks = set_of(ec, NULL);
    char *header = header_for(MCPAUTH_JWS_RS256, "k1");
    char *token = mint(KEY_RSA, MCPAUTH_JWS_RS256, header, CLAIMS);
    expect_invalid(token, jwks, "key k1 is EC P-256, not for RS256");
    free(token);
    free(header);
    mcpauth_jwks_free(jwks);
    free(ec);

    /* And the other ways round. */
    jwks = full_set();
    static const struct {
        mcpauth_jws_alg alg;
        key_id signer;
        const char *kid;
        const char *reason;
    } cases[] = {
        {MCPAUTH_JWS_ES256, KEY_P256, "rsa", "key rsa is RSA, not for ES256"},
        {MCPAUTH_JWS_ES256, KEY_P256, "p384", "key p384 is EC P-384, not for ES256"},
        {MCPAUTH_JWS_ES384, KEY_P384, "p256", "key p256 is EC P-256, not for ES384"},
        {MCPAUTH_JWS_ES512, KEY_P521, "ed25519", "key ed25519 is OKP Ed25519, not for ES512"},
        {MCPAUTH_JWS_EDDSA, KEY_ED25519, "p256", "key p256 is EC P-256, not for EdDSA"},
        {MCPAUTH_JWS_PS256, KEY_RSA, "p521", "key p521 is EC P-521, not for PS256"},
        /* RFC 9864 §2.2: the fully-specified names are bound to one curve. */
        {MCPAUTH_JWS_ED25519, KEY_ED25519, "ed448", "key ed448 is OKP Ed448, not for Ed25519"},
        {MCPAUTH_JWS_ED448, KEY_ED448, "ed25519", "key ed25519 is OKP Ed25519, not for Ed448"},
        {MCPAUTH_JWS_ED25519, KEY_ED25519, "p256", "key p256 is EC P-256, not for Ed25519"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        header = header_for(cases[i].alg, cases[i].kid);
        token = mint(cases[i].signer, cases[i].alg, header, CLAIMS);
        expect_invalid(token, jwks, cases[i].reason);
        free(token);
        free(header);
    }
    mcpauth_jwks_free(jwks);
}
END_TEST

/* RFC 8037 §3.1: EdDSA is polymorphic, the key's curve decides; an Ed448
 * key verifies an EdDSA token (114-byte signature, RFC 8032 §5.2.6). */
START_TEST(eddsa_takes_either_curve)
{
    mcpauth_jwks *jwks = full_set();
    char *header = header_for(MCPAUTH_JWS_EDDSA, "ed448");
    char *token = mint(KEY_ED448, MCPAUTH_JWS_EDDSA, header, CLAIMS);
    mcpauth_jwt_policy policy = default_policy();
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_VERIFIED, NULL);
    free(token);
    free(header);
    mcpauth_jwks_free(jwks);
}
END_TEST

/* EdDSA, Ed25519 and Ed448 are separate entries of the allow-list: each can
 * be left out alone, and allowing one allows no other. */
START_TEST(eddsa_names_allowed_separately)
{
    static const mcpauth_jws_alg names[] = {MCPAUTH_JWS_EDDSA, MCPAUTH_JWS_ED25519,
                                            MCPAUTH_JWS_ED448};
    mcpauth_jwks *jwks = full_set();
    for (size_t i = 0; i < 3; i++) {
        mcpauth_jwt_policy policy = all_algs_policy();
        policy.allowed[names[i]] = false;
        for (size_t j = 0; j < 3; j++) {
            char *token = mint_default(names[j]);
            char refused[64];
            snprintf(refused, sizeof refused, "alg %s not allowed", mcpauth_jws_alg_name(names[j]));
            expect_outcome(token, jwks, &policy,
                           i == j ? MCPAUTH_JWT_INVALID : MCPAUTH_JWT_VERIFIED,
                           i == j ? refused : NULL);
            free(token);
        }
        memset(policy.allowed, 0, sizeof policy.allowed);
        policy.allowed[names[i]] = true;
        for (size_t j = 0; j < 3; j++) {
            char *token = mint_default(names[j]);
            expect_outcome(token, jwks, &policy,
                           i == j ? MCPAUTH_JWT_VERIFIED : MCPAUTH_JWT_INVALID,
                           i == j ? NULL : "not allowed");
            free(token);
        }
    }
    mcpauth_jwks_free(jwks);
}
END_TEST

/* RFC 7517 §4.4 with RFC 9864: a key published for Ed25519 (as
 * oidc-provider 9 does) verifies Ed25519 tokens, not EdDSA ones. */
START_TEST(key_alg_ed25519)
{
    char *jwk = jwk_of(KEY_ED25519, "k1", ",\"alg\":\"Ed25519\"");
    mcpauth_jwks *jwks = set_of(jwk, NULL);
    mcpauth_jwt_policy policy = default_policy();
    char *header = header_for(MCPAUTH_JWS_ED25519, "k1");
    char *token = mint(KEY_ED25519, MCPAUTH_JWS_ED25519, header, CLAIMS);
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_VERIFIED, NULL);
    free(token);
    free(header);
    header = header_for(MCPAUTH_JWS_EDDSA, "k1");
    token = mint(KEY_ED25519, MCPAUTH_JWS_EDDSA, header, CLAIMS);
    expect_invalid(token, jwks, "key k1 is for Ed25519, not EdDSA");
    free(token);
    free(header);
    mcpauth_jwks_free(jwks);
    free(jwk);
}
END_TEST

/* RFC 7517 §4.4: a key marked for PS256 does not verify RS256. */
START_TEST(key_alg_must_match)
{
    char *jwk = jwk_of(KEY_RSA, "k1", ",\"alg\":\"PS256\"");
    mcpauth_jwks *jwks = set_of(jwk, NULL);
    char *header = header_for(MCPAUTH_JWS_RS256, "k1");
    char *token = mint(KEY_RSA, MCPAUTH_JWS_RS256, header, CLAIMS);
    expect_invalid(token, jwks, "key k1 is for PS256, not RS256");
    free(token);
    free(header);

    header = header_for(MCPAUTH_JWS_PS256, "k1");
    token = mint(KEY_RSA, MCPAUTH_JWS_PS256, header, CLAIMS);
    mcpauth_jwt_policy policy = default_policy();
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_VERIFIED, NULL);
    free(token);
    free(header);

    /* Without kid, the only key that fits is none. */
    header = header_for(MCPAUTH_JWS_RS256, NULL);
    token = mint(KEY_RSA, MCPAUTH_JWS_RS256, header, CLAIMS);
    expect_invalid(token, jwks, "no kid and no keys for RS256");
    free(token);
    free(header);
    mcpauth_jwks_free(jwks);
    free(jwk);
}
END_TEST

START_TEST(unknown_kid)
{
    mcpauth_jwks *jwks = full_set();
    mcpauth_jwt_policy policy = default_policy();
    char *header = header_for(MCPAUTH_JWS_RS256, "k2");
    char *token = mint(KEY_RSA, MCPAUTH_JWS_RS256, header, CLAIMS);
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_UNKNOWN_KEY, "no key with kid k2");
    free(token);
    free(header);

    /* Hostile kids are quoted, not copied. */
    const char *raw_header = "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"a\\\"b\\n\\u00e9\"}";
    token = mint(KEY_RSA, MCPAUTH_JWS_RS256, raw_header, CLAIMS);
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_UNKNOWN_KEY,
                   "no key with kid \"a\\\"b\\x0a\\xc3\\xa9\"");
    free(token);

    /* A kid differing only after a NUL is another kid. */
    raw_header = "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"rsa\\u0000x\"}";
    token = mint(KEY_RSA, MCPAUTH_JWS_RS256, raw_header, CLAIMS);
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_INVALID, "kid is not a string");
    free(token);

    raw_header = "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":[\"rsa\"]}";
    token = mint(KEY_RSA, MCPAUTH_JWS_RS256, raw_header, CLAIMS);
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_INVALID, "kid is not a string");
    free(token);

    /* Long kids are cut in the reason. */
    char long_kid[400];
    memset(long_kid, 'k', sizeof long_kid - 1);
    long_kid[sizeof long_kid - 1] = '\0';
    char *long_header = header_for(MCPAUTH_JWS_RS256, long_kid);
    token = mint(KEY_RSA, MCPAUTH_JWS_RS256, long_header, CLAIMS);
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_UNKNOWN_KEY, "...\"");
    free(token);
    free(long_header);
    mcpauth_jwks_free(jwks);
}
END_TEST

/* A set with one usable key may be used without kid (issue 4). */
START_TEST(no_kid_one_key)
{
    mcpauth_jwt_policy policy = default_policy();
    for (key_id id = KEY_RSA; id < KEY_COUNT; id++) {
        if (id == KEY_RSA2 || id == KEY_P384 || id == KEY_P521)
            continue;
        char *jwk = jwk_of(id, NULL, "");
        mcpauth_jwks *jwks = set_of(jwk, NULL);
        mcpauth_jws_alg alg = id == KEY_RSA    ? MCPAUTH_JWS_RS256
                              : id == KEY_P256 ? MCPAUTH_JWS_ES256
                                               : MCPAUTH_JWS_EDDSA;
        char *header = header_for(alg, NULL);
        char *token = mint(id, alg, header, CLAIMS);
        expect_outcome(token, jwks, &policy, MCPAUTH_JWT_VERIFIED, NULL);
        free(token);
        free(header);
        mcpauth_jwks_free(jwks);
        free(jwk);
    }
}
END_TEST

START_TEST(no_kid_several_keys)
{
    mcpauth_jwt_policy policy = default_policy();
    char *a = jwk_of(KEY_RSA, "a", "");
    char *b = jwk_of(KEY_RSA2, "b", "");
    mcpauth_jwks *jwks = set_of(a, b);
    char *header = header_for(MCPAUTH_JWS_RS256, NULL);
    char *token = mint(KEY_RSA, MCPAUTH_JWS_RS256, header, CLAIMS);
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_INVALID, "no kid and several keys");
    free(token);
    mcpauth_jwks_free(jwks);

    /* One RSA key and one EC key: only one fits RS256. */
    char *ec = jwk_of(KEY_P256, "ec", "");
    jwks = set_of(ec, a);
    token = mint(KEY_RSA, MCPAUTH_JWS_RS256, header, CLAIMS);
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_VERIFIED, NULL);
    free(token);
    free(header);

    /* None fits ES384. */
    header = header_for(MCPAUTH_JWS_ES384, NULL);
    token = mint(KEY_P384, MCPAUTH_JWS_ES384, header, CLAIMS);
    expect_invalid(token, jwks, "no kid and no keys for ES384");
    free(token);
    free(header);
    mcpauth_jwks_free(jwks);
    free(a);
    free(b);
    free(ec);
}
END_TEST

static char *mint_with_header(const char *header)
{
    return mint(KEY_RSA, MCPAUTH_JWS_RS256, header, CLAIMS);
}

/* RFC 9068 §2.1, §4; RFC 7515 §4.1.9: at+jwt, application/ optional, any
 * case. */
START_TEST(typ_checks)
{
    mcpauth_jwks *jwks = full_set();
    mcpauth_jwt_policy policy = default_policy();
    mcpauth_jwt_policy optional = default_policy();
    optional.typ_optional = true;

    static const char *const good[] = {"at+jwt", "application/at+jwt", "AT+JWT",
                                       "Application/At+Jwt"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char *header = format("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"typ\":\"%s\"}", good[i]);
        char *token = mint_with_header(header);
        expect_outcome(token, jwks, &policy, MCPAUTH_JWT_VERIFIED, NULL);
        expect_outcome(token, jwks, &optional, MCPAUTH_JWT_VERIFIED, NULL);
        free(token);
        free(header);
    }

    /* The generic type: refused by default, accepted as "no particular
     * type" when typ is optional. */
    static const char *const generic[] = {"JWT", "jwt", "application/jwt", "Application/JWT"};
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++) {
        char *header = format("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"typ\":\"%s\"}", generic[i]);
        char *token = mint_with_header(header);
        char *reason = format("typ %s is not at+jwt", generic[i]);
        expect_outcome(token, jwks, &policy, MCPAUTH_JWT_INVALID, reason);
        expect_outcome(token, jwks, &optional, MCPAUTH_JWT_VERIFIED, NULL);
        free(reason);
        free(token);
        free(header);
    }

    static const struct {
        const char *typ;
        const char *reason;
    } bad[] = {
        {"\"dpop+jwt\"", "typ dpop+jwt is not at+jwt"},
        {"\"application/logout+jwt\"", "typ application/logout+jwt is not at+jwt"},
        {"\"jwtx\"", "typ jwtx is not at+jwt"},
        {"\"at+jwt; charset=utf-8\"", "typ \"at+jwt; charset=utf-8\" is not at+jwt"},
        {"\"application/at+jwtx\"", "is not at+jwt"},
        {"\"text/at+jwt\"", "is not at+jwt"},
        {"\"\"", "typ \"\" is not at+jwt"},
        {"\"at+jwt\\u0000\"", "typ is not a string"},
        {"1", "typ is not a string"},
        {"null", "typ is not a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *header = format("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"typ\":%s}", bad[i].typ);
        char *token = mint_with_header(header);
        expect_outcome(token, jwks, &policy, MCPAUTH_JWT_INVALID, bad[i].reason);
        /* Optional means absent or generic, never another type. */
        expect_outcome(token, jwks, &optional, MCPAUTH_JWT_INVALID, bad[i].reason);
        free(token);
        free(header);
    }

    char *token = mint_with_header("{\"alg\":\"RS256\",\"kid\":\"rsa\"}");
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_INVALID, "no typ");
    expect_outcome(token, jwks, &optional, MCPAUTH_JWT_VERIFIED, NULL);
    free(token);
    mcpauth_jwks_free(jwks);
}
END_TEST

/* RFC 7515 §4.1.11: we understand no extension, so any crit is fatal. */
START_TEST(crit_refused)
{
    mcpauth_jwks *jwks = full_set();
    static const char *const headers[] = {
        "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"rsa\",\"crit\":[\"exp\"],\"exp\":1}",
        "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"rsa\",\"crit\":[\"b64\"],\"b64\":false}",
        "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"rsa\",\"crit\":[]}",
        "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"rsa\",\"crit\":null}",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *token = mint_with_header(headers[i]);
        expect_invalid(token, jwks, "crit");
        free(token);
    }
    mcpauth_jwks_free(jwks);
}
END_TEST

START_TEST(alg_not_in_allow_list)
{
    mcpauth_jwks *jwks = full_set();
    mcpauth_jwt_policy policy = default_policy();
    char *token = mint_default(MCPAUTH_JWS_RS384);
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_INVALID, "alg RS384 not allowed");
    policy.allowed[MCPAUTH_JWS_RS384] = true;
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_VERIFIED, NULL);
    free(token);

    /* An empty allow-list takes nothing. */
    memset(policy.allowed, 0, sizeof policy.allowed);
    token = mint_default(MCPAUTH_JWS_RS256);
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_INVALID, "alg RS256 not allowed");
    free(token);
    mcpauth_jwks_free(jwks);
}
END_TEST

START_TEST(alg_member_malformed)
{
    mcpauth_jwks *jwks = full_set();
    static const struct {
        const char *header;
        const char *reason;
    } cases[] = {
        {"{\"typ\":\"at+jwt\",\"kid\":\"rsa\"}", "no alg"},
        {"{\"alg\":256,\"typ\":\"at+jwt\",\"kid\":\"rsa\"}", "alg is not a string"},
        {"{\"alg\":[\"RS256\"],\"typ\":\"at+jwt\",\"kid\":\"rsa\"}", "alg is not a string"},
        {"{\"alg\":\"RS256\\u0000x\",\"typ\":\"at+jwt\",\"kid\":\"rsa\"}", "alg is not a string"},
        {"{\"alg\":\"rs256\",\"typ\":\"at+jwt\",\"kid\":\"rsa\"}", "alg rs256 not allowed"},
        {"{\"alg\":\"RS256 \",\"typ\":\"at+jwt\",\"kid\":\"rsa\"}", "alg \"RS256 \" not allowed"},
        /* json-c keeps the last of duplicate members (RFC 7515 §4). */
        {"{\"alg\":\"RS256\",\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"rsa\"}",
         "alg none not allowed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *token = mint_with_header(cases[i].header);
        expect_invalid(token, jwks, cases[i].reason);
        free(token);
    }
    mcpauth_jwks_free(jwks);
}
END_TEST

/* ---- shape and size --------------------------------------------------------------- */

static char *claims_padded(size_t pad)
{
    char *filler = malloc(pad + 1);
    ck_assert_ptr_nonnull(filler);
    memset(filler, 'p', pad);
    filler[pad] = '\0';
    char *claims = format("{\"sub\":\"alice\",\"exp\":1767225600,\"pad\":\"%s\"}", filler);
    free(filler);
    return claims;
}

START_TEST(size_limit)
{
    char *jwk = jwk_of(KEY_ED25519, "ed", "");
    mcpauth_jwks *jwks = set_of(jwk, NULL);
    char *header = header_for(MCPAUTH_JWS_EDDSA, "ed");
    mcpauth_jwt_policy policy = default_policy();

    /* Grow the payload until the token is exactly at the limit. base64url
     * lengths are never 1 mod 4, so the header varies too. */
    bool at_limit = false;
    for (int extra = 0; extra < 3 && !at_limit; extra++) {
        char *varied = format(
            "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"ed\",\"x\":\"%.*s\"}", extra, "xxx");
        for (size_t pad = 12000; pad < 12300 && !at_limit; pad++) {
            char *claims = claims_padded(pad);
            char *input = signing_input(varied, claims);
            /* "." + 86 characters of Ed25519 signature */
            if (strlen(input) + 87 == MCPAUTH_JWT_MAX_LENGTH) {
                char *token = mint(KEY_ED25519, MCPAUTH_JWS_EDDSA, varied, claims);
                ck_assert_uint_eq(strlen(token), MCPAUTH_JWT_MAX_LENGTH);
                expect_outcome(token, jwks, &policy, MCPAUTH_JWT_VERIFIED, NULL);
                free(token);
                at_limit = true;
            }
            free(input);
            free(claims);
        }
        free(varied);
    }
    ck_assert(at_limit);

    char *claims = claims_padded(MCPAUTH_JWT_MAX_LENGTH);
    char *token = mint(KEY_ED25519, MCPAUTH_JWS_EDDSA, header, claims);
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_INVALID, "over the limit of 16384");
    free(token);
    free(claims);

    claims = claims_padded(12200);
    token = mint(KEY_ED25519, MCPAUTH_JWS_EDDSA, header, claims);
    ck_assert_uint_gt(strlen(token), MCPAUTH_JWT_MAX_LENGTH);
    expect_outcome(token, jwks, &policy, MCPAUTH_JWT_INVALID, "over the limit");
    free(token);
    free(claims);
    free(header);
    mcpauth_jwks_free(jwks);
    free(jwk);
}
END_TEST

START_TEST(segment_count)
{
    mcpauth_jwks *jwks = full_set();
    char *token = mint_default(MCPAUTH_JWS_RS256);
    char *dot2 = strrchr(token, '.');

    char *two = strndup(token, (size_t)(dot2 - token));
    expect_invalid(two, jwks, "token has 2 segments, not 3");
    char *four = format("%s.%s", token, "AAAA");
    expect_invalid(four, jwks, "token has 4 segments, not 3");
    char *five = format("%s..", token);
    expect_invalid(five, jwks, "token has 5 segments, not 3");
    expect_invalid("abc", jwks, "token has 1 segments, not 3");
    expect_invalid("..", jwks, "JWT header is not");
    expect_invalid("", jwks, "token is empty");

    free(two);
    free(four);
    free(five);
    free(token);
    mcpauth_jwks_free(jwks);
}
END_TEST

/* RFC 7515 §2: base64url without padding, line breaks or whitespace. */
START_TEST(bad_base64url)
{
    mcpauth_jwks *jwks = full_set();
    char *token = mint_default(MCPAUTH_JWS_RS256);
    size_t length = strlen(token);
    char *dot1 = strchr(token, '.'), *dot2 = strrchr(token, '.');
    int h = (int)(dot1 - token), hp = (int)(dot2 - token);

    char *cases[] = {
        format("%.*s=%s", h, token, dot1), /* padding in the header */
        format("%.*s+%s", h, token, dot1), /* base64's alphabet */
        format("%.*s/%s", h, token, dot1),
        format(" %s", token), /* whitespace */
        format("%.*s\n%s", h, token, dot1),
        format("%s=", token), /* padding in the signature */
        format("%s ", token),
        format("%.*s*%s", hp, token, dot2), /* a stray character in the payload */
    };
    const char *reasons[] = {
        "JWT header is not base64url",    "JWT header is not base64url",
        "JWT header is not base64url",    "JWT header is not base64url",
        "JWT header is not base64url",    "JWT signature is not base64url",
        "JWT signature is not base64url", "JWT payload is not base64url",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_invalid(cases[i], jwks, reasons[i]);
        free(cases[i]);
    }
    /* length % 4 == 1 in the signature: one character too many */
    char *extra = format("%.*s.AAAAA", hp, token);
    expect_invalid(extra, jwks, "JWT signature is not base64url");
    free(extra);
    ck_assert_uint_gt(length, 0);
    free(token);
    mcpauth_jwks_free(jwks);
}
END_TEST

static char *token_with_raw_header(const char *header_bytes)
{
    char *h = b64_text(header_bytes);
    char *p = b64_text(CLAIMS);
    char *token = format("%s.%s.AAAA", h, p);
    free(h);
    free(p);
    return token;
}

START_TEST(header_not_object)
{
    mcpauth_jwks *jwks = full_set();
    static const struct {
        const char *header;
        const char *reason;
    } cases[] = {
        {"[1]", "JWT header is not a JSON object"},
        {"\"RS256\"", "JWT header is not a JSON object"},
        {"null", "JWT header is not a JSON object"},
        {"{", "JWT header is not valid JSON"},
        {"{\"alg\":\"RS256\"} x", "JWT header is not valid JSON"},
        {"{\"alg\":\"RS\xff\"}", "not UTF-8"},
        {"{\"alg\":\"RS256\",}", "JWT header is not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *token = token_with_raw_header(cases[i].header);
        expect_invalid(token, jwks, cases[i].reason);
        free(token);
    }
    /* Nesting beyond MCPAUTH_JSON_MAX_DEPTH. */
    char deep[200] = "{\"alg\":\"RS256\",\"x\":";
    size_t o = strlen(deep);
    for (int i = 0; i < 40; i++)
        deep[o++] = '[';
    for (int i = 0; i < 40; i++)
        deep[o++] = ']';
    deep[o++] = '}';
    deep[o] = '\0';
    char *token = token_with_raw_header(deep);
    expect_invalid(token, jwks, "JWT header is not valid JSON");
    free(token);
    mcpauth_jwks_free(jwks);
}
END_TEST

/* Only a verified payload is read; it must be a JSON object of claims of
 * the right types. */
START_TEST(payload_checked_after_signature)
{
    mcpauth_jwks *jwks = full_set();
    char *header = header_for(MCPAUTH_JWS_ES256, "p256");
    static const struct {
        const char *payload;
        const char *reason;
    } cases[] = {
        {"[1]", "JWT payload is not a JSON object"},
        {"not json", "JWT payload is not valid JSON"},
        {"", "JWT payload is not valid JSON"},
        {"{\"aud\":5}", "JWT claims member \"aud\" is neither a string nor an array"},
        {"{\"exp\":\"soon\"}", "JWT claims member \"exp\" is not a number"},
        {"{\"sub\":\"a\\u0000b\"}", "JWT claims member \"sub\" contains a NUL character"},
        {"{\"scp\":\"mcp\"}", "JWT claims member \"scp\" is not an array"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *token = mint(KEY_P256, MCPAUTH_JWS_ES256, header, cases[i].payload);
        expect_invalid(token, jwks, cases[i].reason);
        free(token);
    }
    free(header);
    mcpauth_jwks_free(jwks);
}
END_TEST

/* ---- signature encodings -------------------------------------------------------------- */

/* RFC 7518 §3.4: ES256 signatures are exactly 64 bytes of r || s; a DER
 * signature (what GnuTLS and OpenSSL produce) is not one. */
START_TEST(signature_lengths)
{
    mcpauth_jwks *jwks = full_set();
    for (mcpauth_jws_alg alg = 0; alg < MCPAUTH_JWS_ALG_COUNT; alg++) {
        key_id id = key_for(alg);
        char *header = header_for(alg, kids[id]);
        char *input = signing_input(header, CLAIMS);
        uint8_t raw[513];
        size_t length = sign_raw(id, alg, input, raw);
        char expected[80];
        snprintf(expected, sizeof expected, "%s signature is %zu bytes, not %zu",
                 mcpauth_jws_alg_name(alg), length - 1, length);

        char *token = join(input, raw + 1, length - 1);
        expect_invalid(token, jwks, expected);
        free(token);
        raw[length] = 0;
        token = join(input, raw, length + 1);
        snprintf(expected, sizeof expected, "%s signature is %zu bytes, not %zu",
                 mcpauth_jws_alg_name(alg), length + 1, length);
        expect_invalid(token, jwks, expected);
        free(token);
        token = format("%s.", input);
        expect_invalid(token, jwks, "signature is 0 bytes");
        free(token);
        free(input);
        free(header);
    }

    /* The DER form of a good ES256 signature. */
    char *header = header_for(MCPAUTH_JWS_ES256, "p256");
    char *input = signing_input(header, CLAIMS);
    const gnutls_datum_t data = {(unsigned char *)input, (unsigned)strlen(input)};
    gnutls_datum_t der;
    ck_assert_int_eq(
        gnutls_privkey_sign_data2(keys[KEY_P256].priv, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &der),
        0);
    char *token = join(input, der.data, der.size);
    expect_invalid(token, jwks, "ES256 signature is");
    free(token);
    gnutls_free(der.data);
    free(input);
    free(header);
    mcpauth_jwks_free(jwks);
}
END_TEST

/* ECDSA needs 0 < r, s < n; GnuTLS checks, whatever the DER encoding lets
 * through. */
START_TEST(ecdsa_r_s_out_of_range)
{
    static const uint8_t p256_order[32] = {
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
        0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
    };
    mcpauth_jwks *jwks = full_set();
    char *header = header_for(MCPAUTH_JWS_ES256, "p256");
    char *input = signing_input(header, CLAIMS);
    uint8_t good[64];
    ck_assert_uint_eq(sign_raw(KEY_P256, MCPAUTH_JWS_ES256, input, good), 64);

    uint8_t zero[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof ones);
    const uint8_t *values[] = {zero, p256_order, ones};
    for (size_t v = 0; v < 3; v++) {
        for (int half = 0; half < 2; half++) {
            uint8_t sig[64];
            memcpy(sig, good, 64);
            memcpy(sig + 32 * half, values[v], 32);
            char *token = join(input, sig, 64);
            expect_invalid(token, jwks, "bad signature");
            free(token);
        }
    }
    /* Both zero. */
    uint8_t zeros[64] = {0};
    char *token = join(input, zeros, 64);
    expect_invalid(token, jwks, "bad signature");
    free(token);
    free(input);
    free(header);
    mcpauth_jwks_free(jwks);
}
END_TEST

/* r or s with leading zero octets (1 in 256 signatures, and nearly every
 * P-521 one) must survive the conversion to DER. */
START_TEST(ecdsa_leading_zeros)
{
    mcpauth_jwks *jwks = full_set();
    mcpauth_jwt_policy policy = all_algs_policy();
    char *header = header_for(MCPAUTH_JWS_ES256, "p256");
    bool seen_r = false, seen_s = false;
    for (int attempt = 0; attempt < 20000 && !(seen_r && seen_s); attempt++) {
        char *claims = format("{\"sub\":\"alice\",\"n\":%d}", attempt);
        char *input = signing_input(header, claims);
        uint8_t raw[64];
        sign_raw(KEY_P256, MCPAUTH_JWS_ES256, input, raw);
        bool r0 = raw[0] == 0, s0 = raw[32] == 0;
        if ((r0 && !seen_r) || (s0 && !seen_s)) {
            char *token = join(input, raw, 64);
            expect_outcome(token, jwks, &policy, MCPAUTH_JWT_VERIFIED, NULL);
            free(token);
            seen_r = seen_r || r0;
            seen_s = seen_s || s0;
        }
        free(input);
        free(claims);
    }
    ck_assert(seen_r && seen_s);
    free(header);
    mcpauth_jwks_free(jwks);
}
END_TEST

/* ---- arguments and reasons ------------------------------------------------------------- */

START_TEST(verify_arguments)
{
    mcpauth_jwks *jwks = full_set();
    mcpauth_jwt_policy policy = default_policy();
    char *token = mint_default(MCPAUTH_JWS_RS256);
    mcpauth_token_info info;

    /* No reason buffer is fine. */
    ck_assert_int_eq(mcpauth_jwt_verify(token, strlen(token), jwks, &policy, &info, NULL, 0),
                     MCPAUTH_JWT_VERIFIED);
    mcpauth_token_info_free(&info);
    ck_assert_int_eq(mcpauth_jwt_verify("a.b", 3, jwks, &policy, &info, NULL, 0),
                     MCPAUTH_JWT_INVALID);

    /* A short buffer gets a cut, terminated reason. */
    char small[8];
    ck_assert_int_eq(mcpauth_jwt_verify("a.b", 3, jwks, &policy, &info, small, sizeof small),
                     MCPAUTH_JWT_INVALID);
    ck_assert_str_eq(small, "token h");

    /* The length counts, not a NUL: a good token cut short fails. */
    char reason[256];
    ck_assert_int_eq(
        mcpauth_jwt_verify(token, strlen(token) - 1, jwks, &policy, &info, reason, sizeof reason),
        MCPAUTH_JWT_INVALID);
    ck_assert_int_eq(
        mcpauth_jwt_verify(token, strlen(token), NULL, &policy, &info, reason, sizeof reason),
        MCPAUTH_JWT_INVALID);
    ck_assert_int_eq(
        mcpauth_jwt_verify(token, strlen(token), jwks, NULL, &info, reason, sizeof reason),
        MCPAUTH_JWT_INVALID);
    ck_assert_int_eq(mcpauth_jwt_verify(NULL, 0, jwks, &policy, &info, reason, sizeof reason),
                     MCPAUTH_JWT_INVALID);
    free(token);
    mcpauth_jwks_free(jwks);
}
END_TEST

/* ---- decode only ----------------------------------------------------------------------- */

START_TEST(decode_valid)
{
    char *token = mint_default(MCPAUTH_JWS_ES256);
    json_object *header = NULL, *payload = NULL;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_jwt_decode(token, strlen(token), &header, &payload, &err), MCPAUTH_OK);
    ck_assert_str_eq(mcpauth_json_string(header, "alg"), "ES256");
    ck_assert_str_eq(mcpauth_json_string(header, "kid"), "p256");
    ck_assert_str_eq(mcpauth_json_string(payload, "sub"), "alice");
    json_object_put(header);
    json_object_put(payload);
    free(token);

    /* Decoding proves nothing, so unsigned tokens decode too. */
    char *input = signing_input("{\"alg\":\"none\"}", "{\"sub\":\"x\"}");
    token = format("%s.", input);
    ck_assert_int_eq(mcpauth_jwt_decode(token, strlen(token), &header, &payload, NULL), MCPAUTH_OK);
    ck_assert_str_eq(mcpauth_json_string(header, "alg"), "none");
    ck_assert_str_eq(mcpauth_json_string(payload, "sub"), "x");
    json_object_put(header);
    json_object_put(payload);
    free(token);
    free(input);
}
END_TEST

START_TEST(decode_refused)
{
    static const struct {
        const char *token;
        const char *message;
    } cases[] = {
        {"abc", "token has 1 segments"},
        {"eyJhIjoxfQ.eyJhIjoxfQ", "token has 2 segments"},
        {"eyJhIjoxfQ.eyJhIjoxfQ.AA.AA", "token has 4 segments"},
        {"eyJhIjoxfQ=.eyJhIjoxfQ.", "JWT header is not base64url"},
        {"eyJhIjoxfQ.eyJhIjoxfQ=.", "JWT payload is not base64url"},
        {"eyJhIjoxfQ.eyJhIjoxfQ.A", "JWT signature is not base64url"},
        {"WzFd.eyJhIjoxfQ.", "JWT header is not a JSON object"},
        {"eyJhIjoxfQ.WzFd.", "JWT payload is not a JSON object"},
        {"", "token is empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_object *header = (json_object *)&header, *payload = (json_object *)&payload;
        mcpauth_error err = {0};
        ck_assert_int_eq(
            mcpauth_jwt_decode(cases[i].token, strlen(cases[i].token), &header, &payload, &err),
            MCPAUTH_EREMOTE);
        ck_assert_ptr_null(header);
        ck_assert_ptr_null(payload);
        ck_assert_msg(strstr(err.message, cases[i].message) != NULL, "%s: \"%s\" lacks \"%s\"",
                      cases[i].token, err.message, cases[i].message);
    }
    char *claims = claims_padded(MCPAUTH_JWT_MAX_LENGTH);
    char *input = signing_input("{\"alg\":\"none\"}", claims);
    char *token = format("%s.", input);
    json_object *header, *payload;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_jwt_decode(token, strlen(token), &header, &payload, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "over the limit"));
    free(token);
    free(input);
    free(claims);
}
END_TEST

START_TEST(looks_like)
{
    char *token = mint_default(MCPAUTH_JWS_RS256);
    ck_assert(mcpauth_jwt_looks_like(token, strlen(token)));
    ck_assert(!mcpauth_jwt_looks_like(token, strlen(token) - strlen(strrchr(token, '.'))));
    free(token);

    char *input = signing_input("{\"alg\":\"none\"}", "{}");
    char *unsigned_token = format("%s.", input);
    ck_assert(mcpauth_jwt_looks_like(unsigned_token, strlen(unsigned_token)));
    free(unsigned_token);
    free(input);

    static const char *const not_jwts[] = {
        "",
        "opaque-token-value",
        "2YotnFZFEjr1zCsicMWpAA",
        "a.b",
        "a.b.c.d",
        "v4.public.eyJzdWIiOiJhbGljZSJ9",
        "eyJhIjoxfQ..c2ln",
        ".eyJhIjoxfQ.c2ln",
        "eyJhIjoxfQ.eyJhIjoxfQ.c2ln=",
        "eyJhIjoxfQ.eyJh Ijox.c2ln",
        "WzFd.eyJhIjoxfQ.c2ln",
        "eyJ.eyJhIjoxfQ.c2ln",
    };
    for (size_t i = 0; i < sizeof not_jwts / sizeof not_jwts[0]; i++)
        ck_assert_msg(!mcpauth_jwt_looks_like(not_jwts[i], strlen(not_jwts[i])), "%s", not_jwts[i]);
    ck_assert(mcpauth_jwt_looks_like("eyJhIjoxfQ.eyJhIjoxfQ.c2ln", 26));
    ck_assert(!mcpauth_jwt_looks_like(NULL, 0));
}
END_TEST

/* ---- mcpauth_token_info_from_claims ------------------------------------------------------ */

static mcpauth_status claims_info(const char *text, mcpauth_token_info *info, mcpauth_error *err)
{
    mcpauth_error parse_err = {0};
    json_object *claims = mcpauth_json_parse(text, strlen(text), "test claims", &parse_err);
    ck_assert_msg(claims != NULL, "%s: %s", text, parse_err.message);
    mcpauth_status status = mcpauth_token_info_from_claims(claims, info, err);
    json_object_put(claims);
    return status;
}

START_TEST(claims_scope_string)
{
    mcpauth_token_info info;
    mcpauth_error err = {0};
    ck_assert_int_eq(claims_info("{\"scope\":\"mcp  read mcp\",\"sub\":\"s\"}", &info, &err),
                     MCPAUTH_OK);
    ck_assert(info.active);
    ck_assert_uint_eq(info.scope_count, 2);
    ck_assert_str_eq(info.scopes[0], "mcp");
    ck_assert_str_eq(info.scopes[1], "read");
    ck_assert_str_eq(info.subject, "s");
    mcpauth_token_info_free(&info);
}
END_TEST

START_TEST(claims_scp_array)
{
    mcpauth_token_info info;
    mcpauth_error err = {0};
    ck_assert_int_eq(claims_info("{\"scp\":[\"mcp\",\"tools\"]}", &info, &err), MCPAUTH_OK);
    ck_assert_uint_eq(info.scope_count, 2);
    ck_assert_str_eq(info.scopes[0], "mcp");
    ck_assert_str_eq(info.scopes[1], "tools");
    mcpauth_token_info_free(&info);

    /* "scope" wins over "scp". */
    ck_assert_int_eq(claims_info("{\"scope\":\"a\",\"scp\":[\"admin\"]}", &info, &err), MCPAUTH_OK);
    ck_assert_uint_eq(info.scope_count, 1);
    ck_assert_str_eq(info.scopes[0], "a");
    mcpauth_token_info_free(&info);
}
END_TEST

START_TEST(claims_audiences)
{
    mcpauth_token_info info;
    mcpauth_error err = {0};
    ck_assert_int_eq(
        claims_info("{\"aud\":[\"" RESOURCE "\",\"b\",\"" RESOURCE "\"]}", &info, &err),
        MCPAUTH_OK);
    ck_assert_uint_eq(info.audience_count, 2);
    ck_assert_str_eq(info.audiences[0], RESOURCE);
    ck_assert_str_eq(info.audiences[1], "b");
    mcpauth_token_info_free(&info);

    ck_assert_int_eq(claims_info("{\"aud\":\"" RESOURCE "\"}", &info, &err), MCPAUTH_OK);
    ck_assert_uint_eq(info.audience_count, 1);
    ck_assert_str_eq(info.audiences[0], RESOURCE);
    mcpauth_token_info_free(&info);

    /* "resource" is no JWT claim (RFC 9068 §3): it names no audience. */
    ck_assert_int_eq(claims_info("{\"aud\":\"x\",\"resource\":\"" RESOURCE "\"}", &info, &err),
                     MCPAUTH_OK);
    ck_assert_uint_eq(info.audience_count, 1);
    ck_assert_str_eq(info.audiences[0], "x");
    mcpauth_token_info_free(&info);
}
END_TEST

START_TEST(claims_all_members)
{
    mcpauth_token_info info;
    mcpauth_error err = {0};
    ck_assert_int_eq(claims_info("{\"iss\":\"" ISSUER
                                 "\",\"sub\":\"s\",\"client_id\":\"c\",\"username\":\"u\","
                                 "\"exp\":200,\"iat\":100,\"nbf\":150,\"active\":false}",
                                 &info, &err),
                     MCPAUTH_OK);
    /* A verified JWT is active whatever an "active" member says. */
    ck_assert(info.active);
    ck_assert_str_eq(info.issuer, ISSUER);
    ck_assert_str_eq(info.subject, "s");
    ck_assert_str_eq(info.client_id, "c");
    ck_assert_str_eq(info.username, "u");
    ck_assert_int_eq(info.expires_at, 200);
    ck_assert_int_eq(info.issued_at, 100);
    ck_assert_int_eq(info.not_before, 150);
    mcpauth_token_info_free(&info);

    ck_assert_int_eq(claims_info("{}", &info, &err), MCPAUTH_OK);
    ck_assert(info.active);
    ck_assert_ptr_null(info.subject);
    ck_assert_int_eq(info.expires_at, 0);
    mcpauth_token_info_free(&info);
}
END_TEST

/* RFC 7519 §2: NumericDates may have fractions; they are rounded towards
 * the stricter reading. */
START_TEST(claims_fractional_times)
{
    mcpauth_token_info info;
    mcpauth_error err = {0};
    ck_assert_int_eq(
        claims_info("{\"exp\":1767225600.9,\"nbf\":1767222000.1,\"iat\":1.767222e9}", &info, &err),
        MCPAUTH_OK);
    ck_assert_int_eq(info.expires_at, 1767225600);
    ck_assert_int_eq(info.not_before, 1767222001);
    ck_assert_int_eq(info.issued_at, 1767222000);
    mcpauth_token_info_free(&info);

    ck_assert_int_eq(claims_info("{\"exp\":0.5}", &info, &err), MCPAUTH_EREMOTE);
    ck_assert_str_eq(err.message, "JWT claims member \"exp\" is not a positive timestamp");
    ck_assert_int_eq(claims_info("{\"nbf\":-0.5}", &info, &err), MCPAUTH_EREMOTE);
    ck_assert_int_eq(claims_info("{\"exp\":1e300}", &info, &err), MCPAUTH_OK);
    ck_assert_int_eq(info.expires_at, INT64_MAX);
    mcpauth_token_info_free(&info);
}
END_TEST

START_TEST(claims_refused)
{
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"{\"aud\":5}", "JWT claims member \"aud\" is neither a string nor an array"},
        {"{\"aud\":[\"a\",1]}", "JWT claims member \"aud\" is not a string"},
        {"{\"scp\":\"mcp\"}", "JWT claims member \"scp\" is not an array"},
        {"{\"scope\":[\"mcp\"]}", "JWT claims member \"scope\" is not a string"},
        {"{\"exp\":\"1767225600\"}", "JWT claims member \"exp\" is not a number"},
        {"{\"iat\":-1}", "JWT claims member \"iat\" is not a non-negative timestamp"},
        {"{\"sub\":7}", "JWT claims member \"sub\" is not a string"},
        {"{\"iss\":\"a\\u0000b\"}", "JWT claims member \"iss\" contains a NUL character"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcpauth_token_info info;
        mcpauth_error err = {0};
        ck_assert_int_eq(claims_info(cases[i].text, &info, &err), MCPAUTH_EREMOTE);
        ck_assert_str_eq(err.message, cases[i].message);
        assert_info_zeroed(&info);
    }

    mcpauth_token_info info;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_token_info_from_claims(NULL, &info, &err), MCPAUTH_EREMOTE);
    ck_assert_str_eq(err.message, "JWT claims are not a JSON object");
    ck_assert_int_eq(claims_info("[1]", &info, NULL), MCPAUTH_EREMOTE);
    assert_info_zeroed(&info);
}
END_TEST

/* ---- loading a JWK Set (jwks_load.c) ------------------------------------ */

/* A file holding text, in a fresh directory; the caller removes both. */
static char *write_temp(const char *text, char *dir)
{
    strcpy(dir, "/tmp/mcpauth-jose-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *path = format("%s/jwks.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void remove_temp(char *path, const char *dir)
{
    unlink(path);
    rmdir(dir);
    free(path);
}

START_TEST(jwks_load_file_good)
{
    char dir[64];
    char *jwk = jwk_of(KEY_P256, "p256", "");
    char *text = format("{\"keys\":[%s]}", jwk);
    char *path = write_temp(text, dir);
    mcpauth_jwks *jwks = NULL;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_jwks_load_file(path, &jwks, &err), MCPAUTH_OK);
    ck_assert_uint_eq(mcpauth_jwks_count(jwks), 1);
    mcpauth_jwks_free(jwks);
    remove_temp(path, dir);
    free(text);
    free(jwk);
}
END_TEST

/* A file that holds no usable set is the user's file: a local error that
 * names it, whatever the parser would call it. */
START_TEST(jwks_load_file_bad)
{
    char dir[64];
    char *path = write_temp("{\"keys\": \"no\"}", dir);
    mcpauth_jwks *jwks = (mcpauth_jwks *)1;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_jwks_load_file(path, &jwks, &err), MCPAUTH_ELOCAL);
    ck_assert_int_eq(err.status, MCPAUTH_ELOCAL);
    ck_assert_ptr_null(jwks);
    ck_assert_msg(strncmp(err.message, path, strlen(path)) == 0, "%s", err.message);
    ck_assert_int_eq(mcpauth_jwks_load_file(path, &jwks, NULL), MCPAUTH_ELOCAL);
    remove_temp(path, dir);

    ck_assert_int_eq(mcpauth_jwks_load_file("/nonexistent/jwks.json", &jwks, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/jwks.json"));
}
END_TEST

START_TEST(jwks_from_response)
{
    char *jwk = jwk_of(KEY_ED25519, "ed", "");
    char *text = format("{\"keys\":[%s]}", jwk);
    mcpauth_http_response resp = {.status = 200, .body = text, .body_length = strlen(text)};
    mcpauth_jwks *jwks = NULL;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_jwks_from_response(&resp, "https://as.example/jwks", &jwks, &err),
                     MCPAUTH_OK);
    ck_assert_uint_eq(mcpauth_jwks_count(jwks), 1);
    mcpauth_jwks_free(jwks);

    resp.status = 404;
    ck_assert_int_eq(mcpauth_jwks_from_response(&resp, "https://as.example/jwks", &jwks, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_null(jwks);
    ck_assert_str_eq(err.message, "JWK Set at \"https://as.example/jwks\": HTTP 404 Not Found");

    char junk[] = "[]";
    resp = (mcpauth_http_response){.status = 200, .body = junk, .body_length = 2};
    ck_assert_int_eq(mcpauth_jwks_from_response(&resp, "https://as.example/jwks", &jwks, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_null(jwks);
    ck_assert_msg(strncmp(err.message, "JWK Set at \"https://as.example/jwks\": ", 38) == 0, "%s",
                  err.message);
    free(text);
    free(jwk);
}
END_TEST

/* ---- RFC 9068 helpers for decoded tokens --------------------------------- */

START_TEST(typ_is_at_jwt)
{
    const struct {
        const char *header;
        bool expected;
    } cases[] = {
        {"{\"typ\":\"at+jwt\"}", true},
        {"{\"typ\":\"AT+JWT\"}", true},
        {"{\"typ\":\"application/at+jwt\"}", true},
        {"{\"typ\":\"Application/At+Jwt\"}", true},
        {"{\"typ\":\"JWT\"}", false},
        {"{\"typ\":\"dpop+jwt\"}", false},
        {"{\"typ\":7}", false},
        {"{}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_object *header = json_tokener_parse(cases[i].header);
        ck_assert_msg(mcpauth_jwt_typ_is_at_jwt(header) == cases[i].expected, "%s",
                      cases[i].header);
        json_object_put(header);
    }
}
END_TEST

START_TEST(missing_claims)
{
    json_object *claims = json_tokener_parse(CLAIMS);
    json_object *missing = mcpauth_jwt_missing_claims(claims);
    ck_assert_uint_eq(json_object_array_length(missing), 0);
    json_object_put(missing);
    json_object_put(claims);

    claims = json_tokener_parse("{\"sub\":\"alice\",\"exp\":1}");
    missing = mcpauth_jwt_missing_claims(claims);
    ck_assert_str_eq(json_object_to_json_string_ext(missing, JSON_C_TO_STRING_PLAIN),
                     "[\"iss\",\"aud\",\"client_id\",\"iat\",\"jti\"]");
    json_object_put(missing);
    json_object_put(claims);
}
END_TEST

static Suite *jose_suite(void)
{
    Suite *s = suite_create("jose");

    TCase *tc = tcase_create("alg");
    tcase_add_test(tc, alg_names_round_trip);
    tcase_add_test(tc, alg_refused_names);
    tcase_add_test(tc, policy_defaults);
    suite_add_tcase(s, tc);

    tc = tcase_create("jwks");
    tcase_add_test(tc, jwks_every_key_type);
    tcase_add_test(tc, jwks_skips_oct);
    tcase_add_test(tc, jwks_skips_use_enc);
    tcase_add_test(tc, jwks_key_ops);
    tcase_add_test(tc, jwks_skips_small_rsa);
    tcase_add_test(tc, jwks_rsa_exponents);
    tcase_add_test(tc, jwks_empty_and_malformed);
    tcase_add_test(tc, jwks_too_many_keys);
    tcase_add_test(tc, jwks_ec_coordinate_lengths);
    tcase_add_test(tc, jwks_ec_point_off_curve);
    tcase_add_test(tc, jwks_unsupported_curves_and_types);
    tcase_add_test(tc, jwks_alg_member);
    tcase_add_test(tc, jwks_duplicate_kid_keeps_first);
    tcase_add_test(tc, jwks_private_members_ignored);
    tcase_add_test(tc, jwks_bad_kid);
    tcase_add_test(tc, jwks_free_and_count_null);
    tcase_add_test(tc, jwks_load_file_good);
    tcase_add_test(tc, jwks_load_file_bad);
    tcase_add_test(tc, jwks_from_response);
    suite_add_tcase(s, tc);

    tc = tcase_create("verify");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, verify_every_alg, 0, MCPAUTH_JWS_ALG_COUNT);
    tcase_add_loop_test(tc, tampered_payload, 0, MCPAUTH_JWS_ALG_COUNT);
    tcase_add_loop_test(tc, tampered_signature, 0, MCPAUTH_JWS_ALG_COUNT);
    tcase_add_test(tc, signed_by_other_key);
    tcase_add_test(tc, verify_arguments);
    suite_add_tcase(s, tc);

    tc = tcase_create("hygiene");
    tcase_add_test(tc, alg_none_refused);
    tcase_add_test(tc, hs256_with_rsa_public_key);
    tcase_add_test(tc, rs256_against_ec_key);
    tcase_add_test(tc, key_alg_must_match);
    tcase_add_test(tc, unknown_kid);
    tcase_add_test(tc, no_kid_one_key);
    tcase_add_test(tc, no_kid_several_keys);
    tcase_add_test(tc, typ_checks);
    tcase_add_test(tc, crit_refused);
    tcase_add_test(tc, alg_not_in_allow_list);
    tcase_add_test(tc, alg_member_malformed);
    suite_add_tcase(s, tc);

    tc = tcase_create("shape");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, size_limit);
    tcase_add_test(tc, segment_count);
    tcase_add_test(tc, bad_base64url);
    tcase_add_test(tc, header_not_object);
    tcase_add_test(tc, payload_checked_after_signature);
    tcase_add_test(tc, signature_lengths);
    tcase_add_test(tc, eddsa_takes_either_curve);
    tcase_add_test(tc, eddsa_names_allowed_separately);
    tcase_add_test(tc, key_alg_ed25519);
    tcase_add_test(tc, ecdsa_r_s_out_of_range);
    tcase_add_test(tc, ecdsa_leading_zeros);
    suite_add_tcase(s, tc);

    tc = tcase_create("decode");
    tcase_add_test(tc, decode_valid);
    tcase_add_test(tc, decode_refused);
    tcase_add_test(tc, looks_like);
    tcase_add_test(tc, typ_is_at_jwt);
    tcase_add_test(tc, missing_claims);
    suite_add_tcase(s, tc);

    tc = tcase_create("claims");
    tcase_add_test(tc, claims_scope_string);
    tcase_add_test(tc, claims_scp_array);
    tcase_add_test(tc, claims_audiences);
    tcase_add_test(tc, claims_all_members);
    tcase_add_test(tc, claims_fractional_times);
    tcase_add_test(tc, claims_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    generate_keys();
    int status = testlib_run(jose_suite());
    free_keys();
    return status;
}
