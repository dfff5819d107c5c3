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

typedef struct mcpauth__session {
    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1]; /* lowercase hex */
    char *subject;                              /* NULL: anonymous */
    char *client_id;                            /* NULL: none */
    const char *protocol_version;               /* negotiated; a static string */
    const char *log_level;                      /* from logging/setLevel; static; NULL until set */
    int64_t last_used;
} mcpauth__session;

typedef struct mcpauth__session_table mcpauth__session_table;

typedef enum mcpauth__session_status {
    MCPAUTH__SESSION_CREATED,
    MCPAUTH__SESSION_FULL,      /* max_sessions live sessions, none idle */
    MCPAUTH__SESSION_NO_MEMORY, /* or no randomness */
} mcpauth__session_status;

/* A table of at most max_sessions sessions; those unused for idle_seconds
 * (<= 0: never) are dropped. NULL on allocation failure. */
mcpauth__session_table *mcpauth__session_table_new(size_t max_sessions, int64_t idle_seconds);
void mcpauth__session_table_free(mcpauth__session_table *table);

/* Creates a session with a fresh random id bound to subject and client_id
 * (copied; either may be NULL), last used at now. When the table is full,
 * idle sessions are dropped first. *out is owned by the table. */
mcpauth__session_status mcpauth__session_create(mcpauth__session_table *table, const char *subject,
                                                const char *client_id, const char *protocol_version,
                                                int64_t now, mcpauth__session **out);

/* The live session with this id bound to exactly this subject and client_id,
 * or NULL when unknown, expired (it is then dropped) or bound to someone
 * else: callers answer all three alike (MCP transports §Session Management:
 * 404). Does not touch last_used. */
mcpauth__session *mcpauth__session_find(mcpauth__session_table *table, const char *id,
                                        const char *subject, const char *client_id, int64_t now);

/* Ends session (from mcpauth__session_find); it is freed. */
void mcpauth__session_remove(mcpauth__session_table *table, mcpauth__session *session);

/* Drops sessions idle at now and returns how many remain. */
size_t mcpauth__session_sweep(mcpauth__session_table *table, int64_t now);

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
