/* How a client authenticates to the authorization server's endpoints (token,
 * introspection): the token_endpoint_auth_method values of RFC 7591 §2 that
 * mcpauth speaks. Shared by the token client and introspection. */
#ifndef MCPAUTH_CLIENT_AUTH_H
#define MCPAUTH_CLIENT_AUTH_H

typedef enum mcpauth_client_auth {
    MCPAUTH_CLIENT_AUTH_BASIC, /* client_secret_basic (RFC 6749 §2.3.1) */
    MCPAUTH_CLIENT_AUTH_POST,  /* client_secret_post: id and secret in the form body */
    MCPAUTH_CLIENT_AUTH_NONE,  /* none: a public client, client_id in the body only */
} mcpauth_client_auth;

#endif
