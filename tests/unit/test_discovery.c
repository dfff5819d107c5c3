#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mcpauth/discovery.h"
#include "mcpauth/json.h"
#include "testlib.h"

/* --- candidate URLs (AM-4) ---------------------------------------------- */

typedef struct issuer_case {
    const char *issuer;
    size_t count;
    const char *urls[3];
} issuer_case;

static const issuer_case issuer_cases[] = {
    {"https://as/t1",
     3,
     {"https://as/.well-known/oauth-authorization-server/t1",
      "https://as/.well-known/openid-configuration/t1",
      "https://as/t1/.well-known/openid-configuration"}},
    {"https://as/t1/",
     3,
     {"https://as/.well-known/oauth-authorization-server/t1",
      "https://as/.well-known/openid-configuration/t1",
      "https://as/t1/.well-known/openid-configuration"}},
    {"https://as.example.com",
     2,
     {"https://as.example.com/.well-known/oauth-authorization-server",
      "https://as.example.com/.well-known/openid-configuration", NULL}},
    {"https://as.example.com/",
     2,
     {"https://as.example.com/.well-known/oauth-authorization-server",
      "https://as.example.com/.well-known/openid-configuration", NULL}},
    {"https://login.example.com/tenant/v2.0",
     3,
     {"https://login.example.com/.well-known/oauth-authorization-server/tenant/v2.0",
      "https://login.example.com/.well-known/openid-configuration/tenant/v2.0",
      "https://login.example.com/tenant/v2.0/.well-known/openid-configuration"}},
    {"http://127.0.0.1:8080/realms/dev",
     3,
     {"http://127.0.0.1:8080/.well-known/oauth-authorization-server/realms/dev",
      "http://127.0.0.1:8080/.well-known/openid-configuration/realms/dev",
      "http://127.0.0.1:8080/realms/dev/.well-known/openid-configuration"}},
    {"http://[::1]:9000",
     2,
     {"http://[::1]:9000/.well-known/oauth-authorization-server",
      "http://[::1]:9000/.well-known/openid-configuration", NULL}},
};

START_TEST(issuer_urls)
{
    const issuer_case *c = &issuer_cases[_i];
    char *urls[3] = {(char *)"x", (char *)"x", (char *)"x"};
    mcpauth_error err = {0};

    size_t count = mcpauth_discovery_issuer_urls(c->issuer, urls, &err);
    ck_assert_msg(count == c->count, "%s: %zu (%s)", c->issuer, count, err.message);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_pstr_eq(urls[i], c->urls[i]);
        free(urls[i]);
    }
}
END_TEST

static const char *const bad_issuers[][2] = {
    {"https://as/t1?x=1", "query or fragment"},
    {"https://as/t1#f", "query or fragment"},
    {"https://as?", "query or fragment"},
    {"as.example.com", "not an absolute URL"},
    {"https://user@as/", "userinfo"},
    {"https://as /", "space"},
    {"", "empty"},
};

START_TEST(issuer_urls_bad)
{
    char *urls[3];
    mcpauth_error err = {0};

    ck_assert_uint_eq(mcpauth_discovery_issuer_urls(bad_issuers[_i][0], urls, &err), 0);
    ck_assert_int_eq(err.status, MCPAUTH_EUSAGE);
    ck_assert_msg(strstr(err.message, bad_issuers[_i][1]), "%s", err.message);
    ck_assert_ptr_null(urls[0]);
    ck_assert_ptr_null(urls[1]);
    ck_assert_ptr_null(urls[2]);
    ck_assert_uint_eq(mcpauth_discovery_issuer_urls(NULL, urls, NULL), 0);
}
END_TEST

START_TEST(free_zeroed)
{
    mcpauth_as_metadata as = {0};
    mcpauth_resource_metadata rs = {0};
    mcpauth_as_metadata_free(&as);
    mcpauth_as_metadata_free(NULL);
    mcpauth_resource_metadata_free(&rs);
    mcpauth_resource_metadata_free(NULL);
}
END_TEST

/* --- a canned HTTP server on 127.0.0.1 ----------------------------------- */

