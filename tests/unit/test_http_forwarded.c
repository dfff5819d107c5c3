#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/http_forwarded.h"
#include "testlib.h"

/* --- mcpauth_http_cidr_parse -------------------------------------------- */

static const char *const good_cidrs[] = {
    "10.0.0.0/8", "127.0.0.1",      "::1",           "fd00::/8",       "0.0.0.0/0",
    "::/0",       "192.168.0.0/23", "2001:db8::/32", "203.0.113.7/32", "::ffff:10.0.0.0/104",
};

START_TEST(cidr_good)
{
    mcpauth_http_cidr c;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_http_cidr_parse(good_cidrs[_i], &c, &err), MCPAUTH_OK);
}
END_TEST

static const char *const bad_cidrs[] = {
    "",
    "10.0.0.0/33",
    "::/129",
    "10.0.0.1/8",
    "10.0.0.0/",
    "10.0.0.0/8x",
    "abc",
    "10.0.0.0/-1",
    "1.2.3.4/0008",
    "1.2.3.4 /8",
    " 1.2.3.4",
    "1.2.3",
    "fd00::1/8",
    "10.0.0.0/8/8",
    "[::1]",
    "1.2.3.4:80",
    "::1%lo",
    "256.0.0.0",
    "10.0.0.0/+8",
    "/8",
};

START_TEST(cidr_bad)
{
    mcpauth_http_cidr c;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_http_cidr_parse(bad_cidrs[_i], &c, &err), MCPAUTH_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.message, bad_cidrs[_i]));
}
END_TEST

START_TEST(cidr_long_input)
{
    char text[5000];
    memset(text, '1', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    mcpauth_http_cidr c;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_http_cidr_parse(text, &c, &err), MCPAUTH_EUSAGE);
}
END_TEST

/* --- mcpauth_http_proxies_trust ----------------------------------------- */

typedef struct trust_case {
    const char *range;
    const char *address;
    bool trusted;
} trust_case;

static const trust_case trust_cases[] = {
    {"10.0.0.0/8", "10.1.2.3", true},
    {"10.0.0.0/8", "11.0.0.0", false},
    {"10.0.0.0/8", "9.255.255.255", false},
    {"10.0.0.0/8", "::ffff:10.1.2.3", true}, /* a dual-stack socket's IPv4 peer */
    {"10.0.0.0/8", "::ffff:11.1.2.3", false},
    {"10.0.0.0/8", "::10.1.2.3", false},
    {"192.168.0.0/23", "192.168.1.255", true},
    {"192.168.0.0/23", "192.168.2.0", false},
    {"127.0.0.1", "127.0.0.1", true},
    {"127.0.0.1", "127.0.0.2", false},
    {"0.0.0.0/0", "203.0.113.9", true},
    {"0.0.0.0/0", "2001:db8::1", false},
    {"::/0", "2001:db8::1", true},
    {"fd00::/8", "fd12:3456::1", true},
    {"fd00::/8", "fe80::1", false},
    {"::1", "::1", true},
    {"::1", "::2", false},
    {"2001:db8::/33", "2001:db8:7fff::1", true},
    {"2001:db8::/33", "2001:db8:8000::1", false},
    {"10.0.0.0/8", "", false},
    {"10.0.0.0/8", "garbage", false},
    {"10.0.0.0/8", "10.1.2.3 ", false},
    {"10.0.0.0/8", "-", false},
};

START_TEST(trust)
{
    const trust_case *t = &trust_cases[_i];
    mcpauth_http_proxies proxies = {.count = 0};
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_http_proxies_add(&proxies, t->range, &err), MCPAUTH_OK);
    ck_assert_msg(mcpauth_http_proxies_trust(&proxies, t->address) == t->trusted, "%s in %s",
                  t->address, t->range);
}
END_TEST

