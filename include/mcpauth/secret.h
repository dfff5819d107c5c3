/* Handling secrets: constant-time comparison, a short fingerprint that is safe
 * to log in place of the secret, and wiping memory before it is freed. */
#ifndef MCPAUTH_SECRET_H
#define MCPAUTH_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#define MCPAUTH_FINGERPRINT_LENGTH 12 /* hex characters */

/* Compares a and b in time that depends only on their lengths. NULLs are
 * unequal to everything. */
bool mcpauth_secret_equal(const char *a, const char *b);

/* Writes the first 12 hex digits of SHA-256(secret) and a NUL into out: enough
 * to correlate log lines, useless for recovering the secret. */
void mcpauth_secret_fingerprint(const char *secret, char out[MCPAUTH_FINGERPRINT_LENGTH + 1]);

/* Zeroes a NUL-terminated secret and frees it; NULL is fine. */
void mcpauth_secret_free(char *secret);

#endif
