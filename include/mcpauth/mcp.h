/* The MCP protocol engine behind the Streamable HTTP endpoint: JSON-RPC 2.0
 * messages, protocol version negotiation, sessions bound to the token's
 * identity, the per-tool policy, and a backend that answers (the built-in
 * tools, or one of mcp_backend.h). It knows nothing of sockets: the HTTP
 * layer hands it a POST, GET or DELETE that already passed authentication,
 * with the caller's identity, and gets back the HTTP status, body and
 * headers to send. The legacy HTTP+SSE transport is mcp_legacy.h.
 *
 * Protocol versions: 2025-11-25 (preferred), 2025-06-18, 2025-03-26
 * (batches allowed only there). Methods: initialize,
 * notifications/initialized, ping, tools/list, tools/call, logging/setLevel.
 *
 * MCP 2026-07-28, the stateless revision, is served beside them on the same
 * endpoint by the built-in tools (mcpauth_mcp_handle_modern_post): every
 * request carries its version and capabilities in _meta, no session ever;
 * methods server/discover, tools/list, tools/call, subscriptions/listen.
 * mcpauth_mcp_request_modern() tells the eras apart.
 *
 * With a stdio or upstream backend (mcp_backend.h) the same checks run,
 * and the checked messages go to the session's child process or upstream
 * session instead of the built-in tools; GET then opens the session's
 * standalone Server-Sent Events stream.
 *
 * Nothing here blocks, beyond waiting briefly for the session table's lock
 * while another process holds it (for a few memory operations, never I/O);
 * call one server on one thread. Answers go to a sink (mcpauth_mcp_sink) so
 * that they may come later or as a stream; the built-in tools reply before
 * mcpauth_mcp_handle_post() returns.
 */
#ifndef MCPAUTH_MCP_H
#define MCPAUTH_MCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcpauth/json.h"
#include "mcpauth/mcp_tool_policy.h"
#include "mcpauth/token.h"

#define MCPAUTH_MCP_LATEST_VERSION    "2025-11-25"
#define MCPAUTH_MCP_MODERN_VERSION    "2026-07-28" /* stateless: no initialize */
#define MCPAUTH_MCP_SESSION_ID_LENGTH 32           /* hex characters */
#define MCPAUTH_MCP_MAX_SESSIONS      (1u << 28)   /* the most any table holds */

typedef struct mcpauth_mcp_server mcpauth_mcp_server;

/* A session table in memory shared with the processes forked after it is
 * made, so that a session created by one worker of `mcpauth serve` is known
 * to all (a client's next request may reach any of them). */
typedef struct mcpauth_mcp_sessions mcpauth_mcp_sessions;

/* Who is calling, as authentication established it. Borrowed. */
typedef struct mcpauth_mcp_identity {
    const mcpauth_token_info *token; /* NULL when serving without authentication */
    const char *validated_by;        /* "introspection", "jwt", "none" */
    bool cache_hit;
} mcpauth_mcp_identity;

typedef struct mcpauth_mcp_config {
    const char *server_name;    /* serverInfo.name ("mcpauth") */
    const char *server_version; /* serverInfo.version */
    const char *instructions;   /* NULL: none */
    bool stateless;             /* no sessions: every POST stands alone */
    size_t max_sessions;        /* new sessions beyond it: 503 (default 10000) */
    /* Live sessions one identity (subject and client id together) may
     * hold; one more is 429 (16; 0: no limit). So that one token can
     * neither fill the table for everyone nor start a child per session
     * without bound. Applies to both 2025-era transports, and to callers
     * with a token only (without one, everyone would be one identity). */
    size_t max_sessions_per_identity;
    int64_t session_idle_seconds; /* sessions unused this long are dropped (3600) */
    /* Borrowed: the table to keep sessions in, whose own limits then apply
     * instead of the two above. NULL: the server makes a table of its own. */
    mcpauth_mcp_sessions *sessions;
    /* Borrowed: a backend that answers MCP instead of the built-in tools
     * (mcp_backend.h). NULL: the built-in tools. */
    struct mcpauth_mcp_backend *backend;
    /* Borrowed: tools/list answers, whichever backend gives them, show only
     * the tools the caller's token may call, and mcpauth_mcp_check_tools()
     * decides tools/call (mcp_tool_policy.h). NULL: every tool. */
    const mcpauth_mcp_tool_policy *tool_policy;
    /* Borrowed: the loop that times keep-alive comments on 2026-07-28
     * subscriptions/listen streams. NULL: no keep-alives. */
    struct uv_loop_s *loop;
    uint64_t keepalive_ms; /* comment line on an idle listen stream (15000) */
    /* The era bridge (a 2026-07-28 client, a backend of the 2025 era): how
     * long the requestState of an InputRequiredResult is good, and so how
     * long the backend's call waits for the retry (300000); and how many
     * calls one caller may leave waiting so (16; one more cancels the
     * oldest). */
    uint64_t request_state_ttl_ms;
    size_t max_input_waits;
} mcpauth_mcp_config;

