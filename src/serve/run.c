/* Running `serve`: discovery before the loop starts, the worker processes
 * (one per CPU unless --workers says otherwise; one libuv loop each, each
 * with its own socket bound to the same port with SO_REUSEPORT, so the
 * kernel spreads connections), what they share (mapped before they fork:
 * the session table, the token cache, the metrics slots, an inbox each),
 * and a graceful stop on SIGTERM/SIGINT: stop accepting, let requests in
 * flight finish within the shutdown timeout, then close everything and
 * exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mcpauth/discovery.h"
#include "mcpauth/json.h"
#include "serve_internal.h"

#define DRAIN_POLL_MS 50
#define LOG_FLUSH_MS  200
#define FD_RESERVE    256 /* per worker: outbound calls, backends, logs */
#define MAX_WORKERS   256 /* as --workers allows */

/* IPv6 literals are bracketed in URLs (RFC 3986 §3.2.2). */
static const char *bracket_open(const mcpauth_serve_config *config)
{
    return strchr(config->listen_host, ':') ? "[" : "";
}

static const char *bracket_close(const mcpauth_serve_config *config)
{
    return strchr(config->listen_host, ':') ? "]" : "";
}

static const char *listen_scheme(const mcpauth_serve_config *config)
{
    return config->tls_cert ? "https" : "http";
}

/* ---- one worker ---- */

static void on_handle_closed(uv_handle_t *handle)
{
    (void)handle;
}

static void on_log_timer(uv_timer_t *timer)
{
    mcpauth__serve_context *ctx = timer->data;
    mcpauth__serve_log_flush(ctx->config);
    /* Gauges (connections, calls in flight) move without answers too. */
    mcpauth__serve_metrics_publish(ctx);
}

static void finish(mcpauth__serve_context *ctx)
{
    mcpauth__serve_legacy_stop(ctx->legacy);
    /* Requests waiting on a client metadata document are answered now. */
    if (ctx->resource.dev)
        mcpauth_devissuer_stop_fetching(ctx->resource.dev);
    mcpauth__serve_relay_stop(ctx->relay);
    mcpauth__serve_mail_stop(ctx->mail);
    ctx->mail = NULL;
    uv_timer_stop(&ctx->shutdown_timer);
    uv_timer_stop(&ctx->log_timer);
    /* Validations still waiting are answered (503) before their
     * connections go away; then the rest closes. */
    mcpauth_validator_free(ctx->validator);
    ctx->validator = NULL;
    mcpauth_redis_cache_free(ctx->redis); /* after the validator: see validator.h */
    ctx->redis = NULL;
    mcpauth_jwks_cache_free(ctx->jwks);
    ctx->jwks = NULL;
    mcpauth_http_server_close(ctx->server, NULL, NULL);
    ctx->server = NULL;
    mcpauth_http_async_close(ctx->http, NULL, NULL);
    ctx->http = NULL;
    uv_close((uv_handle_t *)&ctx->shutdown_timer, on_handle_closed);
    uv_close((uv_handle_t *)&ctx->log_timer, on_handle_closed);
    uv_close((uv_handle_t *)&ctx->sigterm, on_handle_closed);
    uv_close((uv_handle_t *)&ctx->sigint, on_handle_closed);
    uv_close((uv_handle_t *)&ctx->sighup, on_handle_closed);
}

static void on_drain_check(uv_timer_t *timer)
{
    mcpauth__serve_context *ctx = timer->data;
    uint64_t waited = uv_now(ctx->loop) - ctx->drain_started_ms;
    size_t open = mcpauth_http_server_connection_count(ctx->server);
    if (open == 0 || waited >= (uint64_t)ctx->config->shutdown_timeout_seconds * 1000) {
        if (open > 0)
            mcpauth__serve_log_event(ctx->config, "warning",
                                     "shutdown timeout: closing %zu connections still open", open);
        finish(ctx);
    }
}

