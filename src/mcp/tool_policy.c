/* The per-tool scope policy: building it from the configuration, strictly
 * validated, and answering which scopes a tool needs. Applying it to MCP
 * messages is tool_policy_gate.c's job. */
#include "mcpauth/mcp_tool_policy.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "mcpauth/strbuf.h"

/* How much of a client- or file-supplied string goes into a message. */
#define ECHO_MAX 48

#define SCOPE_RULE_TEXT                                                                            \
    "not a valid scope token (RFC 6749 §3.3: 1 to 128 visible ASCII characters, no '\"' or "      \
    "'\\')"
#define PATTERN_RULE_TEXT "not a valid pattern (1 to 128 visible ASCII characters)"

typedef struct rule {
    char *pattern;
    char **scopes;
    size_t scope_count;
} rule;

struct mcpauth_mcp_tool_policy {
    rule rules[MCPAUTH_MCP_TOOL_POLICY_MAX_RULES];
    size_t rule_count;
    char **default_scopes;
    size_t default_count;
    const mcpauth_scope_implies *implies;
};

/* ---- the scope set shared with tool_policy_gate.c ---- */

static bool set_contains(const mcpauth__tool_policy_set *set, const char *scope)
{
    for (size_t i = 0; i < set->count; i++) {
        if (strcmp(set->items[i], scope) == 0)
            return true;
    }
    return false;
}

void mcpauth__tool_policy_set_add(mcpauth__tool_policy_set *set, const char *const *scopes,
                                  size_t count)
{
    for (size_t i = 0; i < count && !set->failed; i++) {
        if (!scopes[i] || set_contains(set, scopes[i]))
            continue;
        if (set->count == set->capacity) {
            size_t capacity = set->capacity ? set->capacity * 2 : 16;
            const char **items = realloc(set->items, capacity * sizeof *items);
            if (!items) {
                set->failed = true;
                return;
            }
            set->items = items;
            set->capacity = capacity;
        }
        set->items[set->count++] = scopes[i];
    }
}

char *mcpauth__tool_policy_set_join(const mcpauth__tool_policy_set *set)
{
    if (set->failed)
        return NULL;
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, "");
    for (size_t i = 0; i < set->count; i++) {
        if (i > 0)
            mcpauth_strbuf_append(&sb, " ", 1);
        mcpauth_strbuf_appends(&sb, set->items[i]);
    }
    return mcpauth_strbuf_detach(&sb);
}

void mcpauth__tool_policy_set_free(mcpauth__tool_policy_set *set)
{
    free(set->items);
    memset(set, 0, sizeof *set);
}

/* ---- validation ---- */

/* RFC 6749 §3.3 scope-token (scope_implies.h). */
static bool valid_scope(const char *scope)
{
    return mcpauth_scope_token_valid(scope);
}

/* MCP tool names SHOULD be ASCII letters, digits and "_-./" (2025-11-25
 * server/tools §Tool Names); patterns are kept to visible ASCII, which
 * covers those and keeps every message that echoes a pattern printable. */
static bool valid_pattern(const char *pattern, size_t length)
{
    if (length == 0 || length > MCPAUTH_MCP_TOOL_POLICY_MAX_PATTERN)
        return false;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)pattern[i];
        if (c < 0x21 || c > 0x7e)
            return false;
    }
    return true;
}

/* Writes text as a double-quoted JSON-like string, cut to ECHO_MAX bytes,
 * with '"', '\' and bytes outside visible ASCII escaped, so that a message
 * stays one printable line whatever the input. */
static void quote(char *out, size_t size, const char *text)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_append(&sb, "\"", 1);
    size_t i = 0;
    for (; text[i] && i < ECHO_MAX; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\')
            mcpauth_strbuf_appendf(&sb, "\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            mcpauth_strbuf_appendf(&sb, "\\x%02x", c);
        else
            mcpauth_strbuf_append(&sb, (const char *)&c, 1);
    }
    mcpauth_strbuf_appends(&sb, text[i] ? "...\"" : "\"");
    char *s = mcpauth_strbuf_detach(&sb);
    snprintf(out, size, "%s", s ? s : "\"?\"");
    free(s);
}

