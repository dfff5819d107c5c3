#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/url.h"
#include "testlib.h"

/* --- mcpauth_url_parse: accepted ---------------------------------------- */

typedef struct good_case {
    const char *text;
    const char *scheme;
    const char *host;
    int port;
    bool port_explicit;
    const char *path;
    const char *query;
    const char *fragment;
} good_case;

static const good_case good_cases[] = {
    {"https://example.com", "https", "example.com", 443, false, "", NULL, NULL},
    {"http://example.com", "http", "example.com", 80, false, "", NULL, NULL},
    {"HTTPS://EXAMPLE.COM/Path/To", "https", "example.com", 443, false, "/Path/To", NULL, NULL},
    {"HtTp://Host:8080/mcp", "http", "host", 8080, true, "/mcp", NULL, NULL},
    {"http://127.0.0.1:8080/mcp?x=1#frag", "http", "127.0.0.1", 8080, true, "/mcp", "x=1", "frag"},
    {"http://[::1]:3000/", "http", "::1", 3000, true, "/", NULL, NULL},
    {"https://[2001:DB8::1]/a", "https", "2001:db8::1", 443, false, "/a", NULL, NULL},
    {"https://[::ffff:192.0.2.1]", "https", "::ffff:192.0.2.1", 443, false, "", NULL, NULL},
    {"https://as.example.com:443/t1/", "https", "as.example.com", 443, true, "/t1/", NULL, NULL},
    {"https://h/a%20b%2F", "https", "h", 443, false, "/a%20b%2F", NULL, NULL},
    {"https://h?q", "https", "h", 443, false, "", "q", NULL},
    {"https://h?", "https", "h", 443, false, "", "", NULL},
    {"https://h#f", "https", "h", 443, false, "", NULL, "f"},
    {"https://h#", "https", "h", 443, false, "", NULL, ""},
    {"https://h:1", "https", "h", 1, true, "", NULL, NULL},
    {"https://h:65535/", "https", "h", 65535, true, "/", NULL, NULL},
    {"https://h:00080", "https", "h", 80, true, "", NULL, NULL},
    {"https://h/p;x=1,2!$&'()*+~_.-", "https", "h", 443, false, "/p;x=1,2!$&'()*+~_.-", NULL, NULL},
    {"https://h/a?b=c/d?e:f@g", "https", "h", 443, false, "/a", "b=c/d?e:f@g", NULL},
    {"https://my_host.example-1.com./x", "https", "my_host.example-1.com.", 443, false, "/x", NULL,
     NULL},
    {"https://h//double//", "https", "h", 443, false, "//double//", NULL, NULL},
};

START_TEST(parse_good)
{
    const good_case *c = &good_cases[_i];
    mcpauth_url url;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_url_parse(c->text, &url, &err), MCPAUTH_OK);
    ck_assert_str_eq(url.scheme, c->scheme);
    ck_assert_str_eq(url.host, c->host);
    ck_assert_int_eq(url.port, c->port);
    ck_assert_int_eq(url.port_explicit, c->port_explicit);
    ck_assert_str_eq(url.path, c->path);
    ck_assert_pstr_eq(url.query, c->query);
    ck_assert_pstr_eq(url.fragment, c->fragment);
    mcpauth_url_free(&url);
    ck_assert_ptr_null(url.host);
}
END_TEST

/* --- mcpauth_url_parse: refused ----------------------------------------- */

typedef struct bad_case {
    const char *text;
    const char *reason; /* a substring of the message */
} bad_case;

