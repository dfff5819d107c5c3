/* Scope hierarchies for a resource server: rules "BROAD=NARROW[,NARROW...]"
 * saying that a token holding BROAD may do whatever NARROW allows, and the
 * question every scope check then asks, "does this token hold a scope that
 * is, or implies, the one needed?" (MCP 2026-07-28 authorization §Step-Up
 * Authorization Flow: servers account for scope hierarchies).
 *
 * Implication is transitive: with a=b and b=c, a token holding a satisfies
 * a requirement for c. The closure is computed once, by
 * mcpauth_scope_implies_close(), after the last rule; a rule set whose
 * implications form a cycle (a=b with b=a, or a=a) is refused there, so
 * that no two names mean the same thing by accident of configuration.
 * Scopes no rule names imply nothing and are implied by nothing.
 *
 * Building allocates; questions are pure computation. Nothing blocks,
 * nothing logs. A closed set is immutable, so worker processes forked after
 * it share it. Every function taking a set accepts NULL as the empty set. */
#ifndef MCPAUTH_SCOPE_IMPLIES_H
#define MCPAUTH_SCOPE_IMPLIES_H

#include <stdbool.h>
#include <stddef.h>

#include "mcpauth/error.h"
#include "mcpauth/token.h"

#define MCPAUTH_SCOPE_IMPLIES_MAX_RULES  256 /* rules in one set */
#define MCPAUTH_SCOPE_IMPLIES_MAX_NARROW 32  /* scopes on the right of one rule */
#define MCPAUTH_SCOPE_IMPLIES_MAX_SCOPES 256 /* distinct scopes all rules name */
#define MCPAUTH_SCOPE_TOKEN_MAX          128 /* bytes in one scope token */

typedef struct mcpauth_scope_implies mcpauth_scope_implies;

/* RFC 6749 §3.3: scope-token = 1*NQCHAR (visible ASCII but '"' and '\'),
 * here also at most MCPAUTH_SCOPE_TOKEN_MAX bytes. Anything else could not
 * be sent in a scope parameter or a challenge (RFC 6750 §3). */
bool mcpauth_scope_token_valid(const char *scope);

/* An empty set; NULL on allocation failure. */
mcpauth_scope_implies *mcpauth_scope_implies_new(void);

void mcpauth_scope_implies_free(mcpauth_scope_implies *set);

/* Adds one rule "BROAD=NARROW[,NARROW...]" (--scope-implies): BROAD ends
 * at the first '=', the narrow scopes are split at commas, a scope named
 * twice counts once, and several rules for one BROAD add up. Every name must
 * be a valid scope token (no empty name, no space). MCPAUTH_ELOCAL with one
 * line naming the rule on failure, e.g.
 *   --scope-implies "a=b,,c": empty scope name
 * MCPAUTH_ELOCAL too after mcpauth_scope_implies_close(). The set keeps
 * copies. */
mcpauth_status mcpauth_scope_implies_add(mcpauth_scope_implies *set, const char *rule,
                                         mcpauth_error *err);

/* Computes the transitive closure. MCPAUTH_ELOCAL with one line when the
 * rules form a cycle, naming a rule on it and the cycle:
 *   --scope-implies "b=a": a cycle: a -> b -> a
 * Then the set answers as if it were empty; free it. */
mcpauth_status mcpauth_scope_implies_close(mcpauth_scope_implies *set, mcpauth_error *err);

/* True when held is needed, or implies it through the rules. */
bool mcpauth_scope_implies_covers(const mcpauth_scope_implies *set, const char *held,
                                  const char *needed);

/* True when info (NULL: holds nothing) carries a scope that covers each of
 * needed[0..count). */
bool mcpauth_scope_implies_granted(const mcpauth_scope_implies *set, const mcpauth_token_info *info,
                                   const char *const *needed, size_t count);

/* Every scope the rules name, broad and narrow, each once, in the order
 * they first appear. Borrowed from the set; *count may be 0. */
const char *const *mcpauth_scope_implies_scopes(const mcpauth_scope_implies *set, size_t *count);

#endif
