/* What a client without a token learns from the server. An
 * initialize without credentials must get 401 with a Bearer challenge whose
 * resource_metadata is an absolute URL and which has no error code (RFC
 * 6750 §3.1); the document there must name this very MCP URL and at least
 * one authorization server (RFC 9728 §3.3, MCP); and the well-known URLs
 * clients fall back to must agree. */
#include <stdlib.h>
#include <string.h>

#include "mcpauth/json.h"
#include "mcpauth/url.h"
#include "probe_internal.h"

static const char *quote(const char *text, char buf[MCPAUTH_URL_QUOTE_SIZE])
{
    return mcpauth_url_quote(text ? text : "", buf, MCPAUTH_URL_QUOTE_SIZE);
}

mcpauth_status mcpauth__probe_no_token_401(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                           mcpauth_error *err)
{
    mcpauth__probe_request r = {.body = mcpauth__probe_initialize_body};
    if (mcpauth__probe_send(s, &r, &s->no_token, err) != MCPAUTH_OK)
        return mcpauth__probe_request_failed(c, "initialize without a token", err);
    s->have_no_token = true;
    mcpauth__probe_keep_session(s, &s->no_token); /* a server that lets anyone in may open one */
    long status = s->no_token.status;
    char shown[64];
    mcpauth__probe_status_text(status, shown, sizeof shown);
    if (status == 401)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "initialize without a token: %s", shown);
    else if (status >= 200 && status <= 299)
        mcpauth__probe_verdict(
            c, MCPAUTH_PROBE_FAIL,
            "initialize without a token: %s: the server does not require a token", shown);
    else
        mcpauth__probe_verdict(
            c, MCPAUTH_PROBE_FAIL,
            "initialize without a token: %s, not 401 (MCP: a missing token gets 401)", shown);
    return MCPAUTH_OK;
}

/* RFC 9728 §5.1: resource_metadata is an absolute URL; clients fetch it
 * under the same transport rules as anything else. */
static bool usable_metadata_url(mcpauth__probe_state *s, const char *value, mcpauth_probe_check *c)
{
    char q[MCPAUTH_URL_QUOTE_SIZE];
    mcpauth_error why;
    mcpauth_url url;
    if (mcpauth_url_parse(value, &url, &why) != MCPAUTH_OK) {
        mcpauth__probe_verdict(
            c, MCPAUTH_PROBE_FAIL,
            "resource_metadata %s is not an absolute http(s) URL (RFC 9728 §5.1): %s",
            quote(value, q), why.message);
        return false;
    }
    mcpauth_url_free(&url);
    if (mcpauth_http_check_url(s->opts, value, &why) != MCPAUTH_OK) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "resource_metadata %s: %s", quote(value, q),
                               why.message);
        return false;
    }
    return true;
}

mcpauth_status mcpauth__probe_no_token_challenge(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                                 mcpauth_error *err)
{
    char q[MCPAUTH_URL_QUOTE_SIZE];
    if (!s->have_no_token || s->no_token.status != 401) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP, "no 401 to read a challenge from");
        return MCPAUTH_OK;
    }
    bool syntax_error = false;
    s->no_token_bearer =
        mcpauth__probe_bearer_challenge(&s->no_token, &s->no_token_challenges, &syntax_error);
    const mcpauth_challenge *bearer = s->no_token_bearer;
    if (!mcpauth_http_response_header(&s->no_token, "WWW-Authenticate", 0)) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "the 401 has no WWW-Authenticate (RFC 6750 §3)");
        return MCPAUTH_OK;
    }
    if (!bearer) {
        mcpauth__probe_verdict(
            c, MCPAUTH_PROBE_FAIL, "no Bearer challenge in WWW-Authenticate %s%s",
            quote(mcpauth_http_response_header(&s->no_token, "WWW-Authenticate", 0), q),
            syntax_error ? " (which does not parse)" : "");
        return MCPAUTH_OK;
    }
    const char *metadata = mcpauth_challenge_param(bearer, "resource_metadata");
    if (!metadata) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "the Bearer challenge has no resource_metadata (RFC 9728 §5.1)");
        return MCPAUTH_OK;
    }
    if (!usable_metadata_url(s, metadata, c))
        return MCPAUTH_OK;
    if (!(s->header_metadata_url = strdup(metadata)))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    const char *scope = mcpauth_challenge_param(bearer, "scope");
    char q_scope[MCPAUTH_URL_QUOTE_SIZE];
    mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "Bearer resource_metadata=%s%s%s",
                           quote(metadata, q), scope ? " scope=" : "",
                           scope ? quote(scope, q_scope) : "");
    return MCPAUTH_OK;
}

