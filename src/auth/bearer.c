/* RFC 6750 on the resource server: reading "Authorization: Bearer <token>"
 * and writing the WWW-Authenticate challenge that answers a 401 or 403. */
#include "mcpauth/bearer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/strbuf.h"

/* RFC 6750 §3: error_description is cut so a long message cannot bloat every
 * response header. */
#define DESCRIPTION_MAX 200

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 9110 §5.6.2 tchar: what an auth-scheme is made of. */
static bool is_tchar(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 6750 §2.1 b64token characters, before the trailing "=" padding. */
static bool is_b64token_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("-._~+/", c) != NULL);
}

/* RFC 9110 §5.6.3 OWS. */
static bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static char to_lower(unsigned char c)
{
    return (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/* The scheme is compared without the locale: "BEARER" must match in any of
 * them (RFC 9110 §11.1: auth-scheme is case-insensitive). */
static bool is_bearer_scheme(const char *scheme, size_t length)
{
    static const char bearer[] = "bearer";
    if (length != sizeof bearer - 1)
        return false;
    for (size_t i = 0; i < length; i++) {
        if (to_lower((unsigned char)scheme[i]) != bearer[i])
            return false;
    }
    return true;
}

static mcpauth_bearer_status extract_one(const char *value, size_t max_length, const char **token,
                                         size_t *length)
{
    const unsigned char *p = (const unsigned char *)value;

    /* RFC 9110 §5.5: whitespace around a field value is not part of it; an
     * HTTP parser normally strips it already. */
    while (is_ows(*p))
        p++;
    const unsigned char *scheme = p;
    while (is_tchar(*p))
        p++;
    size_t scheme_length = (size_t)(p - scheme);
    if (scheme_length == 0)
        return MCPAUTH_BEARER_MALFORMED;
    /* RFC 6750 §3.1: a request with another scheme carries no bearer
     * credentials at all; its syntax is that scheme's business. */
    if (!is_bearer_scheme((const char *)scheme, scheme_length))
        return MCPAUTH_BEARER_OTHER_SCHEME;

    /* RFC 6750 §2.1: "Bearer" 1*SP b64token. Only spaces separate them; a
     * tab is not SP. */
    if (*p != ' ')
        return MCPAUTH_BEARER_MALFORMED;
    while (*p == ' ')
        p++;

    const unsigned char *start = p;
    while (is_b64token_char(*p))
        p++;
    if (p == start)
        return MCPAUTH_BEARER_MALFORMED;
    while (*p == '=')
        p++;
    size_t token_length = (size_t)(p - start);

    while (is_ows(*p))
        p++;
    if (*p != '\0')
        return MCPAUTH_BEARER_MALFORMED;
    if (token_length > max_length)
        return MCPAUTH_BEARER_MALFORMED;

    *token = (const char *)start;
    *length = token_length;
    return MCPAUTH_BEARER_FOUND;
}

mcpauth_bearer_status mcpauth_bearer_extract(const char *const *values, size_t count,
                                             size_t max_length, const char **token, size_t *length)
{
    const char *found = NULL;
    size_t found_length = 0;
    mcpauth_bearer_status status;

    if (count == 0 || !values)
        status = MCPAUTH_BEARER_NONE;
    else if (count > 1)
        /* RFC 6750 §3.1 / OAuth 2.1 §5.1: one credential per request; with
         * several fields we cannot tell which one the client meant. */
        status = MCPAUTH_BEARER_MALFORMED;
    else if (!values[0])
        status = MCPAUTH_BEARER_NONE;
    else
        status = extract_one(values[0], max_length, &found, &found_length);

    if (token)
        *token = status == MCPAUTH_BEARER_FOUND ? found : NULL;
    if (length)
        *length = status == MCPAUTH_BEARER_FOUND ? found_length : 0;
    return status;
}

/* RFC 6750 §3: the error and error_description values may hold only
 * %x20-21 / %x23-5B / %x5D-7E, i.e. printable ASCII without '"' and '\'. */
static bool is_description_char(unsigned char c)
{
    return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\';
}

/* The same set without the space: RFC 6749 §3.3 scope-token and a URI. */
static bool is_nospace_char(unsigned char c)
{
    return c != ' ' && is_description_char(c);
}

static bool is_valid_error(const char *error)
{
    if (!error || !*error)
        return false;
    for (const unsigned char *p = (const unsigned char *)error; *p; p++) {
        if (!is_description_char(*p))
            return false;
    }
    return true;
}

/* A URI never contains a space, '"' or '\' (RFC 3986 §2), so anything that
 * does cannot be the metadata URL and would break the quoted-string. */
static bool is_valid_uri(const char *uri)
{
    if (!uri || !*uri)
        return false;
    for (const unsigned char *p = (const unsigned char *)uri; *p; p++) {
        if (!is_nospace_char(*p))
            return false;
    }
    return true;
}

/* RFC 6749 §3.3: scope = scope-token *( SP scope-token ), so no leading,
 * trailing or doubled spaces. */
static bool is_valid_scope(const char *scope)
{
    if (!scope || !*scope)
        return false;
    bool after_space = true;
    for (const unsigned char *p = (const unsigned char *)scope; *p; p++) {
        if (*p == ' ') {
            if (after_space)
                return false;
            after_space = true;
        } else if (is_nospace_char(*p)) {
            after_space = false;
        } else {
            return false;
        }
    }
    return !after_space;
}

static void append_param(mcpauth_strbuf *sb, const char *name, const char *value, size_t length)
{
    mcpauth_strbuf_appends(sb, sb->length > strlen("Bearer") ? ", " : " ");
    mcpauth_strbuf_appends(sb, name);
    mcpauth_strbuf_appends(sb, "=\"");
    mcpauth_strbuf_append(sb, value, length);
    mcpauth_strbuf_appends(sb, "\"");
}

static void append_description(mcpauth_strbuf *sb, const char *description)
{
    char clean[DESCRIPTION_MAX];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)description; *p && n < sizeof clean; p++)
        clean[n++] = is_description_char(*p) ? (char)*p : '?';
    append_param(sb, "error_description", clean, n);
}

