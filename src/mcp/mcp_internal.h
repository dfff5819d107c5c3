/* What the MCP engine's files share: JSON-RPC message classification and
 * reply building (jsonrpc.c), the session table (session.c) and the built-in
 * tools (builtin_tools.c). engine.c ties them together behind mcp.h. Not part
 * of the public API. */
#ifndef MCPAUTH_MCP_INTERNAL_H
#define MCPAUTH_MCP_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "mcpauth/mcp.h"
#include "mcpauth/mcp_backend.h"

/* --- jsonrpc.c: JSON-RPC 2.0 messages ----------------------------------- */

/* JSON-RPC 2.0 §5.1 error codes, and the implementation-defined ones the
 * Streamable HTTP transport uses (the TypeScript SDK's convention). */
#define MCPAUTH__JSONRPC_PARSE_ERROR      (-32700)
#define MCPAUTH__JSONRPC_INVALID_REQUEST  (-32600)
#define MCPAUTH__JSONRPC_METHOD_NOT_FOUND (-32601)
#define MCPAUTH__JSONRPC_INVALID_PARAMS   (-32602)
#define MCPAUTH__JSONRPC_INTERNAL_ERROR   (-32603)
#define MCPAUTH__JSONRPC_SERVER_ERROR     (-32000)
#define MCPAUTH__JSONRPC_NO_SESSION       (-32001)

/* Longest string request id we echo; longer ones are invalid requests. */
#define MCPAUTH__JSONRPC_MAX_ID_LENGTH 256
/* Most messages in one 2025-03-26 batch. */
#define MCPAUTH__JSONRPC_MAX_BATCH 64

typedef enum mcpauth__jsonrpc_kind {
    MCPAUTH__JSONRPC_INVALID,
    MCPAUTH__JSONRPC_REQUEST,      /* method and id: answer it */
    MCPAUTH__JSONRPC_NOTIFICATION, /* method, no id: never answered */
    MCPAUTH__JSONRPC_RESPONSE,     /* id and result or error: from the client */
} mcpauth__jsonrpc_kind;

/* One classified message. Members are borrowed from the parsed value. */
typedef struct mcpauth__jsonrpc_message {
    mcpauth__jsonrpc_kind kind;
    const char *method;  /* requests and notifications */
    json_object *id;     /* requests (string or integer) and responses */
    json_object *params; /* object or array; NULL when absent */
} mcpauth__jsonrpc_message;

/* Classifies value as a JSON-RPC 2.0 message (JSON-RPC 2.0 §4, §5; MCP
 * basic §Messages): "jsonrpc" must be "2.0"; a request's id a string of at
 * most MCPAUTH__JSONRPC_MAX_ID_LENGTH bytes or an integer, never null;
 * params an object or array when present. Returns out->kind. */
mcpauth__jsonrpc_kind mcpauth__jsonrpc_classify(json_object *value, mcpauth__jsonrpc_message *out);

/* {"jsonrpc":"2.0","id":id,"result":result}. Takes result and a new
 * reference to id. NULL on allocation failure, or when result is NULL (an
 * allocation that failed earlier); result is then released. */
json_object *mcpauth__jsonrpc_result(json_object *id, json_object *result);

/* {"jsonrpc":"2.0","id":id,"error":{"code":code,"message":message[,"data"]}}.
 * id NULL gives "id":null; takes a new reference to id and takes data (may be
 * NULL). NULL on allocation failure. */
json_object *mcpauth__jsonrpc_error(json_object *id, int code, const char *message,
                                    json_object *data);

/* Adds val under key, taking val: false (val released) when val is NULL or
 * on allocation failure. json_object_object_add() itself neither rejects a
 * NULL value (it stores null) nor releases val when it fails. */
bool mcpauth__json_add(json_object *obj, const char *key, json_object *val);

/* The compact serialisation of obj (no escaped slashes). Borrowed: valid
 * while obj lives unmodified. */
const char *mcpauth__jsonrpc_serialize(json_object *obj, size_t *length);

