/* How a client authenticates to the authorization server's endpoints (token,
 * introspection): the token_endpoint_auth_method values of RFC 7591 §2 that
 * mcpauth speaks. Shared by the token client and introspection. */
#ifndef MCPAUTH_CLIENT_AUTH_H
#define MCPAUTH_CLIENT_AUTH_H

#include <stdbool.h>

typedef enum mcpauth_client_auth {
    MCPAUTH_CLIENT_AUTH_BASIC, /* client_secret_basic (RFC 6749 §2.3.1) */
    MCPAUTH_CLIENT_AUTH_POST,  /* client_secret_post: id and secret in the form body */
    MCPAUTH_CLIENT_AUTH_NONE,  /* none: a public client, client_id in the body only */
} mcpauth_client_auth;

/* Maps a token_endpoint_auth_method name (RFC 7591 §2: "none",
 * "client_secret_basic", "client_secret_post") to *out; false for any other
 * name (private_key_jwt, tls_client_auth, ... are not spoken here). */
bool mcpauth_client_auth_from_name(const char *name, mcpauth_client_auth *out);

/* The name of a method ("client_secret_basic"). */
const char *mcpauth_client_auth_name(mcpauth_client_auth auth);

/* The method a client uses when none is asked for: the one it registered
 * (RFC 7591 §2 token_endpoint_auth_method, NULL when unknown), else
 * client_secret_basic, RFC 7591's default, when it has a secret, and none
 * for a public client without one. False when the registered method is
 * not one mcpauth speaks. */
bool mcpauth_client_auth_default(const char *registered, bool has_secret, mcpauth_client_auth *out);

#endif
