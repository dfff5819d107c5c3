/* MCP 2026-07-28, the stateless revision, from the outside: server/discover
 * answers with the versions and the server's identity; a request whose
 * Mcp-Method header disagrees with its body gets 400 and -32020; a version
 * the server does not speak gets 400 and -32022 listing those it does; GET
 * from a modern client gets 405 (the modern era is POST only).
 *
 * Which era a server speaks is learnt the way a dual-era client learns it
 * (streamable-http §Backward Compatibility): a modern request first; a
 * result or a recognised modern error (-32020, -32021, -32022) means a
 * modern server, anything else a legacy-only one, for which the modern
 * checks are skipped, not failed. Every request carries the token: modern
 * requests are authorised like any other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/json.h"
#include "mcpauth/url.h"
#include "mcpauth_config.h"
#include "probe_internal.h"

/* A GET that opens an event stream never ends: the check waits this long
 * at most, whatever the probe's own timeout. */
#define GET_TIMEOUT_SECONDS 5

/* MCP 2026-07-28 basic §Error Codes. */
#define HEADER_MISMATCH               (-32020)
#define MISSING_CLIENT_CAPABILITY     (-32021)
#define UNSUPPORTED_PROTOCOL_VERSION  (-32022)
#define UNSUPPORTED_VERSION_REQUESTED "1900-01-01"

char *mcpauth__probe_modern_body(int id, const char *method, const char *tool, const char *version)
{
    json_object *meta = json_object_new_object();
    json_object *info = json_object_new_object();
    json_object *params = json_object_new_object();
    json_object *message = json_object_new_object();
    json_object_object_add(meta, "io.modelcontextprotocol/protocolVersion",
                           json_object_new_string(version));
    json_object_object_add(meta, "io.modelcontextprotocol/clientCapabilities",
                           json_object_new_object());
    json_object_object_add(info, "name", json_object_new_string("mcpauth-check-token"));
    json_object_object_add(info, "version", json_object_new_string(MCPAUTH_VERSION));
    json_object_object_add(meta, "io.modelcontextprotocol/clientInfo", info);
    if (tool) {
        json_object_object_add(params, "name", json_object_new_string(tool));
        json_object_object_add(params, "arguments", json_object_new_object());
    }
    json_object_object_add(params, "_meta", meta);
    json_object_object_add(message, "jsonrpc", json_object_new_string("2.0"));
    json_object_object_add(message, "id", json_object_new_int(id));
    json_object_object_add(message, "method", json_object_new_string(method));
    json_object_object_add(message, "params", params);
    const char *text = json_object_to_json_string_ext(message, JSON_C_TO_STRING_PLAIN);
    char *body = text ? strdup(text) : NULL;
    json_object_put(message);
    return body;
}

/* A modern request with the token; *resp to free on MCPAUTH_OK. */
static mcpauth_status send_modern(mcpauth__probe_state *s, const char *body, const char *version,
                                  const char *mcp_method, mcpauth_http_response *resp,
                                  mcpauth_error *err)
{
    mcpauth__probe_request r = {.body = body,
                                .bearer_token = s->config->token,
                                .protocol_version = version,
                                .mcp_method = mcp_method};
    return mcpauth__probe_send(s, &r, resp, err);
}

/* The JSON-RPC error of an answer: the response with id, or a body that is
 * one error object whatever its id (a server may refuse a request it did
 * not read with id null). NULL when there is none; the caller releases it. */
static json_object *jsonrpc_error(const mcpauth_http_response *resp, int id, int *code)
{
    json_object *message = mcpauth__probe_jsonrpc_response(resp, id);
    mcpauth_error ignored;
    if (!message && resp->body)
        message = mcpauth_json_parse(resp->body, resp->body_length, "response", &ignored);
    json_object *error = NULL, *value = NULL;
    if (!json_object_object_get_ex(message, "error", &error) ||
        !json_object_is_type(error, json_type_object) ||
        !json_object_object_get_ex(error, "code", &value) ||
        !json_object_is_type(value, json_type_int)) {
        json_object_put(message);
        return NULL;
    }
    *code = json_object_get_int(value);
    return message;
}

