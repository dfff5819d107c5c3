/* TLS for the HTTP server (src/http/tls.c): loading and reloading the
 * credentials, and a whole handshake and exchange of records between a
 * GnuTLS client and a server session, over memory. The certificates below
 * are self-signed test certificates made with certtool for these tests
 * (valid until 2126); their keys protect nothing. */
#include <check.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>
#include <sys/stat.h>

#include "mcpauth/http_tls.h"
#include "mcpauth/strbuf.h"
#include "src/http/http_internal.h"
#include "testlib.h"

static const char CERT_ONE[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIBfTCCASOgAwIBAgICCgEwCgYIKoZIzj0EAwIwEzERMA8GA1UEAxMIdW5pdC1v\n"
                               "bmUwIBcNMjYxMjA3MDMyNzQzWhgPMjEyNjExMTMwMzI3NDNaMBMxETAPBgNVBAMT\n"
                               "CHVuaXQtb25lMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEXjWd5kd1mVKkgPsK\n"
                               "KiHzYfeEfHRSoePNgwMWY/TNOsjt3DU5+S47+h6tqZQv92lqT1hqiXhvrlxnZrz+\n"
                               "6241g6NlMGMwDAYDVR0TAQH/BAIwADAPBgNVHREECDAGhwR/AAABMBMGA1UdJQQM\n"
                               "MAoGCCsGAQUFBwMBMA4GA1UdDwEB/wQEAwIHgDAdBgNVHQ4EFgQUrbie7z12aLcQ\n"
                               "zEZl6BallkQNXmUwCgYIKoZIzj0EAwIDSAAwRQIhANceWJ/ha5aNQY+pW9qe8s/H\n"
                               "aUyZLLhjsRuZ4qmsDKMdAiBLeEGeMTJ65J1BTHH7i7Z9LhWVpbiH9rgABVXt1tfI\n"
                               "TQ==\n"
                               "-----END CERTIFICATE-----\n";
static const char KEY_ONE[] = "-----BEGIN EC PRIVATE KEY-----\n"
                              "MHcCAQEEIDw+wf7f+w3mz1qei9vVH3PFCa4vgz+6Hkk02gsL+YEHoAoGCCqGSM49\n"
                              "AwEHoUQDQgAEXjWd5kd1mVKkgPsKKiHzYfeEfHRSoePNgwMWY/TNOsjt3DU5+S47\n"
                              "+h6tqZQv92lqT1hqiXhvrlxnZrz+6241gw==\n"
                              "-----END EC PRIVATE KEY-----\n";
static const char CERT_TWO[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIBfjCCASOgAwIBAgICCgIwCgYIKoZIzj0EAwIwEzERMA8GA1UEAxMIdW5pdC10\n"
                               "d28wIBcNMjYxMjA3MDMyNzQzWhgPMjEyNjExMTMwMzI3NDNaMBMxETAPBgNVBAMT\n"
                               "CHVuaXQtdHdvMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEcR4h2pbbXKFQ85dt\n"
                               "Sdu18cAs4DDx2QNerGNt6/Q2b2JF05+fNu1ligAuANi3GKIqGZLzqnzzl+kIsD1U\n"
                               "7mAGA6NlMGMwDAYDVR0TAQH/BAIwADAPBgNVHREECDAGhwR/AAABMBMGA1UdJQQM\n"
                               "MAoGCCsGAQUFBwMBMA4GA1UdDwEB/wQEAwIHgDAdBgNVHQ4EFgQUhsQUjdzD53no\n"
                               "fXNREy33fWECnBQwCgYIKoZIzj0EAwIDSQAwRgIhAMpT4RtaYNT/ExspNLj08YhC\n"
                               "bjxCvQ8j1MBPge5gHT/XAiEA3kuQ9LIm+ykUCXNxxFLOyMOHGTXt8L8IYqzJ9Eel\n"
                               "jpM=\n"
                               "-----END CERTIFICATE-----\n";
static const char KEY_TWO[] = "-----BEGIN EC PRIVATE KEY-----\n"
                              "MHgCAQEEIQCxOhTsddQBJUb/FcEOCi3Gt5jzzvdXYCdJuHkd/veG9aAKBggqhkjO\n"
                              "PQMBB6FEA0IABHEeIdqW21yhUPOXbUnbtfHALOAw8dkDXqxjbev0Nm9iRdOfnzbt\n"
                              "ZYoALgDYtxiiKhmS86p885fpCLA9VO5gBgM=\n"
                              "-----END EC PRIVATE KEY-----\n";

static char dir[256];

static void setup(void)
{
    testlib_tmpdir_make(dir, sizeof dir, "mcpauth-tls");
}

static void teardown(void)
{
    testlib_tmpdir_remove(dir);
}

/* Writes a PEM file; keys get mode 0600 like a real key should. */
static const char *put(const char *name, const char *text, mode_t mode)
{
    const char *path = testlib_path(dir, name);
    testlib_put_file(path, text);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

static mcpauth_http_tls *load(const char *cert, const char *key)
{
    mcpauth_http_tls *tls = NULL;
    mcpauth_error err = {0};
    ck_assert_msg(mcpauth_http_tls_new(put("cert.pem", cert, 0644), put("key.pem", key, 0600), &tls,
                                       &err) == MCPAUTH_OK,
                  "%s", err.message);
    return tls;
}

/* --- credentials ---------------------------------------------------------- */

START_TEST(loads_and_describes)
{
    mcpauth_http_tls *tls = load(CERT_ONE, KEY_ONE);
    const char *d = mcpauth_http_tls_describe(tls);
    ck_assert_ptr_nonnull(strstr(d, "subject CN=unit-one"));
    ck_assert_ptr_nonnull(strstr(d, "serial 0a01"));
    ck_assert_ptr_nonnull(strstr(d, "not after 2126-"));
    mcpauth_http_tls_free(tls);
    mcpauth_http_tls_free(NULL);
}
END_TEST

typedef struct refusal {
    const char *cert;
    const char *key;
    mode_t key_mode;
    const char *message;
} refusal;

static const refusal refusals[] = {
    {CERT_ONE, KEY_ONE, 0640, "readable by group or others"},
    {CERT_ONE, KEY_ONE, 0604, "readable by group or others"},
    {CERT_ONE, KEY_TWO, 0600, "cannot use TLS certificate"}, /* not its key */
    {"not a certificate\n", KEY_ONE, 0600, "cannot use TLS certificate"},
    {CERT_ONE, "not a key\n", 0600, "cannot use TLS certificate"},
    {"", KEY_ONE, 0600, "cannot use TLS certificate"},
    {KEY_ONE, CERT_ONE, 0600, "cannot use TLS certificate"}, /* swapped */
};

START_TEST(refuses)
{
    const refusal *r = &refusals[_i];
    mcpauth_http_tls *tls = (mcpauth_http_tls *)1;
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_http_tls_new(put("c.pem", r->cert, 0644),
                                          put("k.pem", r->key, r->key_mode), &tls, &err),
                     MCPAUTH_ELOCAL);
    ck_assert_ptr_null(tls);
    ck_assert_msg(strstr(err.message, r->message), "%s", err.message);
}
END_TEST

START_TEST(refuses_missing_and_stdin)
{
    mcpauth_http_tls *tls;
    mcpauth_error err = {0};
    const char *key = put("k.pem", KEY_ONE, 0600);
    ck_assert_int_eq(mcpauth_http_tls_new(testlib_path(dir, "absent.pem"), key, &tls, &err),
                     MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, "absent.pem"));
    ck_assert_int_eq(mcpauth_http_tls_new("-", key, &tls, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(err.message, "must be a file"));
}
END_TEST

START_TEST(reload_swaps_or_keeps)
{
    mcpauth_http_tls *tls = load(CERT_ONE, KEY_ONE);
    mcpauth_error err = {0};
    /* A bad pair keeps the current one. */
    put("cert.pem", "garbage\n", 0644);
    ck_assert_int_eq(mcpauth_http_tls_reload(tls, &err), MCPAUTH_ELOCAL);
    ck_assert_ptr_nonnull(strstr(mcpauth_http_tls_describe(tls), "CN=unit-one"));
    put("cert.pem", CERT_TWO, 0644);
    ck_assert_int_eq(mcpauth_http_tls_reload(tls, &err), MCPAUTH_ELOCAL); /* key one */
    put("key.pem", KEY_TWO, 0644);
    ck_assert_int_eq(mcpauth_http_tls_reload(tls, &err), MCPAUTH_ELOCAL); /* shared */
    ck_assert_ptr_nonnull(strstr(err.message, "readable by group or others"));
    put("key.pem", KEY_TWO, 0600);
    ck_assert_msg(mcpauth_http_tls_reload(tls, &err) == MCPAUTH_OK, "%s", err.message);
    ck_assert_ptr_nonnull(strstr(mcpauth_http_tls_describe(tls), "CN=unit-two"));
    mcpauth_http_tls_free(tls);
}
END_TEST

/* --- a session over memory ------------------------------------------------ */

/* The client's side: a GnuTLS client session whose transport is two
 * buffers, the server's output to read and the client's output to pass on. */
typedef struct client {
    gnutls_session_t session;
    gnutls_certificate_credentials_t creds;
    mcpauth_strbuf to_server;
    const char *in;
    size_t in_length;
} client;

static ssize_t client_pull(gnutls_transport_ptr_t ptr, void *data, size_t size)
{
    client *c = ptr;
    if (c->in_length == 0) {
        gnutls_transport_set_errno(c->session, EAGAIN);
        return -1;
    }
    size_t n = size < c->in_length ? size : c->in_length;
    memcpy(data, c->in, n);
    c->in += n;
    c->in_length -= n;
    return (ssize_t)n;
}

static ssize_t client_push(gnutls_transport_ptr_t ptr, const void *data, size_t size)
{
    client *c = ptr;
    mcpauth_strbuf_append(&c->to_server, data, size);
    return (ssize_t)size;
}

static void client_init(client *c, const char *trusted_pem, const char *priority)
{
    memset(c, 0, sizeof *c);
    ck_assert_int_eq(gnutls_certificate_allocate_credentials(&c->creds), 0);
    gnutls_datum_t ca = {(unsigned char *)trusted_pem, (unsigned)strlen(trusted_pem)};
    ck_assert_int_eq(gnutls_certificate_set_x509_trust_mem(c->creds, &ca, GNUTLS_X509_FMT_PEM), 1);
    ck_assert_int_eq(gnutls_init(&c->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK), 0);
    ck_assert_int_eq(gnutls_priority_set_direct(c->session, priority, NULL), 0);
    gnutls_credentials_set(c->session, GNUTLS_CRD_CERTIFICATE, c->creds);
    gnutls_session_set_verify_cert(c->session, NULL, 0);
    gnutls_datum_t protocols[] = {{(unsigned char *)"h2", 2}, {(unsigned char *)"http/1.1", 8}};
    ck_assert_int_eq(gnutls_alpn_set_protocols(c->session, protocols, 2, 0), 0);
    gnutls_transport_set_ptr(c->session, c);
    gnutls_transport_set_pull_function(c->session, client_pull);
    gnutls_transport_set_push_function(c->session, client_push);
}

static void client_free(client *c)
{
    gnutls_deinit(c->session);
    gnutls_certificate_free_credentials(c->creds);
    mcpauth_strbuf_free(&c->to_server);
}

/* Runs the handshake to its end; the server's result of the last step. */
static int handshake(client *c, mcpauth__http_tls_conn *s, mcpauth__http_tls_result *last)
{
    int rc = GNUTLS_E_AGAIN;
    mcpauth_strbuf to_client = MCPAUTH_STRBUF_INIT;
    for (int round = 0; round < 10 && rc == GNUTLS_E_AGAIN; round++) {
        c->in = to_client.data;
        c->in_length = to_client.length;
        rc = gnutls_handshake(c->session);
        mcpauth_strbuf_free(&to_client);
        mcpauth_strbuf plain = MCPAUTH_STRBUF_INIT;
        *last = mcpauth__http_tls_conn_input(s, c->to_server.data ? c->to_server.data : "",
                                             c->to_server.length, &plain, &to_client);
        ck_assert_uint_eq(plain.length, 0);
        mcpauth_strbuf_free(&plain);
        mcpauth_strbuf_free(&c->to_server);
        if (*last == MCPAUTH__HTTP_TLS_FAILED)
            break;
    }
    /* The client's last flight (TLS 1.2) is still to be read. */
    c->in = to_client.data;
    c->in_length = to_client.length;
    if (rc == GNUTLS_E_AGAIN)
        rc = gnutls_handshake(c->session);
    mcpauth_strbuf_free(&to_client);
    return rc;
}

static void exchange_records(const char *priority, gnutls_protocol_t version)
{
    mcpauth_http_tls *tls = load(CERT_ONE, KEY_ONE);
    mcpauth__http_tls_conn *s = mcpauth__http_tls_conn_new(tls);
    ck_assert_ptr_nonnull(s);
    client c;
    client_init(&c, CERT_ONE, priority);
    mcpauth__http_tls_result last;
    ck_assert_int_eq(handshake(&c, s, &last), 0);
    ck_assert(mcpauth__http_tls_conn_ready(s));
    ck_assert_int_eq(gnutls_protocol_get_version(c.session), version);
    gnutls_datum_t alpn;
    ck_assert_int_eq(gnutls_alpn_get_selected_protocol(c.session, &alpn), 0);
    ck_assert_int_eq(alpn.size, 8);
    ck_assert_int_eq(memcmp(alpn.data, "http/1.1", 8), 0);

    /* A reload now: the open session keeps its credentials. */
    put("cert.pem", CERT_TWO, 0644);
    put("key.pem", KEY_TWO, 0600);
    mcpauth_error err = {0};
    ck_assert_int_eq(mcpauth_http_tls_reload(tls, &err), MCPAUTH_OK);

    /* Client to server: a request in two records, taken in pieces. */
    static const char request[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    ck_assert_int_eq(gnutls_record_send(c.session, request, 10), 10);
    ck_assert_int_eq(gnutls_record_send(c.session, request + 10, sizeof request - 11),
                     (ssize_t)sizeof request - 11);
    mcpauth_strbuf plain = MCPAUTH_STRBUF_INIT, out = MCPAUTH_STRBUF_INIT;
    size_t half = c.to_server.length / 2;
    ck_assert_int_eq(mcpauth__http_tls_conn_input(s, c.to_server.data, half, &plain, &out),
                     MCPAUTH__HTTP_TLS_OK);
    ck_assert_int_eq(mcpauth__http_tls_conn_input(s, c.to_server.data + half,
                                                  c.to_server.length - half, &plain, &out),
                     MCPAUTH__HTTP_TLS_OK);
    ck_assert_uint_eq(plain.length, sizeof request - 1);
    ck_assert_int_eq(memcmp(plain.data, request, plain.length), 0);
    mcpauth_strbuf_free(&c.to_server);

    /* Server to client: an answer bigger than one record. */
    static char answer[40000];
    memset(answer, 'x', sizeof answer);
    ck_assert(mcpauth__http_tls_conn_send(s, answer, sizeof answer, &out));
    c.in = out.data;
    c.in_length = out.length;
    size_t got = 0;
    char buffer[16384];
    for (ssize_t n; (n = gnutls_record_recv(c.session, buffer, sizeof buffer)) > 0;)
        got += (size_t)n;
    ck_assert_uint_eq(got, sizeof answer);
    mcpauth_strbuf_free(&out);

    /* close_notify from the client is the end of its stream. */
    gnutls_bye(c.session, GNUTLS_SHUT_WR);
    mcpauth_strbuf_free(&plain);
    ck_assert_int_eq(
        mcpauth__http_tls_conn_input(s, c.to_server.data, c.to_server.length, &plain, &out),
        MCPAUTH__HTTP_TLS_CLOSED);
    mcpauth__http_tls_conn_bye(s, &out);
    ck_assert_uint_gt(out.length, 0);
    mcpauth_strbuf_free(&plain);
    mcpauth_strbuf_free(&out);
    client_free(&c);
    /* The tls object may go first: the session holds its credentials. */
    mcpauth_http_tls_free(tls);
    mcpauth__http_tls_conn_free(s);
}

START_TEST(tls13_session)
{
    exchange_records("NORMAL", GNUTLS_TLS1_3);
}
END_TEST

START_TEST(tls12_session)
{
    exchange_records("NORMAL:-VERS-ALL:+VERS-TLS1.2", GNUTLS_TLS1_2);
}
END_TEST

START_TEST(old_versions_are_refused_with_an_alert)
{
    mcpauth_http_tls *tls = load(CERT_ONE, KEY_ONE);
    mcpauth__http_tls_conn *s = mcpauth__http_tls_conn_new(tls);
    client c;
    client_init(&c, CERT_ONE, "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0");
    mcpauth__http_tls_result last;
    ck_assert_int_lt(handshake(&c, s, &last), 0);
    ck_assert_int_eq(last, MCPAUTH__HTTP_TLS_FAILED);
    ck_assert(!mcpauth__http_tls_conn_ready(s));
    /* Failed stays failed, and there is nothing to send or close. */
    mcpauth_strbuf plain = MCPAUTH_STRBUF_INIT, out = MCPAUTH_STRBUF_INIT;
    ck_assert_int_eq(mcpauth__http_tls_conn_input(s, "\x16", 1, &plain, &out),
                     MCPAUTH__HTTP_TLS_FAILED);
    ck_assert(!mcpauth__http_tls_conn_send(s, "x", 1, &out));
    mcpauth__http_tls_conn_bye(s, &out);
    ck_assert_uint_eq(out.length, 0);
    client_free(&c);
    mcpauth__http_tls_conn_free(s);
    mcpauth_http_tls_free(tls);
}
END_TEST

START_TEST(plain_http_is_told_apart)
{
    mcpauth_http_tls *tls = load(CERT_ONE, KEY_ONE);
    mcpauth__http_tls_conn *s = mcpauth__http_tls_conn_new(tls);
    mcpauth_strbuf plain = MCPAUTH_STRBUF_INIT, out = MCPAUTH_STRBUF_INIT;
    ck_assert_int_eq(mcpauth__http_tls_conn_input(s, "GET / HTTP/1.1\r\n", 16, &plain, &out),
                     MCPAUTH__HTTP_TLS_NOT_TLS);
    ck_assert_uint_eq(out.length, 0);
    mcpauth__http_tls_conn_free(s);
    /* Garbage behind a handshake record header fails the session. */
    s = mcpauth__http_tls_conn_new(tls);
    static const char bogus[] = "\x16\x03\x01\x00\x04\x01\x00\x00\x00";
    ck_assert_int_eq(mcpauth__http_tls_conn_input(s, bogus, sizeof bogus - 1, &plain, &out),
                     MCPAUTH__HTTP_TLS_FAILED);
    mcpauth_strbuf_free(&out);
    mcpauth__http_tls_conn_free(s);
    mcpauth__http_tls_conn_free(NULL);
    mcpauth_http_tls_free(tls);
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("http_tls");
    TCase *tc = tcase_create("credentials");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, loads_and_describes);
    tcase_add_loop_test(tc, refuses, 0, (int)(sizeof refusals / sizeof refusals[0]));
    tcase_add_test(tc, refuses_missing_and_stdin);
    tcase_add_test(tc, reload_swaps_or_keeps);
    suite_add_tcase(s, tc);

    tc = tcase_create("session");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, tls13_session);
    tcase_add_test(tc, tls12_session);
    tcase_add_test(tc, old_versions_are_refused_with_an_alert);
    tcase_add_test(tc, plain_http_is_told_apart);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(tls_suite());
}
