/* What the two files of the tool policy share: a small ordered set of
 * borrowed scope strings, for challenge scopes and scopes_supported. Not
 * part of the public API. */
#ifndef MCPAUTH_TOOL_POLICY_INTERNAL_H
#define MCPAUTH_TOOL_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* Insertion order, each string once. Allocation failure is sticky, like
 * mcpauth_strbuf's: check failed once at the end. */
typedef struct mcpauth__tool_policy_set {
    const char **items; /* borrowed strings; the array is owned */
    size_t count;
    size_t capacity;
    bool failed;
} mcpauth__tool_policy_set;

void mcpauth__tool_policy_set_add(mcpauth__tool_policy_set *set, const char *const *scopes,
                                  size_t count);

/* The members joined by single spaces; caller frees. NULL when an
 * allocation failed, now or earlier. */
char *mcpauth__tool_policy_set_join(const mcpauth__tool_policy_set *set);

void mcpauth__tool_policy_set_free(mcpauth__tool_policy_set *set);

#endif