static bool modern_error(int code)
{
    return code == HEADER_MISMATCH || code == MISSING_CLIENT_CAPABILITY ||
           code == UNSUPPORTED_PROTOCOL_VERSION;
}

/* Appends the strings of array, quoted and comma-separated, to out;
 * false when array is not a non-empty array of strings. */
static bool describe_strings(json_object *array, char *out, size_t size)
{
    size_t n = json_object_is_type(array, json_type_array) ? json_object_array_length(array) : 0;
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(array, i);
        if (!json_object_is_type(item, json_type_string))
            return false;
        char q[MCPAUTH_URL_QUOTE_SIZE];
        int w = snprintf(out + used, size - used, "%s%s", i ? ", " : "",
                         mcpauth_url_quote(json_object_get_string(item), q, sizeof q));
        if (w < 0 || (size_t)w >= size - used)
            break;
        used += (size_t)w;
    }
    return n > 0;
}

static bool lists(json_object *array, const char *value)
{
    for (size_t i = 0; i < json_object_array_length(array); i++) {
        const char *item = json_object_get_string(json_object_array_get_idx(array, i));
        if (item && strcmp(item, value) == 0)
            return true;
    }
    return false;
}

/* "server \"name\" 1.0" from the discover result's _meta serverInfo (MCP
 * 2026-07-28 server/discover §Response); false when it is missing. */
static bool describe_server(json_object *result, char *out, size_t size)
{
    json_object *meta = NULL, *info = NULL, *name = NULL, *version = NULL;
    if (!json_object_object_get_ex(result, "_meta", &meta) ||
        !json_object_object_get_ex(meta, "io.modelcontextprotocol/serverInfo", &info) ||
        !json_object_object_get_ex(info, "name", &name) ||
        !json_object_is_type(name, json_type_string))
        return false;
    json_object_object_get_ex(info, "version", &version);
    char q_name[MCPAUTH_URL_QUOTE_SIZE], q_version[MCPAUTH_URL_QUOTE_SIZE];
    snprintf(out, size, "server %s %s",
             mcpauth_url_quote(json_object_get_string(name), q_name, sizeof q_name),
             json_object_is_type(version, json_type_string)
                 ? mcpauth_url_quote(json_object_get_string(version), q_version, sizeof q_version)
                 : "(no version)");
    return true;
}

static void judge_discover_result(mcpauth__probe_state *s, json_object *result,
                                  mcpauth_probe_check *c)
{
    json_object *versions = NULL;
    char list[256], server[200];
    s->era = MCPAUTH__PROBE_ERA_MODERN;
    json_object_object_get_ex(result, "supportedVersions", &versions);
    if (!describe_strings(versions, list, sizeof list))
        mcpauth__probe_verdict(
            c, MCPAUTH_PROBE_FAIL,
            "server/discover: a result without a non-empty \"supportedVersions\" "
            "array of strings (MCP 2026-07-28 server/discover §Response)");
    else if (!lists(versions, MCPAUTH__PROBE_MODERN_VERSION))
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "server/discover: supportedVersions %s lacks %s, the version it "
                               "answered",
                               list, MCPAUTH__PROBE_MODERN_VERSION);
    else if (!describe_server(result, server, sizeof server))
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_WARN,
                               "versions %s; no _meta io.modelcontextprotocol/serverInfo with a "
                               "name (MCP 2026-07-28 server/discover: SHOULD)",
                               list);
    else
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "versions %s; %s", list, server);
}