START_TEST(trust_nothing_and_null)
{
    mcpauth_http_proxies proxies = {.count = 0};
    ck_assert(!mcpauth_http_proxies_trust(&proxies, "127.0.0.1"));
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_http_proxies_add(&proxies, "0.0.0.0/0", &err), MCPAUTH_OK);
    ck_assert(!mcpauth_http_proxies_trust(&proxies, NULL));
}
END_TEST

START_TEST(list_is_bounded)
{
    mcpauth_http_proxies proxies = {.count = 0};
    mcpauth_error err = {0};
    for (int i = 0; i < MCPAUTH_HTTP_MAX_PROXIES; i++)
        ck_assert_int_eq(mcpauth_http_proxies_add(&proxies, "10.0.0.0/8", &err), MCPAUTH_OK);
    ck_assert_int_eq(mcpauth_http_proxies_add(&proxies, "10.0.0.0/8", &err), MCPAUTH_EUSAGE);
    ck_assert_uint_eq(proxies.count, MCPAUTH_HTTP_MAX_PROXIES);
    /* A malformed range is not half-added. */
    mcpauth_http_proxies other = {.count = 0};
    ck_assert_int_eq(mcpauth_http_proxies_add(&other, "10.0.0.0/99", &err), MCPAUTH_EUSAGE);
    ck_assert_uint_eq(other.count, 0);
}
END_TEST

/* --- mcpauth_http_forwarded_client -------------------------------------- */

typedef struct client_case {
    const char *peer;
    const char *forwarded[3];     /* Forwarded field values; NULL-terminated */
    const char *forwarded_for[3]; /* X-Forwarded-For */
    const char *proto[3];         /* X-Forwarded-Proto */
    const char *client;
    const char *scheme; /* NULL: none */
} client_case;