static const bad_case bad_cases[] = {
    {"", "empty"},
    {"example.com", "not an absolute URL"},
    {"/relative/path", "not an absolute URL"},
    {"ftp://example.com/", "not http or https"},
    {"javascript:alert(1)", "not http or https"},
    {"https:/example.com", "no \"//\""},
    {"https:example.com", "no \"//\""},
    {"https://", "no host"},
    {"https:///path", "no host"},
    {"https://:443/", "no host"},
    {"https://user@example.com/", "userinfo"},
    {"https://user:pw@example.com/", "userinfo"},
    {"https://trusted.example@evil.example/", "userinfo"},
    {"https://h:0/", "port"},
    {"https://h:65536/", "port"},
    {"https://h:123456/", "port"},
    {"https://h:99999999999999999999/", "port"},
    {"https://h:/", "empty port"},
    {"https://h:8a/", "port"},
    {"https://h:-1/", "port"},
    {"https://h:+80/", "port"},
    {"https://h /x", "space"},
    {" https://h/", "space"},
    {"https://h/x ", "space"},
    {"https://h/\x01", "control character 0x01"},
    {"https://h/\x7f", "control character 0x7f"},
    {"https://h/\t", "control character 0x09"},
    {"https://h/\r\nX-Injected: 1", "control character"},
    {"https://h/caf\xc3\xa9", "non-ASCII"},
    {"https://h\xc3\xa9.com/", "non-ASCII"},
    {"https://h/<script>", "'<'"},
    {"https://h/a\\b", "'\\'"},
    {"https:\\\\h/", "'\\'"},
    {"https://h/\"", "'\"'"},
    {"https://h/{x}", "'{'"},
    {"https://h/%zz", "malformed %-escape"},
    {"https://h/%2", "malformed %-escape"},
    {"https://h/%", "malformed %-escape"},
    {"https://[::1", "unterminated IPv6"},
    {"https://[zz::1]/", "invalid IPv6"},
    {"https://[]/", "invalid IPv6"},
    {"https://[127.0.0.1]/", "invalid IPv6"},
    {"https://[fe80::1%25eth0]/", "invalid IPv6"},
    {"https://[v1.fe80::a]/", "invalid IPv6"},
    {"https://[::1]x/", "after the IPv6"},
    {"https://[::1]:/", "empty port"},
    {"https://::1/", "no host"},
    {"https://h/[x]", "outside the host"},
    {"https://h[1]/", "'[' in the host"},
    {"https://h#a#b", "more than one '#'"},
    {"https://ex!ample.com/", "'!' in the host"},
    {"https://ex%41mple.com/", "'%' in the host"},
    {"https://ex,ample.com/", "',' in the host"},
};

START_TEST(parse_bad)
{
    const bad_case *c = &bad_cases[_i];
    mcpauth_url url;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_url_parse(c->text, &url, &err), MCPAUTH_EUSAGE);
    ck_assert_int_eq(err.status, MCPAUTH_EUSAGE);
    ck_assert_msg(strstr(err.message, c->reason), "message for \"%s\" is \"%s\", lacks \"%s\"",
                  c->text, err.message, c->reason);
    ck_assert_ptr_null(strchr(err.message, '\n'));
    ck_assert_ptr_null(url.scheme);
    ck_assert_ptr_null(url.host);
    mcpauth_url_free(&url);
}
END_TEST

START_TEST(parse_null_and_null_err)
{
    mcpauth_url url;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_url_parse(NULL, &url, &err), MCPAUTH_EUSAGE);
    ck_assert_int_eq(mcpauth_url_parse("nope", &url, NULL), MCPAUTH_EUSAGE);
    ck_assert_int_eq(mcpauth_url_parse("https://ok/", &url, NULL), MCPAUTH_OK);
    mcpauth_url_free(&url);
    mcpauth_url_free(&url);
    mcpauth_url_free(NULL);
}
END_TEST

START_TEST(parse_message_names_value)
{
    mcpauth_url url;
    mcpauth_error err = {0};

    mcpauth_url_parse("https://user@example.com/x", &url, &err);
    ck_assert_ptr_nonnull(strstr(err.message, "\"https://user@example.com/x\""));
    /* Hostile bytes come back escaped, never raw. */
    mcpauth_url_parse("https://h/\x1b[31m", &url, &err);
    ck_assert_ptr_nonnull(strstr(err.message, "\\x1b"));
    ck_assert_ptr_null(strchr(err.message, '\x1b'));
}
END_TEST

START_TEST(parse_length_limit)
{
    char *text = malloc(8194);
    mcpauth_url url;
    mcpauth_error err = {0};

    strcpy(text, "https://h/");
    memset(text + 10, 'a', 8192 - 10);
    text[8192] = '\0';
    ck_assert_int_eq(mcpauth_url_parse(text, &url, &err), MCPAUTH_OK);
    ck_assert_uint_eq(strlen(url.path), 8192 - 9);
    mcpauth_url_free(&url);

    text[8192] = 'a';
    text[8193] = '\0';
    ck_assert_int_eq(mcpauth_url_parse(text, &url, &err), MCPAUTH_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "longer than 8192 bytes"));
    ck_assert_ptr_nonnull(strstr(err.message, "...\""));
    ck_assert_uint_lt(strlen(err.message), 400);
    free(text);
}
END_TEST

/* --- loopback and origin ------------------------------------------------ */

typedef struct loopback_case {
    const char *text;
    bool loopback;
} loopback_case;

