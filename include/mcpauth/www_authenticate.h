/* RFC 9110 §11.6.1 WWW-Authenticate parsing (challenges with auth-params or a
 * token68), tolerant of repeated headers, case-insensitive scheme and
 * parameter names, quoted-strings with backslash escapes and BWS around '='.
 * Pure; nothing here blocks. */
#ifndef MCPAUTH_WWW_AUTHENTICATE_H
#define MCPAUTH_WWW_AUTHENTICATE_H

#include <stddef.h>

#include "mcpauth/error.h"

typedef struct mcpauth_auth_param {
    char *name;  /* lower-cased */
    char *value; /* unquoted, escapes resolved */
} mcpauth_auth_param;

typedef struct mcpauth_challenge {
    char *scheme;  /* as received */
    char *token68; /* NULL unless the challenge carries a token68 */
    mcpauth_auth_param *params;
    size_t param_count;
} mcpauth_challenge;

typedef struct mcpauth_challenge_list {
    mcpauth_challenge *items;
    size_t count;
} mcpauth_challenge_list;

/* Parses one header field value and appends its challenges to list (so a
 * caller can feed every WWW-Authenticate line). MCPAUTH_EREMOTE on syntax
 * errors; the list keeps what was parsed before the error. The caller frees
 * the list with mcpauth_challenge_list_free(). Values longer than 8 KiB are
 * rejected. */
mcpauth_status mcpauth_www_authenticate_parse(const char *value, mcpauth_challenge_list *list,
                                              mcpauth_error *err);

/* The first challenge whose scheme matches (case-insensitive), or NULL. */
const mcpauth_challenge *mcpauth_challenge_find(const mcpauth_challenge_list *list,
                                                const char *scheme);

/* The value of parameter name (case-insensitive) in c, or NULL. Borrowed. */
const char *mcpauth_challenge_param(const mcpauth_challenge *c, const char *name);

void mcpauth_challenge_list_free(mcpauth_challenge_list *list);

#endif
