/* Credentials, good and bad. A bogus or forged bearer token
 * gets 401 error="invalid_token" (RFC 6750 §3.1, RFC 9068 §4); a Basic
 * header or a query-string token is no bearer token at all, so 401 without
 * an error code (RFC 6750 §3.1, OAuth 2.1 §5.1); the real token opens a
 * session and lists tools; a foreign Origin gets 403 (MCP transports).
 *
 * The real token only ever travels in the Authorization header: the
 * query-string probes use a bogus token, which shows just as well whether
 * the server reads that parameter (it would answer invalid_token) without
 * putting a live token where access logs keep it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/base64url.h"
#include "mcpauth/jose.h"
#include "mcpauth/strbuf.h"
#include "mcpauth/url.h"
#include "probe_internal.h"

#define BOGUS_TOKEN "mcpauth-probe-not-a-token"

static const char initialized_body[] =
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
static const char tools_list_body[] = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}";

/* How a refused request should look. */
typedef struct refusal {
    const char *what;        /* names the request in the detail */
    bool invalid_token;      /* error="invalid_token" wanted; else no error code */
    const char *if_accepted; /* appended when the server said 2xx */
    const char *if_error;    /* appended when an error code shows where none should */
} refusal;

static bool is_success(long status)
{
    return status >= 200 && status <= 299;
}

/* Checks an answer for the refusal described: 401 with a Bearer
 * challenge, whose error code is invalid_token or absent as wanted. */
static void judge_refusal(const mcpauth_http_response *answer, const refusal *want,
                          mcpauth_probe_check *c)
{
    const mcpauth_http_response resp = *answer;
    char shown[64], q[MCPAUTH_URL_QUOTE_SIZE];
    mcpauth__probe_status_text(resp.status, shown, sizeof shown);
    mcpauth_challenge_list list = {0};
    bool syntax_error;
    const mcpauth_challenge *bearer = mcpauth__probe_bearer_challenge(&resp, &list, &syntax_error);
    const char *error = mcpauth_challenge_param(bearer, "error");
    if (is_success(resp.status))
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "%s: %s: %s", want->what, shown,
                               want->if_accepted);
    else if (resp.status != 401)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "%s: %s, not 401", want->what, shown);
    else if (!bearer)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "%s: 401 without a Bearer challenge (RFC 6750 §3)", want->what);
    else if (want->invalid_token && (!error || strcmp(error, "invalid_token") != 0))
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "%s: 401 with %s%s, not error=\"invalid_token\" (RFC 6750 §3.1)",
                               want->what, error ? "error=" : "no error code",
                               error ? mcpauth_url_quote(error, q, sizeof q) : "");
    else if (!want->invalid_token && error)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "%s: 401 with error=%s: %s", want->what,
                               mcpauth_url_quote(error, q, sizeof q), want->if_error);
    else
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "%s: 401%s", want->what,
                               want->invalid_token ? " error=\"invalid_token\""
                                                   : " without an error code");
    mcpauth_challenge_list_free(&list);
}

/* Sends r and judges the answer as judge_refusal() does. */
static mcpauth_status expect_refusal(mcpauth__probe_state *s, const mcpauth__probe_request *r,
                                     const refusal *want, mcpauth_probe_check *c,
                                     mcpauth_error *err)
{
    mcpauth_http_response resp;
    if (mcpauth__probe_send(s, r, &resp, err) != MCPAUTH_OK)
        return mcpauth__probe_request_failed(c, want->what, err);
    mcpauth__probe_keep_session(s, &resp);
    judge_refusal(&resp, want, c);
    mcpauth_http_response_free(&resp);
    return MCPAUTH_OK;
}

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* True when resp is a 401 whose Bearer challenge has the error code and
 * description of the answer without any token: the query string made no
 * difference that shows. *error gets that error code (borrowed from
 * list, which the caller frees). */
