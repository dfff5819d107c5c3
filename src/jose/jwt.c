/* JWT access tokens (RFC 9068) verified with RFC 8725's hygiene: the
 * header is judged before any key is touched (alg on the allow-list, no
 * crit, typ at+jwt), the key is picked by kid and must be of the type the
 * alg needs, and only a good signature lets the claims be read. Embedded
 * or referenced keys ("jwk", "jku", "x5u", "x5c": RFC 8725 §3.10) are never
 * used: the only keys are the caller's set. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jose_internal.h"
#include "mcpauth/url.h"

void mcpauth_jwt_policy_init(mcpauth_jwt_policy *policy)
{
    memset(policy, 0, sizeof *policy);
    /* RFC 9068 §4 makes RS256 mandatory to support; the others are what
     * authorization servers commonly sign with. */
    policy->allowed[MCPAUTH_JWS_RS256] = true;
    policy->allowed[MCPAUTH_JWS_ES256] = true;
    policy->allowed[MCPAUTH_JWS_EDDSA] = true;
    /* RFC 9864 §2.2: the fully-specified name of EdDSA on Ed25519, which
     * authorization servers now sign with (oidc-provider 9 does). */
    policy->allowed[MCPAUTH_JWS_ED25519] = true;
    policy->allowed[MCPAUTH_JWS_PS256] = true;
    policy->typ_optional = false;
}

/* Where a verification stands: what failed, in one line for the caller. */
typedef struct verdict {
    mcpauth_jwt_outcome outcome;
    char *reason;
    size_t reason_size;
} verdict;

static bool refuse(verdict *v, mcpauth_jwt_outcome outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records why the token is refused; returns false for `return refuse(...)`. */
static bool refuse(verdict *v, mcpauth_jwt_outcome outcome, const char *fmt, ...)
{
    v->outcome = outcome;
    if (v->reason && v->reason_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->reason, v->reason_size, fmt, ap);
        va_end(ap);
    }
    return false;
}

typedef enum header_member {
    MEMBER_ABSENT,
    MEMBER_STRING,
    MEMBER_BAD, /* present but not a string, or holding a NUL */
} header_member;

static header_member header_string(json_object *header, const char *key, const char **text,
                                   size_t *length)
{
    json_object *value = NULL;
    if (!json_object_object_get_ex(header, key, &value))
        return MEMBER_ABSENT;
    if (!json_object_is_type(value, json_type_string))
        return MEMBER_BAD;
    *text = json_object_get_string(value);
    *length = (size_t)json_object_get_string_len(value);
    /* "RS256\u0000x" must not pass for RS256. */
    return strlen(*text) == *length ? MEMBER_STRING : MEMBER_BAD;
}

/* RFC 7515 §4.1.1 and RFC 8725 §3.1: the algorithm comes from the header
 * but only from the allow-list; "none" and the HMAC family are never on it
 * (there is no enum value for them), so a token "signed" with the RSA
 * public key's bytes as an HMAC key is refused by name. */
static bool check_alg(json_object *header, const mcpauth_jwt_policy *policy, mcpauth_jws_alg *alg,
                      verdict *v)
{
    const char *text = NULL;
    size_t length = 0;
    char shown[MCPAUTH_URL_QUOTE_SIZE];
    switch (header_string(header, "alg", &text, &length)) {
    case MEMBER_ABSENT:
        return refuse(v, MCPAUTH_JWT_INVALID, "no alg in the JWT header (RFC 7515 §4.1.1)");
    case MEMBER_BAD:
        return refuse(v, MCPAUTH_JWT_INVALID, "alg is not a string");
    case MEMBER_STRING:
        break;
    }
    if (!mcpauth_jws_alg_parse(text, alg) || !policy->allowed[*alg])
        return refuse(v, MCPAUTH_JWT_INVALID, "alg %s not allowed",
                      mcpauth__jose_show(text, length, shown));
    return true;
}

/* RFC 7515 §4.1.9: a typ without '/' stands for "application/" + typ, and
 * media types compare case-insensitively (RFC 2045 §5.1). */
static bool typ_is(const char *typ, size_t length, const char *subtype)
{
    static const char prefix[] = "application/";
    if (length >= sizeof prefix - 1 && strncasecmp(typ, prefix, sizeof prefix - 1) == 0) {
        typ += sizeof prefix - 1;
        length -= sizeof prefix - 1;
    }
    return length == strlen(subtype) && strncasecmp(typ, subtype, length) == 0;
}