/* ---- building ---- */

mcpauth_mcp_tool_policy *mcpauth_mcp_tool_policy_new(void)
{
    return calloc(1, sizeof(mcpauth_mcp_tool_policy));
}

static void free_list(char **list, size_t count)
{
    for (size_t i = 0; list && i < count; i++)
        free(list[i]);
    free(list);
}

void mcpauth_mcp_tool_policy_free(mcpauth_mcp_tool_policy *policy)
{
    if (!policy)
        return;
    for (size_t i = 0; i < policy->rule_count; i++) {
        free(policy->rules[i].pattern);
        free_list(policy->rules[i].scopes, policy->rules[i].scope_count);
    }
    free_list(policy->default_scopes, policy->default_count);
    free(policy);
}

void mcpauth_mcp_tool_policy_set_implies(mcpauth_mcp_tool_policy *policy,
                                         const mcpauth_scope_implies *implies)
{
    policy->implies = implies;
}

const mcpauth_scope_implies *mcpauth_mcp_tool_policy_implies(const mcpauth_mcp_tool_policy *policy)
{
    return policy ? policy->implies : NULL;
}

bool mcpauth_mcp_tool_policy_is_empty(const mcpauth_mcp_tool_policy *policy)
{
    return !policy || (policy->rule_count == 0 && policy->default_count == 0);
}

/* Copies count strings; NULL on allocation failure (or when count is 0). */
static char **copy_list(const char *const *items, size_t count)
{
    if (count == 0)
        return NULL;
    char **copy = calloc(count, sizeof *copy);
    for (size_t i = 0; copy && i < count; i++) {
        copy[i] = strdup(items[i]);
        if (!copy[i]) {
            free_list(copy, i);
            return NULL;
        }
    }
    return copy;
}

/* Appends a rule whose pattern and scopes are already valid. */
static mcpauth_status append_rule(mcpauth_mcp_tool_policy *policy, const char *pattern,
                                  size_t pattern_length, const char *const *scopes, size_t count,
                                  mcpauth_error *err)
{
    rule *r = &policy->rules[policy->rule_count];
    r->pattern = strndup(pattern, pattern_length);
    r->scopes = copy_list(scopes, count);
    if (!r->pattern || (count > 0 && !r->scopes)) {
        free(r->pattern);
        free_list(r->scopes, count);
        memset(r, 0, sizeof *r);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    r->scope_count = count;
    policy->rule_count++;
    return MCPAUTH_OK;
}

/* Reads a JSON array of scope tokens at path into items (borrowed from
 * the array). */
static mcpauth_status read_scope_array(json_object *array, const char *path, const char **items,
                                       size_t *count, mcpauth_error *err)
{
    if (!json_object_is_type(array, json_type_array))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "%s: must be an array of scope tokens", path);
    size_t n = json_object_array_length(array);
    if (n > MCPAUTH_MCP_TOOL_POLICY_MAX_SCOPES)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "%s: more than %d scopes", path,
                                 MCPAUTH_MCP_TOOL_POLICY_MAX_SCOPES);
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(array, i);
        if (!json_object_is_type(item, json_type_string))
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "%s[%zu]: must be a string", path, i);
        const char *scope = json_object_get_string(item);
        /* An embedded NUL would make the checked and the used string differ. */
        if ((size_t)json_object_get_string_len(item) != strlen(scope) || !valid_scope(scope))
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "%s[%zu]: " SCOPE_RULE_TEXT, path, i);
        items[i] = scope;
    }
    *count = n;
    return MCPAUTH_OK;
}

