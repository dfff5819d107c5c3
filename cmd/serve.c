/* mcpauth serve: the OAuth-protected MCP server. Option parsing (flags and
 * --config FILE) only; the server is in src/serve/. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#include "commands.h"
#include "common.h"
#include "mcpauth/credentials.h"
#include "mcpauth/fileio.h"
#include "mcpauth/json.h"
#include "mcpauth/secret.h"
#include "mcpauth/serve.h"
#include "mcpauth_config.h"

#define CONFIG_FILE_MAX          (256 * 1024)
#define UPSTREAM_HEADER_FILE_MAX (64 * 1024)
#define MAX_UPSTREAM_HEADERS     64

enum {
    OPT_RESOURCE = 256,
    OPT_LISTEN,
    OPT_RESOURCE_NAME,
    OPT_NO_AUTH,
    OPT_ISSUER,
    OPT_INTROSPECTION_ENDPOINT,
    OPT_AUDIENCE,
    OPT_REQUIRED_SCOPE,
    OPT_LEEWAY,
    OPT_CACHE_SIZE,
    OPT_CACHE_TTL,
    OPT_NEGATIVE_TTL,
    OPT_SHARED_CACHE,
    OPT_SHARED_CACHE_PASSWORD_FILE,
    OPT_SHARED_CACHE_TIMEOUT,
    OPT_MAX_INTROSPECTIONS,
    OPT_MAX_INTROSPECTION_QUEUE,
    OPT_STATELESS,
    OPT_SSE_PATH,
    OPT_MESSAGES_PATH,
    OPT_NO_LEGACY_SSE,
    OPT_MAX_SESSIONS,
    OPT_SESSION_IDLE_TIMEOUT,
    OPT_ALLOWED_ORIGIN,
    OPT_ALLOWED_HOST,
    OPT_WORKERS,
    OPT_INSTANCE_ID,
    OPT_MAX_HEADER_BYTES,
    OPT_MAX_BODY_BYTES,
    OPT_MAX_CONNECTIONS,
    OPT_MAX_PIPELINED,
    OPT_HEADER_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_MAX_OUTPUT_BUFFER,
    OPT_WRITE_TIMEOUT,
    OPT_SHUTDOWN_TIMEOUT,
    OPT_LOG_FORMAT,
    OPT_CONFIG,
    OPT_VALIDATION,
    OPT_JWKS_URI,
    OPT_JWKS_FILE,
    OPT_JWKS_COOLDOWN,
    OPT_JWT_ALG,
    OPT_JWT_TYP_OPTIONAL,
    OPT_INTROSPECT_JWT,
    OPT_ENV,
    OPT_PASS_ENV,
    OPT_SHARED_BACKEND,
    OPT_BACKEND_TIMEOUT,
    OPT_BACKEND_KILL_TIMEOUT,
    OPT_BACKEND_MAX_LINE,
    OPT_BACKEND_MAX_BUFFER,
    OPT_MAX_CHILDREN,
    OPT_MAX_SESSIONS_PER_IDENTITY,
    OPT_REQUEST_STATE_TTL,
    OPT_MAX_INPUT_WAITS,
    OPT_UPSTREAM,
    OPT_UPSTREAM_HEADER_FILE,
    OPT_TOOL_SCOPE,
    OPT_SCOPE_IMPLIES,
    OPT_DEV,
    OPT_DEV_USER,
    OPT_DEV_AUTO_APPROVE,
    OPT_DEV_TOKEN_FORMAT,
    OPT_DEV_STATE,
    OPT_DEV_CODE_LIFETIME,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_BEHIND_PROXY,
    OPT_TRUSTED_PROXY,
};

static const cmd_option resource_options[] = {
    {"resource", 0, "URL", OPT_RESOURCE,
     "the MCP endpoint's public URL (http://localhost:8000/mcp)"},
    {"listen", 'l', "HOST:PORT", OPT_LISTEN, "address to listen on (127.0.0.1:8000)"},
    {"resource-name", 0, "NAME", OPT_RESOURCE_NAME, "resource_name in the metadata (mcpauth)"},
    {"no-auth", 0, NULL, OPT_NO_AUTH, "serve without token checks (loopback only; testing)"},
    {"stateless", 0, NULL, OPT_STATELESS, "no MCP sessions: every POST stands alone"},
    {"sse-path", 0, "PATH", OPT_SSE_PATH, "legacy HTTP+SSE transport: its stream (/sse)"},
    {"messages-path", 0, "PATH", OPT_MESSAGES_PATH,
     "legacy HTTP+SSE transport: where messages are POSTed (/messages)"},
    {"no-legacy-sse", 0, NULL, OPT_NO_LEGACY_SSE,
     "turn off the legacy HTTP+SSE transport (MCP 2024-11-05)"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option as_options[] = {
    {"issuer", 0, "URL", OPT_ISSUER, "the authorization server that issues the tokens"},
    {"introspection-endpoint", 0, "URL", OPT_INTROSPECTION_ENDPOINT,
     "RFC 7662 endpoint (default: from the issuer's metadata)"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option validation_options[] = {
    {"validation", 0, "MODE", OPT_VALIDATION,
     "auto (JWTs locally, other tokens introspected), jwt or introspect"},
    {"jwks-uri", 0, "URL", OPT_JWKS_URI, "the issuer's keys (default: jwks_uri in its metadata)"},
    {"jwks-file", 0, "FILE", OPT_JWKS_FILE, "verify JWTs with the JWK Set in FILE instead"},
    {"jwks-cooldown", 0, "SECONDS", OPT_JWKS_COOLDOWN,
     "least time between key refetches for unknown kids (30)"},
    {"jwt-alg", 0, "ALG", OPT_JWT_ALG,
     "allowed JWS algorithm, repeatable (RS256 ES256 EdDSA Ed25519 PS256)"},
    {"jwt-typ-optional", 0, NULL, OPT_JWT_TYP_OPTIONAL,
     "accept JWTs with no typ or the generic JWT (other types are refused)"},
    {"introspect-jwt", 0, NULL, OPT_INTROSPECT_JWT,
     "introspect verified JWTs too, to see revocations"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option token_options[] = {
    {"audience", 0, "VALUE", OPT_AUDIENCE,
     "also accept tokens for this audience, repeatable (the resource URL always is)"},
    {"required-scope", 0, "SCOPE", OPT_REQUIRED_SCOPE,
     "scope every request needs, repeatable (default: mcp)"},
    {"tool-scope", 0, "RULE", OPT_TOOL_SCOPE,
     "PATTERN=SCOPE[,SCOPE...]: scopes the tools matching PATTERN need too, repeatable"},
    {"scope-implies", 0, "RULE", OPT_SCOPE_IMPLIES,
     "BROAD=NARROW[,NARROW...]: a token with BROAD holds the NARROW scopes too, repeatable"},
    {"leeway", 0, "SECONDS", OPT_LEEWAY, "clock skew allowed on exp/nbf/iat (30)"},
    {"cache-size", 0, "N", OPT_CACHE_SIZE, "validation results kept, 0 disables (10000)"},
    {"cache-ttl", 0, "SECONDS", OPT_CACHE_TTL, "longest a good result is reused (300)"},
    {"negative-ttl", 0, "SECONDS", OPT_NEGATIVE_TTL, "how long a rejection is reused (10)"},
    {"max-introspections", 0, "N", OPT_MAX_INTROSPECTIONS,
     "introspection calls out at once, per worker, 0 no limit (32)"},
    {"max-introspection-queue", 0, "N", OPT_MAX_INTROSPECTION_QUEUE,
     "validations waiting for a call slot; beyond, 503 (1024)"},
    {"shared-cache", 0, "URL", OPT_SHARED_CACHE,
     "share results with other instances: redis://HOST[:PORT][/DB] or unix:PATH[?db=DB]"},
    {"shared-cache-password-file", 0, "FILE", OPT_SHARED_CACHE_PASSWORD_FILE,
     "Redis AUTH password (or MCPAUTH_SHARED_CACHE_PASSWORD)"},
    {"shared-cache-timeout", 0, "MS", OPT_SHARED_CACHE_TIMEOUT,
     "slower Redis answers count as Redis down (250)"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option server_options[] = {
    {"workers", 'w', "N", OPT_WORKERS, "worker processes (default: one per CPU)"},
    {"instance-id", 0, "LABEL", OPT_INSTANCE_ID,
     "this server's name in a fleet ([a-z0-9], at most 8): MCP session ids start with it"},
    {"allowed-origin", 0, "ORIGIN", OPT_ALLOWED_ORIGIN, "accept browser requests from ORIGIN"},
    {"allowed-host", 0, "HOST", OPT_ALLOWED_HOST, "accept this Host header value too"},
    {"max-sessions", 0, "N", OPT_MAX_SESSIONS, "MCP sessions, shared by the workers (10000)"},
    {"max-sessions-per-identity", 0, "N", OPT_MAX_SESSIONS_PER_IDENTITY,
     "MCP sessions one subject and client may hold, then 429; 0 no limit (16)"},
    {"session-idle-timeout", 0, "SECONDS", OPT_SESSION_IDLE_TIMEOUT,
     "drop MCP sessions unused this long (3600)"},
    {"max-header-bytes", 0, "N", OPT_MAX_HEADER_BYTES, "request line and headers (16384)"},
    {"max-body-bytes", 0, "N", OPT_MAX_BODY_BYTES, "request body (1048576)"},
    {"max-connections", 0, "N", OPT_MAX_CONNECTIONS, "open connections per worker (10000)"},
    {"max-pipelined", 0, "N", OPT_MAX_PIPELINED, "requests read ahead per connection (16)"},
    {"header-timeout", 0, "SECONDS", OPT_HEADER_TIMEOUT, "time to send request headers (10)"},
    {"idle-timeout", 0, "SECONDS", OPT_IDLE_TIMEOUT, "idle keep-alive connections close (60)"},
    {"max-output-buffer", 0, "BYTES", OPT_MAX_OUTPUT_BUFFER,
     "unsent response bytes per connection before reading stops (1048576)"},
    {"write-timeout", 0, "SECONDS", OPT_WRITE_TIMEOUT,
     "a connection whose output does not move this long closes (60)"},
    {"shutdown-timeout", 0, "SECONDS", OPT_SHUTDOWN_TIMEOUT,
     "on SIGTERM, time for requests in flight (10)"},
    {"log-format", 0, "FORMAT", OPT_LOG_FORMAT, "text (default) or json"},
    {"config", 0, "FILE", OPT_CONFIG, "read options from a JSON file (flags win)"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option backend_options[] = {
    {"env", 0, "NAME=VALUE", OPT_ENV, "set in the backend's environment, repeatable"},
    {"pass-env", 0, "NAME", OPT_PASS_ENV, "pass our NAME on to the backend, repeatable"},
    {"shared-backend", 0, NULL, OPT_SHARED_BACKEND,
     "one backend process for all sessions (stateless servers)"},
    {"backend-timeout", 0, "SECONDS", OPT_BACKEND_TIMEOUT,
     "a request's answer must come within (300)"},
    {"backend-kill-timeout", 0, "SECONDS", OPT_BACKEND_KILL_TIMEOUT,
     "from SIGTERM to SIGKILL when stopping a backend (5)"},
    {"backend-max-line", 0, "BYTES", OPT_BACKEND_MAX_LINE,
     "longest message the backend may write (4194304)"},
    {"backend-max-buffer", 0, "BYTES", OPT_BACKEND_MAX_BUFFER,
     "replay buffer and unread input per session (16777216)"},
    {"max-children", 0, "N", OPT_MAX_CHILDREN,
     "backend processes at once, then 429; 0 no limit (64)"},
    {"request-state-ttl", 0, "SECONDS", OPT_REQUEST_STATE_TTL,
     "era bridge: how long an InputRequiredResult's requestState is good (300)"},
    {"max-input-waits", 0, "N", OPT_MAX_INPUT_WAITS,
     "era bridge: calls one caller may leave waiting for input, then the oldest goes (16)"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option upstream_options[] = {
    {"upstream", 0, "URL", OPT_UPSTREAM,
     "forward MCP to this Streamable HTTP server instead (no backend command)"},
    {"upstream-header-file", 0, "FILE", OPT_UPSTREAM_HEADER_FILE,
     "'Name: value' lines sent upstream with every request (its credentials)"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option dev_options[] = {
    {"dev", 0, NULL, OPT_DEV,
     "run a development issuer on the resource's origin (loopback only; never production)"},
    {"dev-user", 0, "NAME", OPT_DEV_USER, "the development user (default: your login name)"},
    {"dev-auto-approve", 0, NULL, OPT_DEV_AUTO_APPROVE,
     "approve authorization requests without the consent page (headless tests)"},
    {"dev-token-format", 0, "FORMAT", OPT_DEV_TOKEN_FORMAT,
     "jwt (RFC 9068, ES256; default) or opaque (checked by introspection)"},
    {"dev-state", 0, "FILE", OPT_DEV_STATE,
     "keep registered clients and the signing key in FILE (0600) across restarts"},
    {"dev-code-lifetime", 0, "SECONDS", OPT_DEV_CODE_LIFETIME,
     "authorization code lifetime (60); shorter to test expiry"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option tls_options[] = {
    {"tls-cert", 0, "FILE", OPT_TLS_CERT,
     "serve HTTPS with this PEM certificate chain (reloaded on SIGHUP)"},
    {"tls-key", 0, "FILE", OPT_TLS_KEY, "the certificate's PEM private key (mode 0600)"},
    {"behind-proxy", 0, NULL, OPT_BEHIND_PROXY,
     "a TLS-terminating proxy is in front (https resource, plain HTTP listener)"},
    {"trusted-proxy", 0, "CIDR", OPT_TRUSTED_PROXY,
     "believe Forwarded/X-Forwarded-* from these peers, repeatable"},
    {NULL, 0, NULL, 0, NULL},
};

static const cmd_option_group serve_groups[] = {
    {"Resource server", {resource_options}},
    {"Authorization server", {as_options, cmd_client_options, cmd_client_auth_options}},
    {"Local JWT validation (RFC 9068)", {validation_options}},
    {"Token checks", {token_options}},
    {"Server", {server_options}},
    {"TLS and proxies", {tls_options}},
    {"Stdio backend (after -- COMMAND [ARGS...])", {backend_options}},
    {"HTTP backend (--backend-timeout and --backend-max-line apply)", {upstream_options}},
    {"Development issuer (loopback only)", {dev_options}},
    {"Connection to the authorization server", {cmd_http_options}},
};

static const cmd_spec serve_spec = {
    .name = "serve",
    .usage = "--credentials FILE [--issuer URL] [OPTIONS]\n"
             "       mcpauth serve --issuer URL --client-id ID [OPTIONS]\n"
             "       mcpauth serve --dev [--dev-auto-approve] [OPTIONS]\n"
             "       mcpauth serve --no-auth [OPTIONS]\n"
             "       mcpauth serve [OPTIONS] -- COMMAND [ARGS...]",
    .summary = "Serves MCP (Streamable HTTP) as an OAuth 2.1 protected resource: RFC 9728\n"
               "metadata, RFC 6750 challenges, tokens checked as RFC 9068 JWTs against the\n"
               "issuer's keys or by RFC 7662 introspection, with a cache. Built-in tools:\n"
               "hello_world and whoami; or, after --, a stdio MCP server run for each\n"
               "session and bridged to Streamable HTTP.",
    .groups = serve_groups,
    .group_count = sizeof serve_groups / sizeof serve_groups[0],
    .epilog =
        "Environment:\n"
        "  MCPAUTH_CLIENT_SECRET  the client secret, when no file is given\n"
        "  MCPAUTH_UPSTREAM_HEADER  one 'Name: value' header for --upstream, without a file\n"
        "\n"
        "Endpoints:\n"
        "  RESOURCE-PATH                                  MCP (POST, DELETE; GET with a backend)\n"
        "  /.well-known/oauth-protected-resource[PATH]    RFC 9728 metadata\n"
        "  /healthz, /metrics                             health, Prometheus\n"
        "  with --dev: /.well-known/oauth-authorization-server, /authorize, /token,\n"
        "  /register[/ID], /introspect, /revoke, /jwks    the development issuer\n"
        "\n"
        "Examples:\n"
        "  mcpauth register --issuer https://auth.example.com -o rs.json "
        "--grant-type client_credentials --scope mcp\n"
        "  mcpauth serve --credentials rs.json --resource https://mcp.example.com/mcp\n"
        "  mcpauth serve --no-auth --listen 127.0.0.1:3000 --resource "
        "http://127.0.0.1:3000/mcp\n"
        "  mcpauth serve --dev --listen 127.0.0.1:3000 --resource "
        "http://127.0.0.1:3000/mcp\n",
};

typedef struct serve_args {
    mcpauth_serve_config config;
    cmd_client_args client;
    const char *config_file;
    char *listen_host; /* owned: split from --listen */
    /* The lists whose values came from the --config file: the same flag on
     * the command line replaces them rather than adding to them. */
    struct {
        bool audience, required_scope, allowed_origin, allowed_host, jwt_alg, tool_scope, env,
            pass_env, scope_implies;
    } from_file;
    mcpauth_string_array env, pass_env;
    bool trusted_proxy_from_file; /* like from_file, for --trusted-proxy */
    char **file_command;          /* "backend-command" from the config file, NULL-terminated */
    const char *upstream_header_file;
    const char *shared_cache_password_file;
    char *shared_cache_password; /* owned, wiped */
    char *upstream_header_text;  /* owned, wiped: the lines, split in place */
    size_t upstream_header_length;
    const char *upstream_headers[MAX_UPSTREAM_HEADERS];
    bool jwt_algs_given; /* the first --jwt-alg replaces the default list */
    bool reading_file;
    mcpauth_string_array tool_scopes; /* --tool-scope rules, tried before the file's "tools" */
    json_object *tools; /* the --config file's "tools" object, borrowed from the document */
    mcpauth_string_array scope_implies; /* --scope-implies rules */
    char login[65];                     /* the default --dev-user */
    bool issuer_from_file;              /* the issuer came from --config, not --issuer */
} serve_args;

