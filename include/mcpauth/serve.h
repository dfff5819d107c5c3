/* `mcpauth serve`: an MCP server protected as an OAuth 2.1 resource server.
 *
 * The configuration below is filled by cmd/serve.c (flags, --config file)
 * and checked by mcpauth_serve_config_check(); mcpauth_serve_run() then runs
 * the worker processes until SIGTERM/SIGINT. Run blocks the calling thread.
 */
#ifndef MCPAUTH_SERVE_H
#define MCPAUTH_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mcpauth/devissuer.h"
#include "mcpauth/error.h"
#include "mcpauth/http_client.h"
#include "mcpauth/http_server.h"
#include "mcpauth/introspection.h"
#include "mcpauth/jose.h"
#include "mcpauth/mcp.h"
#include "mcpauth/mcp_backend.h"
#include "mcpauth/mcp_tool_policy.h"
#include "mcpauth/redis_cache.h"
#include "mcpauth/scope_implies.h"
#include "mcpauth/validator.h"

#define MCPAUTH_SERVE_MAX_LIST 32

typedef struct mcpauth_string_array {
    const char *items[MCPAUTH_SERVE_MAX_LIST]; /* borrowed */
    size_t count;
} mcpauth_string_array;

typedef enum mcpauth_log_format { MCPAUTH_LOG_TEXT, MCPAUTH_LOG_JSON } mcpauth_log_format;

typedef struct mcpauth_serve_config {
    const char *resource;      /* canonical public URL of the MCP endpoint */
    const char *listen_host;   /* "127.0.0.1" */
    int listen_port;           /* 8000; 0 picks a free port */
    const char *issuer;        /* the authorization server */
    const char *resource_name; /* RFC 9728 resource_name */
    bool no_auth;              /* serve without validation (loopback only) */
    /* --dev: run the development issuer on the resource's own origin
     * (loopback only). Its issuer, resource and scopes are filled in at
     * start; the rest comes from the flags. */
    bool dev;
    mcpauth_devissuer_config dev_issuer;

    mcpauth_introspection_config introspection; /* endpoint may be NULL: discovered */
    mcpauth_validation_mode validation;         /* auto (default), jwt or introspect */
    const char *jwks_uri;                       /* NULL: from the issuer's metadata */
    const char *jwks_file;                      /* a fixed JWK Set instead of jwks_uri */
    int64_t jwks_cooldown_seconds;              /* least time between unknown-kid refetches */
    mcpauth_jwt_policy jwt;                     /* algorithm allow-list, typ rule */
    bool introspect_jwt;                        /* introspect verified JWTs too */
    mcpauth_string_array audiences;             /* accepted; the resource URL is added first */
    mcpauth_string_array required_scopes;       /* default: mcp */
    const mcpauth_mcp_tool_policy *tool_policy; /* borrowed; NULL: no per-tool scopes */
    mcpauth_string_array allowed_origins;       /* besides the resource's own origin */
    mcpauth_string_array allowed_hosts;         /* besides the resource's host and loopback */
    int64_t leeway_seconds;
    size_t cache_size;
    int64_t cache_ttl_seconds;
    int64_t negative_ttl_seconds;
    size_t max_introspections;      /* calls to the AS out at once, per worker; 0: no limit */
    size_t max_introspection_queue; /* validations waiting for a call slot */
    /* --shared-cache: results shared with other instances through Redis
     * (url NULL: none); its resource and lifetimes are filled in from the
     * options above when a worker starts. */
    mcpauth_redis_cache_config shared_cache;
    /* Scope hierarchy (--scope-implies), closed; borrowed; NULL: none. It
     * applies to required_scopes and, set on tool_policy, to tools. */
    const mcpauth_scope_implies *scope_implies;

    mcpauth_mcp_config mcp;
    /* The legacy HTTP+SSE transport (MCP 2024-11-05): its stream and
     * messages paths, absolute ("/sse", "/messages"), unless turned off. */
    const char *sse_path;
    const char *messages_path;
    bool no_legacy_sse;
    /* A stdio backend (`serve -- COMMAND ARGS`) instead of the built-in
     * tools when backend.argv is set; its log goes to ours. */
    mcpauth_mcp_backend_config backend;
    mcpauth_http_server_limits limits;
    /* HTTPS on the listener (both or neither): the PEM certificate chain
     * and its private key, read again on SIGHUP. NULL: plain HTTP. */
    const char *tls_cert;
    const char *tls_key;
    /* A TLS-terminating proxy is in front: an https resource served over
     * plain HTTP is expected, not a mistake worth a warning. */
    bool behind_proxy;
    /* Peers whose Forwarded / X-Forwarded-For / X-Forwarded-Proto fields
     * name the client (for the access log); from others they are ignored. */
    mcpauth_http_proxies trusted_proxies;
    mcpauth_http_options http; /* for requests to the authorization server */
    int workers; /* worker processes; 1 runs in this process; 0 (the default): one per CPU,
                    but 1 with --dev, a stdio backend or --upstream */
    /* This server's name in a fleet: its MCP session ids start with it, so
     * that the load balancer routes a session back here (NULL: none). */
    const char *instance_id;
    int64_t shutdown_timeout_seconds;
    mcpauth_log_format log_format;
    FILE *log; /* where log lines go (stderr) */
} mcpauth_serve_config;

void mcpauth_serve_config_init(mcpauth_serve_config *config);

/* Settles what depends on the options given, once they all are: no
 * required scope means "mcp", and the resource URL becomes the first
 * accepted audience (RFC 8707 §2: tokens are issued for the resource; MCP
 * 2025-11-25 Token Audience Binding). MCPAUTH_EUSAGE when the audience list
 * has no room left for it. Call once, before mcpauth_serve_config_check(). */
mcpauth_status mcpauth_serve_config_complete(mcpauth_serve_config *config, mcpauth_error *err);

/* Checks the configuration before anything starts: URLs parse, the
 * resource has no fragment, --no-auth only on a loopback listen address,
 * credentials present when introspection is needed (--validation
 * introspect or --introspect-jwt; in auto mode without them, only JWTs are
 * accepted), a stdio backend only with sessions and one worker, no per-tool
 * scopes with --no-auth. MCPAUTH_ELOCAL (or
 * MCPAUTH_EUSAGE) with one line naming the problem. */
mcpauth_status mcpauth_serve_config_check(const mcpauth_serve_config *config, mcpauth_error *err);

/* Runs the server until SIGTERM or SIGINT, then drains within the shutdown
 * timeout. Discovers the introspection endpoint and jwks_uri first when
 * they are needed and not set.
 * Returns MCPAUTH_OK after a clean stop. Blocks. */
mcpauth_status mcpauth_serve_run(mcpauth_serve_config *config, mcpauth_error *err);

#endif
