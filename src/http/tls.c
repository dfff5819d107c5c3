/* TLS for the HTTP server: credentials (loaded, reloaded, shared by
 * reference count with the connections made under them) and one GnuTLS
 * session per connection.
 *
 * libuv has no TLS, so the session runs over memory: the ciphertext a read
 * brought is handed to GnuTLS through a pull function, and what GnuTLS
 * wants to send is collected by a push function into a buffer that
 * server.c then writes. Neither ever blocks: an empty input is EAGAIN, and
 * output always fits (the server bounds what it queues).
 */
#include "mcpauth/http_tls.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_internal.h"
#include "mcpauth/fileio.h"
#include "mcpauth/secret.h"

#define PEM_MAX_BYTES (1024 * 1024)
/* TLS 1.2 and 1.3 only; the server's preference among GnuTLS's NORMAL
 * suites (no RC4, no 3DES, no CBC-only TLS 1.0 era). */
#define PRIORITY        "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE"
#define TLS_RECORD_BYTE 0x16 /* ContentType handshake (RFC 8446 §5.1) */

/* One loaded certificate and key; counted references: the tls object holds
 * one while they are current, every connection made under them one. */
typedef struct credentials {
    gnutls_certificate_credentials_t cert;
    unsigned refs;
} credentials;

struct mcpauth_http_tls {
    char *cert_file;
    char *key_file;
    gnutls_priority_t priority;
    credentials *current;
    char description[512];
};

struct mcpauth__http_tls_conn {
    gnutls_session_t session;
    credentials *creds;
    const char *in; /* ciphertext not yet taken by GnuTLS, during input() */
    size_t in_length;
    mcpauth_strbuf *out; /* where push() puts ciphertext, during a call */
    bool started;        /* the first byte was a TLS record */
    bool ready;          /* handshake done */
    bool failed;
};

static void credentials_release(credentials *c)
{
    if (c && --c->refs == 0) {
        gnutls_certificate_free_credentials(c->cert);
        free(c);
    }
}

/* "subject ..., serial ..., not after ..." of the first certificate, and
 * whether it is out of its validity period. */
static void describe(gnutls_certificate_credentials_t cert, char *out, size_t size)
{
    snprintf(out, size, "(unknown certificate)");
    gnutls_datum_t der;
    gnutls_x509_crt_t crt;
    if (gnutls_certificate_get_crt_raw(cert, 0, 0, &der) < 0 || gnutls_x509_crt_init(&crt) < 0)
        return;
    if (gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) == 0) {
        gnutls_datum_t dn = {NULL, 0};
        unsigned char serial[64];
        size_t serial_size = sizeof serial;
        char hex[2 * sizeof serial + 1] = "";
        if (gnutls_x509_crt_get_serial(crt, serial, &serial_size) == 0) {
            for (size_t i = 0; i < serial_size; i++)
                snprintf(hex + 2 * i, 3, "%02x", serial[i]);
        }
        time_t expiry = gnutls_x509_crt_get_expiration_time(crt);
        struct tm tm;
        char when[32] = "?";
        if (expiry != (time_t)-1 && gmtime_r(&expiry, &tm))
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        gnutls_x509_crt_get_dn3(crt, &dn, 0);
        /* Served all the same (replacing it is the operator's call), but
         * said loudly: every client will refuse it. */
        time_t now = time(NULL);
        const char *state = "";
        if (expiry != (time_t)-1 && expiry < now)
            state = " (EXPIRED: clients will refuse it)";
        else if (gnutls_x509_crt_get_activation_time(crt) > now)
            state = " (NOT YET VALID: clients will refuse it)";
        snprintf(out, size, "subject %s, serial %s, not after %s%s",
                 dn.data ? (char *)dn.data : "?", hex, when, state);
        gnutls_free(dn.data);
    }
    gnutls_x509_crt_deinit(crt);
}

static mcpauth_status read_pem(const char *path, const char *what, char **data, size_t *length,
                               mcpauth_error *err)
{
    if (strcmp(path, "-") == 0)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                 "the TLS %s must be a file (it is read again on SIGHUP)", what);
    return mcpauth_file_read(path, PEM_MAX_BYTES, data, length, err);
}