/* --- session.c: sessions bound to an identity --------------------------- */

#define MCPAUTH__SESSION_VERSION_SIZE   16 /* "2025-11-25" and its NUL, with room */
#define MCPAUTH__SESSION_LOG_LEVEL_SIZE 16 /* "emergency" and its NUL, with room */

/* A copy of one session, taken under the table's lock. The table lives in
 * memory that other processes change, so nothing outside session.c points
 * into it; changes go through the calls below, by id. */
typedef struct mcpauth__session {
    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];           /* lowercase hex */
    char protocol_version[MCPAUTH__SESSION_VERSION_SIZE]; /* negotiated */
    char log_level[MCPAUTH__SESSION_LOG_LEVEL_SIZE];      /* "" until logging/setLevel */
    int64_t last_used;
} mcpauth__session;

typedef enum mcpauth__session_status {
    MCPAUTH__SESSION_CREATED,
    MCPAUTH__SESSION_FULL,      /* max_sessions live sessions, none idle */
    MCPAUTH__SESSION_NO_MEMORY, /* or no randomness, or an unusable lock */
} mcpauth__session_status;

/* Every call below takes the table's lock (mcp.h: it may wait briefly for
 * another process) and works on the table whichever process made it. */

/* Creates a session with a fresh random id bound to subject and client_id
 * (either may be NULL; only their SHA-256 is kept) speaking protocol_version,
 * last used at now, and copies it to *out. When the table is full, idle
 * sessions are dropped first. */
mcpauth__session_status mcpauth__session_create(mcpauth_mcp_sessions *table, const char *subject,
                                                const char *client_id, const char *protocol_version,
                                                int64_t now, mcpauth__session *out);

/* Copies to *out the live session with this id bound to exactly this
 * subject and client_id. False when unknown, expired (it is then dropped) or
 * bound to someone else: callers answer all three alike (MCP transports
 * §Session Management: 404). Does not touch last_used. */
bool mcpauth__session_find(mcpauth_mcp_sessions *table, const char *id, const char *subject,
                           const char *client_id, int64_t now, mcpauth__session *out);

/* Whether a session with this id is live at now, whoever it belongs to (an
 * expired one is dropped): for ending a backend whose session is gone. */
bool mcpauth__session_alive(mcpauth_mcp_sessions *table, const char *id, int64_t now);

/* Marks the session used at now; false when it is gone. */
bool mcpauth__session_touch(mcpauth_mcp_sessions *table, const char *id, int64_t now);

/* Keeps level (logging/setLevel) with the session; false when it is gone. */
bool mcpauth__session_set_log_level(mcpauth_mcp_sessions *table, const char *id, const char *level);

/* Ends the session; false when it was gone already. */
bool mcpauth__session_remove(mcpauth_mcp_sessions *table, const char *id);

/* Drops sessions idle at now and returns how many remain. */
size_t mcpauth__session_sweep(mcpauth_mcp_sessions *table, int64_t now);

/* The lock the calls above take, for tests that make a process die holding
 * it. mcpauth__session_lock() repairs the table when its last holder died
 * (EOWNERDEAD); false when the lock cannot be had (it is then not held). */
bool mcpauth__session_lock(mcpauth_mcp_sessions *table);
void mcpauth__session_unlock(mcpauth_mcp_sessions *table);

/* --- builtin_tools.c: hello_world and whoami ---------------------------- */

typedef enum mcpauth__tool_status {
    MCPAUTH__TOOL_OK,      /* *result is a CallToolResult (maybe isError) */
    MCPAUTH__TOOL_UNKNOWN, /* no tool by that name */
    MCPAUTH__TOOL_NO_MEMORY,
} mcpauth__tool_status;

/* The tools/list result: {"tools":[...]} (MCP server/tools §Listing Tools).
 * NULL on allocation failure. */
json_object *mcpauth__tools_list(void);

/* Runs tool name with arguments (an object, or NULL when absent) for
 * identity. On MCPAUTH__TOOL_OK the caller owns *result. */
