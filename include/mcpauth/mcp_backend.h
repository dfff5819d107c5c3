/* A backend for the MCP endpoint, answering instead of the built-in tools:
 * a stdio command (the rules below) or an upstream HTTP MCP server
 * (mcpauth_mcp_upstream_config; src/mcp/upstream.c has its rules).
 *
 * stdio: every MCP session gets its own child process speaking
 * newline-delimited JSON-RPC on stdin/stdout (MCP 2025-11-25
 * basic/transports §stdio), bridged to Streamable HTTP by the engine
 * (mcp.h). With `shared`, one child serves every session.
 *
 * Bridging. Client requests go to the child with ids we mint (integers), so
 * ids never collide across clients or directions; the child's response is
 * sent back with the client's id. A request's params._meta.progressToken
 * reaches the child replaced by one we mint (the request's id at the child):
 * clients' tokens are unique per client only (the SDK uses its request id).
 * The child's own requests (sampling, elicitation, roots/list, ping) reach
 * the client with ids we mint too, and the client's POSTed answer (202) goes
 * back with the child's id. notifications/cancelled from the client is
 * forwarded with the remapped requestId when it names a request of the
 * session in flight, else dropped (and logged): forwarded, our numbering
 * would read it as another session's request.
 *
 * Routing. stdio carries no relation between messages, so a message the
 * child sends is routed, in this order:
 *   1. a response: to the stream of the request it answers;
 *   2. notifications/progress: to the stream of the request whose minted
 *      token it names, with the client's token back; one naming no request
 *      in flight is dropped;
 *   3. notifications/cancelled (the child gives up a request to a client):
 *      to that client, on the stream the request went on while it is open,
 *      else the session's standalone stream; naming none, it is dropped;
 *   4. a session's own child, anything else: when exactly one request is in
 *      flight, to that request's stream;
 *   5. else to the session's standalone GET stream, or, while none is open,
 *      into the session's replay buffer for the next GET.
 * A shared child serves clients that must not see each other's traffic:
 *   - rule 4 does not apply to its notifications (list_changed, logging):
 *     they concern the one server every session talks to, so they go to
 *     every session's standalone stream (or replay buffer), never to one
 *     request's stream;
 *   - its requests are routed only when that is unambiguous, when exactly
 *     one client request of all its sessions is in flight (to that
 *     request's stream); else they are answered -32603 saying why (none in
 *     flight, or several and no telling which).
 * A POST carrying a request is answered with application/json when the
 * response is the first thing its stream gets, else with text/event-stream
 * (a priming event, the related messages, the response; then the stream
 * ends). Events ids are "<stream>-<seq>"; stream 0 is the session's
 * standalone stream. Every event is also kept in the session's replay
 * buffer (bounded), so a client that lost a stream resumes it with GET and
 * Last-Event-ID; a client that goes away does not cancel its request
 * (transports §Sending Messages).
 *
 * Failures. A child that cannot start, exits, is killed or breaks the
 * protocol (a stdout line over max_line) fails the requests in flight with
 * JSON-RPC error -32603 naming the exit status or signal; its sessions end
 * (404 next time). An initialize that fails so is answered HTTP 502 with
 * that error. A request unanswered within request_timeout_ms gets -32603
 * and the child gets notifications/cancelled. Lines that are not JSON-RPC
 * are logged (cut short) and skipped.
 *
 * MCP 2026-07-28 (stateless): a modern request goes to one child shared by
 * every caller, started at the first one and asked server/discover before
 * anything else (basic/transports/stdio §Backward Compatibility); requests
 * are multiplexed on it by the ids we mint, its answers routed back by id
 * (src/mcp/stdio_modern.c has the rules). A command that does not answer
 * server/discover as that revision does is of the 2025 era: its modern
 * clients get -32022 naming the 2025 versions.
 *
 * Environment of a child: PATH, HOME, LANG and LC_* from ours, the
 * pass_env names, the env entries, and MCPAUTH_SUBJECT, MCPAUTH_CLIENT_ID
 * and MCPAUTH_SCOPES of the session's validated identity (not for a shared
 * child, which serves many, nor for the modern child). Never the access
 * token.
 *
 * Nothing here blocks; call everything on the loop's thread.
 */
