/* RFC 7591 §2 client metadata: assembling the document a registration or an
 * RFC 7592 update sends, from a base document and command-line values, and
 * checking it before anything is sent. Pure; nothing here blocks. */
#ifndef MCPAUTH_CLIENT_METADATA_H
#define MCPAUTH_CLIENT_METADATA_H

#include <json-c/json.h>
#include <stddef.h>

#include "mcpauth/error.h"

/* The redirect URIs MCP Inspector listens on; the seed registered these. */
#define MCPAUTH_INSPECTOR_REDIRECT_URI "http://localhost:6274/oauth/callback"
#define MCPAUTH_INSPECTOR_REDIRECT_URI_DEBUG "http://localhost:6274/oauth/callback/debug"

typedef struct mcpauth_string_list {
    const char **items; /* borrowed strings */
    size_t count;
} mcpauth_string_list;

/* Values given on the command line; NULL / empty means "not given". Borrowed. */
typedef struct mcpauth_client_metadata_input {
    const char *client_name;
    mcpauth_string_list redirect_uris;
    mcpauth_string_list grant_types;
    mcpauth_string_list response_types;
    mcpauth_string_list contacts;
    const char *scope;
    const char *token_endpoint_auth_method;
    const char *application_type;
    const char *client_uri;
    const char *logo_uri;
    const char *tos_uri;
    const char *policy_uri;
    const char *jwks_uri;
    const char *software_id;
    const char *software_version;
    const char *software_statement; /* the JWT itself, read from a file */
} mcpauth_client_metadata_input;

/* Sets every member given in in on doc, replacing what doc had. */
mcpauth_status mcpauth_client_metadata_apply(json_object *doc,
                                             const mcpauth_client_metadata_input *in,
                                             mcpauth_error *err);

/* Fills members doc lacks with what the seed registered: client_name
 * "mcpauth", Inspector's redirect URIs (only when the grant types include
 * authorization_code), grant types authorization_code + refresh_token, scope
 * "mcp", token_endpoint_auth_method client_secret_basic; and response_types
 * [] when no grant type uses a redirect. */
mcpauth_status mcpauth_client_metadata_defaults(json_object *doc, mcpauth_error *err);

/* Sets application_type when doc lacks it (MCP 2026-07-28 asks clients to
 * send it): "native" when every redirect URI is loopback http or a private-use
 * scheme, else "web". */
mcpauth_status mcpauth_client_metadata_set_application_type(json_object *doc, mcpauth_error *err);

/* Checks doc before sending: member types, redirect URIs (https or loopback
 * http, no fragment), enumerated values, absolute URIs, and that jwks and
 * jwks_uri are not both present (RFC 7591 §2). MCPAUTH_EUSAGE naming the
 * member and the reason. */
mcpauth_status mcpauth_client_metadata_validate(json_object *doc, mcpauth_error *err);

/* Removes the members a client must not send back in an RFC 7592 §2.2 update
 * (registration_access_token, registration_client_uri,
 * client_secret_expires_at, client_id_issued_at). */
void mcpauth_client_metadata_strip_server_fields(json_object *doc);

#endif
