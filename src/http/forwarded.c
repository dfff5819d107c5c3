/* Trusted proxies and what they say about the client: CIDR matching, and
 * the Forwarded (RFC 7239 §4), X-Forwarded-For and X-Forwarded-Proto
 * fields read right to left. Every field value is hostile: bounded scans,
 * no allocation, and an entry that is no IP address ends the walk. */
#include "mcpauth/http_forwarded.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define MAX_HOPS 64 /* the last hops kept; only the rightmost few are ever used */

typedef struct span {
    const char *at;
    size_t length;
} span;

/* One hop: a Forwarded element's for= and proto=, or an X-Forwarded-For
 * entry. */
typedef struct hop {
    span address;
    span proto;
} hop;

typedef struct hops {
    hop items[MAX_HOPS];
    size_t count; /* ever added; the last MAX_HOPS are kept */
} hops;

static void hops_add(hops *h, hop value)
{
    h->items[h->count++ % MAX_HOPS] = value;
}

static size_t hops_kept(const hops *h)
{
    return h->count < MAX_HOPS ? h->count : MAX_HOPS;
}

/* The i-th kept hop counted from the right (0 is the last added). */
static const hop *hops_from_right(const hops *h, size_t i)
{
    return &h->items[(h->count - 1 - i) % MAX_HOPS];
}

/* ---- addresses ---- */

/* text (length bytes, no NUL needed) as an address: 4 or 16 bytes in out. */
static int parse_ip(const char *text, size_t length, unsigned char out[16])
{
    char buffer[INET6_ADDRSTRLEN + 1];
    if (length == 0 || length >= sizeof buffer)
        return 0;
    memcpy(buffer, text, length);
    buffer[length] = '\0';
    if (inet_pton(AF_INET, buffer, out) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, buffer, out) == 1)
        return AF_INET6;
    return 0;
}

static bool prefix_matches(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    size_t whole = bits / 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    unsigned rest = bits % 8;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

mcpauth_status mcpauth_http_cidr_parse(const char *text, mcpauth_http_cidr *out, mcpauth_error *err)
{
    memset(out, 0, sizeof *out);
    const char *slash = strchr(text, '/');
    size_t length = slash ? (size_t)(slash - text) : strlen(text);
    out->family = parse_ip(text, length, out->bytes);
    if (!out->family)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "'%s' is not an IP address or CIDR range",
                                 text);
    unsigned max = out->family == AF_INET ? 32 : 128;
    out->prefix = max;
    if (slash) {
        const char *p = slash + 1;
        unsigned value = 0;
        if (!*p || strlen(p) > 3)
            return mcpauth_error_set(err, MCPAUTH_EUSAGE, "'%s': bad prefix length", text);
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return mcpauth_error_set(err, MCPAUTH_EUSAGE, "'%s': bad prefix length", text);
            value = value * 10 + (unsigned)(*p - '0');
        }
        if (value > max)
            return mcpauth_error_set(err, MCPAUTH_EUSAGE, "'%s': prefix longer than %u bits", text,
                                     max);
        out->prefix = value;
    }
    unsigned char host[16];
    memcpy(host, out->bytes, sizeof host);
    /* Host bits set ("10.0.0.1/8") usually mean a mistyped range. */
    for (unsigned bit = out->prefix; bit < max; bit++)
        host[bit / 8] &= (unsigned char)~(0x80 >> (bit % 8));
    if (memcmp(host, out->bytes, sizeof host) != 0)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "'%s' has bits set past its /%u prefix (a typo?)", text,
                                 out->prefix);
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_http_proxies_add(mcpauth_http_proxies *proxies, const char *cidr,
                                        mcpauth_error *err)
{
    if (proxies->count == MCPAUTH_HTTP_MAX_PROXIES)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "at most %d trusted proxy ranges",
                                 MCPAUTH_HTTP_MAX_PROXIES);
    if (mcpauth_http_cidr_parse(cidr, &proxies->ranges[proxies->count], err) != MCPAUTH_OK)
        return err->status;
    proxies->count++;
    return MCPAUTH_OK;
}

