/* The development issuer as a whole: creating it (key, built-in resource
 * server client, state file) and routing a request to its endpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devissuer_internal.h"
#include "mcpauth/secret.h"
#include "mcpauth/url.h"

void mcpauth_devissuer_config_init(mcpauth_devissuer_config *config)
{
    memset(config, 0, sizeof *config);
    config->token_format = MCPAUTH_DEVISSUER_JWT;
    config->code_lifetime_seconds = 60;
    config->access_lifetime_seconds = 3600;
    config->refresh_lifetime_seconds = 30 * 86400;
}

/* The resource server's own client: confidential, client_credentials only,
 * with a secret that lives in this process alone. */
static mcpauth_status add_resource_client(mcpauth_devissuer *dev, mcpauth_error *err)
{
    char *suffix = mcpauth__devissuer_random_secret();
    dev->resource_client_secret = mcpauth__devissuer_random_secret();
    if (!suffix || !dev->resource_client_secret) {
        mcpauth_secret_free(suffix);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot generate the built-in client");
    }
    snprintf(dev->resource_client_id, sizeof dev->resource_client_id, "resource-server-%.12s",
             suffix);
    mcpauth_secret_free(suffix);
    mcpauth__devissuer_client client = {.builtin = true, .metadata = json_object_new_object()};
    memcpy(client.id, dev->resource_client_id, sizeof client.id);
    mcpauth__devissuer_hash(dev->resource_client_secret, client.secret_hash);
    json_object_object_add(client.metadata, "client_name",
                           json_object_new_string("mcpauth serve (built-in)"));
    json_object_object_add(client.metadata, "token_endpoint_auth_method",
                           json_object_new_string("client_secret_basic"));
    if (!mcpauth__devissuer_client_add(&dev->store, &client))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    return MCPAUTH_OK;
}

mcpauth_devissuer *mcpauth_devissuer_new(const mcpauth_devissuer_config *config, mcpauth_error *err)
{
    mcpauth_devissuer *dev = calloc(1, sizeof *dev);
    if (!dev) {
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        return NULL;
    }
    dev->config = config;
    if (!(dev->cimd = mcpauth__devissuer_cimd_new())) {
        free(dev);
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        return NULL;
    }
    mcpauth_status st = mcpauth__devissuer_state_load(dev, err);
    if (st == MCPAUTH_OK && !dev->signer && !(dev->signer = mcpauth_jws_signer_generate_es256(err)))
        st = err->status;
    /* Written now, even when it was just read: a file that cannot be
     * written fails at start rather than at the first registration, and
     * one left readable by others is replaced by a 0600 one. */
    if (st == MCPAUTH_OK)
        st = mcpauth__devissuer_state_save(dev, err);
    if (st == MCPAUTH_OK)
        st = add_resource_client(dev, err);
    if (st == MCPAUTH_OK)
        st = mcpauth__devissuer_metadata_build(dev, err);
    if (st != MCPAUTH_OK) {
        mcpauth_devissuer_free(dev);
        return NULL;
    }
    return dev;
}

void mcpauth_devissuer_free(mcpauth_devissuer *dev)
{
    if (!dev)
        return;
    if (dev->cimd)
        mcpauth_devissuer_stop_fetching(dev);
    mcpauth__devissuer_cimd_free(dev->cimd);
    mcpauth__devissuer_store_free(&dev->store);
    mcpauth_jws_signer_free(dev->signer);
    free(dev->metadata_json);
    free(dev->jwks_json);
    mcpauth_secret_free(dev->resource_client_secret);
    free(dev);
}

const char *mcpauth_devissuer_resource_client_id(const mcpauth_devissuer *dev)
{
    return dev->resource_client_id;
}

const char *mcpauth_devissuer_resource_client_secret(const mcpauth_devissuer *dev)
{
    return dev->resource_client_secret;
}

const char *mcpauth_devissuer_jwks(const mcpauth_devissuer *dev)
{
    return dev->jwks_json;
}

/* ---- routing ---- */

#define METADATA_PATH "/.well-known/oauth-authorization-server"
#define REGISTER_PATH "/register"

