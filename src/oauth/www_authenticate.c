/* RFC 9110 §11.6.1 WWW-Authenticate:
 *
 *   WWW-Authenticate = #challenge
 *   challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param       = token BWS "=" BWS ( token / quoted-string )
 *   token68          = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 *
 * The list syntax (RFC 9110 §5.6.1) makes the commas between challenges and
 * between one challenge's parameters the same character, so after each comma
 * the parser looks ahead: "token BWS = BWS value" continues the current
 * challenge, anything else starts a new one. The header value comes from
 * whatever server the user pointed us at, so it is bounded and every byte is
 * checked against the grammar. */
#include "mcpauth/www_authenticate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcpauth/url.h"

#define WWW_AUTHENTICATE_MAX 8192

typedef struct parser {
    const char *text;
    size_t length;
    size_t pos;
    mcpauth_error *err;
} parser;

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 9110 §11.2 token68 characters, without the trailing '='s. */
static bool is_token68_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~+/", c));
}

static bool is_ows(int c)
{
    return c == ' ' || c == '\t';
}

static int peek(const parser *p, size_t at)
{
    return at < p->length ? (unsigned char)p->text[at] : '\0';
}

static size_t skip_ows(const parser *p, size_t at)
{
    while (is_ows(peek(p, at)))
        at++;
    return at;
}

static size_t token_end(const parser *p, size_t at)
{
    while (is_tchar(peek(p, at)))
        at++;
    return at;
}

static bool at_end(const parser *p)
{
    return p->pos >= p->length;
}

static mcpauth_status syntax_error(parser *p, const char *what)
{
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    return mcpauth_error_set(p->err, MCPAUTH_EREMOTE,
                             "malformed WWW-Authenticate header %s: %s at offset %zu "
                             "(RFC 9110 §11.6.1)",
                             mcpauth_url_quote(p->text, quoted, sizeof quoted), what, p->pos);
}

static mcpauth_status oom(parser *p)
{
    return mcpauth_error_set(p->err, MCPAUTH_ELOCAL, "out of memory");
}

static char *dup_range(const char *text, size_t length, bool lower)
{
    char *copy = malloc(length + 1);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        copy[i] = (lower && c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    copy[length] = '\0';
    return copy;
}

static void challenge_clear(mcpauth_challenge *c)
{
    free(c->scheme);
    free(c->token68);
    for (size_t i = 0; i < c->param_count; i++) {
        free(c->params[i].name);
        free(c->params[i].value);
    }
    free(c->params);
    memset(c, 0, sizeof *c);
}

/* True when "token BWS = BWS ( token / DQUOTE )" starts at p->pos: an
 * auth-param. A token68 such as "abc==" fails this, since after its first '='
 * comes another '=' or the end, never a value. */
static bool auth_param_ahead(const parser *p)
{
    size_t at = token_end(p, p->pos);
    if (at == p->pos)
        return false;
    at = skip_ows(p, at);
    if (peek(p, at) != '=')
        return false;
    at = skip_ows(p, at + 1);
    return is_tchar(peek(p, at)) || peek(p, at) == '"';
}

/* quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4);
 * p->pos is on the opening quote. The unescaped value is never longer than
 * the text. */
static mcpauth_status parse_quoted(parser *p, char **out)
{
    char *value = malloc(p->length - p->pos + 1);
    size_t n = 0;

    if (!value)
        return oom(p);
    p->pos++;
    for (;;) {
        int c = peek(p, p->pos);
        if (at_end(p)) {
            free(value);
            return syntax_error(p, "unterminated quoted-string");
        }
        if (c == '"')
            break;
        if (c == '\\') {
            p->pos++;
            c = peek(p, p->pos);
            if (at_end(p)) {
                free(value);
                return syntax_error(p, "unterminated quoted-string");
            }
        }
        /* qdtext and quoted-pair: HTAB, SP, VCHAR, obs-text; no controls. */
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            free(value);
            return syntax_error(p, "control character in a quoted-string");
        }
        value[n++] = (char)c;
        p->pos++;
    }
    p->pos++;
    value[n] = '\0';
    *out = value;
    return MCPAUTH_OK;
}

static mcpauth_status add_param(parser *p, mcpauth_challenge *c, char *name, char *value)
{
    /* RFC 9110 §11.2: "Each parameter name MUST only occur once per
     * challenge." Two resource_metadata values would be a choice we should
     * not make silently. */
    for (size_t i = 0; i < c->param_count; i++) {
        if (strcmp(c->params[i].name, name) == 0) {
            char message[96];
            snprintf(message, sizeof message, "parameter \"%.40s\" repeated", name);
            free(name);
            free(value);
            return syntax_error(p, message);
        }
    }
    mcpauth_auth_param *params = realloc(c->params, (c->param_count + 1) * sizeof *params);
    if (!params) {
        free(name);
        free(value);
        return oom(p);
    }
    c->params = params;
    c->params[c->param_count].name = name;
    c->params[c->param_count].value = value;
    c->param_count++;
    return MCPAUTH_OK;
}

