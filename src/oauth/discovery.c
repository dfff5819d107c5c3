/* From an issuer to its RFC 8414 metadata, and from an MCP server URL to its
 * RFC 9728 protected-resource metadata, in the order MCP 2025-11-25
 * "Authorization Server Metadata Discovery" and "Protected Resource Metadata
 * Discovery Requirements" prescribe.
 *
 * Both walks share one rule for candidates: a 4xx means "not here, try the
 * next one"; anything else that is not a usable 200 stops the walk, because a
 * network failure or a 5xx at one well-known URL says nothing good about the
 * next one on the same host. Every document is checked against the identifier
 * it was derived from (RFC 8414 §3.3, RFC 9728 §3.3) before it is used. */
#include "mcpauth/discovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/json.h"
#include "mcpauth/strbuf.h"
#include "mcpauth/url.h"
#include "mcpauth/www_authenticate.h"
#include "mcpauth_config.h"

/* MCP 2025-11-25 lifecycle: the probe is the request a real client sends
 * first, so a server that guards only some methods still shows its 401. */
static const char initialize_request[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
    "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
    "\"clientInfo\":{\"name\":\"mcpauth\",\"version\":\"" MCPAUTH_VERSION "\"}}}";

typedef enum resource_source {
    FROM_HEADER, /* resource_metadata in the 401's Bearer challenge */
    FROM_PATH,   /* well-known inserted before the MCP URL's path */
    FROM_ROOT,   /* well-known at the root of the origin */
} resource_source;

typedef struct candidate {
    char *url;
    resource_source source;
} candidate;

/* A document fetched from one candidate URL. */
typedef struct fetched {
    json_object *doc; /* NULL when the candidate answered 4xx */
    char *url;        /* the final URL after redirects */
    long status;
} fetched;

static mcpauth_status oom(mcpauth_error *err)
{
    return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
}

static void fetched_clear(fetched *f)
{
    json_object_put(f->doc);
    free(f->url);
    memset(f, 0, sizeof *f);
}

/* GETs url. MCPAUTH_OK with f->doc set: a 200 JSON object. MCPAUTH_OK with
 * f->doc NULL: a 4xx, try the next candidate. Anything else is an error. */
static mcpauth_status fetch_document(const mcpauth_http_options *opts, const char *url,
                                     const char *what, fetched *f, mcpauth_error *err)
{
    mcpauth_http_request req = {.method = "GET", .url = url};
    mcpauth_http_response resp;
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    char label[MCPAUTH_URL_QUOTE_SIZE + 64];

    memset(f, 0, sizeof *f);
    mcpauth_status status = mcpauth_http_perform(opts, &req, &resp, err);
    if (status != MCPAUTH_OK)
        return status;
    f->status = resp.status;
    mcpauth_url_quote(url, quoted, sizeof quoted);
    if (resp.status == 200) {
        /* RFC 8414 §3.2 / RFC 9728 §3.2: a JSON object; the content type is
         * not insisted on, since the parse decides. */
        snprintf(label, sizeof label, "%s at %s", what, quoted);
        f->doc = mcpauth_json_parse_object(resp.body, resp.body_length, label, err);
        f->url = strdup(resp.url ? resp.url : url);
        if (!f->doc)
            status = err->status;
        else if (!f->url)
            status = oom(err);
    } else if (resp.status < 400 || resp.status > 499) {
        const char *text = mcpauth_http_status_text(resp.status);
        status = mcpauth_error_set(err, MCPAUTH_EREMOTE, "%s at %s: HTTP %ld%s%s", what, quoted,
                                   resp.status, text[0] ? " " : "", text);
    }
    mcpauth_http_response_free(&resp);
    if (status != MCPAUTH_OK)
        fetched_clear(f);
    return status;
}

/* The asked issuer is allowed one '/' typed after a path-less origin:
 * "https://as/" finds the metadata of "https://as". */
static bool issuer_matches(const char *asked, const char *issuer)
{
    if (strcmp(asked, issuer) == 0)
        return true;
    size_t length = strlen(issuer);
    if (strlen(asked) != length + 1 || asked[length] != '/' || strncmp(asked, issuer, length) != 0)
        return false;
    mcpauth_url url;
    mcpauth_error ignored;
    if (mcpauth_url_parse(asked, &url, &ignored) != MCPAUTH_OK)
        return false;
    bool pathless = strcmp(url.path, "/") == 0 && !url.query && !url.fragment;
    mcpauth_url_free(&url);
    return pathless;
}

static mcpauth_status check_issuer(const char *asked, const fetched *f, mcpauth_as_metadata *out,
                                   mcpauth_error *err)
{
    char q_url[MCPAUTH_URL_QUOTE_SIZE];
    char q_issuer[MCPAUTH_URL_QUOTE_SIZE];
    char q_asked[MCPAUTH_URL_QUOTE_SIZE];
    const char *issuer = mcpauth_json_string(f->doc, "issuer");

    mcpauth_url_quote(f->url, q_url, sizeof q_url);
    if (!issuer)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "authorization server metadata at %s has no \"issuer\" string "
                                 "(RFC 8414 §2)",
                                 q_url);
    /* RFC 8414 §3.3: an issuer that differs from the one the URL was built
     * from MUST NOT be used; it is how metadata impersonation is caught. */
    if (!issuer_matches(asked, issuer))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "authorization server metadata at %s names issuer %s, not %s as "
                                 "asked (RFC 8414 §3.3 requires them to be identical)",
                                 q_url, mcpauth_url_quote(issuer, q_issuer, sizeof q_issuer),
                                 mcpauth_url_quote(asked, q_asked, sizeof q_asked));
    out->issuer = strdup(issuer);
    out->metadata_url = strdup(f->url);
    if (!out->issuer || !out->metadata_url)
        return oom(err);
    out->document = json_object_get(f->doc);
    return MCPAUTH_OK;
}

