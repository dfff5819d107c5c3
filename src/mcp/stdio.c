/* The stdio backend (mcp_backend.h): the children, which one serves which
 * session (each session's data is its child's bridge), and the children's
 * environment. A child and the streams of the sessions it serves are
 * bridge.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcp_internal.h"
#include "mcpauth/child_process.h"
#include "mcpauth/strbuf.h"

extern char **environ;

#define IDLE_CHECK_TICKS 4
#define MAX_STDERR_LINE  1024
#define MAX_ENV          512

/* One child; a bridge knows the sessions it serves. */
typedef struct child {
    struct child *next;
    mcpauth__bridge *bridge;
    mcpauth_mcp_backend *backend;
} child;

typedef struct stdio_state {
    child *children;
    mcpauth__bridge *shared; /* with stdio.shared: the one child, while it is usable */
    size_t count;
    mcpauth__stdio_modern *modern; /* the 2026-07-28 era (stdio_modern.c) */
    bool modern_closed;            /* after shutdown, its children are gone */
} stdio_state;

static stdio_state *state_of(mcpauth_mcp_backend *backend)
{
    return backend->kind;
}

static void on_bridge_log(const char *level, const char *message, void *data)
{
    child *c = data;
    mcpauth__backend_log(c->backend, level, message);
}

/* Timeouts and keep-alives; every second, sessions the table dropped
 * (idle, or pushed out when it was full) take their children with them. */
static void stdio_tick(mcpauth_mcp_backend *backend, uint64_t now_ms)
{
    for (child *c = state_of(backend)->children; c; c = c->next)
        mcpauth__bridge_tick(c->bridge, now_ms);
    mcpauth__stdio_modern_tick(state_of(backend)->modern, now_ms);
    if (++backend->ticks % IDLE_CHECK_TICKS == 0)
        mcpauth__backend_sweep(backend);
}

/* ---- children coming and going ---- */

static void on_bridge_closed(mcpauth__bridge *bridge, void *data)
{
    child *gone = data;
    mcpauth_mcp_backend *backend = gone->backend;
    stdio_state *st = state_of(backend);
    for (child **c = &st->children; *c; c = &(*c)->next) {
        if (*c == gone) {
            *c = gone->next;
            break;
        }
    }
    if (st->shared == bridge)
        st->shared = NULL;
    free(gone);
    if (--st->count == 0 && backend->shutting_down && st->modern_closed)
        mcpauth__backend_kind_closed(backend);
}

static void on_modern_idle(mcpauth_mcp_backend *backend)
{
    stdio_state *st = state_of(backend);
    st->modern_closed = true;
    if (st->count == 0)
        mcpauth__backend_kind_closed(backend);
}

