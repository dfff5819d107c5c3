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

#include "mcpauth/mcp.h"

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

#endif