static void on_signal(uv_signal_t *handle, int signum)
{
    mcpauth__serve_context *ctx = handle->data;
    if (ctx->stopping)
        return;
    ctx->stopping = true;
    mcpauth__serve_log_event(ctx->config, "info", "received %s: finishing requests in flight",
                             strsignal(signum));
    mcpauth_http_server_drain(ctx->server);
    /* 2026-07-28 subscriptions/listen streams end with their result. */
    mcpauth_mcp_close_streams(ctx->mcp);
    /* Legacy SSE streams would hold their connections until the timeout. */
    mcpauth__serve_legacy_stop(ctx->legacy);
    /* Children get SIGTERM now: their requests fail and their streams end,
     * so the connections can drain. */
    if (ctx->backend)
        mcpauth_mcp_backend_shutdown(ctx->backend, NULL, NULL);
    ctx->drain_started_ms = uv_now(ctx->loop);
    uv_timer_start(&ctx->shutdown_timer, on_drain_check, 0, DRAIN_POLL_MS);
}

/* SIGHUP (systemd's ExecReload): read the certificate and key again. New
 * handshakes get the new certificate; connections open keep theirs. A bad
 * new pair leaves the old one in use. */
static void on_reload_signal(uv_signal_t *handle, int signum)
{
    (void)signum;
    mcpauth__serve_context *ctx = handle->data;
    if (!ctx->resource.tls) {
        mcpauth__serve_log_event(ctx->config, "info", "SIGHUP: nothing to reload (no TLS)");
        return;
    }
    mcpauth_error err = {0};
    if (mcpauth_http_tls_reload(ctx->resource.tls, &err) != MCPAUTH_OK)
        mcpauth__serve_log_event(ctx->config, "error",
                                 "SIGHUP: keeping the current certificate: %s", err.message);
    else
        mcpauth__serve_log_event(ctx->config, "info", "SIGHUP: TLS certificate reloaded: %s",
                                 mcpauth_http_tls_describe(ctx->resource.tls));
}

/* A letter from another worker, to the part of this one it is for. */
static void on_letter(const mcpauth__serve_letter *letter, void *data)
{
    mcpauth__serve_context *ctx = data;
    if (letter->kind == MCPAUTH__SERVE_LETTER_POST || letter->kind == MCPAUTH__SERVE_LETTER_REPLY)
        mcpauth__serve_legacy_letter(ctx->legacy, letter);
    else
        mcpauth__serve_relay_letter(ctx->relay, letter);
}

/* The shared cache's connection came or went: published at once, so that
 * mcpauth_shared_cache_up, read by any worker, is never behind this one. */
static void on_shared_cache_state(bool up, void *data)
{
    (void)up;
    mcpauth__serve_metrics_publish(data);
}

/* Server events of the backend and the shared cache, into our log. */
static void on_backend_log(const char *level, const char *message, void *data)
{
    mcpauth__serve_log_event(data, level, "%s", message);
}