/* scope without the token offline_access (MCP 2026-07-28 authorization
 * §Refresh Tokens: it asks for a refresh token and is no resource
 * requirement, so a challenge must not send a client after it). Valid
 * scope in, valid scope (possibly empty) out; NULL on allocation failure. */
static char *without_offline_access(const char *scope)
{
    static const char offline[] = "offline_access";
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, "");
    for (const char *p = scope; *p;) {
        size_t n = strcspn(p, " ");
        if (!(n == sizeof offline - 1 && memcmp(p, offline, n) == 0)) {
            if (sb.length > 0)
                mcpauth_strbuf_append(&sb, " ", 1);
            mcpauth_strbuf_append(&sb, p, n);
        }
        p += n;
        p += *p == ' ';
    }
    return mcpauth_strbuf_detach(&sb);
}

/* A value the caller passes that cannot be written as RFC 6750 §3 allows
 * (other than error_description, which is repaired) is left out: a header a
 * client cannot parse is worse than one that lacks a parameter. */
char *mcpauth_bearer_challenge(const char *resource_metadata_url, const char *scope,
                               const char *error, const char *error_description)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;

    mcpauth_strbuf_appends(&sb, "Bearer");
    if (is_valid_uri(resource_metadata_url))
        append_param(&sb, "resource_metadata", resource_metadata_url,
                     strlen(resource_metadata_url));
    if (is_valid_scope(scope)) {
        char *kept = without_offline_access(scope);
        if (!kept) {
            mcpauth_strbuf_free(&sb);
            return NULL;
        }
        if (*kept)
            append_param(&sb, "scope", kept, strlen(kept));
        free(kept);
    }
    /* error_description explains an error; on its own it would suggest
     * one without saying which (RFC 6750 §3.1 leaves both out when the
     * request had no credentials). */
    if (is_valid_error(error)) {
        append_param(&sb, "error", error, strlen(error));
        if (error_description && *error_description)
            append_description(&sb, error_description);
    }
    return mcpauth_strbuf_detach(&sb);
}
