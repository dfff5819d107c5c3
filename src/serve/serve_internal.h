/* Shared between the files of src/serve/: the state of one worker. */
#ifndef MCPAUTH_SERVE_INTERNAL_H
#define MCPAUTH_SERVE_INTERNAL_H

#include <stdint.h>
#include <uv.h>

#include "mcpauth/http_async.h"
#include "mcpauth/http_server.h"
#include "mcpauth/http_tls.h"
#include "mcpauth/jwks_cache.h"
#include "mcpauth/mcp.h"
#include "mcpauth/serve.h"
#include "mcpauth/validator.h"

#define MCPAUTH__SERVE_STATUS_CLASSES 6 /* 1xx..5xx, other */

struct mcpauth__serve_letter; /* worker_mail.c */

typedef struct mcpauth__serve_metrics {
    uint64_t requests_by_class[MCPAUTH__SERVE_STATUS_CLASSES];
    uint64_t valid;
    uint64_t invalid;
    uint64_t insufficient_scope;
    uint64_t unavailable;
    uint64_t missing;
    uint64_t limits[MCPAUTH_HTTP_LIMIT_COUNT]; /* the HTTP server's limits hit */
    uint64_t limits_unlogged[MCPAUTH_HTTP_LIMIT_COUNT];
    uint64_t limits_logged_ms[MCPAUTH_HTTP_LIMIT_COUNT]; /* 0: never */
    struct mcpauth__serve_context *owner;                /* publishes into its worker's slot */
} mcpauth__serve_metrics;

/* One worker's figures in the region every worker maps (metrics.c), so that
 * any worker answers GET /metrics for the whole server. Only its worker
 * writes a slot (relaxed atomic stores); any worker reads them all. A slot
 * outlives its worker: the one started in its place goes on counting from
 * there, so counters never go back. */
typedef struct mcpauth__serve_metrics_slot {
    uint64_t pid; /* 0: no worker has run in this slot yet */
    uint64_t requests_by_class[MCPAUTH__SERVE_STATUS_CLASSES];
    uint64_t valid, invalid, insufficient_scope, unavailable, missing;
    uint64_t limits[MCPAUTH_HTTP_LIMIT_COUNT];
    uint64_t cache_hits, cache_misses, backend_calls, backend_failures, backend_overloaded;
    uint64_t backend_in_flight, backend_queued;
    uint64_t latency_buckets[MCPAUTH_VALIDATOR_LATENCY_BUCKETS];
    uint64_t latency_sum_ns;
    uint64_t jwks_fetches, jwks_fetch_failures;
    uint64_t mcp_limits[MCPAUTH_MCP_LIMIT_COUNT];
    uint64_t open_connections;
    /* --shared-cache: this worker's Redis connection */
    uint64_t redis_hits, redis_misses, redis_waits, redis_errors, redis_up;
} __attribute__((aligned(64))) mcpauth__serve_metrics_slot;

/* What the workers of one server share: made before they fork, in
 * anonymous shared mappings (a worker started in place of one that died
 * inherits them too). */
typedef struct mcpauth__serve_shared {
    int workers;
    mcpauth__serve_metrics_slot *metrics; /* [workers] */
    mcpauth_token_shared_cache *tokens;   /* results and claims; NULL: one worker, --no-auth */
    int (*inboxes)[2]; /* [workers]: each worker's socketpair (worker_mail.c); NULL: none */
} mcpauth__serve_shared;

/* What the resource server derives once from its configuration. */
typedef struct mcpauth__serve_resource {
    char *origin;           /* "http://localhost:8000" */
    char *host;             /* "localhost:8000" (the Host value clients send) */
    char *path;             /* "/mcp" ("" for a path-less resource) */
    char *metadata_path;    /* "/.well-known/oauth-protected-resource/mcp" */
    char *metadata_url;     /* absolute, for resource_metadata= */
    char *metadata_json;    /* the RFC 9728 document */
    char *scope;            /* required scopes, space-separated ("" for none) */
    mcpauth_devissuer *dev; /* --dev: the development issuer; NULL otherwise */
    mcpauth_http_tls *tls;  /* --tls-cert: the listener's credentials; NULL: plain HTTP */
} mcpauth__serve_resource;