mcpauth__tool_status mcpauth__tools_call(const char *name, json_object *arguments,
                                         const mcpauth_mcp_identity *identity,
                                         json_object **result);

/* --- sse.c: Server-Sent Events and the replay buffer -------------------- */

/* Event ids are "<stream>-<seq>": the stream a message went out on and its
 * place there, so that a client resuming with Last-Event-ID gets that
 * stream's later messages and never another's (MCP transports
 * §Resumability and Redelivery). seq 0 is the priming event. */
#define MCPAUTH__SSE_MAX_ID 48

/* Formats one event (HTML Living Standard §9.2.6 event stream): "id: ID",
 * "data: DATA" (data must be one line: compact JSON is), a blank line. With
 * data NULL it is the priming event: an id and empty data (GE-4). Caller
 * frees; NULL on allocation failure. */
char *mcpauth__sse_event(uint64_t stream, uint64_t seq, const char *data, size_t length,
                         size_t *out_length);

/* Parses "<stream>-<seq>" (decimal, no sign or spaces); false otherwise. */
bool mcpauth__sse_parse_id(const char *text, uint64_t *stream, uint64_t *seq);

/* The events a session sent, oldest first, at most max_bytes of them: the
 * oldest are dropped to make room. */
typedef struct mcpauth__sse_replay mcpauth__sse_replay;

mcpauth__sse_replay *mcpauth__sse_replay_new(size_t max_bytes);
void mcpauth__sse_replay_free(mcpauth__sse_replay *replay);

/* Keeps a copy of event (formatted) as seq of stream. False when it alone
 * is larger than the buffer or memory ran out (nothing is kept then). */
bool mcpauth__sse_replay_add(mcpauth__sse_replay *replay, uint64_t stream, uint64_t seq,
                             const char *event, size_t length);

typedef void (*mcpauth__sse_replay_cb)(const char *event, size_t length, void *data);

/* Calls cb, oldest first, for each kept event of stream after seq. Returns
 * how many. */
size_t mcpauth__sse_replay_since(const mcpauth__sse_replay *replay, uint64_t stream, uint64_t seq,
                                 mcpauth__sse_replay_cb cb, void *data);

/* Bytes held. */
size_t mcpauth__sse_replay_bytes(const mcpauth__sse_replay *replay);

/* --- tool_policy.c: an ordered set of scopes ---------------------------- */

/* A small ordered set of borrowed scope strings, for challenge scopes and
 * scopes_supported: insertion order, each string once. Allocation failure is
 * sticky, like mcpauth_strbuf's: check failed once at the end. */
typedef struct mcpauth__tool_policy_set {
    const char **items; /* borrowed strings; the array is owned */
    size_t count;
    size_t capacity;
    bool failed;
} mcpauth__tool_policy_set;

void mcpauth__tool_policy_set_add(mcpauth__tool_policy_set *set, const char *const *scopes,
                                  size_t count);

/* The members joined by single spaces; caller frees. NULL when an
 * allocation failed, now or earlier. */
char *mcpauth__tool_policy_set_join(const mcpauth__tool_policy_set *set);

void mcpauth__tool_policy_set_free(mcpauth__tool_policy_set *set);

/* --- bridge.c: one child process and the sessions it serves ------------- */

/* Whom a tools/list answer is for (issue 5): it shows only the tools
 * granted may call under policy (tool_policy.h). Borrowed; granted NULL
 * holds no scope. */
typedef struct mcpauth__tools_view {
    const mcpauth_tool_policy *policy;
    const mcpauth_token_info *granted;
} mcpauth__tools_view;

/* The routing and remapping rules are those of mcp_backend.h; this is the
 * machinery: the child, the requests in flight both ways, the streams. */
typedef struct mcpauth__bridge mcpauth__bridge;

