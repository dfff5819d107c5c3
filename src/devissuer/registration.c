/* Dynamic client registration (RFC 7591) and its management protocol (RFC
 * 7592) at the development issuer: the endpoints `mcpauth register` and
 * MCP clients talk to. The client's metadata is checked and defaulted,
 * kept as registered, and returned with the server's members. Secrets
 * (client secret, registration access token) are shown once, at creation,
 * and kept only as hashes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devissuer_internal.h"
#include "mcpauth/json.h"
#include "mcpauth/secret.h"
#include "mcpauth/strbuf.h"
#include "mcpauth/url.h"

#define MAX_REDIRECT_URIS 20

/* Members only the server sets (RFC 7591 §3.2.1, RFC 7592 §2.2): dropped
 * from what a client sends. */
static const char *const server_members[] = {
    "client_id",
    "client_secret",
    "registration_access_token",
    "registration_client_uri",
    "client_id_issued_at",
    "client_secret_expires_at",
};

static bool in_list(const char *value, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(value, list[i]) == 0)
            return true;
    return false;
}

/* A string array member whose values all come from allowed (NULL: any);
 * absent members get fallback. Returns an error description or NULL. */
static const char *check_strings(json_object *doc, const char *name, const char *const *allowed,
                                 size_t allowed_count, const char *fallback)
{
    json_object *array;
    if (!json_object_object_get_ex(doc, name, &array)) {
        json_object *defaults = json_object_new_array();
        if (fallback)
            json_object_array_add(defaults, json_object_new_string(fallback));
        json_object_object_add(doc, name, defaults);
        return NULL;
    }
    if (!json_object_is_type(array, json_type_array))
        return "an array member is not an array";
    for (size_t i = 0; i < json_object_array_length(array); i++) {
        json_object *item = json_object_array_get_idx(array, i);
        if (!json_object_is_type(item, json_type_string))
            return "an array member holds a non-string";
        if (allowed && !in_list(json_object_get_string(item), allowed, allowed_count))
            return "an unsupported value in grant_types or response_types";
    }
    return NULL;
}

static bool array_has(json_object *doc, const char *name, const char *value)
{
    json_object *array;
    if (!json_object_object_get_ex(doc, name, &array))
        return false;
    for (size_t i = 0; i < json_object_array_length(array); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(array, i)), value) == 0)
            return true;
    return false;
}

/* Checks and completes doc (RFC 7591 §2); on a problem sets *error to the
 * RFC 7591 §3.2.2 code and returns a description. */
static const char *check_metadata(json_object *doc, const char **error)
{
    static const char *const grants[] = {"authorization_code", "refresh_token",
                                         "client_credentials"};
    static const char *const methods[] = {"none", "client_secret_basic", "client_secret_post"};
    static const char *const code[] = {"code"};
    for (size_t i = 0; i < sizeof server_members / sizeof server_members[0]; i++)
        json_object_object_del(doc, server_members[i]);
    *error = "invalid_client_metadata";
    json_object *method;
    if (!json_object_object_get_ex(doc, "token_endpoint_auth_method", &method))
        json_object_object_add(doc, "token_endpoint_auth_method",
                               json_object_new_string("client_secret_basic"));
    else if (!json_object_is_type(method, json_type_string) ||
             !in_list(json_object_get_string(method), methods, 3))
        return "token_endpoint_auth_method must be none, client_secret_basic or "
               "client_secret_post";
    const char *problem = check_strings(doc, "grant_types", grants, 3, "authorization_code");
    bool code_flow = !problem && array_has(doc, "grant_types", "authorization_code");
    if (!problem)
        problem = check_strings(doc, "response_types", code, 1, code_flow ? "code" : NULL);
    if (!problem)
        problem = check_strings(doc, "redirect_uris", NULL, 0, NULL);
    if (problem)
        return problem;
    if (array_has(doc, "grant_types", "client_credentials") &&
        strcmp(mcpauth_json_string(doc, "token_endpoint_auth_method"), "none") == 0)
        return "client_credentials needs a confidential client";
    json_object *uris;
    json_object_object_get_ex(doc, "redirect_uris", &uris);
    size_t count = json_object_array_length(uris);
    *error = "invalid_redirect_uri";
    if (code_flow && count == 0)
        return "authorization_code needs redirect_uris";
    if (count > MAX_REDIRECT_URIS)
        return "too many redirect_uris";
    for (size_t i = 0; i < count; i++) {
        mcpauth_error err = {0};
        if (mcpauth_url_check_redirect_uri(
                json_object_get_string(json_object_array_get_idx(uris, i)), &err) != MCPAUTH_OK)
            return "a redirect URI must be https or loopback http, without a fragment";
    }
    *error = NULL;
    return NULL;
}