static const loopback_case loopback_cases[] = {
    {"http://localhost/", true},
    {"http://LOCALHOST:8080/", true},
    {"http://127.0.0.1/", true},
    {"http://127.0.0.1:9/", true},
    {"http://127.255.255.254/", true},
    {"http://127.1.2.3/", true},
    {"http://[::1]/", true},
    {"http://[0:0:0:0:0:0:0:1]:80/", true},
    {"http://[::0001]/", true},
    {"http://128.0.0.1/", false},
    {"http://126.255.255.255/", false},
    {"http://10.0.0.1/", false},
    {"http://0.0.0.0/", false},
    {"http://example.com/", false},
    {"http://localhost.example.com/", false},
    {"http://mylocalhost/", false},
    {"http://127.0.0.1.nip.io/", false},
    {"http://127.1/", false},
    {"http://2130706433/", false},
    {"http://[::2]/", false},
    {"http://[::]/", false},
};

START_TEST(loopback_hosts)
{
    const loopback_case *c = &loopback_cases[_i];
    mcpauth_url url;

    ck_assert_int_eq(mcpauth_url_parse(c->text, &url, NULL), MCPAUTH_OK);
    ck_assert_msg(mcpauth_url_is_loopback(&url) == c->loopback, "%s", c->text);
    mcpauth_url_free(&url);
}
END_TEST

START_TEST(loopback_null)
{
    mcpauth_url zero = {0};
    ck_assert(!mcpauth_url_is_loopback(NULL));
    ck_assert(!mcpauth_url_is_loopback(&zero));
}
END_TEST

static const char *const origin_cases[][2] = {
    {"https://Example.COM/x?y#z", "https://example.com"},
    {"https://example.com:443/x", "https://example.com"},
    {"http://example.com:80", "http://example.com"},
    {"http://example.com:443/", "http://example.com:443"},
    {"https://example.com:80/", "https://example.com:80"},
    {"http://h:8080/mcp", "http://h:8080"},
    {"http://[::1]:3000/x", "http://[::1]:3000"},
    {"https://[::1]/", "https://[::1]"},
    {"https://[2001:DB8::1]:443", "https://[2001:db8::1]"},
};

START_TEST(origin_of)
{
    mcpauth_url url;

    ck_assert_int_eq(mcpauth_url_parse(origin_cases[_i][0], &url, NULL), MCPAUTH_OK);
    char *origin = mcpauth_url_origin(&url);
    ck_assert_str_eq(origin, origin_cases[_i][1]);
    free(origin);
    mcpauth_url_free(&url);
}
END_TEST

/* --- well-known URLs ---------------------------------------------------- */

typedef struct well_known_case {
    const char *url;
    const char *name;
    const char *expected;
} well_known_case;

static const well_known_case inserted_cases[] = {
    /* RFC 8414 §3.1 example */
    {"https://as/t1/", "oauth-authorization-server",
     "https://as/.well-known/oauth-authorization-server/t1"},
    {"https://as/t1", "oauth-authorization-server",
     "https://as/.well-known/oauth-authorization-server/t1"},
    {"https://as", "oauth-authorization-server",
     "https://as/.well-known/oauth-authorization-server"},
    {"https://as/", "oauth-authorization-server",
     "https://as/.well-known/oauth-authorization-server"},
    /* RFC 9728 §3.1 */
    {"https://host/mcp", "oauth-protected-resource",
     "https://host/.well-known/oauth-protected-resource/mcp"},
    {"https://host/a/b/mcp", "oauth-protected-resource",
     "https://host/.well-known/oauth-protected-resource/a/b/mcp"},
    /* exactly one terminating '/' goes */
    {"https://as/a//", "n", "https://as/.well-known/n/a/"},
    {"https://as//", "n", "https://as/.well-known/n/"},
    /* the query stays at the end (RFC 8414 §3.1) */
    {"https://as/t1?x=1", "n", "https://as/.well-known/n/t1?x=1"},
    {"https://as/t1/?x=1", "n", "https://as/.well-known/n/t1?x=1"},
    {"https://as/?x=1", "n", "https://as/.well-known/n?x=1"},
    {"https://as?x=1", "n", "https://as/.well-known/n?x=1"},
    {"http://127.0.0.1:8080/mcp", "oauth-protected-resource",
     "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"},
    {"http://[::1]:8080/mcp", "n", "http://[::1]:8080/.well-known/n/mcp"},
    {"HTTPS://AS.Example:443/T1", "n", "https://as.example/.well-known/n/T1"},
};

START_TEST(well_known_inserted)
{
    const well_known_case *c = &inserted_cases[_i];
    mcpauth_error err = {0};
    char *got = mcpauth_url_well_known_inserted(c->url, c->name, &err);
    ck_assert_msg(got, "%s: %s", c->url, err.message);
    ck_assert_str_eq(got, c->expected);
    free(got);
}
END_TEST

