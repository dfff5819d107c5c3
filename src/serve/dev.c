/* `serve --dev`: the development issuer wired to this resource server. The
 * issuer is the resource's own origin, the audience the resource URL; the
 * validator fetches the issuer's keys from its /jwks and introspects at its
 * /introspect with a built-in client whose secret never leaves the
 * process. One worker only: the issuer's state lives in one process. */
#include <stdlib.h>
#include <string.h>

#include "mcpauth/mcp_tool_policy.h"
#include "mcpauth/strbuf.h"
#include "mcpauth/url.h"
#include "serve_internal.h"

static char *join(const char *origin, const char *path)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appendf(&sb, "%s%s", origin, path);
    return mcpauth_strbuf_detach(&sb);
}

mcpauth_status mcpauth__serve_dev_start(mcpauth_serve_config *config, mcpauth__serve_dev *out,
                                        mcpauth_error *err)
{
    memset(out, 0, sizeof *out);
    mcpauth_url url;
    if (mcpauth_url_parse(config->resource, &url, err) != MCPAUTH_OK)
        return err->status;
    out->origin = mcpauth_url_origin(&url);
    mcpauth_url_free(&url);
    out->jwks_uri = out->origin ? join(out->origin, "/jwks") : NULL;
    out->introspection_endpoint = out->origin ? join(out->origin, "/introspect") : NULL;
    if (!out->jwks_uri || !out->introspection_endpoint)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    mcpauth_devissuer_config *dc = &config->dev_issuer;
    dc->issuer = out->origin;
    dc->resource = config->resource;
    dc->allowed_origins = config->allowed_origins.items;
    dc->allowed_origin_count = config->allowed_origins.count;
    /* The issuer grants what the metadata advertises: the required scopes
     * and the per-tool ones, so that a client can step up (MCP authorization §Scope Challenge
     * Handling). */
    size_t count = 0;
    const char **scopes = mcpauth_mcp_tool_policy_scopes_union(
        config->tool_policy, config->required_scopes.items, config->required_scopes.count, &count);
    if (!scopes)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    dc->scope_count = 0;
    for (size_t i = 0; i < count && i < MCPAUTH_DEVISSUER_MAX_SCOPES; i++)
        dc->scopes[dc->scope_count++] = scopes[i];
    free(scopes);
    /* And the scope hierarchy's others, the broad ones a client may ask for. */
    const char *const *implied = mcpauth_scope_implies_scopes(config->scope_implies, &count);
    for (size_t i = 0; i < count && dc->scope_count < MCPAUTH_DEVISSUER_MAX_SCOPES; i++) {
        bool seen = false;
        for (size_t j = 0; j < dc->scope_count && !seen; j++)
            seen = strcmp(dc->scopes[j], implied[i]) == 0;
        if (!seen)
            dc->scopes[dc->scope_count++] = implied[i];
    }
    if (!(out->issuer = mcpauth_devissuer_new(dc, err)))
        return err->status;
    config->issuer = out->origin;
    config->jwks_uri = out->jwks_uri;
    config->jwks_file = NULL;
    config->introspection = (mcpauth_introspection_config){
        .endpoint = out->introspection_endpoint,
        .client_id = mcpauth_devissuer_resource_client_id(out->issuer),
        .client_secret = mcpauth_devissuer_resource_client_secret(out->issuer),
        .auth = MCPAUTH_CLIENT_AUTH_BASIC,
    };
    if (config->workers > 1)
        mcpauth__serve_log_event(config, "warning",
                                 "--dev runs one worker, not %d: the development issuer's clients, "
                                 "codes and tokens live in one process",
                                 config->workers);
    config->workers = 1;
    mcpauth__serve_log_event(config, "warning",
                             "development issuer: for local development only; issuer %s, user %s, "
                             "%s access tokens%s",
                             out->origin, dc->user,
                             dc->token_format == MCPAUTH_DEVISSUER_JWT ? "JWT" : "opaque",
                             dc->auto_approve ? ", requests approved without asking" : "");
    return MCPAUTH_OK;
}

void mcpauth__serve_dev_stop(mcpauth__serve_dev *dev)
{
    mcpauth_devissuer_free(dev->issuer);
    free(dev->origin);
    free(dev->jwks_uri);
    free(dev->introspection_endpoint);
    memset(dev, 0, sizeof *dev);
}
