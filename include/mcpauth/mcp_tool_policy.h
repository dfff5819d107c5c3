/* Per-tool authorization for `mcpauth serve`: which scopes, beyond
 * the resource's required ones, a token needs to call each MCP tool.
 *
 * A policy is a list of rules, each a fnmatch(3) pattern on the tool name
 * with the scopes that tools matching it need, tried in order (the first
 * match wins), and default scopes for tools no rule matches. It comes from
 * the "tools" object of serve's --config file,
 *
 *   {"default_scopes": ["mcp"],
 *    "scopes": {"admin_*": ["mcp:admin"], "hello_world": []}}
 *
 * and from --tool-scope PATTERN=SCOPE[,SCOPE...] flags. An empty policy (or
 * a NULL one, everywhere below) asks for nothing beyond the resource's
 * required scopes.
 *
 * Scope tokens compare exactly (RFC 6749 §3.3: case-sensitive); a broader
 * scope implies a narrower one only through the rules the policy is given
 * (mcpauth_mcp_tool_policy_set_implies(), scope_implies.h).
 *
 * Every call is pure computation: nothing blocks, nothing logs. A policy is
 * immutable once built, so worker processes forked after it share it.
 */
#ifndef MCPAUTH_MCP_TOOL_POLICY_H
#define MCPAUTH_MCP_TOOL_POLICY_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "mcpauth/error.h"
#include "mcpauth/scope_implies.h"
#include "mcpauth/token.h"

#define MCPAUTH_MCP_TOOL_POLICY_MAX_RULES   256 /* patterns in one policy */
#define MCPAUTH_MCP_TOOL_POLICY_MAX_SCOPES  32  /* scopes of one pattern, and default scopes */
#define MCPAUTH_MCP_TOOL_POLICY_MAX_PATTERN 128 /* bytes in one pattern */
#define MCPAUTH_MCP_TOOL_POLICY_MAX_SCOPE   MCPAUTH_SCOPE_TOKEN_MAX /* bytes in one scope token */
#define MCPAUTH_MCP_TOOL_POLICY_MAX_CALLS   64 /* tools/call requests checked in one body */

typedef struct mcpauth_mcp_tool_policy mcpauth_mcp_tool_policy;

/* ---- building ---------------------------------------------------------- */

/* An empty policy; NULL on allocation failure. Free it with
 * mcpauth_mcp_tool_policy_free(). */
mcpauth_mcp_tool_policy *mcpauth_mcp_tool_policy_new(void);

void mcpauth_mcp_tool_policy_free(mcpauth_mcp_tool_policy *policy);

/* Appends the rules of a "tools" object (the shape above) after those
 * already there, in the object's order, and sets the default scopes when it
 * has "default_scopes". Validated hard: tools must be an object with only
 * those two members; "scopes" an object of at most 256 patterns (1 to 128
 * visible ASCII characters each); every list an array of at most 32 scope
 * tokens (RFC 6749 §3.3 NQCHARs: visible ASCII but '"' and '\', 1 to 128
 * bytes). path names tools in messages ("tools"). On failure:
 * MCPAUTH_ELOCAL with one line naming the JSON path, for example
 *   tools.scopes["admin_*"][1]: not a valid scope token
 * and the policy may hold some of the rules (free it). tools is only read;
 * the policy keeps copies of the strings. */
mcpauth_status mcpauth_mcp_tool_policy_add_json(mcpauth_mcp_tool_policy *policy, json_object *tools,
                                                const char *path, mcpauth_error *err);

/* Appends one rule written "PATTERN=SCOPE[,SCOPE...]" (--tool-scope):
 * the pattern ends at the first '=', the scopes are split at commas, and
 * "PATTERN=" needs no scope. Same limits as above; MCPAUTH_EUSAGE with one
 * line on failure. */
mcpauth_status mcpauth_mcp_tool_policy_add_text(mcpauth_mcp_tool_policy *policy, const char *text,
                                                mcpauth_error *err);

/* A token then holds a scope a tool needs also through a scope that
 * implies it. implies is borrowed (closed, it must outlive the policy);
 * challenges still name the scopes the rules ask for. */
void mcpauth_mcp_tool_policy_set_implies(mcpauth_mcp_tool_policy *policy,
                                         const mcpauth_scope_implies *implies);

/* The implication rules given to the policy, or NULL. */
const mcpauth_scope_implies *mcpauth_mcp_tool_policy_implies(const mcpauth_mcp_tool_policy *policy);

/* True when the policy has no rule and no default scopes (or is NULL). */
bool mcpauth_mcp_tool_policy_is_empty(const mcpauth_mcp_tool_policy *policy);

/* ---- questions --------------------------------------------------------- */