mcpauth_status mcpauth__probe_modern_discover(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                              mcpauth_error *err)
{
    if (!mcpauth__probe_need_token(s, c))
        return MCPAUTH_OK;
    char *body =
        mcpauth__probe_modern_body(1, "server/discover", NULL, MCPAUTH__PROBE_MODERN_VERSION);
    if (!body)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    mcpauth_http_response resp;
    mcpauth_status st =
        send_modern(s, body, MCPAUTH__PROBE_MODERN_VERSION, "server/discover", &resp, err);
    free(body);
    if (st != MCPAUTH_OK)
        return mcpauth__probe_request_failed(c, "server/discover", err);
    char shown[64];
    mcpauth__probe_status_text(resp.status, shown, sizeof shown);
    json_object *message = mcpauth__probe_jsonrpc_response(&resp, 1);
    json_object *result = NULL;
    int code = 0;
    json_object *error = jsonrpc_error(&resp, 1, &code);
    if (resp.status == 200 && json_object_object_get_ex(message, "result", &result) &&
        json_object_is_type(result, json_type_object)) {
        judge_discover_result(s, result, c);
    } else if (resp.status == 401 || resp.status == 403) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP,
                               "server/discover with the token: %s: the token was refused", shown);
    } else if (error && modern_error(code)) {
        s->era = MCPAUTH__PROBE_ERA_MODERN;
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "server/discover: %s, JSON-RPC error %d: a modern server that does "
                               "not answer it (MCP 2026-07-28 server/discover: servers MUST)",
                               shown, code);
    } else {
        s->era = MCPAUTH__PROBE_ERA_LEGACY;
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP,
                               "server/discover: %s without a modern answer: the server offers no "
                               "modern version (legacy only)",
                               shown);
    }
    json_object_put(message);
    json_object_put(error);
    mcpauth_http_response_free(&resp);
    return MCPAUTH_OK;
}

/* The modern checks run against a modern server only. */
static bool need_modern(mcpauth__probe_state *s, mcpauth_probe_check *c)
{
    if (s->era == MCPAUTH__PROBE_ERA_MODERN)
        return true;
    if (mcpauth__probe_need_token(s, c))
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP,
                               s->era == MCPAUTH__PROBE_ERA_LEGACY
                                   ? "the server offers no modern version (modern-discover)"
                                   : "the server's era is unknown (modern-discover)");
    return false;
}

/* Judges a 400 that should carry JSON-RPC error want; returns the message
 * (released by the caller) when it does, for a closer look. */
static json_object *expect_error(const mcpauth_http_response *resp, int id, int want,
                                 const char *what, const char *rule, mcpauth_probe_check *c)
{
    char shown[64];
    mcpauth__probe_status_text(resp->status, shown, sizeof shown);
    int code = 0;
    json_object *message = jsonrpc_error(resp, id, &code);
    if (resp->status != 400)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "%s: %s, not 400 with JSON-RPC error %d (%s)",
                               what, shown, want, rule);
    else if (!message)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "%s: %s without a JSON-RPC error, not error %d (%s)", what, shown,
                               want, rule);
    else if (code != want)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "%s: %s with JSON-RPC error %d, not %d (%s)",
                               what, shown, code, want, rule);
    else
        return message;
    json_object_put(message);
    return NULL;
}

mcpauth_status mcpauth__probe_modern_header_mismatch(mcpauth__probe_state *s,
                                                     mcpauth_probe_check *c, mcpauth_error *err)
{
    static const char what[] = "tools/list sent with Mcp-Method: tools/call";
    if (!need_modern(s, c))
        return MCPAUTH_OK;
    char *body = mcpauth__probe_modern_body(2, "tools/list", NULL, MCPAUTH__PROBE_MODERN_VERSION);
    if (!body)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    mcpauth_http_response resp;
    mcpauth_status st =
        send_modern(s, body, MCPAUTH__PROBE_MODERN_VERSION, "tools/call", &resp, err);
    free(body);
    if (st != MCPAUTH_OK)
        return mcpauth__probe_request_failed(c, what, err);
    json_object *message =
        expect_error(&resp, 2, HEADER_MISMATCH, what,
                     "MCP 2026-07-28 streamable-http §Server Validation: header and body must "
                     "agree",
                     c);
    if (message)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "%s: HTTP 400, JSON-RPC error %d", what,
                               HEADER_MISMATCH);
    json_object_put(message);
    mcpauth_http_response_free(&resp);
    return MCPAUTH_OK;
}