typedef struct route {
    const char *method;
    const char *target;
    int status;
    const char *headers; /* extra "Name: value\r\n" lines, or NULL */
    const char *body;
    const char *require; /* the request must contain this, else 418 */
} route;

/* No request in these tests may carry credentials. */
#define FORBIDDEN "Authorization:"

#define MAX_ROUTES 8

typedef struct server {
    int fd;
    int port;
    pid_t pid;
    char base[64]; /* "http://127.0.0.1:PORT" */
    route routes[MAX_ROUTES];
    size_t route_count;
    char strings[MAX_ROUTES][3][1024];
} server;

static void server_listen(server *s)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t length = sizeof addr;
    int one = 1;

    memset(s, 0, sizeof *s);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s->fd, 0);
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(s->fd, 16), 0);
    ck_assert_int_eq(getsockname(s->fd, (struct sockaddr *)&addr, &length), 0);
    s->port = ntohs(addr.sin_port);
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
}

/* Adds a route; "%s" in target, headers or body becomes s->base. */
static void server_route(server *s, const char *method, const char *target, int status,
                         const char *headers, const char *body, const char *require)
{
    const char *in[3] = {target, headers, body};
    const char *out[3] = {NULL, NULL, NULL};

    ck_assert_uint_lt(s->route_count, MAX_ROUTES);
    for (int i = 0; i < 3; i++) {
        if (!in[i])
            continue;
        char *slot = s->strings[s->route_count][i];
        const char *mark = strstr(in[i], "%s");
        if (mark)
            snprintf(slot, 1024, "%.*s%s%s", (int)(mark - in[i]), in[i], s->base, mark + 2);
        else
            snprintf(slot, 1024, "%s", in[i]);
        out[i] = slot;
    }
    s->routes[s->route_count++] = (route){method, out[0], status, out[1], out[2], require};
}

static void serve_one(const server *s, int client)
{
    char request[16384] = "";
    size_t length = 0;
    char *end = NULL;

    while (length < sizeof request - 1 && !(end = strstr(request, "\r\n\r\n"))) {
        ssize_t n = read(client, request + length, sizeof request - 1 - length);
        if (n <= 0)
            return;
        length += (size_t)n;
        request[length] = '\0';
    }
    if (!end)
        return;
    const char *cl = strcasestr(request, "\r\nContent-Length:");
    size_t want = (size_t)(end + 4 - request) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
    while (length < want && length < sizeof request - 1) {
        ssize_t n = read(client, request + length, sizeof request - 1 - length);
        if (n <= 0)
            break;
        length += (size_t)n;
        request[length] = '\0';
    }

    char method[16] = "", target[2048] = "";
    sscanf(request, "%15s %2047s", method, target);
    const route *r = NULL;
    for (size_t i = 0; i < s->route_count && !r; i++) {
        if (strcmp(s->routes[i].method, method) == 0 && strcmp(s->routes[i].target, target) == 0)
            r = &s->routes[i];
    }
    int status = r ? r->status : 404;
    const char *headers = r && r->headers ? r->headers : "";
    const char *body = r && r->body ? r->body : "";
    if (strcasestr(request, FORBIDDEN) || (r && r->require && !strstr(request, r->require))) {
        status = 418;
        headers = "";
        body = "";
    }
    char response[8192];
    int n = snprintf(response, sizeof response,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
                     status, strlen(body), headers, body);
    if (n > 0 && write(client, response, (size_t)n) < 0)
        return;
}