static bool same_as_no_token(const mcpauth__probe_state *s, const mcpauth_http_response *resp,
                             mcpauth_challenge_list *list, const char **error)
{
    bool syntax_error;
    const mcpauth_challenge *bearer = mcpauth__probe_bearer_challenge(resp, list, &syntax_error);
    const mcpauth_challenge *before = s->no_token_bearer;
    *error = mcpauth_challenge_param(bearer, "error");
    return resp->status == 401 && bearer && before && s->no_token.status == 401 && *error &&
           same_text(*error, mcpauth_challenge_param(before, "error")) &&
           same_text(mcpauth_challenge_param(bearer, "error_description"),
                     mcpauth_challenge_param(before, "error_description"));
}

mcpauth_status mcpauth__probe_bogus_token(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                          mcpauth_error *err)
{
    mcpauth__probe_request r = {.body = mcpauth__probe_initialize_body,
                                .bearer_token = BOGUS_TOKEN};
    refusal want = {"a bogus bearer token", true, "the server accepted a token that is not one",
                    NULL};
    return expect_refusal(s, &r, &want, c, err);
}

mcpauth_status mcpauth__probe_basic_scheme(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                           mcpauth_error *err)
{
    mcpauth__probe_request r = {.body = mcpauth__probe_initialize_body,
                                .basic_user = "mcpauth-probe",
                                .basic_password = "not-a-password"};
    refusal want = {"Basic credentials", false, "the server accepted Basic credentials",
                    "RFC 6750 §3.1: no error code when no bearer token was sent"};
    return expect_refusal(s, &r, &want, c, err);
}

/* The MCP URL with access_token=value added to its query. */
static char *with_query_token(const char *url, const char *value)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appendf(&sb, "%s%caccess_token=%s", url, strchr(url, '?') ? '&' : '?', value);
    return mcpauth_strbuf_detach(&sb);
}

mcpauth_status mcpauth__probe_query_token(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                          mcpauth_error *err)
{
    char *url = with_query_token(s->config->resource_url, BOGUS_TOKEN);
    if (!url)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    mcpauth__probe_request r = {.url = url, .body = mcpauth__probe_initialize_body};
    refusal want = {"a token in the query string only", false,
                    "the server accepted a query-string token (OAuth 2.1 §5.1: resource servers "
                    "MUST ignore it)",
                    "the server read the query-string token (OAuth 2.1 §5.1: resource servers "
                    "MUST ignore it)"};
    mcpauth_http_response resp;
    mcpauth_status st = mcpauth__probe_send(s, &r, &resp, err);
    free(url);
    if (st != MCPAUTH_OK)
        return mcpauth__probe_request_failed(c, want.what, err);
    mcpauth__probe_keep_session(s, &resp);
    /* An error code shows that the query token was read only when it is
     * not also the answer to no token at all (the MCP TypeScript SDK's
     * middleware says invalid_token to every request without credentials,
     * which is no-token-no-error's finding, not this one's). */
    mcpauth_challenge_list list = {0};
    const char *error = NULL;
    char q[MCPAUTH_URL_QUOTE_SIZE];
    if (same_as_no_token(s, &resp, &list, &error))
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS,
                               "%s: 401 error=%s, the very answer to no token at all: the query "
                               "string made no difference",
                               want.what, mcpauth_url_quote(error, q, sizeof q));
    else
        judge_refusal(&resp, &want, c);
    mcpauth_challenge_list_free(&list);
    mcpauth_http_response_free(&resp);
    return MCPAUTH_OK;
}

bool mcpauth__probe_need_token(mcpauth__probe_state *s, mcpauth_probe_check *c)
{
    if (s->config->token)
        return true;
    mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP,
                           "no token given (--token-file FILE or MCPAUTH_TOKEN)");
    return false;
}

static bool need_accepted_token(mcpauth__probe_state *s, mcpauth_probe_check *c)
{
    if (!mcpauth__probe_need_token(s, c))
        return false;
    if (s->token_accepted)
        return true;
    mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP, "the token was not accepted (token-initialize)");
    return false;
}