mcpauth_status mcpauth__probe_no_token_no_error(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                                mcpauth_error *err)
{
    (void)err;
    const mcpauth_challenge *bearer = s->no_token_bearer;
    if (!bearer) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP, "no Bearer challenge to read");
        return MCPAUTH_OK;
    }
    /* RFC 6750 §3.1: a request without credentials SHOULD NOT be told an
     * error code; clients take invalid_token as "your token is bad". */
    const char *error = mcpauth_challenge_param(bearer, "error");
    char q[MCPAUTH_URL_QUOTE_SIZE];
    if (error)
        mcpauth__probe_verdict(
            c, MCPAUTH_PROBE_FAIL,
            "the challenge to a request without a token has error=%s (RFC 6750 §3.1: "
            "no error code when no credentials were sent)",
            quote(error, q));
    else
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "no error code");
    return MCPAUTH_OK;
}

/* GETs a metadata document: a 200 JSON object, served as JSON (RFC 9728
 * §3.2). *doc NULL with the verdict set when it is not; *status is the
 * HTTP status (0 when the request failed). */
static mcpauth_status fetch_metadata(mcpauth__probe_state *s, const char *url,
                                     mcpauth_probe_check *c, json_object **doc, long *status,
                                     mcpauth_error *err)
{
    char q[MCPAUTH_URL_QUOTE_SIZE];
    char shown[64];
    mcpauth_http_response resp;
    *doc = NULL;
    *status = 0;
    if (mcpauth__probe_get(s, url, &resp, err) != MCPAUTH_OK)
        return mcpauth__probe_request_failed(c, quote(url, q), err);
    *status = resp.status;
    mcpauth_error parse_err;
    if (resp.status != 200)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "%s at %s",
                               mcpauth__probe_status_text(resp.status, shown, sizeof shown),
                               quote(url, q));
    else if (!(*doc = mcpauth_json_parse_object(resp.body, resp.body_length, "the document",
                                                &parse_err)))
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "%s: %s", quote(url, q), parse_err.message);
    else if (!mcpauth_http_response_is_json(&resp)) {
        const char *type = mcpauth_http_response_header(&resp, "Content-Type", 0);
        char q_type[MCPAUTH_URL_QUOTE_SIZE];
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "%s is served as %s, not application/json (RFC 9728 §3.2)",
                               quote(url, q), type ? quote(type, q_type) : "(no Content-Type)");
        json_object_put(*doc);
        *doc = NULL;
    }
    mcpauth_http_response_free(&resp);
    return MCPAUTH_OK;
}

mcpauth_status mcpauth__probe_metadata_document(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                                mcpauth_error *err)
{
    if (!s->header_metadata_url) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP,
                               "no usable resource_metadata URL in the challenge");
        return MCPAUTH_OK;
    }
    long status;
    mcpauth_status st = fetch_metadata(s, s->header_metadata_url, c, &s->metadata, &status, err);
    char q[MCPAUTH_URL_QUOTE_SIZE];
    if (st == MCPAUTH_OK && s->metadata)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "HTTP 200 application/json at %s",
                               quote(s->header_metadata_url, q));
    return st;
}

/* RFC 9728 §3.3: identical, code point for code point; a trailing '/' is a
 * different resource (MCP Authorization "Canonical Server URI"), and the
 * most common mistake. */