static const well_known_case appended_cases[] = {
    {"https://as/t1", "openid-configuration", "https://as/t1/.well-known/openid-configuration"},
    {"https://as/t1/", "openid-configuration", "https://as/t1/.well-known/openid-configuration"},
    {"https://as", "openid-configuration", "https://as/.well-known/openid-configuration"},
    {"https://as/", "openid-configuration", "https://as/.well-known/openid-configuration"},
    {"https://as/a/b", "n", "https://as/a/b/.well-known/n"},
    {"https://as/a//", "n", "https://as/a//.well-known/n"},
    {"https://as/t1?x=1", "n", "https://as/t1/.well-known/n?x=1"},
    {"http://localhost:9000/realms/dev", "openid-configuration",
     "http://localhost:9000/realms/dev/.well-known/openid-configuration"},
};

START_TEST(well_known_appended)
{
    const well_known_case *c = &appended_cases[_i];
    mcpauth_error err = {0};
    char *got = mcpauth_url_well_known_appended(c->url, c->name, &err);
    ck_assert_msg(got, "%s: %s", c->url, err.message);
    ck_assert_str_eq(got, c->expected);
    free(got);
}
END_TEST

START_TEST(well_known_errors)
{
    mcpauth_error err = {0};

    ck_assert_ptr_null(mcpauth_url_well_known_inserted("https://as/t#f", "n", &err));
    ck_assert_int_eq(err.status, MCPAUTH_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "fragment"));
    ck_assert_ptr_null(mcpauth_url_well_known_appended("https://as/t#", "n", &err));
    ck_assert_ptr_nonnull(strstr(err.message, "fragment"));
    ck_assert_ptr_null(mcpauth_url_well_known_inserted("as/t1", "n", &err));
    ck_assert_int_eq(err.status, MCPAUTH_EUSAGE);
    ck_assert_ptr_null(mcpauth_url_well_known_inserted("ftp://as/", "n", &err));
    ck_assert_ptr_null(mcpauth_url_well_known_inserted(NULL, "n", &err));
    ck_assert_ptr_null(mcpauth_url_well_known_inserted("https://as", "", &err));
    ck_assert_ptr_null(mcpauth_url_well_known_inserted("https://as", "a/b", &err));
    ck_assert_ptr_null(mcpauth_url_well_known_appended("https://as", NULL, NULL));
}
END_TEST

/* --- resolve ------------------------------------------------------------ */

typedef struct resolve_case {
    const char *base;
    const char *reference;
    const char *expected;
} resolve_case;

#define RFC_BASE "http://a/b/c/d;p?q"