static mcpauth_status worker_start(mcpauth__serve_context *ctx, bool reuse_port, mcpauth_error *err)
{
    mcpauth_serve_config *config = ctx->config;
    int rc = mcpauth_http_server_new(ctx->loop, &config->limits, mcpauth__serve_handle_request, ctx,
                                     &ctx->server);
    if (rc == 0) {
        mcpauth_http_server_on_refused(ctx->server, mcpauth__serve_handle_refused, ctx);
        mcpauth_http_server_on_limit(ctx->server, mcpauth__serve_handle_limit, ctx);
        if (ctx->resource.tls)
            mcpauth_http_server_use_tls(ctx->server, ctx->resource.tls);
        mcpauth_http_server_trust_proxies(ctx->server, &config->trusted_proxies);
        rc = mcpauth_http_server_listen(ctx->server, config->listen_host, config->listen_port,
                                        reuse_port);
    }
    if (rc != 0)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot listen on %s:%d: %s",
                                 config->listen_host, config->listen_port, uv_strerror(rc));
    if ((rc = mcpauth_http_async_new(ctx->loop, &config->http, &ctx->http)) != 0)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot start the HTTP client: %s",
                                 uv_strerror(rc));
    /* --dev: client metadata documents are fetched with --cacert's trust. */
    if (ctx->resource.dev && (rc = mcpauth_devissuer_start_fetching(ctx->resource.dev, ctx->loop,
                                                                    config->http.cacert)) != 0)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot start the HTTP client: %s",
                                 uv_strerror(rc));
    if (!config->no_auth && config->validation != MCPAUTH_VALIDATE_INTROSPECT &&
        (config->jwks_uri || config->jwks_file)) {
        mcpauth_jwks_cache_config jc = {.uri = config->jwks_uri,
                                        .file = config->jwks_file,
                                        .cooldown_seconds = config->jwks_cooldown_seconds};
        if (!(ctx->jwks = mcpauth_jwks_cache_new(ctx->http, &jc, err)))
            return err->status;
    }
    if (!config->no_auth && config->shared_cache.url) {
        mcpauth_redis_cache_config sc = config->shared_cache;
        sc.resource = config->resource;
        sc.ttl_seconds = config->cache_ttl_seconds;
        sc.negative_ttl_seconds = config->negative_ttl_seconds;
        sc.log = on_backend_log;
        sc.log_data = config;
        sc.on_state = on_shared_cache_state;
        sc.state_data = ctx;
        if (!(ctx->redis = mcpauth_redis_cache_new(ctx->loop, &sc, err)))
            return mcpauth_error_prefix(err, "--shared-cache");
    }
    if (!config->no_auth) {
        mcpauth_validator_config vc = {
            .policy =
                {
                    .issuer = config->issuer,
                    .audiences = config->audiences.items,
                    .audience_count = config->audiences.count,
                    .leeway_seconds = config->leeway_seconds,
                    .require_expiry = true,
                    .implies = config->scope_implies,
                },
            .mode = config->validation,
            .introspection = config->introspection,
            .jwks = ctx->jwks,
            .jwt = config->jwt,
            .introspect_jwt = config->introspect_jwt,
            .cache_size = config->cache_size,
            .cache_ttl_seconds = config->cache_ttl_seconds,
            .negative_ttl_seconds = config->negative_ttl_seconds,
            .max_introspections = config->max_introspections,
            .max_introspection_queue = config->max_introspection_queue,
            .redis = ctx->redis,
            .shared_cache = ctx->shared->tokens,
            .loop = ctx->loop,
        };
        if (!(ctx->validator = mcpauth_validator_new(ctx->http, &vc)))
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    mcpauth_mcp_config mcp = config->mcp;
    mcp.tool_policy = config->tool_policy;
    mcp.loop = ctx->loop;
    mcp.keepalive_ms = config->backend.keepalive_ms;
    if (config->backend.stdio.argv || config->backend.upstream.url) {
        mcpauth_mcp_backend_config bc = config->backend;
        bc.upstream.http = &config->http;
        bc.log = on_backend_log;
        bc.log_data = config;
        if (!(ctx->backend = mcpauth_mcp_backend_new(ctx->loop, &bc)))
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        mcp.backend = ctx->backend;
    }
    if (!(ctx->mcp = mcpauth_mcp_server_new(&mcp)))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    uv_timer_init(ctx->loop, &ctx->shutdown_timer);
    uv_timer_init(ctx->loop, &ctx->log_timer);
    uv_signal_init(ctx->loop, &ctx->sigterm);
    uv_signal_init(ctx->loop, &ctx->sigint);
    uv_signal_init(ctx->loop, &ctx->sighup);
    ctx->shutdown_timer.data = ctx->log_timer.data = ctx->sigterm.data = ctx->sigint.data = ctx;
    ctx->sighup.data = ctx;
    uv_signal_start(&ctx->sighup, on_reload_signal, SIGHUP);
    uv_timer_start(&ctx->log_timer, on_log_timer, LOG_FLUSH_MS, LOG_FLUSH_MS);
    uv_signal_start(&ctx->sigterm, on_signal, SIGTERM);
    uv_signal_start(&ctx->sigint, on_signal, SIGINT);
    if (!mcpauth__serve_legacy_start(ctx))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    /* With several workers a session's requests may reach any of them: the
     * others hand what this one holds over to it (legacy_sse.c, relay.c). */
    if (ctx->shared->inboxes) {
        if (ctx->backend && !(ctx->relay = mcpauth__serve_relay_new(ctx)))
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        if (!(ctx->mail = mcpauth__serve_mail_start(ctx, on_letter, ctx)))
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot read this worker's inbox");
    }
    return MCPAUTH_OK;
}

