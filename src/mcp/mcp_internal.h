/* What the files of src/mcp share, lowest first: JSON-RPC messages and
 * answering a sink (jsonrpc.c), the session table (session.c), the SSE
 * writer and replay buffer (sse.c), the tool policy's pieces
 * (tool_policy*.c), the backend interface and its three kinds
 * (backend.c; builtin_tools.c, stdio.c + bridge.c, upstream.c), and the
 * engine (engine.c) that the two transports (streamable_http.c, legacy.c)
 * call. Not part of the public API. */
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
/* MCP 2026-07-28 basic §Error Codes: the range the specification reserves. */
#define MCPAUTH__JSONRPC_HEADER_MISMATCH     (-32020)
#define MCPAUTH__JSONRPC_MISSING_CAPABILITY  (-32021)
#define MCPAUTH__JSONRPC_UNSUPPORTED_VERSION (-32022)

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

/* The methods the engine and the built-in tools act on, told apart once
 * by mcpauth__jsonrpc_classify(), so that their dispatch compares a number,
 * not the method's text again. (The bridges to stdio children, which also
 * act on methods outside this list, still compare the text.) */
typedef enum mcpauth__mcp_method {
    MCPAUTH__METHOD_OTHER, /* none of these, or not a request/notification */
    MCPAUTH__METHOD_INITIALIZE,
    MCPAUTH__METHOD_PING,
    MCPAUTH__METHOD_TOOLS_LIST,
    MCPAUTH__METHOD_TOOLS_CALL,
    MCPAUTH__METHOD_LOGGING_SET_LEVEL,
    MCPAUTH__METHOD_SERVER_DISCOVER,
    MCPAUTH__METHOD_SUBSCRIPTIONS_LISTEN,
    MCPAUTH__METHOD_PROMPTS_GET,
    MCPAUTH__METHOD_RESOURCES_READ,
} mcpauth__mcp_method;

/* One classified message. Members are borrowed from the parsed value. */
typedef struct mcpauth__jsonrpc_message {
    mcpauth__jsonrpc_kind kind;
    const char *method;        /* requests and notifications */
    mcpauth__mcp_method known; /* which of those method is */
    /* What the request names, read once: params.name of tools/call and
     * prompts/get, params.uri of resources/read, when a string (borrowed
     * from the message); NULL otherwise. */
    json_object *named;
    json_object *id;     /* requests (string or integer) and responses */
    json_object *params; /* object or array; NULL when absent */
} mcpauth__jsonrpc_message;

/* Classifies value as a JSON-RPC 2.0 message (JSON-RPC 2.0 §4, §5; MCP
 * basic §Messages): "jsonrpc" must be "2.0"; a request's id a string of at
 * most MCPAUTH__JSONRPC_MAX_ID_LENGTH bytes or an integer within
 * -(2^63-1) .. 2^64-2 (what is echoed exactly), never null; the method a
 * string without U+0000; params an object or array when present. Returns
 * out->kind. */
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

/* The same for a key with static storage (a literal), which obj keeps
 * without a copy. */
bool mcpauth__json_add_literal(json_object *obj, const char *key, json_object *val);

/* obj's member key when obj is an object and the member has that type;
 * else NULL. Borrowed from obj. */
json_object *mcpauth__json_member(json_object *obj, const char *key, json_type type);

/* basic/utilities/cancellation: notifications/cancelled for request_id,
 * with reason. NULL on allocation failure. */
json_object *mcpauth__jsonrpc_cancelled(int64_t request_id, const char *reason);

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
    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];           /* [instance "-"] lowercase hex */
    char protocol_version[MCPAUTH__SESSION_VERSION_SIZE]; /* negotiated */
    char log_level[MCPAUTH__SESSION_LOG_LEVEL_SIZE];      /* "" until logging/setLevel */
    int64_t last_used;
} mcpauth__session;

typedef enum mcpauth__session_status {
    MCPAUTH__SESSION_CREATED,
    MCPAUTH__SESSION_FULL,       /* max_sessions live sessions, none idle */
    MCPAUTH__SESSION_OWNER_FULL, /* the subject and client have max_per_owner live sessions */
    MCPAUTH__SESSION_NO_MEMORY,  /* or no randomness, or an unusable lock */
} mcpauth__session_status;