static const resolve_case resolve_cases[] = {
    /* RFC 3986 §5.4.1 normal examples (bar the non-http "g:h") */
    {RFC_BASE, "g", "http://a/b/c/g"},
    {RFC_BASE, "./g", "http://a/b/c/g"},
    {RFC_BASE, "g/", "http://a/b/c/g/"},
    {RFC_BASE, "/g", "http://a/g"},
    {RFC_BASE, "//g", "http://g"},
    {RFC_BASE, "?y", "http://a/b/c/d;p?y"},
    {RFC_BASE, "g?y", "http://a/b/c/g?y"},
    {RFC_BASE, "#s", "http://a/b/c/d;p?q#s"},
    {RFC_BASE, "g#s", "http://a/b/c/g#s"},
    {RFC_BASE, "g?y#s", "http://a/b/c/g?y#s"},
    {RFC_BASE, ";x", "http://a/b/c/;x"},
    {RFC_BASE, "g;x", "http://a/b/c/g;x"},
    {RFC_BASE, "g;x?y#s", "http://a/b/c/g;x?y#s"},
    {RFC_BASE, "", "http://a/b/c/d;p?q"},
    {RFC_BASE, ".", "http://a/b/c/"},
    {RFC_BASE, "./", "http://a/b/c/"},
    {RFC_BASE, "..", "http://a/b/"},
    {RFC_BASE, "../", "http://a/b/"},
    {RFC_BASE, "../g", "http://a/b/g"},
    {RFC_BASE, "../..", "http://a/"},
    {RFC_BASE, "../../", "http://a/"},
    {RFC_BASE, "../../g", "http://a/g"},
    /* RFC 3986 §5.4.2 abnormal examples */
    {RFC_BASE, "../../../g", "http://a/g"},
    {RFC_BASE, "../../../../g", "http://a/g"},
    {RFC_BASE, "/./g", "http://a/g"},
    {RFC_BASE, "/../g", "http://a/g"},
    {RFC_BASE, "g.", "http://a/b/c/g."},
    {RFC_BASE, ".g", "http://a/b/c/.g"},
    {RFC_BASE, "g..", "http://a/b/c/g.."},
    {RFC_BASE, "..g", "http://a/b/c/..g"},
    {RFC_BASE, "./../g", "http://a/b/g"},
    {RFC_BASE, "./g/.", "http://a/b/c/g/"},
    {RFC_BASE, "g/./h", "http://a/b/c/g/h"},
    {RFC_BASE, "g/../h", "http://a/b/c/h"},
    {RFC_BASE, "g;x=1/./y", "http://a/b/c/g;x=1/y"},
    {RFC_BASE, "g;x=1/../y", "http://a/b/c/y"},
    {RFC_BASE, "g?y/./x", "http://a/b/c/g?y/./x"},
    {RFC_BASE, "g?y/../x", "http://a/b/c/g?y/../x"},
    {RFC_BASE, "g#s/./x", "http://a/b/c/g#s/./x"},
    {RFC_BASE, "g#s/../x", "http://a/b/c/g#s/../x"},
    /* Location headers seen in practice */
    {"https://as.example/authorize", "https://login.example/x?y=1", "https://login.example/x?y=1"},
    {"https://as.example/a", "HTTPS://Other.Example:8443/A/./B/../C",
     "https://other.example:8443/A/C"},
    {"https://as.example/a", "http://127.0.0.1:9/cb", "http://127.0.0.1:9/cb"},
    {"https://as.example/a/b", "//cdn.example/x", "https://cdn.example/x"},
    {"http://as.example/a/b", "//[::1]:8080/x", "http://[::1]:8080/x"},
    {"https://as.example:8443/a/b?q#f", "/x/y", "https://as.example:8443/x/y"},
    {"https://as.example/a/b", "/a/./b/../c?d", "https://as.example/a/c?d"},
    {"https://as.example", "x", "https://as.example/x"},
    {"https://as.example", "?x", "https://as.example?x"},
    {"https://as.example/a/b#frag", "", "https://as.example/a/b"},
    {"https://as.example/.well-known/x", "../y", "https://as.example/y"},
    {"https://as.example/dir/", "file", "https://as.example/dir/file"},
};

START_TEST(resolve_good)
{
    const resolve_case *c = &resolve_cases[_i];
    mcpauth_error err = {0};
    char *got = mcpauth_url_resolve(c->base, c->reference, &err);
    ck_assert_msg(got, "%s + %s: %s", c->base, c->reference, err.message);
    ck_assert_msg(strcmp(got, c->expected) == 0, "%s + %s -> %s, expected %s", c->base,
                  c->reference, got, c->expected);
    free(got);
}
END_TEST

static const resolve_case resolve_bad_cases[] = {
    {RFC_BASE, "g:h", "not http or https"},
    {RFC_BASE, "ftp://x/", "not http or https"},
    {RFC_BASE, "javascript:alert(1)", "not http or https"},
    {RFC_BASE, "http:g", "no \"//\""},
    {RFC_BASE, "https://u@evil/", "userinfo"},
    {RFC_BASE, "//", "no host"},
    {RFC_BASE, "///x", "no host"},
    {RFC_BASE, "/a b", "space"},
    {RFC_BASE, "/a\r\nSet-Cookie: x", "control character"},
    {RFC_BASE, "/a/\x01/../b", "control character"},
    {RFC_BASE, "/[x]", "outside the host"},
    {RFC_BASE, "https://h:99999/", "port"},
    {"/relative", "g", "not an absolute URL"},
    {"ftp://a/b", "g", "not http or https"},
};

START_TEST(resolve_bad)
{
    const resolve_case *c = &resolve_bad_cases[_i];
    mcpauth_error err = {0};
    char *got = mcpauth_url_resolve(c->base, c->reference, &err);
    ck_assert_msg(!got, "%s + %s -> %s", c->base, c->reference, got);
    ck_assert_int_eq(err.status, MCPAUTH_EUSAGE);
    ck_assert_msg(strstr(err.message, c->expected), "%s", err.message);
}
END_TEST

START_TEST(resolve_null)
{
    mcpauth_error err = {0};
    ck_assert_ptr_null(mcpauth_url_resolve("https://a/", NULL, &err));
    ck_assert_int_eq(err.status, MCPAUTH_EUSAGE);
    ck_assert_ptr_null(mcpauth_url_resolve(NULL, "x", &err));
    ck_assert_ptr_null(mcpauth_url_resolve("https://a/", "b c", NULL));
}
END_TEST