static void describe_resource_mismatch(const char *resource, const char *expected, const char *what,
                                       mcpauth_probe_check *c)
{
    char q_resource[MCPAUTH_URL_QUOTE_SIZE], q_expected[MCPAUTH_URL_QUOTE_SIZE];
    size_t lr = strlen(resource), le = strlen(expected);
    const char *hint = "";
    if (lr == le + 1 && resource[le] == '/' && strncmp(resource, expected, le) == 0)
        hint = " (a trailing slash too many)";
    else if (le == lr + 1 && expected[lr] == '/' && strncmp(resource, expected, lr) == 0)
        hint = " (a trailing slash missing)";
    mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                           "resource %s is not %s %s%s (RFC 9728 §3.3: they must be identical)",
                           quote(resource, q_resource), what, quote(expected, q_expected), hint);
}

mcpauth_status mcpauth__probe_metadata_resource(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                                mcpauth_error *err)
{
    (void)err;
    if (!s->metadata) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP, "no metadata document");
        return MCPAUTH_OK;
    }
    const char *resource = mcpauth_json_string(s->metadata, "resource");
    if (!resource)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "no \"resource\" string (RFC 9728 §2)");
    else if (strcmp(resource, s->config->resource_url) != 0)
        describe_resource_mismatch(resource, s->config->resource_url, "the MCP URL", c);
    else
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "resource is the MCP URL");
    return MCPAUTH_OK;
}

/* MCP 2025-11-25 §Authorization Server Location: a non-empty array of
 * issuer identifiers (RFC 9728 §2 itself makes it optional). On success
 * *first is a copy of the first entry, and summary lists them. */
static bool read_authorization_servers(json_object *doc, mcpauth_probe_check *c, char **first,
                                       char *summary, size_t size)
{
    json_object *servers = NULL;
    char q[MCPAUTH_URL_QUOTE_SIZE];
    if (!json_object_object_get_ex(doc, "authorization_servers", &servers) ||
        !json_object_is_type(servers, json_type_array) || json_object_array_length(servers) == 0) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "no non-empty \"authorization_servers\" array (required by MCP)");
        return false;
    }
    size_t count = json_object_array_length(servers), used = 0;
    summary[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        json_object *entry = json_object_array_get_idx(servers, i);
        mcpauth_url url;
        mcpauth_error why;
        if (!json_object_is_type(entry, json_type_string) ||
            mcpauth_url_parse(json_object_get_string(entry), &url, &why) != MCPAUTH_OK) {
            mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                                   "authorization_servers[%zu] is not an issuer URL (RFC 8414 §2)",
                                   i);
            return false;
        }
        mcpauth_url_free(&url);
        const char *text = json_object_get_string(entry);
        int n = snprintf(summary + used, size - used, "%s%s", i ? ", " : "", quote(text, q));
        if (n > 0 && (size_t)n < size - used)
            used += (size_t)n;
    }
    *first = strdup(json_object_get_string(json_object_array_get_idx(servers, 0)));
    return *first != NULL;
}

mcpauth_status mcpauth__probe_metadata_authorization_servers(mcpauth__probe_state *s,
                                                             mcpauth_probe_check *c,
                                                             mcpauth_error *err)
{
    if (!s->metadata) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP, "no metadata document");
        return MCPAUTH_OK;
    }
    char summary[MCPAUTH_PROBE_DETAIL_MAX - 32];
    if (!read_authorization_servers(s->metadata, c, &s->issuer, summary, sizeof summary)) {
        if (c->verdict != MCPAUTH_PROBE_FAIL)
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        return MCPAUTH_OK;
    }
    mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "%s", summary);
    return MCPAUTH_OK;
}