void mcpauth_mcp_config_init(mcpauth_mcp_config *config);

/* A table of at most max_sessions (<= MCPAUTH_MCP_MAX_SESSIONS) sessions;
 * those unused for idle_seconds (<= 0: never) are dropped. Make it before
 * fork() and hand it to each process's server through config.sessions. NULL
 * when too large or the memory cannot be mapped. */
mcpauth_mcp_sessions *mcpauth_mcp_sessions_new(size_t max_sessions, int64_t idle_seconds);

/* The longest instance label of mcpauth_mcp_sessions_set_instance(). */
#define MCPAUTH_MCP_INSTANCE_MAX 8

/* Whether label can name an instance: 1 to MCPAUTH_MCP_INSTANCE_MAX
 * characters of [a-z0-9]. */
bool mcpauth_mcp_instance_valid(const char *label);

/* From now on the table's session ids start with "LABEL-" (the rest stays
 * random: at least 92 bits), so that a load balancer in front of several
 * servers routes a session to the one that made it from the id alone, with
 * no table of its own (mcpauth-serve(1), FLEET). Call it before the workers
 * fork. False, and nothing changed, when the label is not valid. */
bool mcpauth_mcp_sessions_set_instance(mcpauth_mcp_sessions *sessions, const char *label);

/* Destroys the table's lock and unmaps it. Call it in the process that made
 * it, once the servers using it are freed and the processes it forked have
 * exited; a forked process just stops using it. NULL is fine. */
void mcpauth_mcp_sessions_free(mcpauth_mcp_sessions *sessions);

/* NULL on allocation failure. config is copied (its strings, and its
 * sessions table when given, must outlive the server). */
mcpauth_mcp_server *mcpauth_mcp_server_new(const mcpauth_mcp_config *config);
void mcpauth_mcp_server_free(mcpauth_mcp_server *server);

/* One HTTP request to the MCP endpoint. Borrowed. */
typedef struct mcpauth_mcp_request {
    const char *session_id;       /* Mcp-Session-Id header, NULL when absent */
    const char *protocol_version; /* MCP-Protocol-Version header, NULL when absent */
    const char *accept;           /* Accept header */
    const char *content_type;     /* Content-Type header */
    const char *body;
    size_t body_length;
    mcpauth_mcp_identity identity;
    const char *last_event_id; /* Last-Event-ID header (GET), NULL when absent */
    const char *mcp_method;    /* Mcp-Method header (2026-07-28), NULL when absent */
    const char *mcp_name;      /* Mcp-Name header (2026-07-28), NULL when absent */
    /* Mcp-Param-{Name} header lines ("Mcp-Param-Region: us-west1") of a
     * 2026-07-28 request, passed on as they are to an upstream. */
    const char *const *param_headers;
    size_t param_header_count;
    int64_t now; /* seconds since the epoch, for session expiry */
    /* The body parsed by mcpauth_mcp_check_tools() (body_parsed true;
     * parsed NULL when it is not JSON), which the engine then uses instead
     * of parsing it again. Owned by the request: release it with
     * mcpauth_mcp_request_release() once the handler returned. */
    json_object *parsed;
    bool body_parsed;
    bool modern; /* set by mcpauth_mcp_request_modern() */
    /* A modern request's params._meta, left as text in body by the parse
     * (built only for a backend that reads it); text NULL otherwise. */
    mcpauth_json_deferred meta;
} mcpauth_mcp_request;