/* Loads cert_file and key_file into new credentials (one reference). */
static mcpauth_status credentials_load(const mcpauth_http_tls *tls, credentials **out,
                                       char *description, size_t size, mcpauth_error *err)
{
    *out = NULL;
    /* The private key is a secret: like the client secret files, one that
     * others can read is refused rather than used. */
    if (mcpauth_file_is_shared(tls->key_file))
        return mcpauth_error_set(err, MCPAUTH_ELOCAL,
                                 "TLS key %s is readable by group or others (chmod 600 it)",
                                 tls->key_file);
    char *cert_pem = NULL, *key_pem = NULL;
    size_t cert_length = 0, key_length = 0;
    if (read_pem(tls->cert_file, "certificate", &cert_pem, &cert_length, err) != MCPAUTH_OK)
        return err->status;
    if (read_pem(tls->key_file, "key", &key_pem, &key_length, err) != MCPAUTH_OK) {
        free(cert_pem);
        return err->status;
    }
    credentials *c = calloc(1, sizeof *c);
    mcpauth_status st = MCPAUTH_OK;
    int rc = GNUTLS_E_MEMORY_ERROR;
    if (c && (rc = gnutls_certificate_allocate_credentials(&c->cert)) == 0) {
        gnutls_datum_t cert = {(unsigned char *)cert_pem, (unsigned)cert_length};
        gnutls_datum_t key = {(unsigned char *)key_pem, (unsigned)key_length};
        /* Also checks that the key belongs to the first certificate. */
        rc = gnutls_certificate_set_x509_key_mem2(c->cert, &cert, &key, GNUTLS_X509_FMT_PEM, NULL,
                                                  0);
        if (rc >= 0)
            rc = 0;
        else
            gnutls_certificate_free_credentials(c->cert);
    }
    if (rc != 0) {
        st = mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot use TLS certificate %s with key %s: %s",
                               tls->cert_file, tls->key_file, gnutls_strerror(rc));
        free(c);
    } else {
        c->refs = 1;
        describe(c->cert, description, size);
        *out = c;
    }
    free(cert_pem);
    mcpauth_secret_free(key_pem);
    return st;
}