START_TEST(resolve_long)
{
    /* Dot segments cannot smuggle a URL past the length limit. */
    size_t n = 9000;
    char *ref = malloc(n + 1);
    mcpauth_error err = {0};
    for (size_t i = 0; i < n; i += 3)
        memcpy(ref + i, "../", 3);
    ref[n] = '\0';
    ck_assert_ptr_null(mcpauth_url_resolve("https://a/b", ref, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "longer than 8192"));
    ref[8100] = '\0';
    char *got = mcpauth_url_resolve("https://a/b/c/d", ref, &err);
    ck_assert_str_eq(got, "https://a/");
    free(got);
    free(ref);
}
END_TEST

/* --- redirect URIs ------------------------------------------------------ */

static const char *const redirect_good[] = {
    "https://app.example.com/cb",
    "https://app.example.com/cb?x=1",
    "HTTPS://APP.EXAMPLE.COM:8443/cb",
    "http://127.0.0.1:8080/callback",
    "http://127.0.0.1/callback",
    "http://localhost/cb",
    "http://localhost:33418",
    "http://[::1]:9000/cb",
    "com.example.app:/oauth2redirect/example-provider",
    "com.example:/cb",
    "com.example.app://callback",
    "org.example-app.v2+x:/cb",
};

START_TEST(redirect_uri_good)
{
    mcpauth_error err = {0};
    ck_assert_msg(mcpauth_url_check_redirect_uri(redirect_good[_i], &err) == MCPAUTH_OK, "%s: %s",
                  redirect_good[_i], err.message);
}
END_TEST

static const char *const redirect_bad[][2] = {
    {"http://example.com/cb", "loopback"},
    {"http://example.com/cb", "https"},
    {"http://10.0.0.1/cb", "non-loopback"},
    {"http://127.0.0.1.nip.io/cb", "non-loopback"},
    {"https://app.example.com/cb#frag", "fragment"},
    {"com.example.app:/cb#x", "fragment"},
    {"https://app.example.com/cb#", "fragment"},
    {"/cb", "not an absolute URI"},
    {"cb", "not an absolute URI"},
    {"//app.example.com/cb", "not an absolute URI"},
    {"javascript:alert(1)", "\"javascript\" is not allowed"},
    {"data:text/html,hi", "\"data\" is not allowed"},
    {"file:///etc/passwd", "\"file\" is not allowed"},
    {"myapp:/cb", "private-use scheme"},
    {"com.example:", "nothing after the scheme"},
    {"https://u@app.example.com/cb", "userinfo"},
    {"https://app.example.com/ cb", "space"},
    {"https://app.example.com/\x0a", "control character"},
    {"", "empty"},
    {"https:/cb", "no \"//\""},
};

START_TEST(redirect_uri_bad)
{
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_url_check_redirect_uri(redirect_bad[_i][0], &err), MCPAUTH_EUSAGE);
    ck_assert_msg(strstr(err.message, redirect_bad[_i][1]), "%s: \"%s\" lacks \"%s\"",
                  redirect_bad[_i][0], err.message, redirect_bad[_i][1]);
    ck_assert_ptr_nonnull(strstr(err.message, "redirect URI"));
}
END_TEST

START_TEST(redirect_uri_null)
{
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_url_check_redirect_uri(NULL, &err), MCPAUTH_EUSAGE);
    ck_assert_int_eq(mcpauth_url_check_redirect_uri("http://example.com/", NULL), MCPAUTH_EUSAGE);
    ck_assert_int_eq(mcpauth_url_check_redirect_uri("bad uri", NULL), MCPAUTH_EUSAGE);
    ck_assert_int_eq(mcpauth_url_check_redirect_uri("http://[::1]/", NULL), MCPAUTH_OK);
}
END_TEST

/* --- canonical URI comparison ------------------------------------------ */

typedef struct canonical_case {
    const char *a, *b;
    bool equal;
} canonical_case;

