/* Absolute http(s) URLs. Every input here may come from the network (a
 * Location header, a metadata document, a WWW-Authenticate parameter), so each
 * entry point bounds the length and the character set before looking at the
 * structure, and every error message quotes the offending text through
 * mcpauth_url_quote(). */
#include "mcpauth/url.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcpauth/strbuf.h"

/* Longer text is refused, never truncated: a cut URL names another resource. */
#define URL_MAX 8192

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* RFC 3986 §3.2.2 reg-name, minus pct-encoded and sub-delims: nothing a DNS
 * name can hold needs them, and curl would read them differently. */
static bool is_host_char(int c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 §2: unreserved, gen-delims and sub-delims; '%' is checked apart. */
static bool is_uri_char(int c)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("-._~:/?#[]@!$&'()*+,;=", c));
}

static mcpauth_status url_oom(mcpauth_error *err)
{
    return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
}

static mcpauth_status url_fail(mcpauth_error *err, const char *text, const char *reason)
{
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    return mcpauth_error_set(err, MCPAUTH_EUSAGE, "invalid URL %s: %s",
                             mcpauth_url_quote(text, quoted, sizeof quoted), reason);
}

static char *dup_range(const char *text, size_t length, bool lower)
{
    char *copy = malloc(length + 1);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < length; i++)
        copy[i] = lower ? to_lower(text[i]) : text[i];
    copy[length] = '\0';
    return copy;
}

/* Bounds the length and refuses anything RFC 3986 §2 does not allow in a URI:
 * spaces, controls, non-ASCII bytes, '"', '<', '\', ... and bad escapes. */
static mcpauth_status check_text(const char *text, mcpauth_error *err)
{
    if (!text)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "missing URL");
    size_t length = strnlen(text, URL_MAX + 1);
    if (length == 0)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "empty URL");
    if (length > URL_MAX) {
        char reason[64];
        snprintf(reason, sizeof reason, "longer than %d bytes", URL_MAX);
        return url_fail(err, text, reason);
    }
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        char reason[80];
        if (c == ' ')
            snprintf(reason, sizeof reason, "contains a space at offset %zu", i);
        else if (c < 0x20 || c == 0x7f)
            snprintf(reason, sizeof reason, "contains control character 0x%02x at offset %zu", c,
                     i);
        else if (c >= 0x80)
            snprintf(reason, sizeof reason, "contains non-ASCII byte 0x%02x at offset %zu", c, i);
        else if (c == '%' && !(is_hex(text[i + 1]) && is_hex(text[i + 2])))
            snprintf(reason, sizeof reason, "has a malformed %%-escape at offset %zu", i);
        else if (c != '%' && !is_uri_char(c))
            snprintf(reason, sizeof reason, "contains '%c' at offset %zu (RFC 3986 §2)", c, i);
        else
            continue;
        return url_fail(err, text, reason);
    }
    return MCPAUTH_OK;
}

/* Length of an RFC 3986 §3.1 scheme when text starts with one followed by
 * ':', else 0. */
static size_t scheme_length(const char *text)
{
    if (!is_alpha(text[0]))
        return 0;
    size_t i = 1;
    while (is_alpha(text[i]) || is_digit(text[i]) || text[i] == '+' || text[i] == '-' ||
           text[i] == '.')
        i++;
    return text[i] == ':' ? i : 0;
}

static int default_port(const char *scheme)
{
    return strcmp(scheme, "https") == 0 ? 443 : 80;
}