typedef struct mcpauth__serve_context {
    mcpauth_serve_config *config;
    uv_loop_t *loop;
    mcpauth_http_server *server;
    mcpauth_http_async *http;
    mcpauth_validator *validator;
    mcpauth_jwks_cache *jwks;
    mcpauth_redis_cache *redis; /* --shared-cache (Redis); NULL: none */
    mcpauth_mcp_server *mcp;
    mcpauth_mcp_backend *backend;         /* the stdio backend; NULL: built-in tools */
    struct mcpauth__serve_legacy *legacy; /* the legacy HTTP+SSE transport; NULL: off */
    struct mcpauth__serve_mail *mail;     /* letters from other workers; NULL: one worker */
    struct mcpauth__serve_relay *relay;   /* sessions other workers hold; NULL: none */
    mcpauth__serve_resource resource;
    mcpauth__serve_metrics metrics;
    const struct mcpauth__serve_shared *shared;
    int worker;                               /* this worker's number, 0 .. shared->workers - 1 */
    mcpauth__serve_metrics_slot metrics_base; /* the slot when this worker took it */
    uint64_t pid; /* this worker's, written to its slot with every publish */
    uv_signal_t sigterm, sigint;
    uv_signal_t sighup; /* reloads the TLS certificate */
    uv_timer_t shutdown_timer;
    uv_timer_t log_timer;
    uint64_t drain_started_ms;
    bool stopping;
} mcpauth__serve_context;

/* metadata.c */
mcpauth_status mcpauth__serve_resource_init(mcpauth__serve_resource *res,
                                            const mcpauth_serve_config *config, mcpauth_error *err);
void mcpauth__serve_resource_free(mcpauth__serve_resource *res);

/* dev.c: --dev. Before discovery: creates the development issuer on the
 * resource's origin and points the issuer, the JWKS URI and introspection
 * at it (free with mcpauth__serve_dev_stop(), even on failure). */
typedef struct mcpauth__serve_dev {
    mcpauth_devissuer *issuer;
    char *origin;
    char *jwks_uri;
    char *introspection_endpoint;
} mcpauth__serve_dev;

mcpauth_status mcpauth__serve_dev_start(mcpauth_serve_config *config, mcpauth__serve_dev *out,
                                        mcpauth_error *err);
void mcpauth__serve_dev_stop(mcpauth__serve_dev *dev);

/* router.c: the request callback of the HTTP server, and the one for
 * requests the HTTP server refused on its own. */
void mcpauth__serve_handle_request(mcpauth_http_exchange *ex, void *data);
void mcpauth__serve_handle_refused(int status, const char *peer, const char *method,
                                   const char *path, const char *reason, uint64_t start_ns,
                                   void *data);

/* legacy_sse.c: the legacy HTTP+SSE transport (MCP 2024-11-05) on
 * --sse-path and --messages-path. */
typedef struct mcpauth__serve_legacy mcpauth__serve_legacy;

/* Who called, as the router's token check established it. Borrowed. */
typedef struct mcpauth__serve_caller {
    const mcpauth_token_info *token; /* NULL without authentication */
    const char *validated_by;
    bool cache_hit;
    const char *token_hash; /* for the access log; NULL: no token */
    const char *cache;      /* "hit", "miss", NULL */
    /* The MCP request, its body parsed once (mcpauth_mcp_check_tools). */
    mcpauth_mcp_request *request;
} mcpauth__serve_caller;

/* Sets ctx->legacy, or leaves it NULL when the transport is off; false on
 * allocation failure. */
bool mcpauth__serve_legacy_start(mcpauth__serve_context *ctx);