#ifndef MCPAUTH_MCP_BACKEND_H
#define MCPAUTH_MCP_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "mcpauth/http_client.h"

typedef struct mcpauth_mcp_backend mcpauth_mcp_backend;

/* A server event for the log: level is "info", "warning" or "error". */
typedef void (*mcpauth_mcp_backend_log_cb)(const char *level, const char *message, void *data);

/* A command speaking MCP on stdio (the rules above). Borrowed. */
typedef struct mcpauth_mcp_stdio_config {
    char **argv;            /* the command and its arguments, NULL-terminated */
    const char *const *env; /* "NAME=VALUE" set in the child */
    size_t env_count;
    const char *const *pass_env; /* names passed on from our environment */
    size_t pass_env_count;
    bool shared;            /* one child for every session */
    uint64_t kill_grace_ms; /* SIGTERM to SIGKILL when stopping a child (5000) */
} mcpauth_mcp_stdio_config;

/* An HTTP MCP server (Streamable HTTP): every session is mapped to one of
 * its sessions (upstream.c has the rules). Borrowed. */
typedef struct mcpauth_mcp_upstream_config {
    const char *url;
    const char *const *headers; /* "Name: value" lines sent with every request */
    size_t header_count;
    const mcpauth_http_options *http; /* TLS and plain-http policy; NULL: defaults */
} mcpauth_mcp_upstream_config;

/* One backend: stdio when stdio.argv is set, upstream when upstream.url is
 * (never both). The limits apply to either kind: for upstream,
 * request_timeout_ms caps each request, max_line each JSON body and each
 * event. */
typedef struct mcpauth_mcp_backend_config {
    mcpauth_mcp_stdio_config stdio;
    mcpauth_mcp_upstream_config upstream;
    uint64_t request_timeout_ms; /* a request's answer must come within (300000) */
    size_t max_line;             /* longest line the child may write (4 MiB) */
    size_t max_buffered;         /* replay buffer and unread input per session (16 MiB) */
    /* stdio: child processes at once, those still stopping included; a
     * session that would start one more is refused with 429 (64; 0: no
     * limit). A shared child is one. */
    size_t max_children;
    uint64_t keepalive_ms; /* comment line on idle streams (15000) */
    mcpauth_mcp_backend_log_cb log;
    void *log_data;
} mcpauth_mcp_backend_config;

void mcpauth_mcp_backend_config_init(mcpauth_mcp_backend_config *config);

/* Checks one configured upstream header line, "Name: value": a token name
 * (RFC 9110 §5.6.2), a value without control characters but tab, and not a
 * header the upstream backend sets itself or one that would make the
 * request another (Mcp-Session-Id, MCP-Protocol-Version, Content-Type,
 * Content-Length, Accept, Host, Transfer-Encoding, Connection, Expect,
 * Last-Event-ID). MCPAUTH_EUSAGE with one line naming the header, never
 * its value (it may be a credential). */
mcpauth_status mcpauth_mcp_upstream_header_check(const char *line, mcpauth_error *err);

/* A backend on loop; config is copied (what it borrows must outlive the
 * backend). NULL on allocation failure. Children start with the sessions. */
mcpauth_mcp_backend *mcpauth_mcp_backend_new(uv_loop_t *loop,
                                             const mcpauth_mcp_backend_config *config);

typedef void (*mcpauth_mcp_backend_closed_cb)(mcpauth_mcp_backend *backend, void *data);

/* Server shutdown: open streams end, requests in flight fail, every child
 * is stopped (SIGTERM, SIGKILL after the grace period); closed_cb runs once
 * all are reaped and every handle is closed. Then free it. */
void mcpauth_mcp_backend_shutdown(mcpauth_mcp_backend *backend,
                                  mcpauth_mcp_backend_closed_cb closed_cb, void *data);

void mcpauth_mcp_backend_free(mcpauth_mcp_backend *backend);

#endif