/* Every call below takes the table's lock (mcp.h: it may wait briefly for
 * another process) and works on the table whichever process made it. */

/* Whether text[0..length) has the shape of an id the table mints: an
 * optional instance label ([a-z0-9]) and '-', then lowercase hex, nothing
 * a URL would need escaped. Says nothing of whether it exists. */
bool mcpauth__session_id_valid(const char *text, size_t length);

/* Creates a session with a fresh random id bound to subject and client_id
 * (either may be NULL; only their SHA-256 is kept) speaking protocol_version,
 * last used at now, and copies it to *out. When the table is full, idle
 * sessions are dropped first. With max_per_owner (0: no limit), an owner
 * that has that many live sessions gets none: MCPAUTH__SESSION_OWNER_FULL,
 * and *out is its least recently used session (when it frees up at the
 * latest). The per-owner limit is checked first, so one owner cannot fill
 * the table for everyone. */
mcpauth__session_status mcpauth__session_create(mcpauth_mcp_sessions *table, const char *subject,
                                                const char *client_id, const char *protocol_version,
                                                size_t max_per_owner, int64_t now,
                                                mcpauth__session *out);

/* Copies to *out the live session with this id bound to exactly this
 * subject and client_id. False when unknown, expired (it is then dropped) or
 * bound to someone else: callers answer all three alike (MCP transports
 * §Session Management: 404). Does not touch last_used. */
bool mcpauth__session_find(mcpauth_mcp_sessions *table, const char *id, const char *subject,
                           const char *client_id, int64_t now, mcpauth__session *out);

/* The process that created the live session with this id (whoever it
 * belongs to), or 0 when there is none at now. */
int64_t mcpauth__session_pid(mcpauth_mcp_sessions *table, const char *id, int64_t now);

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

/* --- sse.c: Server-Sent Events and the replay buffer -------------------- */

/* Event ids are "<stream>-<seq>": the stream a message went out on and its
 * place there, so that a client resuming with Last-Event-ID gets that
 * stream's later messages and never another's (MCP transports
 * §Resumability and Redelivery). seq 0 is the priming event. */
#define MCPAUTH__SSE_MAX_ID 48

/* Formats one event (HTML Living Standard §9.2.6 event stream): "id: ID",
 * "data: DATA" (data must be one line: compact JSON is), a blank line. With
 * data NULL it is the priming event: an id and empty data (MCP transports
 * §Resumability and Redelivery). Caller frees; NULL on allocation failure. */
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

/* --- tool_policy_gate.c: the policy on a tools/list answer ------------- */

/* What one tools/list answer may show: the tools the caller's token may
 * call under the policy (mcp_tool_policy.h). The engine makes it for the
 * request that needs it; a backend that answers later keeps it with the
 * request (it holds a copy of the token, which the request outlives). */
typedef struct mcpauth__mcp_filter mcpauth__mcp_filter;

/* NULL with *failed false when there is nothing to filter (policy empty or
 * NULL); NULL with *failed true on allocation failure. granted NULL holds
 * no scope. */
mcpauth__mcp_filter *mcpauth__mcp_filter_new(const mcpauth_mcp_tool_policy *policy,
                                             const mcpauth_token_info *granted, bool *failed);
void mcpauth__mcp_filter_free(mcpauth__mcp_filter *filter);

/* Filters the result of response (a JSON-RPC response; one without a
 * result is left alone). False when the result cannot be filtered (err
 * says why): it must not be passed on, it might show every tool. filter
 * NULL: true. */
bool mcpauth__mcp_filter_apply(const mcpauth__mcp_filter *filter, json_object *response,
                               mcpauth_error *err);

/* --- jsonrpc.c: answering a sink ---------------------------------------- */

/* Answers sink once with status and message (taken) as application/json;
 * message NULL (an allocation failed) is a bodiless 500. session_id: sent
 * as Mcp-Session-Id, NULL for none. */
void mcpauth__mcp_reply_json(mcpauth_mcp_sink *sink, int status, json_object *message,
                             const char *session_id);

