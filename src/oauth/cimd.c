/* The Client ID Metadata Document rules (draft-ietf-oauth-client-id-
 * metadata-document-00 §3, §4.1, §6; MCP authorization §Client ID Metadata
 * Documents), as checks an authorization server and `register --check-cimd`
 * share. */
#include "mcpauth/cimd.h"

#include <stdio.h>
#include <string.h>

#include "mcpauth/url.h"

bool mcpauth_oauth_cimd_is_url(const char *client_id)
{
    return client_id && ((strncmp(client_id, "https://", 8) == 0 && client_id[8]) ||
                         (strncmp(client_id, "http://", 7) == 0 && client_id[7]));
}

/* RFC 3986 §3.3: a "." or ".." segment anywhere in the path. */
static bool has_dot_segment(const char *path)
{
    for (const char *p = path; *p; p++) {
        if (*p != '/')
            continue;
        size_t n = strcspn(p + 1, "/");
        if ((n == 1 && p[1] == '.') || (n == 2 && p[1] == '.' && p[2] == '.'))
            return true;
    }
    return false;
}

mcpauth_status mcpauth_oauth_cimd_check_url(const char *url, bool allow_loopback_http,
                                            mcpauth_error *err)
{
    if (strlen(url) > MCPAUTH_OAUTH_CIMD_MAX_URL)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "client_id URL is longer than %d bytes",
                                 MCPAUTH_OAUTH_CIMD_MAX_URL);
    /* mcpauth_url_parse refuses userinfo, spaces and control characters. */
    mcpauth_url parsed;
    mcpauth_error parse_err = {0};
    if (mcpauth_url_parse(url, &parsed, &parse_err) != MCPAUTH_OK)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "client_id is not a usable URL: %s",
                                 parse_err.message);
    const char *problem = NULL;
    if (strcmp(parsed.scheme, "https") != 0 &&
        !(allow_loopback_http && mcpauth_url_is_loopback(&parsed)))
        problem = allow_loopback_http ? "client_id URL must use https (plain http only to a "
                                        "loopback host)"
                                      : "client_id URL must use https";
    else if (!parsed.path[0] || strcmp(parsed.path, "/") == 0)
        problem = "client_id URL must have a path";
    else if (parsed.fragment)
        problem = "client_id URL must not have a fragment";
    else if (has_dot_segment(parsed.path))
        problem = "client_id URL must not have . or .. path segments";
    mcpauth_url_free(&parsed);
    return problem ? mcpauth_error_set(err, MCPAUTH_EUSAGE, "%s", problem) : MCPAUTH_OK;
}

static const char *string_member(json_object *doc, const char *name)
{
    json_object *v;
    return json_object_object_get_ex(doc, name, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* NULL when the member is absent or every element is a string in allowed;
 * else a message in buf. */
static const char *strings_within(json_object *doc, const char *name, const char *const *allowed,
                                  size_t count, char *buf, size_t size)
{
    json_object *v;
    if (!json_object_object_get_ex(doc, name, &v))
        return NULL;
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0) {
        snprintf(buf, size, "%s must be a non-empty array of strings", name);
        return buf;
    }
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *item = json_object_array_get_idx(v, i);
        bool found = false;
        for (size_t j = 0; json_object_is_type(item, json_type_string) && j < count; j++)
            found = found || strcmp(json_object_get_string(item), allowed[j]) == 0;
        if (!found) {
            char quoted[MCPAUTH_URL_QUOTE_SIZE];
            snprintf(buf, size, "%s may hold only %s%s%s; not %s", name, allowed[0],
                     count > 1 ? " and " : "", count > 1 ? allowed[1] : "",
                     mcpauth_url_quote(json_object_is_type(item, json_type_string)
                                           ? json_object_get_string(item)
                                           : json_object_to_json_string(item),
                                       quoted, sizeof quoted));
            return buf;
        }
    }
    return NULL;
}

static const char *check_redirect_uris(json_object *doc, char *buf, size_t size)
{
    json_object *v;
    if (!json_object_object_get_ex(doc, "redirect_uris", &v) ||
        !json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
        return "no redirect_uris array with at least one URI (MCP requires it; servers match "
               "the request's redirect_uri against it)";
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *item = json_object_array_get_idx(v, i);
        mcpauth_error err = {0};
        if (!json_object_is_type(item, json_type_string)) {
            snprintf(buf, size, "redirect_uris[%zu] is not a string", i);
            return buf;
        }
        if (mcpauth_url_check_redirect_uri(json_object_get_string(item), &err) != MCPAUTH_OK) {
            snprintf(buf, size, "%s", err.message);
            return buf;
        }
    }
    return NULL;
}

/* §4.1: simple string comparison (RFC 3986 §6.2.1), no normalisation: a
 * trailing '/' or an upper-case host is another id. By length too: a JSON
 * string may hold a NUL ("\u0000") after a matching prefix. */
static const char *check_client_id(const char *url, json_object *doc, char *buf, size_t size)
{
    char want[MCPAUTH_URL_QUOTE_SIZE], got[MCPAUTH_URL_QUOTE_SIZE];
    json_object *member = NULL;
    json_object_object_get_ex(doc, "client_id", &member);
    mcpauth_url_quote(url, want, sizeof want);
    if (!json_object_is_type(member, json_type_string)) {
        snprintf(buf, size, "no client_id string (it must be %s)", want);
        return buf;
    }
    const char *id = json_object_get_string(member);
    if ((size_t)json_object_get_string_len(member) != strlen(url) ||
        memcmp(id, url, strlen(url)) != 0) {
        snprintf(buf, size, "client_id %s is not the document's URL %s byte for byte",
                 mcpauth_url_quote(id, got, sizeof got), want);
        return buf;
    }
    return NULL;
}

