/* Client ID Metadata Documents: the client id URL rules, every document
 * check and its verdict (src/oauth/cimd.c), and which addresses a fetch may
 * reach (src/http/address.c, public_addresses_only). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>

#include "mcpauth/cimd.h"
#include "src/http/http_internal.h"
#include "testlib.h"

#define URL "https://app.example/client.json"

static mcpauth_oauth_cimd_verdict check(const char *text, const char **name)
{
    json_object *doc = NULL;
    char problem[256];
    mcpauth_oauth_cimd_verdict v = mcpauth_oauth_cimd_check_document(URL, text, strlen(text), &doc,
                                                                     name, problem, sizeof problem);
    ck_assert(v == MCPAUTH_OAUTH_CIMD_FOREIGN ? doc == NULL : doc != NULL);
    json_object_put(doc);
    return v;
}

START_TEST(url_rules)
{
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_oauth_cimd_check_url(URL, false, &err), MCPAUTH_OK);
    ck_assert_int_eq(mcpauth_oauth_cimd_check_url("https://app.example:8443/a/b?x=1", false, &err),
                     MCPAUTH_OK);
    const char *bad[] = {
        "https://app.example",          "https://app.example/",     "http://app.example/c.json",
        "https://app.example/c.json#f", "https://app.example/./c",  "https://app.example/a/../c",
        "https://u:p@app.example/c",    "ftp://app.example/c.json", "https://app.example/a/..",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(mcpauth_oauth_cimd_check_url(bad[i], false, &err) == MCPAUTH_EUSAGE, "%s",
                      bad[i]);
    /* Loopback http only when allowed, and only to loopback. */
    ck_assert_int_eq(mcpauth_oauth_cimd_check_url("http://localhost:3000/c.json", false, &err),
                     MCPAUTH_EUSAGE);
    ck_assert_int_eq(mcpauth_oauth_cimd_check_url("http://127.0.0.1:3000/c.json", true, &err),
                     MCPAUTH_OK);
    ck_assert_int_eq(mcpauth_oauth_cimd_check_url("http://10.0.0.1/c.json", true, &err),
                     MCPAUTH_EUSAGE);
    char longer[300] = "https://app.example/";
    memset(longer + strlen(longer), 'a', 250);
    longer[270] = '\0';
    ck_assert_int_eq(mcpauth_oauth_cimd_check_url(longer, false, &err), MCPAUTH_EUSAGE);
    ck_assert(mcpauth_oauth_cimd_is_url(URL));
    ck_assert(mcpauth_oauth_cimd_is_url("http://x/y"));
    ck_assert(!mcpauth_oauth_cimd_is_url("dev-abc"));
    ck_assert(!mcpauth_oauth_cimd_is_url("https://"));
    ck_assert(!mcpauth_oauth_cimd_is_url(NULL));
}
END_TEST

