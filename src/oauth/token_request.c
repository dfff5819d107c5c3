#include "mcpauth/oauth_token.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcpauth/form.h"
#include "mcpauth/json.h"
#include "mcpauth/oauth_error.h"
#include "oauth_internal.h"

/* The grant's own parameters; false with err set when one is missing. */
static bool add_grant_parameters(const mcpauth_oauth_token_params *p, mcpauth_strbuf *body,
                                 mcpauth_error *err)
{
    const char *grant = p->grant_type;
    if (strcmp(grant, "authorization_code") == 0) {
        /* RFC 6749 §4.1.3; RFC 7636 §4.5. OAuth 2.1 makes PKCE mandatory, so
         * a code is never redeemed without its verifier. */
        if (!p->code || !p->redirect_uri || !p->code_verifier) {
            mcpauth_error_set(err, MCPAUTH_EUSAGE,
                              "the authorization_code grant needs a code, the redirect_uri and "
                              "the PKCE code_verifier");
            return false;
        }
        mcpauth_form_add(body, "code", p->code);
        mcpauth_form_add(body, "redirect_uri", p->redirect_uri);
        mcpauth_form_add(body, "code_verifier", p->code_verifier);
    } else if (strcmp(grant, "refresh_token") == 0) {
        /* RFC 6749 §6 */
        if (!p->refresh_token) {
            mcpauth_error_set(err, MCPAUTH_EUSAGE, "the refresh_token grant needs a refresh token");
            return false;
        }
        mcpauth_form_add(body, "refresh_token", p->refresh_token);
    } else if (strcmp(grant, "client_credentials") != 0) {
        mcpauth_error_set(err, MCPAUTH_EUSAGE, "unsupported grant type '%s'", grant);
        return false;
    }
    return true;
}

mcpauth_status mcpauth_oauth_token_request_body(const mcpauth_oauth_token_client *client,
                                                const mcpauth_oauth_token_params *params,
                                                mcpauth_strbuf *body, mcpauth_error *err)
{
    if (!params->grant_type)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "no grant type");
    if (!client->client_id || !*client->client_id)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "no client_id");
    if (client->auth != MCPAUTH_CLIENT_AUTH_NONE &&
        (!client->client_secret || !*client->client_secret))
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "%s needs a client secret",
                                 mcpauth_client_auth_name(client->auth));
    mcpauth_form_add(body, "grant_type", params->grant_type);
    if (!add_grant_parameters(params, body, err))
        return err ? err->status : MCPAUTH_EUSAGE;
    if (params->scope && *params->scope)
        mcpauth_form_add(body, "scope", params->scope);
    /* RFC 8707 §2: one resource parameter per target resource. */
    for (size_t i = 0; i < params->resource_count; i++)
        mcpauth_form_add(body, "resource", params->resources[i]);
    switch (client->auth) {
    case MCPAUTH_CLIENT_AUTH_POST:
        mcpauth_form_add(body, "client_id", client->client_id);
        mcpauth_form_add(body, "client_secret", client->client_secret);
        break;
    case MCPAUTH_CLIENT_AUTH_NONE:
        /* RFC 6749 §3.2.1: an unauthenticated client names itself. */
        mcpauth_form_add(body, "client_id", client->client_id);
        break;
    case MCPAUTH_CLIENT_AUTH_BASIC:
        break;
    }
    if (mcpauth_strbuf_failed(body))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    return MCPAUTH_OK;
}

bool mcpauth__oauth_token_syntax_ok(const char *token)
{
    if (!*token)
        return false;
    for (const unsigned char *p = (const unsigned char *)token; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f)
            return false;
    }
    return true;
}

/* expires_in is a number of seconds; a numeric string is tolerated, as some
 * servers send one. -1 when absent; false when malformed. */
static bool read_expires_in(json_object *doc, long long *out)
{
    json_object *value = NULL;
    *out = -1;
    if (!json_object_object_get_ex(doc, "expires_in", &value) || !value)
        return true;
    if (json_object_is_type(value, json_type_int)) {
        errno = 0;
        long long n = (long long)json_object_get_int64(value);
        if (errno || n < 0)
            return false;
        *out = n;
        return true;
    }
    if (json_object_is_type(value, json_type_string)) {
        const char *text = json_object_get_string(value);
        char *end = NULL;
        errno = 0;
        long long n = strtoll(text, &end, 10);
        if (errno || end == text || *end || n < 0)
            return false;
        *out = n;
        return true;
    }
    return false;
}

static mcpauth_status malformed(const char *endpoint, const char *what, mcpauth_error *err)
{
    return mcpauth_error_set(err, MCPAUTH_EREMOTE, "malformed token response from %s: %s", endpoint,
                             what);
}

