/* What the resource server says about itself: the RFC 9728 protected
 * resource metadata, where it is served, and the values its challenges
 * carry. Computed once at start. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/json.h"
#include "mcpauth/strbuf.h"
#include "mcpauth/url.h"
#include "serve_internal.h"

static char *join_scopes(const mcpauth_string_array *scopes)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, "");
    for (size_t i = 0; i < scopes->count; i++) {
        if (i > 0)
            mcpauth_strbuf_append(&sb, " ", 1);
        mcpauth_strbuf_appends(&sb, scopes->items[i]);
    }
    return mcpauth_strbuf_detach(&sb);
}

static json_object *string_array(const char *const *items, size_t count)
{
    json_object *array = json_object_new_array();
    for (size_t i = 0; array && i < count; i++)
        json_object_array_add(array, json_object_new_string(items[i]));
    return array;
}

/* scopes_supported: what the rules ask for (required, then per tool),
 * then the other scopes the hierarchy names, broad ones first among them,
 * each once; never offline_access (MCP 2026-07-28 authorization §Refresh
 * Tokens: no resource requirement). NULL on allocation failure. */
static json_object *scopes_supported(const mcpauth_serve_config *config)
{
    size_t count = 0, implied_count = 0;
    const char **scopes = mcpauth_mcp_tool_policy_scopes_union(
        config->tool_policy, config->required_scopes.items, config->required_scopes.count, &count);
    if (!scopes)
        return NULL;
    const char *const *implied =
        mcpauth_scope_implies_scopes(config->scope_implies, &implied_count);
    json_object *array = json_object_new_array();
    for (size_t i = 0; array && i < count + implied_count; i++) {
        const char *scope = i < count ? scopes[i] : implied[i - count];
        bool seen = strcmp(scope, "offline_access") == 0;
        for (size_t j = 0; j < count && i >= count && !seen; j++)
            seen = strcmp(scopes[j], scope) == 0;
        if (!seen)
            json_object_array_add(array, json_object_new_string(scope));
    }
    free(scopes);
    return array;
}

static char *build_document(const mcpauth_serve_config *config)
{
    json_object *doc = json_object_new_object();
    if (!doc)
        return NULL;
    /* RFC 9728 §3.3: resource is exactly the identifier clients derive the
     * metadata URL from, so the configured canonical URL, never the Host. */
    json_object_object_add(doc, "resource", json_object_new_string(config->resource));
    if (config->issuer)
        json_object_object_add(doc, "authorization_servers", string_array(&config->issuer, 1));
    /* §2: parameters with no value are omitted, not sent as []. Every
     * scope a request or a tool may need is listed, so that a client can
     * ask for them up front (MCP authorization §Scope Selection Strategy). */
    json_object *scopes = scopes_supported(config);
    if (!scopes) {
        json_object_put(doc);
        return NULL;
    }
    if (json_object_array_length(scopes) > 0)
        json_object_object_add(doc, "scopes_supported", scopes);
    else
        json_object_put(scopes);
    const char *header = "header";
    json_object_object_add(doc, "bearer_methods_supported", string_array(&header, 1));
    if (config->resource_name)
        json_object_object_add(doc, "resource_name", json_object_new_string(config->resource_name));
    const char *text = mcpauth_json_compact(doc);
    char *copy = text ? strdup(text) : NULL;
    json_object_put(doc);
    return copy;
}

mcpauth_status mcpauth__serve_resource_init(mcpauth__serve_resource *res,
                                            const mcpauth_serve_config *config, mcpauth_error *err)
{
    memset(res, 0, sizeof *res);
    mcpauth_url url;
    if (mcpauth_url_parse(config->resource, &url, err) != MCPAUTH_OK)
        return err->status;
    res->origin = mcpauth_url_origin(&url);
    /* A path of "/" alone is the path-less resource (RFC 9728 §3.1). */
    res->path = strdup(strcmp(url.path, "/") == 0 ? "" : url.path);
    mcpauth_strbuf host = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appendf(&host, strchr(url.host, ':') ? "[%s]" : "%s", url.host);
    if (url.port_explicit)
        mcpauth_strbuf_appendf(&host, ":%d", url.port);
    res->host = mcpauth_strbuf_detach(&host);
    mcpauth_url_free(&url);
    res->metadata_url =
        mcpauth_url_well_known_inserted(config->resource, "oauth-protected-resource", err);
    if (!res->metadata_url)
        return err->status;
    mcpauth_strbuf path = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appendf(&path, "/.well-known/oauth-protected-resource%s", res->path);
    res->metadata_path = mcpauth_strbuf_detach(&path);
    res->metadata_json = build_document(config);
    res->scope = join_scopes(&config->required_scopes);
    if (!res->origin || !res->path || !res->host || !res->metadata_path || !res->metadata_json ||
        !res->scope)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    return MCPAUTH_OK;
}

void mcpauth__serve_resource_free(mcpauth__serve_resource *res)
{
    free(res->origin);
    free(res->host);
    free(res->path);
    free(res->metadata_path);
    free(res->metadata_url);
    free(res->metadata_json);
    free(res->scope);
    mcpauth_http_tls_free(res->tls);
    memset(res, 0, sizeof *res);
}