/* Trusted: 127.0.0.1 and 10.0.0.0/8 (see client()). */
static const client_case client_cases[] = {
    /* From anyone else, the fields are ignored. */
    {"203.0.113.9", {NULL}, {"1.2.3.4"}, {"https"}, "203.0.113.9", NULL},
    {"203.0.113.9", {"for=1.2.3.4;proto=https"}, {NULL}, {NULL}, "203.0.113.9", NULL},
    {"11.0.0.1", {NULL}, {"1.2.3.4"}, {NULL}, "11.0.0.1", NULL},
    /* X-Forwarded-For: the rightmost address that is not a trusted proxy. */
    {"127.0.0.1", {NULL}, {"1.2.3.4"}, {NULL}, "1.2.3.4", NULL},
    {"127.0.0.1", {NULL}, {"6.6.6.6, 1.2.3.4"}, {NULL}, "1.2.3.4", NULL},
    {"127.0.0.1", {NULL}, {"1.2.3.4, 10.0.0.2"}, {NULL}, "1.2.3.4", NULL},
    {"127.0.0.1", {NULL}, {"1.2.3.4,10.0.0.2,10.9.9.9"}, {NULL}, "1.2.3.4", NULL},
    {"127.0.0.1", {NULL}, {"1.1.1.1", "2.2.2.2"}, {NULL}, "2.2.2.2", NULL},
    {"127.0.0.1", {NULL}, {"10.0.0.3, 10.0.0.2"}, {NULL}, "10.0.0.3", NULL},
    /* An entry that is no address ends the walk: the last trusted hop. */
    {"127.0.0.1", {NULL}, {"1.2.3.4, garbage, 10.0.0.2"}, {NULL}, "10.0.0.2", NULL},
    {"127.0.0.1", {NULL}, {"unknown"}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {NULL}, {""}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {NULL}, {" , "}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {NULL}, {"1.2.3.4,"}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {NULL}, {"1.2.3.4\r\nX: y"}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {NULL}, {"<script>"}, {NULL}, "127.0.0.1", NULL},
    /* Ports, brackets, IPv6 forms; written back canonically. */
    {"127.0.0.1", {NULL}, {"1.2.3.4:8080"}, {NULL}, "1.2.3.4", NULL},
    {"127.0.0.1", {NULL}, {"1.2.3.4:123456"}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {NULL}, {"1.2.3.4:"}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {NULL}, {"[2001:db8::1]:443"}, {NULL}, "2001:db8::1", NULL},
    {"127.0.0.1", {NULL}, {"[2001:db8::1]"}, {NULL}, "2001:db8::1", NULL},
    {"127.0.0.1", {NULL}, {"[2001:db8::1]x"}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {NULL}, {"[1.2.3.4]"}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {NULL}, {"[2001:db8::1"}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {NULL}, {"2001:DB8::0001"}, {NULL}, "2001:db8::1", NULL},
    {"::ffff:127.0.0.1", {NULL}, {"1.2.3.4"}, {NULL}, "1.2.3.4", NULL},
    /* X-Forwarded-Proto: the rightmost entry, https or http only. */
    {"127.0.0.1", {NULL}, {"1.2.3.4"}, {"http, https"}, "1.2.3.4", "https"},
    {"127.0.0.1", {NULL}, {"1.2.3.4"}, {"https", "HTTP"}, "1.2.3.4", "http"},
    {"127.0.0.1", {NULL}, {"1.2.3.4"}, {"ftp"}, "1.2.3.4", NULL},
    {"127.0.0.1", {NULL}, {NULL}, {"https"}, "127.0.0.1", "https"},
    /* RFC 7239 Forwarded. */
    {"127.0.0.1",
     {"for=192.0.2.60;proto=https;by=203.0.113.43"},
     {NULL},
     {NULL},
     "192.0.2.60",
     "https"},
    {"127.0.0.1", {"for=\"[2001:db8:cafe::17]:4711\""}, {NULL}, {NULL}, "2001:db8:cafe::17", NULL},
    {"127.0.0.1", {"for=\"192.0.2.60:_hidden\""}, {NULL}, {NULL}, "192.0.2.60", NULL},
    {"127.0.0.1", {"for=1.1.1.1, for=2.2.2.2"}, {NULL}, {NULL}, "2.2.2.2", NULL},
    {"127.0.0.1", {"for=1.1.1.1", "for=2.2.2.2;proto=http"}, {NULL}, {NULL}, "2.2.2.2", "http"},
    {"127.0.0.1", {"for=1.1.1.1, for=10.0.0.7"}, {NULL}, {NULL}, "1.1.1.1", NULL},
    {"127.0.0.1", {"For=9.9.9.9;PROTO=HTTPS"}, {NULL}, {NULL}, "9.9.9.9", "https"},
    {"127.0.0.1", {"for=9.9.9.9;;"}, {NULL}, {NULL}, "9.9.9.9", NULL},
    {"127.0.0.1", {"proto=https;for=9.9.9.9"}, {NULL}, {NULL}, "9.9.9.9", "https"},
    /* Forwarded wins over X-Forwarded-For and X-Forwarded-Proto. */
    {"127.0.0.1", {"for=9.9.9.9"}, {"8.8.8.8"}, {"https"}, "9.9.9.9", NULL},
    /* Hostile Forwarded values. */
    {"127.0.0.1", {"for=_hidden"}, {NULL}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {"for=unknown"}, {NULL}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {"for=\"1.2.3.4"}, {NULL}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {"for=\"1.2.3.4\\\"x\""}, {NULL}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {"garbage!!, for=9.9.9.9"}, {NULL}, {NULL}, "9.9.9.9", NULL},
    {"127.0.0.1", {"for=9.9.9.9, garbage!!"}, {NULL}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {"for=9.9.9.9, for=\"a,b\", for=10.0.0.1"}, {NULL}, {NULL}, "10.0.0.1", NULL},
    {"127.0.0.1", {"for="}, {NULL}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {"for"}, {NULL}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {"by=1.2.3.4"}, {NULL}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {""}, {"8.8.8.8"}, {NULL}, "127.0.0.1", NULL},
    {"127.0.0.1", {"for=1.2.3.4 x"}, {NULL}, {NULL}, "127.0.0.1", NULL},
};

static size_t count_of(const char *const *values)
{
    size_t n = 0;
    while (n < 3 && values[n])
        n++;
    return n;
}