/* Adds value to list; from_file is the list's member of a->from_file. */
static int add_to(serve_args *a, mcpauth_string_array *list, bool *from_file, const char *value)
{
    if (!a->reading_file && *from_file) {
        list->count = 0;
        *from_file = false;
    } else if (a->reading_file) {
        *from_file = true;
    }
    if (list->count == MCPAUTH_SERVE_MAX_LIST)
        return cmd_usage_error(&serve_spec, "too many values (more than %d)",
                               MCPAUTH_SERVE_MAX_LIST);
    list->items[list->count++] = value;
    return 0;
}

static int set_seconds(const char *name, const char *arg, int64_t *out)
{
    long value;
    if (cmd_parse_long(&serve_spec, name, arg, 0, 86400 * 365, &value) != 0)
        return 2;
    *out = value;
    return 0;
}

static int set_size(const char *name, const char *arg, long min, long max, size_t *out)
{
    long value;
    if (cmd_parse_long(&serve_spec, name, arg, min, max, &value) != 0)
        return 2;
    *out = (size_t)value;
    return 0;
}

static int set_ms(const char *name, const char *arg, uint64_t *out)
{
    long value;
    if (cmd_parse_long(&serve_spec, name, arg, 1, 86400, &value) != 0)
        return 2;
    *out = (uint64_t)value * 1000;
    return 0;
}

