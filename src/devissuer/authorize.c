/* The authorization endpoint (OAuth 2.1 §4.1.1) of the development
 * issuer: checks the request (known client, exact redirect URI, PKCE S256,
 * RFC 8707 resource, supported scopes), then either shows the development
 * user a consent page or, with --dev-auto-approve, answers at once. The
 * consent form carries only a one-time ticket for the stored request, so a
 * page elsewhere cannot forge an approval. Errors that cannot be trusted
 * to the redirect URI are shown as a page (§4.1.2.1); the rest go back to
 * the client with state and iss (RFC 9207). */
#include <stdlib.h>
#include <string.h>

#include "devissuer_internal.h"
#include "mcpauth/form.h"
#include "mcpauth/secret.h"
#include "mcpauth/strbuf.h"
#include "mcpauth/url.h"

static void append_html(mcpauth_strbuf *sb, const char *text)
{
    for (const char *p = text; p && *p; p++) {
        switch (*p) {
        case '<':
            mcpauth_strbuf_appends(sb, "&lt;");
            break;
        case '>':
            mcpauth_strbuf_appends(sb, "&gt;");
            break;
        case '&':
            mcpauth_strbuf_appends(sb, "&amp;");
            break;
        case '"':
            mcpauth_strbuf_appends(sb, "&quot;");
            break;
        case '\'':
            mcpauth_strbuf_appends(sb, "&#39;");
            break;
        default:
            mcpauth_strbuf_append(sb, p, 1);
        }
    }
}

static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>mcpauth development issuer</title>"
    "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}"
    ".warn{background:#fff3cd;padding:.5em}</style></head><body>\n"
    "<p class=\"warn\">Development issuer of <code>mcpauth serve --dev</code>: for local "
    "development only.</p>\n";

/* An error page: the request cannot be sent back to the client. */
static void respond_page_error(mcpauth_devissuer_response *resp, const char *message)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, page_head);
    mcpauth_strbuf_appends(&sb, "<h1>Authorization request refused</h1>\n<p>");
    append_html(&sb, message);
    mcpauth_strbuf_appends(&sb, "</p>\n</body></html>\n");
    resp->detail = message;
    mcpauth__devissuer_respond_html(resp, 400, mcpauth_strbuf_detach(&sb));
}

/* The same, naming the OAuth error code (RFC 6749 §4.1.2.1) on the page. */
static void respond_page_error_as(mcpauth_devissuer_response *resp, const char *error,
                                  const char *message)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, page_head);
    mcpauth_strbuf_appends(&sb, "<h1>Authorization request refused</h1>\n<p><code>");
    append_html(&sb, error);
    mcpauth_strbuf_appends(&sb, "</code>: ");
    append_html(&sb, message);
    mcpauth_strbuf_appends(&sb, "</p>\n</body></html>\n");
    resp->detail = message;
    mcpauth__devissuer_respond_html(resp, 400, mcpauth_strbuf_detach(&sb));
}

/* 302 to the client's redirect URI with params and iss (RFC 9207 §2). */
static void redirect(const mcpauth_devissuer *dev, mcpauth_devissuer_response *resp,
                     const char *redirect_uri, const char *name1, const char *value1,
                     const char *description, const char *state)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, redirect_uri);
    mcpauth_strbuf_appends(&sb, strchr(redirect_uri, '?') ? "&" : "?");
    mcpauth_strbuf query = MCPAUTH_STRBUF_INIT;
    mcpauth_form_add(&query, name1, value1);
    if (description)
        mcpauth_form_add(&query, "error_description", description);
    if (state)
        mcpauth_form_add(&query, "state", state);
    mcpauth_form_add(&query, "iss", dev->config->issuer);
    if (query.data)
        mcpauth_strbuf_append(&sb, query.data, query.length);
    mcpauth_strbuf_free(&query);
    char *location = mcpauth_strbuf_detach(&sb);
    resp->status = location ? 302 : 500;
    mcpauth__devissuer_add_field(resp, "Location", location);
    mcpauth__devissuer_add_field(resp, "Cache-Control", "no-store");
    mcpauth_secret_free(location); /* it may carry a code */
}

