/* The stdio backend behind the engine (mcp_backend.h): which bridge serves
 * which session, the children's environment, the idle sweep, the timer for
 * timeouts and keep-alives, and shutdown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcp_internal.h"
#include "mcpauth/child_process.h"
#include "mcpauth/strbuf.h"

extern char **environ;

#define TICK_MS          250
#define IDLE_CHECK_TICKS 4
#define MAX_STDERR_LINE  1024
#define MAX_ENV          512

typedef struct bridge_entry {
    struct bridge_entry *next;
    mcpauth__bridge *bridge;
    mcpauth_mcp_backend *backend;
} bridge_entry;

struct mcpauth_mcp_backend {
    uv_loop_t *loop;
    mcpauth_mcp_backend_config config;
    uv_timer_t timer;
    unsigned ticks;
    bridge_entry *bridges;
    mcpauth__bridge *shared; /* with config.shared: the one child, while it is usable */
    mcpauth_mcp_sessions *table;
    size_t children;
    bool shutting_down, timer_closed;
    mcpauth_mcp_backend_closed_cb closed_cb;
    void *closed_data;
    mcpauth__upstream *upstream; /* with config.upstream_url, instead of children */
    bool upstream_closed;
};

void mcpauth_mcp_backend_config_init(mcpauth_mcp_backend_config *config)
{
    memset(config, 0, sizeof *config);
    config->request_timeout_ms = 300000;
    config->kill_grace_ms = 5000;
    config->max_line = 4 * 1024 * 1024;
    config->max_buffered = 16 * 1024 * 1024;
    config->keepalive_ms = 15000;
}

static void backend_log(mcpauth_mcp_backend *backend, const char *level, const char *message)
{
    if (backend->config.log)
        backend->config.log(level, message, backend->config.log_data);
}

static void on_bridge_log(const char *level, const char *message, void *data)
{
    bridge_entry *entry = data;
    backend_log(entry->backend, level, message);
}

/* ---- the idle sweep and the timer ---- */