static int parse_listen(serve_args *a, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg)
        return cmd_usage_error(&serve_spec, "--listen: '%s' is not HOST:PORT", arg);
    const char *host = arg;
    size_t host_length = (size_t)(colon - arg);
    if (arg[0] == '[' && colon[-1] == ']') {
        host++;
        host_length -= 2;
    }
    long port;
    if (cmd_parse_long(&serve_spec, "listen", colon + 1, 0, 65535, &port) != 0)
        return 2;
    free(a->listen_host);
    /* The one name worth resolving here; anything else must be numeric. */
    if (host_length == 9 && strncmp(host, "localhost", 9) == 0) {
        host = "127.0.0.1";
        host_length = 9;
    }
    a->listen_host = strndup(host, host_length);
    if (!a->listen_host)
        return cmd_usage_error(&serve_spec, "out of memory");
    a->config.listen_host = a->listen_host;
    a->config.listen_port = (int)port;
    return 0;
}

static int add_jwt_alg(serve_args *a, const char *arg)
{
    /* The first value replaces the default list, and the first one on the
     * command line replaces the configuration file's. */
    bool replace = !a->jwt_algs_given || (!a->reading_file && a->from_file.jwt_alg);
    bool fresh = replace;
    int rc = cmd_jwt_alg_option(&serve_spec, &a->config.jwt, &fresh, arg);
    if (rc == 0 && replace) {
        a->jwt_algs_given = true;
        a->from_file.jwt_alg = a->reading_file;
    }
    return rc;
}