/* RFC 9728 §2 plus MCP's "MUST contain authorization_servers": a string
 * resource and a non-empty array of non-empty strings. */
static mcpauth_status check_resource_shape(const fetched *f, const char *q_url, mcpauth_error *err)
{
    json_object *servers = NULL;

    if (!mcpauth_json_string(f->doc, "resource"))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "protected resource metadata at %s has no \"resource\" string "
                                 "(RFC 9728 §2)",
                                 q_url);
    if (!json_object_object_get_ex(f->doc, "authorization_servers", &servers) ||
        !json_object_is_type(servers, json_type_array) || json_object_array_length(servers) == 0)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "protected resource metadata at %s has no non-empty "
                                 "\"authorization_servers\" array (required by MCP 2025-11-25)",
                                 q_url);
    for (size_t i = 0; i < json_object_array_length(servers); i++) {
        json_object *entry = json_object_array_get_idx(servers, i);
        if (!json_object_is_type(entry, json_type_string) || json_object_get_string_len(entry) == 0)
            return mcpauth_error_set(
                err, MCPAUTH_EREMOTE,
                "protected resource metadata at %s: authorization_servers[%zu] "
                "is not a non-empty string",
                q_url, i);
    }
    return MCPAUTH_OK;
}

static mcpauth_status check_resource(const char *resource_url, const char *origin,
                                     resource_source source, const fetched *f,
                                     mcpauth_resource_metadata *out, mcpauth_error *err)
{
    char q_url[MCPAUTH_URL_QUOTE_SIZE];
    char q_resource[MCPAUTH_URL_QUOTE_SIZE];
    char q_asked[MCPAUTH_URL_QUOTE_SIZE];
    char q_origin[MCPAUTH_URL_QUOTE_SIZE];

    mcpauth_url_quote(f->url, q_url, sizeof q_url);
    mcpauth_status status = check_resource_shape(f, q_url, err);
    if (status != MCPAUTH_OK)
        return status;
    const char *resource = mcpauth_json_string(f->doc, "resource");
    mcpauth_url_quote(resource, q_resource, sizeof q_resource);
    mcpauth_url_quote(resource_url, q_asked, sizeof q_asked);

    /* RFC 9728 §3.3: via the header or the inserted path the resource must be
     * identical to the URL asked for; the root document describes the
     * origin. */
    bool match = strcmp(resource, resource_url) == 0;
    if (!match && source == FROM_ROOT) {
        match = strcmp(resource, origin) == 0;
        if (!match)
            return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                     "protected resource metadata at %s is for resource %s, "
                                     "neither the MCP server URL %s nor its origin %s "
                                     "(RFC 9728 §3.3)",
                                     q_url, q_resource, q_asked,
                                     mcpauth_url_quote(origin, q_origin, sizeof q_origin));
    }
    if (!match)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "protected resource metadata at %s is for resource %s, not the "
                                 "MCP server URL %s (RFC 9728 §3.3 requires them to be identical)",
                                 q_url, q_resource, q_asked);

    json_object *servers = NULL;
    json_object_object_get_ex(f->doc, "authorization_servers", &servers);
    out->resource = strdup(resource);
    out->metadata_url = strdup(f->url);
    out->authorization_server =
        strdup(json_object_get_string(json_object_array_get_idx(servers, 0)));
    if (!out->resource || !out->metadata_url || !out->authorization_server)
        return oom(err);
    out->document = json_object_get(f->doc);
    return MCPAUTH_OK;
}

