/* Scope implication rules and their transitive closure. Scopes are nodes
 * numbered in order of appearance; each node's direct implications and its
 * closure are bit sets over the nodes, so the closure is Warshall's
 * algorithm on 256-bit rows and a question is a few string compares. */
#include "mcpauth/scope_implies.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORDS  (MCPAUTH_SCOPE_IMPLIES_MAX_SCOPES / 64)
#define QUOTED (MCPAUTH_SCOPE_TOKEN_MAX * 2 + 16) /* a rule echoed in a message */

typedef struct row {
    uint64_t bits[WORDS];
} row;

/* One edge BROAD -> NARROW and the rule that made it, for messages. */
typedef struct edge {
    uint16_t from, to, rule;
} edge;

struct mcpauth_scope_implies {
    char *names[MCPAUTH_SCOPE_IMPLIES_MAX_SCOPES];
    size_t name_count;
    row direct[MCPAUTH_SCOPE_IMPLIES_MAX_SCOPES];
    row closure[MCPAUTH_SCOPE_IMPLIES_MAX_SCOPES];
    char *rules[MCPAUTH_SCOPE_IMPLIES_MAX_RULES];
    size_t rule_count;
    edge edges[MCPAUTH_SCOPE_IMPLIES_MAX_RULES * MCPAUTH_SCOPE_IMPLIES_MAX_NARROW];
    size_t edge_count;
    bool closed;
    bool broken; /* close() found a cycle: the set answers as empty */
};

static bool bit(const row *r, size_t i)
{
    return (r->bits[i / 64] >> (i % 64)) & 1;
}

static void set_bit(row *r, size_t i)
{
    r->bits[i / 64] |= UINT64_C(1) << (i % 64);
}

bool mcpauth_scope_token_valid(const char *scope)
{
    size_t n = strnlen(scope, MCPAUTH_SCOPE_TOKEN_MAX + 1);
    if (n == 0 || n > MCPAUTH_SCOPE_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)scope[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return false;
    }
    return true;
}

/* text as a double-quoted string cut to fit, bytes outside visible ASCII
 * and '"' '\' escaped: the message stays one printable line. */
static const char *quote(const char *text, char *out, size_t size)
{
    size_t n = 0;
    out[n++] = '"';
    for (size_t i = 0; text[i] && n + 8 < size; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\')
            n += (size_t)snprintf(out + n, size - n, "\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            n += (size_t)snprintf(out + n, size - n, "\\x%02x", c);
        else
            out[n++] = (char)c;
        if (text[i + 1] && n + 8 >= size)
            n += (size_t)snprintf(out + n, size - n, "...");
    }
    snprintf(out + n, size - n, "\"");
    return out;
}

mcpauth_scope_implies *mcpauth_scope_implies_new(void)
{
    return calloc(1, sizeof(mcpauth_scope_implies));
}

void mcpauth_scope_implies_free(mcpauth_scope_implies *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->name_count; i++)
        free(set->names[i]);
    for (size_t i = 0; i < set->rule_count; i++)
        free(set->rules[i]);
    free(set);
}

/* The node of name; -1 when no rule names it. */
static int find(const mcpauth_scope_implies *set, const char *name)
{
    for (size_t i = 0; i < set->name_count; i++) {
        if (strcmp(set->names[i], name) == 0)
            return (int)i;
    }
    return -1;
}

/* The node of name, added when new; -1 when the set is full or memory is. */
static int intern(mcpauth_scope_implies *set, const char *name)
{
    int i = find(set, name);
    if (i >= 0 || set->name_count == MCPAUTH_SCOPE_IMPLIES_MAX_SCOPES)
        return i;
    if (!(set->names[set->name_count] = strdup(name)))
        return -1;
    return (int)set->name_count++;
}

/* Checks a rule and splits a copy of it in place: *broad, then narrow[]. */
static mcpauth_status parse_rule(char *copy, const char *quoted, char **broad, char **narrow,
                                 size_t *count, mcpauth_error *err)
{
    char *equals = strchr(copy, '=');
    if (!equals)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                 "--scope-implies %s: not BROAD=NARROW[,NARROW...]", quoted);
    *equals = '\0';
    *broad = copy;
    *count = 0;
    for (char *p = equals + 1; p;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*count == MCPAUTH_SCOPE_IMPLIES_MAX_NARROW)
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "--scope-implies %s: more than %d scopes",
                                     quoted, MCPAUTH_SCOPE_IMPLIES_MAX_NARROW);
        narrow[(*count)++] = p;
        p = comma ? comma + 1 : NULL;
    }
    char item[QUOTED];
    for (size_t i = 0; i <= *count; i++) {
        const char *name = i == 0 ? *broad : narrow[i - 1];
        if (!name[0])
            return mcpauth_error_set(err, MCPAUTH_ELOCAL, "--scope-implies %s: empty scope name",
                                     quoted);
        if (!mcpauth_scope_token_valid(name))
            return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                     "--scope-implies %s: %s is not a valid scope token (RFC 6749 "
                                     "§3.3: 1 to %d visible ASCII characters, no '\"' or '\\')",
                                     quoted, quote(name, item, sizeof item),
                                     MCPAUTH_SCOPE_TOKEN_MAX);
    }
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_scope_implies_add(mcpauth_scope_implies *set, const char *rule,
                                         mcpauth_error *err)
{
    char quoted[QUOTED];
    quote(rule, quoted, sizeof quoted);
    if (set->closed)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "--scope-implies %s: rules are closed",
                                 quoted);
    if (set->rule_count == MCPAUTH_SCOPE_IMPLIES_MAX_RULES)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "--scope-implies %s: more than %d rules",
                                 quoted, MCPAUTH_SCOPE_IMPLIES_MAX_RULES);
    char *copy = strdup(rule);
    if (!copy)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    char *broad = NULL, *narrow[MCPAUTH_SCOPE_IMPLIES_MAX_NARROW];
    size_t count = 0;
    mcpauth_status status = parse_rule(copy, quoted, &broad, narrow, &count, err);
    int from = status == MCPAUTH_OK ? intern(set, broad) : 0;
    for (size_t i = 0; status == MCPAUTH_OK && i < count; i++) {
        int to = intern(set, narrow[i]);
        if (from < 0 || to < 0) {
            status = mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                       "--scope-implies %s: more than %d distinct scopes in all "
                                       "rules (or out of memory)",
                                       quoted, MCPAUTH_SCOPE_IMPLIES_MAX_SCOPES);
            break;
        }
        if (bit(&set->direct[from], (size_t)to))
            continue; /* named before: once is enough */
        set_bit(&set->direct[from], (size_t)to);
        set->edges[set->edge_count++] =
            (edge){(uint16_t)from, (uint16_t)to, (uint16_t)set->rule_count};
    }
    free(copy);
    if (status != MCPAUTH_OK)
        return status;
    if (!(set->rules[set->rule_count] = strdup(rule)))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    set->rule_count++;
    return MCPAUTH_OK;
}