static bool trust_bytes(const mcpauth_http_proxies *proxies, int family, const unsigned char *ip)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    for (size_t i = 0; i < proxies->count; i++) {
        const mcpauth_http_cidr *r = &proxies->ranges[i];
        if (r->family == family && prefix_matches(r->bytes, ip, r->prefix))
            return true;
        /* A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d. */
        if (r->family == AF_INET && family == AF_INET6 && memcmp(ip, mapped, 12) == 0 &&
            prefix_matches(r->bytes, ip + 12, r->prefix))
            return true;
    }
    return false;
}

bool mcpauth_http_proxies_trust(const mcpauth_http_proxies *proxies, const char *address)
{
    unsigned char ip[16];
    int family = address ? parse_ip(address, strlen(address), ip) : 0;
    return family && trust_bytes(proxies, family, ip);
}

/* ---- field values ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static span trim(const char *at, size_t length)
{
    while (length > 0 && is_space(*at)) {
        at++;
        length--;
    }
    while (length > 0 && is_space(at[length - 1]))
        length--;
    return (span){at, length};
}

/* RFC 7239 §6: node-port = port / obfport; obfport = "_" 1*(ALPHA /
 * DIGIT / "." / "_" / "-"). */
static bool valid_port(const char *at, size_t length)
{
    if (length == 0)
        return false;
    bool obfuscated = at[0] == '_';
    if (!obfuscated && length > 5)
        return false;
    for (size_t i = obfuscated ? 1 : 0; i < length; i++) {
        char c = at[i];
        bool digit = c >= '0' && c <= '9';
        bool other =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
        if (!digit && !(obfuscated && other))
            return false;
    }
    return !obfuscated || length > 1;
}

/* A node as a Forwarded for= or X-Forwarded-For entry writes it: "1.2.3.4",
 * "1.2.3.4:80", "[2001:db8::1]:80", a bare "2001:db8::1" (X-Forwarded-For),
 * possibly quoted. Writes the canonical text; false for anything else
 * ("unknown", "_hidden", garbage). */
static bool node_address(span node, char out[MCPAUTH_HTTP_ADDRESS_MAX], unsigned char ip[16],
                         int *family)
{
    const char *at = node.at;
    size_t length = node.length;
    if (length >= 2 && at[0] == '"' && at[length - 1] == '"') {
        at++;
        length -= 2;
    }
    if (length > 0 && at[0] == '[') {
        const char *close = memchr(at, ']', length);
        if (!close)
            return false;
        size_t after = length - (size_t)(close - at) - 1;
        if (after > 0 && (close[1] != ':' || !valid_port(close + 2, after - 1)))
            return false;
        *family = parse_ip(at + 1, (size_t)(close - at) - 1, ip);
        if (*family != AF_INET6)
            return false;
    } else {
        const char *colon = memchr(at, ':', length);
        /* One colon: IPv4 with a port; more: a bare IPv6 address. */
        bool one_colon = colon && !memchr(colon + 1, ':', length - (size_t)(colon - at) - 1);
        size_t host_length = one_colon ? (size_t)(colon - at) : length;
        if (one_colon && !valid_port(colon + 1, length - host_length - 1))
            return false;
        *family = parse_ip(at, host_length, ip);
        if (!*family || (one_colon && *family != AF_INET))
            return false;
    }
    return inet_ntop(*family, ip, out, MCPAUTH_HTTP_ADDRESS_MAX) != NULL;
}

/* RFC 7230 tchar, for Forwarded's parameter names and token values. */
static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* A value: a token, or a quoted-string returned with its quotes. *p moves
 * past it. An empty span when neither is there. */
static span scan_value(const char **p, const char *end)
{
    const char *start = *p;
    if (*p < end && **p == '"') {
        for ((*p)++; *p < end && **p != '"'; (*p)++) {
            if (**p == '\\' && *p + 1 < end)
                (*p)++;
        }
        if (*p == end)
            return (span){start, 0}; /* unterminated */
        (*p)++;
        return (span){start, (size_t)(*p - start)};
    }
    while (*p < end && (is_tchar(**p) || **p == ':' || **p == '[' || **p == ']'))
        (*p)++;
    return (span){start, (size_t)(*p - start)};
}

/* RFC 7239 §4: Forwarded = 1#forwarded-element; forwarded-element =
 * [ forwarded-pair ] *( ";" [ forwarded-pair ] ); forwarded-pair = token
 * "=" value. An element that does not parse is still a hop, with no
 * address, so the walk stops there. */