static void redirect_error(const mcpauth_devissuer *dev, mcpauth_devissuer_response *resp,
                           const mcpauth__devissuer_authz *a, const char *error,
                           const char *description)
{
    resp->detail = description ? description : error;
    redirect(dev, resp, a->redirect_uri, "error", error, description, a->state);
}

/* Turns an approved request into a code and sends it to the client. */
static void issue_code(mcpauth_devissuer *dev, mcpauth__devissuer_authz *request, int64_t now,
                       mcpauth_devissuer_response *resp)
{
    char *code = mcpauth__devissuer_random_secret();
    mcpauth__devissuer_authz entry = *request;
    entry.kind = MCPAUTH__DEVISSUER_AUTHZ_CODE;
    entry.expires_at = now + dev->config->code_lifetime_seconds;
    entry.used = false;
    mcpauth__devissuer_authz *added = NULL;
    if (code) {
        mcpauth__devissuer_hash(code, entry.hash);
        entry.redirect_uri = strdup(request->redirect_uri);
        entry.state = request->state ? strdup(request->state) : NULL;
        entry.scope = strdup(request->scope);
        entry.resource = strdup(request->resource);
        added = mcpauth__devissuer_authz_add(&dev->store, &entry, now);
    }
    if (added)
        redirect(dev, resp, added->redirect_uri, "code", code, NULL, added->state);
    else
        redirect_error(dev, resp, request, "temporarily_unavailable", "too many pending codes");
    mcpauth_secret_free(code);
}

/* The host of uri, "" when it has none (a private-use scheme). Caller
 * frees. */
static char *host_of(const char *uri)
{
    mcpauth_url url;
    if (mcpauth_url_parse(uri, &url, NULL) != MCPAUTH_OK)
        return strdup("");
    char *host = strdup(url.host);
    mcpauth_url_free(&url);
    return host;
}

static void append_item(mcpauth_strbuf *sb, const char *label, const char *value)
{
    if (!value)
        return;
    mcpauth_strbuf_appends(sb, "<li>");
    mcpauth_strbuf_appends(sb, label);
    mcpauth_strbuf_appends(sb, ": <code>");
    append_html(sb, value);
    mcpauth_strbuf_appends(sb, "</code></li>");
}

static bool redirect_is_loopback(const char *uri)
{
    mcpauth_url url;
    if (mcpauth_url_parse(uri, &url, NULL) != MCPAUTH_OK)
        return false;
    bool loopback = strcmp(url.scheme, "http") == 0 && mcpauth_url_is_loopback(&url);
    mcpauth_url_free(&url);
    return loopback;
}

/* True when every redirect URI of the client is a loopback one: then any
 * program on the user's machine can claim to be this client (MCP
 * authorization §Localhost Redirect URI Risks). */
static bool loopback_only(const mcpauth__devissuer_client *client)
{
    json_object *uris;
    if (!json_object_object_get_ex(client->metadata, "redirect_uris", &uris))
        return false;
    for (size_t i = 0; i < json_object_array_length(uris); i++)
        if (!redirect_is_loopback(json_object_get_string(json_object_array_get_idx(uris, i))))
            return false;
    return true;
}

/* A document client's self-description: untrusted text, shown as such. */
static void append_document(mcpauth_strbuf *sb, const mcpauth__devissuer_client *client)
{
    char *host = host_of(client->id);
    mcpauth_strbuf_appends(sb, "<p class=\"warn\">This client is described by its metadata "
                               "document at <strong>");
    append_html(sb, host);
    mcpauth_strbuf_appends(sb, "</strong>. Its name, home page and logo are what that document "
                               "claims, not checked by this issuer.</p>\n<ul>");
    append_item(sb, "name (claimed)", mcpauth__devissuer_client_string(client, "client_name"));
    append_item(sb, "home page (claimed)", mcpauth__devissuer_client_string(client, "client_uri"));
    append_item(sb, "logo (claimed, not loaded)",
                mcpauth__devissuer_client_string(client, "logo_uri"));
    mcpauth_strbuf_appends(sb, "</ul>\n");
    free(host);
}