static size_t edge_rule(const mcpauth_scope_implies *set, size_t from, size_t to)
{
    for (size_t i = 0; i < set->edge_count; i++) {
        if (set->edges[i].from == from && set->edges[i].to == to)
            return set->edges[i].rule;
    }
    return 0;
}

/* Start is on a cycle: finds the shortest way back to it over direct
 * implications (breadth first) and reports it with the rule of its first
 * step. */
static mcpauth_status report_cycle(mcpauth_scope_implies *set, size_t start, mcpauth_error *err)
{
    size_t parent[MCPAUTH_SCOPE_IMPLIES_MAX_SCOPES], queue[MCPAUTH_SCOPE_IMPLIES_MAX_SCOPES];
    row seen = {{0}};
    size_t head = 0, tail = 0, last = start;
    queue[tail++] = start;
    set_bit(&seen, start);
    while (head < tail) {
        size_t at = queue[head++];
        if (bit(&set->direct[at], start)) {
            last = at;
            break;
        }
        for (size_t next = 0; next < set->name_count; next++) {
            if (bit(&set->direct[at], next) && !bit(&seen, next)) {
                set_bit(&seen, next);
                parent[next] = at;
                queue[tail++] = next;
            }
        }
    }
    /* The path start -> ... -> last, walked back from last. */
    size_t path[MCPAUTH_SCOPE_IMPLIES_MAX_SCOPES], length = 0;
    for (size_t at = last;; at = parent[at]) {
        path[length++] = at;
        if (at == start)
            break;
    }
    char text[512];
    size_t n = 0;
    for (size_t i = length; i-- > 0 && n < sizeof text;)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s -> ", set->names[path[i]]);
    if (n < sizeof text)
        snprintf(text + n, sizeof text - n, "%s", set->names[start]);
    size_t first_to = length > 1 ? path[length - 2] : start;
    char quoted[QUOTED];
    quote(set->rules[edge_rule(set, start, first_to)], quoted, sizeof quoted);
    set->broken = true;
    if (length == 1)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "--scope-implies %s: %s implies itself",
                                 quoted, set->names[start]);
    return mcpauth_error_set(err, MCPAUTH_ELOCAL, "--scope-implies %s: the rules form a cycle: %s",
                             quoted, text);
}

mcpauth_status mcpauth_scope_implies_close(mcpauth_scope_implies *set, mcpauth_error *err)
{
    if (set->closed)
        return MCPAUTH_OK;
    set->closed = true;
    size_t n = set->name_count;
    memcpy(set->closure, set->direct, n * sizeof set->closure[0]);
    /* Warshall: after step k, i reaches j through nodes up to k. */
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < n; i++) {
            if (!bit(&set->closure[i], k))
                continue;
            for (size_t w = 0; w < WORDS; w++)
                set->closure[i].bits[w] |= set->closure[k].bits[w];
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (bit(&set->closure[i], i))
            return report_cycle(set, i, err);
    }
    return MCPAUTH_OK;
}

bool mcpauth_scope_implies_covers(const mcpauth_scope_implies *set, const char *held,
                                  const char *needed)
{
    /* RFC 6749 §3.3: scope tokens are case-sensitive. */
    if (strcmp(held, needed) == 0)
        return true;
    if (!set || !set->closed || set->broken)
        return false;
    int from = find(set, held), to = find(set, needed);
    return from >= 0 && to >= 0 && bit(&set->closure[from], (size_t)to);
}

bool mcpauth_scope_implies_granted(const mcpauth_scope_implies *set, const mcpauth_token_info *info,
                                   const char *const *needed, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        bool found = false;
        for (size_t j = 0; info && needed[i] && j < info->scope_count && !found; j++)
            found =
                info->scopes[j] && mcpauth_scope_implies_covers(set, info->scopes[j], needed[i]);
        if (!found)
            return false;
    }
    return true;
}

const char *const *mcpauth_scope_implies_scopes(const mcpauth_scope_implies *set, size_t *count)
{
    *count = set && !set->broken ? set->name_count : 0;
    return set ? (const char *const *)set->names : NULL;
}
