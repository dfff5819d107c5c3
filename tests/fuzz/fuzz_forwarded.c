/* Forwarded (RFC 7239), X-Forwarded-For and X-Forwarded-Proto from a
 * trusted proxy, and the CIDR ranges of --trusted-proxy
 * (src/http/forwarded.c). Input, separated by \x01: the peer's address,
 * the ranges (space-separated), then a Forwarded, an X-Forwarded-For and an
 * X-Forwarded-Proto value. */
#include <arpa/inet.h>
#include <stdbool.h>

#include "fuzz.h"
#include "mcpauth/http_forwarded.h"

static bool is_address(const char *text)
{
    unsigned char ip[16];
    return inet_pton(AF_INET, text, ip) == 1 || inet_pton(AF_INET6, text, ip) == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_pieces in;
    fuzz_split(data, size, 5, &in);
    mcpauth_http_proxies proxies = {.count = 0};
    mcpauth_error err;
    for (char *range = strtok(in.piece[1], " "); range; range = strtok(NULL, " "))
        (void)mcpauth_http_proxies_add(&proxies, range, &err);
    if (proxies.count > MCPAUTH_HTTP_MAX_PROXIES)
        abort();
    const char *forwarded[] = {in.piece[2]}, *forwarded_for[] = {in.piece[3]},
               *proto[] = {in.piece[4]};
    mcpauth_http_forwarded_fields fields = {
        .forwarded = forwarded,
        .forwarded_count = in.length[2] > 0,
        .forwarded_for = forwarded_for,
        .forwarded_for_count = in.length[3] > 0,
        .forwarded_proto = proto,
        .forwarded_proto_count = in.length[4] > 0,
    };
    char address[MCPAUTH_HTTP_ADDRESS_MAX];
    const char *scheme = NULL;
    bool trusted = mcpauth_http_proxies_trust(&proxies, in.piece[0]);
    bool forwarded_client =
        mcpauth_http_forwarded_client(&proxies, in.piece[0], &fields, address, &scheme);
    if (memchr(address, '\0', sizeof address) == NULL)
        abort();
    /* Untrusted peers are never believed; what is believed is an address. */
    if (!trusted && (forwarded_client || scheme))
        abort();
    if (forwarded_client && !is_address(address))
        abort();
    if (scheme && strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
        abort();
    fuzz_pieces_free(&in);
    return 0;
}