/* Runs one worker's loop until it has stopped. */
/* The write end of the pipe on which the first workers say they listen,
 * so the parent announces "listening" only when connections are taken (a
 * worker started later to replace one has it closed: -1). */
static int ready_fd = -1;

static void worker_ready(void)
{
    if (ready_fd < 0)
        return;
    ssize_t n;
    do
        n = write(ready_fd, "r", 1);
    while (n < 0 && errno == EINTR);
    close(ready_fd);
    ready_fd = -1;
}

static mcpauth_status worker_run(mcpauth_serve_config *config,
                                 const mcpauth__serve_resource *resource,
                                 const mcpauth__serve_shared *shared, int worker, bool reuse_port,
                                 mcpauth_error *err)
{
    uv_loop_t loop;
    mcpauth__serve_context ctx = {
        .config = config, .loop = &loop, .resource = *resource, .shared = shared, .worker = worker};
    if (uv_loop_init(&loop) != 0)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot create the event loop");
    ctx.metrics.owner = &ctx;
    mcpauth__serve_metrics_adopt(&ctx);
    mcpauth_status st = worker_start(&ctx, reuse_port, err);
    if (st == MCPAUTH_OK) {
        worker_ready();
        if (!reuse_port)
            mcpauth__serve_log_event(config, "info", "listening on %s://%s%s%s:%d, resource %s",
                                     listen_scheme(config), bracket_open(config),
                                     config->listen_host, bracket_close(config),
                                     mcpauth_http_server_port(ctx.server), config->resource);
        uv_run(&loop, UV_RUN_DEFAULT);
        mcpauth__serve_log_flush(config);
    } else {
        mcpauth_validator_free(ctx.validator);
        mcpauth_redis_cache_free(ctx.redis);
        mcpauth_jwks_cache_free(ctx.jwks);
        if (ctx.server)
            mcpauth_http_server_close(ctx.server, NULL, NULL);
        if (ctx.http)
            mcpauth_http_async_close(ctx.http, NULL, NULL);
        if (ctx.backend)
            mcpauth_mcp_backend_shutdown(ctx.backend, NULL, NULL);
        mcpauth__serve_legacy_stop(ctx.legacy);
        mcpauth__serve_relay_stop(ctx.relay);
        mcpauth__serve_mail_stop(ctx.mail);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    mcpauth__serve_relay_free(ctx.relay);
    mcpauth__serve_legacy_free(ctx.legacy);
    mcpauth_mcp_server_free(ctx.mcp);
    mcpauth_mcp_backend_free(ctx.backend);
    uv_loop_close(&loop);
    return st;
}

/* ---- discovery ---- */

/* What discovery found, owned here (config points into it). */
typedef struct discovered {
    char *introspection_endpoint;
    char *jwks_uri;
} discovered;

/* Decides how tokens will be checked and fills in the endpoints the issuer's
 * metadata (RFC 8414 §2) provides and the configuration lacks: jwks_uri for
 * local JWT verification, introspection_endpoint when there are credentials
 * to call it with. Refuses a configuration that could check no token. */
static mcpauth_status discover_validation(mcpauth_serve_config *config, discovered *found,
                                          mcpauth_error *err)
{
    memset(found, 0, sizeof *found);
    if (config->no_auth)
        return MCPAUTH_OK;
    bool has_credentials = config->introspection.client_id && config->introspection.client_secret;
    /* An explicit --introspection-endpoint in auto mode means "introspect":
     * the issuer's metadata is then not needed at all (it may not exist). */
    bool want_jwks =
        config->validation != MCPAUTH_VALIDATE_INTROSPECT && !config->jwks_uri &&
        !config->jwks_file &&
        !(config->validation == MCPAUTH_VALIDATE_AUTO && config->introspection.endpoint);
    bool want_introspection = config->validation != MCPAUTH_VALIDATE_JWT && has_credentials &&
                              !config->introspection.endpoint;
    if (want_jwks || want_introspection) {
        mcpauth_as_metadata md = {0};
        if (mcpauth_discover_issuer(&config->http, config->issuer, &md, err) != MCPAUTH_OK)
            return mcpauth_error_prefix(err, "discovering the authorization server");
        const char *jwks_uri = mcpauth_json_string(md.document, "jwks_uri");
        const char *endpoint = mcpauth_json_string(md.document, "introspection_endpoint");
        if (want_jwks && jwks_uri && !(found->jwks_uri = strdup(jwks_uri)))
            want_jwks = false;
        if (want_introspection && endpoint)
            found->introspection_endpoint = strdup(endpoint);
        mcpauth_as_metadata_free(&md);
        if (found->jwks_uri)
            config->jwks_uri = found->jwks_uri;
        if (found->introspection_endpoint)
            config->introspection.endpoint = found->introspection_endpoint;
    }
    if (!has_credentials)
        config->introspection.endpoint = NULL;
    /* A bad key file is found now, once, rather than in every worker. */
    if (config->jwks_file && config->validation != MCPAUTH_VALIDATE_INTROSPECT) {
        mcpauth_jwks *keys = NULL;
        mcpauth_status st = mcpauth_jwks_load_file(config->jwks_file, &keys, err);
        mcpauth_jwks_free(keys);
        if (st != MCPAUTH_OK) {
            err->status = MCPAUTH_ELOCAL;
            return mcpauth_error_prefix(err, "--jwks-file");
        }
    }
    bool local = config->validation != MCPAUTH_VALIDATE_INTROSPECT &&
                 (config->jwks_uri || config->jwks_file);
    bool remote = config->validation != MCPAUTH_VALIDATE_JWT && config->introspection.endpoint;
    if (config->validation == MCPAUTH_VALIDATE_JWT && !local)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "--validation jwt: the authorization server %s publishes no "
                                 "jwks_uri; give --jwks-uri or --jwks-file",
                                 config->issuer);
    if ((config->validation == MCPAUTH_VALIDATE_INTROSPECT || config->introspect_jwt) && !remote)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "the authorization server %s advertises no "
                                 "introspection_endpoint; give --introspection-endpoint URL",
                                 config->issuer);
    if (!local && !remote && has_credentials)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "the authorization server %s advertises neither a jwks_uri nor an "
                                 "introspection_endpoint; give --introspection-endpoint URL or "
                                 "--jwks-uri URL",
                                 config->issuer);
    if (!local && !remote)
        return mcpauth_error_set(
            err, MCPAUTH_EUSAGE,
            "no way to check tokens: %s publishes no jwks_uri for local JWT verification, and "
            "token introspection needs the resource server's client credentials: "
            "--credentials FILE, or --client-id with --client-secret-file FILE or "
            "MCPAUTH_CLIENT_SECRET",
            config->issuer);
    return MCPAUTH_OK;
}

