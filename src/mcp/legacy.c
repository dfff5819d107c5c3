/* The legacy HTTP+SSE transport (MCP 2024-11-05 basic/transports §HTTP with
 * SSE) on the engine: a session opened with the stream, POSTed messages
 * checked here (so that a bad one is refused on its own POST) and then run
 * through the engine with a sink that relays every answer, and with a
 * backend that speaks first every message it sends, onto the session's one
 * stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcp_internal.h"
#include "mcpauth/json.h"
#include "mcpauth/mcp_legacy.h"

/* One engine answer on its way to the stream: a reply, or an SSE stream of
 * the bridge's whose events are rewritten as `event: message`. */
typedef struct relay {
    mcpauth_mcp_sink sink;
    struct mcpauth_mcp_legacy *legacy;
    struct relay *prev, *next;
    bool standalone; /* the backend's stream for messages no request owns */
} relay;

struct mcpauth_mcp_legacy {
    mcpauth_mcp_server *server;
    mcpauth_mcp_legacy_stream stream;
    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    relay *relays; /* answers in flight (a backend's) */
    bool ended;    /* stream.end() was asked for */
};

/* --- formatting --------------------------------------------------------- */

char *mcpauth_mcp_legacy_endpoint_event(const char *path, const char *session_id, size_t *length)
{
    static const char format[] = "event: endpoint\ndata: %s?session_id=%s\n\n";
    size_t size = sizeof format + strlen(path) + strlen(session_id);
    char *event = malloc(size);
    if (!event)
        return NULL;
    int n = snprintf(event, size, format, path, session_id);
    *length = (size_t)n;
    return event;
}

char *mcpauth_mcp_legacy_message_event(const char *json, size_t json_length, size_t *length)
{
    static const char head[] = "event: message\ndata: ";
    size_t size = sizeof head - 1 + json_length + 2;
    char *event = malloc(size + 1);
    if (!event)
        return NULL;
    memcpy(event, head, sizeof head - 1);
    memcpy(event + sizeof head - 1, json, json_length);
    memcpy(event + size - 2, "\n\n", 3);
    *length = size;
    return event;
}

bool mcpauth_mcp_legacy_query_session(const char *query,
                                      char out[MCPAUTH_MCP_SESSION_ID_LENGTH + 1])
{
    static const char *const names[] = {"session_id=", "sessionId="};
    for (const char *p = query; p && *p;) {
        size_t length = strcspn(p, "&");
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            size_t n = strlen(names[i]);
            if (length >= n && strncmp(p, names[i], n) == 0 &&
                mcpauth__session_id_valid(p + n, length - n)) {
                memcpy(out, p + n, MCPAUTH_MCP_SESSION_ID_LENGTH);
                out[MCPAUTH_MCP_SESSION_ID_LENGTH] = '\0';
                return true;
            }
        }
        p += length;
        if (*p == '&')
            p++;
    }
    return false;
}

bool mcpauth_mcp_legacy_event_data(const char *event, size_t length, const char **data,
                                   size_t *data_length)
{
    static const char field[] = "data: ";
    const char *end = event + length;
    for (const char *line = event; line < end;) {
        const char *newline = memchr(line, '\n', (size_t)(end - line));
        const char *stop = newline ? newline : end;
        size_t n = (size_t)(stop - line);
        if (n > sizeof field - 1 && memcmp(line, field, sizeof field - 1) == 0) {
            *data = line + sizeof field - 1;
            *data_length = n - (sizeof field - 1);
            return true;
        }
        line = newline ? newline + 1 : end;
    }
    return false;
}

/* --- the stream --------------------------------------------------------- */

static void ask_end(mcpauth_mcp_legacy *legacy)
{
    if (legacy->ended)
        return;
    legacy->ended = true;
    legacy->stream.end(legacy->stream.data);
}

/* Sends one message down the stream (transports §HTTP with SSE: server
 * messages are `message` events whose data is the JSON). */
static int send_message(mcpauth_mcp_legacy *legacy, const char *json, size_t json_length)
{
    if (legacy->ended)
        return UV_ECONNRESET;
    size_t length;
    char *event = mcpauth_mcp_legacy_message_event(json, json_length, &length);
    int rc = event ? legacy->stream.write(event, length, legacy->stream.data) : UV_ENOMEM;
    free(event);
    if (rc != 0)
        ask_end(legacy);
    return rc;
}