static const canonical_case canonical_cases[] = {
    {"https://rs.example/mcp", "https://rs.example/mcp", true},
    /* RFC 3986 §6.2.2.1: scheme and host are case-insensitive... */
    {"HTTPS://RS.Example/mcp", "https://rs.example/mcp", true},
    {"https://rs.example:8443/mcp", "https://RS.EXAMPLE:8443/mcp", true},
    /* ...the path is not. */
    {"https://rs.example/MCP", "https://rs.example/mcp", false},
    /* One trailing '/' on either side does not matter, two do. */
    {"https://rs.example/mcp/", "https://rs.example/mcp", true},
    {"https://rs.example", "https://rs.example/", true},
    {"https://rs.example/mcp//", "https://rs.example/mcp", false},
    {"https://rs.example/mcp?x=1", "https://rs.example/mcp?x=1", true},
    {"https://rs.example/mcp?x=1", "https://rs.example/mcp?X=1", false},
    {"https://rs.example/mcp", "http://rs.example/mcp", false},
    {"https://rs.example/mcp", "https://rs.example:443/mcp", false},
    {"https://rs.example/mcp", "https://rs.example.evil/mcp", false},
    {"https://rs.example/mcp", "https://rs.example/mcp2", false},
    {"https://rs.example/", "", false},
    /* Not "scheme://": identical or different, never case-folded. */
    {"client-x", "client-x", true},
    {"client-x", "Client-X", false},
    {"urn:example:rs", "URN:example:rs", false},
    {"urn:example:rs", "urn:example:rs", true},
    {"client-x/", "client-x", false},
    {"https://rs.example/mcp", "rs.example/mcp", false},
};

START_TEST(canonical_equal)
{
    const canonical_case *c = &canonical_cases[_i];
    ck_assert_msg(mcpauth_url_canonical_equal(c->a, c->b) == c->equal, "%s vs %s", c->a, c->b);
    ck_assert_msg(mcpauth_url_canonical_equal(c->b, c->a) == c->equal, "%s vs %s", c->b, c->a);
}
END_TEST

/* --- quoting for messages ----------------------------------------------- */

START_TEST(quote)
{
    char buf[MCPAUTH_URL_QUOTE_SIZE];
    char small[16];

    ck_assert_str_eq(mcpauth_url_quote("https://h/x", buf, sizeof buf), "\"https://h/x\"");
    ck_assert_str_eq(mcpauth_url_quote("a\"b\\c", buf, sizeof buf), "\"a\\\"b\\\\c\"");
    ck_assert_str_eq(mcpauth_url_quote("a\nb\x7f\xff", buf, sizeof buf), "\"a\\x0ab\\x7f\\xff\"");
    ck_assert_str_eq(mcpauth_url_quote("", buf, sizeof buf), "\"\"");
    ck_assert_str_eq(mcpauth_url_quote(NULL, buf, sizeof buf), "(none)");
    ck_assert_str_eq(mcpauth_url_quote("0123456789", small, sizeof small), "\"0123456789\"");
    ck_assert_str_eq(mcpauth_url_quote("0123456789abcdef", small, sizeof small),
                     "\"0123456789...\"");
    ck_assert_str_eq(mcpauth_url_quote("\x01\x02\x03\x04", small, sizeof small),
                     "\"\\x01\\x02...\"");

    char *huge = malloc(100000);
    memset(huge, 'x', 99999);
    huge[99999] = '\0';
    mcpauth_url_quote(huge, buf, sizeof buf);
    ck_assert_uint_lt(strlen(buf), sizeof buf);
    ck_assert_ptr_nonnull(strstr(buf, "xxx...\""));
    free(huge);
}
END_TEST

/* Random references from URL punctuation: parse and resolve must either fail
 * cleanly or produce a URL that parses again to itself. */
START_TEST(fuzz)
{
    static const char alphabet[] = "ht:/.?#%[]@a1\\ \x01\xff";
    uint32_t state = 88172645u;
    char text[48];

    for (int round = 0; round < 20000; round++) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        size_t length = state % sizeof text;
        for (size_t i = 0; i < length; i++) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            text[i] = alphabet[state % (sizeof alphabet - 1)];
        }
        text[length] = '\0';
        mcpauth_error err = {0};
        mcpauth_url url;
        if (mcpauth_url_parse(text, &url, &err) == MCPAUTH_OK)
            mcpauth_url_free(&url);
        char *resolved = mcpauth_url_resolve("http://h/a/b?q", text, &err);
        if (!resolved) {
            ck_assert(err.status == MCPAUTH_EUSAGE);
            continue;
        }
        char *again = mcpauth_url_resolve(resolved, "", &err);
        ck_assert_ptr_nonnull(again);
        /* Idempotent: resolving "" drops only the fragment. */
        size_t n = strcspn(resolved, "#");
        ck_assert_uint_eq(strlen(again), n);
        ck_assert(memcmp(again, resolved, n) == 0);
        free(again);
        free(resolved);
        mcpauth_url_check_redirect_uri(text, &err);
    }
}
END_TEST

/* ---- authorities (the Host header field) ---- */

typedef struct authority_case {
    const char *text;
    const char *host;
    int port;
    bool loopback;
} authority_case;