typedef struct mcpauth__bridge_hooks {
    void (*log)(const char *level, const char *message, void *data);
    /* A session ended on the bridge's side (its child is gone): drop it from
     * the session table. */
    void (*session_ended)(const char *session_id, void *data);
    /* The child is reaped and the bridge is about to be freed. */
    void (*closed)(mcpauth__bridge *bridge, void *data);
    void *data;
} mcpauth__bridge_hooks;

typedef struct mcpauth__bridge_limits {
    bool shared;                 /* several sessions may attach */
    uint64_t request_timeout_ms; /* 0: none */
    size_t max_buffered;         /* per session: replay buffer, and unread child input */
    uint64_t keepalive_ms;
} mcpauth__bridge_limits;

/* Spawns the child (options as in child_process.h; on_* are the bridge's).
 * 0, or a negative libuv error with nothing started. hooks and limits are
 * copied. */
struct mcpauth_child_options;
int mcpauth__bridge_spawn(uv_loop_t *loop, const struct mcpauth_child_options *options,
                          const mcpauth__bridge_limits *limits, const mcpauth__bridge_hooks *hooks,
                          mcpauth__bridge **out);

/* Attaches a new session (false on allocation failure or when the child is
 * gone). */
bool mcpauth__bridge_attach(mcpauth__bridge *bridge, const char *session_id);

bool mcpauth__bridge_has(const mcpauth__bridge *bridge, const char *session_id);

/* Whether the child still runs and takes sessions. */
bool mcpauth__bridge_usable(const mcpauth__bridge *bridge);

/* Sends one checked client message (msg classifies message, which is
 * borrowed) of session_id to the child and answers sink (202 for
 * notifications and responses; the child's response, maybe streamed, for a
 * request). view (NULL: none; copied) filters the result of a tools/list
 * request before anything of it reaches the client or the replay buffer. */
void mcpauth__bridge_post(mcpauth__bridge *bridge, const char *session_id, json_object *message,
                          const mcpauth__jsonrpc_message *msg, const mcpauth__tools_view *view,
                          mcpauth_mcp_sink *sink);

/* Opens (or resumes, after last_event_id) a stream of the session on sink
 * (mcp.h mcpauth_mcp_handle_get). */
void mcpauth__bridge_get(mcpauth__bridge *bridge, const char *session_id, const char *last_event_id,
                         mcpauth_mcp_sink *sink);

/* Ends a session: its streams end, its requests in flight fail with reason
 * (and are cancelled at the child). A session's own child is stopped. */
void mcpauth__bridge_detach(mcpauth__bridge *bridge, const char *session_id, const char *reason);

/* Whether the session has a request in flight or a client on one of its
 * streams: such a session is in use, however long ago its last POST was. */
bool mcpauth__bridge_session_busy(const mcpauth__bridge *bridge, const char *session_id);

/* Calls cb for every attached session id (cb must not detach). */
void mcpauth__bridge_each_session(const mcpauth__bridge *bridge,
                                  void (*cb)(const char *session_id, void *data), void *data);

/* Timeouts and keep-alives, at now (uv_now). */
void mcpauth__bridge_tick(mcpauth__bridge *bridge, uint64_t now_ms);

/* Stops the child (server shutdown): requests fail with reason. */
void mcpauth__bridge_stop(mcpauth__bridge *bridge, const char *reason);

int mcpauth__bridge_pid(const mcpauth__bridge *bridge);

/* --- engine.c: what the legacy HTTP+SSE transport (legacy.c) uses ------- */

/* Whether version is one we speak; with legacy, 2024-11-05 too. */
bool mcpauth__engine_version_ok(const char *version, bool legacy);

/* Handles one checked JSON-RPC message (body, borrowed) posted to the
 * legacy session req->session_id, as mcpauth_mcp_handle_post() would, except
 * that initialize runs in that existing session. Answers sink once. */
void mcpauth__engine_legacy_post(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                                 json_object *body, mcpauth_mcp_sink *sink);

/* The server's session table (NULL when stateless) and backend (NULL: the
 * built-in tools). Borrowed. */
