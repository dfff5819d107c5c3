/* The development issuer as a whole: creating it (key, built-in resource
 * server client, state file), routing a request to its endpoint, and the
 * helpers every endpoint answers with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devissuer_internal.h"
#include "mcpauth/json.h"
#include "mcpauth/secret.h"
#include "mcpauth/strbuf.h"

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

/* Browsers (MCP Inspector) call metadata, registration, token and keys
 * across origins; none of them relies on cookies. */
static void add_cors(mcpauth_devissuer_response *resp, const char *path)
{
    if (strcmp(path, "/authorize") == 0)
        return;
    mcpauth__devissuer_add_field(resp, "Access-Control-Allow-Origin", "*");
}

void mcpauth_devissuer_handle(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                              mcpauth_devissuer_response *out)
{
    memset(out, 0, sizeof *out);
    const char *path = req->path;
    add_cors(out, path);
    if (method_is(req, "OPTIONS") && strcmp(path, "/authorize") != 0) {
        mcpauth__devissuer_add_field(out, "Access-Control-Allow-Methods",
                                     "GET, POST, PUT, DELETE, OPTIONS");
        mcpauth__devissuer_add_field(out, "Access-Control-Allow-Headers",
                                     "Authorization, Content-Type");
        mcpauth__devissuer_add_field(out, "Access-Control-Max-Age", "86400");
        out->status = 204;
        return;
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

void mcpauth_devissuer_response_free(mcpauth_devissuer_response *resp)
{
    for (size_t i = 0; i < resp->field_count; i++)
        free(resp->fields[i].value);
    mcpauth_secret_free(resp->body); /* token responses carry secrets */
    memset(resp, 0, sizeof *resp);
}

/* ---- answering ---- */

void mcpauth__devissuer_add_field(mcpauth_devissuer_response *resp, const char *name,
                                  const char *value)
{
    if (!value || resp->field_count == MCPAUTH_DEVISSUER_MAX_FIELDS)
        return;
    char *copy = strdup(value);
    if (copy)
        resp->fields[resp->field_count++] = (mcpauth_devissuer_field){name, copy};
}

void mcpauth__devissuer_respond_json(mcpauth_devissuer_response *resp, int status,
                                     json_object *json)
{
    const char *text = json ? mcpauth_json_compact(json) : NULL;
    resp->body = text ? strdup(text) : NULL;
    resp->body_length = resp->body ? strlen(resp->body) : 0;
    resp->status = resp->body ? status : 500;
    mcpauth__devissuer_add_field(resp, "Content-Type", "application/json");
    /* RFC 6749 §5.1: token responses (and anything else with credentials)
     * must not be cached. */
    mcpauth__devissuer_add_field(resp, "Cache-Control", "no-store");
    json_object_put(json);
}

void mcpauth__devissuer_respond_error(mcpauth_devissuer_response *resp, int status,
                                      const char *error, const char *description)
{
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "error", json_object_new_string(error));
    if (description)
        json_object_object_add(doc, "error_description", json_object_new_string(description));
    resp->detail = description ? description : error;
    mcpauth__devissuer_respond_json(resp, status, doc);
}

void mcpauth__devissuer_respond_html(mcpauth_devissuer_response *resp, int status, char *html)
{
    resp->status = html ? status : 500;
    resp->body = html;
    resp->body_length = html ? strlen(html) : 0;
    mcpauth__devissuer_add_field(resp, "Content-Type", "text/html; charset=utf-8");
    mcpauth__devissuer_add_field(resp, "Cache-Control", "no-store");
    /* The consent page must not be framed (clickjacking) nor run scripts. */
    mcpauth__devissuer_add_field(resp, "X-Frame-Options", "DENY");
    mcpauth__devissuer_add_field(
        resp, "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'");
}

bool mcpauth__devissuer_parse_body_form(const mcpauth_devissuer_request *req, mcpauth_form *form,
                                        mcpauth_devissuer_response *resp)
{
    const char *problem = NULL;
    if (!req->content_type ||
        strncasecmp(req->content_type, "application/x-www-form-urlencoded", 33) != 0) {
        memset(form, 0, sizeof *form);
        mcpauth__devissuer_respond_error(resp, 400, "invalid_request",
                                         "the body must be application/x-www-form-urlencoded");
        return false;
    }
    if (req->body_length > MCPAUTH__DEVISSUER_MAX_BODY ||
        !mcpauth_form_parse(req->body, req->body_length, form, &problem)) {
        mcpauth__devissuer_respond_error(resp, 400, "invalid_request",
                                         problem ? problem : "body too large");
        return false;
    }
    return true;
}

/* ---- scopes and resources ---- */

static bool scope_supported(const mcpauth_devissuer *dev, const char *scope, size_t length)
{
    for (size_t i = 0; i < dev->config->scope_count; i++) {
        const char *s = dev->config->scopes[i];
        if (strlen(s) == length && strncmp(s, scope, length) == 0)
            return true;
    }
    return false;
}

char *mcpauth__devissuer_scope_grant(const mcpauth_devissuer *dev, const char *requested)
{
    if (!requested) {
        mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
        mcpauth_strbuf_appends(&sb, "");
        for (size_t i = 0; i < dev->config->scope_count; i++)
            mcpauth_strbuf_appendf(&sb, "%s%s", i ? " " : "", dev->config->scopes[i]);
        return mcpauth_strbuf_detach(&sb);
    }
    /* RFC 6749 §3.3: space-delimited scope tokens. */
    for (const char *p = requested; *p;) {
        size_t n = strcspn(p, " ");
        if (n == 0 || !scope_supported(dev, p, n))
            return NULL;
        p += n;
        if (*p == ' ')
            p++;
    }
    return strdup(requested);
}

/* Length of uri without one trailing '/'. */
static size_t trimmed_length(const char *uri)
{
    size_t n = strlen(uri);
    return n > 0 && uri[n - 1] == '/' ? n - 1 : n;
}

bool mcpauth__devissuer_resource_known(const mcpauth_devissuer *dev, const char *resource)
{
    const char *mine = dev->config->resource;
    size_t n = trimmed_length(mine);
    if (!resource || trimmed_length(resource) != n)
        return false;
    /* Scheme and host compare case-insensitively, the path exactly. */
    const char *path = strstr(mine, "://");
    size_t authority_end = path ? (size_t)(strchrnul(path + 3, '/') - mine) : n;
    if (authority_end > n)
        authority_end = n;
    return strncasecmp(mine, resource, authority_end) == 0 &&
           strncmp(mine + authority_end, resource + authority_end, n - authority_end) == 0;
}
