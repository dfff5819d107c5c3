/* JOSE (src/jose/): JWK Set parsing, JWT decoding and verification
 * (RFC 7515/7519/8725/9068), and the claim reading and checks every
 * validation path shares (src/token/). Input: a JWK Set, a token, and a
 * JSON payload, separated by \x01. The token is verified against the given
 * set; the payload is signed with a key made at start and verified against
 * that key's set, which must never answer "unknown key". */
#include <stdbool.h>

#include "fuzz.h"
#include "mcpauth/jose.h"
#include "mcpauth/json.h"
#include "mcpauth/token.h"

static mcpauth_jws_signer *signer;
static mcpauth_jwks *signer_jwks;

static void make_signer(void)
{
    mcpauth_error err;
    signer = mcpauth_jws_signer_generate_es256(&err);
    if (!signer)
        abort();
    json_object *set = json_object_new_object();
    json_object *keys = json_object_new_array();
    json_object_array_add(keys, mcpauth_jws_signer_public_jwk(signer));
    json_object_object_add(set, "keys", keys);
    size_t length;
    const char *text = json_object_to_json_string_length(set, JSON_C_TO_STRING_PLAIN, &length);
    if (mcpauth_jwks_parse(text, length, &signer_jwks, &err) != MCPAUTH_OK)
        abort();
    json_object_put(set);
}

static void check_claims(const mcpauth_token_info *info)
{
    static const char *const audiences[] = {"https://rs.example/mcp"};
    static const char *const scopes[] = {"mcp"};
    mcpauth_token_policy policy = {
        .issuer = "https://as.example",
        .audiences = audiences,
        .audience_count = 1,
        .required_scopes = scopes,
        .required_scope_count = 1,
        .leeway_seconds = 60,
        .require_expiry = true,
    };
    char reason[256] = "";
    (void)mcpauth_token_check(&policy, info, 1765000000, reason, sizeof reason);
    mcpauth_token_info copy;
    if (mcpauth_token_info_copy(info, &copy))
        mcpauth_token_info_free(&copy);
}

static void verify(const char *token, size_t length, const mcpauth_jwks *jwks, bool typ_optional,
                   mcpauth_jwt_outcome *outcome)
{
    mcpauth_jwt_policy policy;
    mcpauth_jwt_policy_init(&policy);
    policy.typ_optional = typ_optional;
    mcpauth_token_info info = {0};
    char reason[256] = "";
    *outcome = mcpauth_jwt_verify(token, length, jwks, &policy, &info, reason, sizeof reason);
    if (*outcome != MCPAUTH_JWT_VERIFIED && (!reason[0] || strlen(reason) >= sizeof reason))
        abort(); /* a refusal says why */
    if (*outcome == MCPAUTH_JWT_VERIFIED) {
        /* What verifies has the shape of a JWS and decodes. */
        json_object *header = NULL, *payload = NULL;
        mcpauth_error err;
        if (!mcpauth_jwt_looks_like(token, length) ||
            mcpauth_jwt_decode(token, length, &header, &payload, &err) != MCPAUTH_OK ||
            !(policy.typ_optional || mcpauth_jwt_typ_is_at_jwt(header)))
            abort();
        json_object_put(header);
        json_object_put(payload);
        check_claims(&info);
        mcpauth_token_info_free(&info);
    }
}

static void decode(const char *token, size_t length)
{
    json_object *header = NULL, *payload = NULL;
    mcpauth_error err;
    (void)mcpauth_jwt_looks_like(token, length);
    if (mcpauth_jwt_decode(token, length, &header, &payload, &err) != MCPAUTH_OK)
        return;
    (void)mcpauth_jwt_typ_is_at_jwt(header);
    json_object_put(mcpauth_jwt_missing_claims(payload));
    mcpauth_token_info info = {0};
    if (mcpauth_token_info_from_claims(payload, &info, &err) == MCPAUTH_OK) {
        check_claims(&info);
        mcpauth_token_info_free(&info);
    }
    if (mcpauth_token_info_from_json(payload, &info, &err) == MCPAUTH_OK)
        mcpauth_token_info_free(&info);
    json_object_put(header);
    json_object_put(payload);
}

static void sign_and_verify(const char *text, size_t length, bool typ_optional)
{
    json_object *payload = mcpauth_json_parse_object(text, length, "payload", NULL);
    if (!payload)
        return;
    mcpauth_error err;
    char *token = mcpauth_jws_sign(signer, typ_optional ? NULL : "at+jwt", payload, &err);
    json_object_put(payload);
    if (!token)
        return;
    mcpauth_jwt_outcome outcome;
    verify(token, strlen(token), signer_jwks, typ_optional, &outcome);
    if (outcome == MCPAUTH_JWT_UNKNOWN_KEY)
        abort();
    free(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!signer)
        make_signer();
    fuzz_pieces in;
    fuzz_split(data, size, 3, &in);
    bool typ_optional = size > 0 && (data[size - 1] & 1);
    mcpauth_error err;
    mcpauth_jwks *jwks = NULL;
    if (mcpauth_jwks_parse(in.piece[0], in.length[0], &jwks, &err) == MCPAUTH_OK) {
        if (mcpauth_jwks_count(jwks) == 0)
            abort(); /* a set without a usable key is refused */
        mcpauth_jwt_outcome outcome;
        verify(in.piece[1], in.length[1], jwks, typ_optional, &outcome);
        mcpauth_jwks_free(jwks);
    }
    mcpauth_jwt_outcome outcome;
    verify(in.piece[1], in.length[1], signer_jwks, typ_optional, &outcome);
    decode(in.piece[1], in.length[1]);
    sign_and_verify(in.piece[2], in.length[2], typ_optional);
    mcpauth_jws_alg alg;
    (void)mcpauth_jws_alg_parse(in.piece[0], &alg);
    fuzz_pieces_free(&in);
    return 0;
}
