#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mcpauth/serve.h"
#include "mcpauth/url.h"

void mcpauth_serve_config_init(mcpauth_serve_config *config)
{
    memset(config, 0, sizeof *config);
    config->resource = "http://localhost:8000/mcp";
    config->listen_host = "127.0.0.1";
    config->listen_port = 8000;
    config->resource_name = "mcpauth";
    mcpauth_devissuer_config_init(&config->dev_issuer);
    config->introspection.auth = MCPAUTH_CLIENT_AUTH_BASIC;
    config->validation = MCPAUTH_VALIDATE_AUTO;
    config->jwks_cooldown_seconds = 30;
    mcpauth_jwt_policy_init(&config->jwt);
    config->leeway_seconds = 30;
    config->cache_size = 10000;
    config->cache_ttl_seconds = 300;
    config->negative_ttl_seconds = 10;
    config->max_introspections = 32;
    config->max_introspection_queue = 1024;
    mcpauth_redis_cache_config_init(&config->shared_cache);
    mcpauth_mcp_config_init(&config->mcp);
    config->sse_path = "/sse";
    config->messages_path = "/messages";
    mcpauth_mcp_backend_config_init(&config->backend);
    mcpauth_http_server_limits_init(&config->limits);
    mcpauth_http_options_init(&config->http);
    config->workers = 0; /* one per CPU: mcpauth_serve_run() */
    config->shutdown_timeout_seconds = 10;
    config->log_format = MCPAUTH_LOG_TEXT;
    config->log = stderr;
}

mcpauth_status mcpauth_serve_config_complete(mcpauth_serve_config *config, mcpauth_error *err)
{
    mcpauth_string_array *scopes = &config->required_scopes, *audiences = &config->audiences;
    if (scopes->count == 0)
        scopes->items[scopes->count++] = "mcp";
    if (audiences->count == MCPAUTH_SERVE_MAX_LIST)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "--audience: at most %d values",
                                 MCPAUTH_SERVE_MAX_LIST - 1);
    memmove(&audiences->items[1], &audiences->items[0],
            audiences->count * sizeof audiences->items[0]);
    audiences->items[0] = config->resource;
    audiences->count++;
    return MCPAUTH_OK;
}

static bool is_loopback_host(const char *host)
{
    mcpauth_url url;
    char text[300];
    /* Reuse the URL parser's notion of loopback for a bare host. */
    snprintf(text, sizeof text, strchr(host, ':') ? "http://[%s]/" : "http://%s/", host);
    if (mcpauth_url_parse(text, &url, NULL) != MCPAUTH_OK)
        return false;
    bool loopback = mcpauth_url_is_loopback(&url);
    mcpauth_url_free(&url);
    return loopback;
}

/* --dev: the development issuer is for this machine only (its consent
 * page signs in whoever asks), so both the socket and the public URL must
 * be loopback; and it replaces the authorization server options. */
static mcpauth_status check_dev(const mcpauth_serve_config *config, mcpauth_error *err)
{
    if (config->no_auth)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "give --dev or --no-auth, not both");
    if (config->issuer || config->introspection.endpoint || config->introspection.client_id ||
        config->jwks_uri || config->jwks_file)
        return mcpauth_error_set(
            err, MCPAUTH_EUSAGE,
            "--dev runs its own issuer: do not give --issuer, --credentials, "
            "--client-id, --introspection-endpoint, --jwks-uri or --jwks-file");
    mcpauth_url url;
    if (mcpauth_url_parse(config->resource, &url, err) != MCPAUTH_OK)
        return mcpauth_error_prefix(err, "--resource");
    /* The issuer is served on the same listener, so its URLs take the
     * listener's scheme. */
    bool loopback = mcpauth_url_is_loopback(&url) &&
                    strcmp(url.scheme, config->tls_cert ? "https" : "http") == 0;
    mcpauth_url_free(&url);
    if (!loopback || !is_loopback_host(config->listen_host))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                 "--dev: the development issuer only runs on a loopback address "
                                 "(listen %s, resource %s)",
                                 config->listen_host, config->resource);
    return MCPAUTH_OK;
}

/* --tls-cert and --tls-key come together. An http:// resource URL on a
 * TLS listener is refused: clients would be told (RFC 9728 metadata, the
 * challenges' resource_metadata) to use a URL this listener cannot
 * answer. The opposite, an https resource on a plain listener, is the
 * usual setup behind a TLS-terminating proxy, and only warned about at
 * start without --behind-proxy. */
static mcpauth_status check_tls(const mcpauth_serve_config *config, mcpauth_error *err)
{
    if (!config->tls_cert != !config->tls_key)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "give --tls-cert and --tls-key together");
    if (config->tls_cert && strncasecmp(config->resource, "http:", 5) == 0)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                 "--resource %s is http:// but the listener speaks TLS: use the "
                                 "https:// URL clients reach",
                                 config->resource);
    return MCPAUTH_OK;
}

/* The legacy transport's paths are plain absolute paths, distinct from each
 * other and from the MCP endpoint and its RFC 9728 metadata (§3.1: the
 * well-known prefix before the resource's path), which they would shadow. */
