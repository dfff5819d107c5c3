/* OAuth 2.0 Dynamic Client Registration (RFC 7591) and its management
 * protocol (RFC 7592): create, read, update and delete a client at the
 * authorization server. Blocks (uses mcpauth_http_perform). */
#ifndef MCPAUTH_REGISTRATION_H
#define MCPAUTH_REGISTRATION_H

#include <json-c/json.h>

#include "mcpauth/error.h"
#include "mcpauth/http_client.h"

/* RFC 7591 §3: POSTs metadata to endpoint, with initial_access_token as a
 * Bearer token when not NULL. On 201 (or 200, which some servers send) with a
 * JSON object holding client_id, *client receives the returned document (a
 * new reference: the server's values, not the requested ones, RFC 7591
 * §3.2.1). Error responses -> MCPAUTH_EREMOTE with the status, error and
 * error_description in the message. */
mcpauth_status mcpauth_registration_create(const mcpauth_http_options *opts, const char *endpoint,
                                           json_object *metadata, const char *initial_access_token,
                                           json_object **client, mcpauth_error *err);

/* RFC 7592 §2.1: GET client_uri with the registration access token. */
mcpauth_status mcpauth_registration_read(const mcpauth_http_options *opts, const char *client_uri,
                                         const char *registration_token, json_object **client,
                                         mcpauth_error *err);

/* RFC 7592 §2.2: PUT the complete metadata (it replaces what the server has;
 * it must carry client_id). */
mcpauth_status mcpauth_registration_update(const mcpauth_http_options *opts, const char *client_uri,
                                           const char *registration_token, json_object *metadata,
                                           json_object **client, mcpauth_error *err);

/* RFC 7592 §2.3: DELETE; 204 -> MCPAUTH_OK; 405 -> MCPAUTH_EREMOTE saying
 * the server does not allow deletion. */
mcpauth_status mcpauth_registration_delete(const mcpauth_http_options *opts, const char *client_uri,
                                           const char *registration_token, mcpauth_error *err);

#endif
