/* Applying the per-tool scope policy to MCP traffic: hiding from tools/list
 * the tools a token may not call, and refusing a tools/call the token lacks
 * scopes for with what a 403 insufficient_scope challenge needs (MCP
 * 2025-11-25 authorization §Scope Challenge Handling; RFC 6750 §3.1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "mcpauth/json.h"
#include "mcpauth/mcp_tool_policy.h"

/* MCP 2025-11-25 server/tools §Tool Names: 1 to 128 of these characters.
 * Only such a name is echoed into a log line or an error_description. */
#define PLAIN_NAME_MAX 128

static bool plain_name(const char *name)
{
    size_t n = strnlen(name, PLAIN_NAME_MAX + 1);
    if (n == 0 || n > PLAIN_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == '/';
        if (!ok)
            return false;
    }
    return true;
}

static bool granted_has(const mcpauth_mcp_tool_policy *policy, const mcpauth_token_info *granted,
                        const char *scope)
{
    return granted && mcpauth_scope_implies_granted(mcpauth_mcp_tool_policy_implies(policy),
                                                    granted, &scope, 1);
}

mcpauth_status mcpauth_mcp_tool_policy_filter_tools_list(const mcpauth_mcp_tool_policy *policy,
                                                         json_object *result,
                                                         const mcpauth_token_info *granted,
                                                         mcpauth_error *err)
{
    json_object *tools = NULL;
    if (!json_object_is_type(result, json_type_object) ||
        !json_object_object_get_ex(result, "tools", &tools) ||
        !json_object_is_type(tools, json_type_array))
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "tools/list result is not an object with a \"tools\" array");
    if (mcpauth_mcp_tool_policy_is_empty(policy))
        return MCPAUTH_OK;
    /* Backwards, so that deleting does not move what is still to be seen. */
    for (size_t i = json_object_array_length(tools); i-- > 0;) {
        json_object *tool = json_object_array_get_idx(tools, i);
        json_object *name = NULL;
        bool keep = json_object_is_type(tool, json_type_object) &&
                    json_object_object_get_ex(tool, "name", &name) &&
                    json_object_is_type(name, json_type_string) &&
                    mcpauth_mcp_tool_policy_allows(policy, json_object_get_string(name), granted);
        if (!keep)
            json_object_array_del_idx(tools, i, 1);
    }
    return MCPAUTH_OK;
}

void mcpauth_mcp_tool_policy_verdict_free(mcpauth_mcp_tool_policy_verdict *verdict)
{
    free(verdict->scope);
    verdict->scope = NULL;
}

/* The tools refused so far within one request, and the scopes the
 * challenge must then name: the resource's, then each refused tool's. */
typedef struct decision {
    const mcpauth_mcp_tool_policy *policy;
    const mcpauth_token_info *granted;
    mcpauth__tool_policy_set scopes;
    size_t calls; /* tools/call requests seen */
    size_t refused;
    char first[200]; /* why the first refused tool was */
} decision;

static void decision_init(decision *d, const mcpauth_mcp_tool_policy *policy,
                          const mcpauth_token_info *granted, const char *const *base,
                          size_t base_count)
{
    memset(d, 0, sizeof *d);
    d->policy = policy;
    d->granted = granted;
    mcpauth__tool_policy_set_add(&d->scopes, base, base_count);
}

/* "tool admin_reset needs scopes mcp:admin mcp:write" with the scopes the
 * token lacks. */
static void describe(char *out, size_t size, const char *tool, const char *const *needed,
                     size_t count, const decision *d)
{
    size_t missing = 0;
    for (size_t i = 0; i < count; i++)
        missing += !granted_has(d->policy, d->granted, needed[i]);
    int n = snprintf(out, size, "tool %s needs scope%s", plain_name(tool) ? tool : "(unnamed)",
                     missing > 1 ? "s" : "");
    for (size_t i = 0; i < count && n > 0 && (size_t)n < size; i++) {
        if (!granted_has(d->policy, d->granted, needed[i]))
            n += snprintf(out + n, size - (size_t)n, " %s", needed[i]);
    }
}

static void decide(decision *d, const char *tool)
{
    /* Matching costs up to 256 fnmatch() calls per tool: a body of many
     * thousand calls must not buy that much work. The MCP engine refuses a
     * batch over 64 messages anyway; past that, refuse rather than skip. */
    if (++d->calls > MCPAUTH_MCP_TOOL_POLICY_MAX_CALLS) {
        if (d->calls == MCPAUTH_MCP_TOOL_POLICY_MAX_CALLS + 1 && d->refused++ == 0)
            snprintf(d->first, sizeof d->first, "more than %d tools/call requests at once",
                     MCPAUTH_MCP_TOOL_POLICY_MAX_CALLS);
        return;
    }
    size_t count;
    const char *const *needed = mcpauth_mcp_tool_policy_required_scopes(d->policy, tool, &count);
    if (mcpauth_mcp_tool_policy_allows(d->policy, tool, d->granted))
        return;
    if (d->refused++ == 0)
        describe(d->first, sizeof d->first, tool, needed, count, d);
    mcpauth__tool_policy_set_add(&d->scopes, needed, count);
}