/* mcpauth__mcp_reply_json() without a session, with result_members (text of
 * "name":value pairs, serialized ahead) added at the end of message's
 * result; an error goes as it is. */
void mcpauth__mcp_reply_result_extending(mcpauth_mcp_sink *sink, int status, json_object *message,
                                         const char *result_members);

/* A transport-level error: a JSON-RPC error with id null (JSON-RPC 2.0 §5;
 * MCP transports §Sending Messages 4). */
void mcpauth__mcp_reply_error(mcpauth_mcp_sink *sink, int status, int code, const char *message);

/* Whether text is short, printable ASCII that can be quoted back safely. */
bool mcpauth__mcp_quotable(const char *text, size_t max);

/* A bodiless answer (202, 404, 405, ...). */
void mcpauth__mcp_reply_status(mcpauth_mcp_sink *sink, int status);

/* --- streamable_http.c: what both HTTP eras check alike --------------- */

/* transports §Sending Messages 2: Accept lists application/json and
 * text/event-stream (a missing Accept fails, as in the TypeScript SDK). */
bool mcpauth__http_accept_ok(const char *accept);

/* RFC 9110 §8.3: Content-Type is application/json, parameters aside. */
bool mcpauth__http_content_type_ok(const char *content_type);

/* The Streamable HTTP checks every POST makes, in both eras: Accept and
 * Content-Type, then the body, parsed once (mcpauth_mcp_check_tools() may
 * have done it). NULL once the sink has the 406/415/400 answer; else the
 * body, and *own is what the caller must put (NULL when req owns it). A
 * 2026-07-28 POST passes meta: its params._meta is left as text there
 * (mcpauth__engine_parse_body()) unless a parse before knew no era; a
 * 2025-era one passes NULL and its body is built whole. */
json_object *mcpauth__http_post_body(const mcpauth_mcp_request *req, mcpauth_mcp_sink *sink,
                                     json_object **own, mcpauth_json_deferred *meta);

/* --- backend.c: one interface, three kinds of backend ------------------- */

/* One client message on its way to a backend. */
typedef struct mcpauth__mcp_call {
    const char *session_id;              /* NULL: stateless (built-in tools only) */
    const char *protocol_version;        /* negotiated for the session (initialize: now) */
    json_object *message;                /* the message; a backend may rewrite it */
    const mcpauth__jsonrpc_message *msg; /* message, classified */
    const mcpauth_mcp_identity *identity;
    /* A tools/list request's filter, NULL for none. The call owns it; a
     * backend that answers later takes it (and sets this NULL). */
    mcpauth__mcp_filter *filter;
    mcpauth_mcp_sink *sink; /* answered exactly once, now or later */
    /* The HTTP request it came in (its 2026-07-28 headers, to forward);
     * borrowed for the post() call only. */
    const mcpauth_mcp_request *request;
} mcpauth__mcp_call;

/* A session as a backend knows it. Its identity binding, version and
 * expiry are the engine's table's (session.c); a backend keeps only what
 * serving it takes, as data: the bridge of its child (stdio.c), its
 * upstream session (upstream.c). */
typedef struct mcpauth__backend_session {
    struct mcpauth__backend_session *next;
    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    void *data; /* the kind's */
} mcpauth__backend_session;

/* Why a session ends on the engine's side. */
typedef enum mcpauth__session_end {
    MCPAUTH__SESSION_DELETED, /* DELETE, or the legacy stream closed */
    MCPAUTH__SESSION_EXPIRED, /* gone from the table (idle, or pushed out) */
} mcpauth__session_end;

/* What a kind of backend does, as curl's protocol handlers and libuv's
 * handle types: the engine calls only these. */
