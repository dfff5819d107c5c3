/* The Streamable HTTP transport (MCP 2025-11-25 basic/transports §Streamable
 * HTTP) on the engine: what HTTP says about a request to the MCP endpoint,
 * checked in the order Accept, Content-Type, JSON, then the engine's
 * lifecycle rules; status codes; MCP-Protocol-Version and Mcp-Session-Id on
 * GET and DELETE. The HTTP layer (serve) owns the sockets and hands each
 * request in as an mcpauth_mcp_request with a sink (mcp.h). The legacy
 * HTTP+SSE transport (legacy.c) sits beside it over the same engine. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcp_internal.h"
#include "mcpauth/json.h"

/* --- Accept and Content-Type -------------------------------------------- */

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *trim_end(const char *start, const char *end)
{
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return end;
}

static bool token_equals(const char *start, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - start) == n && strncasecmp(start, word, n) == 0;
}

/* RFC 9110 §12.4.2: a weight of zero means "not acceptable". */
static bool zero_weight(const char *params, const char *end)
{
    for (const char *p = params; p < end;) {
        const char *next = memchr(p, ';', (size_t)(end - p));
        const char *stop = next ? next : end;
        const char *name = skip_space(p, stop);
        if (stop - name >= 2 && (name[0] == 'q' || name[0] == 'Q') && name[1] == '=') {
            const char *value = name + 2;
            const char *value_end = trim_end(value, stop);
            if (value < value_end && *value == '0') {
                bool zero = true;
                for (const char *v = value + 1; v < value_end; v++)
                    zero = zero && (*v == '0' || (*v == '.' && v == value + 1));
                if (zero)
                    return true;
            }
        }
        p = next ? next + 1 : end;
    }
    return false;
}

/* Whether one Accept element (RFC 9110 §12.5.1 media range) covers
 * type/subtype. */
static bool range_matches(const char *start, const char *end, const char *type, const char *subtype)
{
    const char *semicolon = memchr(start, ';', (size_t)(end - start));
    const char *range_end = trim_end(start, semicolon ? semicolon : end);
    start = skip_space(start, range_end);
    const char *slash = memchr(start, '/', (size_t)(range_end - start));
    if (!slash)
        return false;
    if (semicolon && zero_weight(semicolon + 1, end))
        return false;
    if (token_equals(start, slash, "*"))
        return token_equals(slash + 1, range_end, "*");
    return token_equals(start, slash, type) &&
           (token_equals(slash + 1, range_end, "*") || token_equals(slash + 1, range_end, subtype));
}

static bool accepts(const char *accept, const char *type, const char *subtype)
{
    const char *end = accept + strlen(accept);
    for (const char *p = accept; p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if (range_matches(p, stop, type, subtype))
            return true;
        p = comma ? comma + 1 : end;
    }
    return false;
}

/* transports §Sending Messages 2: the client's Accept lists both
 * application/json and text/event-stream. A missing Accept fails too, as in
 * the TypeScript SDK's server. */
bool mcpauth__http_accept_ok(const char *accept)
{
    return accept && accepts(accept, "application", "json") &&
           accepts(accept, "text", "event-stream");
}

/* RFC 9110 §8.3: the media type before any parameters, case-insensitively. */
bool mcpauth__http_content_type_ok(const char *content_type)
{
    if (!content_type)
        return false;
    const char *end = content_type + strcspn(content_type, ";");
    const char *start = skip_space(content_type, end);
    return token_equals(start, trim_end(start, end), "application/json");
}

/* --- POST --------------------------------------------------------------- */