START_TEST(document_checks)
{
    const char *name = NULL;
    ck_assert_int_eq(check("{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":"
                           "[\"http://127.0.0.1:3000/cb\"]}\n",
                           &name),
                     MCPAUTH_OAUTH_CIMD_VALID);
    ck_assert_ptr_null(name);
    struct {
        const char *text, *check;
        mcpauth_oauth_cimd_verdict verdict;
    } cases[] = {
        {"{\"client_id\":", "json-object", MCPAUTH_OAUTH_CIMD_FOREIGN},
        {"[1]", "json-object", MCPAUTH_OAUTH_CIMD_FOREIGN},
        {"{} x", "json-object", MCPAUTH_OAUTH_CIMD_FOREIGN},
        {"{\"client_id\":\"" URL "/\",\"client_name\":\"A\",\"redirect_uris\":[\"https://a/cb\"]}",
         "client-id-matches", MCPAUTH_OAUTH_CIMD_FOREIGN},
        {"{\"client_id\":\"HTTPS://app.example/client.json\"}", "client-id-matches",
         MCPAUTH_OAUTH_CIMD_FOREIGN},
        /* The URL, then a NUL and more: equal as C strings, not byte for byte. */
        {"{\"client_id\":\"" URL "\\u0000.evil\",\"client_name\":\"A\",\"redirect_uris\":"
         "[\"https://a/cb\"]}",
         "client-id-matches", MCPAUTH_OAUTH_CIMD_FOREIGN},
        {"{\"client_id\":\"" URL "\",\"client_name\":\"\",\"redirect_uris\":[\"https://a/cb\"]}",
         "client-name", MCPAUTH_OAUTH_CIMD_INVALID},
        {"{\"client_id\":\"" URL "\",\"client_name\":\"A\"}", "redirect-uris",
         MCPAUTH_OAUTH_CIMD_FOREIGN},
        {"{\"client_id\":\"" URL "\",\"redirect_uris\":[\"http://evil.example/cb\"]}",
         "redirect-uris", MCPAUTH_OAUTH_CIMD_FOREIGN},
        {"{\"client_id\":\"" URL "\",\"redirect_uris\":[\"https://a/cb\"]}", "client-name",
         MCPAUTH_OAUTH_CIMD_INVALID},
        {"{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":[\"https://a/cb\"],"
         "\"client_secret\":\"s\"}",
         "no-client-secret", MCPAUTH_OAUTH_CIMD_INVALID},
        {"{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":[\"https://a/cb\"],"
         "\"token_endpoint_auth_method\":\"client_secret_post\"}",
         "auth-method", MCPAUTH_OAUTH_CIMD_INVALID},
        {"{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":[\"https://a/cb\"],"
         "\"grant_types\":[\"client_credentials\"]}",
         "grant-types", MCPAUTH_OAUTH_CIMD_INVALID},
        {"{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":[\"https://a/cb\"],"
         "\"response_types\":[\"token\"]}",
         "response-types", MCPAUTH_OAUTH_CIMD_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        name = NULL;
        ck_assert_msg(check(cases[i].text, &name) == cases[i].verdict, "%s", cases[i].text);
        ck_assert_str_eq(name, cases[i].check);
    }
    /* Oversized: refused before parsing. */
    char big[MCPAUTH_OAUTH_CIMD_MAX_DOCUMENT + 20];
    memset(big, ' ', sizeof big - 1);
    big[0] = '{';
    big[sizeof big - 2] = '}';
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(check(big, &name), MCPAUTH_OAUTH_CIMD_FOREIGN);
}
END_TEST

static bool v4(const char *text)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    ck_assert_int_eq(inet_pton(AF_INET, text, &in.sin_addr), 1);
    return mcpauth__http_address_allowed((struct sockaddr *)&in);
}

static bool v6(const char *text)
{
    struct sockaddr_in6 in = {.sin6_family = AF_INET6};
    ck_assert_int_eq(inet_pton(AF_INET6, text, &in.sin6_addr), 1);
    return mcpauth__http_address_allowed((struct sockaddr *)&in);
}

START_TEST(public_addresses)
{
    ck_assert(v4("127.0.0.1") && v4("127.9.9.9") && v4("8.8.8.8") && v4("93.184.216.34"));
    const char *refused4[] = {"10.1.2.3",        "172.16.0.1", "172.31.255.255", "192.168.1.1",
                              "169.254.169.254", "100.64.0.1", "0.0.0.0",        "224.0.0.1",
                              "255.255.255.255", "198.18.0.1", "192.0.0.8"};
    for (size_t i = 0; i < sizeof refused4 / sizeof refused4[0]; i++)
        ck_assert_msg(!v4(refused4[i]), "%s", refused4[i]);
    ck_assert(v4("172.32.0.1") && v4("100.128.0.1"));
    ck_assert(v6("::1") && v6("2606:4700::1111") && v6("::ffff:8.8.8.8"));
    const char *refused6[] = {"::",
                              "fe80::1",
                              "fc00::1",
                              "fd12:3456::1",
                              "ff02::1",
                              "::ffff:10.0.0.1",
                              "64:ff9b::a9fe:a9fe",
                              "2002:c0a8:0101::1",
                              "fec0::1"};
    for (size_t i = 0; i < sizeof refused6 / sizeof refused6[0]; i++)
        ck_assert_msg(!v6(refused6[i]), "%s", refused6[i]);
}
END_TEST

static Suite *cimd_suite(void)
{
    Suite *s = suite_create("cimd");
    TCase *tc = tcase_create("cimd");
    tcase_add_test(tc, url_rules);
    tcase_add_test(tc, document_checks);
    tcase_add_test(tc, public_addresses);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(cimd_suite());
}
