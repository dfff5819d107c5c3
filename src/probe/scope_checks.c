/* The MCP 2026-07-28 authorization rules on scopes, from the outside: a
 * 403 insufficient_scope names every scope the operation needs in one
 * challenge (§Runtime Insufficient Scope Errors), and offline_access, which
 * asks for a refresh token and is no permission on the resource, appears
 * in no challenge and not in scopes_supported (§Refresh Tokens).
 *
 * The probe provokes a 403 without running anything: a tools/call of a tool
 * that does not exist, which a server with per-tool scopes refuses before
 * looking for the tool (a server without them answers with a JSON-RPC
 * error, and the check is skipped). What an operation needs is only partly
 * visible from outside: the 401 challenge's scope says what every request
 * should carry, and a JWT says which scopes the token holds. A 403 whose
 * scope, with the token's own, lacks one of the 401's scopes makes the
 * client come back for it: that is what the check fails.
 *
 * These are rules of the 2026-07-28 revision: against a server that offers
 * no modern version, breaking them is a WARN, not a FAIL. */
#include <stdlib.h>
#include <string.h>

#include "mcpauth/jose.h"
#include "mcpauth/token.h"
#include "mcpauth/url.h"
#include "probe_internal.h"

/* A tool name no server has (MCP tool names: letters, digits, "_-./"). */
#define NO_SUCH_TOOL "mcpauth-probe-no-such-tool"
#define OFFLINE      "offline_access"
#define RUNTIME_RULE "MCP 2026-07-28 authorization §Runtime Insufficient Scope Errors"

/* True when the space-separated list holds scope. */
static bool list_has(const char *list, const char *scope)
{
    size_t n = strlen(scope);
    for (const char *p = list; p && *p;) {
        size_t length = strcspn(p, " ");
        if (length == n && strncmp(p, scope, n) == 0)
            return true;
        p += length;
        p += strspn(p, " ");
    }
    return false;
}

static mcpauth_probe_verdict broken(const mcpauth__probe_state *s)
{
    return s->era == MCPAUTH__PROBE_ERA_LEGACY ? MCPAUTH_PROBE_WARN : MCPAUTH_PROBE_FAIL;
}

/* The scopes the token holds, when it is a JWT that says so; false when
 * they cannot be read (an opaque token). */
static bool token_scopes(const mcpauth__probe_state *s, mcpauth_token_info *info)
{
    const char *token = s->config->token;
    size_t length = strlen(token);
    json_object *header = NULL, *claims = NULL;
    mcpauth_error ignored;
    memset(info, 0, sizeof *info);
    if (!mcpauth_jwt_looks_like(token, length) ||
        mcpauth_jwt_decode(token, length, &header, &claims, &ignored) != MCPAUTH_OK)
        return false;
    bool read = mcpauth_token_info_from_claims(claims, info, &ignored) == MCPAUTH_OK;
    json_object_put(header);
    json_object_put(claims);
    return read;
}

static bool token_holds(const mcpauth_token_info *info, const char *scope)
{
    return mcpauth_token_has_scopes(info, &scope, 1);
}

/* The request that should provoke the 403, in the server's era. */
static mcpauth_status send_call(mcpauth__probe_state *s, mcpauth_http_response *resp,
                                mcpauth_error *err)
{
    char *body = NULL;
    mcpauth__probe_request r = {.bearer_token = s->config->token};
    if (s->era == MCPAUTH__PROBE_ERA_MODERN) {
        body = mcpauth__probe_modern_body(4, "tools/call", NO_SUCH_TOOL,
                                          MCPAUTH__PROBE_MODERN_VERSION);
        r.protocol_version = MCPAUTH__PROBE_MODERN_VERSION;
        r.mcp_method = "tools/call";
        r.mcp_name = NO_SUCH_TOOL;
    } else {
        body = strdup("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":"
                      "{\"name\":\"" NO_SUCH_TOOL "\",\"arguments\":{}}}");
        r.session_id = s->session_id;
        r.protocol_version = s->protocol_version;
    }
    if (!body)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    r.body = body;
    mcpauth_status st = mcpauth__probe_send(s, &r, resp, err);
    free(body);
    return st;
}

/* The scopes of the 401 challenge the 403's scope leaves out and the token
 * does not hold, space-separated into out; the count. */
static size_t uncovered(const mcpauth__probe_state *s, const char *scope,
                        const mcpauth_token_info *held, char *out, size_t size)
{
    const char *wanted = mcpauth_challenge_param(s->no_token_bearer, "scope");
    size_t count = 0, used = 0;
    out[0] = '\0';
    for (const char *p = wanted; p && *p;) {
        size_t length = strcspn(p, " ");
        char one[256];
        if (length > 0 && length < sizeof one) {
            memcpy(one, p, length);
            one[length] = '\0';
            if (!list_has(scope, one) && !token_holds(held, one) && used + length + 2 < size) {
                used += (size_t)snprintf(out + used, size - used, "%s%s", count ? " " : "", one);
                count++;
            }
        }
        p += length;
        p += strspn(p, " ");
    }
    return count;
}

