/* Which addresses a request to a URL chosen by a remote party may reach
 * (public_addresses_only): loopback and the public Internet, not the
 * networks behind the server (server-side request forgery; the Client ID
 * Metadata Document draft §6.5 asks an authorization server to refuse
 * them). Ranges from the IANA special-purpose address registries. */
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "http_internal.h"

typedef struct v4_range {
    uint32_t prefix;
    unsigned bits;
} v4_range;

static bool v4_allowed(uint32_t a)
{
    static const v4_range refused[] = {
        {0x00000000, 8},  /* "this network" */
        {0x0a000000, 8},  /* RFC 1918 */
        {0x64400000, 10}, /* RFC 6598 shared address space */
        {0xa9fe0000, 16}, /* link-local, cloud metadata services */
        {0xac100000, 12}, /* RFC 1918 */
        {0xc0000000, 24}, /* IETF protocol assignments */
        {0xc0a80000, 16}, /* RFC 1918 */
        {0xc6120000, 15}, /* benchmarking */
        {0xe0000000, 4},  /* multicast */
        {0xf0000000, 4},  /* reserved, broadcast */
    };
    if ((a >> 24) == 127)
        return true; /* loopback */
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if ((a >> (32 - refused[i].bits)) == (refused[i].prefix >> (32 - refused[i].bits)))
            return false;
    return true;
}

static uint32_t v4_at(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static bool v6_allowed(const uint8_t *b)
{
    static const uint8_t loopback[16] = {[15] = 1};
    static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
    if (memcmp(b, loopback, 16) == 0)
        return true;
    /* IPv4 reached through IPv6: judge the IPv4 address. */
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return v4_allowed(v4_at(b + 12));
    if (b[0] == 0x20 && b[1] == 0x02) /* 6to4 */
        return v4_allowed(v4_at(b + 2));
    if (b[0] == 0 && b[1] == 0)
        return false; /* unspecified, IPv4-compatible and other reserved */
    if ((b[0] & 0xfe) == 0xfc)
        return false; /* RFC 4193 unique local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return false; /* link-local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
        return false; /* deprecated site-local */
    if (b[0] == 0xff)
        return false; /* multicast */
    return true;
}

bool mcpauth__http_address_allowed(const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        return v4_allowed(ntohl(in->sin_addr.s_addr));
    }
    if (addr->sa_family == AF_INET6)
        return v6_allowed(((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr);
    return false;
}