/* The name goes into tokens and onto the consent page: keep it short and
 * printable. */
static int set_dev_user(mcpauth_serve_config *c, const char *arg)
{
    size_t length = strlen(arg);
    for (size_t i = 0; i < length; i++) {
        if ((unsigned char)arg[i] < 0x20 || arg[i] == 0x7f)
            length = 0;
    }
    if (length == 0 || length > 64)
        return cmd_usage_error(&serve_spec,
                               "--dev-user: give 1 to 64 characters without control characters");
    c->dev_issuer.user = arg;
    return 0;
}

static int on_option(void *ctx, int id, const char *arg)
{
    serve_args *a = ctx;
    mcpauth_serve_config *c = &a->config;
    int rc = cmd_http_option(&serve_spec, &c->http, id, arg);
    if (rc < 0)
        rc = cmd_client_option(&serve_spec, &a->client, id, arg);
    if (rc >= 0)
        return rc;
    long value;
    switch (id) {
    case OPT_RESOURCE:
        c->resource = arg;
        return 0;
    case OPT_LISTEN:
        return parse_listen(a, arg);
    case OPT_RESOURCE_NAME:
        c->resource_name = arg;
        return 0;
    case OPT_NO_AUTH:
        c->no_auth = true;
        return 0;
    case OPT_STATELESS:
        c->mcp.stateless = true;
        return 0;
    case OPT_SSE_PATH:
        c->sse_path = arg;
        return 0;
    case OPT_MESSAGES_PATH:
        c->messages_path = arg;
        return 0;
    case OPT_NO_LEGACY_SSE:
        c->no_legacy_sse = true;
        return 0;
    case OPT_ISSUER:
        c->issuer = arg;
        a->issuer_from_file = a->reading_file;
        return 0;
    case OPT_INTROSPECTION_ENDPOINT:
        c->introspection.endpoint = arg;
        return 0;
    case OPT_AUDIENCE:
        return add_to(a, &c->audiences, &a->from_file.audience, arg);
    case OPT_REQUIRED_SCOPE:
        return add_to(a, &c->required_scopes, &a->from_file.required_scope, arg);
    case OPT_ALLOWED_ORIGIN:
        return add_to(a, &c->allowed_origins, &a->from_file.allowed_origin, arg);
    case OPT_ALLOWED_HOST:
        return add_to(a, &c->allowed_hosts, &a->from_file.allowed_host, arg);
    case OPT_LEEWAY:
        return set_seconds("leeway", arg, &c->leeway_seconds);
    case OPT_CACHE_SIZE:
        return set_size("cache-size", arg, 0, 10000000, &c->cache_size);
    case OPT_CACHE_TTL:
        return set_seconds("cache-ttl", arg, &c->cache_ttl_seconds);
    case OPT_SHARED_CACHE: {
        mcpauth_error err = {0};
        if (mcpauth_redis_cache_check_url(arg, &err) != MCPAUTH_OK)
            return cmd_usage_error(&serve_spec, "--shared-cache: %s", err.message);
        c->shared_cache.url = arg;
        return 0;
    }
    case OPT_SHARED_CACHE_PASSWORD_FILE:
        a->shared_cache_password_file = arg;
        return 0;
    case OPT_SHARED_CACHE_TIMEOUT:
        if (cmd_parse_long(&serve_spec, "shared-cache-timeout", arg, 1, 60000, &value) != 0)
            return 2;
        c->shared_cache.timeout_ms = (uint64_t)value;
        return 0;
    case OPT_NEGATIVE_TTL:
        return set_seconds("negative-ttl", arg, &c->negative_ttl_seconds);
    case OPT_MAX_INTROSPECTIONS:
        return set_size("max-introspections", arg, 0, 100000, &c->max_introspections);
    case OPT_MAX_INTROSPECTION_QUEUE:
        return set_size("max-introspection-queue", arg, 1, 10000000, &c->max_introspection_queue);
    case OPT_MAX_SESSIONS:
        return set_size("max-sessions", arg, 1, 10000000, &c->mcp.max_sessions);
    case OPT_MAX_SESSIONS_PER_IDENTITY:
        return set_size("max-sessions-per-identity", arg, 0, 10000000,
                        &c->mcp.max_sessions_per_identity);
    case OPT_MAX_CHILDREN:
        return set_size("max-children", arg, 0, 100000, &c->backend.max_children);
    case OPT_REQUEST_STATE_TTL:
        return set_ms("request-state-ttl", arg, &c->mcp.request_state_ttl_ms);
    case OPT_MAX_INPUT_WAITS:
        return set_size("max-input-waits", arg, 1, 100000, &c->mcp.max_input_waits);
    case OPT_SESSION_IDLE_TIMEOUT:
        return set_seconds("session-idle-timeout", arg, &c->mcp.session_idle_seconds);
    case OPT_INSTANCE_ID:
        if (!mcpauth_mcp_instance_valid(arg))
            return cmd_usage_error(&serve_spec, "--instance-id: not 1 to %d of [a-z0-9]",
                                   MCPAUTH_MCP_INSTANCE_MAX);
        c->instance_id = arg;
        return 0;
    case OPT_WORKERS:
        if (cmd_parse_long(&serve_spec, "workers", arg, 1, 256, &value) != 0)
            return 2;
        c->workers = (int)value;
        return 0;
    case OPT_MAX_HEADER_BYTES:
        return set_size("max-header-bytes", arg, 1024, 1024 * 1024, &c->limits.max_header_bytes);
    case OPT_MAX_BODY_BYTES:
        return set_size("max-body-bytes", arg, 0, 64L * 1024 * 1024, &c->limits.max_body_bytes);
    case OPT_MAX_CONNECTIONS:
        return set_size("max-connections", arg, 1, 1000000, &c->limits.max_connections);
    case OPT_MAX_PIPELINED:
        return set_size("max-pipelined", arg, 1, 1024, &c->limits.max_pipelined);
    case OPT_HEADER_TIMEOUT:
        return set_ms("header-timeout", arg, &c->limits.header_timeout_ms);
    case OPT_IDLE_TIMEOUT:
        return set_ms("idle-timeout", arg, &c->limits.idle_timeout_ms);
    case OPT_MAX_OUTPUT_BUFFER:
        return set_size("max-output-buffer", arg, 4096, 1024L * 1024 * 1024,
                        &c->limits.max_output_bytes);
    case OPT_WRITE_TIMEOUT:
        return set_ms("write-timeout", arg, &c->limits.write_timeout_ms);
    case OPT_SHUTDOWN_TIMEOUT:
        return set_seconds("shutdown-timeout", arg, &c->shutdown_timeout_seconds);
    case OPT_LOG_FORMAT:
        if (strcmp(arg, "text") == 0)
            c->log_format = MCPAUTH_LOG_TEXT;
        else if (strcmp(arg, "json") == 0)
            c->log_format = MCPAUTH_LOG_JSON;
        else
            return cmd_usage_error(&serve_spec, "--log-format: '%s' is not text or json", arg);
        return 0;
    case OPT_CONFIG:
        a->config_file = arg;
        return 0;
    case OPT_TLS_CERT:
        c->tls_cert = arg;
        return 0;
    case OPT_TLS_KEY:
        c->tls_key = arg;
        return 0;
    case OPT_BEHIND_PROXY:
        c->behind_proxy = true;
        return 0;
    case OPT_TRUSTED_PROXY: {
        /* As with the other lists, the command line replaces the file's. */
        if (!a->reading_file && a->trusted_proxy_from_file)
            c->trusted_proxies.count = 0;
        a->trusted_proxy_from_file = a->reading_file;
        mcpauth_error err = {0};
        if (mcpauth_http_proxies_add(&c->trusted_proxies, arg, &err) != MCPAUTH_OK)
            return cmd_usage_error(&serve_spec, "--trusted-proxy: %s", err.message);
        return 0;
    }
    case OPT_VALIDATION:
        if (strcmp(arg, "auto") == 0)
            c->validation = MCPAUTH_VALIDATE_AUTO;
        else if (strcmp(arg, "jwt") == 0)
            c->validation = MCPAUTH_VALIDATE_JWT;
        else if (strcmp(arg, "introspect") == 0)
            c->validation = MCPAUTH_VALIDATE_INTROSPECT;
        else
            return cmd_usage_error(&serve_spec, "--validation: '%s' is not auto, jwt or introspect",
                                   arg);
        return 0;
    case OPT_JWKS_URI:
        c->jwks_uri = arg;
        return 0;
    case OPT_JWKS_FILE:
        c->jwks_file = arg;
        return 0;
    case OPT_JWKS_COOLDOWN:
        return set_seconds("jwks-cooldown", arg, &c->jwks_cooldown_seconds);
    case OPT_JWT_ALG:
        return add_jwt_alg(a, arg);
    case OPT_JWT_TYP_OPTIONAL:
        c->jwt.typ_optional = true;
        return 0;
    case OPT_INTROSPECT_JWT:
        c->introspect_jwt = true;
        return 0;
    case OPT_ENV:
        if (!strchr(arg, '=') || arg[0] == '=')
            return cmd_usage_error(&serve_spec, "--env: '%s' is not NAME=VALUE", arg);
        return add_to(a, &a->env, &a->from_file.env, arg);
    case OPT_PASS_ENV:
        return add_to(a, &a->pass_env, &a->from_file.pass_env, arg);
    case OPT_SHARED_BACKEND:
        c->backend.stdio.shared = true;
        return 0;
    case OPT_BACKEND_TIMEOUT:
        if (cmd_parse_long(&serve_spec, "backend-timeout", arg, 1, 86400, &value) != 0)
            return 2;
        c->backend.request_timeout_ms = (uint64_t)value * 1000;
        return 0;
    case OPT_BACKEND_KILL_TIMEOUT:
        if (cmd_parse_long(&serve_spec, "backend-kill-timeout", arg, 0, 3600, &value) != 0)
            return 2;
        c->backend.stdio.kill_grace_ms = (uint64_t)value * 1000;
        return 0;
    case OPT_BACKEND_MAX_LINE:
        return set_size("backend-max-line", arg, 1024, 256L * 1024 * 1024, &c->backend.max_line);
    case OPT_BACKEND_MAX_BUFFER:
        return set_size("backend-max-buffer", arg, 4096, 1024L * 1024 * 1024,
                        &c->backend.max_buffered);
    case OPT_UPSTREAM:
        c->backend.upstream.url = arg;
        return 0;
    case OPT_UPSTREAM_HEADER_FILE:
        a->upstream_header_file = arg;
        return 0;
    case OPT_TOOL_SCOPE:
        return add_to(a, &a->tool_scopes, &a->from_file.tool_scope, arg);
    case OPT_SCOPE_IMPLIES:
        return add_to(a, &a->scope_implies, &a->from_file.scope_implies, arg);
    case OPT_DEV:
        c->dev = true;
        return 0;
    case OPT_DEV_USER:
        return set_dev_user(c, arg);
    case OPT_DEV_AUTO_APPROVE:
        c->dev_issuer.auto_approve = true;
        return 0;
    case OPT_DEV_TOKEN_FORMAT:
        if (strcmp(arg, "jwt") == 0)
            c->dev_issuer.token_format = MCPAUTH_DEVISSUER_JWT;
        else if (strcmp(arg, "opaque") == 0)
            c->dev_issuer.token_format = MCPAUTH_DEVISSUER_OPAQUE;
        else
            return cmd_usage_error(&serve_spec, "--dev-token-format: '%s' is not jwt or opaque",
                                   arg);
        return 0;
    case OPT_DEV_STATE:
        c->dev_issuer.state_file = arg;
        return 0;
    case OPT_DEV_CODE_LIFETIME:
        if (cmd_parse_long(&serve_spec, "dev-code-lifetime", arg, 1, 600, &value) != 0)
            return 2;
        c->dev_issuer.code_lifetime_seconds = value;
        return 0;
    }
    return cmd_usage_error(&serve_spec, "internal error: unhandled option %d", id);
}

