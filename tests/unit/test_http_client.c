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

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

static void make_base_dir(void)
{
    strcpy(base_dir, "/tmp/mcpauth-http-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base_dir));
}

static void remove_base_dir(void)
{
    reap_orphaned_servers();
    nftw(base_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void make_test_dir(void)
{
    snprintf(test_dir, sizeof test_dir, "%s/t-XXXXXX", base_dir);
    ck_assert_ptr_nonnull(mkdtemp(test_dir));
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

/* --- mcpauth_http_perform: responses ------------------------------------ */

START_TEST(get_json)
{
    static const canned script[] = {{SERVE_RESPOND, json_response, 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    const char *url = server_url(server, "/.well-known/oauth-authorization-server");
    mcpauth_http_request req = get_request(url);
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_msg(mcpauth_http_perform(&opts, &req, &resp, &err) == MCPAUTH_OK, "%s", err.message);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_str_eq(resp.body, "{\"issuer\":\"http://x/y\",\"n\":1}");
    ck_assert_uint_eq(resp.body_length, 29);
    ck_assert_str_eq(resp.url, url);
    ck_assert(mcpauth_http_response_is_json(&resp));
    ck_assert_str_eq(mcpauth_http_response_header(&resp, "content-type", 0),
                     "application/json; charset=utf-8");
    ck_assert_str_eq(mcpauth_http_response_header(&resp, "X-MULTI", 0), "first");
    ck_assert_str_eq(mcpauth_http_response_header(&resp, "X-MULTI", 1), "second");
    ck_assert_ptr_null(mcpauth_http_response_header(&resp, "X-MULTI", 2));
    ck_assert_str_eq(mcpauth_http_response_header(&resp, "Connection", 0), "close");
    /* Names as received, no status line among the headers. */
    bool found = false;
    for (size_t i = 0; i < resp.header_count; i++) {
        ck_assert_ptr_null(strstr(resp.headers[i].name, "HTTP/"));
        found = found || strcmp(resp.headers[i].name, "x-multi") == 0;
    }
    ck_assert(found);
    ck_assert_uint_eq(resp.header_count, 5);
    mcpauth_http_response_free(&resp);

    char *text = captured(server);
    ck_assert_int_eq(count_requests(text), 1);
    ck_assert(strncmp(text, "GET /.well-known/oauth-authorization-server HTTP/1.1\r\n", 54) == 0);
    free(text);
}
END_TEST

START_TEST(error_status_is_ok)
{
    static const canned script[] = {{SERVE_RESPOND,
                                     "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n"
                                     "Content-Length: 9\r\nConnection: close\r\n\r\nnot found",
                                     0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/missing"));
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    ck_assert_int_eq(resp.status, 404);
    ck_assert_str_eq(resp.body, "not found");
    ck_assert(!mcpauth_http_response_is_json(&resp));
    mcpauth_http_response_free(&resp);
}
END_TEST

START_TEST(empty_body)
{
    static const canned script[] = {
        {SERVE_RESPOND, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = {.method = "DELETE", .url = server_url(server, "/register/c1")};
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    ck_assert_int_eq(resp.status, 204);
    ck_assert_ptr_nonnull(resp.body);
    ck_assert_str_eq(resp.body, "");
    ck_assert_uint_eq(resp.body_length, 0);
    mcpauth_http_response_free(&resp);

    char *text = captured(server);
    ck_assert(strncmp(text, "DELETE /register/c1 HTTP/1.1\r\n", 30) == 0);
    free(text);
}
END_TEST

START_TEST(headers_of_final_response_only)
{
    static const canned script[] = {{SERVE_RESPOND,
                                     "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"
                                     "HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 2\r\n"
                                     "Connection: close\r\n\r\n{}",
                                     0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/"));
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_msg(mcpauth_http_perform(&opts, &req, &resp, &err) == MCPAUTH_OK, "%s", err.message);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_str_eq(mcpauth_http_response_header(&resp, "X-Final", 0), "yes");
    ck_assert_ptr_null(mcpauth_http_response_header(&resp, "X-Interim", 0));
    ck_assert_str_eq(resp.body, "{}");
    mcpauth_http_response_free(&resp);
}
END_TEST

/* --- mcpauth_http_perform: what the server receives --------------------- */

START_TEST(request_default_headers)
{
    static const canned script[] = {{SERVE_RESPOND, json_response, 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/x?y=1"));
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    mcpauth_http_response_free(&resp);

    char *text = captured(server);
    char value[256];
    ck_assert(strncmp(text, "GET /x?y=1 HTTP/1.1\r\n", 21) == 0);
    ck_assert_ptr_nonnull(header_in(text, "User-Agent", value, sizeof value));
    ck_assert_msg(strncmp(value, "mcpauth/", 8) == 0, "User-Agent: %s", value);
    ck_assert_uint_gt(strlen(value), 8);
    ck_assert_ptr_nonnull(header_in(text, "Accept", value, sizeof value));
    ck_assert_str_eq(value, "application/json");
    ck_assert_ptr_null(header_in(text, "Authorization", value, sizeof value));
    ck_assert_ptr_null(header_in(text, "Expect", value, sizeof value));
    ck_assert_ptr_null(header_in(text, "Content-Type", value, sizeof value));
    free(text);
}
END_TEST

START_TEST(request_custom_accept)
{
    static const canned script[] = {{SERVE_RESPOND, json_response, 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/jwks"));
    req.accept = "application/jwk-set+json, application/json";
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    mcpauth_http_response_free(&resp);

    char *text = captured(server);
    char value[256];
    ck_assert_ptr_nonnull(header_in(text, "Accept", value, sizeof value));
    ck_assert_str_eq(value, "application/jwk-set+json, application/json");
    free(text);
}
END_TEST

START_TEST(request_bearer)
{
    static const canned script[] = {{SERVE_RESPOND, json_response, 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/register/abc"));
    req.bearer_token = "reg-token.ABC_123";
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    mcpauth_http_response_free(&resp);

    char *text = captured(server);
    char value[256];
    ck_assert_ptr_nonnull(header_in(text, "Authorization", value, sizeof value));
    ck_assert_str_eq(value, "Bearer reg-token.ABC_123");
    free(text);
}
END_TEST

START_TEST(request_basic)
{
    static const canned script[] = {{SERVE_RESPOND, json_response, 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = {
        .method = "POST",
        .url = server_url(server, "/token"),
        .content_type = "application/x-www-form-urlencoded",
        .body = "grant_type=client_credentials",
        .body_length = 29,
        .basic_user = "a:b",
        .basic_password = "c d",
    };
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    mcpauth_http_response_free(&resp);

    char *text = captured(server);
    char value[256];
    ck_assert_ptr_nonnull(header_in(text, "Authorization", value, sizeof value));
    /* RFC 6749 §2.3.1: base64("a%3Ab:c+d") */
    ck_assert_str_eq(value, "Basic YSUzQWI6Yytk");
    free(text);
}
END_TEST

START_TEST(request_post_body)
{
    static const canned script[] = {{SERVE_RESPOND, json_response, 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    const char body[] = "{\"client_name\":\"mcpauth\",\"redirect_uris\":[\"http://x/y\"]}";
    mcpauth_http_request req = {
        .method = "POST",
        .url = server_url(server, "/register"),
        .content_type = "application/json",
        .body = body,
        .body_length = sizeof body - 1,
    };
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    ck_assert_int_eq(resp.status, 200);
    mcpauth_http_response_free(&resp);

    char *text = captured(server);
    char value[256];
    ck_assert(strncmp(text, "POST /register HTTP/1.1\r\n", 25) == 0);
    ck_assert_ptr_nonnull(header_in(text, "Content-Type", value, sizeof value));
    ck_assert_str_eq(value, "application/json");
    ck_assert_ptr_nonnull(header_in(text, "Content-Length", value, sizeof value));
    ck_assert_int_eq(atoi(value), (int)(sizeof body - 1));
    ck_assert_ptr_null(header_in(text, "Expect", value, sizeof value));
    const char *start = strstr(text, "\r\n\r\n");
    ck_assert_ptr_nonnull(start);
    ck_assert(strncmp(start + 4, body, sizeof body - 1) == 0);
    ck_assert_str_eq(start + 4 + sizeof body - 1, REQUEST_END);
    free(text);
}
END_TEST

START_TEST(request_put_body)
{
    static const canned script[] = {{SERVE_RESPOND, json_response, 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = {
        .method = "PUT",
        .url = server_url(server, "/register/abc"),
        .content_type = "application/json",
        .body = "{}",
        .body_length = 2,
        .bearer_token = "rat",
    };
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    mcpauth_http_response_free(&resp);

    char *text = captured(server);
    ck_assert(strncmp(text, "PUT /register/abc HTTP/1.1\r\n", 28) == 0);
    ck_assert_ptr_nonnull(strstr(text, "\r\n\r\n{}" REQUEST_END));
    free(text);
}
END_TEST

START_TEST(verbose_redacts_authorization)
{
    static const canned script[] = {{SERVE_RESPOND, json_response, 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    opts.verbose = tmpfile();
    ck_assert_ptr_nonnull(opts.verbose);
    const char *url = server_url(server, "/token");
    mcpauth_http_request req = {
        .method = "POST",
        .url = url,
        .content_type = "application/x-www-form-urlencoded",
        .body = "grant_type=refresh_token",
        .body_length = 24,
        .bearer_token = "super-secret-token-value",
    };
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    mcpauth_http_response_free(&resp);

    char log[4096];
    fflush(opts.verbose);
    rewind(opts.verbose);
    size_t n = fread(log, 1, sizeof log - 1, opts.verbose);
    log[n] = '\0';
    fclose(opts.verbose);

    char line[512];
    snprintf(line, sizeof line, "> POST %s\n", url);
    ck_assert_msg(strstr(log, line) != NULL, "log: %s", log);
    ck_assert_ptr_nonnull(strstr(log, "> Authorization: [redacted]\n"));
    ck_assert_ptr_nonnull(
        strstr(log, "> Content-Type: application/x-www-form-urlencoded (24 bytes)\n"));
    ck_assert_ptr_nonnull(strstr(log, "< HTTP 200 OK (29 bytes)\n"));
    ck_assert_ptr_null(strstr(log, "super-secret"));
    ck_assert_ptr_null(strstr(log, "Bearer"));

    char *text = captured(server);
    ck_assert_ptr_nonnull(strstr(text, "Authorization: Bearer super-secret-token-value\r\n"));
    free(text);
}
END_TEST

START_TEST(verbose_redacts_basic)
{
    static const canned script[] = {{SERVE_RESPOND, json_response, 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    opts.verbose = tmpfile();
    ck_assert_ptr_nonnull(opts.verbose);
    mcpauth_http_request req = get_request(server_url(server, "/introspect"));
    req.basic_user = "client";
    req.basic_password = "secret";
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    mcpauth_http_response_free(&resp);

    char log[4096];
    rewind(opts.verbose);
    size_t n = fread(log, 1, sizeof log - 1, opts.verbose);
    log[n] = '\0';
    fclose(opts.verbose);
    ck_assert_ptr_nonnull(strstr(log, "> GET "));
    ck_assert_ptr_nonnull(strstr(log, "> Authorization: [redacted]\n"));
    ck_assert_ptr_null(strstr(log, "Y2xpZW50OnNlY3JldA"));
    ck_assert_ptr_null(strstr(log, "secret"));
}
END_TEST

/* --- mcpauth_http_perform: failures ------------------------------------- */

static const char big_response_with_length[] = "HTTP/1.1 200 OK\r\n"
                                               "Content-Type: application/json\r\n"
                                               "Content-Length: 2097152\r\n"
                                               "Connection: close\r\n\r\n";

static const char big_response_until_close[] = "HTTP/1.1 200 OK\r\n"
                                               "Content-Type: application/json\r\n"
                                               "Connection: close\r\n\r\n";

static void expect_too_large(const canned *script, size_t limit)
{
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    opts.max_response_bytes = limit;
    const char *url = server_url(server, "/big");
    mcpauth_http_request req = get_request(url);
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_EREMOTE);
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    ck_assert_msg(strstr(err.message, "larger than") != NULL, "message: %s", err.message);
    ck_assert_ptr_nonnull(strstr(err.message, url));
    char limit_text[64];
    snprintf(limit_text, sizeof limit_text, "%zu-byte limit", limit);
    ck_assert_msg(strstr(err.message, limit_text) != NULL, "message: %s", err.message);
    ck_assert_ptr_null(resp.body);
    ck_assert_ptr_null(resp.headers);
}

START_TEST(too_large_with_content_length)
{
    static const canned script[] = {{SERVE_RESPOND, big_response_with_length, 2 * 1024 * 1024}};
    expect_too_large(script, 1024 * 1024);
}
END_TEST

START_TEST(too_large_until_close)
{
    static const canned script[] = {{SERVE_RESPOND, big_response_until_close, 2 * 1024 * 1024}};
    expect_too_large(script, 1024 * 1024);
}
END_TEST

START_TEST(body_at_limit)
{
    static const canned script[] = {
        {SERVE_RESPOND, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n",
         1000}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    opts.max_response_bytes = 1000;
    mcpauth_http_request req = get_request(server_url(server, "/"));
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_msg(mcpauth_http_perform(&opts, &req, &resp, &err) == MCPAUTH_OK, "%s", err.message);
    ck_assert_uint_eq(resp.body_length, 1000);
    ck_assert_uint_eq(strlen(resp.body), 1000);
    mcpauth_http_response_free(&resp);
}
END_TEST

START_TEST(body_one_over_limit)
{
    static const canned script[] = {
        {SERVE_RESPOND, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 1001}};
    expect_too_large(script, 1000);
}
END_TEST

START_TEST(timeout)
{
    static const canned script[] = {{SERVE_SILENT, NULL, 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    opts.timeout_seconds = 1;
    const char *url = server_url(server, "/slow");
    mcpauth_http_request req = get_request(url);
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    time_t started = time(NULL);
    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_ENETWORK);
    ck_assert_int_le(time(NULL) - started, 5);
    ck_assert_int_eq(err.status, MCPAUTH_ENETWORK);
    ck_assert_msg(strstr(err.message, "timed out") != NULL, "message: %s", err.message);
    ck_assert_ptr_nonnull(strstr(err.message, url));
    ck_assert_ptr_nonnull(strstr(err.message, "after 1 s"));
}
END_TEST

START_TEST(closed_without_answer)
{
    static const canned script[] = {{SERVE_CLOSE, NULL, 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    const char *url = server_url(server, "/");
    mcpauth_http_request req = get_request(url);
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_ENETWORK);
    ck_assert_int_eq(err.status, MCPAUTH_ENETWORK);
    ck_assert_ptr_nonnull(strstr(err.message, url));
    ck_assert_ptr_null(resp.body);
}
END_TEST

START_TEST(closed_on_accept)
{
    static const canned script[] = {{SERVE_CLOSE_UNREAD, NULL, 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/"));
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_ENETWORK);
    ck_assert_ptr_nonnull(strstr(err.message, "cannot reach"));
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

START_TEST(garbage_reply)
{
    /* error.h: "the remote side answered with an error or garbage". */
    static const canned script[] = {{SERVE_RESPOND, "SSH-2.0-OpenSSH_9.2\r\n\r\n", 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/"));
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_msg(mcpauth_http_perform(&opts, &req, &resp, &err) == MCPAUTH_EREMOTE,
                  "status %d: %s", err.status, err.message);
}
END_TEST

START_TEST(too_many_headers)
{
    static char raw[16384];
    size_t used = (size_t)snprintf(raw, sizeof raw, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 200; i++)
        used += (size_t)snprintf(raw + used, sizeof raw - used, "X-H%d: v\r\n", i);
    snprintf(raw + used, sizeof raw - used, "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
    canned script[] = {{SERVE_RESPOND, raw, 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/"));
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "headers"));
    ck_assert_ptr_nonnull(strstr(err.message, "too large"));
}
END_TEST

START_TEST(headers_too_many_bytes)
{
    static char raw[128 * 1024];
    char value[1001];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    size_t used = (size_t)snprintf(raw, sizeof raw, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 90; i++)
        used += (size_t)snprintf(raw + used, sizeof raw - used, "X-H%d: %s\r\n", i, value);
    snprintf(raw + used, sizeof raw - used, "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
    canned script[] = {{SERVE_RESPOND, raw, 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/"));
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "too large"));
}
END_TEST

START_TEST(refused_url_sends_nothing)
{
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request("http://example.com/.well-known/x");
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "--allow-http"));
    ck_assert_ptr_null(resp.body);
    ck_assert_ptr_null(resp.url);
}
END_TEST

START_TEST(tls_to_plain_server)
{
    /* The TLS handshake meets a plain HTTP answer. */
    static const canned script[] = {{SERVE_BLURT, json_response, 0}};
    int server = server_start(script, 1);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", servers[server].port);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    opts.timeout_seconds = 5;
    mcpauth_http_request req = get_request(url);
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_ENETWORK);
    ck_assert_ptr_nonnull(strstr(err.message, url));
}
END_TEST

/* --- mcpauth_http_perform: redirects ------------------------------------ */

static const char redirect_to_second[] = "HTTP/1.1 302 Found\r\n"
                                         "Location: /second?x=1\r\n"
                                         "Content-Length: 0\r\n"
                                         "Connection: close\r\n\r\n";

START_TEST(get_redirect_followed)
{
    static const canned script[] = {{SERVE_RESPOND, redirect_to_second, 0},
                                    {SERVE_RESPOND, json_response, 0}};
    int server = server_start(script, 2);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/first"));
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_msg(mcpauth_http_perform(&opts, &req, &resp, &err) == MCPAUTH_OK, "%s", err.message);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_str_eq(resp.url, server_url(server, "/second?x=1"));
    ck_assert_str_eq(resp.body, "{\"issuer\":\"http://x/y\",\"n\":1}");
    ck_assert_ptr_null(mcpauth_http_response_header(&resp, "Location", 0));
    mcpauth_http_response_free(&resp);

    char *text = captured(server);
    ck_assert_int_eq(count_requests(text), 2);
    ck_assert(strncmp(text, "GET /first HTTP/1.1\r\n", 21) == 0);
    ck_assert_ptr_nonnull(strstr(text, REQUEST_END "GET /second?x=1 HTTP/1.1\r\n"));
    free(text);
}
END_TEST

static const char *const redirect_statuses[] = {
    "301 Moved Permanently",
    "303 See Other",
    "307 Temporary Redirect",
    "308 Permanent Redirect",
};

START_TEST(get_redirect_statuses)
{
    static char raw[256];
    snprintf(raw, sizeof raw,
             "HTTP/1.1 %s\r\nLocation: /next\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
             redirect_statuses[_i]);
    canned script[] = {{SERVE_RESPOND, raw, 0}, {SERVE_RESPOND, json_response, 0}};
    int server = server_start(script, 2);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/"));
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_str_eq(resp.url, server_url(server, "/next"));
    mcpauth_http_response_free(&resp);
}
END_TEST

START_TEST(redirect_without_location)
{
    static const canned script[] = {
        {SERVE_RESPOND, "HTTP/1.1 302 Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/"));
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    ck_assert_int_eq(resp.status, 302);
    mcpauth_http_response_free(&resp);
}
END_TEST

START_TEST(post_redirect_not_followed)
{
    static const canned script[] = {{SERVE_RESPOND, redirect_to_second, 0},
                                    {SERVE_RESPOND, json_response, 0}};
    int server = server_start(script, 2);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    const char *url = server_url(server, "/token");
    mcpauth_http_request req = {
        .method = "POST",
        .url = url,
        .content_type = "application/x-www-form-urlencoded",
        .body = "a=b",
        .body_length = 3,
        .basic_user = "id",
        .basic_password = "secret",
    };
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    ck_assert_int_eq(resp.status, 302);
    ck_assert_str_eq(resp.url, url);
    ck_assert_str_eq(mcpauth_http_response_header(&resp, "Location", 0), "/second?x=1");
    mcpauth_http_response_free(&resp);

    char *text = captured(server);
    ck_assert_int_eq(count_requests(text), 1);
    free(text);
}
END_TEST

START_TEST(redirect_to_non_loopback_refused)
{
    static const canned script[] = {
        {SERVE_RESPOND,
         "HTTP/1.1 302 Found\r\nLocation: http://example.com/\r\nContent-Length: 0\r\n"
         "Connection: close\r\n\r\n",
         0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/"));
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_EUSAGE);
    ck_assert_int_eq(err.status, MCPAUTH_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "example.com"));
    ck_assert_ptr_nonnull(strstr(err.message, "--allow-http"));
    ck_assert_ptr_null(resp.body);
    ck_assert_ptr_null(resp.url);
    ck_assert_uint_eq(resp.header_count, 0);
}
END_TEST

START_TEST(redirect_to_bad_location)
{
    static const canned script[] = {
        {SERVE_RESPOND,
         "HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1/file\r\nContent-Length: 0\r\n"
         "Connection: close\r\n\r\n",
         0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/"));
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_ne(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    ck_assert_str_ne(err.message, "");
    ck_assert_ptr_null(resp.body);
    char *text = captured(server);
    ck_assert_int_eq(count_requests(text), 1);
    free(text);
}
END_TEST

START_TEST(redirect_loop)
{
    static const canned script[] = {
        {SERVE_RESPOND,
         "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
         0}};
    int server = server_start(script, 1);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    const char *url = server_url(server, "/loop");
    mcpauth_http_request req = get_request(url);
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_EREMOTE);
    ck_assert_int_eq(err.status, MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "too many redirects"));
    ck_assert_ptr_nonnull(strstr(err.message, url));
    ck_assert_ptr_null(resp.body);
    char *text = captured(server);
    ck_assert_int_eq(count_requests(text), MCPAUTH_HTTP_MAX_REDIRECTS + 1);
    free(text);
}
END_TEST

START_TEST(redirect_max_hops_allowed)
{
    static const char hop[] =
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: /hop\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n";
    static const canned script[] = {
        {SERVE_RESPOND, hop, 0}, {SERVE_RESPOND, hop, 0}, {SERVE_RESPOND, hop, 0},
        {SERVE_RESPOND, hop, 0}, {SERVE_RESPOND, hop, 0}, {SERVE_RESPOND, json_response, 0},
    };
    int server = server_start(script, 6);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    mcpauth_http_request req = get_request(server_url(server, "/start"));
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_msg(mcpauth_http_perform(&opts, &req, &resp, &err) == MCPAUTH_OK, "%s", err.message);
    ck_assert_int_eq(resp.status, 200);
    mcpauth_http_response_free(&resp);
}
END_TEST

START_TEST(redirect_verbose_logs_each_hop)
{
    static const canned script[] = {{SERVE_RESPOND, redirect_to_second, 0},
                                    {SERVE_RESPOND, json_response, 0}};
    int server = server_start(script, 2);
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    opts.verbose = tmpfile();
    ck_assert_ptr_nonnull(opts.verbose);
    mcpauth_http_request req = get_request(server_url(server, "/first"));
    mcpauth_http_response resp;
    mcpauth_error err = {0};

    ck_assert_int_eq(mcpauth_http_perform(&opts, &req, &resp, &err), MCPAUTH_OK);
    mcpauth_http_response_free(&resp);

    char log[4096];
    rewind(opts.verbose);
    size_t n = fread(log, 1, sizeof log - 1, opts.verbose);
    log[n] = '\0';
    fclose(opts.verbose);
    ck_assert_ptr_nonnull(strstr(log, "/first\n"));
    ck_assert_ptr_nonnull(strstr(log, "< HTTP 302 Found (0 bytes)\n"));
    ck_assert_ptr_nonnull(strstr(log, "/second?x=1\n"));
    ck_assert_ptr_nonnull(strstr(log, "< HTTP 200 OK (29 bytes)\n"));
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
    tcase_add_test(tc, get_json);
    tcase_add_test(tc, error_status_is_ok);
    tcase_add_test(tc, empty_body);
    tcase_add_test(tc, headers_of_final_response_only);
    suite_add_tcase(s, tc);

    tc = tcase_create("request");
    tcase_add_unchecked_fixture(tc, make_base_dir, remove_base_dir);
    tcase_add_checked_fixture(tc, make_test_dir, stop_servers);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, request_default_headers);
    tcase_add_test(tc, request_custom_accept);
    tcase_add_test(tc, request_bearer);
    tcase_add_test(tc, request_basic);
    tcase_add_test(tc, request_post_body);
    tcase_add_test(tc, request_put_body);
    tcase_add_test(tc, verbose_redacts_authorization);
    tcase_add_test(tc, verbose_redacts_basic);
    suite_add_tcase(s, tc);

    tc = tcase_create("failures");
    tcase_add_unchecked_fixture(tc, make_base_dir, remove_base_dir);
    tcase_add_checked_fixture(tc, make_test_dir, stop_servers);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, too_large_with_content_length);
    tcase_add_test(tc, too_large_until_close);
    tcase_add_test(tc, body_at_limit);
    tcase_add_test(tc, body_one_over_limit);
    tcase_add_test(tc, timeout);
    tcase_add_test(tc, closed_without_answer);
    tcase_add_test(tc, closed_on_accept);
    tcase_add_test(tc, connection_refused);
    tcase_add_test(tc, garbage_reply);
    tcase_add_test(tc, too_many_headers);
    tcase_add_test(tc, headers_too_many_bytes);
    tcase_add_test(tc, refused_url_sends_nothing);
    tcase_add_test(tc, tls_to_plain_server);
    suite_add_tcase(s, tc);

    tc = tcase_create("redirects");
    tcase_add_unchecked_fixture(tc, make_base_dir, remove_base_dir);
    tcase_add_checked_fixture(tc, make_test_dir, stop_servers);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, get_redirect_followed);
    tcase_add_loop_test(tc, get_redirect_statuses, 0,
                        (int)(sizeof redirect_statuses / sizeof redirect_statuses[0]));
    tcase_add_test(tc, redirect_without_location);
    tcase_add_test(tc, post_redirect_not_followed);
    tcase_add_test(tc, redirect_to_non_loopback_refused);
    tcase_add_test(tc, redirect_to_bad_location);
    tcase_add_test(tc, redirect_loop);
    tcase_add_test(tc, redirect_max_hops_allowed);
    tcase_add_test(tc, redirect_verbose_logs_each_hop);
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
    mcpauth_error err = {0};
    if (mcpauth_http_global_init(&err) != MCPAUTH_OK) {
        fprintf(stderr, "%s\n", err.message);
        return EXIT_FAILURE;
    }
    SRunner *runner = srunner_create(http_client_suite());
    srunner_run_all(runner, CK_ENV);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    mcpauth_http_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
