/* TLS for the HTTP server (GnuTLS): a certificate chain and its key, loaded
 * from PEM files, and reloaded in place (SIGHUP) without touching the
 * connections already open.
 *
 * TLS 1.2 and 1.3 only, ALPN "http/1.1" (RFC 7301). A reload that fails
 * keeps the credentials in use. Connections made before a reload keep the
 * credentials they were made with until they close; new handshakes get the
 * new ones. Loading and reloading read files: they block, and are meant for
 * start-up and a signal handler on the loop, not the request path.
 */
#ifndef MCPAUTH_HTTP_TLS_H
#define MCPAUTH_HTTP_TLS_H

#include "mcpauth/error.h"

typedef struct mcpauth_http_tls mcpauth_http_tls;

/* Loads the certificate chain (cert_file: the server's certificate first,
 * then intermediates) and its private key (key_file, which must not be
 * readable by group or others). The paths are copied for reloads. *out is
 * owned by the caller: free it with mcpauth_http_tls_free() after every
 * server using it has closed. MCPAUTH_ELOCAL with one line naming the
 * file and the problem. Blocks. */
mcpauth_status mcpauth_http_tls_new(const char *cert_file, const char *key_file,
                                    mcpauth_http_tls **out, mcpauth_error *err);

/* Reads the same two files again. On success new handshakes use them; on
 * failure (err says why) the old certificate stays in use. Blocks. */
mcpauth_status mcpauth_http_tls_reload(mcpauth_http_tls *tls, mcpauth_error *err);

/* The certificate in use, for logs: "subject CN=..., serial 0a1b..., not
 * after 2027-01-01T00:00:00Z", with " (EXPIRED: ...)" or " (NOT YET
 * VALID: ...)" when it is out of its validity period at load time.
 * Borrowed until the next reload. */
const char *mcpauth_http_tls_describe(const mcpauth_http_tls *tls);

/* NULL is fine. Credentials still held by open connections go with them. */
void mcpauth_http_tls_free(mcpauth_http_tls *tls);

#endif