typedef struct mcpauth__mcp_backend_ops {
    const char *name;
    /* Answers 2025-03-26 batches: post() answers before it returns. */
    bool batches;
    /* Keeps sessions (mcpauth__backend_session): one it no longer has is
     * over (404). The built-in tools keep none. */
    bool sessions;
    /* Sets up the kind's state (backend->kind); false on failure. NULL:
     * nothing to set up. */
    bool (*start)(mcpauth_mcp_backend *backend);
    /* The session just created in the engine's table starts here; call is
     * its initialize. False when it could not start: sink was answered and
     * the engine drops the session. */
    bool (*open_session)(mcpauth_mcp_backend *backend, mcpauth__mcp_call *call);
    /* One checked message of a live session (or, stateless, of none). */
    void (*post)(mcpauth_mcp_backend *backend, mcpauth__mcp_call *call);
    /* The session's standalone stream (transports §Listening for Messages
     * from the Server), resumed after last_event_id when given. NULL: the
     * backend never speaks first (405). */
    void (*open_stream)(mcpauth_mcp_backend *backend, const char *session_id,
                        const char *last_event_id, mcpauth_mcp_sink *sink);
    /* The session ended on the engine's side: the kind lets go of it and
     * of session->data; the entry itself is dropped after. */
    void (*end_session)(mcpauth_mcp_backend *backend, mcpauth__backend_session *session,
                        mcpauth__session_end why);
    /* Whether the session has a request in flight or an open stream: then
     * it is in use, however long ago its last POST was (the idle sweep). */
    bool (*session_busy)(mcpauth_mcp_backend *backend, const mcpauth__backend_session *session);
    /* Whether a new session would take one child process more than the
     * backend may run (max_children). NULL: never. */
    bool (*full)(mcpauth_mcp_backend *backend);
    /* Whether the backend speaks MCP 2026-07-28 now: its requests then
     * come with no session (call->session_id NULL) and go through as they
     * are. It may start finding out (and say false until it knows). NULL:
     * never. */
    bool (*speaks_modern)(mcpauth_mcp_backend *backend);
    /* Timeouts, keep-alives and the idle sweep, every tick (uv_now). */
    void (*tick)(mcpauth_mcp_backend *backend, uint64_t now_ms);
    /* Server shutdown: fail what is in flight, stop children; call
     * mcpauth__backend_kind_closed() once everything is closed. */
    void (*shutdown)(mcpauth_mcp_backend *backend);
    void (*free)(mcpauth_mcp_backend *backend);
} mcpauth__mcp_backend_ops;

struct mcpauth_mcp_backend {
    const mcpauth__mcp_backend_ops *ops;
    uv_loop_t *loop;                    /* NULL for the built-in tools */
    mcpauth_mcp_backend_config config;  /* zeroed for the built-in tools */
    mcpauth_mcp_sessions *table;        /* the engine's (NULL when stateless) */
    mcpauth_mcp_server *owner;          /* the server that took it (for the era bridge) */
    const mcpauth_mcp_config *server;   /* the engine's configuration */
    void *kind;                         /* the kind's own state */
    mcpauth__backend_session *sessions; /* with ops->sessions */
    uv_timer_t timer;
    unsigned ticks;
    bool shutting_down, timer_closed, kind_closed;
    mcpauth_mcp_backend_closed_cb closed_cb;
    void *closed_data;
};

/* The three kinds. */
extern const mcpauth__mcp_backend_ops mcpauth__mcp_builtin_ops;
extern const mcpauth__mcp_backend_ops mcpauth__mcp_stdio_ops;
extern const mcpauth__mcp_backend_ops mcpauth__mcp_upstream_ops;

/* The built-in tools as a backend, for a server made without one. NULL on
 * allocation failure. */
mcpauth_mcp_backend *mcpauth__mcp_builtin_new(void);

/* The engine's side, set when a server takes the backend. */
void mcpauth__backend_bind(mcpauth_mcp_backend *backend, mcpauth_mcp_server *owner,
                           mcpauth_mcp_sessions *table, const mcpauth_mcp_config *server);

/* A server event for the log ("info", "warning", "error"). */
void mcpauth__backend_log(mcpauth_mcp_backend *backend, const char *level, const char *message);

/* The sessions a kind keeps. add: NULL on allocation failure. */
mcpauth__backend_session *mcpauth__backend_session_add(mcpauth_mcp_backend *backend, const char *id,
                                                       void *data);
mcpauth__backend_session *mcpauth__backend_session_find(mcpauth_mcp_backend *backend,
                                                        const char *id);

/* The kind ended the session on its side (its child is gone, the upstream
 * forgot it): the entry goes, and so does the engine's session (404 next
 * time). Returns the entry's data for the kind to free; NULL when unknown. */
