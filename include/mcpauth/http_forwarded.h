/* Behind a proxy: which peers are trusted proxies (CIDR ranges, IPv4 and
 * IPv6), and who the client is according to them: RFC 7239 Forwarded, or
 * the de-facto X-Forwarded-For and X-Forwarded-Proto.
 *
 * Only a trusted peer's headers are believed, and of the addresses they
 * list only the rightmost one that is not itself a trusted proxy: every
 * address to its left was written by the client or a proxy we do not know,
 * and could be anything. Pure functions over strings; nothing blocks.
 */
#ifndef MCPAUTH_HTTP_FORWARDED_H
#define MCPAUTH_HTTP_FORWARDED_H

#include <stdbool.h>
#include <stddef.h>

#include "mcpauth/error.h"

#define MCPAUTH_HTTP_MAX_PROXIES 32
#define MCPAUTH_HTTP_ADDRESS_MAX 64 /* an address as text, with its NUL */

/* One address range: family AF_INET or AF_INET6, the network's bytes, and
 * the prefix length in bits. */
typedef struct mcpauth_http_cidr {
    int family;
    unsigned char bytes[16];
    unsigned prefix;
} mcpauth_http_cidr;

typedef struct mcpauth_http_proxies {
    mcpauth_http_cidr ranges[MCPAUTH_HTTP_MAX_PROXIES];
    size_t count;
} mcpauth_http_proxies;

/* Parses "ADDRESS" or "ADDRESS/PREFIX" ("10.0.0.0/8", "::1", "fd00::/8")
 * into *out. Bits set past the prefix are refused (a typo more often than
 * not). MCPAUTH_EUSAGE with one line saying what is wrong. */
mcpauth_status mcpauth_http_cidr_parse(const char *text, mcpauth_http_cidr *out,
                                       mcpauth_error *err);

/* Adds a range to the list; MCPAUTH_EUSAGE when it is malformed or the list
 * is full. */
mcpauth_status mcpauth_http_proxies_add(mcpauth_http_proxies *proxies, const char *cidr,
                                        mcpauth_error *err);

/* Whether address (text, as inet_ntop writes it) is in one of the ranges.
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches IPv4 ranges too. */
bool mcpauth_http_proxies_trust(const mcpauth_http_proxies *proxies, const char *address);

/* What a request's headers say, each a list of field values in the order
 * received (several fields of one name are one list, RFC 9110 §5.3). */
typedef struct mcpauth_http_forwarded_fields {
    const char *const *forwarded; /* RFC 7239 Forwarded */
    size_t forwarded_count;
    const char *const *forwarded_for; /* X-Forwarded-For */
    size_t forwarded_for_count;
    const char *const *forwarded_proto; /* X-Forwarded-Proto */
    size_t forwarded_proto_count;
} mcpauth_http_forwarded_fields;

/* The client behind peer. When peer is a trusted proxy: the rightmost
 * address of Forwarded's for= parameters (or, without a Forwarded field,
 * of X-Forwarded-For) that is not a trusted proxy itself; the walk stops at
 * an entry that is no IP address ("unknown", an obfuscated identifier,
 * garbage), and the last trusted hop is the client then. Otherwise, and
 * without such headers, peer. *scheme gets "https" or "http" from the
 * trusted proxy's proto= (or X-Forwarded-Proto), else NULL. address
 * receives MCPAUTH_HTTP_ADDRESS_MAX bytes at most. Returns true when the
 * address came from the headers. */
bool mcpauth_http_forwarded_client(const mcpauth_http_proxies *proxies, const char *peer,
                                   const mcpauth_http_forwarded_fields *fields,
                                   char address[MCPAUTH_HTTP_ADDRESS_MAX], const char **scheme);

#endif