static mcpauth_status decision_finish(decision *d, mcpauth_mcp_tool_policy_verdict *verdict)
{
    memset(verdict, 0, sizeof *verdict);
    verdict->allowed = d->refused == 0;
    mcpauth_status status = MCPAUTH_OK;
    if (!verdict->allowed) {
        if (d->refused == 1)
            snprintf(verdict->reason, sizeof verdict->reason, "%s", d->first);
        else
            snprintf(verdict->reason, sizeof verdict->reason, "%s (and %zu more tools)", d->first,
                     d->refused - 1);
        verdict->scope = mcpauth__tool_policy_set_join(&d->scopes);
        if (!verdict->scope)
            status = MCPAUTH_ELOCAL;
    }
    mcpauth__tool_policy_set_free(&d->scopes);
    return status;
}

mcpauth_status mcpauth_mcp_tool_policy_check_call(const mcpauth_mcp_tool_policy *policy,
                                                  const char *tool,
                                                  const mcpauth_token_info *granted,
                                                  const char *const *base, size_t base_count,
                                                  mcpauth_mcp_tool_policy_verdict *verdict)
{
    decision d;
    decision_init(&d, policy, granted, base, base_count);
    decide(&d, tool);
    return decision_finish(&d, verdict);
}

/* The tool a JSON-RPC message calls, or NULL when it is not a tools/call
 * with a string name. Notifications are looked at too: whatever the engine
 * makes of a tools/call without an id, it is not let through unchecked. */
static const char *called_tool(json_object *message)
{
    json_object *method = NULL, *params = NULL, *name = NULL;
    if (!json_object_is_type(message, json_type_object) ||
        !json_object_object_get_ex(message, "method", &method) ||
        !json_object_is_type(method, json_type_string) ||
        strcmp(json_object_get_string(method), "tools/call") != 0 ||
        !json_object_object_get_ex(message, "params", &params) ||
        !json_object_object_get_ex(params, "name", &name) ||
        !json_object_is_type(name, json_type_string))
        return NULL;
    return json_object_get_string(name);
}

mcpauth_status mcpauth_mcp_tool_policy_check_message(const mcpauth_mcp_tool_policy *policy,
                                                     json_object *doc,
                                                     const mcpauth_token_info *granted,
                                                     const char *const *base, size_t base_count,
                                                     mcpauth_mcp_tool_policy_verdict *verdict)
{
    decision d;
    decision_init(&d, policy, granted, base, base_count);
    if (mcpauth_mcp_tool_policy_is_empty(policy))
        doc = NULL;
    if (json_object_is_type(doc, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(doc); i++) {
            const char *tool = called_tool(json_object_array_get_idx(doc, i));
            if (tool)
                decide(&d, tool);
        }
    } else if (doc) {
        const char *tool = called_tool(doc);
        if (tool)
            decide(&d, tool);
    }
    return decision_finish(&d, verdict);
}

mcpauth_status mcpauth_mcp_tool_policy_check_body(const mcpauth_mcp_tool_policy *policy,
                                                  const char *body, size_t length,
                                                  const mcpauth_token_info *granted,
                                                  const char *const *base, size_t base_count,
                                                  mcpauth_mcp_tool_policy_verdict *verdict)
{
    /* Nothing to check without rules: spare the parse. */
    json_object *doc = NULL;
    if (!mcpauth_mcp_tool_policy_is_empty(policy) && body)
        doc = mcpauth_json_parse(body, length, "request", NULL);
    mcpauth_status status =
        mcpauth_mcp_tool_policy_check_message(policy, doc, granted, base, base_count, verdict);
    json_object_put(doc);
    return status;
}

/* ---- the filter on one tools/list answer ---- */

struct mcpauth__mcp_filter {
    const mcpauth_mcp_tool_policy *policy;
    mcpauth_token_info *granted; /* a copy, or NULL: no scope */
};

mcpauth__mcp_filter *mcpauth__mcp_filter_new(const mcpauth_mcp_tool_policy *policy,
                                             const mcpauth_token_info *granted, bool *failed)
{
    *failed = false;
    if (mcpauth_mcp_tool_policy_is_empty(policy))
        return NULL;
    mcpauth__mcp_filter *filter = calloc(1, sizeof *filter);
    if (!filter) {
        *failed = true;
        return NULL;
    }
    filter->policy = policy;
    if (granted && (!(filter->granted = calloc(1, sizeof *filter->granted)) ||
                    !mcpauth_token_info_copy(granted, filter->granted))) {
        /* A copy that failed has freed what it had. */
        free(filter->granted);
        free(filter);
        *failed = true;
        return NULL;
    }
    return filter;
}

void mcpauth__mcp_filter_free(mcpauth__mcp_filter *filter)
{
    if (!filter)
        return;
    if (filter->granted)
        mcpauth_token_info_free(filter->granted);
    free(filter->granted);
    free(filter);
}

bool mcpauth__mcp_filter_apply(const mcpauth__mcp_filter *filter, json_object *response,
                               mcpauth_error *err)
{
    json_object *result = NULL;
    if (!filter || !json_object_is_type(response, json_type_object) ||
        !json_object_object_get_ex(response, "result", &result))
        return true;
    return mcpauth_mcp_tool_policy_filter_tools_list(filter->policy, result, filter->granted,
                                                     err) == MCPAUTH_OK;
}
