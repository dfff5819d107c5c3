#include "mcpauth/registration.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "mcpauth/json.h"

/* Copies at most max printable characters of text into out, replacing
 * anything else (newlines, escapes, binary) with '?': a hostile server must
 * not be able to write to the user's terminal through our messages. */
static void printable_excerpt(const char *text, size_t length, size_t max, char *out, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < length && n + 4 < size && i < max; i++) {
        unsigned char c = (unsigned char)text[i];
        out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (length > max && n + 4 < size) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

void mcpauth_oauth_error_describe(const mcpauth_http_response *resp, char *buf, size_t size)
{
    int used = snprintf(buf, size, "HTTP %ld", resp->status);
    const char *text = mcpauth_http_status_text(resp->status);
    if (text[0] && used >= 0 && (size_t)used < size)
        used += snprintf(buf + used, size - (size_t)used, " %s", text);
    if (used < 0 || (size_t)used >= size)
        return;
    char *rest = buf + used;
    size_t rest_size = size - (size_t)used;

    json_object *doc = mcpauth_json_parse_object(resp->body, resp->body_length, "body", NULL);
    const char *error = mcpauth_json_string(doc, "error");
    if (error) {
        char code[128], description[512];
        const char *desc = mcpauth_json_string(doc, "error_description");
        printable_excerpt(error, strlen(error), 100, code, sizeof code);
        if (desc) {
            printable_excerpt(desc, strlen(desc), 400, description, sizeof description);
            snprintf(rest, rest_size, ": %s: %s", code, description);
        } else {
            snprintf(rest, rest_size, ": %s", code);
        }
    } else if (resp->body_length > 0) {
        char excerpt[256];
        printable_excerpt(resp->body, resp->body_length, 120, excerpt, sizeof excerpt);
        snprintf(rest, rest_size, " (body: %s)", excerpt);
    }
    json_object_put(doc);
}

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