/* Which era a request to the MCP endpoint belongs to (MCP 2026-07-28
 * basic/versioning §Backward Compatibility with Initialization-Based
 * Versions; basic/transports/streamable-http §Protocol Version Header):
 * modern when MCP-Protocol-Version names anything but 2025-03-26,
 * 2025-06-18 or 2025-11-25 (an unknown version gets the 2026-07-28 error,
 * which lists every version served), or, without that header, when a POST
 * body carries _meta io.modelcontextprotocol/protocolVersion. initialize
 * without that _meta, and every 2025-era request, stay legacy. May parse
 * req->body (kept as mcpauth_mcp_check_tools() keeps it); sets and returns
 * req->modern. */
bool mcpauth_mcp_request_modern(mcpauth_mcp_request *req);

/* Whether server's backend reads a modern request's Mcp-Param-{Name}
 * headers (an upstream or a stdio child passes them on or checks them; the
 * built-in tools declare none), so that they are gathered only then. */
bool mcpauth_mcp_server_reads_param_headers(const mcpauth_mcp_server *server);

/* Per-tool scopes (mcp_tool_policy.h; MCP 2025-11-25 authorization §Scope
 * Challenge Handling), decided for a POST to either transport before
 * anything else looks at it: parses req->body once (kept in req->parsed)
 * and checks every tools/call in it for req->identity.token against
 * config.tool_policy, as mcpauth_mcp_tool_policy_check_body() does with the
 * resource's required scopes base[0..base_count). The caller answers a
 * refusal (403 insufficient_scope). */
mcpauth_status mcpauth_mcp_check_tools(mcpauth_mcp_server *server, mcpauth_mcp_request *req,
                                       const char *const *base, size_t base_count,
                                       mcpauth_mcp_tool_policy_verdict *verdict);

/* Frees what mcpauth_mcp_check_tools() kept in req. */
void mcpauth_mcp_request_release(mcpauth_mcp_request *req);

/* What to send back. Owned by the engine; valid during the callback. */
typedef struct mcpauth_mcp_reply {
    int status;               /* 200, 202, 400, 403, 404, 405, 406, 409, 415, 429, 502, 503 */
    const char *content_type; /* "application/json" or NULL (no body) */
    const char *body;         /* NULL for 202 and bodiless errors */
    size_t body_length;
    const char *session_id; /* send as Mcp-Session-Id (set on initialize) */
    int retry_after;        /* seconds, sent as Retry-After (429, 503); 0: none */
} mcpauth_mcp_reply;

typedef void (*mcpauth_mcp_reply_cb)(const mcpauth_mcp_reply *reply, void *data);

/* Where the answer to one HTTP request goes; made by the HTTP layer and
 * valid until the answer ends. The engine either calls reply once, or (only
 * when stream_start is set) stream_start once, stream_write any number of
 * times and stream_end once: a 200 text/event-stream response whose data is
 * already formatted as Server-Sent Events.
 *
 * An answer that waits for a backend outlives the call that started
 * it: the engine then sets on_abort and engine_data before returning. When
 * the client goes away before the answer ends, the HTTP layer calls
 * on_abort (when set) and ends the exchange itself; the engine never
 * touches the sink again after on_abort. */
typedef struct mcpauth_mcp_sink {
    mcpauth_mcp_reply_cb reply;
    void (*stream_start)(const char *session_id, void *data);          /* NULL: cannot stream */
    int (*stream_write)(const char *bytes, size_t length, void *data); /* nonzero: client gone */
    void (*stream_end)(void *data);
    void *data; /* the HTTP layer's, passed to the four above */
    void (*on_abort)(struct mcpauth_mcp_sink *sink);
    void *engine_data;
} mcpauth_mcp_sink;

/* The Streamable HTTP transport's three methods (streamable_http.c), one
 * shape: the request is borrowed, the sink answered exactly once. */
typedef void mcpauth_mcp_handler(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                                 mcpauth_mcp_sink *sink);

/* Handles a POST (MCP 2025-11-25 transports §Sending Messages): Accept must
 * list application/json and text/event-stream (406), Content-Type must be
 * application/json (415), body one JSON-RPC message (a batch only for
 * 2025-03-26; -32700 / -32600 with 400 otherwise), MCP-Protocol-Version, when
 * present, a supported one (400). initialize creates a session (unless
 * stateless) bound to identity's subject and client (503 when the table is
 * full; 429 with reply.retry_after at max_sessions_per_identity or at the
 * backend's max_children, the JSON-RPC error's data.limit naming which);
 * other requests must name a live session of the same subject and client
 * (400 when missing, 404 when unknown, expired or someone else's).
 * Notifications and responses: 202.
 * The checked messages go to the backend (mcp_backend.h; the built-in
 * tools without one), which may answer later or stream. The sink is
 * answered exactly once, possibly before this returns. */
