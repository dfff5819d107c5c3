#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "mcpauth/http_client.h"
#include "testlib.h"

/* --- a tiny scripted HTTP server ----------------------------------------
 *
 * Each test forks servers on 127.0.0.1 with an ephemeral port. A server
 * answers its n-th connection with script[n] (the last entry repeats), after
 * appending the raw request it received to a capture file the test reads. The
 * teardown kills and reaps every server; should a test process die first, the
 * server gets SIGKILL from the kernel (PR_SET_PDEATHSIG) or, failing that,
 * from its own alarm. */

typedef enum server_action {
    SERVE_RESPOND,      /* read the request, send raw (+ filler), close */
    SERVE_SILENT,       /* read the request, never answer */
    SERVE_CLOSE,        /* read the request, close without answering */
    SERVE_CLOSE_UNREAD, /* close as soon as the connection is accepted */
    SERVE_BLURT,        /* send raw at once without reading anything, close */
} server_action;

typedef struct canned {
    server_action action;
    const char *raw;     /* status line, headers, blank line, maybe a body */
    size_t filler_bytes; /* then this many 'x' body bytes */
} canned;

typedef struct test_server {
    pid_t pid;
    int port;
    char capture[192];
} test_server;

#define MAX_SERVERS 2
#define REQUEST_END "#END#\n"

static test_server servers[MAX_SERVERS];
static int server_count;

/* A directory per test case (the unchecked fixture, run by the runner, so it
 * is removed even when a forked test dies) holding a directory per test. */
static char base_dir[64];
static char test_dir[128];

static bool send_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t n = send(fd, data, length, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        length -= (size_t)n;
    }
    return true;
}

static size_t request_content_length(const char *headers)
{
    const char *p = strcasestr(headers, "\r\ncontent-length:");
    return p ? strtoul(p + 17, NULL, 10) : 0;
}

/* Reads one request (headers and a Content-Length body) and appends it to
 * the capture file. */
static void read_request(int conn, int capture_fd)
{
    static char buf[256 * 1024];
    size_t used = 0;
    struct timeval tv = {.tv_sec = 5};

    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (used < sizeof buf - 1) {
        ssize_t n = recv(conn, buf + used, sizeof buf - 1 - used, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
        buf[used] = '\0';
        const char *end = strstr(buf, "\r\n\r\n");
        if (end && used >= (size_t)(end + 4 - buf) + request_content_length(buf))
            break;
    }
    if (write(capture_fd, buf, used) < 0 || write(capture_fd, REQUEST_END, 6) < 0)
        _exit(3);
}

static void send_response(int conn, const canned *c)
{
    static char filler[64 * 1024];
    if (!send_all(conn, c->raw, strlen(c->raw)))
        return;
    memset(filler, 'x', sizeof filler);
    for (size_t left = c->filler_bytes; left > 0;) {
        size_t n = left < sizeof filler ? left : sizeof filler;
        if (!send_all(conn, filler, n))
            return;
        left -= n;
    }
}

static void serve(int listener, const canned *script, size_t count, int capture_fd, pid_t parent)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(60);
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (getppid() != parent)
        _exit(0);
    for (size_t n = 0;; n++) {
        const canned *c = &script[n < count ? n : count - 1];
        int conn = accept(listener, NULL, NULL);
        if (conn < 0 && errno == EINTR) {
            n--;
            continue;
        }
        if (conn < 0)
            _exit(2);
        if (c->action != SERVE_CLOSE_UNREAD && c->action != SERVE_BLURT)
            read_request(conn, capture_fd);
        if (c->action == SERVE_SILENT) {
            for (;;)
                pause();
        }
        if (c->action == SERVE_RESPOND || c->action == SERVE_BLURT)
            send_response(conn, c);
        shutdown(conn, SHUT_WR);
        close(conn);
    }
}

/* Server pids go to a file in base_dir too: when a forked test dies before
 * its teardown, its servers are re-parented to the runner (a subreaper, see
 * main) and the unchecked teardown reaps them by these ids. */
static void server_pids_path(char *path, size_t size)
{
    snprintf(path, size, "%s/server-pids", base_dir);
}

static void record_server(pid_t pid)
{
    char path[128];
    server_pids_path(path, sizeof path);
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%d\n", (int)pid);
    fclose(f);
}