/* authority = host [ ":" port ], userinfo already refused (RFC 3986 §3.2). */
static mcpauth_status parse_authority(const char *text, const char *authority, size_t length,
                                      mcpauth_url *out, mcpauth_error *err)
{
    const char *end = authority + length;
    const char *host = authority;
    const char *host_end;
    const char *after;

    if (length == 0)
        return url_fail(err, text, "has no host");
    if (authority[0] == '[') {
        /* RFC 3986 §3.2.2 IP-literal; IPvFuture and zone ids are refused. */
        const char *close = memchr(authority, ']', length);
        if (!close)
            return url_fail(err, text, "has an unterminated IPv6 literal");
        host = authority + 1;
        host_end = close;
        after = close + 1;
        char literal[INET6_ADDRSTRLEN + 1];
        struct in6_addr addr;
        size_t n = (size_t)(host_end - host);
        if (n == 0 || n >= sizeof literal)
            return url_fail(err, text, "has an invalid IPv6 literal");
        memcpy(literal, host, n);
        literal[n] = '\0';
        if (inet_pton(AF_INET6, literal, &addr) != 1)
            return url_fail(err, text, "has an invalid IPv6 literal");
        if (after != end && *after != ':')
            return url_fail(err, text, "has text after the IPv6 literal");
    } else {
        const char *colon = memchr(authority, ':', length);
        host_end = colon ? colon : end;
        after = host_end;
        if (host_end == host)
            return url_fail(err, text, "has no host");
        for (const char *p = host; p < host_end; p++) {
            if (!is_host_char(*p)) {
                char reason[64];
                snprintf(reason, sizeof reason, "has '%c' in the host", *p);
                return url_fail(err, text, reason);
            }
        }
    }

    if (after != end) {
        /* after points at ':'; RFC 3986 allows an empty port but nobody
         * means one, so it is refused rather than silently defaulted. */
        const char *digits = after + 1;
        size_t n = (size_t)(end - digits);
        if (n == 0)
            return url_fail(err, text, "has an empty port");
        long port = 0;
        for (size_t i = 0; i < n; i++) {
            if (!is_digit(digits[i]) || i >= 5)
                return url_fail(err, text, "has a port that is not a number from 1 to 65535");
            port = port * 10 + (digits[i] - '0');
        }
        if (port < 1 || port > 65535)
            return url_fail(err, text, "has a port that is not a number from 1 to 65535");
        out->port = (int)port;
        out->port_explicit = true;
    } else {
        out->port = out->scheme ? default_port(out->scheme) : 0;
    }

    out->host = dup_range(host, (size_t)(host_end - host), true);
    return out->host ? MCPAUTH_OK : url_oom(err);
}

static mcpauth_status parse_rest(const char *text, const char *rest, mcpauth_url *out,
                                 mcpauth_error *err)
{
    size_t path_length = strcspn(rest, "?#");
    const char *query = NULL;
    const char *fragment = strchr(rest, '#');
    size_t query_length = 0;

    if (rest[path_length] == '?') {
        query = rest + path_length + 1;
        query_length = fragment ? (size_t)(fragment - query) : strlen(query);
    }
    /* RFC 3986 §3.3-3.5: brackets belong to the host only. */
    if (strcspn(rest, "[]") != strlen(rest))
        return url_fail(err, text, "has '[' or ']' outside the host");
    if (fragment && strchr(fragment + 1, '#'))
        return url_fail(err, text, "has more than one '#'");

    out->path = dup_range(rest, path_length, false);
    if (!out->path)
        return url_oom(err);
    if (query && !(out->query = dup_range(query, query_length, false)))
        return url_oom(err);
    if (fragment && !(out->fragment = strdup(fragment + 1)))
        return url_oom(err);
    return MCPAUTH_OK;
}

/* origin + path [ "?" query ] [ "#" fragment ]. */
static char *url_compose(const mcpauth_url *url, const char *path, size_t path_length,
                         const char *query, const char *fragment)
{
    char *origin = mcpauth_url_origin(url);
    if (!origin)
        return NULL;
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    mcpauth_strbuf_appends(&sb, origin);
    mcpauth_strbuf_append(&sb, path, path_length);
    if (query)
        mcpauth_strbuf_appendf(&sb, "?%s", query);
    if (fragment)
        mcpauth_strbuf_appendf(&sb, "#%s", fragment);
    free(origin);
    return mcpauth_strbuf_detach(&sb);
}

/* RFC 3986 §5.2.4 remove_dot_segments, written over a copy; the output is
 * never longer than the input. */