void *mcpauth__backend_session_drop(mcpauth_mcp_backend *backend, const char *id);

/* The engine ended the session: ops->end_session, then the entry goes. */
void mcpauth__backend_end_session(mcpauth_mcp_backend *backend, const char *id,
                                  mcpauth__session_end why);

/* The idle sweep: a busy session is marked used; one gone from the
 * table ends here too (MCPAUTH__SESSION_EXPIRED). */
void mcpauth__backend_sweep(mcpauth_mcp_backend *backend);

/* The kind has closed everything it had (after shutdown). */
void mcpauth__backend_kind_closed(mcpauth_mcp_backend *backend);

/* 502 with a JSON-RPC error (id: the request's, or NULL) saying why the
 * backend could not answer. */
void mcpauth__backend_reply_bad_gateway(mcpauth_mcp_sink *sink, json_object *id,
                                        const char *message);

/* --- builtin_tools.c: hello_world and whoami ---------------------------- */

/* Whether backend is the built-in tools, which answer the 2026-07-28 era
 * themselves (the others pass it on while they speak it). */
bool mcpauth__builtin_is(const mcpauth_mcp_backend *backend);

/* lifecycle §Initialization: the initialize result of the built-in tools,
 * for version. NULL on allocation failure. */
json_object *mcpauth__builtin_initialize_result(const mcpauth_mcp_config *config,
                                                const char *version);

/* --- bridge.c: one child process and the sessions it serves ------------- */

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

/* Sends call's message (of an attached session) to the child and answers
 * call->sink (202 for notifications and responses; the child's response,
 * maybe streamed, for a request). A request takes call->filter, applied
 * to its result before anything of it reaches the client or the replay
 * buffer. */
void mcpauth__bridge_post(mcpauth__bridge *bridge, mcpauth__mcp_call *call);

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

/* Timeouts and keep-alives, at now (uv_now). */
void mcpauth__bridge_tick(mcpauth__bridge *bridge, uint64_t now_ms);

/* Stops the child (server shutdown): requests fail with reason. */
void mcpauth__bridge_stop(mcpauth__bridge *bridge, const char *reason);

int mcpauth__bridge_pid(const mcpauth__bridge *bridge);

/* --- stdio_modern.c: the stdio command in the 2026-07-28 era ------------ */

/* Whether the command speaks MCP 2026-07-28 (probed with server/discover),
 * and the one child that then serves every modern request, multiplexed by
 * request id (the rules are in stdio_modern.c). */
typedef struct mcpauth__stdio_modern mcpauth__stdio_modern;

/* Starts the command with no identity in its environment (stdio.c);
 * 0 or a negative libuv error, as mcpauth_child_spawn(). */
struct mcpauth_child_callbacks;
struct mcpauth_child;
typedef int (*mcpauth__stdio_modern_spawn_cb)(mcpauth_mcp_backend *backend,
                                              const struct mcpauth_child_callbacks *callbacks,
                                              void *data, struct mcpauth_child **out);

/* idle: called once every child is closed after mcpauth__stdio_modern_stop().
 * NULL on allocation failure. */
mcpauth__stdio_modern *mcpauth__stdio_modern_new(mcpauth_mcp_backend *backend,
                                                 mcpauth__stdio_modern_spawn_cb spawn,
                                                 void (*idle)(mcpauth_mcp_backend *backend));

/* False only while the command is known to be of the 2025 era (it is asked
 * again a minute later); true before it was probed. */
bool mcpauth__stdio_modern_speaks(mcpauth__stdio_modern *m);

/* One modern message (call->session_id NULL): a request goes to the child
 * (started and probed first when none runs) and call->sink is answered
 * later; a notification is 202. */
void mcpauth__stdio_modern_post(mcpauth__stdio_modern *m, mcpauth__mcp_call *call);

/* The probe's and the requests' timeouts, at now (uv_now). */
void mcpauth__stdio_modern_tick(mcpauth__stdio_modern *m, uint64_t now_ms);

/* Server shutdown: requests fail, the child stops. True when no child is
 * left to close (idle is then not called). */
bool mcpauth__stdio_modern_stop(mcpauth__stdio_modern *m);