/* The scopes tool needs of its own: the first matching rule's, else the
 * default scopes. Borrowed from the policy; *count may be 0 (then the
 * result may be NULL). */
const char *const *mcpauth_mcp_tool_policy_required_scopes(const mcpauth_mcp_tool_policy *policy,
                                                           const char *tool, size_t *count);

/* True when granted carries (or holds through an implying scope) every
 * scope tool needs of its own. The
 * resource's required scopes are not checked here (the validator did).
 * granted NULL holds no scope. */
bool mcpauth_mcp_tool_policy_allows(const mcpauth_mcp_tool_policy *policy, const char *tool,
                                    const mcpauth_token_info *granted);

/* The scope= value of a 403 insufficient_scope challenge for calling tool
 * (MCP 2025-11-25 authorization §Scope Challenge Handling; RFC 6750 §3.1:
 * every scope the call needs, at once): the
 * resource's required scopes base[0..base_count) then the tool's own,
 * space-separated, each once. Caller frees; NULL on allocation failure. */
char *mcpauth_mcp_tool_policy_challenge_scope(const mcpauth_mcp_tool_policy *policy,
                                              const char *tool, const char *const *base,
                                              size_t base_count);

/* Every scope worth advertising in the metadata's scopes_supported
 * (RFC 9728 §2): base[0..base_count), then the default scopes, then each
 * rule's, in order, each once. Returns an array of *count borrowed strings
 * (from base and the policy); the caller frees the array only. NULL on
 * allocation failure. */
const char **mcpauth_mcp_tool_policy_scopes_union(const mcpauth_mcp_tool_policy *policy,
                                                  const char *const *base, size_t base_count,
                                                  size_t *count);

/* ---- applying it to MCP messages (tool_policy_gate.c) ------------------- */

/* Removes from a tools/list result ({"tools": [...], ...}, owned by the
 * caller) the tools granted may not call. With a non-empty policy, an entry
 * that is not an object with a string "name" is removed too: it cannot be
 * matched against the policy, so it is not shown. A result that is not an object with a "tools"
 * array is left alone: MCPAUTH_EREMOTE with one line (the tools come from a
 * backend). */
mcpauth_status mcpauth_mcp_tool_policy_filter_tools_list(const mcpauth_mcp_tool_policy *policy,
                                                         json_object *result,
                                                         const mcpauth_token_info *granted,
                                                         mcpauth_error *err);

/* What a request may do. */
typedef struct mcpauth_mcp_tool_policy_verdict {
    bool allowed;
    /* When refused: the scope= value of the 403 insufficient_scope
     * challenge, with the resource's required scopes and those of every
     * refused tool. Owned; release with mcpauth_mcp_tool_policy_verdict_free(). */
    char *scope;
    /* When refused: one line for error_description and the access log,
     * naming the tool (when its name is plain) and the missing scopes. */
    char reason[200];
} mcpauth_mcp_tool_policy_verdict;

void mcpauth_mcp_tool_policy_verdict_free(mcpauth_mcp_tool_policy_verdict *verdict);

/* Decides one tools/call of tool for granted. MCPAUTH_ELOCAL only on
 * allocation failure (*verdict is then refused, without a scope). */
mcpauth_status mcpauth_mcp_tool_policy_check_call(const mcpauth_mcp_tool_policy *policy,
                                                  const char *tool,
                                                  const mcpauth_token_info *granted,
                                                  const char *const *base, size_t base_count,
                                                  mcpauth_mcp_tool_policy_verdict *verdict);

/* Decides a whole POST body before the MCP engine sees it: every tools/call
 * request in it (one message, or each member of a 2025-03-26 batch) whose
 * params.name is a string is checked; the request is refused when any of
 * them is, and the verdict's scope then covers all of them. A body that is
 * not JSON, and calls without a string name, are allowed: the engine
 * answers them with its own JSON-RPC errors. A body with more than
 * MCPAUTH_MCP_TOOL_POLICY_MAX_CALLS tools/call requests (a batch the engine
 * would refuse anyway) is refused without matching the rest. Return as
 * above. */
mcpauth_status mcpauth_mcp_tool_policy_check_body(const mcpauth_mcp_tool_policy *policy,
                                                  const char *body, size_t length,
                                                  const mcpauth_token_info *granted,
                                                  const char *const *base, size_t base_count,
                                                  mcpauth_mcp_tool_policy_verdict *verdict);

/* The same for a body parsed already (doc, borrowed; NULL: not JSON). */
mcpauth_status mcpauth_mcp_tool_policy_check_message(const mcpauth_mcp_tool_policy *policy,
                                                     json_object *doc,
                                                     const mcpauth_token_info *granted,
                                                     const char *const *base, size_t base_count,
                                                     mcpauth_mcp_tool_policy_verdict *verdict);

#endif