static void discovered_free(discovered *found)
{
    free(found->introspection_endpoint);
    free(found->jwks_uri);
}

/* ---- several workers ---- */

/* Reserves the port for the workers: a socket bound with SO_REUSEPORT but
 * not listening, so that port 0 resolves to one port every worker then
 * binds too. Each worker listens on its own socket and the kernel spreads
 * connections across them; one shared accept queue would let a single
 * worker take most of them. */
static int reserve_port(mcpauth_serve_config *config, mcpauth_error *err)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM},
                    *ai = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", config->listen_port);
    int rc = getaddrinfo(config->listen_host, service, &hints, &ai);
    if (rc != 0) {
        mcpauth_error_set(err, MCPAUTH_EUSAGE, "--listen: bad address %s: %s", config->listen_host,
                          gai_strerror(rc));
        return -1;
    }
    /* SO_REUSEPORT would also let us join another server already on the
     * port: a plain bind first proves the port is free. */
    int probe = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    if (config->listen_port != 0 && probe >= 0 &&
        (setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
         bind(probe, ai->ai_addr, ai->ai_addrlen) != 0)) {
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot listen on %s:%d: %s", config->listen_host,
                          config->listen_port, strerror(errno));
        close(probe);
        freeaddrinfo(ai);
        return -1;
    }
    if (probe >= 0)
        close(probe);
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot listen on %s:%d: %s", config->listen_host,
                          config->listen_port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage addr;
    socklen_t length = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &length);
    config->listen_port =
        ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                         : ((struct sockaddr_in *)&addr)->sin_port);
    return fd;
}

static volatile sig_atomic_t stop_signal;

static void on_parent_signal(int signum)
{
    stop_signal = signum;
}

