/* application/x-www-form-urlencoded encoding (WHATWG URL §5.2, as RFC 6749
 * Appendix B requires for token requests and client credentials). Pure. */
#ifndef MCPAUTH_FORM_H
#define MCPAUTH_FORM_H

#include <stdbool.h>

#include "mcpauth/strbuf.h"

/* Appends value form-encoded: ALPHA / DIGIT / "*-._" kept, space as '+',
 * every other byte as %XX. */
void mcpauth_form_encode(mcpauth_strbuf *sb, const char *value);

/* Appends "name=value" form-encoded, preceded by '&' unless sb is empty. */
void mcpauth_form_add(mcpauth_strbuf *sb, const char *name, const char *value);

/* The value of an RFC 6749 §2.3.1 HTTP Basic header for a client:
 * "Basic " + base64(form(id) ":" form(secret)). Caller frees with
 * mcpauth_secret_free(); NULL on allocation failure. */
char *mcpauth_form_basic_credentials(const char *client_id, const char *client_secret);

/* ---- decoding (for the development issuer's endpoints) ---- */

#define MCPAUTH_FORM_MAX_PARAMS 32

typedef struct mcpauth_form_param {
    char *name;  /* owned, decoded */
    char *value; /* owned, decoded */
} mcpauth_form_param;

typedef struct mcpauth_form {
    mcpauth_form_param items[MCPAUTH_FORM_MAX_PARAMS];
    size_t count;
} mcpauth_form;

/* Decodes one form-encoded component: '+' is a space, %XX a byte. NULL on
 * a bad escape, a NUL byte or allocation failure; the caller frees. */
char *mcpauth_form_decode(const char *text, size_t length);

/* Parses an application/x-www-form-urlencoded body or query string
 * (text may be NULL). Refuses, with *problem set to a short reason: bad
 * escapes, NUL bytes, more than MCPAUTH_FORM_MAX_PARAMS parameters, and a
 * parameter given twice (RFC 6749 §3.1). Free out with mcpauth_form_free(),
 * even on failure. */
bool mcpauth_form_parse(const char *text, size_t length, mcpauth_form *out, const char **problem);

/* The value of name, or NULL when absent or empty: RFC 6749 §3.1 treats a
 * parameter without a value as omitted. Borrowed from form. */
const char *mcpauth_form_get(const mcpauth_form *form, const char *name);

/* Frees the decoded strings, wiping them (they may hold secrets). */
void mcpauth_form_free(mcpauth_form *form);

#endif
