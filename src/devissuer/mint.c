/* Issuing tokens at the development issuer: the access token as an RFC
 * 9068 JWT signed with the issuer's ES256 key, or as an opaque random
 * string; a refresh token when the grant allows one; every token recorded
 * by hash so that introspection and revocation can find it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devissuer_internal.h"
#include "mcpauth/secret.h"

static char *sign_jwt(const mcpauth_devissuer *dev, const mcpauth__devissuer_grant *g,
                      const char *jti, int64_t now)
{
    /* RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti, and scope. */
    json_object *claims = json_object_new_object();
    json_object_object_add(claims, "iss", json_object_new_string(dev->config->issuer));
    json_object_object_add(claims, "sub", json_object_new_string(g->subject));
    json_object_object_add(claims, "aud", json_object_new_string(g->resource));
    json_object_object_add(claims, "client_id", json_object_new_string(g->client_id));
    json_object_object_add(claims, "scope", json_object_new_string(g->scope));
    json_object_object_add(claims, "iat", json_object_new_int64(now));
    json_object_object_add(claims, "exp",
                           json_object_new_int64(now + dev->config->access_lifetime_seconds));
    json_object_object_add(claims, "jti", json_object_new_string(jti));
    if (g->username)
        json_object_object_add(claims, "username", json_object_new_string(g->username));
    mcpauth_error err = {0};
    char *token = mcpauth_jws_sign(dev->signer, "at+jwt", claims, &err);
    json_object_put(claims);
    return token;
}

/* Records token (by hash) with the grant's facts. */
static bool record(mcpauth_devissuer *dev, const mcpauth__devissuer_grant *g,
                   mcpauth__devissuer_token_kind kind, const char *token, const char *jti,
                   int64_t now, int64_t lifetime)
{
    mcpauth__devissuer_token t = {.kind = kind, .issued_at = now, .expires_at = now + lifetime};
    mcpauth__devissuer_hash(token, t.hash);
    snprintf(t.grant, sizeof t.grant, "%s", g->grant);
    snprintf(t.client_id, sizeof t.client_id, "%s", g->client_id);
    snprintf(t.jti, sizeof t.jti, "%s", jti);
    t.subject = strdup(g->subject);
    t.username = g->username ? strdup(g->username) : NULL;
    t.scope = strdup(g->scope);
    t.resource = strdup(g->resource);
    if (!t.subject || !t.scope || !t.resource || (g->username && !t.username)) {
        mcpauth__devissuer_token_clear(&t);
        return false;
    }
    return mcpauth__devissuer_token_add(&dev->store, &t, now) != NULL;
}

void mcpauth__devissuer_mint_respond(mcpauth_devissuer *dev, const mcpauth__devissuer_grant *g,
                                     int64_t now, mcpauth_devissuer_response *resp)
{
    const mcpauth_devissuer_config *c = dev->config;
    char *jti_source = mcpauth__devissuer_random_secret();
    char jti[32] = "";
    if (jti_source)
        snprintf(jti, sizeof jti, "%.22s", jti_source);
    mcpauth_secret_free(jti_source);
    char *access = !jti[0]                                    ? NULL
                   : c->token_format == MCPAUTH_DEVISSUER_JWT ? sign_jwt(dev, g, jti, now)
                                                              : mcpauth__devissuer_random_secret();
    char *refresh = g->with_refresh ? mcpauth__devissuer_random_secret() : NULL;
    bool ok = access && (refresh || !g->with_refresh) &&
              record(dev, g, MCPAUTH__DEVISSUER_TOKEN_ACCESS, access, jti, now,
                     c->access_lifetime_seconds) &&
              (!refresh || record(dev, g, MCPAUTH__DEVISSUER_TOKEN_REFRESH, refresh, jti, now,
                                  c->refresh_lifetime_seconds));
    if (!ok) {
        mcpauth__devissuer_respond_error(resp, 500, "server_error", "cannot issue a token");
    } else {
        /* RFC 6749 §5.1. */
        json_object *doc = json_object_new_object();
        json_object_object_add(doc, "access_token", json_object_new_string(access));
        json_object_object_add(doc, "token_type", json_object_new_string("Bearer"));
        json_object_object_add(doc, "expires_in",
                               json_object_new_int64(c->access_lifetime_seconds));
        json_object_object_add(doc, "scope", json_object_new_string(g->scope));
        if (refresh)
            json_object_object_add(doc, "refresh_token", json_object_new_string(refresh));
        mcpauth__devissuer_add_field(resp, "Pragma", "no-cache");
        mcpauth__devissuer_respond_json(resp, 200, doc);
    }
    mcpauth_secret_free(access);
    mcpauth_secret_free(refresh);
}
