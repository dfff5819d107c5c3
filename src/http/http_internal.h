/* What the files of src/http/ share, and what only the unit tests call:
 * the mcpauth__http_* level of the name levels. The libcurl transfer has
 * its own header (transfer.h). Not installed. */
#ifndef MCPAUTH_HTTP_INTERNAL_H
#define MCPAUTH_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "mcpauth/http_client.h"
#include "mcpauth/http_server.h"

/* Frees an array of count headers and their names and values; NULL is
 * fine. (response.c) */
void mcpauth__http_headers_free(mcpauth_http_header *headers, size_t count);

/* True when addr (AF_INET or AF_INET6) may be connected to under
 * public_addresses_only: loopback, or an address routed on the public
 * Internet; false for private (RFC 1918, RFC 4193), link-local, shared
 * (RFC 6598), unspecified, multicast and reserved ranges, including
 * IPv4-mapped and NAT64 forms of them. (address.c) */
bool mcpauth__http_address_allowed(const struct sockaddr *addr);

/* ---- server.c, for tests/unit/test_http_server.c ---- */

/* Listens on an already bound and listening socket, which the server takes
 * over and closes with the listener. Returns 0 or a negative libuv error
 * code. */
int mcpauth__http_server_listen_socket(mcpauth_http_server *server, uv_os_sock_t sock);

/* The raw request-target, "" when none was read. Borrowed, like the other
 * parts of the request. */
const char *mcpauth__http_exchange_target(const mcpauth_http_exchange *ex);

/* True when the client's connection is gone. */
bool mcpauth__http_exchange_aborted(const mcpauth_http_exchange *ex);

#endif