static const authority_case authority_good[] = {
    {"localhost", "localhost", 0, true},
    {"LocalHost:8000", "localhost", 8000, true},
    {"127.0.0.1:80", "127.0.0.1", 80, true},
    {"[::1]", "::1", 0, true},
    {"[::1]:8000", "::1", 8000, true},
    {"example.com", "example.com", 0, false},
    {"mcp.example.com:443", "mcp.example.com", 443, false},
    {"t", "t", 0, false},
};

START_TEST(authority_parse_good)
{
    const authority_case *c = &authority_good[_i];
    mcpauth_url a;
    mcpauth_error err = {0};
    ck_assert_msg(mcpauth_url_parse_authority(c->text, &a, &err) == MCPAUTH_OK, "%s: %s", c->text,
                  err.message);
    ck_assert_str_eq(a.host, c->host);
    ck_assert_int_eq(a.port, c->port);
    ck_assert(a.port_explicit == (c->port != 0));
    ck_assert(mcpauth_url_is_loopback(&a) == c->loopback);
    ck_assert_ptr_null(a.scheme);
    ck_assert_ptr_null(a.path);
    mcpauth_url_free(&a);
}
END_TEST

/* What a lenient host[:port] split would read as loopback, and the rest of
 * what RFC 3986 §3.2.2 does not allow. */
static const char *const authority_bad[] = {
    "[::1]evil.com",
    "[::1]:80evil.com",
    "localhost:80@evil.com",
    "localhost@evil.com",
    "user@localhost",
    "localhost:",
    "localhost:0",
    "localhost:65536",
    "localhost:8000:1",
    "localhost/evil",
    "localhost?x",
    "localhost#x",
    "local host",
    "localhost\r\nX: y",
    "localhost%00",
    "[::1",
    "[evil.com]",
    "",
    ":80",
    "évil.com",
};

START_TEST(authority_parse_bad)
{
    mcpauth_url a;
    mcpauth_error err = {0};
    ck_assert_msg(mcpauth_url_parse_authority(authority_bad[_i], &a, &err) != MCPAUTH_OK,
                  "accepted %s", authority_bad[_i]);
    ck_assert_ptr_null(a.host);
}
END_TEST

static Suite *url_suite(void)
{
    Suite *s = suite_create("url");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_loop_test(tc, parse_good, 0, sizeof good_cases / sizeof good_cases[0]);
    tcase_add_loop_test(tc, parse_bad, 0, sizeof bad_cases / sizeof bad_cases[0]);
    tcase_add_test(tc, parse_null_and_null_err);
    tcase_add_test(tc, parse_message_names_value);
    tcase_add_test(tc, parse_length_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("host");
    tcase_add_loop_test(tc, loopback_hosts, 0, sizeof loopback_cases / sizeof loopback_cases[0]);
    tcase_add_test(tc, loopback_null);
    tcase_add_loop_test(tc, origin_of, 0, sizeof origin_cases / sizeof origin_cases[0]);
    tcase_add_loop_test(tc, authority_parse_good, 0,
                        sizeof authority_good / sizeof authority_good[0]);
    tcase_add_loop_test(tc, authority_parse_bad, 0, sizeof authority_bad / sizeof authority_bad[0]);
    suite_add_tcase(s, tc);

    tc = tcase_create("well_known");
    tcase_add_loop_test(tc, well_known_inserted, 0,
                        sizeof inserted_cases / sizeof inserted_cases[0]);
    tcase_add_loop_test(tc, well_known_appended, 0,
                        sizeof appended_cases / sizeof appended_cases[0]);
    tcase_add_test(tc, well_known_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("resolve");
    tcase_add_loop_test(tc, resolve_good, 0, sizeof resolve_cases / sizeof resolve_cases[0]);
    tcase_add_loop_test(tc, resolve_bad, 0, sizeof resolve_bad_cases / sizeof resolve_bad_cases[0]);
    tcase_add_test(tc, resolve_null);
    tcase_add_test(tc, resolve_long);
    suite_add_tcase(s, tc);

    tc = tcase_create("redirect_uri");
    tcase_add_loop_test(tc, redirect_uri_good, 0, sizeof redirect_good / sizeof redirect_good[0]);
    tcase_add_loop_test(tc, redirect_uri_bad, 0, sizeof redirect_bad / sizeof redirect_bad[0]);
    tcase_add_test(tc, redirect_uri_null);
    tcase_add_test(tc, quote);
    suite_add_tcase(s, tc);

    tc = tcase_create("canonical");
    tcase_add_loop_test(tc, canonical_equal, 0, sizeof canonical_cases / sizeof canonical_cases[0]);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_add_test(tc, fuzz);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(url_suite());
}