/* RFC 9068 §2.1 and §4: access tokens say typ "at+jwt", which keeps ID
 * tokens ("JWT") and other JWTs from the same issuer from passing for
 * them (RFC 8725 §3.11). Servers without the RFC 9068 profile (Keycloak,
 * Auth0's default one) send none or the generic "JWT" (RFC 7519 §5.1),
 * which names no kind of token; the policy may accept those two, but never
 * another explicit type (dpop+jwt, logout+jwt, ...). */
static bool check_typ(json_object *header, const mcpauth_jwt_policy *policy, verdict *v)
{
    const char *text = NULL;
    size_t length = 0;
    char shown[MCPAUTH_URL_QUOTE_SIZE];
    switch (header_string(header, "typ", &text, &length)) {
    case MEMBER_ABSENT:
        if (policy->typ_optional)
            return true;
        return refuse(v, MCPAUTH_JWT_INVALID,
                      "no typ in the JWT header, not at+jwt (RFC 9068 §2.1)");
    case MEMBER_BAD:
        return refuse(v, MCPAUTH_JWT_INVALID, "typ is not a string");
    case MEMBER_STRING:
        break;
    }
    if (typ_is(text, length, "at+jwt"))
        return true;
    if (policy->typ_optional && typ_is(text, length, "jwt"))
        return true;
    return refuse(v, MCPAUTH_JWT_INVALID, "typ %s is not at+jwt",
                  mcpauth__jose_show(text, length, shown));
    return true;
}

static bool check_header(json_object *header, const mcpauth_jwt_policy *policy,
                         mcpauth_jws_alg *alg, verdict *v)
{
    if (!check_alg(header, policy, alg, v))
        return false;
    /* RFC 7515 §4.1.11: a recipient MUST reject a JWS whose crit names an
     * extension it does not understand, and we understand none. */
    if (json_object_object_get_ex(header, "crit", NULL))
        return refuse(v, MCPAUTH_JWT_INVALID, "crit header not supported (RFC 7515 §4.1.11)");
    return check_typ(header, policy, v);
}

/* A key picked by kid must still fit alg: RFC 8725 §3.1, a key is used
 * only with the algorithm it was made for. */
static bool key_fits(const mcpauth__jwk *key, mcpauth_jws_alg alg, verdict *v)
{
    char shown[MCPAUTH_URL_QUOTE_SIZE];
    const char *name = mcpauth_jws_alg_name(alg);
    if (!mcpauth__alg_takes_key_type(alg, key->type))
        return refuse(v, MCPAUTH_JWT_INVALID, "key %s is %s, not for %s",
                      mcpauth__jose_show(key->kid, strlen(key->kid), shown),
                      mcpauth__key_type_name(key->type), name);
    if (!mcpauth__jwk_fits(key, alg))
        return refuse(v, MCPAUTH_JWT_INVALID, "key %s is for %s, not %s",
                      mcpauth__jose_show(key->kid, strlen(key->kid), shown),
                      mcpauth_jws_alg_name(key->alg), name);
    return true;
}

/* RFC 7515 §4.1.4: kid names the key. Without one, the set's only key that
 * fits alg is used; with several, guessing would let any of them sign. */
static const mcpauth__jwk *select_key(json_object *header, const mcpauth_jwks *jwks,
                                      mcpauth_jws_alg alg, verdict *v)
{
    const char *kid = NULL;
    size_t length = 0;
    char shown[MCPAUTH_URL_QUOTE_SIZE];
    switch (header_string(header, "kid", &kid, &length)) {
    case MEMBER_BAD:
        refuse(v, MCPAUTH_JWT_INVALID, "kid is not a string");
        return NULL;
    case MEMBER_STRING: {
        const mcpauth__jwk *key = mcpauth__jwks_find(jwks, kid, length);
        if (!key) {
            refuse(v, MCPAUTH_JWT_UNKNOWN_KEY, "no key with kid %s",
                   mcpauth__jose_show(kid, length, shown));
            return NULL;
        }
        return key_fits(key, alg, v) ? key : NULL;
    }
    case MEMBER_ABSENT:
        break;
    }
    const mcpauth__jwk *only = NULL;
    size_t fitting = 0;
    for (size_t i = 0; i < jwks->count; i++) {
        if (mcpauth__jwk_fits(&jwks->keys[i], alg)) {
            only = &jwks->keys[i];
            fitting++;
        }
    }
    if (fitting == 1)
        return only;
    refuse(v, MCPAUTH_JWT_INVALID, "no kid and %s keys for %s", fitting ? "several" : "no",
           mcpauth_jws_alg_name(alg));
    return NULL;
}