static mcpauth_status check_legacy_paths(const mcpauth_serve_config *config,
                                         const char *resource_path, mcpauth_error *err)
{
    if (config->no_legacy_sse)
        return MCPAUTH_OK;
    static const char well_known[] = "/.well-known/oauth-protected-resource";
    const char *paths[] = {config->sse_path, config->messages_path};
    const char *flags[] = {"--sse-path", "--messages-path"};
    const char *mcp_path = resource_path[0] ? resource_path : "/";
    for (size_t i = 0; i < 2; i++) {
        const char *p = paths[i];
        if (p[0] != '/' || strlen(p) > 256 || strpbrk(p, "?# \t\r\n"))
            return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                     "%s %s must be an absolute path without query or spaces",
                                     flags[i], p);
        size_t n = strlen(well_known);
        bool metadata =
            strncmp(p, well_known, n) == 0 && (strcmp(p + n, resource_path) == 0 || p[n] == '\0');
        if (strcmp(p, mcp_path) == 0 || metadata || strcmp(p, "/healthz") == 0 ||
            strcmp(p, "/metrics") == 0)
            return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                     "%s %s collides with the MCP endpoint, its metadata, "
                                     "/healthz or /metrics",
                                     flags[i], p);
    }
    if (strcmp(config->sse_path, config->messages_path) == 0)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "--sse-path and --messages-path must differ (both %s)",
                                 config->sse_path);
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_serve_config_check(const mcpauth_serve_config *config, mcpauth_error *err)
{
    if (config->backend.upstream.url && config->mcp.stateless)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "--stateless cannot be used with --upstream: sessions are "
                                 "mapped one to one");
    if (config->backend.upstream.url &&
        mcpauth_http_check_url(&config->http, config->backend.upstream.url, err) != MCPAUTH_OK)
        return mcpauth_error_prefix(err, "--upstream");
    mcpauth_url url;
    if (mcpauth_url_parse(config->resource, &url, err) != MCPAUTH_OK)
        return mcpauth_error_prefix(err, "--resource");
    if (config->backend.stdio.argv && config->mcp.stateless)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "--stateless cannot be used with a stdio backend: each child "
                                 "belongs to a session");
    bool bad = url.fragment != NULL || url.query != NULL;
    mcpauth_status legacy = check_legacy_paths(config, url.path, err);
    mcpauth_url_free(&url);
    if (legacy != MCPAUTH_OK)
        return legacy;
    if (bad)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "--resource %s must not have a query or fragment (RFC 9728 §1.2)",
                                 config->resource);
    if (check_tls(config, err) != MCPAUTH_OK)
        return err->status;
    if (config->dev)
        return check_dev(config, err);
    if (config->no_auth) {
        /* Without tokens there are no scopes to check a tool against. */
        if (!mcpauth_mcp_tool_policy_is_empty(config->tool_policy))
            return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                     "per-tool scopes (--tool-scope, \"tools\" in --config) "
                                     "need token checks: not with --no-auth");
        if (!is_loopback_host(config->listen_host))
            return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                     "--no-auth serves without any token check, so it only "
                                     "listens on a loopback address, not %s",
                                     config->listen_host);
        return MCPAUTH_OK;
    }
    if (!config->issuer)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "--issuer is required (or --no-auth for local testing)");
    if (mcpauth_http_check_url(&config->http, config->issuer, err) != MCPAUTH_OK)
        return mcpauth_error_prefix(err, "--issuer");
    if (config->introspection.endpoint &&
        mcpauth_http_check_url(&config->http, config->introspection.endpoint, err) != MCPAUTH_OK)
        return mcpauth_error_prefix(err, "--introspection-endpoint");
    if (config->jwks_uri &&
        mcpauth_http_check_url(&config->http, config->jwks_uri, err) != MCPAUTH_OK)
        return mcpauth_error_prefix(err, "--jwks-uri");
    if (config->jwks_uri && config->jwks_file)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "give --jwks-uri or --jwks-file, not both");
    if (config->validation == MCPAUTH_VALIDATE_INTROSPECT &&
        (config->jwks_uri || config->jwks_file))
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "--validation introspect does not use --jwks-uri or --jwks-file");
    bool needs_introspection =
        config->validation == MCPAUTH_VALIDATE_INTROSPECT || config->introspect_jwt;
    bool has_credentials = config->introspection.client_id && config->introspection.client_secret;
    if (needs_introspection && !has_credentials)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "token introspection needs the resource server's client "
                                 "credentials: --credentials FILE, or --client-id with "
                                 "--client-secret-file FILE or MCPAUTH_CLIENT_SECRET");
    if (config->validation == MCPAUTH_VALIDATE_AUTO && !has_credentials && !config->jwks_uri &&
        !config->jwks_file && config->introspection.endpoint)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "--introspection-endpoint needs the resource server's client "
                                 "credentials (--credentials, or --client-id and a secret)");
    return MCPAUTH_OK;
}
