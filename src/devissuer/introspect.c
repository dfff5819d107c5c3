/* Token introspection (RFC 7662) and revocation (RFC 7009) at the
 * development issuer. Both look the token up by hash among those it
 * issued, so JWT and opaque access tokens (and refresh tokens) are treated
 * alike. */
#include <stdlib.h>
#include <string.h>

#include "devissuer_internal.h"

/* RFC 7662 §2.2. */
static json_object *active_response(const mcpauth_devissuer *dev, const mcpauth__devissuer_token *t)
{
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "active", json_object_new_boolean(1));
    json_object_object_add(doc, "scope", json_object_new_string(t->scope));
    json_object_object_add(doc, "client_id", json_object_new_string(t->client_id));
    if (t->username)
        json_object_object_add(doc, "username", json_object_new_string(t->username));
    json_object_object_add(doc, "token_type",
                           json_object_new_string(t->kind == MCPAUTH__DEVISSUER_TOKEN_ACCESS
                                                      ? "Bearer"
                                                      : "refresh_token"));
    json_object_object_add(doc, "exp", json_object_new_int64(t->expires_at));
    json_object_object_add(doc, "iat", json_object_new_int64(t->issued_at));
    json_object_object_add(doc, "sub", json_object_new_string(t->subject));
    json_object_object_add(doc, "aud", json_object_new_string(t->resource));
    json_object_object_add(doc, "iss", json_object_new_string(dev->config->issuer));
    json_object_object_add(doc, "jti", json_object_new_string(t->jti));
    return doc;
}

void mcpauth__devissuer_handle_introspect(mcpauth_devissuer *dev,
                                          const mcpauth_devissuer_request *req,
                                          mcpauth_devissuer_response *resp)
{
    mcpauth_form form;
    if (!mcpauth__devissuer_parse_body_form(req, &form, resp)) {
        mcpauth_form_free(&form);
        return;
    }
    /* RFC 7662 §2.1: the caller must be authorized; here, any confidential
     * client. */
    mcpauth__devissuer_client document = {0};
    if (mcpauth__devissuer_authenticate_client(dev, req, &form, true, &document, resp)) {
        const char *token = mcpauth_form_get(&form, "token");
        mcpauth__devissuer_token *t =
            token ? mcpauth__devissuer_token_find(&dev->store, token) : NULL;
        if (!token) {
            mcpauth__devissuer_respond_error(resp, 400, "invalid_request", "token is required");
        } else if (t && !t->rotated && t->expires_at > req->now) {
            mcpauth__devissuer_respond_json(resp, 200, active_response(dev, t));
        } else {
            json_object *doc = json_object_new_object();
            json_object_object_add(doc, "active", json_object_new_boolean(0));
            mcpauth__devissuer_respond_json(resp, 200, doc);
        }
    }
    mcpauth__devissuer_cimd_release(&document);
    mcpauth_form_free(&form);
}

void mcpauth__devissuer_handle_revoke(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                                      mcpauth_devissuer_response *resp)
{
    mcpauth_form form;
    if (!mcpauth__devissuer_parse_body_form(req, &form, resp)) {
        mcpauth_form_free(&form);
        return;
    }
    mcpauth__devissuer_client document = {0};
    mcpauth__devissuer_client *client =
        mcpauth__devissuer_authenticate_client(dev, req, &form, false, &document, resp);
    const char *token = mcpauth_form_get(&form, "token");
    if (client && !token) {
        mcpauth__devissuer_respond_error(resp, 400, "invalid_request", "token is required");
    } else if (client) {
        mcpauth__devissuer_token *t = mcpauth__devissuer_token_find(&dev->store, token);
        /* RFC 7009 §2.1: only the client's own tokens; revoking a refresh
         * token ends its whole grant. An unknown token is still 200. */
        if (t && strcmp(t->client_id, client->id) == 0) {
            if (t->kind == MCPAUTH__DEVISSUER_TOKEN_REFRESH) {
                char grant[MCPAUTH__DEVISSUER_HASH_SIZE];
                memcpy(grant, t->grant, sizeof grant);
                mcpauth__devissuer_token_revoke_grant(&dev->store, grant);
            } else {
                mcpauth__devissuer_token_remove(&dev->store, t);
            }
        }
        resp->status = 200;
    }
    mcpauth__devissuer_cimd_release(&document);
    mcpauth_form_free(&form);
}
