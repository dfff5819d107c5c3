/* Shared between the files of src/oauth/. Not for use outside it. */
#ifndef MCPAUTH_OAUTH_INTERNAL_H
#define MCPAUTH_OAUTH_INTERNAL_H

#include <stdbool.h>

/* RFC 6749 Appendix A.12 / A.17: an access or refresh token is 1*VSCHAR.
 * Spaces are refused as well, since a Bearer token (RFC 6750 §2.1) cannot
 * hold one, and tokens are printed for shell command substitution. */
bool mcpauth__oauth_token_syntax_ok(const char *token);

#endif