/* The option table entry for a config-file key (the long option name). */
static const cmd_option *find_option(const char *name)
{
    CMD_FOR_EACH_OPTION(&serve_spec, g, o)
    {
        if (strcmp(o->name, name) == 0)
            return o;
    }
    return NULL;
}

/* Applies one config-file member through the same handler as its flag. */
static int apply_config_value(serve_args *a, const cmd_option *o, json_object *value)
{
    if (!o->argument) {
        if (!json_object_is_type(value, json_type_boolean))
            return cmd_usage_error(&serve_spec, "\"%s\" must be true or false", o->name);
        return json_object_get_boolean(value) ? on_option(a, o->id, NULL) : 0;
    }
    if (json_object_is_type(value, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(value); i++) {
            json_object *item = json_object_array_get_idx(value, i);
            if (!json_object_is_type(item, json_type_string))
                return cmd_usage_error(&serve_spec, "\"%s\" must hold strings", o->name);
            int rc = on_option(a, o->id, json_object_get_string(item));
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    if (!json_object_is_type(value, json_type_string) && !json_object_is_type(value, json_type_int))
        return cmd_usage_error(&serve_spec, "\"%s\" must be a string or a number", o->name);
    return on_option(a, o->id, json_object_get_string(value));
}

/* "backend-command": ["COMMAND", "ARG", ...], the file's `-- COMMAND ARGS`. */
static int config_command(serve_args *a, json_object *value)
{
    size_t n = json_object_is_type(value, json_type_array) ? json_object_array_length(value) : 0;
    for (size_t i = 0; i < n; i++)
        if (!json_object_is_type(json_object_array_get_idx(value, i), json_type_string))
            n = 0;
    if (n == 0)
        return cmd_usage_error(&serve_spec,
                               "\"backend-command\" must be a non-empty array of strings");
    free(a->file_command);
    if (!(a->file_command = calloc(n + 1, sizeof *a->file_command)))
        return cmd_usage_error(&serve_spec, "out of memory");
    for (size_t i = 0; i < n; i++)
        a->file_command[i] = (char *)json_object_get_string(json_object_array_get_idx(value, i));
    return 0;
}

/* --config FILE: a JSON object whose members are long option names. The
 * document stays alive (*doc) because the options borrow its strings. */
static int load_config_file(serve_args *a, json_object **doc)
{
    char *text = NULL;
    size_t length = 0;
    mcpauth_error err = {0};
    if (mcpauth_file_read(a->config_file, CONFIG_FILE_MAX, &text, &length, &err) != MCPAUTH_OK)
        return cmd_fail("serve", &err);
    *doc = mcpauth_json_parse_object(text, length, "configuration", &err);
    free(text);
    if (!*doc) {
        fprintf(stderr, "mcpauth serve: %s: %s\n", a->config_file, err.message);
        return MCPAUTH_ELOCAL;
    }
    a->reading_file = true;
    cmd_set_option_source(a->config_file);
    int rc = 0;
    json_object_object_foreach(*doc, key, value)
    {
        if (strcmp(key, "backend-command") == 0) {
            if ((rc = config_command(a, value)) != 0)
                break;
            continue;
        }
        /* The per-tool scope policy is the one member that is not an option. */
        if (strcmp(key, "tools") == 0) {
            a->tools = value;
            continue;
        }
        const cmd_option *o = find_option(key);
        if (!o || o->id == OPT_CONFIG) {
            fprintf(stderr, "mcpauth serve: %s: unknown option \"%s\"\n", a->config_file, key);
            rc = MCPAUTH_ELOCAL;
            break;
        }
        if (apply_config_value(a, o, value) != 0) {
            rc = MCPAUTH_ELOCAL; /* a bad file is a configuration error */
            break;
        }
    }
    a->reading_file = false;
    cmd_set_option_source(NULL);
    return rc;
}

/* The stdio backend: the command after -- (else the file's) and its
 * environment lists. */
static int backend_setup(serve_args *a, char **command)
{
    mcpauth_serve_config *c = &a->config;
    c->backend.stdio.argv = command ? command : a->file_command;
    if (!c->backend.stdio.argv)
        return 0;
    c->backend.stdio.env = a->env.items;
    c->backend.stdio.env_count = a->env.count;
    c->backend.stdio.pass_env = a->pass_env.items;
    c->backend.stdio.pass_env_count = a->pass_env.count;
    return 0;
}

/* One 'Name: value' line (mcp_backend.h has the rules). */
static int upstream_header_add(serve_args *a, const char *where, char *line, size_t *count)
{
    mcpauth_error err = {0};
    if (mcpauth_mcp_upstream_header_check(line, &err) != MCPAUTH_OK)
        return cmd_usage_error(&serve_spec, "%s: %s", where, err.message);
    if (*count == MAX_UPSTREAM_HEADERS)
        return cmd_usage_error(&serve_spec, "%s: at most %d headers", where, MAX_UPSTREAM_HEADERS);
    a->upstream_headers[(*count)++] = line;
    return 0;
}

/* --upstream: its headers from --upstream-header-file (lines, blank ones
 * and # comments skipped) or MCPAUTH_UPSTREAM_HEADER (one line), never
 * from argv, which other users can read in ps. */
static int upstream_setup(serve_args *a)
{
    mcpauth_serve_config *c = &a->config;
    if (!c->backend.upstream.url) {
        if (a->upstream_header_file)
            return cmd_usage_error(&serve_spec, "--upstream-header-file needs --upstream");
        return 0;
    }
    if (c->backend.stdio.argv)
        return cmd_usage_error(&serve_spec, "--upstream cannot be used with a backend command");
    mcpauth_error err = {0};
    const char *where = a->upstream_header_file;
    size_t length = 0;
    if (where) {
        if (mcpauth_file_read(where, UPSTREAM_HEADER_FILE_MAX, &a->upstream_header_text, &length,
                              &err) != MCPAUTH_OK)
            return cmd_fail("serve", &err);
        if (mcpauth_file_is_shared(where))
            cmd_warn("serve", "%s is readable by other users; it may hold secrets (chmod 600 it)",
                     where);
    } else {
        const char *env = getenv("MCPAUTH_UPSTREAM_HEADER");
        if (!env || !*env)
            return 0;
        where = "MCPAUTH_UPSTREAM_HEADER";
        if (strchr(env, '\n') || strchr(env, '\r'))
            return cmd_usage_error(&serve_spec, "%s: one 'Name: value' line only", where);
        if (!(a->upstream_header_text = strdup(env)))
            return cmd_usage_error(&serve_spec, "out of memory");
        length = strlen(env);
    }
    size_t count = 0;
    for (char *line = a->upstream_header_text, *end; line; line = end) {
        end = strchr(line, '\n');
        if (end)
            *end++ = '\0';
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r')
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        int rc = upstream_header_add(a, where, line, &count);
        if (rc != 0)
            return rc;
    }
    a->upstream_header_length = length;
    c->backend.upstream.headers = a->upstream_headers;
    c->backend.upstream.header_count = count;
    return 0;
}

/* The per-tool scope policy: the --tool-scope rules first, in order, then
 * the --config file's "tools" object. *policy stays NULL without either. */
static int build_tool_policy(serve_args *a, mcpauth_mcp_tool_policy **policy)
{
    if (a->tool_scopes.count == 0 && !a->tools)
        return 0;
    mcpauth_error err = {0};
    *policy = mcpauth_mcp_tool_policy_new();
    if (!*policy) {
        mcpauth_error_set(&err, MCPAUTH_ELOCAL, "out of memory");
        return cmd_fail("serve", &err);
    }
    for (size_t i = 0; i < a->tool_scopes.count; i++) {
        if (mcpauth_mcp_tool_policy_add_text(*policy, a->tool_scopes.items[i], &err) !=
            MCPAUTH_OK) {
            /* Rules from the file's "tool-scope" member are a configuration
             * error (exit 5), those from the command line a usage error. */
            cmd_set_option_source(a->from_file.tool_scope ? a->config_file : NULL);
            int status = cmd_usage_error(&serve_spec, "%s", err.message);
            cmd_set_option_source(NULL);
            return status;
        }
    }
    if (a->tools &&
        mcpauth_mcp_tool_policy_add_json(*policy, a->tools, "tools", &err) != MCPAUTH_OK) {
        fprintf(stderr, "mcpauth serve: %s: %s\n", a->config_file, err.message);
        return MCPAUTH_ELOCAL;
    }
    a->config.tool_policy = *policy;
    return 0;
}

/* The scope hierarchy, closed once here so that every worker shares the
 * closure. Any fault in it (syntax, a name that is no scope token, a
 * cycle) is a configuration error, exit 5, whichever source it came from. */
static int build_scope_implies(serve_args *a, mcpauth_scope_implies **set)
{
    if (a->scope_implies.count == 0)
        return 0;
    mcpauth_error err = {0};
    if (!(*set = mcpauth_scope_implies_new())) {
        mcpauth_error_set(&err, MCPAUTH_ELOCAL, "out of memory");
        return cmd_fail("serve", &err);
    }
    mcpauth_status status = MCPAUTH_OK;
    for (size_t i = 0; i < a->scope_implies.count && status == MCPAUTH_OK; i++)
        status = mcpauth_scope_implies_add(*set, a->scope_implies.items[i], &err);
    if (status == MCPAUTH_OK)
        status = mcpauth_scope_implies_close(*set, &err);
    if (status != MCPAUTH_OK) {
        if (a->from_file.scope_implies)
            fprintf(stderr, "mcpauth serve: %s: %s\n", a->config_file, err.message);
        else
            cmd_fail("serve", &err);
        return MCPAUTH_ELOCAL;
    }
    a->config.scope_implies = *set;
    return 0;
}

static bool names_offline_access(const char *const *scopes, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(scopes[i], "offline_access") == 0)
            return true;
    }
    return false;
}