/* Why the server refused the real token, from its challenge. */
static void describe_refusal(const mcpauth_http_response *resp, const char *shown,
                             mcpauth_probe_check *c)
{
    mcpauth_challenge_list list = {0};
    bool syntax_error;
    const mcpauth_challenge *bearer = mcpauth__probe_bearer_challenge(resp, &list, &syntax_error);
    const char *error = mcpauth_challenge_param(bearer, "error");
    const char *description = mcpauth_challenge_param(bearer, "error_description");
    char q_error[MCPAUTH_URL_QUOTE_SIZE], q_description[MCPAUTH_URL_QUOTE_SIZE];
    mcpauth__probe_verdict(
        c, MCPAUTH_PROBE_FAIL, "initialize with the token: %s%s%s%s%s", shown, error ? ": " : "",
        error ? mcpauth_url_quote(error, q_error, sizeof q_error) : "", description ? ": " : "",
        description ? mcpauth_url_quote(description, q_description, sizeof q_description) : "");
    mcpauth_challenge_list_free(&list);
}

/* Reads the initialize result: the negotiated protocol version and the
 * session, for the requests that follow. */
static mcpauth_status read_initialize(mcpauth__probe_state *s, const mcpauth_http_response *resp,
                                      mcpauth_probe_check *c, mcpauth_error *err)
{
    json_object *message = mcpauth__probe_jsonrpc_response(resp, 1);
    json_object *result = NULL, *version = NULL;
    char q[MCPAUTH_URL_QUOTE_SIZE];
    if (!message) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "initialize with the token: HTTP %ld without a JSON-RPC response",
                               resp->status);
        return MCPAUTH_OK;
    }
    if (!json_object_object_get_ex(message, "result", &result) ||
        !json_object_is_type(result, json_type_object)) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "initialize with the token: JSON-RPC error %s",
                               mcpauth_url_quote(json_object_to_json_string(message), q, sizeof q));
        json_object_put(message);
        return MCPAUTH_OK;
    }
    json_object_object_get_ex(result, "protocolVersion", &version);
    const char *session = mcpauth_http_response_header(resp, "Mcp-Session-Id", 0);
    s->protocol_version =
        strdup(json_object_is_type(version, json_type_string) ? json_object_get_string(version)
                                                              : "2025-11-25");
    s->session_id = session ? strdup(session) : NULL;
    json_object_put(message);
    if (!s->protocol_version || (session && !s->session_id))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    s->token_accepted = true;
    /* MCP 2025-11-25 transports §Session Management: a session is the
     * server's choice; stateless servers give none. */
    mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "HTTP %ld, protocol %s, %s", resp->status,
                           mcpauth_url_quote(s->protocol_version, q, sizeof q),
                           session ? "Mcp-Session-Id given"
                                   : "no Mcp-Session-Id (a stateless server)");
    return MCPAUTH_OK;
}

mcpauth_status mcpauth__probe_token_initialize(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                               mcpauth_error *err)
{
    if (!mcpauth__probe_need_token(s, c))
        return MCPAUTH_OK;
    mcpauth__probe_request r = {.body = mcpauth__probe_initialize_body,
                                .bearer_token = s->config->token};
    mcpauth_http_response resp;
    if (mcpauth__probe_send(s, &r, &resp, err) != MCPAUTH_OK)
        return mcpauth__probe_request_failed(c, "initialize with the token", err);
    mcpauth__probe_keep_session(s, &resp);
    char shown[64];
    mcpauth__probe_status_text(resp.status, shown, sizeof shown);
    mcpauth_status st = MCPAUTH_OK;
    if (resp.status == 200)
        st = read_initialize(s, &resp, c, err);
    else if (resp.status == 401 || resp.status == 403)
        describe_refusal(&resp, shown, c);
    else
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "initialize with the token: %s, not 200",
                               shown);
    mcpauth_http_response_free(&resp);
    return st;
}