static void server_start(server *s)
{
    s->pid = fork();
    ck_assert_int_ge(s->pid, 0);
    if (s->pid > 0) {
        close(s->fd);
        return;
    }
    /* The child dies with the test process even when an assertion ends it
     * early, and after a minute in any case. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(60);
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        int client = accept(s->fd, NULL, NULL);
        if (client < 0)
            continue;
        serve_one(s, client);
        close(client);
    }
}

static void server_stop(server *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
}

static mcpauth_http_options test_options(void)
{
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    opts.timeout_seconds = 10;
    return opts;
}

static char *url_of(const server *s, const char *path)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s%s", s->base, path);
    return buf;
}

/* --- mcpauth_discover_issuer -------------------------------------------- */

START_TEST(issuer_second_candidate)
{
    server s;
    mcpauth_as_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    server_listen(&s);
    server_route(&s, "GET", "/.well-known/oauth-authorization-server/t1", 404, NULL, "{}", NULL);
    server_route(&s, "GET", "/.well-known/openid-configuration/t1", 200, NULL,
                 "{\"issuer\":\"%s/t1\",\"token_endpoint\":\"x\"}", NULL);
    server_start(&s);

    mcpauth_status status = mcpauth_discover_issuer(&opts, url_of(&s, "/t1"), &md, &err);
    ck_assert_msg(status == MCPAUTH_OK, "%s", err.message);
    ck_assert_str_eq(md.issuer, url_of(&s, "/t1"));
    ck_assert_str_eq(md.metadata_url, url_of(&s, "/.well-known/openid-configuration/t1"));
    ck_assert_str_eq(mcpauth_json_string(md.document, "token_endpoint"), "x");
    mcpauth_as_metadata_free(&md);
    server_stop(&s);
}
END_TEST

START_TEST(issuer_third_candidate)
{
    server s;
    mcpauth_as_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    server_listen(&s);
    server_route(&s, "GET", "/.well-known/oauth-authorization-server/t1", 404, NULL, NULL, NULL);
    server_route(&s, "GET", "/.well-known/openid-configuration/t1", 403, NULL, NULL, NULL);
    server_route(&s, "GET", "/t1/.well-known/openid-configuration", 200, NULL,
                 "{\"issuer\":\"%s/t1\"}", NULL);
    server_start(&s);

    ck_assert_int_eq(mcpauth_discover_issuer(&opts, url_of(&s, "/t1"), &md, &err), MCPAUTH_OK);
    ck_assert_str_eq(md.metadata_url, url_of(&s, "/t1/.well-known/openid-configuration"));
    mcpauth_as_metadata_free(&md);
    server_stop(&s);
}
END_TEST

START_TEST(issuer_not_found)
{
    server s;
    mcpauth_as_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();
    char expected[512];

    server_listen(&s);
    server_start(&s);
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, s.base, &md, &err), MCPAUTH_EREMOTE);
    snprintf(expected, sizeof expected,
             "no authorization server metadata found for issuer \"%s\" (tried "
             "%s/.well-known/oauth-authorization-server: 404, "
             "%s/.well-known/openid-configuration: 404)",
             s.base, s.base, s.base);
    ck_assert_str_eq(err.message, expected);
    ck_assert_ptr_null(md.issuer);
    ck_assert_ptr_null(md.document);
    server_stop(&s);
}
END_TEST

START_TEST(issuer_mismatch)
{
    server s;
    mcpauth_as_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    server_listen(&s);
    server_route(&s, "GET", "/.well-known/oauth-authorization-server", 200, NULL,
                 "{\"issuer\":\"https://evil.example\"}", NULL);
    server_start(&s);
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, s.base, &md, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "\"https://evil.example\""));
    ck_assert_ptr_nonnull(strstr(err.message, s.base));
    ck_assert_ptr_nonnull(strstr(err.message, "/.well-known/oauth-authorization-server\""));
    ck_assert_ptr_nonnull(strstr(err.message, "RFC 8414 §3.3"));
    ck_assert_ptr_null(md.document);
    server_stop(&s);
}
END_TEST

START_TEST(issuer_trailing_slash)
{
    server s;
    mcpauth_as_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();
    char asked[128];

    server_listen(&s);
    server_route(&s, "GET", "/.well-known/oauth-authorization-server", 200, NULL,
                 "{\"issuer\":\"%s\"}", NULL);
    server_route(&s, "GET", "/.well-known/oauth-authorization-server/t1", 200, NULL,
                 "{\"issuer\":\"%s/t1\"}", NULL);
    server_start(&s);

    /* "http://127.0.0.1:P/" finds "http://127.0.0.1:P"... */
    snprintf(asked, sizeof asked, "%s/", s.base);
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, asked, &md, &err), MCPAUTH_OK);
    ck_assert_str_eq(md.issuer, s.base);
    mcpauth_as_metadata_free(&md);

    /* ...but a path's trailing '/' is significant, */
    snprintf(asked, sizeof asked, "%s/t1/", s.base);
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, asked, &md, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "RFC 8414 §3.3"));

    /* and so is a second one. */
    snprintf(asked, sizeof asked, "%s//", s.base);
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, asked, &md, &err), MCPAUTH_EREMOTE);
    server_stop(&s);
}
END_TEST