static json_object *read_json(const mcpauth_devissuer_request *req,
                              mcpauth_devissuer_response *resp)
{
    if (!req->content_type || strncasecmp(req->content_type, "application/json", 16) != 0) {
        mcpauth__devissuer_respond_error(resp, 400, "invalid_client_metadata",
                                         "the body must be application/json");
        return NULL;
    }
    mcpauth_error err = {0};
    json_object *doc =
        req->body_length <= MCPAUTH__DEVISSUER_MAX_BODY
            ? mcpauth_json_parse_object(req->body, req->body_length, "metadata", &err)
            : NULL;
    if (!doc)
        mcpauth__devissuer_respond_error(resp, 400, "invalid_client_metadata",
                                         "the body is not a JSON object (or is too large)");
    return doc;
}

/* The client information response (RFC 7591 §3.2.1, RFC 7592 §3). */
static json_object *client_information(const mcpauth_devissuer *dev,
                                       const mcpauth__devissuer_client *c, const char *secret,
                                       const char *registration_token)
{
    json_object *doc = NULL;
    json_object_deep_copy(c->metadata, &doc, NULL);
    if (!doc)
        return NULL;
    mcpauth_strbuf uri = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appendf(&uri, "%s/register/%s", dev->config->issuer, c->id);
    char *client_uri = mcpauth_strbuf_detach(&uri);
    json_object_object_add(doc, "client_id", json_object_new_string(c->id));
    json_object_object_add(doc, "client_id_issued_at", json_object_new_int64(c->issued_at));
    if (secret)
        json_object_object_add(doc, "client_secret", json_object_new_string(secret));
    if (c->secret_hash[0])
        json_object_object_add(doc, "client_secret_expires_at", json_object_new_int(0));
    if (registration_token)
        json_object_object_add(doc, "registration_access_token",
                               json_object_new_string(registration_token));
    if (client_uri)
        json_object_object_add(doc, "registration_client_uri", json_object_new_string(client_uri));
    free(client_uri);
    return doc;
}

static bool is_public(json_object *metadata)
{
    return strcmp(mcpauth_json_string(metadata, "token_endpoint_auth_method"), "none") == 0;
}

static void save_state(mcpauth_devissuer *dev, mcpauth_devissuer_response *resp)
{
    mcpauth_error err = {0};
    if (mcpauth__devissuer_state_save(dev, &err) != MCPAUTH_OK)
        resp->detail = "could not write the state file";
}

void mcpauth__devissuer_handle_registration(mcpauth_devissuer *dev,
                                            const mcpauth_devissuer_request *req,
                                            mcpauth_devissuer_response *resp)
{
    json_object *doc = read_json(req, resp);
    if (!doc)
        return;
    const char *error = NULL;
    const char *problem = check_metadata(doc, &error);
    if (problem) {
        json_object_put(doc);
        mcpauth__devissuer_respond_error(resp, 400, error, problem);
        return;
    }
    char *id = mcpauth__devissuer_random_secret();
    char *secret = is_public(doc) ? NULL : mcpauth__devissuer_random_secret();
    char *registration_token = mcpauth__devissuer_random_secret();
    mcpauth__devissuer_client c = {.issued_at = req->now, .metadata = doc};
    bool ok = id && registration_token && (secret || is_public(doc));
    if (ok) {
        snprintf(c.id, sizeof c.id, "dev-%.22s", id);
        if (secret)
            mcpauth__devissuer_hash(secret, c.secret_hash);
        mcpauth__devissuer_hash(registration_token, c.registration_hash);
    }
    mcpauth__devissuer_client *added = ok ? mcpauth__devissuer_client_add(&dev->store, &c) : NULL;
    if (!ok)
        json_object_put(doc);
    if (!added) {
        mcpauth__devissuer_respond_error(resp, 503, "temporarily_unavailable",
                                         "no room for more clients");
    } else {
        save_state(dev, resp);
        mcpauth__devissuer_respond_json(resp, 201,
                                        client_information(dev, added, secret, registration_token));
    }
    mcpauth_secret_free(id);
    mcpauth_secret_free(secret);
    mcpauth_secret_free(registration_token);
}