/* "3 tools: a, b, c" into buf. */
static bool describe_tools(json_object *message, char *buf, size_t size)
{
    json_object *result = NULL, *tools = NULL;
    if (!json_object_object_get_ex(message, "result", &result) ||
        !json_object_object_get_ex(result, "tools", &tools) ||
        !json_object_is_type(tools, json_type_array))
        return false;
    size_t count = json_object_array_length(tools);
    int n = snprintf(buf, size, "%zu tool%s", count, count == 1 ? "" : "s");
    size_t used = n > 0 && (size_t)n < size ? (size_t)n : 0;
    for (size_t i = 0; i < count && used < size; i++) {
        json_object *name = NULL;
        json_object_object_get_ex(json_object_array_get_idx(tools, i), "name", &name);
        char q[MCPAUTH_URL_QUOTE_SIZE];
        n = snprintf(
            buf + used, size - used, "%s%s", i ? ", " : ": ",
            mcpauth_url_quote(json_object_get_string(name) ? json_object_get_string(name) : "?", q,
                              sizeof q));
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
    return true;
}

mcpauth_status mcpauth__probe_token_tools_list(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                               mcpauth_error *err)
{
    if (!need_accepted_token(s, c))
        return MCPAUTH_OK;
    char shown[64];
    mcpauth__probe_request r = {.body = initialized_body,
                                .bearer_token = s->config->token,
                                .session_id = s->session_id,
                                .protocol_version = s->protocol_version};
    mcpauth_http_response resp;
    if (mcpauth__probe_send(s, &r, &resp, err) != MCPAUTH_OK)
        return mcpauth__probe_request_failed(c, "notifications/initialized", err);
    long status = resp.status;
    mcpauth_http_response_free(&resp);
    /* MCP 2025-11-25 transports §Sending Messages 4: 202 Accepted. */
    if (!is_success(status)) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "notifications/initialized: %s",
                               mcpauth__probe_status_text(status, shown, sizeof shown));
        return MCPAUTH_OK;
    }
    r.body = tools_list_body;
    if (mcpauth__probe_send(s, &r, &resp, err) != MCPAUTH_OK)
        return mcpauth__probe_request_failed(c, "tools/list", err);
    json_object *message = resp.status == 200 ? mcpauth__probe_jsonrpc_response(&resp, 2) : NULL;
    char tools[MCPAUTH_PROBE_DETAIL_MAX - 32];
    if (resp.status != 200)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL, "tools/list: %s",
                               mcpauth__probe_status_text(resp.status, shown, sizeof shown));
    else if (!message || !describe_tools(message, tools, sizeof tools))
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "tools/list: HTTP 200 without a list of tools");
    else
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "%s", tools);
    json_object_put(message);
    mcpauth_http_response_free(&resp);
    return MCPAUTH_OK;
}

mcpauth_status mcpauth__probe_query_beside_header(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                                  mcpauth_error *err)
{
    if (!need_accepted_token(s, c))
        return MCPAUTH_OK;
    char *url = with_query_token(s->config->resource_url, BOGUS_TOKEN);
    if (!url)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    mcpauth__probe_request r = {
        .url = url, .body = mcpauth__probe_initialize_body, .bearer_token = s->config->token};
    mcpauth_http_response resp;
    mcpauth_status st = mcpauth__probe_send(s, &r, &resp, err);
    free(url);
    if (st != MCPAUTH_OK)
        return mcpauth__probe_request_failed(c, "the token with a bogus query-string token", err);
    mcpauth__probe_keep_session(s, &resp);
    char shown[64];
    mcpauth__probe_status_text(resp.status, shown, sizeof shown);
    /* OAuth 2.1 §5.1: the query parameter is ignored, so the header alone
     * decides. */
    if (is_success(resp.status))
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS,
                               "the token with a bogus query-string token: %s (the header decides)",
                               shown);
    else
        mcpauth__probe_verdict(
            c, MCPAUTH_PROBE_FAIL,
            "the token with a bogus query-string token: %s: the server read the query "
            "string (OAuth 2.1 §5.1: resource servers MUST ignore it)",
            shown);
    mcpauth_http_response_free(&resp);
    return MCPAUTH_OK;
}

/* The token's three segments, when it has the shape of a JWT. */
typedef struct jwt_parts {
    const char *payload;
    size_t payload_length;
    const char *signature;
    size_t signature_length;
} jwt_parts;