/* A letter of the transport's kinds (POST, REPLY) from another worker. */
void mcpauth__serve_legacy_letter(mcpauth__serve_legacy *legacy,
                                  const struct mcpauth__serve_letter *letter);

/* Whether path is one of the transport's (never when legacy is NULL). */
bool mcpauth__serve_legacy_path(const mcpauth__serve_legacy *legacy, const char *path);

/* Answers an authenticated request to one of those paths. */
void mcpauth__serve_legacy_handle(mcpauth__serve_legacy *legacy, mcpauth_http_exchange *ex,
                                  const mcpauth__serve_caller *caller);

/* SIGTERM: every stream ends (its session too), no new ones open, and the
 * timer handle closes; then free it after the loop. NULL is fine. */
void mcpauth__serve_legacy_stop(mcpauth__serve_legacy *legacy);
void mcpauth__serve_legacy_free(mcpauth__serve_legacy *legacy);

/* worker_mail.c: letters between the workers of one server. */
#define MCPAUTH__SERVE_LETTER_FIELDS 8

typedef enum mcpauth__serve_letter_kind {
    /* A legacy POST for a stream another worker holds. Fields: session id,
     * bearer token ("" without one), Content-Type, MCP-Protocol-Version,
     * body. */
    MCPAUTH__SERVE_LETTER_POST = 1,
    /* Its answer (status). Fields: Content-Type, body. */
    MCPAUTH__SERVE_LETTER_REPLY,
    /* A Streamable HTTP request for a session whose backend part another
     * worker holds (relay.c). Fields: method, bearer token, Mcp-Session-Id,
     * MCP-Protocol-Version, Accept, Content-Type, Last-Event-ID, body. */
    MCPAUTH__SERVE_LETTER_CALL,
    /* The answers to a CALL, as the engine gives them to its sink: a whole
     * reply (status, extra: Retry-After; fields: Content-Type, body,
     * Mcp-Session-Id), or a stream's start (fields: Mcp-Session-Id), bytes
     * (fields: the events) and end. */
    MCPAUTH__SERVE_LETTER_CALL_REPLY,
    MCPAUTH__SERVE_LETTER_CALL_START,
    MCPAUTH__SERVE_LETTER_CALL_DATA,
    MCPAUTH__SERVE_LETTER_CALL_END,
    /* The client of a CALL went away, or its stream could take no more:
     * the holder lets go of the sink. */
    MCPAUTH__SERVE_LETTER_CALL_ABORT,
} mcpauth__serve_letter_kind;

/* Fields are borrowed (NUL-terminated when received); a NULL field is sent
 * empty. */
typedef struct mcpauth__serve_letter {
    uint32_t kind;
    int32_t from;     /* the sending worker */
    int64_t from_pid; /* its process */
    int64_t to_pid;   /* a reply: the process that asked (a replacement drops it) */
    uint64_t seq;     /* the sender's number for a POST, echoed by its reply */
    int32_t status;
    int32_t extra;
    const char *fields[MCPAUTH__SERVE_LETTER_FIELDS];
    size_t lengths[MCPAUTH__SERVE_LETTER_FIELDS];
} mcpauth__serve_letter;

typedef struct mcpauth__serve_mail mcpauth__serve_mail;
typedef void (*mcpauth__serve_mail_cb)(const mcpauth__serve_letter *letter, void *data);

/* In the parent, before the fork: an inbox per worker. False on failure
 * (close what was made with mcpauth__serve_mail_close_all()). */
bool mcpauth__serve_mail_open(mcpauth__serve_shared *shared);
void mcpauth__serve_mail_close_all(mcpauth__serve_shared *shared);

/* In a worker: reads its inbox on the loop, calling cb per letter. NULL
 * without inboxes or on failure. Stop closes the handle (frees on close). */
mcpauth__serve_mail *mcpauth__serve_mail_start(mcpauth__serve_context *ctx,
                                               mcpauth__serve_mail_cb cb, void *data);
void mcpauth__serve_mail_stop(mcpauth__serve_mail *mail);

