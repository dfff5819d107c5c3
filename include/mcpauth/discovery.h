/* Finding an authorization server: RFC 8414 / OpenID Connect metadata from an
 * issuer, and RFC 9728 protected-resource metadata from an MCP server URL, in
 * the order the MCP authorization spec prescribes. Blocks (uses
 * mcpauth_http_perform). */
#ifndef MCPAUTH_DISCOVERY_H
#define MCPAUTH_DISCOVERY_H

#include <json-c/json.h>
#include <stdbool.h>

#include "mcpauth/error.h"
#include "mcpauth/http_client.h"

typedef struct mcpauth_as_metadata {
    char *issuer;          /* the metadata's issuer (equal to the one asked) */
    char *metadata_url;    /* where the document was found */
    json_object *document; /* the whole document; owned */
} mcpauth_as_metadata;

typedef struct mcpauth_resource_metadata {
    char *resource;             /* the document's resource (checked) */
    char *metadata_url;         /* where it was found */
    char *authorization_server; /* the first authorization_servers entry */
    json_object *document;      /* owned */
} mcpauth_resource_metadata;

/* Candidate metadata URLs for an issuer in MCP order (2025-11-25
 * "Authorization Server Metadata Discovery"): with a path, oauth-authorization-
 * server inserted, openid-configuration inserted, openid-configuration
 * appended; without, the two root forms. Returns the count (at most 3) and
 * fills urls[] with strings the caller frees; 0 with err set on a bad issuer. */
size_t mcpauth_discovery_issuer_urls(const char *issuer, char *urls[3], mcpauth_error *err);

/* Fetches the first candidate that answers 200 with a JSON object and checks
 * that its issuer is identical to the one asked (RFC 8414 §3.3; a single
 * trailing '/' typed after a path-less issuer is forgiven). Not found,
 * malformed or mismatched -> MCPAUTH_EREMOTE naming both values. */
mcpauth_status mcpauth_discover_issuer(const mcpauth_http_options *opts, const char *issuer,
                                       mcpauth_as_metadata *out, mcpauth_error *err);

/* From an MCP server URL: POST an unauthenticated initialize, read
 * resource_metadata from the 401's Bearer challenge (RFC 9728 §5.1), else try
 * the path-inserted then root oauth-protected-resource documents (RFC 9728
 * §3.1, in MCP's order); check resource (RFC 9728 §3.3) and take the first
 * authorization server. A server that answers without asking for a token ->
 * MCPAUTH_EREMOTE ("not protected"). */
mcpauth_status mcpauth_discover_resource(const mcpauth_http_options *opts, const char *resource_url,
                                         mcpauth_resource_metadata *out, mcpauth_error *err);

/* Where a client registers (RFC 7591 §3): the registration_endpoint in the
 * metadata of issuer, or, when issuer is NULL, of the first authorization
 * server that resource_url's protected resource metadata names (RFC 9728,
 * then RFC 8414). On success *issuer_out is the metadata's issuer and
 * *endpoint_out the endpoint, both for the caller to free. An authorization
 * server without a registration_endpoint does not offer dynamic
 * registration: MCPAUTH_EREMOTE saying so. Other failures as
 * mcpauth_discover_resource() and mcpauth_discover_issuer(). */
mcpauth_status mcpauth_discover_registration_endpoint(const mcpauth_http_options *opts,
                                                      const char *issuer, const char *resource_url,
                                                      char **issuer_out, char **endpoint_out,
                                                      mcpauth_error *err);


void mcpauth_as_metadata_free(mcpauth_as_metadata *md);
void mcpauth_resource_metadata_free(mcpauth_resource_metadata *md);

#endif