/* auth-param = token BWS "=" BWS ( token / quoted-string ) */
static mcpauth_status parse_auth_param(parser *p, mcpauth_challenge *c)
{
    size_t name_start = p->pos;
    size_t name_end = token_end(p, p->pos);
    char *value = NULL;

    p->pos = skip_ows(p, name_end);
    if (name_end == name_start || peek(p, p->pos) != '=')
        return syntax_error(p, "expected name=value");
    p->pos = skip_ows(p, p->pos + 1);
    if (peek(p, p->pos) == '"') {
        mcpauth_status status = parse_quoted(p, &value);
        if (status != MCPAUTH_OK)
            return status;
    } else {
        size_t value_end = token_end(p, p->pos);
        if (value_end == p->pos)
            return syntax_error(p, "expected a token or quoted-string value");
        if (!(value = dup_range(p->text + p->pos, value_end - p->pos, false)))
            return oom(p);
        p->pos = value_end;
    }
    char *name = dup_range(p->text + name_start, name_end - name_start, true);
    if (!name) {
        free(value);
        return oom(p);
    }
    return add_param(p, c, name, value);
}

/* Skips OWS and the commas of empty list elements (RFC 9110 §5.6.1.2). */
static void skip_separators(parser *p)
{
    while (!at_end(p) && (is_ows(peek(p, p->pos)) || peek(p, p->pos) == ','))
        p->pos++;
}

/* After an element: OWS, then the end or a comma. */
static mcpauth_status expect_separator(parser *p)
{
    p->pos = skip_ows(p, p->pos);
    if (!at_end(p) && peek(p, p->pos) != ',')
        return syntax_error(p, "expected ',' or the end");
    return MCPAUTH_OK;
}

static mcpauth_status parse_params(parser *p, mcpauth_challenge *c)
{
    for (;;) {
        mcpauth_status status = parse_auth_param(p, c);
        if (status == MCPAUTH_OK)
            status = expect_separator(p);
        if (status != MCPAUTH_OK)
            return status;
        size_t comma = p->pos;
        skip_separators(p);
        if (at_end(p))
            return MCPAUTH_OK;
        if (!auth_param_ahead(p)) {
            /* The next challenge's scheme; leave it for the caller. */
            p->pos = comma;
            return MCPAUTH_OK;
        }
    }
}

/* token68 followed by OWS and the end or a comma. */
static mcpauth_status parse_token68(parser *p, mcpauth_challenge *c)
{
    size_t start = p->pos;
    size_t end = start;

    while (is_token68_char(peek(p, end)))
        end++;
    if (end == start)
        return syntax_error(p, "expected a token68 or auth-params");
    while (peek(p, end) == '=')
        end++;
    p->pos = end;
    mcpauth_status status = expect_separator(p);
    if (status != MCPAUTH_OK)
        return status;
    c->token68 = dup_range(p->text + start, end - start, false);
    return c->token68 ? MCPAUTH_OK : oom(p);
}

static mcpauth_status parse_challenge(parser *p, mcpauth_challenge *c)
{
    size_t scheme_end = token_end(p, p->pos);
    if (scheme_end == p->pos)
        return syntax_error(p, "expected an auth-scheme");
    if (!(c->scheme = dup_range(p->text + p->pos, scheme_end - p->pos, false)))
        return oom(p);
    p->pos = skip_ows(p, scheme_end);
    if (at_end(p) || peek(p, p->pos) == ',')
        return MCPAUTH_OK;
    /* RFC 9110 §11.6.1: 1*SP between the scheme and what follows. */
    if (p->pos == scheme_end)
        return syntax_error(p, "expected a space after the auth-scheme");
    if (auth_param_ahead(p))
        return parse_params(p, c);
    return parse_token68(p, c);
}

static mcpauth_status list_push(parser *p, mcpauth_challenge_list *list, mcpauth_challenge *c)
{
    mcpauth_challenge *items = realloc(list->items, (list->count + 1) * sizeof *items);
    if (!items)
        return oom(p);
    list->items = items;
    list->items[list->count++] = *c;
    memset(c, 0, sizeof *c);
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_www_authenticate_parse(const char *value, mcpauth_challenge_list *list,
                                              mcpauth_error *err)
{
    if (!value)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE, "missing WWW-Authenticate value");
    size_t length = strnlen(value, WWW_AUTHENTICATE_MAX + 1);
    if (length > WWW_AUTHENTICATE_MAX) {
        char quoted[MCPAUTH_URL_QUOTE_SIZE];
        return mcpauth_error_set(
            err, MCPAUTH_EREMOTE, "WWW-Authenticate header %s is longer than %d bytes",
            mcpauth_url_quote(value, quoted, sizeof quoted), WWW_AUTHENTICATE_MAX);
    }

    parser p = {value, length, 0, err};
    for (;;) {
        skip_separators(&p);
        if (at_end(&p))
            return MCPAUTH_OK;
        mcpauth_challenge c = {0};
        mcpauth_status status = parse_challenge(&p, &c);
        if (status == MCPAUTH_OK)
            status = list_push(&p, list, &c);
        if (status != MCPAUTH_OK) {
            challenge_clear(&c);
            return status;
        }
    }
}

const mcpauth_challenge *mcpauth_challenge_find(const mcpauth_challenge_list *list,
                                                const char *scheme)
{
    if (!list || !scheme)
        return NULL;
    for (size_t i = 0; i < list->count; i++) {
        if (strcasecmp(list->items[i].scheme, scheme) == 0)
            return &list->items[i];
    }
    return NULL;
}

const char *mcpauth_challenge_param(const mcpauth_challenge *c, const char *name)
{
    if (!c || !name)
        return NULL;
    for (size_t i = 0; i < c->param_count; i++) {
        if (strcasecmp(c->params[i].name, name) == 0)
            return c->params[i].value;
    }
    return NULL;
}

void mcpauth_challenge_list_free(mcpauth_challenge_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        challenge_clear(&list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}