static char *remove_dot_segments(const char *path)
{
    size_t length = strlen(path);
    char *out = malloc(length + 1);
    size_t o = 0;
    size_t i = 0;

    if (!out)
        return NULL;
    while (i < length) {
        const char *p = path + i;
        size_t left = length - i;
        if (left >= 3 && memcmp(p, "../", 3) == 0) {
            i += 3; /* A */
        } else if (left >= 2 && memcmp(p, "./", 2) == 0) {
            i += 2; /* A */
        } else if (left >= 3 && memcmp(p, "/./", 3) == 0) {
            i += 2; /* B: "/./" -> "/" */
        } else if (left == 2 && memcmp(p, "/.", 2) == 0) {
            out[o++] = '/'; /* B: "/." at the end -> "/" */
            break;
        } else if ((left >= 4 && memcmp(p, "/../", 4) == 0) ||
                   (left == 3 && memcmp(p, "/..", 3) == 0)) {
            /* C: drop the last output segment and its '/' */
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            if (left == 3) {
                out[o++] = '/';
                break;
            }
            i += 3;
        } else if ((left == 1 && p[0] == '.') || (left == 2 && memcmp(p, "..", 2) == 0)) {
            break; /* D */
        } else {
            /* E: move the first segment, with its leading '/', to the output */
            size_t n = p[0] == '/' ? 1 : 0;
            while (n < left && p[n] != '/')
                n++;
            memcpy(out + o, p, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    return out;
}

/* Parses text, removes dot segments from its path and recomposes it. */
static char *normalize_absolute(const char *text, mcpauth_error *err)
{
    mcpauth_url url;
    if (mcpauth_url_parse(text, &url, err) != MCPAUTH_OK)
        return NULL;
    char *path = remove_dot_segments(url.path);
    char *result = path ? url_compose(&url, path, strlen(path), url.query, url.fragment) : NULL;
    if (!result)
        url_oom(err);
    free(path);
    mcpauth_url_free(&url);
    return result;
}

static char *well_known(const char *text, const char *name, bool insert, mcpauth_error *err)
{
    mcpauth_url url;
    if (!name || !*name || strchr(name, '/')) {
        mcpauth_error_set(err, MCPAUTH_EUSAGE, "invalid well-known name");
        return NULL;
    }
    if (mcpauth_url_parse(text, &url, err) != MCPAUTH_OK)
        return NULL;
    if (url.fragment) {
        url_fail(err, text,
                 "has a fragment, which an issuer or resource identifier must not have "
                 "(RFC 8414 §2, RFC 9728 §1.2)");
        mcpauth_url_free(&url);
        return NULL;
    }
    /* RFC 8414 §3.1 / RFC 9728 §3.1: "any terminating '/' MUST be removed
     * before inserting" - exactly one, so "/a//" keeps "/a/". */
    size_t path_length = strlen(url.path);
    if (path_length > 0 && url.path[path_length - 1] == '/')
        path_length--;

    mcpauth_strbuf path = MCPAUTH_STRBUF_INIT;
    if (insert) {
        mcpauth_strbuf_appendf(&path, "/.well-known/%s", name);
        mcpauth_strbuf_append(&path, url.path, path_length);
    } else {
        mcpauth_strbuf_append(&path, url.path, path_length);
        mcpauth_strbuf_appendf(&path, "/.well-known/%s", name);
    }
    char *joined = mcpauth_strbuf_detach(&path);
    char *result = joined ? url_compose(&url, joined, strlen(joined), url.query, NULL) : NULL;
    if (!result)
        url_oom(err);
    free(joined);
    mcpauth_url_free(&url);
    return result;
}

static mcpauth_status check_private_use(const char *uri, size_t scheme_len, mcpauth_error *err)
{
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    mcpauth_url_quote(uri, quoted, sizeof quoted);
    /* RFC 8252 §7.1: private-use schemes are reverse domain names, so they
     * contain a '.'; that keeps out javascript:, data:, file: and friends. */
    if (!memchr(uri, '.', scheme_len))
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "redirect URI %s: scheme \"%.*s\" is not allowed; use https, "
                                 "http on a loopback host, or a private-use scheme such as "
                                 "com.example.app:/callback (RFC 8252 §7.1)",
                                 quoted, (int)(scheme_len > 32 ? 32 : scheme_len), uri);
    if (uri[scheme_len + 1] == '\0')
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "redirect URI %s has nothing after the scheme", quoted);
    return MCPAUTH_OK;
}

const char *mcpauth_url_quote(const char *text, char *buf, size_t size)
{
    static const char ellipsis[] = "...";
    size_t o = 0;

    if (size < sizeof ellipsis + 3) {
        if (size > 0)
            buf[0] = '\0';
        return buf;
    }
    if (!text) {
        snprintf(buf, size, "(none)");
        return buf;
    }
    buf[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        char piece[5];
        size_t n;
        if (*p < 0x20 || *p >= 0x7f) {
            n = (size_t)snprintf(piece, sizeof piece, "\\x%02x", *p);
        } else if (*p == '"' || *p == '\\') {
            piece[0] = '\\';
            piece[1] = (char)*p;
            n = 2;
        } else {
            piece[0] = (char)*p;
            n = 1;
        }
        /* Keep room for "...", the closing quote and the NUL. */
        if (o + n + sizeof ellipsis + 1 > size) {
            memcpy(buf + o, ellipsis, sizeof ellipsis - 1);
            o += sizeof ellipsis - 1;
            break;
        }
        memcpy(buf + o, piece, n);
        o += n;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

mcpauth_status mcpauth_url_parse(const char *text, mcpauth_url *out, mcpauth_error *err)
{
    memset(out, 0, sizeof *out);
    mcpauth_status status = check_text(text, err);
    if (status != MCPAUTH_OK)
        return status;

    size_t scheme_len = scheme_length(text);
    if (scheme_len == 0)
        return url_fail(err, text, "not an absolute URL (expected http:// or https://)");
    if (!(scheme_len == 4 && strncasecmp(text, "http", 4) == 0) &&
        !(scheme_len == 5 && strncasecmp(text, "https", 5) == 0))
        return url_fail(err, text, "the scheme is not http or https");
    const char *p = text + scheme_len + 1;
    if (p[0] != '/' || p[1] != '/')
        return url_fail(err, text, "has no \"//\" and host after the scheme");
    p += 2;
    size_t authority_len = strcspn(p, "/?#");
    /* RFC 9110 §4.2.4: userinfo is deprecated and a classic way to disguise
     * the real host ("https://trusted@evil"). */
    if (memchr(p, '@', authority_len))
        return url_fail(err, text, "has userinfo (user@host), which is not allowed");

    if (!(out->scheme = dup_range(text, scheme_len, true)))
        status = url_oom(err);
    if (status == MCPAUTH_OK)
        status = parse_authority(text, p, authority_len, out, err);
    if (status == MCPAUTH_OK)
        status = parse_rest(text, p + authority_len, out, err);
    if (status != MCPAUTH_OK)
        mcpauth_url_free(out);
    return status;
}

mcpauth_status mcpauth_url_parse_authority(const char *text, mcpauth_url *out, mcpauth_error *err)
{
    memset(out, 0, sizeof *out);
    mcpauth_status status = check_text(text, err);
    if (status != MCPAUTH_OK)
        return status;
    /* Only host and port: no userinfo, no path, no query, no fragment. */
    size_t length = strcspn(text, "@/?#");
    if (text[length] != '\0')
        return url_fail(err, text, "is not host[:port]");
    status = parse_authority(text, text, length, out, err);
    if (status != MCPAUTH_OK)
        mcpauth_url_free(out);
    return status;
}

void mcpauth_url_free(mcpauth_url *url)
{
    if (!url)
        return;
    free(url->scheme);
    free(url->host);
    free(url->path);
    free(url->query);
    free(url->fragment);
    memset(url, 0, sizeof *url);
}

bool mcpauth_url_is_loopback(const mcpauth_url *url)
{
    struct in_addr v4;
    struct in6_addr v6;

    if (!url || !url->host)
        return false;
    if (strcmp(url->host, "localhost") == 0)
        return true;
    /* Only the dotted-quad form: "127.1" or "0x7f.1" are names to us, so they
     * never earn the plain-http exemption. */
    if (inet_pton(AF_INET, url->host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, url->host, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6);
    return false;
}

char *mcpauth_url_origin(const mcpauth_url *url)
{
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    bool v6 = strchr(url->host, ':') != NULL;

    mcpauth_strbuf_appendf(&sb, "%s://%s%s%s", url->scheme, v6 ? "[" : "", url->host,
                           v6 ? "]" : "");
    if (url->port_explicit && url->port != default_port(url->scheme))
        mcpauth_strbuf_appendf(&sb, ":%d", url->port);
    return mcpauth_strbuf_detach(&sb);
}

static bool equal_ignoring_case(const char *a, const char *b, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        if (to_lower(a[i]) != to_lower(b[i]))
            return false;
    }
    return true;
}

/* Length of one trailing '/' less. */
static size_t without_trailing_slash(const char *text)
{
    size_t n = strlen(text);
    return n > 0 && text[n - 1] == '/' ? n - 1 : n;
}

bool mcpauth_url_canonical_equal(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    /* Only "scheme://authority..." has the parts compared below; a client
     * id or a URN must match exactly. */
    size_t scheme = scheme_length(a);
    if (scheme == 0 || scheme != scheme_length(b) || strncmp(a + scheme, "://", 3) != 0 ||
        strncmp(b + scheme, "://", 3) != 0 || !equal_ignoring_case(a, b, scheme))
        return false;
    a += scheme + 3;
    b += scheme + 3;
    size_t authority = strcspn(a, "/?#");
    if (authority != strcspn(b, "/?#") || !equal_ignoring_case(a, b, authority))
        return false;
    a += authority;
    b += authority;
    size_t la = without_trailing_slash(a), lb = without_trailing_slash(b);
    return la == lb && memcmp(a, b, la) == 0;
}

char *mcpauth_url_well_known_inserted(const char *url, const char *name, mcpauth_error *err)
{
    return well_known(url, name, true, err);
}

char *mcpauth_url_well_known_appended(const char *url, const char *name, mcpauth_error *err)
{
    return well_known(url, name, false, err);
}

char *mcpauth_url_resolve(const char *base, const char *reference, mcpauth_error *err)
{
    mcpauth_url b;
    char *result = NULL;

    if (mcpauth_url_parse(base, &b, err) != MCPAUTH_OK)
        return NULL;
    if (reference && reference[0] == '\0') {
        /* RFC 3986 §5.2.2: an empty reference is the base without fragment */
        result = url_compose(&b, b.path, strlen(b.path), b.query, NULL);
        if (!result)
            url_oom(err);
        mcpauth_url_free(&b);
        return result;
    }
    if (check_text(reference, err) != MCPAUTH_OK) {
        mcpauth_url_free(&b);
        return NULL;
    }

    mcpauth_strbuf target = MCPAUTH_STRBUF_INIT;
    if (scheme_length(reference) > 0) {
        mcpauth_strbuf_appends(&target, reference);
    } else if (reference[0] == '/' && reference[1] == '/') {
        mcpauth_strbuf_appendf(&target, "%s:%s", b.scheme, reference);
    } else {
        /* RFC 3986 §5.2.2 with the base's authority */
        size_t path_len = strcspn(reference, "?#");
        const char *rest = reference + path_len;
        char *origin = mcpauth_url_origin(&b);
        mcpauth_strbuf_appends(&target, origin ? origin : "");
        free(origin);
        if (path_len == 0) {
            mcpauth_strbuf_appends(&target, b.path);
            if (rest[0] != '?' && b.query)
                mcpauth_strbuf_appendf(&target, "?%s", b.query);
        } else if (reference[0] == '/') {
            mcpauth_strbuf_append(&target, reference, path_len);
        } else {
            /* §5.2.3 merge: the base path up to its last '/', or "/" when the
             * base has an authority and an empty path. */
            const char *slash = strrchr(b.path, '/');
            if (slash)
                mcpauth_strbuf_append(&target, b.path, (size_t)(slash - b.path) + 1);
            else
                mcpauth_strbuf_appends(&target, "/");
            mcpauth_strbuf_append(&target, reference, path_len);
        }
        mcpauth_strbuf_appends(&target, rest);
    }
    mcpauth_url_free(&b);

    char *text = mcpauth_strbuf_detach(&target);
    if (!text) {
        url_oom(err);
        return NULL;
    }
    result = normalize_absolute(text, err);
    free(text);
    return result;
}

mcpauth_status mcpauth_url_check_redirect_uri(const char *uri, mcpauth_error *err)
{
    char quoted[MCPAUTH_URL_QUOTE_SIZE];
    mcpauth_status status = check_text(uri, err);
    if (status != MCPAUTH_OK) {
        mcpauth_error_prefix(err, "redirect URI");
        return status;
    }
    mcpauth_url_quote(uri, quoted, sizeof quoted);

    size_t scheme_len = scheme_length(uri);
    if (scheme_len == 0)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "redirect URI %s is not an absolute URI (OAuth 2.1 §2.3.1)",
                                 quoted);
    /* OAuth 2.1 §2.3.1 / RFC 6749 §3.1.2: no fragment component. */
    if (strchr(uri, '#'))
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "redirect URI %s has a fragment, which is not allowed "
                                 "(OAuth 2.1 §2.3.1)",
                                 quoted);

    bool https = scheme_len == 5 && strncasecmp(uri, "https", 5) == 0;
    bool http = scheme_len == 4 && strncasecmp(uri, "http", 4) == 0;
    if (!https && !http)
        return check_private_use(uri, scheme_len, err);

    mcpauth_url url;
    status = mcpauth_url_parse(uri, &url, err);
    if (status != MCPAUTH_OK) {
        mcpauth_error_prefix(err, "redirect URI");
        return status;
    }
    bool loopback = mcpauth_url_is_loopback(&url);
    mcpauth_url_free(&url);
    /* OAuth 2.1 §2.3.1 and MCP Communication Security: plain http only where
     * the traffic never leaves the machine (RFC 8252 §7.3). */
    if (http && !loopback)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "redirect URI %s uses http on a non-loopback host; use https, "
                                 "or http only with localhost, 127.0.0.1 or [::1] "
                                 "(OAuth 2.1 §2.3.1)",
                                 quoted);
    return MCPAUTH_OK;
}