/* Posts a letter to worker to's inbox without blocking: 0, or a negative
 * errno (EAGAIN: that inbox is full). */
int mcpauth__serve_mail_send(const mcpauth__serve_shared *shared, int to,
                             const mcpauth__serve_letter *letter);

/* The worker process pid runs as (its metrics slot says), or -1. */
int mcpauth__serve_mail_worker_of(const mcpauth__serve_shared *shared, int64_t pid);

/* relay.c: Streamable HTTP requests for sessions another worker holds. */
typedef struct mcpauth__serve_relay mcpauth__serve_relay;

/* NULL on allocation failure. Stop before the loop's last run; free after. */
mcpauth__serve_relay *mcpauth__serve_relay_new(mcpauth__serve_context *ctx);
void mcpauth__serve_relay_stop(mcpauth__serve_relay *relay);
void mcpauth__serve_relay_free(mcpauth__serve_relay *relay);

/* The worker holding session_id's backend part when it is another one; -1
 * otherwise (this worker, no such session, no relay). */
int mcpauth__serve_relay_holder(mcpauth__serve_relay *relay, const char *session_id);

/* Sends the request to worker `to` and plays its answers on sink (the
 * router's), which it answers exactly once as the engine would. */
void mcpauth__serve_relay_send(mcpauth__serve_relay *relay, int to, mcpauth_http_exchange *ex,
                               const mcpauth_mcp_request *req, mcpauth_mcp_sink *sink);

/* A letter of the CALL kinds from another worker. */
void mcpauth__serve_relay_letter(mcpauth__serve_relay *relay,
                                 const struct mcpauth__serve_letter *letter);

/* The bearer token of ex as sent (the router has checked it), for a worker
 * that checks it again; "" without one. Borrowed from ex. */
const char *mcpauth__serve_bearer_token(mcpauth_http_exchange *ex, size_t *length);

/* access_log.c: one line per answered request. */
typedef struct mcpauth__serve_log_entry {
    const char *method;
    const char *path;
    const char *peer;
    int status;
    double latency_ms;
    const char *token_hash; /* NULL: no token */
    const char *subject;
    const char *cache;  /* "hit", "miss", NULL */
    const char *detail; /* why a request was refused; NULL */
    const char *scheme; /* "https", "http" (a trusted proxy's word for it); NULL: unknown */
} mcpauth__serve_log_entry;

void mcpauth__serve_log_request(const mcpauth_serve_config *config,
                                const mcpauth__serve_log_entry *entry);

/* Writes out buffered request lines. */
void mcpauth__serve_log_flush(const mcpauth_serve_config *config);

/* A server event (start, stop, upstream failure): "level" is info, warning
 * or error. */
void mcpauth__serve_log_event(const mcpauth_serve_config *config, const char *level,
                              const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* metrics.c */
/* The slots of workers workers, zeroed; NULL when the mapping fails. */
mcpauth__serve_metrics_slot *mcpauth__serve_metrics_map(int workers);
void mcpauth__serve_metrics_unmap(mcpauth__serve_metrics_slot *slots, int workers);

/* Counts an answer, and publishes this worker's figures to its slot. */
void mcpauth__serve_metrics_count_status(mcpauth__serve_metrics *m, int status);

/* Takes over this worker's slot: its counters (from a worker that ran in
 * it before) are the base this worker's own add to. */
void mcpauth__serve_metrics_adopt(mcpauth__serve_context *ctx);

/* Publishes this worker's figures (counters and gauges) to its slot. */
void mcpauth__serve_metrics_publish(mcpauth__serve_context *ctx);

/* The HTTP server's limit callback (data: the mcpauth__serve_context): counts the
 * hit, and logs it at most once per interval with how many there were. */
void mcpauth__serve_handle_limit(mcpauth_http_limit limit, const char *peer, void *data);

/* Prometheus text exposition of every worker's slot; caller frees. */
char *mcpauth__serve_metrics_render(mcpauth__serve_context *ctx);

#endif