mcpauth_status mcpauth__probe_modern_unsupported_version(mcpauth__probe_state *s,
                                                         mcpauth_probe_check *c, mcpauth_error *err)
{
    static const char what[] = "server/discover for version " UNSUPPORTED_VERSION_REQUESTED;
    static const char rule[] = "MCP 2026-07-28 basic/versioning §Protocol Version Negotiation";
    if (!need_modern(s, c))
        return MCPAUTH_OK;
    char *body =
        mcpauth__probe_modern_body(3, "server/discover", NULL, UNSUPPORTED_VERSION_REQUESTED);
    if (!body)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    mcpauth_http_response resp;
    mcpauth_status st =
        send_modern(s, body, UNSUPPORTED_VERSION_REQUESTED, "server/discover", &resp, err);
    free(body);
    if (st != MCPAUTH_OK)
        return mcpauth__probe_request_failed(c, what, err);
    json_object *message = expect_error(&resp, 3, UNSUPPORTED_PROTOCOL_VERSION, what, rule, c);
    json_object *error = NULL, *data = NULL, *supported = NULL;
    char list[256];
    if (message) {
        json_object_object_get_ex(message, "error", &error);
        json_object_object_get_ex(error, "data", &data);
        json_object_object_get_ex(data, "supported", &supported);
        if (describe_strings(supported, list, sizeof list))
            mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS,
                                   "%s: HTTP 400, JSON-RPC error %d, supported %s", what,
                                   UNSUPPORTED_PROTOCOL_VERSION, list);
        else
            mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                                   "%s: error %d without a non-empty data.supported list of "
                                   "versions (%s: a client picks from it)",
                                   what, UNSUPPORTED_PROTOCOL_VERSION, rule);
    }
    json_object_put(message);
    mcpauth_http_response_free(&resp);
    return MCPAUTH_OK;
}

mcpauth_status mcpauth__probe_modern_get_405(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                             mcpauth_error *err)
{
    static const char what[] = "GET with MCP-Protocol-Version " MCPAUTH__PROBE_MODERN_VERSION;
    if (!need_modern(s, c))
        return MCPAUTH_OK;
    mcpauth_http_options opts = *s->opts;
    if (opts.timeout_seconds <= 0 || opts.timeout_seconds > GET_TIMEOUT_SECONDS)
        opts.timeout_seconds = GET_TIMEOUT_SECONDS;
    mcpauth__probe_state bounded = *s;
    bounded.opts = &opts;
    mcpauth__probe_request r = {.method = "GET",
                                .bearer_token = s->config->token,
                                .protocol_version = MCPAUTH__PROBE_MODERN_VERSION,
                                .accept = "text/event-stream"};
    mcpauth_http_response resp;
    if (mcpauth__probe_send(&bounded, &r, &resp, err) != MCPAUTH_OK) {
        /* The server answered a moment ago: no whole answer now is most
         * likely an event stream held open, which is not a 405. */
        if (err->status != MCPAUTH_ENETWORK)
            return mcpauth__probe_request_failed(c, what, err);
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "%s: no complete answer within %d s (an event stream held open?), "
                               "not 405 (MCP 2026-07-28 streamable-http: the modern era is POST "
                               "only)",
                               what, GET_TIMEOUT_SECONDS);
        return MCPAUTH_OK;
    }
    char shown[64];
    mcpauth__probe_status_text(resp.status, shown, sizeof shown);
    if (resp.status == 405)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "%s: %s", what, shown);
    else
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "%s: %s, not 405 (MCP 2026-07-28 streamable-http §Earlier "
                               "Streamable HTTP Revisions: no GET stream in the modern era)",
                               what, shown);
    mcpauth_http_response_free(&resp);
    return MCPAUTH_OK;
}