static void reap_orphaned_servers(void)
{
    char path[128];
    server_pids_path(path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    for (int pid; fscanf(f, "%d", &pid) == 1;) {
        /* 0: a live child of ours (so the id cannot have been reused). */
        if (waitpid(pid, NULL, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    fclose(f);
}

/* Starts a server; returns its index in servers[]. */
static int server_start(const canned *script, size_t count)
{
    ck_assert_int_lt(server_count, MAX_SERVERS);
    test_server *s = &servers[server_count];
    snprintf(s->capture, sizeof s->capture, "%s/requests-%d", test_dir, server_count);
    int capture_fd = open(s->capture, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    ck_assert_int_ge(capture_fd, 0);

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(listener, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(listener, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(listener, 16), 0);
    socklen_t addr_length = sizeof addr;
    ck_assert_int_eq(getsockname(listener, (struct sockaddr *)&addr, &addr_length), 0);
    s->port = ntohs(addr.sin_port);

    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        serve(listener, script, count, capture_fd, parent);
        _exit(0);
    }
    close(listener);
    close(capture_fd);
    s->pid = pid;
    record_server(pid);
    return server_count++;
}

static void make_base_dir(void)
{
    testlib_tmpdir_make(base_dir, sizeof base_dir, "mcpauth-http");
}

static void remove_base_dir(void)
{
    reap_orphaned_servers();
    testlib_tmpdir_remove(base_dir);
}

static void make_test_dir(void)
{
    testlib_tmpdir_make_in(test_dir, sizeof test_dir, base_dir);
    server_count = 0;
}

static void stop_servers(void)
{
    for (int i = 0; i < server_count; i++) {
        if (servers[i].pid > 0) {
            kill(servers[i].pid, SIGKILL);
            waitpid(servers[i].pid, NULL, 0);
            servers[i].pid = 0;
        }
        unlink(servers[i].capture);
    }
    server_count = 0;
    rmdir(test_dir);
}

static const char *server_url(int server, const char *path)
{
    static char urls[4][256];
    static int next;
    char *url = urls[next++ % 4];
    snprintf(url, sizeof urls[0], "http://127.0.0.1:%d%s", servers[server].port, path);
    return url;
}

/* Everything the server received, requests separated by REQUEST_END. Caller
 * frees. */
static char *captured(int server)
{
    FILE *f = fopen(servers[server].capture, "rb");
    ck_assert_ptr_nonnull(f);
    static const size_t max = 1 << 20;
    char *text = malloc(max + 1);
    ck_assert_ptr_nonnull(text);
    size_t n = fread(text, 1, max, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static int count_requests(const char *text)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, REQUEST_END)); p += strlen(REQUEST_END))
        n++;
    return n;
}

/* The value of the first header name in text (case-insensitive), copied into
 * out; NULL when absent. */
static const char *header_in(const char *text, const char *name, char *out, size_t size)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\r\n%s:", name);
    const char *p = strcasestr(text, needle);
    if (!p)
        return NULL;
    p += strlen(needle);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r\n");
    if (n >= size)
        n = size - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

static mcpauth_http_request get_request(const char *url)
{
    mcpauth_http_request req = {.method = "GET", .url = url};
    return req;
}

static const char json_response[] = "HTTP/1.1 200 OK\r\n"
                                    "Content-Type: application/json; charset=utf-8\r\n"
                                    "X-Multi: first\r\n"
                                    "x-multi:   second  \r\n"
                                    "Content-Length: 29\r\n"
                                    "Connection: close\r\n"
                                    "\r\n"
                                    "{\"issuer\":\"http://x/y\",\"n\":1}";

/* --- mcpauth_http_options_init ------------------------------------------ */

START_TEST(options_defaults)
{
    mcpauth_http_options opts;

    memset(&opts, 0xff, sizeof opts);
    mcpauth_http_options_init(&opts);
    ck_assert_int_eq(opts.timeout_seconds, 15);
    ck_assert_int_eq(opts.timeout_seconds, MCPAUTH_HTTP_DEFAULT_TIMEOUT);
    ck_assert_uint_eq(opts.max_response_bytes, 1024 * 1024);
    ck_assert_uint_eq(opts.max_response_bytes, MCPAUTH_HTTP_DEFAULT_MAX_RESPONSE);
    ck_assert_ptr_null(opts.cacert);
    ck_assert(!opts.insecure);
    ck_assert(!opts.allow_http);
    ck_assert_ptr_null(opts.verbose);
}
END_TEST

/* --- mcpauth_http_check_url --------------------------------------------- */

static const char *const allowed_urls[] = {
    "https://as.example.com/.well-known/oauth-authorization-server",
    "https://10.0.0.1/x",
    "http://127.0.0.1/",
    "http://127.0.0.1:8080/mcp",
    "http://127.255.0.9/",
    "http://localhost/",
    "http://LOCALHOST:3000/cb",
    "http://[::1]/",
    "http://[::1]:8443/token",
};

START_TEST(check_url_allowed)
{
    mcpauth_http_options opts;
    mcpauth_error err = {0};

    mcpauth_http_options_init(&opts);
    ck_assert_msg(mcpauth_http_check_url(&opts, allowed_urls[_i], &err) == MCPAUTH_OK, "%s: %s",
                  allowed_urls[_i], err.message);
}
END_TEST

static const char *const plain_http_urls[] = {
    "http://example.com/",   "http://as.example.com:8080/token",
    "http://10.0.0.1/",      "http://192.168.1.1/",
    "http://[2001:db8::1]/", "http://localhost.example.com/",
    "http://127.1/",
};

START_TEST(check_url_plain_http_refused)
{
    mcpauth_http_options opts;
    mcpauth_error err = {0};

    mcpauth_http_options_init(&opts);
    ck_assert_int_eq(mcpauth_http_check_url(&opts, plain_http_urls[_i], &err), MCPAUTH_EUSAGE);
    ck_assert_int_eq(err.status, MCPAUTH_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "--allow-http"));
    ck_assert_ptr_nonnull(strstr(err.message, "refusing plain http://"));

    mcpauth_error_clear(&err);
    opts.allow_http = true;
    ck_assert_msg(mcpauth_http_check_url(&opts, plain_http_urls[_i], &err) == MCPAUTH_OK, "%s",
                  err.message);
}
END_TEST

START_TEST(check_url_names_host)
{
    mcpauth_http_options opts;
    mcpauth_error err = {0};

    mcpauth_http_options_init(&opts);
    ck_assert_int_eq(mcpauth_http_check_url(&opts, "http://as.example.com/x", &err),
                     MCPAUTH_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "as.example.com"));
}
END_TEST

static const char *const malformed_urls[] = {
    "ftp://example.com/", "file:///etc/passwd", "example.com", "https://user@host/", "https://", "",
    "http://a b/",
};

START_TEST(check_url_malformed)
{
    mcpauth_http_options opts;
    mcpauth_error err = {0};

    mcpauth_http_options_init(&opts);
    opts.allow_http = true;
    ck_assert_int_eq(mcpauth_http_check_url(&opts, malformed_urls[_i], &err), MCPAUTH_EUSAGE);
    ck_assert_int_eq(err.status, MCPAUTH_EUSAGE);
    ck_assert_str_ne(err.message, "");
}
END_TEST

START_TEST(check_url_null_err)
{
    mcpauth_http_options opts;

    mcpauth_http_options_init(&opts);
    ck_assert_int_eq(mcpauth_http_check_url(&opts, "http://example.com/", NULL), MCPAUTH_EUSAGE);
    ck_assert_int_eq(mcpauth_http_check_url(&opts, "ftp://x/", NULL), MCPAUTH_EUSAGE);
    ck_assert_int_eq(mcpauth_http_check_url(&opts, "https://x/", NULL), MCPAUTH_OK);
}
END_TEST

/* --- mcpauth_http_status_text ------------------------------------------- */

START_TEST(status_text)
{
    ck_assert_str_eq(mcpauth_http_status_text(200), "OK");
    ck_assert_str_eq(mcpauth_http_status_text(201), "Created");
    ck_assert_str_eq(mcpauth_http_status_text(204), "No Content");
    ck_assert_str_eq(mcpauth_http_status_text(302), "Found");
    ck_assert_str_eq(mcpauth_http_status_text(400), "Bad Request");
    ck_assert_str_eq(mcpauth_http_status_text(401), "Unauthorized");
    ck_assert_str_eq(mcpauth_http_status_text(403), "Forbidden");
    ck_assert_str_eq(mcpauth_http_status_text(404), "Not Found");
    ck_assert_str_eq(mcpauth_http_status_text(413), "Content Too Large");
    ck_assert_str_eq(mcpauth_http_status_text(429), "Too Many Requests");
    ck_assert_str_eq(mcpauth_http_status_text(500), "Internal Server Error");
    ck_assert_str_eq(mcpauth_http_status_text(503), "Service Unavailable");
    ck_assert_str_eq(mcpauth_http_status_text(418), "");
    ck_assert_str_eq(mcpauth_http_status_text(0), "");
    ck_assert_str_eq(mcpauth_http_status_text(-1), "");
    ck_assert_str_eq(mcpauth_http_status_text(999), "");
}
END_TEST

/* --- response headers --------------------------------------------------- */

static mcpauth_http_header sample_headers[] = {
    {"Content-Type", "application/json; charset=utf-8"},
    {"WWW-Authenticate", "Bearer realm=\"a\""},
    {"www-authenticate", "DPoP algs=\"ES256\""},
    {"Cache-Control", "no-store"},
};

START_TEST(response_header_lookup)
{
    mcpauth_http_response resp = {.headers = sample_headers, .header_count = 4};

    ck_assert_str_eq(mcpauth_http_response_header(&resp, "Content-Type", 0),
                     "application/json; charset=utf-8");
    ck_assert_str_eq(mcpauth_http_response_header(&resp, "content-type", 0),
                     "application/json; charset=utf-8");
    ck_assert_str_eq(mcpauth_http_response_header(&resp, "CACHE-CONTROL", 0), "no-store");
    ck_assert_ptr_null(mcpauth_http_response_header(&resp, "Content-Type", 1));
    ck_assert_ptr_null(mcpauth_http_response_header(&resp, "Location", 0));
    ck_assert_ptr_null(mcpauth_http_response_header(&resp, "Content", 0));
}
END_TEST

START_TEST(response_header_index)
{
    mcpauth_http_response resp = {.headers = sample_headers, .header_count = 4};

    ck_assert_str_eq(mcpauth_http_response_header(&resp, "WWW-Authenticate", 0),
                     "Bearer realm=\"a\"");
    ck_assert_str_eq(mcpauth_http_response_header(&resp, "WWW-Authenticate", 1),
                     "DPoP algs=\"ES256\"");
    ck_assert_ptr_null(mcpauth_http_response_header(&resp, "WWW-Authenticate", 2));
    ck_assert_ptr_null(mcpauth_http_response_header(&resp, "WWW-Authenticate", 100));
}
END_TEST

START_TEST(response_header_empty)
{
    mcpauth_http_response resp = {0};

    ck_assert_ptr_null(mcpauth_http_response_header(&resp, "Content-Type", 0));
    ck_assert(!mcpauth_http_response_is_json(&resp));
}
END_TEST

typedef struct json_type_case {
    const char *content_type;
    bool json;
} json_type_case;

static const json_type_case json_type_cases[] = {
    {"application/json", true},
    {"application/json; charset=utf-8", true},
    {"application/json;charset=UTF-8", true},
    {"Application/JSON", true},
    {"application/jwk-set+json", true},
    {"application/problem+json; charset=utf-8", true},
    {"application/vnd.example+JSON", true},
    {"text/html", false},
    {"text/html; charset=utf-8", false},
    {"text/plain", false},
    {"application/jsonp", false},
    {"application/json-seq", false},
    {"application/x-www-form-urlencoded", false},
    {"+json", false},
    {"", false},
};

START_TEST(response_is_json)
{
    mcpauth_http_header header = {"Content-Type", (char *)json_type_cases[_i].content_type};
    mcpauth_http_response resp = {.headers = &header, .header_count = 1};

    ck_assert_msg(mcpauth_http_response_is_json(&resp) == json_type_cases[_i].json, "%s",
                  json_type_cases[_i].content_type);
}
END_TEST

START_TEST(response_free_zeroes)
{
    mcpauth_http_response resp = {.status = 200};
    resp.url = strdup("http://127.0.0.1/");
    resp.body = strdup("{}");
    resp.body_length = 2;
    resp.headers = calloc(1, sizeof *resp.headers);
    ck_assert_ptr_nonnull(resp.headers);
    resp.headers[0].name = strdup("A");
    resp.headers[0].value = strdup("b");
    resp.header_count = 1;

    mcpauth_http_response_free(&resp);
    ck_assert_ptr_null(resp.url);
    ck_assert_ptr_null(resp.body);
    ck_assert_ptr_null(resp.headers);
    ck_assert_uint_eq(resp.header_count, 0);
    ck_assert_int_eq(resp.status, 0);
    mcpauth_http_response_free(&resp); /* twice is fine */
}
END_TEST

/* --- mcpauth_http_perform: one exchange per case ------------------------ *
 *
 * Each case starts a server with one canned answer (unless no_server), sends
 * one request and checks the outcome: the status returned, the response, the
 * error message, what the server received and what -v logged. "%d" in url
 * becomes the server's port, "%s" in message and logged the request URL.
 * Checks a table cannot say sit in the case's check function. */

#define MAX_SCRIPT 6

typedef struct perform_case {
    const char *name;
    canned script[MAX_SCRIPT];     /* the server's answers, one per connection */
    size_t script_length;          /* 0: 1 */
    const char *(*make_raw)(void); /* builds script[0].raw when set */
    bool no_server;
    const char *url;
    const char *method; /* NULL: GET */
    const char *content_type;
    const char *body;
    const char *accept;
    const char *bearer_token;
    const char *basic_user;
    const char *basic_password;
    size_t max_response_bytes; /* 0: the default */
    long timeout_seconds;      /* 0: the default */
    bool verbose;
    /* expected */
    mcpauth_status status;
    bool any_failure;          /* instead of status: any error, with a message */
    long http_status;          /* 0: not checked */
    const char *response_url;  /* "%d": the port; NULL: the request's URL */
    const char *response_body; /* NULL: not checked */
    size_t response_length;    /* checked when response_body is NULL and this is not 0 */
    int is_json;               /* 1 or -1: must or must not be JSON; 0: not checked */
    const char *headers[3][2]; /* response header name, value (NULL: absent) */
    const char *message[3];
    time_t max_seconds;       /* 0: not checked */
    const char *request_line; /* the first request's; then there must be only one */
    int requests;             /* requests the server got; 0: not checked */
    const char *sent[3];
    const char *not_sent[3]; /* case-insensitive */
    const char *sent_body;   /* everything after the request's head */
    const char *logged[4];
    const char *not_logged[3];
    void (*check)(const mcpauth_http_response *resp, const char *request);
} perform_case;

static const char json_body[] = "{\"issuer\":\"http://x/y\",\"n\":1}";

/* Replaces the first "%d" or "%s" of template with value. */
static const char *fill(const char *template, const char *mark, const char *value)
{
    static char out[4][1024];
    static int next;
    char *buf = out[next++ % 4];
    const char *at = strstr(template, mark);
    if (!at)
        snprintf(buf, sizeof out[0], "%s", template);
    else
        snprintf(buf, sizeof out[0], "%.*s%s%s", (int)(at - template), template, value, at + 2);
    return buf;
}

static void read_log(FILE *f, char *log, size_t size)
{
    fflush(f);
    rewind(f);
    size_t n = fread(log, 1, size - 1, f);
    log[n] = '\0';
    fclose(f);
}

static void run_perform_case(const perform_case *c)
{
    canned script[MAX_SCRIPT];
    memcpy(script, c->script, sizeof script);
    if (c->make_raw)
        script[0].raw = c->make_raw();
    int server = c->no_server ? -1 : server_start(script, c->script_length ? c->script_length : 1);
    char port[16] = "";
    if (server >= 0)
        snprintf(port, sizeof port, "%d", servers[server].port);
    char url[256];
    snprintf(url, sizeof url, "%s", fill(c->url, "%d", port));

    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    if (c->max_response_bytes)
        opts.max_response_bytes = c->max_response_bytes;
    if (c->timeout_seconds)
        opts.timeout_seconds = c->timeout_seconds;
    if (c->verbose) {
        opts.verbose = tmpfile();
        ck_assert_ptr_nonnull(opts.verbose);
    }
    mcpauth_http_request req = {
        .method = c->method ? c->method : "GET",
        .url = url,
        .content_type = c->content_type,
        .body = c->body,
        .body_length = c->body ? strlen(c->body) : 0,
        .accept = c->accept,
        .bearer_token = c->bearer_token,
        .basic_user = c->basic_user,
        .basic_password = c->basic_password,
    };
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    time_t started = time(NULL);
    mcpauth_status status = mcpauth_http_perform(&opts, &req, &resp, &err);
    if (c->any_failure)
        ck_assert_msg(status != MCPAUTH_OK && err.message[0], "%s: status %d", c->name, status);
    else
        ck_assert_msg(status == c->status, "%s: status %d, not %d: %s", c->name, status, c->status,
                      err.message);
    if (c->max_seconds)
        ck_assert_int_le(time(NULL) - started, c->max_seconds);
    if (status == MCPAUTH_OK) {
        ck_assert_str_eq(resp.url, c->response_url ? fill(c->response_url, "%d", port) : url);
        if (c->http_status)
            ck_assert_int_eq(resp.status, c->http_status);
        if (c->response_body) {
            ck_assert_str_eq(resp.body, c->response_body);
            ck_assert_uint_eq(resp.body_length, strlen(c->response_body));
        } else if (c->response_length) {
            ck_assert_uint_eq(resp.body_length, c->response_length);
            ck_assert_uint_eq(strlen(resp.body), c->response_length);
        }
        if (c->is_json)
            ck_assert(mcpauth_http_response_is_json(&resp) == (c->is_json > 0));
        for (size_t i = 0; i < 3 && c->headers[i][0]; i++)
            ck_assert_pstr_eq(mcpauth_http_response_header(&resp, c->headers[i][0], 0),
                              c->headers[i][1]);
    } else {
        ck_assert_int_eq(err.status, status);
        ck_assert_ptr_null(resp.body);
        ck_assert_ptr_null(resp.headers);
        ck_assert_uint_eq(resp.header_count, 0);
        ck_assert_ptr_null(resp.url);
    }
    for (size_t i = 0; i < 3 && c->message[i]; i++) {
        const char *needle = fill(c->message[i], "%s", url);
        ck_assert_msg(strstr(err.message, needle), "%s: \"%s\" not in \"%s\"", c->name, needle,
                      err.message);
    }
    if (c->verbose) {
        char log[4096];
        read_log(opts.verbose, log, sizeof log);
        for (size_t i = 0; i < 4 && c->logged[i]; i++) {
            const char *needle = fill(c->logged[i], "%s", url);
            ck_assert_msg(strstr(log, needle), "\"%s\" not in log: %s", needle, log);
        }
        for (size_t i = 0; i < 3 && c->not_logged[i]; i++)
            ck_assert_msg(!strstr(log, c->not_logged[i]), "\"%s\" in log: %s", c->not_logged[i],
                          log);
    }

    char *text = server >= 0 ? captured(server) : NULL;
    if (c->requests)
        ck_assert_int_eq(count_requests(text), c->requests);
    if (c->request_line) {
        ck_assert_int_eq(count_requests(text), c->requests ? c->requests : 1);
        ck_assert_msg(strncmp(text, c->request_line, strlen(c->request_line)) == 0, "%s", text);
    }
    for (size_t i = 0; i < 3 && c->sent[i]; i++)
        ck_assert_msg(strstr(text, c->sent[i]), "\"%s\" not sent: %s", c->sent[i], text);
    for (size_t i = 0; i < 3 && c->not_sent[i]; i++)
        ck_assert_msg(!strcasestr(text, c->not_sent[i]), "\"%s\" sent: %s", c->not_sent[i], text);
    if (c->sent_body) {
        const char *start = strstr(text, "\r\n\r\n");
        ck_assert_ptr_nonnull(start);
        ck_assert(strncmp(start + 4, c->sent_body, strlen(c->sent_body)) == 0);
        ck_assert_str_eq(start + 4 + strlen(c->sent_body), REQUEST_END);
    }
    if (c->check)
        c->check(status == MCPAUTH_OK ? &resp : NULL, text);
    free(text);
    if (status == MCPAUTH_OK)
        mcpauth_http_response_free(&resp);
}

/* Header lookup: case-insensitive, repeated headers by index, names as
 * received, no status line among them. */
static void check_get_json_headers(const mcpauth_http_response *resp, const char *request)
{
    ck_assert_str_eq(mcpauth_http_response_header(resp, "content-type", 0),
                     "application/json; charset=utf-8");
    ck_assert_str_eq(mcpauth_http_response_header(resp, "X-MULTI", 0), "first");
    ck_assert_str_eq(mcpauth_http_response_header(resp, "X-MULTI", 1), "second");
    ck_assert_ptr_null(mcpauth_http_response_header(resp, "X-MULTI", 2));
    ck_assert_str_eq(mcpauth_http_response_header(resp, "Connection", 0), "close");
    bool found = false;
    for (size_t i = 0; i < resp->header_count; i++) {
        ck_assert_ptr_null(strstr(resp->headers[i].name, "HTTP/"));
        found = found || strcmp(resp->headers[i].name, "x-multi") == 0;
    }
    ck_assert(found);
    ck_assert_uint_eq(resp->header_count, 5);
}

static void check_user_agent(const mcpauth_http_response *resp, const char *request)
{
    char value[256];
    ck_assert_ptr_nonnull(header_in(request, "User-Agent", value, sizeof value));
    ck_assert_msg(strncmp(value, "mcpauth/", 8) == 0, "User-Agent: %s", value);
    ck_assert_uint_gt(strlen(value), 8);
}

static const perform_case response_cases[] = {
    {
        .name = "get_json",
        .script = {{SERVE_RESPOND, json_response, 0}},
        .url = "http://127.0.0.1:%d/.well-known/oauth-authorization-server",
        .status = MCPAUTH_OK,
        .http_status = 200,
        .response_body = json_body,
        .is_json = 1,
        .request_line = "GET /.well-known/oauth-authorization-server HTTP/1.1\r\n",
        .check = check_get_json_headers,
    },
    {
        .name = "error_status_is_ok",
        .script = {{SERVE_RESPOND,
                    "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n"
                    "Content-Length: 9\r\nConnection: close\r\n\r\nnot found",
                    0}},
        .url = "http://127.0.0.1:%d/missing",
        .status = MCPAUTH_OK,
        .http_status = 404,
        .response_body = "not found",
        .is_json = -1,
    },
    {
        .name = "empty_body",
        .script = {{SERVE_RESPOND, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 0}},
        .url = "http://127.0.0.1:%d/register/c1",
        .method = "DELETE",
        .status = MCPAUTH_OK,
        .http_status = 204,
        .response_body = "",
        .request_line = "DELETE /register/c1 HTTP/1.1\r\n",
    },
    {
        .name = "headers_of_final_response_only",
        .script = {{SERVE_RESPOND,
                    "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"
                    "HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 2\r\n"
                    "Connection: close\r\n\r\n{}",
                    0}},
        .url = "http://127.0.0.1:%d/",
        .status = MCPAUTH_OK,
        .http_status = 200,
        .response_body = "{}",
        .headers = {{"X-Final", "yes"}, {"X-Interim", NULL}},
    },
};

#define POST_BODY "{\"client_name\":\"mcpauth\",\"redirect_uris\":[\"http://x/y\"]}"

static const perform_case request_cases[] = {
    {
        .name = "request_default_headers",
        .script = {{SERVE_RESPOND, json_response, 0}},
        .url = "http://127.0.0.1:%d/x?y=1",
        .status = MCPAUTH_OK,
        .request_line = "GET /x?y=1 HTTP/1.1\r\n",
        .sent = {"\r\nAccept: application/json\r\n"},
        .not_sent = {"\r\nAuthorization:", "\r\nExpect:", "\r\nContent-Type:"},
        .check = check_user_agent,
    },
    {
        .name = "request_custom_accept",
        .script = {{SERVE_RESPOND, json_response, 0}},
        .url = "http://127.0.0.1:%d/jwks",
        .accept = "application/jwk-set+json, application/json",
        .status = MCPAUTH_OK,
        .sent = {"\r\nAccept: application/jwk-set+json, application/json\r\n"},
    },
    {
        .name = "request_bearer",
        .script = {{SERVE_RESPOND, json_response, 0}},
        .url = "http://127.0.0.1:%d/register/abc",
        .bearer_token = "reg-token.ABC_123",
        .status = MCPAUTH_OK,
        .sent = {"\r\nAuthorization: Bearer reg-token.ABC_123\r\n"},
    },
    {
        .name = "request_basic",
        .script = {{SERVE_RESPOND, json_response, 0}},
        .url = "http://127.0.0.1:%d/token",
        .method = "POST",
        .content_type = "application/x-www-form-urlencoded",
        .body = "grant_type=client_credentials",
        .basic_user = "a:b",
        .basic_password = "c d",
        .status = MCPAUTH_OK,
        /* RFC 6749 §2.3.1: base64("a%3Ab:c+d") */
        .sent = {"\r\nAuthorization: Basic YSUzQWI6Yytk\r\n"},
    },
    {
        .name = "request_post_body",
        .script = {{SERVE_RESPOND, json_response, 0}},
        .url = "http://127.0.0.1:%d/register",
        .method = "POST",
        .content_type = "application/json",
        .body = POST_BODY,
        .status = MCPAUTH_OK,
        .http_status = 200,
        .request_line = "POST /register HTTP/1.1\r\n",
        .sent = {"\r\nContent-Type: application/json\r\n", "\r\nContent-Length: 56\r\n"},
        .not_sent = {"\r\nExpect:"},
        .sent_body = POST_BODY,
    },
    {
        .name = "request_put_body",
        .script = {{SERVE_RESPOND, json_response, 0}},
        .url = "http://127.0.0.1:%d/register/abc",
        .method = "PUT",
        .content_type = "application/json",
        .body = "{}",
        .bearer_token = "rat",
        .status = MCPAUTH_OK,
        .request_line = "PUT /register/abc HTTP/1.1\r\n",
        .sent_body = "{}",
    },
    {
        .name = "verbose_redacts_authorization",
        .script = {{SERVE_RESPOND, json_response, 0}},
        .url = "http://127.0.0.1:%d/token",
        .method = "POST",
        .content_type = "application/x-www-form-urlencoded",
        .body = "grant_type=refresh_token",
        .bearer_token = "super-secret-token-value",
        .verbose = true,
        .status = MCPAUTH_OK,
        .logged = {"> POST %s\n", "> Authorization: [redacted]\n",
                   "> Content-Type: application/x-www-form-urlencoded (24 bytes)\n",
                   "< HTTP 200 OK (29 bytes)\n"},
        .not_logged = {"super-secret", "Bearer"},
        .sent = {"Authorization: Bearer super-secret-token-value\r\n"},
    },
    {
        .name = "verbose_redacts_basic",
        .script = {{SERVE_RESPOND, json_response, 0}},
        .url = "http://127.0.0.1:%d/introspect",
        .basic_user = "client",
        .basic_password = "secret",
        .verbose = true,
        .status = MCPAUTH_OK,
        .logged = {"> GET ", "> Authorization: [redacted]\n"},
        .not_logged = {"Y2xpZW50OnNlY3JldA", "secret"},
    },
};

static const char big_response_with_length[] = "HTTP/1.1 200 OK\r\n"
                                               "Content-Type: application/json\r\n"
                                               "Content-Length: 2097152\r\n"
                                               "Connection: close\r\n\r\n";

static const char big_response_until_close[] = "HTTP/1.1 200 OK\r\n"
                                               "Content-Type: application/json\r\n"
                                               "Connection: close\r\n\r\n";

/* 200 small headers: more than the client keeps. */
static const char *many_headers(void)
{
    static char raw[16384];
    size_t used = (size_t)snprintf(raw, sizeof raw, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 200; i++)
        used += (size_t)snprintf(raw + used, sizeof raw - used, "X-H%d: v\r\n", i);
    snprintf(raw + used, sizeof raw - used, "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
    return raw;
}

/* 90 headers of 1000 bytes each: more bytes than the client keeps. */
static const char *large_headers(void)
{
    static char raw[128 * 1024];
    char value[1001];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    size_t used = (size_t)snprintf(raw, sizeof raw, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 90; i++)
        used += (size_t)snprintf(raw + used, sizeof raw - used, "X-H%d: %s\r\n", i, value);
    snprintf(raw + used, sizeof raw - used, "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
    return raw;
}

static const perform_case failure_cases[] = {
    {
        .name = "too_large_with_content_length",
        .script = {{SERVE_RESPOND, big_response_with_length, 2 * 1024 * 1024}},
        .url = "http://127.0.0.1:%d/big",
        .max_response_bytes = 1024 * 1024,
        .status = MCPAUTH_EREMOTE,
        .message = {"larger than", "%s", "1048576-byte limit"},
    },
    {
        .name = "too_large_until_close",
        .script = {{SERVE_RESPOND, big_response_until_close, 2 * 1024 * 1024}},
        .url = "http://127.0.0.1:%d/big",
        .max_response_bytes = 1024 * 1024,
        .status = MCPAUTH_EREMOTE,
        .message = {"larger than", "%s", "1048576-byte limit"},
    },
    {
        .name = "body_at_limit",
        .script = {{SERVE_RESPOND,
                    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n", 1000}},
        .url = "http://127.0.0.1:%d/",
        .max_response_bytes = 1000,
        .status = MCPAUTH_OK,
        .response_length = 1000,
    },
    {
        .name = "body_one_over_limit",
        .script = {{SERVE_RESPOND, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 1001}},
        .url = "http://127.0.0.1:%d/big",
        .max_response_bytes = 1000,
        .status = MCPAUTH_EREMOTE,
        .message = {"larger than", "%s", "1000-byte limit"},
    },
    {
        .name = "timeout",
        .script = {{SERVE_SILENT, NULL, 0}},
        .url = "http://127.0.0.1:%d/slow",
        .timeout_seconds = 1,
        .status = MCPAUTH_ENETWORK,
        .max_seconds = 5,
        .message = {"timed out", "%s", "after 1 s"},
    },
    {
        .name = "closed_without_answer",
        .script = {{SERVE_CLOSE, NULL, 0}},
        .url = "http://127.0.0.1:%d/",
        .status = MCPAUTH_ENETWORK,
        .message = {"%s"},
    },
    {
        .name = "closed_on_accept",
        .script = {{SERVE_CLOSE_UNREAD, NULL, 0}},
        .url = "http://127.0.0.1:%d/",
        .status = MCPAUTH_ENETWORK,
        .message = {"cannot reach"},
    },
    {
        /* error.h: "the remote side answered with an error or garbage". */
        .name = "garbage_reply",
        .script = {{SERVE_RESPOND, "SSH-2.0-OpenSSH_9.2\r\n\r\n", 0}},
        .url = "http://127.0.0.1:%d/",
        .status = MCPAUTH_EREMOTE,
    },
    {
        .name = "too_many_headers",
        .script = {{SERVE_RESPOND, NULL, 0}},
        .make_raw = many_headers,
        .url = "http://127.0.0.1:%d/",
        .status = MCPAUTH_EREMOTE,
        .message = {"headers", "too large"},
    },
    {
        .name = "headers_too_many_bytes",
        .script = {{SERVE_RESPOND, NULL, 0}},
        .make_raw = large_headers,
        .url = "http://127.0.0.1:%d/",
        .status = MCPAUTH_EREMOTE,
        .message = {"too large"},
    },
    {
        .name = "refused_url_sends_nothing",
        .no_server = true,
        .url = "http://example.com/.well-known/x",
        .status = MCPAUTH_EUSAGE,
        .message = {"--allow-http"},
    },
    {
        /* The TLS handshake meets a plain HTTP answer. */
        .name = "tls_to_plain_server",
        .script = {{SERVE_BLURT, json_response, 0}},
        .url = "https://127.0.0.1:%d/",
        .timeout_seconds = 5,
        .status = MCPAUTH_ENETWORK,
        .message = {"%s"},
    },
};

START_TEST(perform_response)
{
    run_perform_case(&response_cases[_i]);
}
END_TEST

START_TEST(perform_request)
{
    run_perform_case(&request_cases[_i]);
}
END_TEST

START_TEST(perform_failure)
{
    run_perform_case(&failure_cases[_i]);
}
END_TEST

START_TEST(connection_refused)

{
    /* A port that was just free and has no listener. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    socklen_t length = sizeof addr;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&addr, &length), 0);
    close(fd);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(addr.sin_port));
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(url);
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_ENETWORK);
    ck_assert_int_eq(err.status, MCPAUTH_ENETWORK);
    ck_assert_ptr_nonnull(strstr(err.message, "cannot reach"));
    ck_assert_ptr_nonnull(strstr(err.message, url));
    ck_assert_ptr_null(resp.url);
}
END_TEST

/* --- mcpauth_http_perform: redirects ------------------------------------ */

static const char redirect_to_second[] = "HTTP/1.1 302 Found\r\n"
                                         "Location: /second?x=1\r\n"
                                         "Content-Length: 0\r\n"
                                         "Connection: close\r\n\r\n";

#define REDIRECT_TO_NEXT(line)                                                                     \
    "HTTP/1.1 " line "\r\nLocation: /next\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

#define HOP                                                                                        \
    "HTTP/1.1 307 Temporary Redirect\r\nLocation: /hop\r\nContent-Length: 0\r\n"                   \
    "Connection: close\r\n\r\n"

static const perform_case redirect_cases[] = {
    {
        .name = "get_redirect_followed",
        .script = {{SERVE_RESPOND, redirect_to_second, 0}, {SERVE_RESPOND, json_response, 0}},
        .script_length = 2,
        .url = "http://127.0.0.1:%d/first",
        .status = MCPAUTH_OK,
        .http_status = 200,
        .response_url = "http://127.0.0.1:%d/second?x=1",
        .response_body = json_body,
        .headers = {{"Location", NULL}},
        .request_line = "GET /first HTTP/1.1\r\n",
        .requests = 2,
        .sent = {REQUEST_END "GET /second?x=1 HTTP/1.1\r\n"},
    },
#define REDIRECT_STATUS_CASE(line)                                                                 \
    {                                                                                              \
        .name = "get_redirect_" line,                                                              \
        .script = {{SERVE_RESPOND, REDIRECT_TO_NEXT(line), 0}, {SERVE_RESPOND, json_response, 0}}, \
        .script_length = 2, .url = "http://127.0.0.1:%d/", .status = MCPAUTH_OK,                   \
        .http_status = 200, .response_url = "http://127.0.0.1:%d/next",                            \
    }
    REDIRECT_STATUS_CASE("301 Moved Permanently"),
    REDIRECT_STATUS_CASE("303 See Other"),
    REDIRECT_STATUS_CASE("307 Temporary Redirect"),
    REDIRECT_STATUS_CASE("308 Permanent Redirect"),
    {
        .name = "redirect_without_location",
        .script = {{SERVE_RESPOND,
                    "HTTP/1.1 302 Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 0}},
        .url = "http://127.0.0.1:%d/",
        .status = MCPAUTH_OK,
        .http_status = 302,
    },
    {
        .name = "post_redirect_not_followed",
        .script = {{SERVE_RESPOND, redirect_to_second, 0}, {SERVE_RESPOND, json_response, 0}},
        .script_length = 2,
        .url = "http://127.0.0.1:%d/token",
        .method = "POST",
        .content_type = "application/x-www-form-urlencoded",
        .body = "a=b",
        .basic_user = "id",
        .basic_password = "secret",
        .status = MCPAUTH_OK,
        .http_status = 302,
        .headers = {{"Location", "/second?x=1"}},
        .requests = 1,
    },
    {
        .name = "redirect_to_non_loopback_refused",
        .script = {{SERVE_RESPOND,
                    "HTTP/1.1 302 Found\r\nLocation: http://example.com/\r\nContent-Length: 0\r\n"
                    "Connection: close\r\n\r\n",
                    0}},
        .url = "http://127.0.0.1:%d/",
        .status = MCPAUTH_EUSAGE,
        .message = {"example.com", "--allow-http"},
    },
    {
        .name = "redirect_to_bad_location",
        .script = {{SERVE_RESPOND,
                    "HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1/file\r\nContent-Length: 0\r\n"
                    "Connection: close\r\n\r\n",
                    0}},
        .url = "http://127.0.0.1:%d/",
        .any_failure = true,
        .requests = 1,
    },
    {
        .name = "redirect_loop",
        .script = {{SERVE_RESPOND,
                    "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n"
                    "Connection: close\r\n\r\n",
                    0}},
        .url = "http://127.0.0.1:%d/loop",
        .status = MCPAUTH_EREMOTE,
        .message = {"too many redirects", "%s"},
        .requests = MCPAUTH_HTTP_MAX_REDIRECTS + 1,
    },
    {
        .name = "redirect_max_hops_allowed",
        .script = {{SERVE_RESPOND, HOP, 0},
                   {SERVE_RESPOND, HOP, 0},
                   {SERVE_RESPOND, HOP, 0},
                   {SERVE_RESPOND, HOP, 0},
                   {SERVE_RESPOND, HOP, 0},
                   {SERVE_RESPOND, json_response, 0}},
        .script_length = 6,
        .url = "http://127.0.0.1:%d/start",
        .status = MCPAUTH_OK,
        .http_status = 200,
        .response_url = "http://127.0.0.1:%d/hop",
    },
    {
        .name = "redirect_verbose_logs_each_hop",
        .script = {{SERVE_RESPOND, redirect_to_second, 0}, {SERVE_RESPOND, json_response, 0}},
        .script_length = 2,
        .url = "http://127.0.0.1:%d/first",
        .verbose = true,
        .status = MCPAUTH_OK,
        .response_url = "http://127.0.0.1:%d/second?x=1",
        .logged = {"/first\n", "< HTTP 302 Found (0 bytes)\n", "/second?x=1\n",
                   "< HTTP 200 OK (29 bytes)\n"},
    },
};

START_TEST(perform_redirect)
{
    run_perform_case(&redirect_cases[_i]);
}
END_TEST

START_TEST(cross_origin_redirect_drops_authorization)
{
    /* A registration read (RFC 7592 §2.1) is a GET with the registration
     * access token; a redirect to another origin must not carry it along
     * (curl itself stopped doing so: CVE-2018-1000007, CVE-2022-27776). */
    static const canned other_script[] = {{SERVE_RESPOND, json_response, 0}};
    int other = server_start(other_script, 1);
    static char raw[256];
    snprintf(raw, sizeof raw,
             "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/elsewhere\r\n"
             "Content-Length: 0\r\nConnection: close\r\n\r\n",
             servers[other].port);
    canned script[] = {{SERVE_RESPOND, raw, 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/register/abc"));
    req.bearer_token = "registration-access-token";
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    mcpauth_http_response_free(&resp);

    char *first = captured(server);
    ck_assert_ptr_nonnull(strstr(first, "Authorization: Bearer registration-access-token"));
    free(first);
    char *text = captured(other);
    ck_assert_int_eq(count_requests(text), 1);
    ck_assert_msg(strstr(text, "registration-access-token") == NULL,
                  "token sent to another origin:\n%s", text);
    free(text);
}
END_TEST

static Suite *http_client_suite(void)
{
    Suite *s = suite_create("http_client");

    TCase *tc = tcase_create("options");
    tcase_add_test(tc, options_defaults);
    suite_add_tcase(s, tc);

    tc = tcase_create("check_url");
    tcase_add_loop_test(tc, check_url_allowed, 0,
                        (int)(sizeof allowed_urls / sizeof allowed_urls[0]));
    tcase_add_loop_test(tc, check_url_plain_http_refused, 0,
                        (int)(sizeof plain_http_urls / sizeof plain_http_urls[0]));
    tcase_add_test(tc, check_url_names_host);
    tcase_add_loop_test(tc, check_url_malformed, 0,
                        (int)(sizeof malformed_urls / sizeof malformed_urls[0]));
    tcase_add_test(tc, check_url_null_err);
    suite_add_tcase(s, tc);

    tc = tcase_create("response");
    tcase_add_test(tc, status_text);
    tcase_add_test(tc, response_header_lookup);
    tcase_add_test(tc, response_header_index);
    tcase_add_test(tc, response_header_empty);
    tcase_add_loop_test(tc, response_is_json, 0,
                        (int)(sizeof json_type_cases / sizeof json_type_cases[0]));
    tcase_add_test(tc, response_free_zeroes);
    suite_add_tcase(s, tc);

    tc = tcase_create("perform");
    tcase_add_unchecked_fixture(tc, make_base_dir, remove_base_dir);
    tcase_add_checked_fixture(tc, make_test_dir, stop_servers);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, perform_response, 0,
                        (int)(sizeof response_cases / sizeof response_cases[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("request");
    tcase_add_unchecked_fixture(tc, make_base_dir, remove_base_dir);
    tcase_add_checked_fixture(tc, make_test_dir, stop_servers);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, perform_request, 0,
                        (int)(sizeof request_cases / sizeof request_cases[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("failures");
    tcase_add_unchecked_fixture(tc, make_base_dir, remove_base_dir);
    tcase_add_checked_fixture(tc, make_test_dir, stop_servers);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, perform_failure, 0,
                        (int)(sizeof failure_cases / sizeof failure_cases[0]));
    tcase_add_test(tc, connection_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("redirects");
    tcase_add_unchecked_fixture(tc, make_base_dir, remove_base_dir);
    tcase_add_checked_fixture(tc, make_test_dir, stop_servers);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, perform_redirect, 0,
                        (int)(sizeof redirect_cases / sizeof redirect_cases[0]));
    tcase_add_test(tc, cross_origin_redirect_drops_authorization);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
#ifdef __linux__
    /* Orphaned test servers become our children: see record_server(). */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
    return testlib_run_http(http_client_suite());
}