/* Checks a 200 answer's document and fills out (which takes doc). */
static mcpauth_status accept_document(json_object *doc, const char *endpoint,
                                      mcpauth_oauth_token_response *out, mcpauth_error *err)
{
    const char *access_token = mcpauth_json_string(doc, "access_token");
    const char *token_type = mcpauth_json_string(doc, "token_type");
    const char *refresh_token = mcpauth_json_string(doc, "refresh_token");
    json_object *member = NULL;
    long long expires_in = -1;
    mcpauth_status st = MCPAUTH_OK;
    if (!access_token)
        st = malformed(endpoint, "no access_token (RFC 6749 §5.1)", err);
    else if (!mcpauth__oauth_token_syntax_ok(access_token))
        st = malformed(endpoint, "the access_token has characters a Bearer token cannot have", err);
    else if (!token_type)
        st = malformed(endpoint, "no token_type (RFC 6749 §5.1)", err);
    else if (strcasecmp(token_type, "Bearer") != 0)
        st = mcpauth_error_set(err, MCPAUTH_EREMOTE,
                               "the token from %s is not a Bearer token (token_type %.40s)",
                               endpoint, token_type);
    else if (json_object_object_get_ex(doc, "refresh_token", &member) &&
             (!refresh_token || !mcpauth__oauth_token_syntax_ok(refresh_token)))
        st = malformed(endpoint, "the refresh_token is not a string of visible characters", err);
    else if (json_object_object_get_ex(doc, "scope", &member) &&
             !json_object_is_type(member, json_type_string))
        st = malformed(endpoint, "scope is not a string", err);
    else if (!read_expires_in(doc, &expires_in))
        st = malformed(endpoint, "expires_in is not a whole number of seconds", err);
    if (st != MCPAUTH_OK) {
        json_object_put(doc);
        return st;
    }
    out->document = doc;
    out->access_token = access_token;
    out->token_type = token_type;
    out->refresh_token = refresh_token;
    out->scope = mcpauth_json_string(doc, "scope");
    out->expires_in = expires_in;
    return MCPAUTH_OK;
}

/* RFC 6749 §5.2: 400 (or 401 for invalid_client) with error and
 * error_description, which are quoted. Any other body is only counted: a
 * broken server echoing the request would otherwise put the client secret,
 * the code or the refresh token into the message. */
static mcpauth_status describe_failure(const mcpauth_http_response *resp, const char *endpoint,
                                       mcpauth_error *err)
{
    json_object *doc = mcpauth_json_parse_object(resp->body, resp->body_length, "body", NULL);
    bool oauth_error = mcpauth_json_string(doc, "error") != NULL;
    json_object_put(doc);
    char description[768];
    if (oauth_error) {
        mcpauth_oauth_error_describe(resp, description, sizeof description);
    } else {
        const char *text = mcpauth_http_status_text(resp->status);
        snprintf(description, sizeof description,
                 "HTTP %ld%s%s (%zu-byte body without an OAuth "
                 "error)",
                 resp->status, *text ? " " : "", text, resp->body_length);
    }
    return mcpauth_error_set(err, MCPAUTH_EREMOTE, "token request to %s failed: %s", endpoint,
                             description);
}

mcpauth_status mcpauth_oauth_token_response_parse(const mcpauth_http_response *resp,
                                                  const char *endpoint,
                                                  mcpauth_oauth_token_response *out,
                                                  mcpauth_error *err)
{
    memset(out, 0, sizeof *out);
    out->expires_in = -1;
    if (resp->status != 200)
        return describe_failure(resp, endpoint, err);
    mcpauth_error parse_err = {0};
    json_object *doc =
        mcpauth_json_parse_object(resp->body, resp->body_length, "token response", &parse_err);
    if (!doc)
        return malformed(endpoint, parse_err.message, err);
    return accept_document(doc, endpoint, out, err);
}

mcpauth_status mcpauth_oauth_token_request(const mcpauth_http_options *opts,
                                           const mcpauth_oauth_token_client *client,
                                           const mcpauth_oauth_token_params *params,
                                           mcpauth_oauth_token_response *out, mcpauth_error *err)
{
    memset(out, 0, sizeof *out);
    out->expires_in = -1;
    mcpauth_strbuf body = MCPAUTH_STRBUF_INIT;
    if (mcpauth_oauth_token_request_body(client, params, &body, err) != MCPAUTH_OK) {
        mcpauth_strbuf_free(&body);
        return err ? err->status : MCPAUTH_EUSAGE;
    }
    bool basic = client->auth == MCPAUTH_CLIENT_AUTH_BASIC;
    mcpauth_http_request req = {
        .method = "POST",
        .url = client->token_endpoint,
        .content_type = "application/x-www-form-urlencoded",
        .body = body.data,
        .body_length = body.length,
        .basic_user = basic ? client->client_id : NULL,
        .basic_password = basic ? client->client_secret : NULL,
    };
    mcpauth_http_response resp;
    mcpauth_status st = mcpauth_http_perform(opts, &req, &resp, err);
    mcpauth_strbuf_free(&body); /* wipes the secret, code, verifier or refresh token */
    if (st != MCPAUTH_OK)
        return st;
    st = mcpauth_oauth_token_response_parse(&resp, client->token_endpoint, out, err);
    if (resp.body)
        explicit_bzero(resp.body, resp.body_length);
    mcpauth_http_response_free(&resp);
    return st;
}

void mcpauth_oauth_token_response_free(mcpauth_oauth_token_response *resp)
{
    json_object_put(resp->document);
    memset(resp, 0, sizeof *resp);
    resp->expires_in = -1;
}