static mcpauth_status judge_forbidden(mcpauth__probe_state *s, const mcpauth_http_response *resp,
                                      mcpauth_probe_check *c, mcpauth_error *err)
{
    mcpauth_status st = MCPAUTH_OK;
    mcpauth_challenge_list list = {0};
    bool syntax_error;
    const mcpauth_challenge *bearer = mcpauth__probe_bearer_challenge(resp, &list, &syntax_error);
    const char *error = mcpauth_challenge_param(bearer, "error");
    const char *scope = mcpauth_challenge_param(bearer, "scope");
    char q[MCPAUTH_URL_QUOTE_SIZE], missing[256];
    mcpauth_token_info held;
    bool known = token_scopes(s, &held);
    if (!error || strcmp(error, "insufficient_scope") != 0) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP,
                               "a tools/call of a tool that does not exist: HTTP 403 without "
                               "error=\"insufficient_scope\": no scope refusal to read");
    } else if (!scope || !*scope) {
        mcpauth__probe_verdict(c, broken(s),
                               "a tools/call of a tool that does not exist: 403 "
                               "insufficient_scope without a scope (%s)",
                               RUNTIME_RULE);
    } else if (!(s->forbidden_scope = strdup(scope))) {
        st = mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    } else if (uncovered(s, scope, &held, missing, sizeof missing) > 0) {
        /* Without the token's scopes the 403 may leave out what the token
         * has (it need not repeat granted scopes): say so, do not fail. */
        mcpauth__probe_verdict(c, known ? broken(s) : MCPAUTH_PROBE_WARN,
                               "a tools/call of a tool that does not exist: 403 scope=%s lacks "
                               "\"%s\", which the 401 challenge asks for and the token %s: "
                               "every scope the operation needs belongs in one challenge (%s)",
                               mcpauth_url_quote(scope, q, sizeof q), missing,
                               known ? "lacks" : "may lack (not a JWT: its scopes are unknown)",
                               RUNTIME_RULE);
    } else {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS,
                               "a tools/call of a tool that does not exist: 403 scope=%s, with "
                               "the token's own scopes all the 401 challenge asks for",
                               mcpauth_url_quote(scope, q, sizeof q));
    }
    if (known)
        mcpauth_token_info_free(&held);
    mcpauth_challenge_list_free(&list);
    return st;
}

mcpauth_status mcpauth__probe_insufficient_scope_all(mcpauth__probe_state *s,
                                                     mcpauth_probe_check *c, mcpauth_error *err)
{
    if (!mcpauth__probe_need_token(s, c))
        return MCPAUTH_OK;
    if (s->era != MCPAUTH__PROBE_ERA_MODERN && !s->token_accepted) {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP,
                               "the token was accepted in neither era (token-initialize, "
                               "modern-discover)");
        return MCPAUTH_OK;
    }
    mcpauth_http_response resp;
    if (send_call(s, &resp, err) != MCPAUTH_OK)
        return mcpauth__probe_request_failed(c, "a tools/call of a tool that does not exist", err);
    mcpauth_status st = MCPAUTH_OK;
    char shown[64];
    mcpauth__probe_status_text(resp.status, shown, sizeof shown);
    if (resp.status == 403) {
        st = judge_forbidden(s, &resp, c, err);
    } else {
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP,
                               "a tools/call of a tool that does not exist: %s: the probe could "
                               "not provoke a 403 (no per-tool scopes?)",
                               shown);
    }
    mcpauth_http_response_free(&resp);
    return st;
}

/* Appends where to the list of places offline_access showed up. */
static void add_place(char *places, size_t size, const char *where)
{
    size_t used = strlen(places);
    if (used + strlen(where) + 6 < size)
        snprintf(places + used, size - used, "%s%s", used ? ", " : "", where);
}

static bool array_has(json_object *doc, const char *member, const char *value)
{
    json_object *array = NULL;
    if (!json_object_object_get_ex(doc, member, &array) ||
        !json_object_is_type(array, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(array); i++) {
        const char *item = json_object_get_string(json_object_array_get_idx(array, i));
        if (item && json_object_is_type(json_object_array_get_idx(array, i), json_type_string) &&
            strcmp(item, value) == 0)
            return true;
    }
    return false;
}

mcpauth_status mcpauth__probe_offline_access_absent(mcpauth__probe_state *s, mcpauth_probe_check *c,
                                                    mcpauth_error *err)
{
    (void)err;
    const char *challenge = mcpauth_challenge_param(s->no_token_bearer, "scope");
    json_object *documents[] = {s->metadata, s->path_metadata};
    char places[200] = "", looked[200] = "";
    if (s->no_token_bearer) {
        add_place(looked, sizeof looked, "the 401 challenge");
        if (challenge && list_has(challenge, OFFLINE))
            add_place(places, sizeof places, "the 401 challenge's scope");
    }
    if (s->forbidden_scope) {
        add_place(looked, sizeof looked, "the 403 challenge");
        if (list_has(s->forbidden_scope, OFFLINE))
            add_place(places, sizeof places, "the 403 challenge's scope");
    }
    bool in_metadata = false;
    for (size_t i = 0; i < 2; i++) {
        if (documents[i])
            in_metadata = in_metadata || array_has(documents[i], "scopes_supported", OFFLINE);
    }
    if (s->metadata || s->path_metadata)
        add_place(looked, sizeof looked, "scopes_supported");
    if (in_metadata)
        add_place(places, sizeof places, "scopes_supported");
    if (!looked[0])
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_SKIP, "no challenge and no metadata to read");
    else if (places[0])
        mcpauth__probe_verdict(c, broken(s),
                               "offline_access in %s: it asks for a refresh token and is no "
                               "permission on the resource (MCP 2026-07-28 authorization §Refresh "
                               "Tokens: SHOULD NOT)",
                               places);
    else
        mcpauth__probe_verdict(c, MCPAUTH_PROBE_PASS, "not in %s", looked);
    return MCPAUTH_OK;
}