void mcpauth__stdio_modern_free(mcpauth__stdio_modern *m);
/* --- request_state.c: the era bridge's sealed requestState -------------- */

#define MCPAUTH__REQUEST_STATE_OWNER_SIZE 32 /* SHA-256 */

/* A per-process AES-256-GCM key, random at start, never written anywhere. */
typedef struct mcpauth__request_state_key mcpauth__request_state_key;

/* NULL when no memory or no randomness. */
mcpauth__request_state_key *mcpauth__request_state_key_new(void);
void mcpauth__request_state_key_free(mcpauth__request_state_key *key);

/* What a requestState says, all of it under the tag. */
typedef struct mcpauth__request_state {
    unsigned char owner[MCPAUTH__REQUEST_STATE_OWNER_SIZE]; /* the principal's digest */
    int64_t expires_ms;                                     /* Unix time, ms */
    uint64_t handle;                                        /* the pending call */
    uint64_t round;                                         /* of that call: single use */
} mcpauth__request_state;

typedef enum mcpauth__request_state_status {
    MCPAUTH__REQUEST_STATE_OK,
    MCPAUTH__REQUEST_STATE_FORGED,  /* malformed, another key's, or tampered with */
    MCPAUTH__REQUEST_STATE_FOREIGN, /* authentic, but another principal's */
    MCPAUTH__REQUEST_STATE_EXPIRED, /* authentic and the caller's, but too old */
} mcpauth__request_state_status;

/* The principal a state is bound to: SHA-256 over the token's subject and
 * client id (either may be NULL: no token). */
void mcpauth__request_state_owner(const char *subject, const char *client_id,
                                  unsigned char owner[MCPAUTH__REQUEST_STATE_OWNER_SIZE]);

/* The sealed state as base64url text (caller frees); NULL on failure. */
char *mcpauth__request_state_seal(const mcpauth__request_state_key *key,
                                  const mcpauth__request_state *state);

/* Opens text sealed under key, for the caller whose digest is owner, at
 * now_ms. *out is filled only when the tag verified (any status but
 * FORGED). Bounded: text longer than a state can be is FORGED unread. */
mcpauth__request_state_status
mcpauth__request_state_open(const mcpauth__request_state_key *key, const char *text,
                            const unsigned char owner[MCPAUTH__REQUEST_STATE_OWNER_SIZE],
                            int64_t now_ms, mcpauth__request_state *out);

/* --- era_bridge.c: a 2026-07-28 client, a backend of the 2025 era ------- */

/* The bridge's state for one server: a session at the backend per caller,
 * the calls in flight and waiting for input, the requestState key. */
typedef struct mcpauth__era mcpauth__era;

/* NULL on allocation failure or with no randomness for the key. */
mcpauth__era *mcpauth__era_new(mcpauth_mcp_server *server);
void mcpauth__era_free(mcpauth__era *era);

/* Whether modern requests go through the bridge: the backend keeps
 * sessions and does not speak 2026-07-28 (now). */
bool mcpauth__era_bridges(const mcpauth_mcp_server *server);

/* One checked modern POST body (borrowed) through the bridge; answers sink
 * once, maybe later. */
void mcpauth__era_post(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                       json_object *body, mcpauth_mcp_sink *sink);

/* A modern request a backend held while it learnt that its peer is of the
 * 2025 era (a stdio command's probe, an upstream's answer): the bridge
 * takes it over as if it had gone there at once. sink passes to the
 * bridge, its abort hook unset; message is borrowed. */
void mcpauth__era_take(mcpauth_mcp_server *server, const char *protocol_version,
                       const mcpauth_mcp_identity *identity, int64_t now, json_object *message,
                       mcpauth_mcp_sink *sink);

/* Server shutdown: calls waiting for a retry are cancelled. */
void mcpauth__era_close(mcpauth_mcp_server *server);

/* --- engine.c: lifecycle and dispatch, under both transports ------------ */

/* The transport a message came by, which decides the lifecycle rules that
 * differ: where the session comes from and which versions initialize may
 * negotiate. A transport of another MCP era joins here. */