/* SIGCHLD only has to end the parent's sigsuspend(); waitpid() reaps. */
static void on_parent_child(int signum)
{
    (void)signum;
}

/* SIGHUP to the parent: each worker reloads its own copy of the
 * certificate, so the signal is passed on. */
static volatile sig_atomic_t reload_signal;

static void on_parent_reload(int signum)
{
    (void)signum;
    reload_signal = 1;
}

/* The signal mask the parent had before it blocked the signals it waits
 * for: its workers get it back. */
static sigset_t unblocked_mask;

static pid_t spawn_worker(mcpauth_serve_config *config, const mcpauth__serve_resource *resource,
                          const mcpauth__serve_shared *shared, int worker)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* The child: default signal dispositions for libuv to take over. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGHUP, SIG_IGN); /* until the loop's handler reloads on it */
    sigprocmask(SIG_SETMASK, &unblocked_mask, NULL);
    /* A parent killed outright (SIGKILL, the OOM killer) forwards no signal:
     * without this its workers would go on serving, holding the port, and a
     * restart would fail with "Address already in use". SIGTERM drains as a
     * normal stop does. The parent may have died before prctl(): then
     * getppid() already names another process (prctl(2)). */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
        _exit(MCPAUTH_ELOCAL);
    mcpauth_error err = {0};
    mcpauth_status st = worker_run(config, resource, shared, worker, true, &err);
    if (st != MCPAUTH_OK)
        mcpauth__serve_log_event(config, "error", "worker %d: %s", (int)getpid(), err.message);
    _exit(st);
}

/* Waits until n workers listen, one of them failed (the pipe's write ends
 * are all closed), or 10 s passed. */
static void wait_for_workers(int fd, int n)
{
    int seen = 0;
    while (seen < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll(&p, 1, 10000);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return;
        char buffer[64];
        ssize_t got = read(fd, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return;
        seen += (int)got;
    }
}

static mcpauth_status run_workers(mcpauth_serve_config *config,
                                  const mcpauth__serve_resource *resource,
                                  const mcpauth__serve_shared *shared, mcpauth_error *err)
{
    int sock = reserve_port(config, err);
    if (sock < 0)
        return err->status;
    /* The signals the parent acts on stay blocked but while it waits in
     * sigsuspend(): one that came between a look at the flags and a
     * blocking waitpid() would otherwise wait there with it until a worker
     * exits (a SIGHUP sent just after start was lost so under valgrind). */
    sigset_t watched, waiting;
    sigemptyset(&watched);
    sigaddset(&watched, SIGTERM);
    sigaddset(&watched, SIGINT);
    sigaddset(&watched, SIGHUP);
    sigaddset(&watched, SIGCHLD);
    sigprocmask(SIG_BLOCK, &watched, &unblocked_mask);
    waiting = unblocked_mask;
    sigdelset(&waiting, SIGTERM);
    sigdelset(&waiting, SIGINT);
    sigdelset(&waiting, SIGHUP);
    sigdelset(&waiting, SIGCHLD);
    struct sigaction sa = {.sa_handler = on_parent_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct sigaction hup = {.sa_handler = on_parent_reload};
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, NULL);
    struct sigaction chld = {.sa_handler = on_parent_child};
    sigemptyset(&chld.sa_mask);
    sigaction(SIGCHLD, &chld, NULL);

    int n = config->workers;
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    if (!pids) {
        close(sock);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    int ready[2] = {-1, -1};
    if (pipe2(ready, O_CLOEXEC) == 0)
        ready_fd = ready[1];
    for (int i = 0; i < n; i++)
        pids[i] = spawn_worker(config, resource, shared, i);
    if (ready[1] >= 0) {
        close(ready[1]);
        ready_fd = -1;
        wait_for_workers(ready[0], n);
        close(ready[0]);
    }
    mcpauth__serve_log_event(config, "info", "listening on %s://%s%s%s:%d, resource %s, %d workers",
                             listen_scheme(config), bracket_open(config), config->listen_host,
                             bracket_close(config), config->listen_port, config->resource, n);

    int alive = n;
    bool forwarded = false;
    mcpauth_status st = MCPAUTH_OK;
    while (alive > 0) {
        if (reload_signal) {
            reload_signal = 0;
            for (int i = 0; i < n; i++)
                if (pids[i] > 0)
                    kill(pids[i], SIGHUP);
        }
        if (stop_signal && !forwarded) {
            for (int i = 0; i < n; i++)
                if (pids[i] > 0)
                    kill(pids[i], stop_signal);
            forwarded = true;
        }
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid == 0) {
            sigsuspend(&waiting); /* returns once a handler ran */
            continue;
        }
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < n; i++) {
            if (pids[i] != pid)
                continue;
            pids[i] = 0;
            alive--;
            bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            if (stop_signal)
                break;
            /* A worker that died on its own is replaced, so one crash does not
             * take a core out of service. */
            mcpauth__serve_log_event(config, "error", "worker %d %s %d; starting another", (int)pid,
                                     WIFSIGNALED(status) ? "killed by signal"
                                                         : "exited with status",
                                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            if (!clean && WIFEXITED(status) && WEXITSTATUS(status) == MCPAUTH_ELOCAL) {
                st = mcpauth_error_set(err, MCPAUTH_ELOCAL, "a worker could not start");
                stop_signal = SIGTERM;
                break;
            }
            pids[i] = spawn_worker(config, resource, shared, i);
            alive++;
            break;
        }
    }
    sigprocmask(SIG_SETMASK, &unblocked_mask, NULL);
    free(pids);
    close(sock);
    return st;
}

/* The state the workers share, mapped before they fork. */
static mcpauth_status shared_map(const mcpauth_serve_config *config, mcpauth__serve_shared *shared,
                                 mcpauth_error *err)
{
    if (!(shared->metrics = mcpauth__serve_metrics_map(config->workers)))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot map the metrics of %d workers",
                                 config->workers);
    /* A session's requests may reach any worker: those for what one worker
     * holds (a legacy stream, a backend's child) are handed over to it. */
    if (config->workers > 1 && !config->mcp.stateless && !mcpauth__serve_mail_open(shared))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot make the workers' inboxes: %s",
                                 strerror(errno));
    /* One validation per token for the whole server, not one per worker
     * (one worker has its own cache, and needs no other). */
    if (config->workers > 1 && !config->no_auth &&
        !(shared->tokens = mcpauth_token_shared_cache_new(
              config->cache_size, config->cache_ttl_seconds, config->negative_ttl_seconds)))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot map a token cache of %zu entries",
                                 config->cache_size);
    return MCPAUTH_OK;
}