mcpauth_status mcpauth__probe_metadata_path_inserted(mcpauth__probe_state *s,
                                                     mcpauth_probe_check *c, mcpauth_error *err)
{
    char q[MCPAUTH_URL_QUOTE_SIZE];
    const char *url = s->path_metadata_url;
    long status;
    json_object *doc = NULL;
    mcpauth_status st = fetch_metadata(s, url, c, &doc, &status, err);
    if (st != MCPAUTH_OK || !status)
        return st;
    /* MCP 2025-11-25 lets a server offer the challenge's URL or the
     * well-known one; with a good challenge, a missing document here only
     * strands clients that ignore the challenge. */
    if (!doc && status >= 400 && status <= 499 && s->metadata)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_WARN,
                               "HTTP %ld at %s: only clients that read resource_metadata from the "
                               "challenge find the metadata",
                               status, quote(url, q));
    if (!doc)
        return MCPAUTH_OK;
    const char *resource = mcpauth_json_string(doc, "resource");
    char summary[MCPAUTH_PROBE_DETAIL_MAX - 32];
    char *issuer = NULL;
    if (!resource)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "%s has no \"resource\" string (RFC 9728 §2)",
                               quote(url, q));
    else if (strcmp(resource, s->config->resource_url) != 0)
        describe_resource_mismatch(resource, s->config->resource_url, "the MCP URL", c);
    else if (read_authorization_servers(doc, c, &issuer, summary, sizeof summary))
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "%s names the MCP URL%s", quote(url, q),
                               s->header_metadata_url && strcmp(url, s->header_metadata_url) == 0
                                   ? " (the URL the challenge names)"
                                   : "");
    else if (c->verdict != MCPAUTH_PROBE_FAIL)
        st = mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    if (!s->issuer && c->verdict == MCPAUTH_PROBE_PASS) {
        s->issuer = issuer; /* clients without the challenge's URL use this one */
        issuer = NULL;
    }
    free(issuer);
    if (c->verdict == MCPAUTH_PROBE_PASS)
        s->path_metadata = doc;
    else
        json_object_put(doc);
    return st;
}

mcpauth_status mcpauth__probe_metadata_root(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                            mcpauth_error *err)
{
    char q[MCPAUTH_URL_QUOTE_SIZE], q_resource[MCPAUTH_URL_QUOTE_SIZE];
    const char *url = s->root_metadata_url;
    if (strcmp(url, s->path_metadata_url) == 0) {
        mcpauth__probe_verdict(
            c, MCPAUTH_PROBE_SKIP,
            "the MCP URL has no path: the root document is the path-inserted one");
        return MCPAUTH_OK;
    }
    long status;
    json_object *doc = NULL;
    mcpauth_status st = fetch_metadata(s, url, c, &doc, &status, err);
    if (st != MCPAUTH_OK || !status)
        return st;
    /* Optional (MCP Authorization "Protected Resource Metadata Discovery
     * Requirements"): clients look here last, when neither the challenge
     * nor the path-inserted URL gave them a document. */
    if (!doc && status >= 400 && status <= 499) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP, "not served (HTTP %ld at %s; it is optional)",
                               status, quote(url, q));
        return MCPAUTH_OK;
    }
    if (!doc)
        return MCPAUTH_OK;
    const char *resource = mcpauth_json_string(doc, "resource");
    if (!resource)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "%s has no \"resource\" string (RFC 9728 §2)",
                               quote(url, q));
    /* RFC 9728 §3.3: derived from the origin, so it names the origin. */
    else if (strcmp(resource, s->origin) == 0)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "%s names the origin", quote(url, q));
    /* What MCP clients falling back to the root compare it with. */
    else if (strcmp(resource, s->config->resource_url) == 0)
        mcpauth__probe_verdict(
            c, MCPAUTH_PROBE_PASS,
            "%s names the MCP URL (clients falling back to the root accept that; RFC "
            "9728 §3.3 alone would expect the origin)",
            quote(url, q));
    else
        mcpauth__probe_verdict(
            c, MCPAUTH_PROBE_FAIL,
            "%s names resource %s, neither the MCP URL nor the origin %s (RFC 9728 "
            "§3.3)",
            quote(url, q), quote(resource, q_resource), s->origin);
    json_object_put(doc);
    return MCPAUTH_OK;
}