json_object *mcpauth__http_post_body(const mcpauth_mcp_request *req, mcpauth_mcp_sink *sink,
                                     json_object **own, mcpauth_json_deferred *meta)
{
    *own = NULL;
    if (!mcpauth__http_accept_ok(req->accept)) {
        mcpauth__mcp_reply_error(sink, 406, MCPAUTH__JSONRPC_SERVER_ERROR,
                                 "Not Acceptable: Client must accept both application/json and "
                                 "text/event-stream");
        return NULL;
    }
    if (!mcpauth__http_content_type_ok(req->content_type)) {
        mcpauth__mcp_reply_error(sink, 415, MCPAUTH__JSONRPC_SERVER_ERROR,
                                 "Unsupported Media Type: Content-Type must be application/json");
        return NULL;
    }
    /* The body is parsed once: mcpauth_mcp_check_tools() may have done it. */
    json_object *body = req->parsed;
    if (meta)
        *meta = req->meta;
    if (!req->body_parsed) {
        mcpauth_json_deferred ignored;
        body = *own = mcpauth__engine_parse_body(req->body, req->body_length, meta != NULL,
                                                 meta ? meta : &ignored);
    }
    if (!body)
        mcpauth__mcp_reply_error(sink, 400, MCPAUTH__JSONRPC_PARSE_ERROR,
                                 "Parse error: Invalid JSON");
    return body;
}


void mcpauth_mcp_handle_post(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                             mcpauth_mcp_sink *sink)
{
    json_object *own;
    json_object *body = mcpauth__http_post_body(req, sink, &own, NULL);
    if (!body)
        return;
    mcpauth__engine_post(server, req, body, MCPAUTH__TRANSPORT_STREAMABLE_HTTP, sink);
    json_object_put(own);
}

/* --- GET and DELETE ----------------------------------------------------- */

/* The checks DELETE and GET share (they carry no body): the version header
 * (400; transports §Protocol Version Header), a session id (400) naming a
 * live session of the caller's (404; §Session Management). False when sink
 * was answered. */
static bool bodiless_session(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                             mcpauth_mcp_sink *sink, mcpauth__session *out)
{
    if (req->protocol_version &&
        !mcpauth__engine_version(req->protocol_version, MCPAUTH__TRANSPORT_STREAMABLE_HTTP)) {
        mcpauth__engine_reply_bad_version(sink, req->protocol_version);
        return false;
    }
    if (!req->session_id) {
        mcpauth__mcp_reply_error(sink, 400, MCPAUTH__JSONRPC_SERVER_ERROR,
                                 "Bad Request: Mcp-Session-Id header is required");
        return false;
    }
    if (!mcpauth__engine_find_session(server, req, out)) {
        mcpauth__mcp_reply_error(sink, 404, MCPAUTH__JSONRPC_NO_SESSION, "Session not found");
        return false;
    }
    return true;
}

/* transports §Session Management 5: DELETE ends a session; a server that
 * does not allow that (here: has no sessions) answers 405. */
void mcpauth_mcp_handle_delete(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                               mcpauth_mcp_sink *sink)
{
    if (mcpauth__engine_config(server)->stateless) {
        mcpauth__mcp_reply_error(sink, 405, MCPAUTH__JSONRPC_SERVER_ERROR,
                                 "Method Not Allowed: this server has no sessions");
        return;
    }
    mcpauth__session session;
    if (!bodiless_session(server, req, sink, &session))
        return;
    /* Another process may end it between the two calls: 404 then, as if it
     * had come first. */
    if (!mcpauth__engine_end_session(server, session.id)) {
        mcpauth__mcp_reply_error(sink, 404, MCPAUTH__JSONRPC_NO_SESSION, "Session not found");
        return;
    }
    mcpauth__mcp_reply_status(sink, 200);
}

/* transports §Listening for Messages from the Server: the standalone SSE
 * stream exists only with a backend that may speak first (the built-in
 * tools never do): 405 otherwise. Accept must list text/event-stream. */
void mcpauth_mcp_handle_get(mcpauth_mcp_server *server, const mcpauth_mcp_request *req,
                            mcpauth_mcp_sink *sink)
{
    if (!mcpauth__engine_streams(server) || mcpauth__engine_config(server)->stateless ||
        !sink->stream_start) {
        mcpauth__mcp_reply_status(sink, 405);
        return;
    }
    if (!req->accept || !accepts(req->accept, "text", "event-stream")) {
        mcpauth__mcp_reply_error(sink, 406, MCPAUTH__JSONRPC_SERVER_ERROR,
                                 "Not Acceptable: Client must accept text/event-stream");
        return;
    }
    mcpauth__session session;
    if (bodiless_session(server, req, sink, &session))
        mcpauth__engine_open_stream(server, &session, req, sink);
}