/* Reads resource_metadata from the Bearer challenge of a 401. Headers that do
 * not parse are skipped: a broken Basic challenge must not hide a good Bearer
 * one, and without one the well-known URLs are still there. */
static mcpauth_status read_challenge(const mcpauth_http_response *resp, const char *resource_url,
                                     char **metadata_url, mcpauth_error *err)
{
    mcpauth_challenge_list list = {0};
    const char *value;
    mcpauth_error ignored;
    mcpauth_status status = MCPAUTH_OK;

    for (size_t i = 0; (value = mcpauth_http_response_header(resp, "WWW-Authenticate", i)); i++)
        mcpauth_www_authenticate_parse(value, &list, &ignored);
    const char *found =
        mcpauth_challenge_param(mcpauth_challenge_find(&list, "Bearer"), "resource_metadata");
    if (found) {
        /* RFC 9728 §5.1: an absolute URL; a relative or hostile one is the
         * server's mistake, reported as such rather than as a usage error. */
        mcpauth_url url;
        if (mcpauth_url_parse(found, &url, err) != MCPAUTH_OK) {
            char q_asked[MCPAUTH_URL_QUOTE_SIZE];
            err->status = MCPAUTH_EREMOTE;
            status = mcpauth_error_prefix(
                err, "the WWW-Authenticate resource_metadata from %s is unusable",
                mcpauth_url_quote(resource_url, q_asked, sizeof q_asked));
        } else {
            mcpauth_url_free(&url);
            if (!(*metadata_url = strdup(found)))
                status = oom(err);
        }
    }
    mcpauth_challenge_list_free(&list);
    return status;
}

/* POSTs are never redirected (http_client.h), and the resource identifier
 * must be the URL the server really answers at (RFC 9728 §3.3), so a redirect
 * ("/mcp" -> "/mcp/") is reported with its target for the user to retry. */
static mcpauth_status report_redirect(const mcpauth_http_response *resp, const char *resource_url,
                                      const char *quoted, mcpauth_error *err)
{
    char q_target[MCPAUTH_URL_QUOTE_SIZE];
    mcpauth_error ignored;
    const char *location = mcpauth_http_response_header(resp, "Location", 0);
    char *target = mcpauth_url_resolve(resource_url, location, &ignored);

    mcpauth_url_quote(target ? target : location, q_target, sizeof q_target);
    free(target);
    return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                             "MCP server at %s answered HTTP %ld to an initialize request, "
                             "redirecting to %s: use that URL",
                             quoted, resp->status, q_target);
}