typedef struct dead_sessions {
    const mcpauth__bridge *bridge;
    mcpauth_mcp_sessions *table;
    int64_t now;
    char ids[8][MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    size_t count;
} dead_sessions;

static void collect_dead(const char *session_id, void *data)
{
    dead_sessions *dead = data;
    /* A session busy with a long call or an open stream is in use. */
    if (mcpauth__bridge_session_busy(dead->bridge, session_id)) {
        mcpauth__session_touch(dead->table, session_id, dead->now);
        return;
    }
    if (dead->count < sizeof dead->ids / sizeof dead->ids[0] &&
        !mcpauth__session_alive(dead->table, session_id, dead->now))
        snprintf(dead->ids[dead->count++], sizeof dead->ids[0], "%s", session_id);
}

/* Sessions the table dropped (idle, or pushed out when it was full) take
 * their children with them. */
static void sweep_idle(mcpauth_mcp_backend *backend)
{
    for (bridge_entry *e = backend->bridges; e && backend->table; e = e->next) {
        dead_sessions dead = {
            .bridge = e->bridge, .table = backend->table, .now = (int64_t)time(NULL)};
        mcpauth__bridge_each_session(e->bridge, collect_dead, &dead);
        for (size_t i = 0; i < dead.count; i++) {
            char message[160];
            snprintf(message, sizeof message, "session %.8s... idle; backend[%d] released",
                     dead.ids[i], mcpauth__bridge_pid(e->bridge));
            backend_log(backend, "info", message);
            mcpauth__bridge_detach(e->bridge, dead.ids[i], "the session expired");
        }
    }
}

static void on_tick(uv_timer_t *timer)
{
    mcpauth_mcp_backend *backend = timer->data;
    uint64_t now = uv_now(backend->loop);
    for (bridge_entry *e = backend->bridges; e; e = e->next)
        mcpauth__bridge_tick(e->bridge, now);
    if (++backend->ticks % IDLE_CHECK_TICKS == 0)
        sweep_idle(backend);
}

mcpauth_mcp_backend *mcpauth_mcp_backend_new(uv_loop_t *loop,
                                             const mcpauth_mcp_backend_config *config)
{
    mcpauth_mcp_backend *backend = calloc(1, sizeof *backend);
    if (!backend)
        return NULL;
    backend->loop = loop;
    backend->config = *config;
    backend->upstream_closed = true;
    if (config->upstream_url) {
        backend->upstream_closed = false;
        if (!(backend->upstream = mcpauth__upstream_new(loop, &backend->config))) {
            free(backend);
            return NULL;
        }
    }
    uv_timer_init(loop, &backend->timer);
    backend->timer.data = backend;
    uv_timer_start(&backend->timer, on_tick, TICK_MS, TICK_MS);
    return backend;
}

/* ---- closing ---- */

static void maybe_closed(mcpauth_mcp_backend *backend)
{
    if (backend->shutting_down && backend->timer_closed && backend->children == 0 &&
        backend->upstream_closed && backend->closed_cb) {
        mcpauth_mcp_backend_closed_cb cb = backend->closed_cb;
        backend->closed_cb = NULL;
        cb(backend, backend->closed_data);
    }
}

static void on_timer_closed(uv_handle_t *handle)
{
    mcpauth_mcp_backend *backend = handle->data;
    backend->timer_closed = true;
    maybe_closed(backend);
}

static void on_upstream_closed(void *data)
{
    mcpauth_mcp_backend *backend = data;
    backend->upstream_closed = true;
    maybe_closed(backend);
}

static void on_bridge_closed(mcpauth__bridge *bridge, void *data)
{
    bridge_entry *entry = data;
    mcpauth_mcp_backend *backend = entry->backend;
    for (bridge_entry **e = &backend->bridges; *e; e = &(*e)->next) {
        if (*e == entry) {
            *e = entry->next;
            break;
        }
    }
    if (backend->shared == bridge)
        backend->shared = NULL;
    free(entry);
    backend->children--;
    maybe_closed(backend);
}

static void on_session_ended(const char *session_id, void *data)
{
    bridge_entry *entry = data;
    mcpauth_mcp_backend *backend = entry->backend;
    if (backend->shared == entry->bridge)
        backend->shared = NULL;
    if (backend->table)
        mcpauth__session_remove(backend->table, session_id);
}

void mcpauth_mcp_backend_shutdown(mcpauth_mcp_backend *backend,
                                  mcpauth_mcp_backend_closed_cb closed_cb, void *data)
{
    if (backend->shutting_down)
        return;
    backend->shutting_down = true;
    backend->closed_cb = closed_cb;
    backend->closed_data = data;
    backend->shared = NULL;
    for (bridge_entry *e = backend->bridges; e; e = e->next)
        mcpauth__bridge_stop(e->bridge, "the server is shutting down");
    if (backend->upstream)
        mcpauth__upstream_shutdown(backend->upstream, on_upstream_closed, backend);
    uv_timer_stop(&backend->timer);
    uv_close((uv_handle_t *)&backend->timer, on_timer_closed);
}

void mcpauth_mcp_backend_free(mcpauth_mcp_backend *backend)
{
    if (backend && backend->upstream)
        mcpauth__upstream_free(backend->upstream);
    free(backend);
}

/* ---- the environment of a child ---- */

typedef struct env_list {
    char *items[MAX_ENV + 1];
    size_t count;
} env_list;

static void env_add(env_list *env, const char *name, const char *value)
{
    if (!value || env->count == MAX_ENV)
        return;
    size_t length = strlen(name) + strlen(value) + 2;
    char *item = malloc(length);
    if (!item)
        return;
    snprintf(item, length, "%s=%s", name, value);
    env->items[env->count++] = item;
}

static void env_add_entry(env_list *env, const char *entry)
{
    if (env->count < MAX_ENV && (env->items[env->count] = strdup(entry)))
        env->count++;
}

static bool inherited_by_default(const char *entry)
{
    return strncmp(entry, "PATH=", 5) == 0 || strncmp(entry, "HOME=", 5) == 0 ||
           strncmp(entry, "LANG=", 5) == 0 || strncmp(entry, "LC_", 3) == 0;
}

/* PATH, HOME, LANG and LC_* from ours, then --pass-env, then --env, then
 * the identity (never the token: MCP security best practices, token
 * passthrough). */
static void env_build(const mcpauth_mcp_backend *backend, const mcpauth_mcp_identity *identity,
                      env_list *env)
{
    const mcpauth_mcp_backend_config *c = &backend->config;
    for (char **e = environ; *e; e++)
        if (inherited_by_default(*e))
            env_add_entry(env, *e);
    for (size_t i = 0; i < c->pass_env_count; i++)
        env_add(env, c->pass_env[i], getenv(c->pass_env[i]));
    for (size_t i = 0; i < c->env_count; i++)
        env_add_entry(env, c->env[i]);
    const mcpauth_token_info *token = identity ? identity->token : NULL;
    if (!token || c->shared)
        return;
    env_add(env, "MCPAUTH_SUBJECT", token->subject);
    env_add(env, "MCPAUTH_CLIENT_ID", token->client_id);
    mcpauth_strbuf scopes = MCPAUTH_STRBUF_INIT;
    for (size_t i = 0; i < token->scope_count; i++)
        mcpauth_strbuf_appendf(&scopes, "%s%s", i ? " " : "", token->scopes[i]);
    if (!mcpauth_strbuf_failed(&scopes))
        env_add(env, "MCPAUTH_SCOPES", scopes.data ? scopes.data : "");
    mcpauth_strbuf_free(&scopes);
}

static void env_free(env_list *env)
{
    for (size_t i = 0; i < env->count; i++)
        free(env->items[i]);
}

static int spawn_bridge(mcpauth_mcp_backend *backend, const mcpauth_mcp_identity *identity,
                        mcpauth__bridge **out)
{
    const mcpauth_mcp_backend_config *c = &backend->config;
    bridge_entry *entry = calloc(1, sizeof *entry);
    if (!entry)
        return UV_ENOMEM;
    entry->backend = backend;
    env_list env = {0};
    env_build(backend, identity, &env);
    mcpauth_child_options options = {
        .file = c->argv[0],
        .args = c->argv,
        .env = env.items,
        .max_line = c->max_line,
        .max_stderr_line = MAX_STDERR_LINE,
        .kill_grace_ms = c->kill_grace_ms,
    };
    mcpauth__bridge_limits limits = {
        .shared = c->shared,
        .request_timeout_ms = c->request_timeout_ms,
        .max_buffered = c->max_buffered,
        .keepalive_ms = c->keepalive_ms,
    };
    mcpauth__bridge_hooks hooks = {
        .log = on_bridge_log,
        .session_ended = on_session_ended,
        .closed = on_bridge_closed,
        .data = entry,
    };
    int rc = mcpauth__bridge_spawn(backend->loop, &options, &limits, &hooks, &entry->bridge);
    env_free(&env);
    if (rc != 0) {
        free(entry);
        return rc;
    }
    entry->next = backend->bridges;
    backend->bridges = entry;
    backend->children++;
    *out = entry->bridge;
    return 0;
}

/* ---- the engine's calls ---- */

static mcpauth__bridge *bridge_of(mcpauth_mcp_backend *backend, const char *session_id)
{
    for (bridge_entry *e = backend->bridges; e; e = e->next)
        if (mcpauth__bridge_has(e->bridge, session_id))
            return e->bridge;
    return NULL;
}

static void reply_bad_gateway(mcpauth_mcp_sink *sink, json_object *id, const char *message)
{
    json_object *error = mcpauth__jsonrpc_error(id, MCPAUTH__JSONRPC_INTERNAL_ERROR, message, NULL);
    size_t length = 0;
    const char *body = error ? mcpauth__jsonrpc_serialize(error, &length) : NULL;
    mcpauth_mcp_reply reply = {
        .status = body ? 502 : 500,
        .content_type = body ? "application/json" : NULL,
        .body = body,
        .body_length = length,
    };
    sink->reply(&reply, sink->data);
    json_object_put(error);
}

bool mcpauth__backend_initialize(mcpauth_mcp_backend *backend, mcpauth_mcp_sessions *table,
                                 const char *session_id, const mcpauth_mcp_identity *identity,
                                 json_object *message, const mcpauth__jsonrpc_message *msg,
                                 mcpauth_mcp_sink *sink)
{
    backend->table = table;
    if (backend->shutting_down) {
        reply_bad_gateway(sink, msg->id, "the server is shutting down");
        return false;
    }
    if (backend->upstream) {
        mcpauth__upstream_initialize(backend->upstream, table, session_id, message, msg, sink);
        return true;
    }
    mcpauth__bridge *bridge = backend->config.shared ? backend->shared : NULL;
    if (bridge && !mcpauth__bridge_usable(bridge))
        bridge = NULL;
    if (!bridge) {
        int rc = spawn_bridge(backend, identity, &bridge);
        if (rc != 0) {
            char message_text[256];
            snprintf(message_text, sizeof message_text, "cannot start the backend %s: %s",
                     backend->config.argv[0], uv_strerror(rc));
            backend_log(backend, "error", message_text);
            reply_bad_gateway(sink, msg->id, message_text);
            return false;
        }
        if (backend->config.shared)
            backend->shared = bridge;
        char started[160];
        snprintf(started, sizeof started, "backend[%d]: started %s session %.8s...",
                 mcpauth__bridge_pid(bridge), backend->config.shared ? "(shared) with" : "for",
                 session_id);
        backend_log(backend, "info", started);
    }
    if (!mcpauth__bridge_attach(bridge, session_id)) {
        reply_bad_gateway(sink, msg->id, "cannot attach the session to the backend");
        if (!backend->config.shared)
            mcpauth__bridge_stop(bridge, "out of memory");
        return false;
    }
    mcpauth__bridge_post(bridge, session_id, message, msg, NULL, sink);
    return true;
}

bool mcpauth__backend_has(mcpauth_mcp_backend *backend, const char *session_id)
{
    if (backend->upstream)
        return mcpauth__upstream_has(backend->upstream, session_id);
    return bridge_of(backend, session_id) != NULL;
}

void mcpauth__backend_post(mcpauth_mcp_backend *backend, const char *session_id,
                           json_object *message, const mcpauth__jsonrpc_message *msg,
                           const mcpauth__tools_view *view, mcpauth_mcp_sink *sink)
{
    if (backend->upstream) {
        mcpauth__upstream_post(backend->upstream, session_id, message, msg, view, sink);
        return;
    }
    mcpauth__bridge *bridge = bridge_of(backend, session_id);
    if (!bridge) {
        mcpauth_mcp_reply reply = {.status = 404};
        sink->reply(&reply, sink->data);
        return;
    }
    mcpauth__bridge_post(bridge, session_id, message, msg, view, sink);
}

void mcpauth__backend_get(mcpauth_mcp_backend *backend, const char *session_id,
                          const char *last_event_id, mcpauth_mcp_sink *sink)
{
    if (backend->upstream) {
        mcpauth__upstream_get(backend->upstream, session_id, sink);
        return;
    }
    mcpauth__bridge *bridge = bridge_of(backend, session_id);
    if (!bridge) {
        mcpauth_mcp_reply reply = {.status = 404};
        sink->reply(&reply, sink->data);
        return;
    }
    mcpauth__bridge_get(bridge, session_id, last_event_id, sink);
}

void mcpauth__backend_end_session(mcpauth_mcp_backend *backend, const char *session_id)
{
    if (backend->upstream) {
        mcpauth__upstream_end_session(backend->upstream, session_id);
        return;
    }
    mcpauth__bridge *bridge = bridge_of(backend, session_id);
    if (bridge)
        mcpauth__bridge_detach(bridge, session_id, "the session was ended (DELETE)");
}