static bool split_jwt(mcpauth__probe_state *s, mcpauth_probe_check *c, jwt_parts *parts)
{
    if (!mcpauth__probe_need_token(s, c))
        return false;
    const char *token = s->config->token;
    size_t length = strlen(token);
    if (!mcpauth_jwt_looks_like(token, length)) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP, "the token is not a JWT");
        return false;
    }
    const char *dot1 = strchr(token, '.');
    const char *dot2 = strchr(dot1 + 1, '.');
    parts->payload = dot1 + 1;
    parts->payload_length = (size_t)(dot2 - parts->payload);
    parts->signature = dot2 + 1;
    parts->signature_length = strlen(parts->signature);
    return true;
}

static mcpauth_status send_forged(mcpauth__probe_state *s, mcpauth_strbuf *forged, const char *what,
                                  const char *if_accepted, mcpauth_probe_check *c,
                                  mcpauth_error *err)
{
    if (mcpauth_strbuf_failed(forged)) {
        mcpauth_strbuf_free(forged);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    mcpauth__probe_request r = {.body = mcpauth__probe_initialize_body,
                                .bearer_token = forged->data};
    /* RFC 9068 §4: every JWT validation failure is invalid_token. */
    refusal want = {what, true, if_accepted, NULL};
    mcpauth_status st = expect_refusal(s, &r, &want, c, err);
    mcpauth_strbuf_free(forged);
    return st;
}

mcpauth_status mcpauth__probe_forged_alg_none(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                              mcpauth_error *err)
{
    static const char header[] = "{\"alg\":\"none\",\"typ\":\"at+jwt\"}";
    jwt_parts parts;
    if (!split_jwt(s, c, &parts))
        return MCPAUTH_OK;
    char *encoded = mcpauth_base64url_encode((const uint8_t *)header, sizeof header - 1);
    if (!encoded)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    /* The token's own claims, unsigned (RFC 7519 §6: an unsecured JWT). */
    mcpauth_strbuf forged = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appendf(&forged, "%s.%.*s.", encoded, (int)parts.payload_length, parts.payload);
    free(encoded);
    return send_forged(s, &forged, "the token's claims with alg none",
                       "the server accepted an unsigned token (RFC 8725 §3.1)", c, err);
}

mcpauth_status mcpauth__probe_forged_signature(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                               mcpauth_error *err)
{
    jwt_parts parts;
    if (!split_jwt(s, c, &parts))
        return MCPAUTH_OK;
    size_t length = 0;
    uint8_t *signature = mcpauth_base64url_decode(parts.signature, parts.signature_length, &length);
    if (!signature || length == 0) {
        free(signature);
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP, "the token's signature does not decode");
        return MCPAUTH_OK;
    }
    signature[length / 2] ^= 0x01;
    char *encoded = mcpauth_base64url_encode(signature, length);
    free(signature);
    if (!encoded)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    const char *token = s->config->token;
    mcpauth_strbuf forged = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appendf(&forged, "%.*s%s", (int)(parts.signature - token), token, encoded);
    free(encoded);
    return send_forged(s, &forged, "the token with one signature bit flipped",
                       "the server accepted a token whose signature does not verify", c, err);
}

mcpauth_status mcpauth__probe_foreign_origin(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                             mcpauth_error *err)
{
    static const char evil[] = "http://evil.example";
    if (!need_accepted_token(s, c))
        return MCPAUTH_OK;
    mcpauth__probe_request r = {
        .body = mcpauth__probe_initialize_body, .bearer_token = s->config->token, .origin = evil};
    mcpauth_http_response resp;
    if (mcpauth__probe_send(s, &r, &resp, err) != MCPAUTH_OK)
        return mcpauth__probe_request_failed(c, "the token from Origin http://evil.example", err);
    mcpauth__probe_keep_session(s, &resp);
    char shown[64];
    mcpauth__probe_status_text(resp.status, shown, sizeof shown);
    /* MCP 2025-11-25 transports §Security Warning: servers MUST validate
     * Origin, and answer an invalid one with 403 (DNS rebinding). */
    if (resp.status == 403)
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "the token from Origin %s: %s", evil, shown);
    else
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_FAIL,
                               "the token from Origin %s: %s, not 403 (MCP: servers MUST refuse a "
                               "foreign Origin)",
                               evil, shown);
    mcpauth_http_response_free(&resp);
    return MCPAUTH_OK;
}
