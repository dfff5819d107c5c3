/* The error answers of OAuth endpoints (token, registration, introspection),
 * described for messages. Pure: no I/O, no allocation the caller sees. */
#ifndef MCPAUTH_OAUTH_ERROR_H
#define MCPAUTH_OAUTH_ERROR_H

#include <stddef.h>

#include "mcpauth/http_client.h"

/* Describes a non-success OAuth response for messages: "HTTP 400 Bad Request:
 * invalid_redirect_uri: <description>" when the body is RFC 6749 §5.2 style
 * JSON, else the status and a short, printable excerpt of the body. Writes
 * into buf (always NUL-terminated). */
void mcpauth_oauth_error_describe(const mcpauth_http_response *resp, char *buf, size_t size);

#endif