/* POSTs an unauthenticated initialize and judges the answer. A 401 may name
 * the metadata URL; 2xx, 404 and redirects end the discovery; other statuses
 * leave the well-known URLs to try (some servers answer 400, 403 or 405 to a
 * token-less request). */
static mcpauth_status probe_resource(const mcpauth_http_options *opts, const char *resource_url,
                                     char **metadata_url, mcpauth_error *err)
{
    mcpauth_http_request req = {
        .method = "POST",
        .url = resource_url,
        .content_type = "application/json",
        .body = initialize_request,
        .body_length = sizeof initialize_request - 1,
        /* MCP 2025-11-25 Streamable HTTP: POSTs accept both forms. */
        .accept = "application/json, text/event-stream",
    };
    mcpauth_http_response resp;
    char quoted[MCPAUTH_URL_QUOTE_SIZE];

    mcpauth_status status = mcpauth_http_perform(opts, &req, &resp, err);
    if (status != MCPAUTH_OK)
        return status;
    mcpauth_url_quote(resource_url, quoted, sizeof quoted);
    if (resp.status == 401)
        status = read_challenge(&resp, resource_url, metadata_url, err);
    else if (resp.status >= 200 && resp.status <= 299)
        status = mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                   "MCP server at %s answered HTTP %ld without a token: it does "
                                   "not require authorization",
                                   quoted, resp.status);
    else if (resp.status == 404)
        status = mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                   "%s answered HTTP 404 Not Found to an MCP initialize request: "
                                   "it is not an MCP endpoint",
                                   quoted);
    else if (resp.status >= 300 && resp.status <= 399 &&
             mcpauth_http_response_header(&resp, "Location", 0))
        status = report_redirect(&resp, resource_url, quoted, err);
    mcpauth_http_response_free(&resp);
    return status;
}

/* MCP 2025-11-25 (Protected Resource Metadata Discovery): the URL of the
 * challenge's resource_metadata (RFC 9728 §5.1) alone when there is one,
 * else the path-inserted (RFC 9728 §3.1) and then the root document (one URL when the MCP URL has
 * no path). */
static size_t resource_candidates(const char *resource_url, const char *origin, char *header_url,
                                  candidate out[2], mcpauth_error *err)
{
    if (header_url) {
        out[0] = (candidate){header_url, FROM_HEADER};
        return 1;
    }
    char *path = mcpauth_url_well_known_inserted(resource_url, "oauth-protected-resource", err);
    char *root =
        path ? mcpauth_url_well_known_inserted(origin, "oauth-protected-resource", err) : NULL;
    if (!root) {
        free(path);
        return 0;
    }
    if (strcmp(path, root) == 0) {
        free(path);
        out[0] = (candidate){root, FROM_ROOT};
        return 1;
    }
    out[0] = (candidate){path, FROM_PATH};
    out[1] = (candidate){root, FROM_ROOT};
    return 2;
}