START_TEST(issuer_bad_documents)
{
    server s;
    mcpauth_as_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    server_listen(&s);
    server_route(&s, "GET", "/.well-known/oauth-authorization-server/a", 200, NULL, "[1,2]", NULL);
    server_route(&s, "GET", "/.well-known/oauth-authorization-server/b", 200, NULL, "<html>", NULL);
    server_route(&s, "GET", "/.well-known/oauth-authorization-server/c", 200, NULL,
                 "{\"issuer\":42}", NULL);
    server_route(&s, "GET", "/.well-known/oauth-authorization-server/d", 500, NULL, NULL, NULL);
    server_route(&s, "GET", "/.well-known/openid-configuration/d", 200, NULL,
                 "{\"issuer\":\"%s/d\"}", NULL);
    server_start(&s);

    ck_assert_int_eq(mcpauth_discover_issuer(&opts, url_of(&s, "/a"), &md, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "not a JSON object"));
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, url_of(&s, "/b"), &md, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "not valid JSON"));
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, url_of(&s, "/c"), &md, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "no \"issuer\" string"));
    /* A 5xx stops the walk: the good third document is never used. */
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, url_of(&s, "/d"), &md, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "HTTP 500"));
    ck_assert_ptr_null(md.document);
    server_stop(&s);
}
END_TEST

START_TEST(issuer_network_error)
{
    server s;
    mcpauth_as_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    server_listen(&s);
    close(s.fd); /* nothing listens there any more */
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, s.base, &md, &err), MCPAUTH_ENETWORK);
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, "http://example.com", &md, &err),
                     MCPAUTH_EUSAGE); /* refused by the transport policy */
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, "https://as/?q", &md, NULL), MCPAUTH_EUSAGE);
}
END_TEST

/* --- mcpauth_discover_resource ------------------------------------------ */

#define PRM(resource) "{\"resource\":\"" resource "\",\"authorization_servers\":[\"https://as/\"]}"

/* The probe must be a real initialize with the Streamable HTTP Accept. */
#define INITIALIZE "\"method\":\"initialize\""

START_TEST(resource_from_header)
{
    server s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    server_listen(&s);
    server_route(&s, "POST", "/mcp", 401,
                 "WWW-Authenticate: Basic realm=\"x\"\r\n"
                 "WWW-Authenticate: Bearer resource_metadata=\"%s/meta/here\", scope=\"a b\"\r\n",
                 NULL, INITIALIZE);
    server_route(&s, "GET", "/meta/here", 200, NULL,
                 "{\"resource\":\"%s/mcp\",\"authorization_servers\":[\"https://as/t\",\"b\"]}",
                 NULL);
    server_start(&s);

    mcpauth_status status = mcpauth_discover_resource(&opts, url_of(&s, "/mcp"), &md, &err);
    ck_assert_msg(status == MCPAUTH_OK, "%s", err.message);
    ck_assert_str_eq(md.resource, url_of(&s, "/mcp"));
    ck_assert_str_eq(md.metadata_url, url_of(&s, "/meta/here"));
    ck_assert_str_eq(md.authorization_server, "https://as/t");
    ck_assert_ptr_nonnull(md.document);
    mcpauth_resource_metadata_free(&md);
    server_stop(&s);
}
END_TEST