static const char *const fixed_paths[] = {
    METADATA_PATH, "/authorize", "/token", REGISTER_PATH, "/introspect", "/revoke", "/jwks",
};

/* "/register/ID": the RFC 7592 client configuration endpoint. */
static const char *management_id(const char *path)
{
    size_t n = strlen(REGISTER_PATH "/");
    if (strncmp(path, REGISTER_PATH "/", n) != 0 || !path[n] || strchr(path + n, '/'))
        return NULL;
    return path + n;
}

bool mcpauth_devissuer_handles(const mcpauth_devissuer *dev, const char *path)
{
    (void)dev;
    for (size_t i = 0; i < sizeof fixed_paths / sizeof fixed_paths[0]; i++)
        if (strcmp(path, fixed_paths[i]) == 0)
            return true;
    return management_id(path) != NULL;
}

static bool method_is(const mcpauth_devissuer_request *req, const char *method)
{
    return strcmp(req->method, method) == 0;
}

static void respond_static(mcpauth_devissuer_response *resp, const mcpauth_devissuer_request *req,
                           const char *document, const char *cache)
{
    if (!method_is(req, "GET") && !method_is(req, "HEAD")) {
        mcpauth__devissuer_add_field(resp, "Allow", "GET, HEAD, OPTIONS");
        resp->status = 405;
        return;
    }
    resp->status = 200;
    mcpauth__devissuer_add_field(resp, "Content-Type", "application/json");
    mcpauth__devissuer_add_field(resp, "Cache-Control", cache);
    resp->body = strdup(document);
    resp->body_length = resp->body ? strlen(resp->body) : 0;
}

/* The metadata and the keys are public documents: any page may read them. */
static bool public_document(const char *path)
{
    return strcmp(path, METADATA_PATH) == 0 || strcmp(path, "/jwks") == 0;
}

/* True for a loopback origin, "http://127.0.0.1:6274" (Fetch §3.2.5: scheme,
 * host, port, nothing else), as MCP Inspector's web UI and local tools use. */
static bool origin_is_loopback(const char *origin)
{
    mcpauth_url url;
    mcpauth_error err = {0};
    if (mcpauth_url_parse(origin, &url, &err) != MCPAUTH_OK)
        return false;
    char *canonical = mcpauth_url_origin(&url);
    bool loopback =
        mcpauth_url_is_loopback(&url) && canonical && strcasecmp(canonical, origin) == 0;
    free(canonical);
    mcpauth_url_free(&url);
    return loopback;
}

/* Whether a page of origin may call the endpoints that register clients and
 * hand out tokens. A request without Origin comes from no browser page. */
static bool origin_allowed(const mcpauth_devissuer *dev, const char *origin)
{
    if (!origin)
        return true;
    if (strcasecmp(origin, dev->config->issuer) == 0)
        return true;
    for (size_t i = 0; i < dev->config->allowed_origin_count; i++) {
        const char *allowed = dev->config->allowed_origins[i];
        if (strcmp(allowed, "*") == 0 || strcasecmp(origin, allowed) == 0)
            return true;
    }
    return origin_is_loopback(origin);
}

/* Answers a CORS preflight (Fetch §3.2.2); the allowed origin is already in
 * resp. */
static void respond_preflight(mcpauth_devissuer_response *resp)
{
    mcpauth__devissuer_add_field(resp, "Access-Control-Allow-Methods",
                                 "GET, POST, PUT, DELETE, OPTIONS");
    mcpauth__devissuer_add_field(resp, "Access-Control-Allow-Headers",
                                 "Authorization, Content-Type");
    mcpauth__devissuer_add_field(resp, "Access-Control-Max-Age", "86400");
    resp->status = 204;
}