/* --- relays ------------------------------------------------------------- */

static void relay_free(relay *r)
{
    mcpauth_mcp_legacy *legacy = r->legacy;
    if (r->prev)
        r->prev->next = r->next;
    else
        legacy->relays = r->next;
    if (r->next)
        r->next->prev = r->prev;
    free(r);
}

/* A whole answer: its body, if any, is the message (a 202 has none). */
static void on_relay_reply(const mcpauth_mcp_reply *reply, void *data)
{
    relay *r = data;
    if (reply->body && reply->body_length)
        send_message(r->legacy, reply->body, reply->body_length);
    relay_free(r);
}

static void on_relay_stream_start(const char *session_id, void *data)
{
    (void)session_id;
    (void)data;
}

/* The bridge's events carry ids for Streamable HTTP's resumption, which
 * this transport lacks: only their data goes on. Priming events and
 * keep-alive comments carry none. */
static int on_relay_stream_write(const char *bytes, size_t length, void *data)
{
    relay *r = data;
    const char *json;
    size_t json_length;
    if (!mcpauth_mcp_legacy_event_data(bytes, length, &json, &json_length))
        return 0;
    return send_message(r->legacy, json, json_length);
}

/* A request's stream ends with its response; the standalone one only when
 * the session is over on the backend's side (its child is gone). */
static void on_relay_stream_end(void *data)
{
    relay *r = data;
    mcpauth_mcp_legacy *legacy = r->legacy;
    bool standalone = r->standalone;
    relay_free(r);
    if (standalone)
        ask_end(legacy);
}

static relay *relay_new(mcpauth_mcp_legacy *legacy, bool standalone)
{
    relay *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->legacy = legacy;
    r->standalone = standalone;
    r->sink = (mcpauth_mcp_sink){
        .reply = on_relay_reply,
        .stream_start = on_relay_stream_start,
        .stream_write = on_relay_stream_write,
        .stream_end = on_relay_stream_end,
        .data = r,
    };
    r->next = legacy->relays;
    if (r->next)
        r->next->prev = r;
    legacy->relays = r;
    return r;
}

/* --- sessions ----------------------------------------------------------- */

/* Keeps the status of the engine's refusal to make a session. */
static void on_refusal(const mcpauth_mcp_reply *reply, void *data)
{
    *(int *)data = reply->status;
}

int mcpauth_mcp_legacy_open(mcpauth_mcp_server *server, const mcpauth_mcp_identity *identity,
                            int64_t now, const mcpauth_mcp_legacy_stream *stream,
                            mcpauth_mcp_legacy **out)
{
    mcpauth_mcp_sessions *table = mcpauth__engine_sessions(server);
    if (!table)
        return 405;
    mcpauth_mcp_legacy *legacy = calloc(1, sizeof *legacy);
    if (!legacy)
        return 500;
    mcpauth__session session;
    int refused = 0;
    mcpauth_mcp_sink refusal = {.reply = on_refusal, .data = &refused};
    if (!mcpauth__engine_new_session(server, identity, MCPAUTH_MCP_LEGACY_VERSION, now, &refusal,
                                     &session)) {
        free(legacy);
        return refused;
    }
    legacy->server = server;
    legacy->stream = *stream;
    memcpy(legacy->id, session.id, sizeof legacy->id);
    *out = legacy;
    return 0;
}

const char *mcpauth_mcp_legacy_id(const mcpauth_mcp_legacy *legacy)
{
    return legacy->id;
}

bool mcpauth_mcp_legacy_touch(mcpauth_mcp_legacy *legacy, int64_t now)
{
    return mcpauth__session_touch(mcpauth__engine_sessions(legacy->server), legacy->id, now);
}

void mcpauth_mcp_legacy_close(mcpauth_mcp_legacy *legacy)
{
    if (!legacy)
        return;
    /* The engine lets go of every sink first, so that ending the backend's
     * session below reaches none of them. */
    while (legacy->relays) {
        relay *r = legacy->relays;
        if (r->sink.on_abort)
            r->sink.on_abort(&r->sink);
        relay_free(r);
    }
    mcpauth__engine_end_session(legacy->server, legacy->id);
    free(legacy);
}

/* --- POST --------------------------------------------------------------- */