mcpauth_mcp_handler mcpauth_mcp_handle_post;

/* Handles a GET (transports §Listening for Messages from the Server): 405
 * with the built-in tools (which never speak first); else Accept must list
 * text/event-stream (406), the session be live and the caller's (400,
 * 404), and the answer is the session's standalone SSE stream (409 when
 * one is open already), resumed after req->last_event_id when given. */
mcpauth_mcp_handler mcpauth_mcp_handle_get;

/* Handles a DELETE: ends the session (200) and its backend's side of it,
 * 404 when unknown or someone else's, 400 without a session id, 405 when
 * stateless. */
mcpauth_mcp_handler mcpauth_mcp_handle_delete;

/* Handles a POST of the 2026-07-28 era (basic/transports/streamable-http):
 * Accept (406) and Content-Type (415) as above; one JSON-RPC message
 * (400); MCP-Protocol-Version a version served (400, -32022 listing them
 * all), equal to _meta io.modelcontextprotocol/protocolVersion, and
 * Mcp-Method / Mcp-Name equal to the body (400, -32020; Mcp-Name may use the
 * =?base64?...?= form); _meta with protocolVersion and clientCapabilities
 * (400, -32602); an unknown method 404, -32601; notifications 202.
 * Mcp-Session-Id and Last-Event-ID are ignored and no session is made.
 * Results carry resultType "complete" and _meta
 * io.modelcontextprotocol/serverInfo. The built-in tools answer it; an
 * upstream (mcp_backend.h) of this era gets the request as it came (the
 * version is then its to check); a stdio backend, or an upstream found to
 * speak only the 2025 era, is refused with -32022 listing the 2025
 * versions, and the client falls back to initialize. */
mcpauth_mcp_handler mcpauth_mcp_handle_modern_post;

/* Ends every open 2026-07-28 subscriptions/listen stream with its result
 * (subscriptions §Graceful Closure), for a server that stops. */
void mcpauth_mcp_close_streams(mcpauth_mcp_server *server);

/* Live sessions (after dropping expired ones at time now): with a shared
 * table, those of every process using it. */
size_t mcpauth_mcp_session_count(mcpauth_mcp_server *server, int64_t now);

/* Which process holds what a session has beyond the shared table (a
 * legacy SSE stream, a backend's child or upstream session): the one that
 * created it; with several workers a request for it may reach another,
 * which hands it over. 0 when no such session is live at now, or without
 * sessions. */
int64_t mcpauth_mcp_session_holder(mcpauth_mcp_server *server, const char *session_id, int64_t now);

/* The session limits, each named by its option in mcpauth serve. */
typedef enum mcpauth_mcp_limit {
    MCPAUTH_MCP_LIMIT_SESSIONS,              /* max_sessions: the table is full (503) */
    MCPAUTH_MCP_LIMIT_SESSIONS_PER_IDENTITY, /* max_sessions_per_identity (429) */
    MCPAUTH_MCP_LIMIT_CHILDREN,              /* the stdio backend's max_children (429) */
    MCPAUTH_MCP_LIMIT_COUNT
} mcpauth_mcp_limit;

/* Seconds a client refused with 429 at a session limit is told to wait
 * (Retry-After): a hint, since a session frees when its client ends it or
 * it expires. */
#define MCPAUTH_MCP_LIMIT_RETRY_AFTER 60

/* How often each limit refused a new session in this process (this
 * server's requests only, not other workers'). Fills hits[]. */
void mcpauth_mcp_limit_hits(const mcpauth_mcp_server *server,
                            uint64_t hits[MCPAUTH_MCP_LIMIT_COUNT]);

/* The seed's greeting for an identity: "Hello, NAME!" with a username claim,
 * else "Hello, user with ID SUB!", else "Hello, anonymous user!". Caller
 * frees. */
char *mcpauth_mcp_hello_text(const mcpauth_token_info *token);

#endif