static void on_session_ended(const char *session_id, void *data)
{
    child *c = data;
    mcpauth_mcp_backend *backend = c->backend;
    if (state_of(backend)->shared == c->bridge)
        state_of(backend)->shared = NULL;
    mcpauth__backend_session_drop(backend, session_id);
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
    const mcpauth_mcp_stdio_config *c = &backend->config.stdio;
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

/* The options of a child (env: its environment). */
static mcpauth_child_options child_options(const mcpauth_mcp_backend *backend, env_list *env)
{
    const mcpauth_mcp_backend_config *c = &backend->config;
    return (mcpauth_child_options){
        .file = c->stdio.argv[0],
        .args = c->stdio.argv,
        .env = env->items,
        .max_line = c->max_line,
        .max_stderr_line = MAX_STDERR_LINE,
        .kill_grace_ms = c->stdio.kill_grace_ms,
    };
}

/* The modern child serves every caller: no identity in its environment. */
static int spawn_modern(mcpauth_mcp_backend *backend, const mcpauth_child_callbacks *callbacks,
                        void *data, mcpauth_child **out)
{
    env_list env = {0};
    env_build(backend, NULL, &env);
    mcpauth_child_options options = child_options(backend, &env);
    int rc = mcpauth_child_spawn(backend->loop, &options, callbacks, data, out);
    env_free(&env);
    return rc;
}

static int spawn_child(mcpauth_mcp_backend *backend, const mcpauth_mcp_identity *identity,
                       mcpauth__bridge **out)
{
    const mcpauth_mcp_backend_config *c = &backend->config;
    stdio_state *st = state_of(backend);
    child *entry = calloc(1, sizeof *entry);
    if (!entry)
        return UV_ENOMEM;
    entry->backend = backend;
    env_list env = {0};
    env_build(backend, identity, &env);
    mcpauth_child_options options = child_options(backend, &env);
    mcpauth__bridge_limits limits = {
        .shared = c->stdio.shared,
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
    entry->next = st->children;
    st->children = entry;
    st->count++;
    *out = entry->bridge;
    return 0;
}

/* ---- the engine's calls ---- */

static mcpauth__bridge *bridge_of(mcpauth_mcp_backend *backend, const char *session_id)
{
    mcpauth__backend_session *s = mcpauth__backend_session_find(backend, session_id);
    return s ? s->data : NULL;
}

static bool stdio_start(mcpauth_mcp_backend *backend)
{
    stdio_state *st = calloc(1, sizeof *st);
    if (!st || !(st->modern = mcpauth__stdio_modern_new(backend, spawn_modern, on_modern_idle))) {
        free(st);
        return false;
    }
    backend->kind = st;
    return true;
}

/* Starts (or, shared, joins) the child of the session and sends it the
 * client's initialize. */
static bool stdio_open_session(mcpauth_mcp_backend *backend, mcpauth__mcp_call *call)
{
    stdio_state *st = state_of(backend);
    const mcpauth_mcp_stdio_config *c = &backend->config.stdio;
    if (backend->shutting_down) {
        mcpauth__backend_reply_bad_gateway(call->sink, call->msg->id,
                                           "the server is shutting down");
        return false;
    }
    mcpauth__bridge *bridge = c->shared ? st->shared : NULL;
    if (bridge && !mcpauth__bridge_usable(bridge))
        bridge = NULL;
    if (!bridge) {
        int rc = spawn_child(backend, call->identity, &bridge);
        if (rc != 0) {
            char message[256];
            snprintf(message, sizeof message, "cannot start the backend %s: %s", c->argv[0],
                     uv_strerror(rc));
            mcpauth__backend_log(backend, "error", message);
            mcpauth__backend_reply_bad_gateway(call->sink, call->msg->id, message);
            return false;
        }
        if (c->shared)
            st->shared = bridge;
        char started[160];
        snprintf(started, sizeof started, "backend[%d]: started %s session %.8s...",
                 mcpauth__bridge_pid(bridge), c->shared ? "(shared) with" : "for",
                 call->session_id);
        mcpauth__backend_log(backend, "info", started);
    }
    if (!mcpauth__backend_session_add(backend, call->session_id, bridge) ||
        !mcpauth__bridge_attach(bridge, call->session_id)) {
        mcpauth__backend_reply_bad_gateway(call->sink, call->msg->id,
                                           "cannot attach the session to the backend");
        mcpauth__backend_session_drop(backend, call->session_id);
        if (!c->shared)
            mcpauth__bridge_stop(bridge, "out of memory");
        return false;
    }
    mcpauth__bridge_post(bridge, call);
    return true;
}

/* A new session starts a child unless one shared child serves them all;
 * children still stopping count, as they still hold their memory. */
static bool stdio_full(mcpauth_mcp_backend *backend)
{
    const mcpauth_mcp_backend_config *c = &backend->config;
    stdio_state *st = state_of(backend);
    if (c->max_children == 0 ||
        (c->stdio.shared && st->shared && mcpauth__bridge_usable(st->shared)))
        return false;
    return st->count >= c->max_children;
}

static void stdio_post(mcpauth_mcp_backend *backend, mcpauth__mcp_call *call)
{
    if (!call->session_id) {
        mcpauth__stdio_modern_post(state_of(backend)->modern, call);
        return;
    }
    mcpauth__bridge *bridge = bridge_of(backend, call->session_id);
    if (!bridge) {
        mcpauth__mcp_reply_status(call->sink, 404);
        return;
    }
    mcpauth__bridge_post(bridge, call);
}

static void stdio_open_stream(mcpauth_mcp_backend *backend, const char *session_id,
                              const char *last_event_id, mcpauth_mcp_sink *sink)
{
    mcpauth__bridge *bridge = bridge_of(backend, session_id);
    if (!bridge) {
        mcpauth__mcp_reply_status(sink, 404);
        return;
    }
    mcpauth__bridge_get(bridge, session_id, last_event_id, sink);
}

static void stdio_end_session(mcpauth_mcp_backend *backend, mcpauth__backend_session *session,
                              mcpauth__session_end why)
{
    mcpauth__bridge *bridge = session->data;
    if (why == MCPAUTH__SESSION_DELETED) {
        mcpauth__bridge_detach(bridge, session->id, "the session was ended (DELETE)");
        return;
    }
    char message[160];
    snprintf(message, sizeof message, "session %.8s... idle; backend[%d] released", session->id,
             mcpauth__bridge_pid(bridge));
    mcpauth__backend_log(backend, "info", message);
    mcpauth__bridge_detach(bridge, session->id, "the session expired");
}

static bool stdio_session_busy(mcpauth_mcp_backend *backend,
                               const mcpauth__backend_session *session)
{
    (void)backend;
    return mcpauth__bridge_session_busy(session->data, session->id);
}

static void stdio_shutdown(mcpauth_mcp_backend *backend)
{
    stdio_state *st = state_of(backend);
    st->shared = NULL;
    st->modern_closed = mcpauth__stdio_modern_stop(st->modern);
    for (child *c = st->children; c; c = c->next)
        mcpauth__bridge_stop(c->bridge, "the server is shutting down");
    if (st->count == 0 && st->modern_closed)
        mcpauth__backend_kind_closed(backend);
}

static bool stdio_speaks_modern(mcpauth_mcp_backend *backend)
{
    return mcpauth__stdio_modern_speaks(state_of(backend)->modern);
}

static void stdio_free(mcpauth_mcp_backend *backend)
{
    stdio_state *st = state_of(backend);
    if (st)
        mcpauth__stdio_modern_free(st->modern);
    free(st);
}

const mcpauth__mcp_backend_ops mcpauth__mcp_stdio_ops = {
    .name = "stdio",
    .start = stdio_start,
    .open_session = stdio_open_session,
    .sessions = true,
    .full = stdio_full,
    .post = stdio_post,
    .open_stream = stdio_open_stream,
    .end_session = stdio_end_session,
    .session_busy = stdio_session_busy,
    .speaks_modern = stdio_speaks_modern,
    .tick = stdio_tick,
    .shutdown = stdio_shutdown,
    .free = stdio_free,
};