static void scan_forwarded(const char *value, hops *out)
{
    const char *p = value, *end = value + strlen(value);
    while (p < end) {
        hop h = {{NULL, 0}, {NULL, 0}};
        bool bad = false;
        for (;;) {
            while (p < end && is_space(*p))
                p++;
            const char *name = p;
            while (p < end && is_tchar(*p))
                p++;
            size_t name_length = (size_t)(p - name);
            if (name_length > 0 && p < end && *p == '=') {
                p++;
                span v = scan_value(&p, end);
                if (v.length == 0)
                    bad = true;
                else if (name_length == 3 && strncasecmp(name, "for", 3) == 0)
                    h.address = v;
                else if (name_length == 5 && strncasecmp(name, "proto", 5) == 0)
                    h.proto = v;
            } else if (name_length > 0) {
                bad = true;
            }
            while (p < end && is_space(*p))
                p++;
            if (p < end && *p == ';') {
                p++;
                continue;
            }
            if (p < end && *p != ',') {
                bad = true;
                /* Resynchronise at the next element, quotes and all. */
                while (p < end && *p != ',') {
                    if (*p == '"')
                        (void)scan_value(&p, end);
                    else
                        p++;
                }
            }
            break;
        }
        if (bad)
            h.address = (span){NULL, 0};
        hops_add(out, h);
        if (p < end && *p == ',')
            p++;
    }
}

/* X-Forwarded-For: a comma-separated list of nodes, oldest first. */
static void scan_forwarded_for(const char *value, hops *out)
{
    const char *p = value;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t length = comma ? (size_t)(comma - p) : strlen(p);
        hops_add(out, (hop){trim(p, length), {NULL, 0}});
        if (!comma)
            break;
        p = comma + 1;
    }
}

/* "https" or "http" (case-insensitive, possibly quoted), else NULL. */
static const char *scheme_of(span s)
{
    if (s.length >= 2 && s.at[0] == '"' && s.at[s.length - 1] == '"')
        s = (span){s.at + 1, s.length - 2};
    if (s.length == 5 && strncasecmp(s.at, "https", 5) == 0)
        return "https";
    if (s.length == 4 && strncasecmp(s.at, "http", 4) == 0)
        return "http";
    return NULL;
}

/* The rightmost X-Forwarded-Proto entry: the one the trusted proxy wrote. */
static const char *last_forwarded_proto(const mcpauth_http_forwarded_fields *fields)
{
    if (fields->forwarded_proto_count == 0)
        return NULL;
    const char *value = fields->forwarded_proto[fields->forwarded_proto_count - 1];
    const char *comma = strrchr(value, ',');
    const char *last = comma ? comma + 1 : value;
    return scheme_of(trim(last, strlen(last)));
}

bool mcpauth_http_forwarded_client(const mcpauth_http_proxies *proxies, const char *peer,
                                   const mcpauth_http_forwarded_fields *fields,
                                   char address[MCPAUTH_HTTP_ADDRESS_MAX], const char **scheme)
{
    snprintf(address, MCPAUTH_HTTP_ADDRESS_MAX, "%s", peer ? peer : "-");
    *scheme = NULL;
    if (!mcpauth_http_proxies_trust(proxies, peer))
        return false;
    hops list = {.count = 0};
    bool use_forwarded = fields->forwarded_count > 0;
    for (size_t i = 0; i < fields->forwarded_count; i++)
        scan_forwarded(fields->forwarded[i], &list);
    for (size_t i = 0; !use_forwarded && i < fields->forwarded_for_count; i++)
        scan_forwarded_for(fields->forwarded_for[i], &list);
    *scheme = use_forwarded ? NULL : last_forwarded_proto(fields);
    if (use_forwarded && hops_kept(&list) > 0)
        *scheme = scheme_of(hops_from_right(&list, 0)->proto);
    bool found = false;
    for (size_t i = 0; i < hops_kept(&list); i++) {
        char text[MCPAUTH_HTTP_ADDRESS_MAX];
        unsigned char ip[16];
        int family = 0;
        const hop *h = hops_from_right(&list, i);
        if (!h->address.at || !node_address(h->address, text, ip, &family))
            break;
        memcpy(address, text, sizeof text);
        found = true;
        if (!trust_bytes(proxies, family, ip))
            break;
    }
    return found;
}
