#include "mcpauth/registration.h"

#include <string.h>

#include "mcpauth/json.h"
#include "mcpauth/oauth_error.h"

/* Parses a success body into a JSON object that must name a client_id. */
static mcpauth_status parse_client(const mcpauth_http_response *resp, const char *url,
                                   json_object **client, mcpauth_error *err)
{
    json_object *doc =
        mcpauth_json_parse_object(resp->body, resp->body_length, "registration response", err);
    if (!doc)
        return mcpauth_error_prefix(err, "%s", url);
    if (!mcpauth_json_string(doc, "client_id")) {
        json_object_put(doc);
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "%s: registration response has no client_id (RFC 7591 §3.2.1)",
                                 url);
    }
    *client = doc;
    return MCPAUTH_OK;
}

static mcpauth_status remote_failure(const mcpauth_http_response *resp, const char *what,
                                     const char *url, mcpauth_error *err)
{
    char description[768];
    mcpauth_oauth_error_describe(resp, description, sizeof description);
    return mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s at %s failed: %s", what, url, description);
}

static mcpauth_status send_json(const mcpauth_http_options *opts, const char *method,
                                const char *url, json_object *body, const char *token,
                                mcpauth_http_response *resp, mcpauth_error *err)
{
    const char *text = body ? mcpauth_json_compact(body) : NULL;
    mcpauth_http_request req = {
        .method = method,
        .url = url,
        .content_type = text ? "application/json" : NULL,
        .body = text,
        .body_length = text ? strlen(text) : 0,
        .bearer_token = token,
    };
    return mcpauth_http_perform(opts, &req, resp, err);
}

mcpauth_status mcpauth_registration_create(const mcpauth_http_options *opts, const char *endpoint,
                                           json_object *metadata, const char *initial_access_token,
                                           json_object **client, mcpauth_error *err)
{
    mcpauth_http_response resp;
    *client = NULL;
    if (send_json(opts, "POST", endpoint, metadata, initial_access_token, &resp, err) != MCPAUTH_OK)
        return err->status;
    mcpauth_status st;
    if (resp.status == 201 || resp.status == 200) {
        st = parse_client(&resp, endpoint, client, err);
    } else {
        st = remote_failure(&resp, "registration", endpoint, err);
        if (resp.status == 401 && !initial_access_token) {
            char first[MCPAUTH_ERROR_MESSAGE_MAX];
            memcpy(first, err->message, sizeof first);
            mcpauth_error_set(err, MCPAUTH_EREMOTE,
                              "%.600s; the authorization server requires an initial access token "
                              "(RFC 7591 §3): give --initial-access-token-file FILE or set "
                              "MCPAUTH_INITIAL_ACCESS_TOKEN",
                              first);
        }
    }
    mcpauth_http_response_free(&resp);
    return st;
}

/* RFC 7592 §2.1 and §2.2: a GET or PUT of the client configuration
 * endpoint, answered 200 with the client's registration; what names the
 * operation in messages. */
static mcpauth_status manage_client(const mcpauth_http_options *opts, const char *method,
                                    const char *client_uri, json_object *metadata,
                                    const char *registration_token, const char *what,
                                    json_object **client, mcpauth_error *err)
{
    mcpauth_http_response resp;
    *client = NULL;
    if (send_json(opts, method, client_uri, metadata, registration_token, &resp, err) != MCPAUTH_OK)
        return err->status;
    mcpauth_status st = resp.status == 200 ? parse_client(&resp, client_uri, client, err)
                                           : remote_failure(&resp, what, client_uri, err);
    mcpauth_http_response_free(&resp);
    return st;
}

mcpauth_status mcpauth_registration_read(const mcpauth_http_options *opts, const char *client_uri,
                                         const char *registration_token, json_object **client,
                                         mcpauth_error *err)
{
    return manage_client(opts, "GET", client_uri, NULL, registration_token,
                         "reading the registration", client, err);
}

mcpauth_status mcpauth_registration_update(const mcpauth_http_options *opts, const char *client_uri,
                                           const char *registration_token, json_object *metadata,
                                           json_object **client, mcpauth_error *err)
{
    return manage_client(opts, "PUT", client_uri, metadata, registration_token,
                         "updating the registration", client, err);
}

mcpauth_status mcpauth_registration_delete(const mcpauth_http_options *opts, const char *client_uri,
                                           const char *registration_token, mcpauth_error *err)
{
    mcpauth_http_response resp;
    if (send_json(opts, "DELETE", client_uri, NULL, registration_token, &resp, err) != MCPAUTH_OK)
        return err->status;
    mcpauth_status st = MCPAUTH_OK;
    /* RFC 7592 §2.3: 204 on success; 405 when deletion is not offered. */
    if (resp.status == 405)
        st = mcpauth_error_set(err, MCPAUTH_EREMOTE,
                               "the authorization server does not allow clients to delete their "
                               "registration (HTTP 405 at %s)",
                               client_uri);
    else if (resp.status != 204 && resp.status != 200)
        st = remote_failure(&resp, "deleting the registration", client_uri, err);
    mcpauth_http_response_free(&resp);
    return st;
}