START_TEST(resource_probe_request)
{
    server s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();
    static const char *const required[] = {
        "Accept: application/json, text/event-stream",
        "Content-Type: application/json",
        "\"protocolVersion\":\"2025-11-25\"",
        "\"clientInfo\":{\"name\":\"mcpauth\",\"version\":\"",
        "\"jsonrpc\":\"2.0\",\"id\":1",
    };

    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        server_listen(&s);
        server_route(&s, "POST", "/mcp", 401,
                     "WWW-Authenticate: Bearer resource_metadata=\"%s/m\"\r\n", NULL, required[i]);
        server_route(&s, "GET", "/m", 200, NULL,
                     "{\"resource\":\"%s/mcp\","
                     "\"authorization_servers\":[\"https://as/\"]}",
                     NULL);
        server_start(&s);
        mcpauth_status status = mcpauth_discover_resource(&opts, url_of(&s, "/mcp"), &md, &err);
        ck_assert_msg(status == MCPAUTH_OK, "%s: %s", required[i], err.message);
        mcpauth_resource_metadata_free(&md);
        server_stop(&s);
    }
}
END_TEST

START_TEST(resource_path_then_root)
{
    server s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    /* A 401 without a Bearer resource_metadata; no path document; a root
     * document describing the origin. */
    server_listen(&s);
    server_route(&s, "POST", "/a/mcp", 401, "WWW-Authenticate: Bearer realm=\"x\"\r\n", NULL, NULL);
    server_route(&s, "GET", "/.well-known/oauth-protected-resource", 200, NULL,
                 "{\"resource\":\"%s\",\"authorization_servers\":[\"https://as/\"]}", NULL);
    server_start(&s);

    mcpauth_status status = mcpauth_discover_resource(&opts, url_of(&s, "/a/mcp"), &md, &err);
    ck_assert_msg(status == MCPAUTH_OK, "%s", err.message);
    ck_assert_str_eq(md.resource, s.base);
    ck_assert_str_eq(md.metadata_url, url_of(&s, "/.well-known/oauth-protected-resource"));
    ck_assert_str_eq(md.authorization_server, "https://as/");
    mcpauth_resource_metadata_free(&md);
    server_stop(&s);
}
END_TEST

START_TEST(resource_path_document)
{
    server s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    /* A malformed challenge is skipped; a 405 to the probe still leads to the
     * well-knowns. */
    server_listen(&s);
    server_route(&s, "POST", "/mcp", 401, "WWW-Authenticate: Bearer realm=\"unterminated\r\n", NULL,
                 NULL);
    server_route(&s, "POST", "/other", 405, NULL, NULL, NULL);
    server_route(&s, "GET", "/.well-known/oauth-protected-resource/mcp", 200, NULL,
                 "{\"resource\":\"%s/mcp\",\"authorization_servers\":[\"https://as/\"]}", NULL);
    server_route(&s, "GET", "/.well-known/oauth-protected-resource/other", 200, NULL,
                 "{\"resource\":\"%s/other\",\"authorization_servers\":[\"https://as/\"]}", NULL);
    server_start(&s);

    ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/mcp"), &md, &err), MCPAUTH_OK);
    ck_assert_str_eq(md.metadata_url, url_of(&s, "/.well-known/oauth-protected-resource/mcp"));
    mcpauth_resource_metadata_free(&md);
    ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/other"), &md, &err), MCPAUTH_OK);
    mcpauth_resource_metadata_free(&md);
    server_stop(&s);
}
END_TEST

START_TEST(resource_mismatch)
{
    server s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    server_listen(&s);
    /* Header document for the root: the classic PRM-7 mistake. */
    server_route(&s, "POST", "/mcp", 401,
                 "WWW-Authenticate: Bearer resource_metadata=\"%s/.well-known/"
                 "oauth-protected-resource\"\r\n",
                 NULL, NULL);
    server_route(&s, "GET", "/.well-known/oauth-protected-resource", 200, NULL,
                 "{\"resource\":\"%s\",\"authorization_servers\":[\"https://as/\"]}", NULL);
    /* Path document with a trailing-slash drift. */
    server_route(&s, "POST", "/x", 401, NULL, NULL, NULL);
    server_route(&s, "GET", "/.well-known/oauth-protected-resource/x", 200, NULL,
                 "{\"resource\":\"%s/x/\",\"authorization_servers\":[\"https://as/\"]}", NULL);
    server_start(&s);

    ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/mcp"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "RFC 9728 §3.3"));
    ck_assert_ptr_nonnull(strstr(err.message, url_of(&s, "/mcp\"")));
    ck_assert_ptr_null(md.resource);

    ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/x"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, url_of(&s, "/x/\"")));
    ck_assert_ptr_nonnull(strstr(err.message, url_of(&s, "/x\"")));
    server_stop(&s);
}
END_TEST

