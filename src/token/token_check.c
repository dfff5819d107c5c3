/* The checks a resource server makes on a token however it was validated:
 * active, time window, issuer, audience, scopes, in that order, each saying
 * exactly what failed (RFC 9068 §4, RFC 7662 §2.2, RFC 8707, MCP
 * "Token Handling"). */
#include "mcpauth/token.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mcpauth/scope_implies.h"
#include "mcpauth/url.h"

/* How much of the token's audience list goes into a reason: the reason is
 * one log line, not a dump, and must leave room in a 256-byte buffer (a
 * cache entry's) for the expected audience. */
#define AUDIENCE_LIST_MAX 160
#define AUDIENCE_ITEM_MAX 64

/* Timestamps come from the network (or a JWT) and may be absurd; the
 * arithmetic must not overflow on them. */
static int64_t add_saturated(int64_t a, int64_t b)
{
    int64_t sum;
    if (__builtin_add_overflow(a, b, &sum))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return sum;
}

static int64_t sub_saturated(int64_t a, int64_t b)
{
    int64_t difference;
    if (__builtin_sub_overflow(a, b, &difference))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return difference;
}

static mcpauth_token_verdict fail(mcpauth_token_verdict verdict, char *reason, size_t reason_size,
                                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static mcpauth_token_verdict fail(mcpauth_token_verdict verdict, char *reason, size_t reason_size,
                                  const char *fmt, ...)
{
    if (reason && reason_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, reason_size, fmt, ap);
        va_end(ap);
    }
    return verdict;
}

/* MCP Authorization, "Canonical Server URI": the audience names the resource
 * however its scheme and host are cased, with or without a trailing '/'. */
static bool has_audience(const mcpauth_token_info *info, const char *expected)
{
    for (size_t i = 0; i < info->audience_count; i++) {
        if (info->audiences[i] && mcpauth_url_canonical_equal(info->audiences[i], expected))
            return true;
    }
    return false;
}

static bool has_scope(const mcpauth_token_info *info, const char *scope)
{
    /* RFC 6749 §3.3: scope tokens are case-sensitive. */
    for (size_t i = 0; i < info->scope_count; i++) {
        if (info->scopes[i] && strcmp(info->scopes[i], scope) == 0)
            return true;
    }
    return false;
}

/* A fixed buffer that text is appended to until it is full; then it ends in
 * "..." and takes nothing more. */
typedef struct cut_buffer {
    char *data;
    size_t size; /* at least 4 */
    size_t length;
    bool cut;
} cut_buffer;

static void cut_append(cut_buffer *b, const char *text)
{
    static const char ellipsis[] = "...";
    if (b->cut)
        return;
    size_t n = strlen(text);
    if (b->length + n < b->size) {
        memcpy(b->data + b->length, text, n + 1);
        b->length += n;
        return;
    }
    size_t at = b->size - sizeof ellipsis;
    if (at > b->length)
        memcpy(b->data + b->length, text, at - b->length);
    memcpy(b->data + at, ellipsis, sizeof ellipsis);
    b->length = b->size - 1;
    b->cut = true;
}

/* ["a", "b"] with each audience quoted and escaped: it is remote text and
 * goes into logs. */
static void describe_audiences(const mcpauth_token_info *info, char *buf, size_t size)
{
    cut_buffer b = {buf, size, 0, false};
    buf[0] = '\0';
    cut_append(&b, "[");
    for (size_t i = 0; i < info->audience_count; i++) {
        char quoted[AUDIENCE_ITEM_MAX];
        if (i > 0)
            cut_append(&b, ", ");
        cut_append(&b, mcpauth_url_quote(info->audiences[i], quoted, sizeof quoted));
    }
    cut_append(&b, "]");
}

static mcpauth_token_verdict check_time(const mcpauth_token_policy *policy,
                                        const mcpauth_token_info *info, int64_t now, char *reason,
                                        size_t reason_size)
{
    int64_t leeway = policy->leeway_seconds > 0 ? policy->leeway_seconds : 0;

    if (info->expires_at == 0) {
        /* RFC 9068 §2.2 makes exp mandatory; a token that never expires
         * cannot be revoked by waiting. */
        if (policy->require_expiry)
            return fail(MCPAUTH_TOKEN_INVALID, reason, reason_size, "token has no expiry (exp)");
    } else if (add_saturated(info->expires_at, leeway) < now) {
        return fail(MCPAUTH_TOKEN_INVALID, reason, reason_size, "expired %" PRId64 " s ago",
                    sub_saturated(now, info->expires_at));
    }
    /* RFC 7519 §4.1.5 */
    if (info->not_before != 0 && sub_saturated(info->not_before, leeway) > now)
        return fail(MCPAUTH_TOKEN_INVALID, reason, reason_size,
                    "not valid for another %" PRId64 " s", sub_saturated(info->not_before, now));
    /* RFC 9068 §4 / RFC 7519 §4.1.6: a token from the future means clocks
     * disagree or the token was forged; either way it is not to be used. */
    if (info->issued_at != 0 && sub_saturated(info->issued_at, leeway) > now)
        return fail(MCPAUTH_TOKEN_INVALID, reason, reason_size,
                    "issued %" PRId64 " s in the future", sub_saturated(info->issued_at, now));
    return MCPAUTH_TOKEN_VALID;
}

