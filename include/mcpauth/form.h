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

#endif
