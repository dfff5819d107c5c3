/* The probe's requests: MCP requests carry headers the OAuth requests do not
 * (Origin, Mcp-Session-Id, MCP-Protocol-Version), as extra header lines of
 * the shared client, so they get the same transport policy, limits,
 * redaction and -v lines as every other request. The probe sends POST and
 * DELETE this way, which the client never redirects, and the one GET of
 * the MCP endpoint itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcpauth/http_sse.h"
#include "mcpauth/json.h"
#include "mcpauth_config.h"
#include "probe_internal.h"

const char mcpauth__probe_initialize_body[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
    "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
    "\"clientInfo\":{\"name\":\"mcpauth-check-token\",\"version\":\"" MCPAUTH_VERSION "\"}}}";

/* Adds "name: value" to lines when value is given. */
static void add_header(char lines[][1024], const char **list, size_t *count, const char *name,
                       const char *value)
{
    if (!value)
        return;
    snprintf(lines[*count], sizeof lines[*count], "%s: %s", name, value);
    list[*count] = lines[*count];
    (*count)++;
}

mcpauth_status mcpauth__probe_send(mcpauth__probe_state *s, const mcpauth__probe_request *r,
                                   mcpauth_http_response *resp, mcpauth_error *err)
{
    const char *url = r->url ? r->url : s->config->resource_url;
    char lines[5][1024];
    const char *list[5];
    size_t count = 0;
    add_header(lines, list, &count, "Origin", r->origin);
    add_header(lines, list, &count, "Mcp-Session-Id", r->session_id);
    add_header(lines, list, &count, "MCP-Protocol-Version", r->protocol_version);
    add_header(lines, list, &count, "Mcp-Method", r->mcp_method);
    add_header(lines, list, &count, "Mcp-Name", r->mcp_name);
    mcpauth_http_request req = {
        .method = r->method ? r->method : "POST",
        .url = url,
        .content_type = r->body ? "application/json" : NULL,
        .body = r->body,
        .body_length = r->body ? strlen(r->body) : 0,
        /* MCP 2025-11-25 Streamable HTTP: POSTs accept both forms. */
        .accept = r->accept ? r->accept : "application/json, text/event-stream",
        .bearer_token = r->bearer_token,
        .basic_user = r->basic_user,
        .basic_password = r->basic_password,
        .headers = list,
        .header_count = count,
    };
    return mcpauth_http_perform(s->opts, &req, resp, err);
}

mcpauth_status mcpauth__probe_get(mcpauth__probe_state *s, const char *url,
                                  mcpauth_http_response *resp, mcpauth_error *err)
{
    mcpauth_http_request req = {.method = "GET", .url = url};
    return mcpauth_http_perform(s->opts, &req, resp, err);
}

static bool has_id(json_object *message, int id)
{
    json_object *value = NULL;
    return json_object_is_type(message, json_type_object) &&
           json_object_object_get_ex(message, "id", &value) &&
           json_object_is_type(value, json_type_int) && json_object_get_int(value) == id &&
           (json_object_object_get_ex(message, "result", NULL) ||
            json_object_object_get_ex(message, "error", NULL));
}

typedef struct response_search {
    int id;
    json_object *found;
} response_search;

static bool on_event(const mcpauth_http_sse_event *event, void *data)
{
    response_search *search = data;
    mcpauth_error ignored;
    json_object *message = mcpauth_json_parse(event->data, event->data_length, "event", &ignored);
    if (!has_id(message, search->id)) {
        json_object_put(message);
        return true;
    }
    search->found = message;
    return false;
}

/* Server-Sent Events (HTML Living Standard §9.2.6): the first event that is
 * the response wins; notifications before it are skipped. A stream may end
 * without the blank line after its last event. The body is bounded already
 * (the HTTP client's limit). */
static json_object *response_in_events(const char *body, size_t length, int id)
{
    response_search search = {.id = id};
    mcpauth_http_sse_reader reader;
    mcpauth_http_sse_reader_init(&reader, length + 1, on_event, &search);
    if (mcpauth_http_sse_reader_feed(&reader, body, length))
        mcpauth_http_sse_reader_finish(&reader);
    mcpauth_http_sse_reader_free(&reader);
    return search.found;
}

json_object *mcpauth__probe_jsonrpc_response(const mcpauth_http_response *resp, int id)
{
    if (!resp->body)
        return NULL;
    const char *type = mcpauth_http_response_header(resp, "Content-Type", 0);
    if (type && strncasecmp(type, "text/event-stream", 17) == 0)
        return response_in_events(resp->body, resp->body_length, id);
    mcpauth_error ignored;
    json_object *message = mcpauth_json_parse(resp->body, resp->body_length, "response", &ignored);
    if (has_id(message, id))
        return message;
    json_object_put(message);
    return NULL;
}

const mcpauth_challenge *mcpauth__probe_bearer_challenge(const mcpauth_http_response *resp,
                                                         mcpauth_challenge_list *list,
                                                         bool *syntax_error)
{
    const char *value;
    mcpauth_error ignored;
    *syntax_error = false;
    for (size_t i = 0; (value = mcpauth_http_response_header(resp, "WWW-Authenticate", i)); i++) {
        if (mcpauth_www_authenticate_parse(value, list, &ignored) != MCPAUTH_OK)
            *syntax_error = true;
    }
    return mcpauth_challenge_find(list, "Bearer");
}

const char *mcpauth__probe_status_text(long status, char *buf, size_t size)
{
    const char *text = mcpauth_http_status_text(status);
    snprintf(buf, size, "HTTP %ld%s%s", status, text[0] ? " " : "", text);
    return buf;
}

void mcpauth__probe_keep_session(mcpauth__probe_state *s, const mcpauth_http_response *resp)
{
    const char *id = mcpauth_http_response_header(resp, "Mcp-Session-Id", 0);
    if (!id || s->session_count == MCPAUTH__PROBE_MAX_SESSIONS)
        return;
    char *copy = strdup(id);
    if (copy)
        s->sessions[s->session_count++] = copy;
}
