/* What the development issuer publishes about itself: the RFC 8414
 * authorization server metadata and its JWK Set, built once at start. */
#include <stdlib.h>
#include <string.h>

#include "devissuer_internal.h"
#include "mcpauth/json.h"
#include "mcpauth/strbuf.h"

static json_object *strings(const char *const *items, size_t count)
{
    json_object *array = json_object_new_array();
    for (size_t i = 0; array && i < count; i++)
        json_object_array_add(array, json_object_new_string(items[i]));
    return array;
}

static void add_endpoint(json_object *doc, const char *issuer, const char *name, const char *path)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appendf(&sb, "%s%s", issuer, path);
    char *url = mcpauth_strbuf_detach(&sb);
    if (url)
        json_object_object_add(doc, name, json_object_new_string(url));
    free(url);
}

static char *metadata_document(const mcpauth_devissuer *dev)
{
    static const char *const grants[] = {"authorization_code", "refresh_token",
                                         "client_credentials"};
    static const char *const auth_methods[] = {"none", "client_secret_basic", "client_secret_post"};
    static const char *const confidential[] = {"client_secret_basic", "client_secret_post"};
    static const char *const code[] = {"code"}, *const s256[] = {"S256"};
    static const char *const es256[] = {"ES256"};
    const char *issuer = dev->config->issuer;
    json_object *doc = json_object_new_object();
    if (!doc)
        return NULL;
    /* RFC 8414 §2; §3.3: issuer is exactly the URL the metadata was built
     * from. */
    json_object_object_add(doc, "issuer", json_object_new_string(issuer));
    add_endpoint(doc, issuer, "authorization_endpoint", "/authorize");
    add_endpoint(doc, issuer, "token_endpoint", "/token");
    add_endpoint(doc, issuer, "registration_endpoint", "/register");
    add_endpoint(doc, issuer, "introspection_endpoint", "/introspect");
    add_endpoint(doc, issuer, "revocation_endpoint", "/revoke");
    add_endpoint(doc, issuer, "jwks_uri", "/jwks");
    json_object_object_add(doc, "scopes_supported",
                           strings(dev->config->scopes, dev->config->scope_count));
    json_object_object_add(doc, "response_types_supported", strings(code, 1));
    json_object_object_add(doc, "grant_types_supported", strings(grants, 3));
    json_object_object_add(doc, "token_endpoint_auth_methods_supported", strings(auth_methods, 3));
    json_object_object_add(doc, "introspection_endpoint_auth_methods_supported",
                           strings(confidential, 2));
    json_object_object_add(doc, "revocation_endpoint_auth_methods_supported",
                           strings(auth_methods, 3));
    /* MCP requires S256 and clients refuse to go on without this member. */
    json_object_object_add(doc, "code_challenge_methods_supported", strings(s256, 1));
    json_object_object_add(doc, "authorization_response_iss_parameter_supported",
                           json_object_new_boolean(1));
    /* MCP authorization §Advertising CIMD Support: an https URL may be the
     * client id (cimd.c). */
    json_object_object_add(doc, "client_id_metadata_document_supported",
                           json_object_new_boolean(1));
    if (dev->config->token_format == MCPAUTH_DEVISSUER_JWT)
        json_object_object_add(doc, "access_token_signing_alg_values_supported", strings(es256, 1));
    const char *text = mcpauth_json_compact(doc);
    char *copy = text ? strdup(text) : NULL;
    json_object_put(doc);
    return copy;
}

static char *jwks_document(const mcpauth_devissuer *dev)
{
    json_object *doc = json_object_new_object(), *keys = json_object_new_array();
    if (keys)
        json_object_array_add(keys, mcpauth_jws_signer_public_jwk(dev->signer));
    json_object_object_add(doc, "keys", keys);
    const char *text = mcpauth_json_compact(doc);
    char *copy = text ? strdup(text) : NULL;
    json_object_put(doc);
    return copy;
}

mcpauth_status mcpauth__devissuer_metadata_build(mcpauth_devissuer *dev, mcpauth_error *err)
{
    dev->metadata_json = metadata_document(dev);
    dev->jwks_json = jwks_document(dev);
    if (!dev->metadata_json || !dev->jwks_json)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    return MCPAUTH_OK;
}
