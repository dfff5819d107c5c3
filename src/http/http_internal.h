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
#include "mcpauth/http_tls.h"
#include "mcpauth/strbuf.h"

/* Frees an array of count headers and their names and values; NULL is
 * fine. (response.c) */
void mcpauth__http_headers_free(mcpauth_http_header *headers, size_t count);

/* True when addr (AF_INET or AF_INET6) may be connected to under
 * public_addresses_only: loopback, or an address routed on the public
 * Internet; false for private (RFC 1918, RFC 4193), link-local, shared
 * (RFC 6598), unspecified, multicast and reserved ranges, including
 * IPv4-mapped and NAT64 forms of them. (address.c) */
bool mcpauth__http_address_allowed(const struct sockaddr *addr);

/* ---- tls.c: one connection's TLS session, run over memory buffers ---- */

typedef struct mcpauth__http_tls_conn mcpauth__http_tls_conn;

typedef enum mcpauth__http_tls_result {
    MCPAUTH__HTTP_TLS_OK,      /* go on (plaintext may have been added) */
    MCPAUTH__HTTP_TLS_NOT_TLS, /* the first byte is no TLS record: plain HTTP, likely */
    MCPAUTH__HTTP_TLS_CLOSED,  /* the peer sent close_notify: its end of the stream */
    MCPAUTH__HTTP_TLS_FAILED,  /* a fatal alert, a handshake or record error */
} mcpauth__http_tls_result;

/* A server-side session under tls's current credentials (it holds a
 * reference to them, so a reload does not pull them away). NULL without
 * memory. Free with mcpauth__http_tls_conn_free(); NULL is fine there. */
mcpauth__http_tls_conn *mcpauth__http_tls_conn_new(mcpauth_http_tls *tls);
void mcpauth__http_tls_conn_free(mcpauth__http_tls_conn *c);

/* Whether the handshake has completed. */
bool mcpauth__http_tls_conn_ready(const mcpauth__http_tls_conn *c);

/* Takes length bytes of ciphertext: runs the handshake, then appends the
 * plaintext of every complete record to plain. What the session has to
 * send (handshake messages, alerts) is appended to out, for the caller to
 * write. */
mcpauth__http_tls_result mcpauth__http_tls_conn_input(mcpauth__http_tls_conn *c, const char *data,
                                                      size_t length, mcpauth_strbuf *plain,
                                                      mcpauth_strbuf *out);

/* Encrypts length bytes into out. false when the session is not usable. */
bool mcpauth__http_tls_conn_send(mcpauth__http_tls_conn *c, const char *data, size_t length,
                                 mcpauth_strbuf *out);

/* Appends close_notify to out (nothing before the handshake completed). */
void mcpauth__http_tls_conn_bye(mcpauth__http_tls_conn *c, mcpauth_strbuf *out);

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