START_TEST(resource_root_mismatch)
{
    server s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    server_listen(&s);
    server_route(&s, "POST", "/mcp", 401, NULL, NULL, NULL);
    server_route(&s, "GET", "/.well-known/oauth-protected-resource", 200, NULL,
                 PRM("https://elsewhere.example"), NULL);
    server_start(&s);
    ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/mcp"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "\"https://elsewhere.example\""));
    ck_assert_ptr_nonnull(strstr(err.message, "nor its origin"));
    server_stop(&s);
}
END_TEST

START_TEST(resource_bad_documents)
{
    static const char *const bodies[][2] = {
        {"[]", "not a JSON object"},
        {"{\"authorization_servers\":[\"https://as/\"]}", "no \"resource\" string"},
        {"{\"resource\":\"%s/mcp\"}", "authorization_servers"},
        {"{\"resource\":\"%s/mcp\",\"authorization_servers\":[]}", "authorization_servers"},
        {"{\"resource\":\"%s/mcp\",\"authorization_servers\":\"https://as/\"}",
         "authorization_servers"},
        {"{\"resource\":\"%s/mcp\",\"authorization_servers\":[\"https://as/\",7]}",
         "authorization_servers[1]"},
        {"{\"resource\":\"%s/mcp\",\"authorization_servers\":[\"\"]}", "authorization_servers[0]"},
    };
    mcpauth_resource_metadata md;
    mcpauth_http_options opts = test_options();

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        server s;
        mcpauth_error err = {0};
        server_listen(&s);
        server_route(&s, "POST", "/mcp", 401, NULL, NULL, NULL);
        server_route(&s, "GET", "/.well-known/oauth-protected-resource/mcp", 200, NULL,
                     bodies[i][0], NULL);
        server_start(&s);
        ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/mcp"), &md, &err),
                         MCPAUTH_EREMOTE);
        ck_assert_msg(strstr(err.message, bodies[i][1]), "%s", err.message);
        server_stop(&s);
    }
}
END_TEST

START_TEST(resource_not_protected)
{
    server s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();
    char expected[256];

    server_listen(&s);
    server_route(&s, "POST", "/open", 200, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}",
                 NULL);
    server_route(&s, "POST", "/accepted", 202, NULL, NULL, NULL);
    server_route(&s, "POST", "/moved", 307, "Location: /moved/\r\n", NULL, NULL);
    server_start(&s);

    ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/open"), &md, &err),
                     MCPAUTH_EREMOTE);
    snprintf(expected, sizeof expected,
             "MCP server at \"%s/open\" answered HTTP 200 without a token: it does not require "
             "authorization",
             s.base);
    ck_assert_str_eq(err.message, expected);
    ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/accepted"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "does not require authorization"));

    /* A POST is not followed: the user is told where to go. */
    ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/moved"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "HTTP 307"));
    ck_assert_ptr_nonnull(strstr(err.message, url_of(&s, "/moved/\": use that URL")));

    /* 404: not an MCP endpoint at all. */
    ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/nothing"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "not an MCP endpoint"));
    server_stop(&s);
}
END_TEST