static void consent_page(mcpauth_devissuer *dev, const mcpauth__devissuer_client *client,
                         const mcpauth__devissuer_authz *a, const char *ticket,
                         mcpauth_devissuer_response *resp)
{
    const char *name = mcpauth__devissuer_client_string(client, "client_name");
    char *redirect_host = host_of(a->redirect_uri);
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, page_head);
    mcpauth_strbuf_appends(&sb, "<h1>Authorize ");
    append_html(&sb, name ? name : client->id);
    mcpauth_strbuf_appends(&sb, "?</h1>\n");
    if (client->document)
        append_document(&sb, client);
    if (loopback_only(client))
        mcpauth_strbuf_appends(&sb, "<p class=\"warn\">This client only redirects to this "
                                    "machine (localhost): any program running here could "
                                    "present itself as this client.</p>\n");
    mcpauth_strbuf_appends(&sb, "<p>Signed in as <strong>");
    append_html(&sb, dev->config->user);
    mcpauth_strbuf_appends(&sb, "</strong>.</p>\n<ul><li>client id: <code>");
    append_html(&sb, client->id);
    mcpauth_strbuf_appends(&sb, "</code></li><li>scope: <code>");
    append_html(&sb, a->scope);
    mcpauth_strbuf_appends(&sb, "</code></li><li>resource: <code>");
    append_html(&sb, a->resource);
    mcpauth_strbuf_appends(&sb, "</code></li><li>redirect to host: <strong>");
    append_html(&sb, redirect_host ? redirect_host : "");
    mcpauth_strbuf_appends(&sb, "</strong> (<code>");
    append_html(&sb, a->redirect_uri);
    mcpauth_strbuf_appends(&sb, "</code>)</li></ul>\n<form action=\"/authorize\" method=\"post\">"
                                "<input type=\"hidden\" name=\"ticket\" value=\"");
    append_html(&sb, ticket);
    mcpauth_strbuf_appends(&sb, "\">\n<button type=\"submit\" name=\"decision\" "
                                "value=\"approve\">Approve</button>\n<button type=\"submit\" "
                                "name=\"decision\" value=\"deny\">Deny</button>\n</form>\n"
                                "</body></html>\n");
    free(redirect_host);
    mcpauth__devissuer_respond_html(resp, 200, mcpauth_strbuf_detach(&sb));
}

/* The client's redirect URI for this request: exactly a registered one
 * (OAuth 2.1 §2.3.1), or the only one when the request names none. */
static const char *pick_redirect_uri(const mcpauth__devissuer_client *client, const char *given)
{
    json_object *uris;
    if (!json_object_object_get_ex(client->metadata, "redirect_uris", &uris))
        return NULL;
    size_t count = json_object_array_length(uris);
    if (!given)
        return count == 1 ? json_object_get_string(json_object_array_get_idx(uris, 0)) : NULL;
    for (size_t i = 0; i < count; i++) {
        const char *uri = json_object_get_string(json_object_array_get_idx(uris, i));
        if (strcmp(uri, given) == 0)
            return uri;
    }
    return NULL;
}