static void shared_unmap(mcpauth__serve_shared *shared)
{
    mcpauth__serve_metrics_unmap(shared->metrics, shared->workers);
    mcpauth_token_shared_cache_free(shared->tokens);
    mcpauth__serve_mail_close_all(shared);
}

/* The usual soft limit of 1024 descriptors runs out long before
 * --max-connections, and then outbound calls (introspection, keys) fail too,
 * so valid tokens get 503. Raise it to the hard limit; when even that is
 * short, cap the connections so that FD_RESERVE stay free, and say so. The
 * limit is per process, and each worker holds up to --max-connections. */
static void fit_descriptor_limit(mcpauth_serve_config *config)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    size_t wanted = config->limits.max_connections;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)wanted + FD_RESERVE)
        return;
    size_t fit =
        rl.rlim_cur > 2 * FD_RESERVE ? (size_t)rl.rlim_cur - FD_RESERVE : (size_t)rl.rlim_cur / 2;
    config->limits.max_connections = fit;
    mcpauth__serve_log_event(config, "warning",
                             "file descriptor limit %llu: at most %zu connections per worker, not "
                             "--max-connections %zu (%d are kept for outbound calls and backends); "
                             "raise the hard limit (ulimit -Hn, LimitNOFILE=)",
                             (unsigned long long)rl.rlim_cur, fit, wanted, FD_RESERVE);
}

/* Loads the certificate once, before any worker forks (a bad one stops the
 * start with exit 5), and says which one is served. */
static mcpauth_status start_tls(mcpauth_serve_config *config, mcpauth__serve_resource *resource,
                                mcpauth_error *err)
{
    if (mcpauth_http_tls_new(config->tls_cert, config->tls_key, &resource->tls, err) != MCPAUTH_OK)
        return err->status;
    mcpauth__serve_log_event(config, "info", "TLS certificate: %s",
                             mcpauth_http_tls_describe(resource->tls));
    return MCPAUTH_OK;
}