void mcpauth_devissuer_handle(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                              mcpauth_devissuer_response *out)
{
    memset(out, 0, sizeof *out);
    const char *path = req->path;
    if (public_document(path)) {
        mcpauth__devissuer_add_field(out, "Access-Control-Allow-Origin", "*");
        if (method_is(req, "OPTIONS")) {
            respond_preflight(out);
            return;
        }
    } else if (strcmp(path, "/authorize") != 0) {
        /* Registration, token, introspection and revocation: a page may
         * call them (MCP Inspector registers and redeems codes from the
         * browser), but only from an origin the operator trusts; a page
         * elsewhere must not obtain clients or tokens through a user's
         * browser. No cookies are involved: the origin is echoed, never
         * with credentials. */
        if (!origin_allowed(dev, req->origin)) {
            out->detail = "Origin not allowed";
            out->status = 403;
            out->body = strdup("Forbidden: Origin not allowed\n");
            out->body_length = out->body ? strlen(out->body) : 0;
            mcpauth__devissuer_add_field(out, "Content-Type", "text/plain; charset=utf-8");
            return;
        }
        mcpauth__devissuer_add_field(out, "Vary", "Origin");
        if (req->origin)
            mcpauth__devissuer_add_field(out, "Access-Control-Allow-Origin", req->origin);
        if (method_is(req, "OPTIONS")) {
            respond_preflight(out);
            return;
        }
    }
    mcpauth__devissuer_store_sweep(&dev->store, req->now);
    const char *client_id = management_id(path);
    if (strcmp(path, METADATA_PATH) == 0)
        respond_static(out, req, dev->metadata_json, "max-age=3600");
    else if (strcmp(path, "/jwks") == 0)
        respond_static(out, req, dev->jwks_json, "max-age=300");
    else if (strcmp(path, "/authorize") == 0)
        mcpauth__devissuer_handle_authorize(dev, req, out);
    else if (client_id)
        mcpauth__devissuer_handle_client_management(dev, req, client_id, out);
    else if (!method_is(req, "POST")) {
        mcpauth__devissuer_add_field(out, "Allow", "POST, OPTIONS");
        out->status = 405;
    } else if (strcmp(path, REGISTER_PATH) == 0)
        mcpauth__devissuer_handle_registration(dev, req, out);
    else if (strcmp(path, "/token") == 0)
        mcpauth__devissuer_handle_token(dev, req, out);
    else if (strcmp(path, "/introspect") == 0)
        mcpauth__devissuer_handle_introspect(dev, req, out);
    else
        mcpauth__devissuer_handle_revoke(dev, req, out);
}

/* The document URL a request names its client by, when it does: the
 * client_id of an authorization request, or of a token or revocation
 * request's form body (a document's client is public: no Basic). Caller
 * frees. */
static char *document_client_id(const mcpauth_devissuer_request *req)
{
    const char *text = NULL;
    size_t length = 0;
    if (strcmp(req->path, "/authorize") == 0 && method_is(req, "GET") && req->query) {
        text = req->query;
        length = strlen(text);
    } else if ((strcmp(req->path, "/token") == 0 || strcmp(req->path, "/revoke") == 0) &&
               method_is(req, "POST") && req->body &&
               req->body_length <= MCPAUTH__DEVISSUER_MAX_BODY) {
        text = req->body;
        length = req->body_length;
    }
    if (!text)
        return NULL;
    mcpauth_form form;
    const char *problem = NULL;
    bool parsed = mcpauth_form_parse(text, length, &form, &problem);
    const char *id = parsed ? mcpauth_form_get(&form, "client_id") : NULL;
    char *copy = mcpauth_oauth_cimd_is_url(id) ? strdup(id) : NULL;
    mcpauth_form_free(&form);
    return copy;
}

bool mcpauth_devissuer_handle_async(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                                    mcpauth_devissuer_response *out, mcpauth_devissuer_answer_cb cb,
                                    void *data)
{
    char *url = document_client_id(req);
    mcpauth_error err = {0};
    bool later = url && mcpauth__devissuer_cimd_needs_fetch(dev, url, req->now) &&
                 mcpauth__devissuer_cimd_fetch(dev, url, req, cb, data, &err) == MCPAUTH_OK;
    free(url);
    if (later)
        return false;
    mcpauth_devissuer_handle(dev, req, out);
    return true;
}