START_TEST(resource_not_found)
{
    server s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();
    char expected[512];

    server_listen(&s);
    server_route(&s, "POST", "/mcp", 401, NULL, NULL, NULL);
    server_route(&s, "POST", "/h", 401,
                 "WWW-Authenticate: Bearer resource_metadata=\"%s/gone\"\r\n", NULL, NULL);
    server_route(&s, "POST", "/rel", 401,
                 "WWW-Authenticate: Bearer resource_metadata=\"/relative\"\r\n", NULL, NULL);
    server_route(&s, "POST", "/", 401, NULL, NULL, NULL);
    server_start(&s);

    ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/mcp"), &md, &err),
                     MCPAUTH_EREMOTE);
    snprintf(expected, sizeof expected,
             "no protected resource metadata found for MCP server \"%s/mcp\" (tried "
             "%s/.well-known/oauth-protected-resource/mcp: 404, "
             "%s/.well-known/oauth-protected-resource: 404)",
             s.base, s.base, s.base);
    ck_assert_str_eq(err.message, expected);

    /* The header's URL is the only candidate when there is one (AM-5). */
    ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/h"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "(tried http://127.0.0.1"));
    ck_assert_ptr_nonnull(strstr(err.message, "/gone: 404)"));

    ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/rel"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "resource_metadata"));
    ck_assert_ptr_nonnull(strstr(err.message, "\"/relative\""));

    /* A path-less MCP URL has one candidate. */
    ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/"), &md, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_null(strstr(err.message, ", "));
    server_stop(&s);
}
END_TEST

START_TEST(resource_root_url)
{
    server s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    /* MCP URL "http://127.0.0.1:P/": the root document may name the origin. */
    server_listen(&s);
    server_route(&s, "POST", "/", 401, NULL, NULL, NULL);
    server_route(&s, "GET", "/.well-known/oauth-protected-resource", 200, NULL,
                 "{\"resource\":\"%s\",\"authorization_servers\":[\"https://as/\"]}", NULL);
    server_start(&s);
    ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/"), &md, &err), MCPAUTH_OK);
    ck_assert_str_eq(md.resource, s.base);
    mcpauth_resource_metadata_free(&md);
    ck_assert_int_eq(mcpauth_discover_resource(&opts, s.base, &md, &err), MCPAUTH_OK);
    mcpauth_resource_metadata_free(&md);
    server_stop(&s);
}
END_TEST

START_TEST(resource_errors)
{
    server s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    server_listen(&s);
    close(s.fd);
    ck_assert_int_eq(mcpauth_discover_resource(&opts, url_of(&s, "/mcp"), &md, &err),
                     MCPAUTH_ENETWORK);
    ck_assert_int_eq(mcpauth_discover_resource(&opts, "http://example.com/mcp", &md, &err),
                     MCPAUTH_EUSAGE);
    ck_assert_int_eq(mcpauth_discover_resource(&opts, "not a url", &md, &err), MCPAUTH_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "MCP server URL"));
    ck_assert_int_eq(mcpauth_discover_resource(&opts, "http://127.0.0.1:1/mcp#x", &md, NULL),
                     MCPAUTH_EUSAGE);
}
END_TEST

static Suite *discovery_suite(void)
{
    Suite *s = suite_create("discovery");
    TCase *tc;

    tc = tcase_create("candidates");
    tcase_add_loop_test(tc, issuer_urls, 0, sizeof issuer_cases / sizeof issuer_cases[0]);
    tcase_add_loop_test(tc, issuer_urls_bad, 0, sizeof bad_issuers / sizeof bad_issuers[0]);
    tcase_add_test(tc, free_zeroed);
    suite_add_tcase(s, tc);

    tc = tcase_create("issuer");
    tcase_add_test(tc, issuer_second_candidate);
    tcase_add_test(tc, issuer_third_candidate);
    tcase_add_test(tc, issuer_not_found);
    tcase_add_test(tc, issuer_mismatch);
    tcase_add_test(tc, issuer_trailing_slash);
    tcase_add_test(tc, issuer_bad_documents);
    tcase_add_test(tc, issuer_network_error);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("resource");
    tcase_add_test(tc, resource_from_header);
    tcase_add_test(tc, resource_probe_request);
    tcase_add_test(tc, resource_path_then_root);
    tcase_add_test(tc, resource_path_document);
    tcase_add_test(tc, resource_mismatch);
    tcase_add_test(tc, resource_root_mismatch);
    tcase_add_test(tc, resource_bad_documents);
    tcase_add_test(tc, resource_not_protected);
    tcase_add_test(tc, resource_not_found);
    tcase_add_test(tc, resource_root_url);
    tcase_add_test(tc, resource_errors);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run_http(discovery_suite());
}