size_t mcpauth_discovery_issuer_urls(const char *issuer, char *urls[3], mcpauth_error *err)
{
    mcpauth_url url;
    char quoted[MCPAUTH_URL_QUOTE_SIZE];

    urls[0] = urls[1] = urls[2] = NULL;
    if (mcpauth_url_parse(issuer, &url, err) != MCPAUTH_OK) {
        mcpauth_error_prefix(err, "authorization server issuer");
        return 0;
    }
    bool extra = url.query || url.fragment;
    bool pathless = url.path[0] == '\0' || strcmp(url.path, "/") == 0;
    mcpauth_url_free(&url);
    if (extra) {
        mcpauth_error_set(err, MCPAUTH_EUSAGE,
                          "issuer %s must not have a query or fragment (RFC 8414 §2)",
                          mcpauth_url_quote(issuer, quoted, sizeof quoted));
        return 0;
    }

    /* MCP 2025-11-25: RFC 8414 first, then OpenID Connect Discovery with the
     * well-known inserted, then appended as OIDC Discovery 1.0 §4 has it. */
    size_t count = pathless ? 2 : 3;
    urls[0] = mcpauth_url_well_known_inserted(issuer, "oauth-authorization-server", err);
    urls[1] = mcpauth_url_well_known_inserted(issuer, "openid-configuration", err);
    if (!pathless)
        urls[2] = mcpauth_url_well_known_appended(issuer, "openid-configuration", err);
    for (size_t i = 0; i < count; i++) {
        if (!urls[i]) {
            for (size_t j = 0; j < count; j++) {
                free(urls[j]);
                urls[j] = NULL;
            }
            return 0;
        }
    }
    return count;
}

mcpauth_status mcpauth_discover_issuer(const mcpauth_http_options *opts, const char *issuer,
                                       mcpauth_as_metadata *out, mcpauth_error *err)
{
    mcpauth_error local;
    char *urls[3];
    mcpauth_strbuf tried = MCPAUTH_STRBUF_INIT;
    fetched f = {0};
    mcpauth_status status = MCPAUTH_OK;

    memset(out, 0, sizeof *out);
    if (!err)
        err = &local;
    size_t count = mcpauth_discovery_issuer_urls(issuer, urls, err);
    if (count == 0)
        return err->status;
    for (size_t i = 0; i < count && status == MCPAUTH_OK && !f.doc; i++) {
        status = fetch_document(opts, urls[i], "authorization server metadata", &f, err);
        if (status == MCPAUTH_OK && !f.doc)
            mcpauth_strbuf_appendf(&tried, "%s%s: %ld", i ? ", " : "", urls[i], f.status);
    }
    if (status == MCPAUTH_OK && !f.doc) {
        char quoted[MCPAUTH_URL_QUOTE_SIZE];
        status = mcpauth_error_set(
            err, MCPAUTH_EREMOTE, "no authorization server metadata found for issuer %s (tried %s)",
            mcpauth_url_quote(issuer, quoted, sizeof quoted), tried.data ? tried.data : "");
    } else if (status == MCPAUTH_OK) {
        status = check_issuer(issuer, &f, out, err);
    }

    fetched_clear(&f);
    mcpauth_strbuf_free(&tried);
    for (size_t i = 0; i < count; i++)
        free(urls[i]);
    if (status != MCPAUTH_OK)
        mcpauth_as_metadata_free(out);
    return status;
}

mcpauth_status mcpauth_discover_resource(const mcpauth_http_options *opts, const char *resource_url,
                                         mcpauth_resource_metadata *out, mcpauth_error *err)
{
    mcpauth_error local;
    mcpauth_url url;
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    char *header_url = NULL;
    candidate candidates[2];
    size_t count = 0;
    mcpauth_strbuf tried = MCPAUTH_STRBUF_INIT;
    fetched f = {0};

    memset(out, 0, sizeof *out);
    if (!err)
        err = &local;
    mcpauth_status status = mcpauth_url_parse(resource_url, &url, err);
    if (status != MCPAUTH_OK) {
        mcpauth_error_prefix(err, "MCP server URL");
        return status;
    }
    mcpauth_url_quote(resource_url, quoted, sizeof quoted);
    bool fragment = url.fragment != NULL;
    char *origin = mcpauth_url_origin(&url);
    mcpauth_url_free(&url);
    if (!origin)
        return oom(err);
    if (fragment) {
        free(origin);
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "MCP server URL %s has a fragment, which a resource identifier "
                                 "must not have (RFC 9728 §1.2)",
                                 quoted);
    }

    status = probe_resource(opts, resource_url, &header_url, err);
    if (status == MCPAUTH_OK) {
        count = resource_candidates(resource_url, origin, header_url, candidates, err);
        header_url = NULL; /* owned by candidates[0] when it was set */
        if (count == 0)
            status = err->status;
    }
    size_t used = 0;
    for (; used < count && status == MCPAUTH_OK && !f.doc; used++) {
        status = fetch_document(opts, candidates[used].url, "protected resource metadata", &f, err);
        if (status == MCPAUTH_OK && !f.doc)
            mcpauth_strbuf_appendf(&tried, "%s%s: %ld", used ? ", " : "", candidates[used].url,
                                   f.status);
    }
    if (status == MCPAUTH_OK && !f.doc)
        status = mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                   "no protected resource metadata found for MCP server %s "
                                   "(tried %s)",
                                   quoted, tried.data ? tried.data : "");
    else if (status == MCPAUTH_OK)
        status = check_resource(resource_url, origin, candidates[used - 1].source, &f, out, err);

    fetched_clear(&f);
    mcpauth_strbuf_free(&tried);
    for (size_t i = 0; i < count; i++)
        free(candidates[i].url);
    free(header_url);
    free(origin);
    if (status != MCPAUTH_OK)
        mcpauth_resource_metadata_free(out);
    return status;
}