static mcpauth_status set_defaults(mcpauth_mcp_tool_policy *policy, json_object *array,
                                   const char *path, mcpauth_error *err)
{
    char where[256];
    snprintf(where, sizeof where, "%s.default_scopes", path);
    const char *items[MCPAUTH_MCP_TOOL_POLICY_MAX_SCOPES];
    size_t count = 0;
    if (read_scope_array(array, where, items, &count, err) != MCPAUTH_OK)
        return err->status;
    char **copy = copy_list(items, count);
    if (count > 0 && !copy)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    free_list(policy->default_scopes, policy->default_count);
    policy->default_scopes = copy;
    policy->default_count = count;
    return MCPAUTH_OK;
}

static mcpauth_status add_scope_rules(mcpauth_mcp_tool_policy *policy, json_object *scopes,
                                      const char *path, mcpauth_error *err)
{
    if (!json_object_is_type(scopes, json_type_object))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                 "%s.scopes: must be an object of patterns and scope arrays", path);
    /* json-c keeps members in file order, which is the matching order. */
    json_object_object_foreach(scopes, pattern, list)
    {
        char key[ECHO_MAX * 4 + 8], where[sizeof key + 256];
        quote(key, sizeof key, pattern);
        snprintf(where, sizeof where, "%s.scopes[%s]", path, key);
        if (!valid_pattern(pattern, strlen(pattern)))
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "%s: " PATTERN_RULE_TEXT, where);
        if (policy->rule_count == MCPAUTH_MCP_TOOL_POLICY_MAX_RULES)
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "%s: more than %d patterns", where,
                                     MCPAUTH_MCP_TOOL_POLICY_MAX_RULES);
        const char *items[MCPAUTH_MCP_TOOL_POLICY_MAX_SCOPES];
        size_t count = 0;
        if (read_scope_array(list, where, items, &count, err) != MCPAUTH_OK ||
            append_rule(policy, pattern, strlen(pattern), items, count, err) != MCPAUTH_OK)
            return err->status;
    }
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_mcp_tool_policy_add_json(mcpauth_mcp_tool_policy *policy, json_object *tools,
                                                const char *path, mcpauth_error *err)
{
    if (!json_object_is_type(tools, json_type_object))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                 "%s: must be an object with \"default_scopes\" and \"scopes\"",
                                 path);
    json_object_object_foreach(tools, key, value)
    {
        mcpauth_status status;
        if (strcmp(key, "default_scopes") == 0) {
            status = set_defaults(policy, value, path, err);
        } else if (strcmp(key, "scopes") == 0) {
            status = add_scope_rules(policy, value, path, err);
        } else {
            char quoted[ECHO_MAX * 4 + 8];
            quote(quoted, sizeof quoted, key);
            status = mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                       "%s: unknown member %s (only \"default_scopes\" and "
                                       "\"scopes\")",
                                       path, quoted);
        }
        if (status != MCPAUTH_OK)
            return status;
    }
    return MCPAUTH_OK;
}

static mcpauth_status bad_text_scope(const char *quoted_text, const char *scope, mcpauth_error *err)
{
    char quoted[ECHO_MAX * 4 + 8];
    quote(quoted, sizeof quoted, scope);
    return mcpauth_error_set(err, MCPAUTH_EUSAGE, "--tool-scope %s: %s is " SCOPE_RULE_TEXT,
                             quoted_text, quoted);
}

