/* The token endpoint (OAuth 2.1 §3.2) of the development issuer and its
 * three grants: authorization_code (single-use, short-lived codes, PKCE
 * S256 verified, redirect URI and resource bound to the authorization),
 * refresh_token (rotated on every use: the old one stops working), and
 * client_credentials (confidential clients; the client is the subject). */
#include <stdlib.h>
#include <string.h>

#include "devissuer_internal.h"
#include "mcpauth/pkce.h"
#include "mcpauth/secret.h"

/* RFC 8707 §2.2: a resource at the token endpoint must be the granted
 * one. granted is what the authorization (or refresh token) carries. */
static bool resource_ok(const char *requested, const char *granted)
{
    return !requested || strcmp(requested, granted) == 0;
}

/* RFC 6749 §6: a narrower scope may be asked for on refresh. */
static bool scope_within(const char *requested, const char *granted)
{
    for (const char *p = requested; *p;) {
        size_t n = strcspn(p, " ");
        bool found = false;
        for (const char *g = granted; *g && !found;) {
            size_t m = strcspn(g, " ");
            found = m == n && strncmp(p, g, n) == 0;
            g += m + (g[m] == ' ');
        }
        if (n == 0 || !found)
            return false;
        p += n + (p[n] == ' ');
    }
    return true;
}

static bool pkce_matches(const char *verifier, const char *challenge)
{
    char computed[MCPAUTH_PKCE_CHALLENGE_LENGTH + 1];
    mcpauth_error err = {0};
    return mcpauth_pkce_verifier_valid(verifier) &&
           mcpauth_pkce_challenge_s256(verifier, computed, &err) == MCPAUTH_OK &&
           mcpauth_secret_equal(computed, challenge);
}

static void authorization_code(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                               const mcpauth_form *form, const mcpauth__devissuer_client *client,
                               mcpauth_devissuer_response *resp)
{
    const char *code = mcpauth_form_get(form, "code");
    const char *verifier = mcpauth_form_get(form, "code_verifier");
    const char *redirect_uri = mcpauth_form_get(form, "redirect_uri");
    if (!code || !verifier) {
        mcpauth__devissuer_respond_error(resp, 400, "invalid_request",
                                         !code ? "code is required"
                                               : "code_verifier is required (PKCE)");
        return;
    }
    mcpauth__devissuer_authz *a =
        mcpauth__devissuer_authz_find(&dev->store, MCPAUTH__DEVISSUER_AUTHZ_CODE, code);
    if (a && a->used) {
        /* RFC 6749 §4.1.2: a code used twice revokes what it gave. */
        mcpauth__devissuer_token_revoke_grant(&dev->store, a->hash);
        mcpauth__devissuer_respond_error(resp, 400, "invalid_grant", "the code was already used");
        return;
    }
    const char *problem = NULL;
    if (!a || strcmp(a->client_id, client->id) != 0)
        problem = "unknown code";
    else if (a->expires_at <= req->now)
        problem = "the code has expired";
    else if ((a->redirect_given || redirect_uri) &&
             (!redirect_uri || strcmp(redirect_uri, a->redirect_uri) != 0))
        problem = "redirect_uri differs from the authorization request's";
    else if (!pkce_matches(verifier, a->challenge))
        problem = "code_verifier does not match the code_challenge (PKCE)";
    if (problem) {
        mcpauth__devissuer_respond_error(resp, 400, "invalid_grant", problem);
        return;
    }
    if (!resource_ok(mcpauth_form_get(form, "resource"), a->resource)) {
        mcpauth__devissuer_respond_error(resp, 400, "invalid_target",
                                         "resource differs from the authorized one");
        return;
    }
    a->used = true;
    mcpauth__devissuer_grant g = {
        .grant = a->hash,
        .client_id = client->id,
        .subject = dev->config->user,
        .username = dev->config->user,
        .scope = a->scope,
        .resource = a->resource,
        .with_refresh = mcpauth__devissuer_client_has(client, "grant_types", "refresh_token"),
    };
    mcpauth__devissuer_mint_respond(dev, &g, req->now, resp);
}