mcpauth_status mcpauth_discover_registration_endpoint(const mcpauth_http_options *opts,
                                                      const char *issuer, const char *resource_url,
                                                      char **issuer_out, char **endpoint_out,
                                                      mcpauth_error *err)
{
    *issuer_out = NULL;
    *endpoint_out = NULL;
    mcpauth_resource_metadata prm = {0};
    if (!issuer) {
        if (mcpauth_discover_resource(opts, resource_url, &prm, err) != MCPAUTH_OK)
            return err->status;
        issuer = prm.authorization_server;
    }
    mcpauth_as_metadata md = {0};
    mcpauth_status st = mcpauth_discover_issuer(opts, issuer, &md, err);
    const char *endpoint =
        st == MCPAUTH_OK ? mcpauth_json_string(md.document, "registration_endpoint") : NULL;
    if (st == MCPAUTH_OK && !endpoint) {
        st = mcpauth_error_set(err, MCPAUTH_EREMOTE,
                               "the authorization server %s advertises no "
                               "registration_endpoint: it does not offer dynamic client "
                               "registration, so the client may need to be registered with it "
                               "by hand (pre-registered)",
                               md.issuer);
    } else if (st == MCPAUTH_OK) {
        *issuer_out = strdup(md.issuer);
        *endpoint_out = strdup(endpoint);
        if (!*issuer_out || !*endpoint_out) {
            free(*issuer_out);
            free(*endpoint_out);
            *issuer_out = *endpoint_out = NULL;
            st = mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        }
    }
    mcpauth_as_metadata_free(&md);
    mcpauth_resource_metadata_free(&prm);
    return st;
}

bool mcpauth_resource_metadata_names_issuer(const mcpauth_resource_metadata *md, const char *issuer)
{
    json_object *servers = NULL;
    if (!json_object_object_get_ex(md->document, "authorization_servers", &servers) ||
        !json_object_is_type(servers, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(servers); i++) {
        json_object *item = json_object_array_get_idx(servers, i);
        if (json_object_is_type(item, json_type_string) &&
            mcpauth_url_canonical_equal(json_object_get_string(item), issuer))
            return true;
    }
    return false;
}

void mcpauth_as_metadata_free(mcpauth_as_metadata *md)
{
    if (!md)
        return;
    free(md->issuer);
    free(md->metadata_url);
    json_object_put(md->document);
    memset(md, 0, sizeof *md);
}

void mcpauth_resource_metadata_free(mcpauth_resource_metadata *md)
{
    if (!md)
        return;
    free(md->resource);
    free(md->metadata_url);
    free(md->authorization_server);
    json_object_put(md->document);
    memset(md, 0, sizeof *md);
}