typedef enum mcpauth__transport {
    /* 2025-11-25 basic/transports §Streamable HTTP (streamable_http.c):
     * initialize makes the session, Mcp-Session-Id names it after. */
    MCPAUTH__TRANSPORT_STREAMABLE_HTTP,
    /* 2024-11-05 basic/transports §HTTP with SSE (legacy.c): the session
     * exists from the stream's start; initialize runs in it. */
    MCPAUTH__TRANSPORT_LEGACY_SSE,
    /* 2026-07-28 basic/transports/streamable-http (stateless_http.c): no
     * session, no initialize; the version is the request's own, checked
     * before the engine sees it. */
    MCPAUTH__TRANSPORT_STATELESS_HTTP,
} mcpauth__transport;

/* The protocol version we speak that version names (MCP lifecycle §Version
 * Negotiation), over transport (the legacy one adds 2024-11-05). NULL when
 * none. */
const char *mcpauth__engine_version(const char *version, mcpauth__transport transport);

/* MCP transports §Protocol Version Header: 400 naming what we support. */
void mcpauth__engine_reply_bad_version(mcpauth_mcp_sink *sink, const char *requested);

/* Runs one parsed POST body (borrowed) that came by transport through the
 * lifecycle: message shape, batch rules, the version in force, initialize,
 * the session named by req->session_id, then the backend. Answers sink
 * once. */
void mcpauth__engine_post(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                          json_object *body, mcpauth__transport transport, mcpauth_mcp_sink *sink);

/* The same for a 2026-07-28 request that stateless_http.c checked and
 * classified as msg (a request or notification of body), whose
 * params._meta may still be the text meta (built into body for a backend
 * other than the built-in tools, which never read it). */
void mcpauth__engine_post_stateless(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                                    json_object *body, const mcpauth__jsonrpc_message *msg,
                                    const mcpauth_json_deferred *meta, mcpauth_mcp_sink *sink);

/* The session req->session_id names, if live and the caller's (MCP
 * transports §Session Management: else 404 alike). */
bool mcpauth__engine_find_session(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                                  mcpauth__session *out);

/* Creates the session of a new client for x's caller, or answers why not:
 * 503 when the table is full, 429 with Retry-After at the caller's limit
 * (max_sessions_per_identity) or the backend's (max_children), each
 * counted in mcpauth_mcp_limit_hits(). The JSON-RPC error names the
 * limit. False when sink was answered. */
bool mcpauth__engine_new_session(mcpauth_mcp_server *server, const mcpauth_mcp_identity *identity,
                                 const char *version, int64_t now, mcpauth_mcp_sink *sink,
                                 mcpauth__session *out);

/* Ends a session (DELETE, a legacy stream gone): from the table and at the
 * backend. False when it was gone already. */
bool mcpauth__engine_end_session(mcpauth_mcp_server *server, const char *session_id);

/* Opens the session's standalone stream at the backend (404 when the
 * backend no longer serves it). */
void mcpauth__engine_open_stream(mcpauth_mcp_server *server, const mcpauth__session *session,
                                 const mcpauth_mcp_request *req, mcpauth_mcp_sink *sink);

/* The versions this server answers, newest first: 2026-07-28 too when the
 * backend speaks it (the built-in tools). Sets *count. */
const char *const *mcpauth__engine_served_versions(const mcpauth_mcp_server *server, size_t *count);

/* The versions initialize negotiates (the 2025 era), newest first. */
const char *const *mcpauth__engine_session_versions(size_t *count);

/* req->body parsed once, kept in req (mcp.h); NULL when it is not JSON.
 * A request known to be modern keeps params._meta as text in req->meta. */
json_object *mcpauth__engine_parsed(mcpauth_mcp_request *req);

/* The members of params._meta the parse finds in its text
 * (meta->members[...]), for the checks of stateless_http.c. */
enum {
    MCPAUTH__META_VERSION,      /* io.modelcontextprotocol/protocolVersion */
    MCPAUTH__META_CAPABILITIES, /* io.modelcontextprotocol/clientCapabilities */
    MCPAUTH__META_LOG_LEVEL,    /* io.modelcontextprotocol/logLevel */
    MCPAUTH__META_CHECKED
};