/* §4.1: there is no way to share a secret with a document's client. The
 * value is never echoed: the document may leak a real secret. */
static const char *check_no_secret(json_object *doc, char *buf, size_t size)
{
    static const char *const secrets[] = {"client_secret", "client_secret_expires_at"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        if (json_object_object_get_ex(doc, secrets[i], NULL)) {
            snprintf(buf, size,
                     "the document has %s (draft §4.1 forbids it; a public document cannot keep "
                     "a secret: revoke it)",
                     secrets[i]);
            return buf;
        }
    }
    return NULL;
}

void mcpauth_oauth_cimd_each_check(const char *url, json_object *doc,
                                   mcpauth_oauth_cimd_check_cb cb, void *data)
{
    char buf[512];
    bool object = doc && json_object_is_type(doc, json_type_object);
    const char *problem = object ? NULL : "the document is not a JSON object";
    if (!cb("json-object", MCPAUTH_OAUTH_CIMD_FOREIGN, problem, data) || !object)
        return;
    if (!cb("client-id-matches", MCPAUTH_OAUTH_CIMD_FOREIGN,
            check_client_id(url, doc, buf, sizeof buf), data))
        return;
    if (!cb("redirect-uris", MCPAUTH_OAUTH_CIMD_FOREIGN, check_redirect_uris(doc, buf, sizeof buf),
            data))
        return;
    /* MCP: client_id, client_name and redirect_uris are required; users see
     * the name. */
    const char *name = string_member(doc, "client_name");
    problem = name && *name ? NULL : "no client_name string (MCP requires one: users see it)";
    if (!cb("client-name", MCPAUTH_OAUTH_CIMD_INVALID, problem, data))
        return;
    if (!cb("no-client-secret", MCPAUTH_OAUTH_CIMD_INVALID, check_no_secret(doc, buf, sizeof buf),
            data))
        return;
    /* Absent means "none" here: a public client. private_key_jwt is not
     * supported, and the shared-secret methods are forbidden (§4.1). */
    static const char *const none[] = {"none"};
    problem = json_object_object_get_ex(doc, "token_endpoint_auth_method", NULL) &&
                      (!string_member(doc, "token_endpoint_auth_method") ||
                       strcmp(string_member(doc, "token_endpoint_auth_method"), none[0]) != 0)
                  ? "token_endpoint_auth_method must be none (a public client)"
                  : NULL;
    if (!cb("auth-method", MCPAUTH_OAUTH_CIMD_INVALID, problem, data))
        return;
    static const char *const grants[] = {"authorization_code", "refresh_token"};
    if (!cb("grant-types", MCPAUTH_OAUTH_CIMD_INVALID,
            strings_within(doc, "grant_types", grants, 2, buf, sizeof buf), data))
        return;
    static const char *const code[] = {"code"};
    cb("response-types", MCPAUTH_OAUTH_CIMD_INVALID,
       strings_within(doc, "response_types", code, 1, buf, sizeof buf), data);
}

typedef struct first_failure {
    mcpauth_oauth_cimd_verdict verdict;
    const char *check;
    char *problem;
    size_t size;
} first_failure;

static bool keep_first(const char *check, mcpauth_oauth_cimd_verdict verdict, const char *problem,
                       void *data)
{
    first_failure *f = data;
    if (!problem)
        return true;
    f->verdict = verdict;
    f->check = check;
    snprintf(f->problem, f->size, "%s", problem);
    return false;
}

/* One JSON value and nothing after it but white space; NULL otherwise. */
static json_object *parse(const char *text, size_t length)
{
    json_tokener *tok = json_tokener_new();
    json_object *doc = tok ? json_tokener_parse_ex(tok, text, (int)length) : NULL;
    if (doc && json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(doc);
        doc = NULL;
    }
    for (size_t i = doc ? json_tokener_get_parse_end(tok) : length; i < length; i++)
        if (!strchr(" \t\r\n", text[i]) || !text[i]) {
            json_object_put(doc);
            doc = NULL;
            break;
        }
    json_tokener_free(tok);
    return doc;
}

mcpauth_oauth_cimd_verdict mcpauth_oauth_cimd_check_document(const char *url, const char *text,
                                                             size_t length, json_object **out,
                                                             const char **check, char *problem,
                                                             size_t size)
{
    *out = NULL;
    first_failure f = {MCPAUTH_OAUTH_CIMD_VALID, NULL, problem, size};
    json_object *doc = length <= MCPAUTH_OAUTH_CIMD_MAX_DOCUMENT ? parse(text, length) : NULL;
    if (!doc) {
        f.verdict = MCPAUTH_OAUTH_CIMD_FOREIGN;
        f.check = "json-object";
        if (length > MCPAUTH_OAUTH_CIMD_MAX_DOCUMENT)
            snprintf(problem, size, "the document is larger than %d bytes",
                     MCPAUTH_OAUTH_CIMD_MAX_DOCUMENT);
        else
            snprintf(problem, size, "the document is not valid JSON");
    } else {
        mcpauth_oauth_cimd_each_check(url, doc, keep_first, &f);
    }
    if (check)
        *check = f.check;
    if (f.verdict != MCPAUTH_OAUTH_CIMD_FOREIGN)
        *out = doc;
    else
        json_object_put(doc);
    return f.verdict;
}
