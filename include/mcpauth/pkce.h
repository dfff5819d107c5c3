/* Proof Key for Code Exchange (RFC 7636) with the S256 method, which OAuth
 * 2.1 and MCP require of every authorization-code client. Pure apart from
 * the random source; nothing here blocks. */
#ifndef MCPAUTH_PKCE_H
#define MCPAUTH_PKCE_H

#include <stdbool.h>
#include <stdint.h>

#include "mcpauth/error.h"

#define MCPAUTH_PKCE_OCTETS           32 /* random octets behind a verifier (RFC 7636 §4.1) */
#define MCPAUTH_PKCE_VERIFIER_LENGTH  43 /* base64url of 32 octets */
#define MCPAUTH_PKCE_CHALLENGE_LENGTH 43 /* base64url of a SHA-256 digest */

typedef struct mcpauth_pkce {
    char verifier[MCPAUTH_PKCE_VERIFIER_LENGTH + 1];   /* secret: only for the token endpoint */
    char challenge[MCPAUTH_PKCE_CHALLENGE_LENGTH + 1]; /* sent with the authorization request */
} mcpauth_pkce;

/* Fills out with a fresh verifier (32 octets from gnutls_rnd(GNUTLS_RND_RANDOM),
 * base64url-encoded: 43 characters) and its S256 challenge. MCPAUTH_ELOCAL
 * when the random generator fails. Wipe with mcpauth_pkce_clear(). */
mcpauth_status mcpauth_pkce_generate(mcpauth_pkce *out, mcpauth_error *err);

/* The same from given octets; RFC 7636 Appendix B's example reproduces with
 * its octets. MCPAUTH_ELOCAL only on allocation failure. */
mcpauth_status mcpauth_pkce_from_octets(const uint8_t octets[MCPAUTH_PKCE_OCTETS],
                                        mcpauth_pkce *out, mcpauth_error *err);

/* RFC 7636 §4.2: challenge = BASE64URL(SHA256(ASCII(verifier))); writes 43
 * characters and a NUL. MCPAUTH_ELOCAL only on allocation failure. */
mcpauth_status mcpauth_pkce_challenge_s256(const char *verifier,
                                           char challenge[MCPAUTH_PKCE_CHALLENGE_LENGTH + 1],
                                           mcpauth_error *err);

/* RFC 7636 §4.1: 43 to 128 characters from ALPHA / DIGIT / "-" / "." / "_" / "~". */
bool mcpauth_pkce_verifier_valid(const char *verifier);

/* Zeroes the verifier. */
void mcpauth_pkce_clear(mcpauth_pkce *pkce);

#endif