/* A POST body parsed; for a modern one (modern true) params._meta is left
 * as text in *meta, with the members the checks read found on the way:
 * every such request carries it, and only those checks and backends other
 * than the built-in tools read it, so its objects and hashed names would
 * mostly be built for nothing (a tenth of answering a built-in
 * tools/call). NULL when it is not JSON. */
json_object *mcpauth__engine_parse_body(const char *text, size_t length, bool modern,
                                        mcpauth_json_deferred *meta);

/* Builds params._meta into body from the text the parse left. False when
 * memory ran out. */
bool mcpauth__engine_restore_meta(json_object *body, const mcpauth_json_deferred *meta);

/* The open subscriptions/listen streams of a server (stateless_http.c
 * keeps them; the engine only holds the list). */
struct mcpauth__listen;
struct mcpauth__listen **mcpauth__engine_listens(mcpauth_mcp_server *server);

/* The server's era bridge (NULL when its backend keeps no sessions). */
mcpauth__era **mcpauth__engine_era(mcpauth_mcp_server *server);

/* --- stateless_http.c: the 2026-07-28 HTTP rules ------------------------ */

/* The tool a modern tools/call names, read from Mcp-Name once Mcp-Method,
 * Mcp-Name and the version agree with the body (streamable-http §Server
 * Validation): for the per-tool scopes, decided before anything else.
 * NULL when the request is no such call, or does not validate (it is then
 * refused with -32020 before anything runs). Caller frees. */
char *mcpauth__stateless_called_tool(mcpauth_mcp_request *req);

/* streamable-http §Value Encoding: a header value, whitespace around it
 * aside, as plain visible ASCII or decoded from =?base64?...?=; NULL when
 * it is neither (or holds a NUL). Caller frees. */
char *mcpauth__stateless_header_decode(const char *raw);

/* --- param_headers.c: Mcp-Param-{Name} against the body ---------------- */

/* The x-mcp-header declarations of a backend's tools (streamable-http
 * §Schema Extension), learnt from its tools/list results, for checking a
 * tools/call's Mcp-Param-* headers when the backend cannot (stdio has no
 * headers). */
typedef struct mcpauth__param_decls mcpauth__param_decls;

/* NULL on allocation failure. */
mcpauth__param_decls *mcpauth__param_decls_new(void);
void mcpauth__param_decls_free(mcpauth__param_decls *d);

/* Learns the declarations of every tool of a tools/list result (the
 * result object; a tool seen again replaces what was known of it). */
void mcpauth__param_decls_learn(mcpauth__param_decls *d, json_object *result);

/* streamable-http §Server Behavior for Custom Headers: for each argument
 * of the called tool declared with x-mcp-header that the body carries, the
 * request has Mcp-Param-{Name} and it decodes to the body's value. False
 * (why set, for a -32020) otherwise; true for a tool not known. */
bool mcpauth__param_decls_check(const mcpauth__param_decls *d, const mcpauth__jsonrpc_message *msg,
                                const mcpauth_mcp_request *req, char *why, size_t why_size);

/* basic/versioning §Protocol Version Negotiation: the -32022 error for id,
 * data.supported = versions[0..count), data.requested. NULL on allocation
 * failure. */
json_object *mcpauth__stateless_unsupported(json_object *id, const char *requested,
                                            const char *const *versions, size_t count);

/* subscriptions/listen (basic/patterns/subscriptions) on sink: the
 * acknowledgement, then keep-alive comments until the client closes the
 * stream or the server stops. */
void mcpauth__stateless_listen(mcpauth_mcp_server *server, const mcpauth__jsonrpc_message *msg,
                               mcpauth_mcp_sink *sink);

/* Whether the server's backend has a standalone stream (GET). */
bool mcpauth__engine_streams(const mcpauth_mcp_server *server);

/* The server's session table (NULL when stateless), backend (the built-in
 * tools' when it was given none) and configuration. Borrowed. */
mcpauth_mcp_sessions *mcpauth__engine_sessions(mcpauth_mcp_server *server);
mcpauth_mcp_backend *mcpauth__engine_backend(mcpauth_mcp_server *server);
const mcpauth_mcp_config *mcpauth__engine_config(const mcpauth_mcp_server *server);

#endif
