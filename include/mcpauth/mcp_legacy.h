/* The legacy HTTP+SSE transport of MCP 2024-11-05 (basic/transports §HTTP
 * with SSE), still spoken by older clients: a GET opens a Server-Sent Events
 * stream whose first event names the endpoint to POST messages to; every
 * answer and every message of the server then goes down that one stream as
 * an `event: message`.
 *
 * One mcpauth_mcp_legacy is one such session: a session of the engine's
 * table (mcp.h), bound to the caller's subject and client like any other and
 * counted against max_sessions, plus the stream it writes to. The HTTP
 * layer owns the stream itself and hands the engine two callbacks.
 *
 * Nothing here blocks; call everything on the loop's thread.
 */
#ifndef MCPAUTH_MCP_LEGACY_H
#define MCPAUTH_MCP_LEGACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcpauth/mcp.h"

/* The transport's own protocol revision; initialize over it accepts this as
 * well as the engine's versions. */
#define MCPAUTH_MCP_LEGACY_VERSION "2024-11-05"

typedef struct mcpauth_mcp_legacy mcpauth_mcp_legacy;

/* The HTTP layer's side of the stream. Both may be called from inside the
 * engine's own callbacks, so neither may call mcpauth_mcp_legacy_close():
 * end() only asks for it, to be done later (next loop turn). */
typedef struct mcpauth_mcp_legacy_stream {
    /* Queues bytes (whole events); nonzero when the client is gone or does
     * not read (the session is then over). */
    int (*write)(const char *bytes, size_t length, void *data);
    /* The session cannot go on (its backend child is gone, or a write
     * failed): end the stream and close the session soon. */
    void (*end)(void *data);
    void *data;
} mcpauth_mcp_legacy_stream;

/* Creates a session for identity at now. Returns 0 and *out, 503 when the
 * table is full, 429 at a limit of the caller's (max_sessions_per_identity)
 * or the backend's (max_children), 500 on allocation failure, 405 for a
 * stateless server (which has no sessions). stream is copied. */
int mcpauth_mcp_legacy_open(mcpauth_mcp_server *server, const mcpauth_mcp_identity *identity,
                            int64_t now, const mcpauth_mcp_legacy_stream *stream,
                            mcpauth_mcp_legacy **out);

/* The session id (MCPAUTH_MCP_SESSION_ID_LENGTH hex characters). Borrowed. */
const char *mcpauth_mcp_legacy_id(const mcpauth_mcp_legacy *legacy);

/* One POSTed message for legacy (NULL when the session is not known here).
 * req's session_id is ignored; its identity must be the session's owner.
 * sink->reply is called once before this returns: 202 when the message was
 * taken (its answers follow on the stream), else 404 (unknown, expired or
 * someone else's session), 415 (Content-Type), 400 (not JSON, not one
 * JSON-RPC message, or an unsupported MCP-Protocol-Version) with a JSON-RPC
 * error body, as the TypeScript SDK's SSEServerTransport does. */
void mcpauth_mcp_legacy_post(mcpauth_mcp_legacy *legacy, const mcpauth_mcp_request *req,
                             mcpauth_mcp_sink *sink);

/* Marks the session used at now (an open stream is a session in use);
 * false when it is gone from the table (the stream should then end). */
bool mcpauth_mcp_legacy_touch(mcpauth_mcp_legacy *legacy, int64_t now);

/* The stream is over (client gone, shutdown, or after end()): answers in
 * flight are dropped, the session ends (its backend child too) and legacy
 * is freed. The stream callbacks are not called again. NULL is fine. */
void mcpauth_mcp_legacy_close(mcpauth_mcp_legacy *legacy);

/* --- formatting, for the HTTP layer and tests ---------------------------- */

/* "event: endpoint\ndata: PATH?session_id=ID\n\n": the first event, a URI
 * relative to the stream's (2024-11-05 transports §HTTP with SSE). path is
 * the messages path. Caller frees; NULL on allocation failure. */
char *mcpauth_mcp_legacy_endpoint_event(const char *path, const char *session_id, size_t *length);

/* "event: message\ndata: JSON\n\n" for one serialised message (one line).
 * Caller frees; NULL on allocation failure. */
char *mcpauth_mcp_legacy_message_event(const char *json, size_t json_length, size_t *length);

/* The session id in a query string: the session_id parameter (the
 * endpoint we send), or sessionId (the TypeScript SDK's name). Copies it to
 * out and returns true only for exactly MCPAUTH_MCP_SESSION_ID_LENGTH
 * lowercase hex digits; query may be NULL. */
bool mcpauth_mcp_legacy_query_session(const char *query,
                                      char out[MCPAUTH_MCP_SESSION_ID_LENGTH + 1]);

/* The data of one Server-Sent Event as the engine formats them ("id: ..",
 * "data: ..", blank line): *data points into event. False for comments, the
 * priming event (empty data) and anything without a data line. */
bool mcpauth_mcp_legacy_event_data(const char *event, size_t length, const char **data,
                                   size_t *data_length);

#endif