/* RFC 8707 §2 / MCP "Token Handling": the token must name this resource, so
 * a token issued for another server cannot be replayed here. */
static mcpauth_token_verdict check_audience(const mcpauth_token_policy *policy,
                                            const mcpauth_token_info *info, char *reason,
                                            size_t reason_size)
{
    if (policy->audience_count == 0)
        return MCPAUTH_TOKEN_VALID;
    if (info->audience_count == 0)
        return fail(MCPAUTH_TOKEN_INVALID, reason, reason_size, "token has no audience");
    for (size_t i = 0; i < policy->audience_count; i++) {
        if (policy->audiences[i] && has_audience(info, policy->audiences[i]))
            return MCPAUTH_TOKEN_VALID;
    }
    char list[AUDIENCE_LIST_MAX];
    describe_audiences(info, list, sizeof list);
    const char *expected = policy->audiences[0] ? policy->audiences[0] : "(none)";
    if (policy->audience_count == 1)
        return fail(MCPAUTH_TOKEN_INVALID, reason, reason_size, "audience %s does not include %s",
                    list, expected);
    return fail(MCPAUTH_TOKEN_INVALID, reason, reason_size,
                "audience %s does not include %s or any of %zu others", list, expected,
                policy->audience_count - 1);
}

/* Names every missing scope, so that the log line matches the complete
 * scope list the 403 challenge asks for. */
static mcpauth_token_verdict check_scopes(const mcpauth_token_policy *policy,
                                          const mcpauth_token_info *info, char *reason,
                                          size_t reason_size)
{
    char missing[256];
    cut_buffer b = {missing, sizeof missing, 0, false};
    size_t count = 0;
    missing[0] = '\0';
    for (size_t i = 0; i < policy->required_scope_count; i++) {
        const char *scope = policy->required_scopes[i];
        if (!scope || mcpauth_scope_implies_granted(policy->implies, info, &scope, 1))
            continue;
        if (count++ > 0)
            cut_append(&b, " ");
        cut_append(&b, scope);
    }
    if (count == 0)
        return MCPAUTH_TOKEN_VALID;
    return fail(MCPAUTH_TOKEN_INSUFFICIENT_SCOPE, reason, reason_size, "missing scope%s %s",
                count > 1 ? "s" : "", missing);
}

mcpauth_token_verdict mcpauth_token_check(const mcpauth_token_policy *policy,
                                          const mcpauth_token_info *info, int64_t now, char *reason,
                                          size_t reason_size)
{
    static const mcpauth_token_policy no_policy = {0};
    mcpauth_token_verdict verdict;

    if (reason && reason_size > 0)
        reason[0] = '\0';
    if (!policy)
        policy = &no_policy;
    if (!info)
        return fail(MCPAUTH_TOKEN_INVALID, reason, reason_size, "no token information");
    /* RFC 7662 §2.2: an inactive token carries no usable claims at all. */
    if (!info->active)
        return fail(MCPAUTH_TOKEN_INVALID, reason, reason_size, "token is not active");
    if ((verdict = check_time(policy, info, now, reason, reason_size)) != MCPAUTH_TOKEN_VALID)
        return verdict;
    /* RFC 9068 §4: iss must be the authorization server we trust. */
    if (policy->issuer && info->issuer && strcmp(policy->issuer, info->issuer) != 0) {
        char quoted[MCPAUTH_URL_QUOTE_SIZE];
        return fail(MCPAUTH_TOKEN_INVALID, reason, reason_size, "issuer %s is not %s",
                    mcpauth_url_quote(info->issuer, quoted, sizeof quoted), policy->issuer);
    }
    if ((verdict = check_audience(policy, info, reason, reason_size)) != MCPAUTH_TOKEN_VALID)
        return verdict;
    return check_scopes(policy, info, reason, reason_size);
}

bool mcpauth_token_has_scopes(const mcpauth_token_info *info, const char *const *required,
                              size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (!info || !required[i] || !has_scope(info, required[i]))
            return false;
    }
    return true;
}