/* An https resource on a plain listener: right behind a TLS-terminating
 * proxy, a mistake otherwise (clients would speak TLS to a plain port). */
static void warn_scheme(const mcpauth_serve_config *config)
{
    if (!config->tls_cert && !config->behind_proxy &&
        strncasecmp(config->resource, "https:", 6) == 0)
        mcpauth__serve_log_event(config, "warning",
                                 "--resource %s is https:// but the listener speaks plain HTTP: "
                                 "give --tls-cert/--tls-key, or --behind-proxy when a "
                                 "TLS-terminating proxy is in front",
                                 config->resource);
}

/* No --workers: one per CPU this process may run on, so that a default
 * install uses the machine; one with --dev, whose issuer's store lives in
 * one process. */
static void resolve_workers(mcpauth_serve_config *config)
{
    if (config->workers > 0)
        return;
    unsigned n = config->dev ? 1 : uv_available_parallelism();
    config->workers = n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

mcpauth_status mcpauth_serve_run(mcpauth_serve_config *config, mcpauth_error *err)
{
    /* Writes to a client that went away must fail with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    /* A reload (systemctl reload) that comes during discovery must not
     * stop the server: SIGHUP's default is to terminate. The loop's handler
     * (or the parent's, with workers) takes it over once they run. */
    signal(SIGHUP, SIG_IGN);
    resolve_workers(config);
    fit_descriptor_limit(config);
    discovered found;
    mcpauth__serve_resource resource;
    mcpauth__serve_dev dev = {0};
    if (config->dev && mcpauth__serve_dev_start(config, &dev, err) != MCPAUTH_OK) {
        mcpauth__serve_dev_stop(&dev);
        return err->status;
    }
    if (discover_validation(config, &found, err) != MCPAUTH_OK) {
        discovered_free(&found);
        mcpauth__serve_dev_stop(&dev);
        return err->status;
    }
    if (mcpauth__serve_resource_init(&resource, config, err) != MCPAUTH_OK) {
        mcpauth__serve_resource_free(&resource);
        discovered_free(&found);
        mcpauth__serve_dev_stop(&dev);
        return err->status;
    }
    resource.dev = dev.issuer;
    if (config->tls_cert && start_tls(config, &resource, err) != MCPAUTH_OK) {
        mcpauth__serve_resource_free(&resource);
        discovered_free(&found);
        mcpauth__serve_dev_stop(&dev);
        return err->status;
    }
    if (config->no_auth)
        mcpauth__serve_log_event(config, "warning",
                                 "--no-auth: serving without any token check (loopback only)");
    warn_scheme(config);
    /* Made before the workers are forked, so that they all share it: the
     * kernel spreads a client's connections across the workers. */
    if (!config->mcp.stateless &&
        !(config->mcp.sessions = mcpauth_mcp_sessions_new(config->mcp.max_sessions,
                                                          config->mcp.session_idle_seconds))) {
        mcpauth__serve_resource_free(&resource);
        discovered_free(&found);
        mcpauth__serve_dev_stop(&dev);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot map a table of %zu MCP sessions",
                                 config->mcp.max_sessions);
    }
    /* Checked by the option's parser already. */
    if (config->mcp.sessions && config->instance_id)
        mcpauth_mcp_sessions_set_instance(config->mcp.sessions, config->instance_id);
    mcpauth__serve_shared shared = {.workers = config->workers};
    mcpauth_status st = shared_map(config, &shared, err);
    if (st == MCPAUTH_OK)
        st = config->workers > 1 ? run_workers(config, &resource, &shared, err)
                                 : worker_run(config, &resource, &shared, 0, false, err);
    if (st == MCPAUTH_OK)
        mcpauth__serve_log_event(config, "info", "stopped");
    shared_unmap(&shared);
    mcpauth_mcp_sessions_free(config->mcp.sessions);
    config->mcp.sessions = NULL;
    mcpauth__serve_resource_free(&resource);
    discovered_free(&found);
    mcpauth__serve_dev_stop(&dev);
    return st;
}