static void refresh_token(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                          const mcpauth_form *form, const mcpauth__devissuer_client *client,
                          mcpauth_devissuer_response *resp)
{
    const char *token = mcpauth_form_get(form, "refresh_token");
    const char *scope = mcpauth_form_get(form, "scope");
    if (!token) {
        mcpauth__devissuer_respond_error(resp, 400, "invalid_request", "refresh_token is required");
        return;
    }
    if (!mcpauth__devissuer_client_has(client, "grant_types", "refresh_token")) {
        mcpauth__devissuer_respond_error(resp, 400, "unauthorized_client",
                                         "the client did not register the refresh_token grant");
        return;
    }
    mcpauth__devissuer_token *t = mcpauth__devissuer_token_find(&dev->store, token);
    if (!t || t->kind != MCPAUTH__DEVISSUER_TOKEN_REFRESH ||
        strcmp(t->client_id, client->id) != 0 || t->expires_at <= req->now) {
        mcpauth__devissuer_respond_error(resp, 400, "invalid_grant",
                                         "unknown or expired refresh token");
        return;
    }
    if (t->rotated) {
        /* RFC 9700 §4.14.2: a rotated refresh token used again means one
         * of two parties has a stolen copy; end the whole grant. */
        char grant[MCPAUTH__DEVISSUER_HASH_SIZE];
        memcpy(grant, t->grant, sizeof grant);
        mcpauth__devissuer_token_revoke_grant(&dev->store, grant);
        mcpauth__devissuer_respond_error(resp, 400, "invalid_grant",
                                         "the refresh token was already used");
        return;
    }
    if (scope && !scope_within(scope, t->scope)) {
        mcpauth__devissuer_respond_error(resp, 400, "invalid_scope",
                                         "scope exceeds the original grant");
        return;
    }
    if (!resource_ok(mcpauth_form_get(form, "resource"), t->resource)) {
        mcpauth__devissuer_respond_error(resp, 400, "invalid_target",
                                         "resource differs from the granted one");
        return;
    }
    /* OAuth 2.1 §4.3.1: refresh tokens rotate (ours always do). The old one
     * stays, marked, until it expires, so that a replay is recognised.
     * Copies: minting may move the table's entries. */
    char grant[MCPAUTH__DEVISSUER_HASH_SIZE];
    memcpy(grant, t->grant, sizeof grant);
    char *subject = strdup(t->subject), *username = t->username ? strdup(t->username) : NULL;
    char *granted = strdup(scope ? scope : t->scope), *resource = strdup(t->resource);
    t->rotated = true;
    mcpauth__devissuer_grant g = {
        .grant = grant,
        .client_id = client->id,
        .subject = subject,
        .username = username,
        .scope = granted,
        .resource = resource,
        .with_refresh = true,
    };
    if (subject && granted && resource && (username || !t->username))
        mcpauth__devissuer_mint_respond(dev, &g, req->now, resp);
    else
        mcpauth__devissuer_respond_error(resp, 500, "server_error", "out of memory");
    free(subject);
    free(username);
    free(granted);
    free(resource);
}

static void client_credentials(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                               const mcpauth_form *form, const mcpauth__devissuer_client *client,
                               mcpauth_devissuer_response *resp)
{
    if (!client->secret_hash[0] ||
        !mcpauth__devissuer_client_has(client, "grant_types", "client_credentials")) {
        mcpauth__devissuer_respond_error(
            resp, 400, "unauthorized_client",
            "the client did not register the client_credentials grant");
        return;
    }
    const char *resource = mcpauth_form_get(form, "resource");
    if (!mcpauth__devissuer_resource_known(dev, resource)) {
        mcpauth__devissuer_respond_error(resp, 400, "invalid_target",
                                         resource ? "unknown resource (RFC 8707)"
                                                  : "resource is required");
        return;
    }
    char *scope = mcpauth__devissuer_scope_grant(dev, mcpauth_form_get(form, "scope"));
    if (!scope) {
        mcpauth__devissuer_respond_error(resp, 400, "invalid_scope",
                                         "a requested scope is not supported");
        return;
    }
    char grant[MCPAUTH__DEVISSUER_HASH_SIZE];
    mcpauth__devissuer_hash(client->id, grant);
    mcpauth__devissuer_grant g = {
        .grant = grant,
        .client_id = client->id,
        .subject = client->id,
        .scope = scope,
        .resource = dev->config->resource,
    };
    mcpauth__devissuer_mint_respond(dev, &g, req->now, resp);
    free(scope);
}

void mcpauth__devissuer_handle_token(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                                     mcpauth_devissuer_response *resp)
{
    mcpauth_form form;
    if (!mcpauth__devissuer_parse_body_form(req, &form, resp)) {
        mcpauth_form_free(&form);
        return;
    }
    const char *grant_type = mcpauth_form_get(&form, "grant_type");
    mcpauth__devissuer_client *client = NULL, document = {0};
    if (!grant_type)
        mcpauth__devissuer_respond_error(resp, 400, "invalid_request", "grant_type is required");
    else if (!(client =
                   mcpauth__devissuer_authenticate_client(dev, req, &form, false, &document, resp)))
        ;
    else if (strcmp(grant_type, "authorization_code") == 0)
        authorization_code(dev, req, &form, client, resp);
    else if (strcmp(grant_type, "refresh_token") == 0)
        refresh_token(dev, req, &form, client, resp);
    else if (strcmp(grant_type, "client_credentials") == 0)
        client_credentials(dev, req, &form, client, resp);
    else
        mcpauth__devissuer_respond_error(resp, 400, "unsupported_grant_type",
                                         "grant_type must be authorization_code, refresh_token or "
                                         "client_credentials");
    mcpauth__devissuer_cimd_release(&document);
    mcpauth_form_free(&form);
}