mcpauth_status mcpauth_http_tls_new(const char *cert_file, const char *key_file,
                                    mcpauth_http_tls **out, mcpauth_error *err)
{
    *out = NULL;
    mcpauth_http_tls *tls = calloc(1, sizeof *tls);
    if (!tls || !(tls->cert_file = strdup(cert_file)) || !(tls->key_file = strdup(key_file))) {
        mcpauth_http_tls_free(tls);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    int rc = gnutls_priority_init(&tls->priority, PRIORITY, NULL);
    if (rc < 0) {
        tls->priority = NULL;
        mcpauth_http_tls_free(tls);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "GnuTLS priority: %s", gnutls_strerror(rc));
    }
    if (credentials_load(tls, &tls->current, tls->description, sizeof tls->description, err) !=
        MCPAUTH_OK) {
        mcpauth_http_tls_free(tls);
        return err->status;
    }
    *out = tls;
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_http_tls_reload(mcpauth_http_tls *tls, mcpauth_error *err)
{
    credentials *fresh;
    char description[sizeof tls->description];
    if (credentials_load(tls, &fresh, description, sizeof description, err) != MCPAUTH_OK)
        return err->status;
    credentials_release(tls->current);
    tls->current = fresh;
    memcpy(tls->description, description, sizeof description);
    return MCPAUTH_OK;
}

const char *mcpauth_http_tls_describe(const mcpauth_http_tls *tls)
{
    return tls->description;
}

void mcpauth_http_tls_free(mcpauth_http_tls *tls)
{
    if (!tls)
        return;
    credentials_release(tls->current);
    if (tls->priority)
        gnutls_priority_deinit(tls->priority);
    free(tls->cert_file);
    free(tls->key_file);
    free(tls);
}

/* ---- one connection ---- */

static ssize_t conn_pull(gnutls_transport_ptr_t ptr, void *data, size_t size)
{
    mcpauth__http_tls_conn *c = ptr;
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

static ssize_t conn_push(gnutls_transport_ptr_t ptr, const void *data, size_t size)
{
    mcpauth__http_tls_conn *c = ptr;
    if (!c->out) {
        gnutls_transport_set_errno(c->session, EAGAIN);
        return -1;
    }
    mcpauth_strbuf_append(c->out, data, size);
    if (mcpauth_strbuf_failed(c->out)) {
        gnutls_transport_set_errno(c->session, ENOMEM);
        return -1;
    }
    return (ssize_t)size;
}

mcpauth__http_tls_conn *mcpauth__http_tls_conn_new(mcpauth_http_tls *tls)
{
    mcpauth__http_tls_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    static const gnutls_datum_t alpn = {(unsigned char *)"http/1.1", 8};
    if (gnutls_init(&c->session, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0) {
        free(c);
        return NULL;
    }
    if (gnutls_priority_set(c->session, tls->priority) < 0 ||
        gnutls_credentials_set(c->session, GNUTLS_CRD_CERTIFICATE, tls->current->cert) < 0 ||
        gnutls_alpn_set_protocols(c->session, &alpn, 1, GNUTLS_ALPN_SERVER_PRECEDENCE) < 0) {
        gnutls_deinit(c->session);
        free(c);
        return NULL;
    }
    /* No client certificates: the bearer token is the client's credential. */
    gnutls_certificate_server_set_request(c->session, GNUTLS_CERT_IGNORE);
    gnutls_transport_set_ptr(c->session, c);
    gnutls_transport_set_pull_function(c->session, conn_pull);
    gnutls_transport_set_push_function(c->session, conn_push);
    c->creds = tls->current;
    c->creds->refs++;
    return c;
}

void mcpauth__http_tls_conn_free(mcpauth__http_tls_conn *c)
{
    if (!c)
        return;
    gnutls_deinit(c->session);
    credentials_release(c->creds);
    free(c);
}

bool mcpauth__http_tls_conn_ready(const mcpauth__http_tls_conn *c)
{
    return c->ready;
}

/* Decrypts every whole record available into plain. */
static mcpauth__http_tls_result conn_read_records(mcpauth__http_tls_conn *c, mcpauth_strbuf *plain)
{
    char buffer[16 * 1024];
    mcpauth__http_tls_result result = MCPAUTH__HTTP_TLS_OK;
    for (;;) {
        ssize_t n = gnutls_record_recv(c->session, buffer, sizeof buffer);
        if (n > 0) {
            mcpauth_strbuf_append(plain, buffer, (size_t)n);
            continue;
        }
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            break;
        if (n == 0) {
            result = MCPAUTH__HTTP_TLS_CLOSED; /* close_notify */
            break;
        }
        /* A warning alert, or a TLS 1.2 renegotiation request (refused:
         * GnuTLS answers no_renegotiation by itself): not the end. */
        if (!gnutls_error_is_fatal((int)n) && n != GNUTLS_E_PREMATURE_TERMINATION)
            continue;
        c->failed = true;
        result = MCPAUTH__HTTP_TLS_FAILED;
        break;
    }
    /* Requests carry bearer tokens. */
    explicit_bzero(buffer, sizeof buffer);
    if (mcpauth_strbuf_failed(plain))
        result = MCPAUTH__HTTP_TLS_FAILED;
    return result;
}

mcpauth__http_tls_result mcpauth__http_tls_conn_input(mcpauth__http_tls_conn *c, const char *data,
                                                      size_t length, mcpauth_strbuf *plain,
                                                      mcpauth_strbuf *out)
{
    if (c->failed)
        return MCPAUTH__HTTP_TLS_FAILED;
    if (!c->started && length > 0) {
        /* A client speaking plain HTTP to this port: its first byte is a
         * letter of a method, never a TLS record's content type. */
        if ((unsigned char)data[0] != TLS_RECORD_BYTE)
            return MCPAUTH__HTTP_TLS_NOT_TLS;
        c->started = true;
    }
    c->in = data;
    c->in_length = length;
    c->out = out;
    mcpauth__http_tls_result result = MCPAUTH__HTTP_TLS_OK;
    if (!c->ready) {
        int rc = gnutls_handshake(c->session);
        if (rc == 0)
            c->ready = true;
        else if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED &&
                 (gnutls_error_is_fatal(rc) || rc == GNUTLS_E_WARNING_ALERT_RECEIVED)) {
            /* GnuTLS leaves the alert to the application (RFC 8446 §6.2:
             * protocol_version, handshake_failure...), so the client
             * learns why. */
            (void)gnutls_alert_send_appropriate(c->session, rc);
            c->failed = true;
            result = MCPAUTH__HTTP_TLS_FAILED;
        }
    }
    if (c->ready && result == MCPAUTH__HTTP_TLS_OK)
        result = conn_read_records(c, plain);
    c->in = NULL;
    c->in_length = 0;
    c->out = NULL;
    return result;
}

bool mcpauth__http_tls_conn_send(mcpauth__http_tls_conn *c, const char *data, size_t length,
                                 mcpauth_strbuf *out)
{
    if (c->failed || !c->ready)
        return false;
    c->out = out;
    while (length > 0) {
        ssize_t n = gnutls_record_send(c->session, data, length);
        /* push() takes everything, so even EAGAIN means a broken session. */
        if (n < 0) {
            c->failed = true;
            break;
        }
        data += n;
        length -= (size_t)n;
    }
    c->out = NULL;
    return !c->failed && !mcpauth_strbuf_failed(out);
}

void mcpauth__http_tls_conn_bye(mcpauth__http_tls_conn *c, mcpauth_strbuf *out)
{
    if (c->failed || !c->ready)
        return;
    c->out = out;
    /* RFC 8446 §6.1: close_notify before closing our side; the peer's
     * answer is not waited for. */
    (void)gnutls_bye(c->session, GNUTLS_SHUT_WR);
    c->out = NULL;
}
