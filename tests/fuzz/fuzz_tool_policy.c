/* The per-tool scope policy (src/mcp/tool_policy.c, tool_policy_gate.c):
 * building it from a config file's "tools" object and --tool-scope flags,
 * matching tool names, and deciding POST bodies and filtering tools/list
 * results. Input, separated by \x01: the "tools" JSON, a --tool-scope
 * text, a tool name, the token's scopes (space-separated), a POST body. */
#include <stdbool.h>

#include "fuzz.h"
#include "mcpauth/json.h"
#include "mcpauth/mcp_tool_policy.h"

static const char *const base[] = {"mcp"};

static void ask(const mcpauth_mcp_tool_policy *policy, const char *tool, const char *body,
                size_t body_length, const mcpauth_token_info *granted)
{
    size_t count = 0;
    const char *const *scopes = mcpauth_mcp_tool_policy_required_scopes(policy, tool, &count);
    if (count && !scopes)
        abort();
    (void)mcpauth_mcp_tool_policy_allows(policy, tool, granted);
    free(mcpauth_mcp_tool_policy_challenge_scope(policy, tool, base, 1));
    free(mcpauth_mcp_tool_policy_scopes_union(policy, base, 1, &count));

    mcpauth_mcp_tool_policy_verdict verdict = {0};
    (void)mcpauth_mcp_tool_policy_check_call(policy, tool, granted, base, 1, &verdict);
    mcpauth_mcp_tool_policy_verdict_free(&verdict);
    (void)mcpauth_mcp_tool_policy_check_body(policy, body, body_length, granted, base, 1, &verdict);
    mcpauth_mcp_tool_policy_verdict_free(&verdict);

    json_object *result = mcpauth_json_parse(body, body_length, "result", NULL);
    if (result) {
        mcpauth_error err;
        (void)mcpauth_mcp_tool_policy_filter_tools_list(policy, result, granted, &err);
        json_object_put(result);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_pieces in;
    fuzz_split(data, size, 5, &in);
    mcpauth_mcp_tool_policy *policy = mcpauth_mcp_tool_policy_new();
    if (!policy)
        abort();
    mcpauth_error err;
    json_object *tools = mcpauth_json_parse(in.piece[0], in.length[0], "tools", NULL);
    if (tools) {
        (void)mcpauth_mcp_tool_policy_add_json(policy, tools, "tools", &err);
        json_object_put(tools);
    }
    if (in.length[1])
        (void)mcpauth_mcp_tool_policy_add_text(policy, in.piece[1], &err);

    /* The token's scopes as the validator would hold them. */
    char *scopes[64];
    size_t scope_count = 0;
    for (char *save = NULL, *s = strtok_r(in.piece[3], " ", &save); s && scope_count < 64;
         s = strtok_r(NULL, " ", &save))
        scopes[scope_count++] = s;
    mcpauth_token_info granted = {.active = true, .scopes = scopes, .scope_count = scope_count};

    ask(policy, in.piece[2], in.piece[4], in.length[4], &granted);
    ask(NULL, in.piece[2], in.piece[4], in.length[4], NULL);
    mcpauth_mcp_tool_policy_free(policy);
    fuzz_pieces_free(&in);
    return 0;
}