mcpauth_status mcpauth_mcp_tool_policy_add_text(mcpauth_mcp_tool_policy *policy, const char *text,
                                                mcpauth_error *err)
{
    char quoted[ECHO_MAX * 4 + 8];
    quote(quoted, sizeof quoted, text);
    const char *equals = strchr(text, '=');
    if (!equals)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "--tool-scope %s: not PATTERN=SCOPE[,SCOPE...]", quoted);
    size_t pattern_length = (size_t)(equals - text);
    if (!valid_pattern(text, pattern_length))
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "--tool-scope %s: " PATTERN_RULE_TEXT,
                                 quoted);
    if (policy->rule_count == MCPAUTH_MCP_TOOL_POLICY_MAX_RULES)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "--tool-scope %s: more than %d patterns",
                                 quoted, MCPAUTH_MCP_TOOL_POLICY_MAX_RULES);
    /* Split a copy at the commas; "PATTERN=" has no scope. */
    char *list = strdup(equals + 1);
    if (!list)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    const char *items[MCPAUTH_MCP_TOOL_POLICY_MAX_SCOPES];
    size_t count = 0;
    mcpauth_status status = MCPAUTH_OK;
    char *p = list;
    while (*list && p && status == MCPAUTH_OK) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (count == MCPAUTH_MCP_TOOL_POLICY_MAX_SCOPES)
            status = mcpauth_error_set(err, MCPAUTH_EUSAGE, "--tool-scope %s: more than %d scopes",
                                       quoted, MCPAUTH_MCP_TOOL_POLICY_MAX_SCOPES);
        else if (!valid_scope(p))
            status = bad_text_scope(quoted, p, err);
        else
            items[count++] = p;
        p = comma ? comma + 1 : NULL;
    }
    if (status == MCPAUTH_OK)
        status = append_rule(policy, text, pattern_length, items, count, err);
    free(list);
    return status;
}

/* ---- questions ---- */

const char *const *mcpauth_mcp_tool_policy_required_scopes(const mcpauth_mcp_tool_policy *policy,
                                                           const char *tool, size_t *count)
{
    *count = 0;
    if (!policy)
        return NULL;
    /* First match wins, in configuration order. No FNM_PATHNAME or
     * FNM_PERIOD: '/' and '.' are ordinary characters in tool names. */
    for (size_t i = 0; i < policy->rule_count; i++) {
        const rule *r = &policy->rules[i];
        if (fnmatch(r->pattern, tool, 0) == 0) {
            *count = r->scope_count;
            return (const char *const *)r->scopes;
        }
    }
    *count = policy->default_count;
    return (const char *const *)policy->default_scopes;
}

bool mcpauth_mcp_tool_policy_allows(const mcpauth_mcp_tool_policy *policy, const char *tool,
                                    const mcpauth_token_info *granted)
{
    size_t count;
    const char *const *needed = mcpauth_mcp_tool_policy_required_scopes(policy, tool, &count);
    if (count == 0)
        return true;
    return granted && mcpauth_scope_implies_granted(policy->implies, granted, needed, count);
}

char *mcpauth_mcp_tool_policy_challenge_scope(const mcpauth_mcp_tool_policy *policy,
                                              const char *tool, const char *const *base,
                                              size_t base_count)
{
    size_t count;
    const char *const *own = mcpauth_mcp_tool_policy_required_scopes(policy, tool, &count);
    mcpauth__tool_policy_set set = {0};
    mcpauth__tool_policy_set_add(&set, base, base_count);
    mcpauth__tool_policy_set_add(&set, own, count);
    char *scope = mcpauth__tool_policy_set_join(&set);
    mcpauth__tool_policy_set_free(&set);
    return scope;
}

const char **mcpauth_mcp_tool_policy_scopes_union(const mcpauth_mcp_tool_policy *policy,
                                                  const char *const *base, size_t base_count,
                                                  size_t *count)
{
    mcpauth__tool_policy_set set = {0};
    mcpauth__tool_policy_set_add(&set, base, base_count);
    if (policy) {
        mcpauth__tool_policy_set_add(&set, (const char *const *)policy->default_scopes,
                                     policy->default_count);
        for (size_t i = 0; i < policy->rule_count; i++)
            mcpauth__tool_policy_set_add(&set, (const char *const *)policy->rules[i].scopes,
                                         policy->rules[i].scope_count);
    }
    /* An empty union is still an array the caller can free. */
    if (!set.failed && !set.items)
        set.items = malloc(sizeof *set.items);
    if (set.failed || !set.items) {
        mcpauth__tool_policy_set_free(&set);
        *count = 0;
        return NULL;
    }
    *count = set.count;
    return set.items;
}
