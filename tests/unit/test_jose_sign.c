/* ES256 signing (src/jose/sign.c): our own verifier accepts what the signer
 * makes, the JWK round-trips through the private form, the kid is the RFC
 * 7638 thumbprint, and a tampered token is refused. */
#include <check.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/base64url.h"
#include "mcpauth/jose.h"
#include "mcpauth/json.h"
#include "mcpauth/token.h"
#include "testlib.h"

static json_object *claims(void)
{
    json_object *c = json_object_new_object();
    json_object_object_add(c, "iss", json_object_new_string("http://127.0.0.1:1"));
    json_object_object_add(c, "sub", json_object_new_string("alice"));
    json_object_object_add(c, "aud", json_object_new_string("http://127.0.0.1:1/mcp"));
    json_object_object_add(c, "exp", json_object_new_int64(4102444800));
    json_object_object_add(c, "scope", json_object_new_string("mcp"));
    return c;
}

/* A JWK Set holding the signer's public key. */
static mcpauth_jwks *public_set(const mcpauth_jws_signer *signer)
{
    json_object *set = json_object_new_object(), *keys = json_object_new_array();
    json_object_array_add(keys, mcpauth_jws_signer_public_jwk(signer));
    json_object_object_add(set, "keys", keys);
    const char *text = mcpauth_json_compact(set);
    mcpauth_jwks *jwks = NULL;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_jwks_parse(text, strlen(text), &jwks, &err), MCPAUTH_OK);
    json_object_put(set);
    return jwks;
}

static mcpauth_jwt_outcome verify(const char *token, const mcpauth_jwks *jwks,
                                  mcpauth_token_info *info, char *reason)
{
    mcpauth_jwt_policy policy;
    mcpauth_jwt_policy_init(&policy);
    return mcpauth_jwt_verify(token, strlen(token), jwks, &policy, info, reason, 200);
}

START_TEST(sign_and_verify)
{
    mcpauth_error err = {0};
    mcpauth_jws_signer *signer = mcpauth_jws_signer_generate_es256(&err);
    ck_assert_ptr_nonnull(signer);
    mcpauth_jwks *jwks = public_set(signer);
    json_object *c = claims();
    /* Many signatures: some r or s values have leading zero bytes, which
     * the fixed-size encoding must keep. */
    for (int i = 0; i < 64; i++) {
        json_object_object_add(c, "jti", json_object_new_int(i));
        char *token = mcpauth_jws_sign(signer, "at+jwt", c, &err);
        ck_assert_ptr_nonnull(token);
        mcpauth_token_info info = {0};
        char reason[200] = "";
        ck_assert_msg(verify(token, jwks, &info, reason) == MCPAUTH_JWT_VERIFIED, "%s", reason);
        ck_assert_str_eq(info.subject, "alice");
        mcpauth_token_info_free(&info);
        free(token);
    }
    json_object_put(c);
    mcpauth_jwks_free(jwks);
    mcpauth_jws_signer_free(signer);
}
END_TEST

START_TEST(tampered_refused)
{
    mcpauth_error err = {0};
    mcpauth_jws_signer *signer = mcpauth_jws_signer_generate_es256(&err);
    mcpauth_jwks *jwks = public_set(signer);
    json_object *c = claims();
    char *token = mcpauth_jws_sign(signer, "at+jwt", c, &err);
    /* Flip one character of the signature. */
    char *last = token + strlen(token) - 5;
    *last = *last == 'A' ? 'B' : 'A';
    mcpauth_token_info info = {0};
    char reason[200] = "";
    ck_assert_int_eq(verify(token, jwks, &info, reason), MCPAUTH_JWT_INVALID);
    free(token);
    /* Another key's set does not verify this signer's tokens. */
    mcpauth_jws_signer *other = mcpauth_jws_signer_generate_es256(&err);
    token = mcpauth_jws_sign(other, "at+jwt", c, &err);
    ck_assert_int_ne(verify(token, jwks, &info, reason), MCPAUTH_JWT_VERIFIED);
    free(token);
    mcpauth_jws_signer_free(other);
    json_object_put(c);
    mcpauth_jwks_free(jwks);
    mcpauth_jws_signer_free(signer);
}
END_TEST