static bool content_type_json(const char *content_type)
{
    if (!content_type)
        return false;
    size_t n = strcspn(content_type, "; \t");
    return n == strlen("application/json") && strncasecmp(content_type, "application/json", n) == 0;
}

/* With a backend that speaks first, messages it sends outside any request
 * (its own requests, notifications) go to the session's standalone stream,
 * which here is the one stream too: it opens once initialize reached the
 * backend. */
static void open_standalone(mcpauth_mcp_legacy *legacy)
{
    mcpauth_mcp_backend *backend = mcpauth__engine_backend(legacy->server);
    const mcpauth__mcp_backend_ops *ops = backend->ops;
    if (!ops->open_stream || !mcpauth__backend_session_find(backend, legacy->id))
        return;
    for (relay *r = legacy->relays; r; r = r->next)
        if (r->standalone)
            return;
    relay *r = relay_new(legacy, true);
    if (!r) {
        ask_end(legacy);
        return;
    }
    ops->open_stream(backend, legacy->id, NULL, &r->sink);
}

/* Runs a message the POST's checks let through; its answers go to the
 * stream. */
static void dispatch(mcpauth_mcp_legacy *legacy, const mcpauth_mcp_request *req, json_object *body,
                     bool initialize)
{
    relay *r = relay_new(legacy, false);
    if (!r) {
        ask_end(legacy);
        return;
    }
    mcpauth_mcp_request in_session = *req;
    in_session.session_id = legacy->id;
    in_session.protocol_version = NULL; /* checked by the caller */
    mcpauth__engine_post(legacy->server, &in_session, body, MCPAUTH__TRANSPORT_LEGACY_SSE,
                         &r->sink);
    if (initialize)
        open_standalone(legacy);
}

void mcpauth_mcp_legacy_post(mcpauth_mcp_legacy *legacy, const mcpauth_mcp_request *req,
                             mcpauth_mcp_sink *sink)
{
    const mcpauth_token_info *token = req->identity.token;
    mcpauth__session session;
    if (!legacy || legacy->ended ||
        !mcpauth__session_find(mcpauth__engine_sessions(legacy->server), legacy->id,
                               token ? token->subject : NULL, token ? token->client_id : NULL,
                               req->now, &session)) {
        mcpauth__mcp_reply_error(sink, 404, MCPAUTH__JSONRPC_NO_SESSION, "Session not found");
        return;
    }
    if (!content_type_json(req->content_type)) {
        mcpauth__mcp_reply_error(sink, 415, MCPAUTH__JSONRPC_SERVER_ERROR,
                                 "Unsupported Media Type: Content-Type must be application/json");
        return;
    }
    if (req->protocol_version &&
        !mcpauth__engine_version(req->protocol_version, MCPAUTH__TRANSPORT_LEGACY_SSE)) {
        mcpauth__mcp_reply_error(sink, 400, MCPAUTH__JSONRPC_SERVER_ERROR,
                                 "Bad Request: Unsupported protocol version");
        return;
    }
    /* The body is parsed once: mcpauth_mcp_check_tools() may have done it. */
    json_object *body = req->body_parsed ? json_object_get(req->parsed) : NULL;
    if (!req->body_parsed && req->body)
        body = mcpauth_json_parse(req->body, req->body_length, "request body", NULL);
    if (!body) {
        mcpauth__mcp_reply_error(sink, 400, MCPAUTH__JSONRPC_PARSE_ERROR,
                                 "Parse error: Invalid JSON");
        return;
    }
    /* One message per POST, as the SDK's JSONRPCMessageSchema: no batches. */
    mcpauth__jsonrpc_message msg;
    if (!json_object_is_type(body, json_type_object) ||
        mcpauth__jsonrpc_classify(body, &msg) == MCPAUTH__JSONRPC_INVALID) {
        json_object_put(body);
        mcpauth__mcp_reply_error(sink, 400, MCPAUTH__JSONRPC_INVALID_REQUEST,
                                 "Invalid Request: not a valid JSON-RPC 2.0 message");
        return;
    }
    bool initialize =
        msg.kind == MCPAUTH__JSONRPC_REQUEST && msg.known == MCPAUTH__METHOD_INITIALIZE;
    mcpauth__mcp_reply_status(sink, 202);
    dispatch(legacy, req, body, initialize);
    json_object_put(body);
}
