/* What a validated access token says, and the checks a resource server makes
 * on it whatever validated it (introspection or a local JWT check): active,
 * expiry with leeway, issuer, audience (RFC 8707 / RFC 9068 §4) and required
 * scopes. Pure; nothing blocks. */
#ifndef MCPAUTH_TOKEN_H
#define MCPAUTH_TOKEN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcpauth/error.h"

#define MCPAUTH_TOKEN_MAX_SCOPES 64
#define MCPAUTH_TOKEN_MAX_AUDIENCES 16

/* The claims we use. Strings are owned by the struct. */
typedef struct mcpauth_token_info {
    bool active;
    char *subject;   /* sub */
    char *client_id; /* client_id */
    char *username;  /* username (the seed greets by it) */
    char *issuer;    /* iss */
    char **scopes;   /* from "scope" (space-separated) or "scp" (array) */
    size_t scope_count;
    char **audiences; /* aud (string or array) and resource (RFC 8707), merged */
    size_t audience_count;
    int64_t expires_at; /* exp; 0 when absent */
    int64_t issued_at;  /* iat; 0 when absent */
    int64_t not_before; /* nbf; 0 when absent */
} mcpauth_token_info;

/* Reads an RFC 7662 §2.2 introspection response. active must be a boolean
 * (else MCPAUTH_EREMOTE); for active tokens the other members are taken when
 * present and of the right type; wrong types are MCPAUTH_EREMOTE. Bounded:
 * more than 64 scopes or 16 audiences is MCPAUTH_EREMOTE. The caller frees
 * *out with mcpauth_token_info_free(). */
mcpauth_status mcpauth_token_info_from_json(json_object *claims, mcpauth_token_info *out,
                                            mcpauth_error *err);

/* Reads the claims of a verified JWT access token (RFC 9068 §2.2) the same
 * way: active is set true (there is no "active" member), scope from "scope"
 * (string) or "scp" (array), aud a string or an array ("resource" is not a
 * JWT claim and is ignored), exp/iat/nbf NumericDates (RFC 7519 §2; a
 * fraction is rounded towards the stricter reading). Wrong types and the
 * same bounds are MCPAUTH_EREMOTE. The caller frees *out with
 * mcpauth_token_info_free(). */
mcpauth_status mcpauth_token_info_from_claims(json_object *claims, mcpauth_token_info *out,
                                              mcpauth_error *err);

/* Deep copy; false on allocation failure (out is then zeroed). */
bool mcpauth_token_info_copy(const mcpauth_token_info *in, mcpauth_token_info *out);

void mcpauth_token_info_free(mcpauth_token_info *info);

typedef enum mcpauth_token_verdict {
    MCPAUTH_TOKEN_VALID,
    MCPAUTH_TOKEN_INVALID,            /* 401 invalid_token */
    MCPAUTH_TOKEN_INSUFFICIENT_SCOPE, /* 403 insufficient_scope */
} mcpauth_token_verdict;

/* What the resource server requires. Borrowed strings. */
typedef struct mcpauth_token_policy {
    const char *issuer;              /* iss must equal it when present; NULL: not checked */
    const char *const *audiences;    /* at least one must be among the token's */
    size_t audience_count;           /* 0: audience not checked (only with --no-audience-check) */
    const char *const *required_scopes;
    size_t required_scope_count;
    int64_t leeway_seconds;          /* for exp / nbf / iat */
    bool require_expiry;             /* a token without exp is invalid */
} mcpauth_token_policy;

/* Applies policy to info at time now (seconds since the epoch). On anything
 * but VALID, reason receives one line saying exactly what failed ("expired
 * 12 s ago", "audience [\"x\"] does not include https://rs/mcp", "missing
 * scope mcp"), never the token. Audience comparison follows MCP's canonical
 * URI rule: scheme and host compare case-insensitively and one trailing '/'
 * is ignored. Scope checks come last, so INSUFFICIENT_SCOPE means the token
 * is otherwise good. */
mcpauth_token_verdict mcpauth_token_check(const mcpauth_token_policy *policy,
                                          const mcpauth_token_info *info, int64_t now,
                                          char *reason, size_t reason_size);

/* True when info carries every scope in required[0..count). */
bool mcpauth_token_has_scopes(const mcpauth_token_info *info, const char *const *required,
                              size_t count);

#endif
