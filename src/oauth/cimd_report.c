/* The client's checks of a Client ID Metadata Document: what the
 * authorization server will verify when a client_id is an https URL
 * (draft-ietf-oauth-client-id-metadata-document §3, §4; MCP 2026-07-28
 * Client Registration §Client ID Metadata Documents), named one by one so
 * that a client learns which rule its hosted document breaks before a user
 * meets the error. */
#include "mcpauth/cimd_report.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mcpauth/cimd.h"
#include "mcpauth/client_metadata.h"
#include "mcpauth/discovery.h"
#include "mcpauth/json.h"
#include "mcpauth/url.h"

#define DETAIL_MAX 512

const char *mcpauth_oauth_cimd_report_verdict_name(mcpauth_oauth_cimd_report_verdict verdict)
{
    switch (verdict) {
    case MCPAUTH_OAUTH_CIMD_REPORT_PASS:
        return "PASS";
    case MCPAUTH_OAUTH_CIMD_REPORT_FAIL:
        return "FAIL";
    case MCPAUTH_OAUTH_CIMD_REPORT_SKIP:
        return "SKIP";
    }
    return "?";
}

static void report(mcpauth_oauth_cimd_report *r, const char *name,
                   mcpauth_oauth_cimd_report_verdict verdict, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(mcpauth_oauth_cimd_report *r, const char *name,
                   mcpauth_oauth_cimd_report_verdict verdict, const char *fmt, ...)
{
    char detail[DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (verdict == MCPAUTH_OAUTH_CIMD_REPORT_PASS)
        r->passed++;
    else if (verdict == MCPAUTH_OAUTH_CIMD_REPORT_FAIL)
        r->failed++;
    else
        r->skipped++;
    if (r->cb) {
        mcpauth_oauth_cimd_report_result result = {name, verdict, detail};
        r->cb(&result, r->data);
    }
}

#define PASS MCPAUTH_OAUTH_CIMD_REPORT_PASS
#define FAIL MCPAUTH_OAUTH_CIMD_REPORT_FAIL
#define SKIP MCPAUTH_OAUTH_CIMD_REPORT_SKIP

/* ---- the client id URL ---- */

/* True when path has a "." or ".." segment (the draft's §3 forbids them:
 * they make two URLs name one document). */
static bool has_dot_segment(const char *path)
{
    for (const char *p = path; *p;) {
        const char *segment = p + 1;
        const char *end = strchr(segment, '/');
        size_t length = end ? (size_t)(end - segment) : strlen(segment);
        if ((length == 1 && segment[0] == '.') || (length == 2 && strncmp(segment, "..", 2) == 0))
            return true;
        if (!end)
            break;
        p = end;
    }
    return false;
}

void mcpauth_oauth_cimd_report_url(mcpauth_oauth_cimd_report *r, const char *url)
{
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    mcpauth_url_quote(url, quoted, sizeof quoted);
    /* Scheme compared as written: the client_id is compared byte for byte,
     * so "HTTPS://" would be a different, non-https-looking identifier. */
    if (strncmp(url, "https://", 8) == 0)
        report(r, "https", PASS, "the client id is an https URL");
    else if (strncasecmp(url, "https://", 8) == 0)
        report(r, "https", FAIL,
               "%s: write the scheme in lower case; servers that normalise the URL they "
               "fetch would no longer find it equal to the client_id",
               quoted);
    else
        report(r, "https", FAIL,
               "%s is not an https:// URL (draft §3: the client id MUST use https)", quoted);

    mcpauth_url parsed;
    mcpauth_error err;
    if (mcpauth_url_parse(url, &parsed, &err) != MCPAUTH_OK) {
        report(r, "client-id-url", FAIL, "%s", err.message);
        return;
    }
    if (parsed.path[0] == '\0' || strcmp(parsed.path, "/") == 0)
        report(r, "client-id-url", FAIL, "%s has no path (draft §3 and MCP: e.g. /client.json)",
               quoted);
    else if (parsed.fragment)
        report(r, "client-id-url", FAIL, "%s has a fragment (draft §3 forbids one)", quoted);
    else if (has_dot_segment(parsed.path))
        report(r, "client-id-url", FAIL, "%s has a \".\" or \"..\" path segment (draft §3)",
               quoted);
    else
        report(r, "client-id-url", PASS, "%s%s", quoted,
               parsed.query ? " (a query is allowed but discouraged, draft §3)" : "");
    mcpauth_url_free(&parsed);
}

/* ---- the answer to GET ---- */

json_object *mcpauth_oauth_cimd_report_response(mcpauth_oauth_cimd_report *r, const char *url,
                                                const mcpauth_http_response *resp)
{
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    if (resp->url && strcmp(resp->url, url) != 0)
        report(r, "no-redirect", FAIL,
               "redirected to %s; authorization servers do not follow redirects (draft §4)",
               mcpauth_url_quote(resp->url, quoted, sizeof quoted));
    else
        report(r, "no-redirect", PASS, "answered without a redirect");

    if (resp->status == 200)
        report(r, "status-200", PASS, "HTTP 200");
    else
        report(r, "status-200", FAIL, "HTTP %ld, not 200 (draft §4: any other status is an error)",
               resp->status);

    const char *type = mcpauth_http_response_header(resp, "Content-Type", 0);
    if (mcpauth_http_response_is_json(resp))
        report(r, "content-type", PASS, "%s", mcpauth_url_quote(type, quoted, sizeof quoted));
    else
        report(r, "content-type", FAIL, "%s, not application/json (draft §4)",
               type ? mcpauth_url_quote(type, quoted, sizeof quoted) : "no Content-Type");

    if (resp->body_length <= MCPAUTH_OAUTH_CIMD_REPORT_MAX_BYTES)
        report(r, "size", PASS, "%zu bytes (limit %d)", resp->body_length,
               MCPAUTH_OAUTH_CIMD_REPORT_MAX_BYTES);
    else
        report(r, "size", FAIL, "%zu bytes, over the %d-byte limit servers apply (draft §6)",
               resp->body_length, MCPAUTH_OAUTH_CIMD_REPORT_MAX_BYTES);

    mcpauth_error err = {0};
    json_object *doc =
        mcpauth_json_parse_object(resp->body, resp->body_length, "the document", &err);
    if (doc)
        report(r, "json-object", PASS, "a JSON object");
    else
        report(r, "json-object", FAIL, "%s", err.message);
    return doc;
}

/* ---- the document ---- */

static const char *const document_checks[] = {"client-id", "redirect-uris", "client-name",
                                              "no-secret", "auth-method",   "metadata"};

/* The rules an authorization server applies to every document are
 * cimd.c's (one set, the dev issuer's too), reported under this tool's
 * names; the authentication method is judged here, since a server may take
 * private_key_jwt as well as none (the server checks below say which). */
typedef struct shared_rule {
    mcpauth_oauth_cimd_report *report;
    json_object *doc;
} shared_rule;

static bool report_rule(const char *check, mcpauth_oauth_cimd_verdict verdict, const char *problem,
                        void *data)
{
    (void)verdict;
    static const char *const names[][2] = {{"client-id-matches", "client-id"},
                                           {"redirect-uris", "redirect-uris"},
                                           {"client-name", "client-name"},
                                           {"no-client-secret", "no-secret"}};
    shared_rule *rule = data;
    const char *name = NULL;
    for (size_t i = 0; !name && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(check, names[i][0]) == 0)
            name = names[i][1];
    if (!name)
        return true; /* json-object: the response checks said it; the rest: below */
    if (problem) {
        report(rule->report, name, FAIL, "%s", problem);
        return true;
    }
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    json_object *uris = NULL;
    json_object_object_get_ex(rule->doc, "redirect_uris", &uris);
    if (strcmp(name, "client-id") == 0)
        report(rule->report, name, PASS, "client_id is the document's URL");
    else if (strcmp(name, "redirect-uris") == 0)
        report(rule->report, name, PASS, "%zu redirect URI%s", json_object_array_length(uris),
               json_object_array_length(uris) == 1 ? "" : "s");
    else if (strcmp(name, "client-name") == 0)
        report(rule->report, name, PASS, "%s",
               mcpauth_url_quote(mcpauth_json_string(rule->doc, "client_name"), quoted,
                                 sizeof quoted));
    else
        report(rule->report, name, PASS, "no client_secret");
    return true;
}

static void check_auth_method(mcpauth_oauth_cimd_report *r, json_object *doc)
{
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    json_object *member = NULL;
    if (!json_object_object_get_ex(doc, "token_endpoint_auth_method", &member)) {
        report(r, "auth-method", FAIL,
               "no token_endpoint_auth_method, which RFC 7591 §2 makes client_secret_basic, a "
               "shared secret a metadata document cannot have: say \"none\"");
        return;
    }
    const char *method = json_object_get_string(member);
    if (!json_object_is_type(member, json_type_string)) {
        report(r, "auth-method", FAIL, "token_endpoint_auth_method is not a string");
    } else if (strcmp(method, "none") == 0) {
        report(r, "auth-method", PASS, "none (a public client; PKCE protects the code)");
    } else if (strcmp(method, "private_key_jwt") == 0) {
        /* MCP §Client ID Metadata Documents: private_key_jwt with the
         * document's keys (draft §6.2). */
        if (json_object_object_get_ex(doc, "jwks", NULL) ||
            json_object_object_get_ex(doc, "jwks_uri", NULL))
            report(r, "auth-method", PASS, "private_key_jwt with the document's keys");
        else
            report(r, "auth-method", FAIL,
                   "private_key_jwt without jwks or jwks_uri: the server "
                   "has no key to check the client's assertion with");
    } else {
        report(r, "auth-method", FAIL,
               "token_endpoint_auth_method %s: a metadata document cannot establish a shared "
               "secret (draft §4.1); use none or private_key_jwt",
               mcpauth_url_quote(method, quoted, sizeof quoted));
    }
}

void mcpauth_oauth_cimd_report_document(mcpauth_oauth_cimd_report *r, const char *url,
                                        json_object *doc)
{
    if (!doc) {
        for (size_t i = 0; i < sizeof document_checks / sizeof document_checks[0]; i++)
            report(r, document_checks[i], SKIP, "no document");
        return;
    }
    shared_rule rule = {r, doc};
    mcpauth_oauth_cimd_each_check(url, doc, report_rule, &rule);
    check_auth_method(r, doc);
    mcpauth_error err = {0};
    if (mcpauth_client_metadata_validate(doc, &err) == MCPAUTH_OK)
        report(r, "metadata", PASS, "RFC 7591 §2 member types and values");
    else
        report(r, "metadata", FAIL, "%s", err.message);
}

/* ---- the authorization server ---- */

static const char *const server_checks[] = {"as-cimd-supported", "as-auth-method", "as-grant-types",
                                            "as-response-types", "as-pkce-s256"};

/* The document's list key, or one default value when it has none. */
static json_object *list_or_default(json_object *doc, const char *key, const char *fallback,
                                    json_object **owned)
{
    json_object *list = NULL;
    *owned = NULL;
    if (json_object_object_get_ex(doc, key, &list) && json_object_is_type(list, json_type_array))
        return list;
    *owned = json_object_new_array();
    if (*owned)
        json_object_array_add(*owned, json_object_new_string(fallback));
    return *owned;
}

/* True when as's member key lists value; an absent member means the RFC
 * 8414 §2 defaults (defaults, NULL-terminated; NULL when none). */
static bool server_lists(json_object *as, const char *key, const char *value,
                         const char *const *defaults)
{
    if (json_object_object_get_ex(as, key, NULL))
        return mcpauth_json_array_has(as, key, value);
    for (; defaults && *defaults; defaults++) {
        if (strcmp(*defaults, value) == 0)
            return true;
    }
    return false;
}

/* Each string of the document's list key (or doc_default) must be listed by
 * the server's as_key (or its RFC 8414 defaults). */
static void check_listed(mcpauth_oauth_cimd_report *r, const char *name, json_object *doc,
                         const char *key, const char *doc_default, json_object *as,
                         const char *as_key, const char *const *as_defaults)
{
    json_object *owned;
    json_object *list = list_or_default(doc, key, doc_default, &owned);
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    size_t count = list ? json_object_array_length(list) : 0;
    for (size_t i = 0; i < count; i++) {
        const char *value = json_object_get_string(json_object_array_get_idx(list, i));
        if (value && !server_lists(as, as_key, value, as_defaults)) {
            report(r, name, FAIL, "%s %s is not in the server's %s%s", key,
                   mcpauth_url_quote(value, quoted, sizeof quoted), as_key,
                   json_object_object_get_ex(as, as_key, NULL) ? ""
                                                               : " (absent: RFC 8414 §2 defaults)");
            json_object_put(owned);
            return;
        }
    }
    report(r, name, PASS, "the server lists every %s value", key);
    json_object_put(owned);
}

void mcpauth_oauth_cimd_report_server(mcpauth_oauth_cimd_report *r, json_object *doc,
                                      json_object *as)
{
    static const char *const auth_defaults[] = {"client_secret_basic", NULL};
    static const char *const grant_defaults[] = {"authorization_code", "implicit", NULL};
    if (!as) {
        for (size_t i = 0; i < sizeof server_checks / sizeof server_checks[0]; i++)
            report(r, server_checks[i], SKIP, "no authorization server metadata");
        return;
    }
    if (mcpauth_json_true(as, "client_id_metadata_document_supported"))
        report(r, "as-cimd-supported", PASS, "client_id_metadata_document_supported: true");
    else
        report(r, "as-cimd-supported", FAIL,
               "the server's metadata lacks client_id_metadata_document_supported: true (MCP "
               "§Advertising CIMD Support): it will not fetch the document");
    if (!doc) {
        for (size_t i = 1; i < sizeof server_checks / sizeof server_checks[0]; i++)
            report(r, server_checks[i], SKIP, "no document");
        return;
    }
    json_object *method = NULL;
    json_object_object_get_ex(doc, "token_endpoint_auth_method", &method);
    const char *method_name = json_object_is_type(method, json_type_string)
                                  ? json_object_get_string(method)
                                  : "client_secret_basic";
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    if (server_lists(as, "token_endpoint_auth_methods_supported", method_name, auth_defaults))
        report(r, "as-auth-method", PASS, "the server accepts %s",
               mcpauth_url_quote(method_name, quoted, sizeof quoted));
    else
        report(r, "as-auth-method", FAIL,
               "%s is not in the server's "
               "token_endpoint_auth_methods_supported%s",
               mcpauth_url_quote(method_name, quoted, sizeof quoted),
               json_object_object_get_ex(as, "token_endpoint_auth_methods_supported", NULL)
                   ? ""
                   : " (absent: RFC 8414 §2 means client_secret_basic only)");
    check_listed(r, "as-grant-types", doc, "grant_types", "authorization_code", as,
                 "grant_types_supported", grant_defaults);
    /* response_types_supported is REQUIRED (RFC 8414 §2): no defaults. */
    check_listed(r, "as-response-types", doc, "response_types", "code", as,
                 "response_types_supported", NULL);
    if (mcpauth_json_array_has(as, "code_challenge_methods_supported", "S256"))
        report(r, "as-pkce-s256", PASS, "code_challenge_methods_supported lists S256");
    else
        report(r, "as-pkce-s256", FAIL,
               "code_challenge_methods_supported does not list S256: MCP clients must refuse "
               "such a server (MCP Authorization §Authorization Code Protection)");
}

/* ---- all of it ---- */

static const char *const response_checks[] = {"no-redirect", "status-200", "content-type", "size",
                                              "json-object"};

static json_object *fetch(const mcpauth_http_options *opts, const char *url,
                          mcpauth_oauth_cimd_report *r)
{
    mcpauth_error err = {0};
    mcpauth_http_response resp = {0};
    mcpauth_http_request req = {.method = "GET", .url = url, .accept = "application/json"};
    if (mcpauth_http_perform(opts, &req, &resp, &err) != MCPAUTH_OK) {
        report(r, "fetch", FAIL, "%s", err.message);
        for (size_t i = 0; i < sizeof response_checks / sizeof response_checks[0]; i++)
            report(r, response_checks[i], SKIP, "nothing fetched");
        return NULL;
    }
    report(r, "fetch", PASS, "GET answered");
    json_object *doc = mcpauth_oauth_cimd_report_response(r, url, &resp);
    mcpauth_http_response_free(&resp);
    return doc;
}

void mcpauth_oauth_cimd_report_run(const mcpauth_http_options *opts, const char *url,
                                   const char *issuer, const char *resource_url,
                                   mcpauth_oauth_cimd_report *r)
{
    mcpauth_oauth_cimd_report_url(r, url);
    json_object *doc = fetch(opts, url, r);
    mcpauth_oauth_cimd_report_document(r, url, doc);

    mcpauth_resource_metadata prm = {0};
    mcpauth_as_metadata md = {0};
    mcpauth_error err = {0};
    mcpauth_status st = MCPAUTH_OK;
    if (!issuer) {
        st = mcpauth_discover_resource(opts, resource_url, &prm, &err);
        issuer = prm.authorization_server;
    }
    if (st == MCPAUTH_OK)
        st = mcpauth_discover_issuer(opts, issuer, &md, &err);
    if (st == MCPAUTH_OK)
        report(r, "as-metadata", PASS, "found at %s", md.metadata_url);
    else
        report(r, "as-metadata", FAIL, "%s", err.message);
    mcpauth_oauth_cimd_report_server(r, doc, md.document);
    mcpauth_as_metadata_free(&md);
    mcpauth_resource_metadata_free(&prm);
    json_object_put(doc);
}

mcpauth_status mcpauth_oauth_cimd_report_fill(json_object *doc, const char *url, mcpauth_error *err)
{
    static const struct {
        const char *key;
        const char *value;
    } fills[] = {{"client_id", NULL}, {"token_endpoint_auth_method", "none"}};
    for (size_t i = 0; i < sizeof fills / sizeof fills[0]; i++) {
        if (json_object_object_get_ex(doc, fills[i].key, NULL))
            continue;
        json_object *value = json_object_new_string(fills[i].value ? fills[i].value : url);
        if (!value || json_object_object_add(doc, fills[i].key, value) != 0) {
            json_object_put(value);
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        }
    }
    return MCPAUTH_OK;
}