/* Everything after the header checks: key, signature, claims. */
static bool verify_parsed(const mcpauth__jws *jws, const mcpauth_jwks *jwks,
                          const mcpauth_jwt_policy *policy, mcpauth_token_info *info, verdict *v)
{
    mcpauth_jws_alg alg;
    if (!check_header(jws->header, policy, &alg, v))
        return false;
    const mcpauth__jwk *key = select_key(jws->header, jwks, alg, v);
    if (!key)
        return false;

    mcpauth_error err = {0};
    if (mcpauth__jws_verify(jws, alg, key, &err) != MCPAUTH_OK)
        return refuse(v, MCPAUTH_JWT_INVALID, "%s", err.message);

    /* Only a verified payload is parsed. */
    json_object *claims = mcpauth__jws_payload(jws, &err);
    if (!claims)
        return refuse(v, MCPAUTH_JWT_INVALID, "%s", err.message);
    mcpauth_status status = mcpauth_token_info_from_claims(claims, info, &err);
    json_object_put(claims);
    if (status != MCPAUTH_OK)
        return refuse(v, MCPAUTH_JWT_INVALID, "%s", err.message);
    return true;
}

mcpauth_jwt_outcome mcpauth_jwt_verify(const char *token, size_t length, const mcpauth_jwks *jwks,
                                       const mcpauth_jwt_policy *policy, mcpauth_token_info *info,
                                       char *reason, size_t reason_size)
{
    verdict v = {MCPAUTH_JWT_INVALID, reason, reason_size};
    if (reason && reason_size > 0)
        reason[0] = '\0';
    if (info)
        memset(info, 0, sizeof *info);
    if (!jwks || !policy || !info) {
        refuse(&v, MCPAUTH_JWT_INVALID, "no keys or policy to verify with");
        return v.outcome;
    }

    mcpauth_error err = {0};
    mcpauth__jws jws;
    if (mcpauth__jws_parse(token, length, &jws, &err) != MCPAUTH_OK)
        refuse(&v, MCPAUTH_JWT_INVALID, "%s", err.message);
    else if (verify_parsed(&jws, jwks, policy, info, &v))
        v.outcome = MCPAUTH_JWT_VERIFIED;
    mcpauth__jws_free(&jws);
    return v.outcome;
}

mcpauth_status mcpauth_jwt_decode(const char *token, size_t length, json_object **header,
                                  json_object **payload, mcpauth_error *err)
{
    mcpauth_error local;
    if (!err)
        err = &local;
    *header = NULL;
    *payload = NULL;
    mcpauth__jws jws;
    mcpauth_status status = mcpauth__jws_parse(token, length, &jws, err);
    if (status == MCPAUTH_OK) {
        *payload = mcpauth__jws_payload(&jws, err);
        if (*payload) {
            *header = jws.header;
            jws.header = NULL;
        } else {
            status = err->status;
        }
    }
    mcpauth__jws_free(&jws);
    return status;
}

bool mcpauth_jwt_typ_is_at_jwt(json_object *header)
{
    const char *text = NULL;
    size_t length = 0;
    return header_string(header, "typ", &text, &length) == MEMBER_STRING &&
           typ_is(text, length, "at+jwt");
}

json_object *mcpauth_jwt_missing_claims(json_object *claims)
{
    /* RFC 9068 §2.2: the claims every JWT access token carries. */
    static const char *const required[] = {"iss", "exp", "aud", "sub", "client_id", "iat", "jti"};
    json_object *missing = json_object_new_array();
    for (size_t i = 0; missing && i < sizeof required / sizeof required[0]; i++) {
        if (!json_object_object_get_ex(claims, required[i], NULL))
            json_object_array_add(missing, json_object_new_string(required[i]));
    }
    return missing;
}