/* RFC 7592 §2.2: the new metadata replaces the old. */
static void update_client(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                          mcpauth__devissuer_client *c, mcpauth_devissuer_response *resp)
{
    json_object *doc = read_json(req, resp);
    if (!doc)
        return;
    const char *id = mcpauth_json_string(doc, "client_id");
    const char *given_secret = mcpauth_json_string(doc, "client_secret");
    char hash[MCPAUTH__DEVISSUER_HASH_SIZE];
    if (given_secret)
        mcpauth__devissuer_hash(given_secret, hash);
    const char *error = "invalid_client_metadata", *problem = NULL;
    if (!id || strcmp(id, c->id) != 0)
        problem = "client_id must be the client's own (RFC 7592 §2.2)";
    else if (given_secret && !mcpauth_secret_equal(hash, c->secret_hash))
        problem = "client_secret does not match";
    else
        problem = check_metadata(doc, &error);
    if (problem) {
        json_object_put(doc);
        mcpauth__devissuer_respond_error(resp, 400, error, problem);
        return;
    }
    /* A client that becomes confidential needs a secret; one that becomes
     * public loses it. */
    char *secret = NULL;
    if (is_public(doc)) {
        c->secret_hash[0] = '\0';
    } else if (!c->secret_hash[0]) {
        if (!(secret = mcpauth__devissuer_random_secret())) {
            json_object_put(doc);
            mcpauth__devissuer_respond_error(resp, 500, "server_error", "cannot generate a secret");
            return;
        }
        mcpauth__devissuer_hash(secret, c->secret_hash);
    }
    json_object_put(c->metadata);
    c->metadata = doc;
    save_state(dev, resp);
    mcpauth__devissuer_respond_json(resp, 200, client_information(dev, c, secret, NULL));
    mcpauth_secret_free(secret);
}

static void delete_client(mcpauth_devissuer *dev, mcpauth__devissuer_client *c,
                          mcpauth_devissuer_response *resp)
{
    /* RFC 7592 §2.3: the client's credentials, and its tokens, stop working. */
    mcpauth__devissuer_store *store = &dev->store;
    for (size_t i = 0; i < store->token_count;) {
        if (strcmp(store->tokens[i].client_id, c->id) == 0)
            mcpauth__devissuer_token_remove(store, &store->tokens[i]);
        else
            i++;
    }
    for (size_t i = 0; i < store->authz_count;) {
        if (strcmp(store->authz[i].client_id, c->id) == 0)
            mcpauth__devissuer_authz_remove(store, &store->authz[i]);
        else
            i++;
    }
    mcpauth__devissuer_client_remove(store, c);
    save_state(dev, resp);
    resp->status = 204;
}

void mcpauth__devissuer_handle_client_management(mcpauth_devissuer *dev,
                                                 const mcpauth_devissuer_request *req,
                                                 const char *client_id,
                                                 mcpauth_devissuer_response *resp)
{
    mcpauth__devissuer_client *c = mcpauth__devissuer_client_find(&dev->store, client_id);
    const char *token = req->authorization && strncasecmp(req->authorization, "Bearer ", 7) == 0
                            ? req->authorization + 7
                            : NULL;
    char hash[MCPAUTH__DEVISSUER_HASH_SIZE];
    if (token)
        mcpauth__devissuer_hash(token, hash);
    /* RFC 7592 §2.1: an unknown client and a bad token look the same. */
    if (!token || !c || !c->registration_hash[0] ||
        !mcpauth_secret_equal(hash, c->registration_hash)) {
        mcpauth__devissuer_add_field(resp, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        mcpauth__devissuer_respond_error(resp, 401, "invalid_token",
                                         "a valid registration access token is required");
        return;
    }
    if (strcmp(req->method, "GET") == 0) {
        mcpauth__devissuer_respond_json(resp, 200, client_information(dev, c, NULL, NULL));
    } else if (strcmp(req->method, "PUT") == 0) {
        update_client(dev, req, c, resp);
    } else if (strcmp(req->method, "DELETE") == 0) {
        delete_client(dev, c, resp);
    } else {
        mcpauth__devissuer_add_field(resp, "Allow", "GET, PUT, DELETE");
        resp->status = 405;
    }
}