mcpauth_mcp_sessions *mcpauth__engine_sessions(mcpauth_mcp_server *server);
struct mcpauth_mcp_backend *mcpauth__engine_backend(mcpauth_mcp_server *server);

/* --- upstream.c: an HTTP MCP server behind us --------------------------- */

/* The upstream backend (mcp_backend.h config.upstream_url). Sessions are
 * mapped one to one: ours to the client, the upstream's kept here and
 * sent upstream only. Each client POST is one upstream POST carrying the
 * message as is, Mcp-Session-Id and MCP-Protocol-Version of the upstream
 * session, and the configured headers, never the client's token; a JSON
 * answer is returned as is, an SSE answer relayed event by event as it
 * arrives (our event ids; resuming is not relayed); upstream 404: our
 * session ends (404); unreachable, timed out or 5xx: 502 with a JSON-RPC
 * error saying why. GET relays the upstream's standalone stream (405 as
 * is); DELETE deletes upstream too. */
typedef struct mcpauth__upstream mcpauth__upstream;

/* config is borrowed (the backend's) and must outlive it. NULL on failure. */
mcpauth__upstream *mcpauth__upstream_new(uv_loop_t *loop, const mcpauth_mcp_backend_config *config);

/* Makes the upstream session of a session just created in table and
 * forwards initialize; sink is answered later (with a failure, the session
 * is removed from table). */
void mcpauth__upstream_initialize(mcpauth__upstream *up, mcpauth_mcp_sessions *table,
                                  const char *session_id, json_object *message,
                                  const mcpauth__jsonrpc_message *msg, mcpauth_mcp_sink *sink);

bool mcpauth__upstream_has(mcpauth__upstream *up, const char *session_id);

/* As mcpauth__backend_post. */
void mcpauth__upstream_post(mcpauth__upstream *up, const char *session_id, json_object *message,
                            const mcpauth__jsonrpc_message *msg, const mcpauth__tools_view *view,
                            mcpauth_mcp_sink *sink);

/* Relays the upstream's standalone stream of the session. */
void mcpauth__upstream_get(mcpauth__upstream *up, const char *session_id, mcpauth_mcp_sink *sink);

/* Ends the session here (its streams end) and upstream (DELETE). */
void mcpauth__upstream_end_session(mcpauth__upstream *up, const char *session_id);

/* Answers or ends everything in flight; closed_cb once the HTTP client is
 * closed. Then free it. */
void mcpauth__upstream_shutdown(mcpauth__upstream *up, void (*closed_cb)(void *data), void *data);
void mcpauth__upstream_free(mcpauth__upstream *up);

/* --- backend.c: the engine's side of a stdio backend -------------------- */

/* Starts (or, shared, joins) the child of a session just created in table
 * and sends it the client's initialize (message, classified as msg). False
 * when no child could start: sink was answered (502) and the caller drops
 * the session. */
bool mcpauth__backend_initialize(struct mcpauth_mcp_backend *backend, mcpauth_mcp_sessions *table,
                                 const char *session_id, const mcpauth_mcp_identity *identity,
                                 json_object *message, const mcpauth__jsonrpc_message *msg,
                                 mcpauth_mcp_sink *sink);

/* Whether the session still has its child (a session whose child is gone is
 * answered 404). */
bool mcpauth__backend_has(struct mcpauth_mcp_backend *backend, const char *session_id);

/* As mcpauth__bridge_post, on the session's child. */
void mcpauth__backend_post(struct mcpauth_mcp_backend *backend, const char *session_id,
                           json_object *message, const mcpauth__jsonrpc_message *msg,
                           const mcpauth__tools_view *view, mcpauth_mcp_sink *sink);

void mcpauth__backend_get(struct mcpauth_mcp_backend *backend, const char *session_id,
                          const char *last_event_id, mcpauth_mcp_sink *sink);

/* The session ended (DELETE): its child stops (a shared one forgets it). */
void mcpauth__backend_end_session(struct mcpauth_mcp_backend *backend, const char *session_id);

#endif
