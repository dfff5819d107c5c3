/* base64url without padding (RFC 4648 §5, as JOSE uses it: RFC 7515 §2),
 * and the decoding of padded base64 (RFC 4648 §4, as MCP's header value
 * encoding uses it). Pure; nothing here blocks. */
#ifndef MCPAUTH_BASE64URL_H
#define MCPAUTH_BASE64URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Encodes data; returns a NUL-terminated string the caller frees, NULL on
 * allocation failure. */
char *mcpauth_base64url_encode(const uint8_t *data, size_t length);

/* Decodes text[0..length): only the base64url alphabet, no padding, no
 * whitespace, and no non-zero bits left over in the last character (so each
 * byte string has exactly one encoding). Returns a buffer the caller frees
 * (NUL-terminated for convenience, *out_length excludes the NUL), or NULL on
 * bad input or allocation failure. */
uint8_t *mcpauth_base64url_decode(const char *text, size_t length, size_t *out_length);

/* Decodes padded base64 text[0..length) (RFC 4648 §4: '+' and '/', a
 * multiple of four characters, at most two '=' at the end), with the same
 * strictness and ownership as mcpauth_base64url_decode(). */
uint8_t *mcpauth_base64_decode(const char *text, size_t length, size_t *out_length);

#endif
