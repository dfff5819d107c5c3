/* Absolute http(s) URLs: parsing, the loopback test and RFC 8414 / RFC 9728
 * well-known URL construction. Pure functions; nothing here blocks. */
#ifndef MCPAUTH_URL_H
#define MCPAUTH_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "mcpauth/error.h"

typedef struct mcpauth_url {
    char *scheme;       /* lower-cased, "http" or "https" */
    char *host;         /* lower-cased; an IPv6 literal without brackets */
    int port;           /* explicit port, else 80 or 443 from the scheme */
    bool port_explicit; /* the text named a port */
    char *path;         /* "" when absent, else starts with '/' */
    char *query;        /* without '?'; NULL when absent */
    char *fragment;     /* without '#'; NULL when absent */
} mcpauth_url;

/* Parses an absolute http:// or https:// URL. Rejects other schemes, userinfo,
 * empty hosts, bad ports, spaces and control characters (MCPAUTH_EUSAGE with a
 * message naming the problem). On success the caller owns *out and frees it
 * with mcpauth_url_free(). */
mcpauth_status mcpauth_url_parse(const char *text, mcpauth_url *out, mcpauth_error *err);

/* Parses an authority as the Host header field carries it (RFC 9110 §7.2,
 * RFC 3986 §3.2.2): uri-host [ ":" port ], strictly: a reg-name of letters,
 * digits, '-', '.', '_' and '~', or a bracketed IPv6 literal; then nothing
 * but an optional port from 1 to 65535. "[::1]evil.com" and
 * "localhost:80@evil.com" are refused (MCPAUTH_EUSAGE). On success out has
 * host, port (0 when absent) and port_explicit, the other members NULL; the
 * caller frees it with mcpauth_url_free(). */
mcpauth_status mcpauth_url_parse_authority(const char *text, mcpauth_url *out, mcpauth_error *err);

/* Frees the strings inside url (not url itself); safe on a zeroed struct. */
void mcpauth_url_free(mcpauth_url *url);

/* True for "localhost", 127.0.0.0/8 and ::1: hosts where plain http is
 * acceptable without --allow-http. */
bool mcpauth_url_is_loopback(const mcpauth_url *url);

/* "scheme://host[:port]" (port only when explicit and not the scheme's
 * default; IPv6 hosts bracketed). Caller frees. NULL on allocation failure. */
char *mcpauth_url_origin(const mcpauth_url *url);

/* True when a and b name the same resource by the MCP Authorization spec's
 * "Canonical Server URI" rules (RFC 8707 §2, RFC 3986 §6.2.2.1): scheme and
 * authority compare case-insensitively, the rest exactly, and one trailing
 * '/' on either side does not matter. Text that is not "scheme://..." (a
 * client id, a URN) must be identical. Neither may be NULL. */
bool mcpauth_url_canonical_equal(const char *a, const char *b);

/* RFC 8414 §3.1 / RFC 9728 §3.1: inserts "/.well-known/<name>" between the
 * host and the path of url, after removing one terminating '/' from the path;
 * a query is kept at the end. E.g. ("https://as/t1/", "oauth-authorization-server")
 * -> "https://as/.well-known/oauth-authorization-server/t1". Caller frees. */
char *mcpauth_url_well_known_inserted(const char *url, const char *name, mcpauth_error *err);

/* OpenID Connect Discovery 1.0 §4: appends "/.well-known/<name>" to the path
 * (after removing one terminating '/'): "https://as/t1" ->
 * "https://as/t1/.well-known/openid-configuration". Caller frees. */
char *mcpauth_url_well_known_appended(const char *url, const char *name, mcpauth_error *err);

/* Resolves a possibly relative reference (a Location header) against base.
 * Returns an absolute URL the caller frees, or NULL with err set. */
char *mcpauth_url_resolve(const char *base, const char *reference, mcpauth_error *err);

/* Validates a redirect URI for client registration: absolute, no fragment,
 * https, or http only on a loopback host (OAuth 2.1 §2.3.1, MCP
 * Communication Security). Private-use schemes ("com.example.app:/cb") are
 * accepted for native apps. MCPAUTH_EUSAGE with a reason otherwise. */
mcpauth_status mcpauth_url_check_redirect_uri(const char *uri, mcpauth_error *err);

/* Size of a buffer for mcpauth_url_quote(). */
#define MCPAUTH_URL_QUOTE_SIZE 200

/* Writes text into buf (size bytes, at least 8) as a double-quoted, one-line,
 * printable form for error messages: '"' and '\\' escaped, control and
 * non-ASCII bytes as \xNN, cut with "..." when it does not fit. For URLs and
 * any other untrusted text. Returns buf. */
const char *mcpauth_url_quote(const char *text, char *buf, size_t size);

#endif