static mcpauth_http_proxies trusted(void)
{
    mcpauth_http_proxies proxies = {.count = 0};
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_http_proxies_add(&proxies, "127.0.0.1", &err), MCPAUTH_OK);
    ck_assert_int_eq(mcpauth_http_proxies_add(&proxies, "10.0.0.0/8", &err), MCPAUTH_OK);
    return proxies;
}

START_TEST(client)
{
    const client_case *t = &client_cases[_i];
    mcpauth_http_proxies proxies = trusted();
    mcpauth_http_forwarded_fields fields = {
        .forwarded = t->forwarded,
        .forwarded_count = count_of(t->forwarded),
        .forwarded_for = t->forwarded_for,
        .forwarded_for_count = count_of(t->forwarded_for),
        .forwarded_proto = t->proto,
        .forwarded_proto_count = count_of(t->proto),
    };
    char address[MCPAUTH_HTTP_ADDRESS_MAX];
    const char *scheme = "unset";
    bool forwarded = mcpauth_http_forwarded_client(&proxies, t->peer, &fields, address, &scheme);
    ck_assert_msg(strcmp(address, t->client) == 0, "case %d: got %s, want %s", _i, address,
                  t->client);
    ck_assert_msg(forwarded == (strcmp(t->client, t->peer) != 0), "case %d: forwarded %d", _i,
                  forwarded);
    if (t->scheme)
        ck_assert_msg(scheme && strcmp(scheme, t->scheme) == 0, "case %d: scheme %s", _i,
                      scheme ? scheme : "NULL");
    else
        ck_assert_msg(scheme == NULL, "case %d: scheme %s", _i, scheme);
}
END_TEST

/* Thousands of hops: only the rightmost ones matter, nothing overflows. */
START_TEST(client_many_hops)
{
    size_t n = 5000;
    char *xff = malloc(n * 10 + 32);
    ck_assert_ptr_nonnull(xff);
    xff[0] = '\0';
    for (size_t i = 0; i < n; i++)
        strcat(xff, "10.0.0.9, ");
    strcat(xff, "5.5.5.5, 10.0.0.1");
    mcpauth_http_proxies proxies = trusted();
    const char *values[] = {xff};
    mcpauth_http_forwarded_fields fields = {.forwarded_for = values, .forwarded_for_count = 1};
    char address[MCPAUTH_HTTP_ADDRESS_MAX];
    const char *scheme;
    ck_assert(mcpauth_http_forwarded_client(&proxies, "127.0.0.1", &fields, address, &scheme));
    ck_assert_str_eq(address, "5.5.5.5");
    /* All trusted: the walk ends at the oldest hop kept. */
    strcpy(strstr(xff, "5.5.5.5"), "10.0.0.1");
    ck_assert(mcpauth_http_forwarded_client(&proxies, "127.0.0.1", &fields, address, &scheme));
    ck_assert_str_eq(address, "10.0.0.9");
    free(xff);
}
END_TEST

static Suite *forwarded_suite(void)
{
    Suite *s = suite_create("http_forwarded");
    TCase *tc = tcase_create("cidr");
    tcase_add_loop_test(tc, cidr_good, 0, (int)(sizeof good_cidrs / sizeof good_cidrs[0]));
    tcase_add_loop_test(tc, cidr_bad, 0, (int)(sizeof bad_cidrs / sizeof bad_cidrs[0]));
    tcase_add_test(tc, cidr_long_input);
    suite_add_tcase(s, tc);

    tc = tcase_create("trust");
    tcase_add_loop_test(tc, trust, 0, (int)(sizeof trust_cases / sizeof trust_cases[0]));
    tcase_add_test(tc, trust_nothing_and_null);
    tcase_add_test(tc, list_is_bounded);
    suite_add_tcase(s, tc);

    tc = tcase_create("client");
    tcase_add_loop_test(tc, client, 0, (int)(sizeof client_cases / sizeof client_cases[0]));
    tcase_add_test(tc, client_many_hops);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(forwarded_suite());
}
