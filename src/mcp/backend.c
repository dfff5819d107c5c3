/* The backend interface (mcp_backend.h): picks the kind a configuration
 * names, and holds what every kind shares: the engine's session table, the
 * log, the timer that drives each kind's tick, and shutdown. The kinds fill
 * in mcpauth__mcp_backend_ops: builtin_tools.c, stdio.c, upstream.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcp_internal.h"

#define TICK_MS 250

void mcpauth_mcp_backend_config_init(mcpauth_mcp_backend_config *config)
{
    memset(config, 0, sizeof *config);
    config->request_timeout_ms = 300000;
    config->max_line = 4 * 1024 * 1024;
    config->max_buffered = 16 * 1024 * 1024;
    config->keepalive_ms = 15000;
    config->max_children = 64;
    config->stdio.kill_grace_ms = 5000;
}

void mcpauth__backend_log(mcpauth_mcp_backend *backend, const char *level, const char *message)
{
    if (backend->config.log)
        backend->config.log(level, message, backend->config.log_data);
}

void mcpauth__backend_bind(mcpauth_mcp_backend *backend, mcpauth_mcp_server *owner,
                           mcpauth_mcp_sessions *table, const mcpauth_mcp_config *server)
{
    backend->owner = owner;
    backend->table = table;
    backend->server = server;
}

void mcpauth__backend_reply_bad_gateway(mcpauth_mcp_sink *sink, json_object *id,
                                        const char *message)
{
    mcpauth__mcp_reply_json(
        sink, 502, mcpauth__jsonrpc_error(id, MCPAUTH__JSONRPC_INTERNAL_ERROR, message, NULL),
        NULL);
}

static void on_tick(uv_timer_t *timer)
{
    mcpauth_mcp_backend *backend = timer->data;
    if (backend->ops->tick)
        backend->ops->tick(backend, uv_now(backend->loop));
}

mcpauth_mcp_backend *mcpauth_mcp_backend_new(uv_loop_t *loop,
                                             const mcpauth_mcp_backend_config *config)
{
    const mcpauth__mcp_backend_ops *ops = config->upstream.url ? &mcpauth__mcp_upstream_ops
                                          : config->stdio.argv ? &mcpauth__mcp_stdio_ops
                                                               : NULL;
    mcpauth_mcp_backend *backend = ops ? calloc(1, sizeof *backend) : NULL;
    if (!backend)
        return NULL;
    backend->ops = ops;
    backend->loop = loop;
    backend->config = *config;
    if (ops->start && !ops->start(backend)) {
        free(backend);
        return NULL;
    }
    uv_timer_init(loop, &backend->timer);
    backend->timer.data = backend;
    uv_timer_start(&backend->timer, on_tick, TICK_MS, TICK_MS);
    return backend;
}

static void *session_unlink(mcpauth_mcp_backend *backend, const char *id);

/* ---- closing ---- */

static void maybe_closed(mcpauth_mcp_backend *backend)
{
    if (backend->shutting_down && backend->timer_closed && backend->kind_closed &&
        backend->closed_cb) {
        mcpauth_mcp_backend_closed_cb cb = backend->closed_cb;
        backend->closed_cb = NULL;
        cb(backend, backend->closed_data);
    }
}

void mcpauth__backend_kind_closed(mcpauth_mcp_backend *backend)
{
    backend->kind_closed = true;
    maybe_closed(backend);
}

static void on_timer_closed(uv_handle_t *handle)
{
    mcpauth_mcp_backend *backend = handle->data;
    backend->timer_closed = true;
    maybe_closed(backend);
}

void mcpauth_mcp_backend_shutdown(mcpauth_mcp_backend *backend,
                                  mcpauth_mcp_backend_closed_cb closed_cb, void *data)
{
    if (backend->shutting_down)
        return;
    backend->shutting_down = true;
    backend->closed_cb = closed_cb;
    backend->closed_data = data;
    backend->ops->shutdown(backend);
    uv_timer_stop(&backend->timer);
    uv_close((uv_handle_t *)&backend->timer, on_timer_closed);
}

void mcpauth_mcp_backend_free(mcpauth_mcp_backend *backend)
{
    if (!backend)
        return;
    if (backend->ops->free)
        backend->ops->free(backend);
    while (backend->sessions)
        session_unlink(backend, backend->sessions->id);
    free(backend);
}

/* ---- sessions ---- */

mcpauth__backend_session *mcpauth__backend_session_add(mcpauth_mcp_backend *backend, const char *id,
                                                       void *data)
{
    mcpauth__backend_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->id, sizeof s->id, "%s", id);
    s->data = data;
    s->next = backend->sessions;
    backend->sessions = s;
    return s;
}

mcpauth__backend_session *mcpauth__backend_session_find(mcpauth_mcp_backend *backend,
                                                        const char *id)
{
    for (mcpauth__backend_session *s = backend->sessions; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

/* Unlinks the entry and frees it; returns its data. */
static void *session_unlink(mcpauth_mcp_backend *backend, const char *id)
{
    for (mcpauth__backend_session **p = &backend->sessions; *p; p = &(*p)->next) {
        mcpauth__backend_session *s = *p;
        if (strcmp(s->id, id) != 0)
            continue;
        *p = s->next;
        void *data = s->data;
        free(s);
        return data;
    }
    return NULL;
}

void *mcpauth__backend_session_drop(mcpauth_mcp_backend *backend, const char *id)
{
    if (backend->table)
        mcpauth__session_remove(backend->table, id);
    return session_unlink(backend, id);
}

void mcpauth__backend_end_session(mcpauth_mcp_backend *backend, const char *id,
                                  mcpauth__session_end why)
{
    mcpauth__backend_session *s = mcpauth__backend_session_find(backend, id);
    if (!s)
        return;
    backend->ops->end_session(backend, s, why);
    session_unlink(backend, id);
}

void mcpauth__backend_sweep(mcpauth_mcp_backend *backend)
{
    if (!backend->table)
        return;
    int64_t now = (int64_t)time(NULL);
    mcpauth__backend_session *next;
    for (mcpauth__backend_session *s = backend->sessions; s; s = next) {
        next = s->next;
        if (backend->ops->session_busy(backend, s)) {
            mcpauth__session_touch(backend->table, s->id, now);
            continue;
        }
        if (!mcpauth__session_alive(backend->table, s->id, now))
            mcpauth__backend_end_session(backend, s->id, MCPAUTH__SESSION_EXPIRED);
    }
}