/* MCP 2026-07-28 authorization §Refresh Tokens: offline_access
 * asks the authorization server for a refresh token; it is no permission
 * on this resource, so challenges and scopes_supported leave it out
 * whatever the rules say. A rule naming it is likely a mistake: say so. */
static void warn_offline_access(const mcpauth_serve_config *c)
{
    size_t count = 0;
    const char **scopes = mcpauth_mcp_tool_policy_scopes_union(
        c->tool_policy, c->required_scopes.items, c->required_scopes.count, &count);
    bool named = scopes && names_offline_access(scopes, count);
    free(scopes);
    const char *const *implied = mcpauth_scope_implies_scopes(c->scope_implies, &count);
    if (named || names_offline_access(implied, count))
        cmd_warn("serve", "a scope rule names offline_access: it is no permission on this "
                          "resource, and challenges and scopes_supported never name it");
}

/* Fills the client credentials from --credentials and the secret sources. */
static int load_credentials(serve_args *a, mcpauth_credentials *creds, char **secret)
{
    mcpauth_serve_config *c = &a->config;
    int status = cmd_client_load("serve", &a->client, creds);
    if (status == 0)
        status =
            cmd_client_check_issuer("serve", a->client.credentials_file, creds->issuer,
                                    a->issuer_from_file ? a->config_file : "--issuer", c->issuer,
                                    a->issuer_from_file ? MCPAUTH_ELOCAL : MCPAUTH_EUSAGE);
    if (status != 0)
        return status;
    c->introspection.client_id =
        a->client.client_id ? a->client.client_id : mcpauth_credentials_client_id(creds);
    if (!c->issuer)
        c->issuer = creds->issuer;
    if (a->client.auth_given)
        c->introspection.auth = a->client.auth;
    return cmd_client_secret("serve", &a->client, mcpauth_credentials_client_secret(creds), secret,
                             &c->introspection.client_secret);
}