static bool challenge_valid(const char *challenge)
{
    /* RFC 7636 §4.2: base64url of a SHA-256 digest, 43 characters. */
    return strlen(challenge) == 43 &&
           strspn(challenge, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
               43;
}

/* The checks whose failure goes back to the client; NULL when none. */
static const char *check_request(const mcpauth_devissuer *dev,
                                 const mcpauth__devissuer_client *client, const mcpauth_form *q,
                                 const char **error)
{
    const char *response_type = mcpauth_form_get(q, "response_type");
    const char *challenge = mcpauth_form_get(q, "code_challenge");
    const char *method = mcpauth_form_get(q, "code_challenge_method");
    *error = "invalid_request";
    if (!response_type || strcmp(response_type, "code") != 0) {
        *error = "unsupported_response_type";
        return "response_type must be code";
    }
    if (!mcpauth__devissuer_client_has(client, "grant_types", "authorization_code")) {
        *error = "unauthorized_client";
        return "the client did not register the authorization_code grant";
    }
    /* OAuth 2.1 §4.1.1, MCP: PKCE is required, and only S256. */
    if (!challenge)
        return "code_challenge is required (PKCE)";
    if (!method || strcmp(method, "S256") != 0)
        return "code_challenge_method must be S256";
    if (!challenge_valid(challenge))
        return "code_challenge is not an S256 challenge";
    const char *resource = mcpauth_form_get(q, "resource");
    if (!mcpauth__devissuer_resource_known(dev, resource)) {
        *error = "invalid_target";
        return resource ? "unknown resource (RFC 8707)"
                        : "resource is required (RFC 8707; MCP clients must send it)";
    }
    return NULL;
}

/* The client an authorization request names: registered, or by a metadata
 * document URL (then held in document, released by the caller). NULL after
 * answering with a page: without a trusted client there is no trusted
 * redirect URI. *invalid is the rule a document client breaks, if any. */
static mcpauth__devissuer_client *
request_client(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req, const char *client_id,
               mcpauth__devissuer_client *document, const char **invalid,
               mcpauth_devissuer_response *resp)
{
    *invalid = NULL;
    if (!mcpauth_oauth_cimd_is_url(client_id)) {
        mcpauth__devissuer_client *client = mcpauth__devissuer_client_find(&dev->store, client_id);
        if (!client || client->builtin) {
            respond_page_error(resp, "unknown client_id");
            return NULL;
        }
        return client;
    }
    const char *problem = NULL;
    switch (mcpauth__devissuer_cimd_lookup(dev, client_id, req->now, document, &problem)) {
    case MCPAUTH__DEVISSUER_CIMD_VALID:
        return document;
    case MCPAUTH__DEVISSUER_CIMD_INVALID:
        *invalid = problem;
        return document;
    default:
        respond_page_error_as(resp, "invalid_client", problem);
        return NULL;
    }
}

static void start_authorization(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                                const mcpauth_form *q, mcpauth__devissuer_client *document,
                                mcpauth_devissuer_response *resp)
{
    const char *invalid = NULL;
    mcpauth__devissuer_client *client =
        request_client(dev, req, mcpauth_form_get(q, "client_id"), document, &invalid, resp);
    if (!client)
        return;
    const char *given_uri = mcpauth_form_get(q, "redirect_uri");
    const char *redirect_uri = pick_redirect_uri(client, given_uri);
    if (!redirect_uri) {
        respond_page_error_as(resp, "invalid_request",
                              client->document
                                  ? "redirect_uri is not one of the client metadata document's "
                                    "redirect_uris"
                                  : "redirect_uri is not one the client registered");
        return;
    }
    /* Without a person to ask, a code may only go to this machine: any web
     * page could otherwise send the browser here and collect one. */
    if (dev->config->auto_approve && !redirect_is_loopback(redirect_uri)) {
        respond_page_error(resp, "--dev-auto-approve only redirects to loopback http URIs; "
                                 "approve on the consent page instead");
        return;
    }
    const char *state = mcpauth_form_get(q, "state");
    mcpauth__devissuer_authz a = {.kind = MCPAUTH__DEVISSUER_AUTHZ_PENDING,
                                  .redirect_uri = (char *)redirect_uri,
                                  .redirect_given = given_uri != NULL,
                                  .state = (char *)state};
    const char *error = "invalid_client";
    /* The client's own document, served at its id, names this redirect URI:
     * the error about the document's other rules may go there. */
    const char *problem = invalid ? invalid : check_request(dev, client, q, &error);
    char *scope =
        problem ? NULL : mcpauth__devissuer_scope_grant(dev, mcpauth_form_get(q, "scope"));
    if (!problem && !scope) {
        error = "invalid_scope";
        problem = "a requested scope is not supported";
    }
    if (problem) {
        redirect_error(dev, resp, &a, error, problem);
        return;
    }
    memcpy(a.client_id, client->id, sizeof a.client_id);
    memcpy(a.challenge, mcpauth_form_get(q, "code_challenge"), 44);
    a.scope = scope;
    a.resource = (char *)mcpauth_form_get(q, "resource");
    if (dev->config->auto_approve) {
        issue_code(dev, &a, req->now, resp);
        free(scope);
        return;
    }
    char *ticket = mcpauth__devissuer_random_secret();
    mcpauth__devissuer_authz pending = a;
    pending.expires_at = req->now + MCPAUTH__DEVISSUER_CONSENT_SECONDS;
    pending.redirect_uri = strdup(redirect_uri);
    pending.state = state ? strdup(state) : NULL;
    pending.resource = strdup(a.resource);
    mcpauth__devissuer_authz *added = NULL;
    if (ticket) {
        mcpauth__devissuer_hash(ticket, pending.hash);
        added = mcpauth__devissuer_authz_add(&dev->store, &pending, req->now);
    } else {
        mcpauth__devissuer_authz_clear(&pending); /* its scope is scope */
    }
    if (added)
        consent_page(dev, client, added, ticket, resp);
    else
        redirect_error(dev, resp, &a, "temporarily_unavailable", "too many pending requests");
    mcpauth_secret_free(ticket);
}

/* The consent form's answer. */
static void finish_consent(mcpauth_devissuer *dev, const mcpauth_devissuer_request *req,
                           mcpauth_devissuer_response *resp)
{
    mcpauth_form form;
    const char *problem = "malformed form";
    if (req->body_length > MCPAUTH__DEVISSUER_MAX_BODY ||
        !mcpauth_form_parse(req->body, req->body_length, &form, &problem)) {
        mcpauth_form_free(&form);
        respond_page_error(resp, problem);
        return;
    }
    const char *ticket = mcpauth_form_get(&form, "ticket");
    const char *decision = mcpauth_form_get(&form, "decision");
    mcpauth__devissuer_authz *pending =
        ticket
            ? mcpauth__devissuer_authz_find(&dev->store, MCPAUTH__DEVISSUER_AUTHZ_PENDING, ticket)
            : NULL;
    if (!pending || pending->expires_at <= req->now) {
        mcpauth_form_free(&form);
        respond_page_error(resp, "this consent page has expired or was already answered");
        return;
    }
    /* Out of the table first: issuing a code may move its entries. */
    mcpauth__devissuer_authz taken = *pending;
    pending->redirect_uri = pending->state = pending->scope = pending->resource = NULL;
    mcpauth__devissuer_authz_remove(&dev->store, pending);
    if (decision && strcmp(decision, "approve") == 0)
        issue_code(dev, &taken, req->now, resp);
    else
        redirect_error(dev, resp, &taken, "access_denied", "the user denied the request");
    free(taken.redirect_uri);
    free(taken.state);
    free(taken.scope);
    free(taken.resource);
    mcpauth_form_free(&form);
}

void mcpauth__devissuer_handle_authorize(mcpauth_devissuer *dev,
                                         const mcpauth_devissuer_request *req,
                                         mcpauth_devissuer_response *resp)
{
    if (strcmp(req->method, "POST") == 0) {
        finish_consent(dev, req, resp);
        return;
    }
    if (strcmp(req->method, "GET") != 0) {
        mcpauth__devissuer_add_field(resp, "Allow", "GET, POST");
        resp->status = 405;
        return;
    }
    mcpauth_form q;
    const char *problem = "malformed query";
    const char *query = req->query;
    mcpauth__devissuer_client document = {0};
    if (!mcpauth_form_parse(query, query ? strlen(query) : 0, &q, &problem))
        respond_page_error(resp, problem);
    else
        start_authorization(dev, req, &q, &document, resp);
    mcpauth__devissuer_cimd_release(&document);
    mcpauth_form_free(&q);
}