START_TEST(header_members)
{
    mcpauth_error err = {0};
    mcpauth_jws_signer *signer = mcpauth_jws_signer_generate_es256(&err);
    json_object *c = claims();
    char *token = mcpauth_jws_sign(signer, "at+jwt", c, &err);
    json_object *header = NULL, *payload = NULL;
    ck_assert_int_eq(mcpauth_jwt_decode(token, strlen(token), &header, &payload, &err), MCPAUTH_OK);
    ck_assert_str_eq(mcpauth_json_string(header, "alg"), "ES256");
    ck_assert_str_eq(mcpauth_json_string(header, "typ"), "at+jwt");
    ck_assert_str_eq(mcpauth_json_string(header, "kid"), mcpauth_jws_signer_kid(signer));
    ck_assert_str_eq(mcpauth_json_string(payload, "sub"), "alice");
    /* The signature segment is 64 bytes: 86 base64url characters. */
    ck_assert_uint_eq(strlen(strrchr(token, '.') + 1), 86);
    json_object_put(header);
    json_object_put(payload);
    json_object_put(c);
    free(token);
    mcpauth_jws_signer_free(signer);
}
END_TEST

/* RFC 7638 §3.2: the kid is SHA-256 of the canonical members. */
START_TEST(kid_is_thumbprint)
{
    mcpauth_error err = {0};
    mcpauth_jws_signer *signer = mcpauth_jws_signer_generate_es256(&err);
    json_object *jwk = mcpauth_jws_signer_public_jwk(signer);
    char canonical[300];
    snprintf(canonical, sizeof canonical,
             "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
             mcpauth_json_string(jwk, "x"), mcpauth_json_string(jwk, "y"));
    uint8_t digest[SHA256_DIGEST_SIZE];
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, strlen(canonical), (const uint8_t *)canonical);
    sha256_digest(&ctx, sizeof digest, digest);
    char *expected = mcpauth_base64url_encode(digest, sizeof digest);
    ck_assert_str_eq(mcpauth_jws_signer_kid(signer), expected);
    ck_assert_str_eq(mcpauth_json_string(jwk, "kid"), expected);
    ck_assert_ptr_null(mcpauth_json_string(jwk, "d"));
    free(expected);
    json_object_put(jwk);
    mcpauth_jws_signer_free(signer);
}
END_TEST

START_TEST(private_jwk_round_trip)
{
    mcpauth_error err = {0};
    mcpauth_jws_signer *signer = mcpauth_jws_signer_generate_es256(&err);
    json_object *priv = mcpauth_jws_signer_private_jwk(signer);
    ck_assert_ptr_nonnull(mcpauth_json_string(priv, "d"));
    mcpauth_jws_signer *again = mcpauth_jws_signer_from_jwk(priv, &err);
    ck_assert_msg(again != NULL, "%s", err.message);
    ck_assert_str_eq(mcpauth_jws_signer_kid(again), mcpauth_jws_signer_kid(signer));
    /* The restored key signs tokens the original's public key verifies. */
    mcpauth_jwks *jwks = public_set(signer);
    json_object *c = claims();
    char *token = mcpauth_jws_sign(again, "at+jwt", c, &err);
    mcpauth_token_info info = {0};
    char reason[200] = "";
    ck_assert_int_eq(verify(token, jwks, &info, reason), MCPAUTH_JWT_VERIFIED);
    mcpauth_token_info_free(&info);
    free(token);
    json_object_put(c);
    mcpauth_jwks_free(jwks);
    mcpauth_jws_signer_free(again);
    /* A JWK with a wrong d, or of another kind, is refused. */
    json_object_object_add(priv, "d", json_object_new_string("AAAA"));
    ck_assert_ptr_null(mcpauth_jws_signer_from_jwk(priv, &err));
    ck_assert_int_eq(err.status, MCPAUTH_ELOCAL);
    json_object_object_add(priv, "kty", json_object_new_string("RSA"));
    ck_assert_ptr_null(mcpauth_jws_signer_from_jwk(priv, &err));
    json_object_put(priv);
    mcpauth_jws_signer_free(signer);
}
END_TEST

static Suite *jose_sign_suite(void)
{
    Suite *s = suite_create("jose_sign");
    TCase *tc = tcase_create("es256");
    tcase_add_test(tc, sign_and_verify);
    tcase_add_test(tc, tampered_refused);
    tcase_add_test(tc, header_members);
    tcase_add_test(tc, kid_is_thumbprint);
    tcase_add_test(tc, private_jwk_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(jose_sign_suite());
}