/* The login name of the user running us, for --dev's user. */
static const char *login_name(char *buf, size_t size)
{
    struct passwd *pw = getpwuid(geteuid());
    const char *name = pw && pw->pw_name[0] ? pw->pw_name : getenv("USER");
    snprintf(buf, size, "%s", name && name[0] ? name : "developer");
    return buf;
}

/* --shared-cache: its password from a file or the environment, never argv. */
static int shared_cache_setup(serve_args *a)
{
    mcpauth_serve_config *c = &a->config;
    if (!c->shared_cache.url) {
        if (a->shared_cache_password_file)
            return cmd_usage_error(&serve_spec,
                                   "--shared-cache-password-file needs --shared-cache");
        return 0;
    }
    mcpauth_error err = {0};
    if (cmd_read_secret(a->shared_cache_password_file, "MCPAUTH_SHARED_CACHE_PASSWORD",
                        "shared cache password", &a->shared_cache_password, &err) != MCPAUTH_OK)
        return cmd_fail("serve", &err);
    c->shared_cache.password = a->shared_cache_password;
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    serve_args a = {0};
    mcpauth_serve_config *c = &a.config;
    mcpauth_serve_config_init(c);
    c->mcp.server_version = MCPAUTH_VERSION;
    mcpauth_credentials creds = {0};
    json_object *file_doc = NULL;
    mcpauth_mcp_tool_policy *tool_policy = NULL;
    mcpauth_scope_implies *scope_implies = NULL;
    char *secret = NULL;
    int operands = 0;

    /* First pass only to find --config, so the file can be applied before
     * the flags that override it. */
    int status = cmd_parse_options(&serve_spec, argc, argv, on_option, &a, &operands);
    if (status >= 0)
        goto done;
    /* `serve [OPTIONS] -- COMMAND ARGS`: the rest is the backend's. */
    bool command_given = operands < argc && strcmp(argv[operands - 1], "--") == 0;
    if (operands < argc && !command_given) {
        status = cmd_usage_error(&serve_spec,
                                 "unexpected argument '%s' (a backend command goes after --)",
                                 argv[operands]);
        goto done;
    }
    if (a.config_file) {
        const char *file = a.config_file;
        free(a.listen_host);
        memset(&a, 0, sizeof a);
        mcpauth_serve_config_init(c);
        c->mcp.server_version = MCPAUTH_VERSION;
        a.config_file = file;
        if ((status = load_config_file(&a, &file_doc)) != 0)
            goto done;
        if ((status = cmd_parse_options(&serve_spec, argc, argv, on_option, &a, &operands)) >= 0)
            goto done;
    }
    if ((status = build_tool_policy(&a, &tool_policy)) != 0 ||
        (status = build_scope_implies(&a, &scope_implies)) != 0)
        goto done;
    if (tool_policy)
        mcpauth_mcp_tool_policy_set_implies(tool_policy, scope_implies);
    if ((status = load_credentials(&a, &creds, &secret)) != 0)
        goto done;
    if ((status = backend_setup(&a, command_given ? &argv[operands] : NULL)) != 0)
        goto done;
    if ((status = upstream_setup(&a)) != 0)
        goto done;
    if ((status = shared_cache_setup(&a)) != 0)
        goto done;
    if (c->dev && !c->dev_issuer.user)
        c->dev_issuer.user = login_name(a.login, sizeof a.login);
    mcpauth_error err = {0};
    if (mcpauth_serve_config_complete(c, &err) != MCPAUTH_OK ||
        mcpauth_serve_config_check(c, &err) != MCPAUTH_OK) {
        status = err.status == MCPAUTH_EUSAGE ? cmd_usage_error(&serve_spec, "%s", err.message)
                                              : cmd_fail("serve", &err);
        goto done;
    }
    warn_offline_access(c);
    status = mcpauth_serve_run(c, &err) == MCPAUTH_OK ? 0 : cmd_fail("serve", &err);
done:
    mcpauth_credentials_free(&creds);
    mcpauth_secret_free(secret);
    json_object_put(file_doc);
    mcpauth_mcp_tool_policy_free(tool_policy);
    mcpauth_scope_implies_free(scope_implies);
    free(a.listen_host);
    free(a.file_command);
    if (a.upstream_header_text) /* split with NULs: wiped by length */
        explicit_bzero(a.upstream_header_text, a.upstream_header_length);
    free(a.upstream_header_text);
    mcpauth_secret_free(a.shared_cache_password);
    return status;
}
