#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* --- a canned HTTP server on 127.0.0.1 (tests/lib) ---------------------- */

/* No request in these tests may carry credentials. */
#define FORBIDDEN "Authorization:"

static testlib_server *listen_server(void)
{
    testlib_server *s = testlib_server_start();
    testlib_server_forbid(s, FORBIDDEN);
    return s;
}

/* A JSON answer; "%s" in target, headers or body becomes the base URL, and
 * the request must contain require (when not NULL), else 418. */
static void route(testlib_server *s, const char *method, const char *target, int status,
                  const char *headers, const char *body, const char *require)
{
    char all_headers[1024];
    snprintf(all_headers, sizeof all_headers, "Content-Type: application/json\r\n%s",
             headers ? headers : "");
    testlib_route r = {.method = method,
                       .target = target,
                       .status = status,
                       .headers = all_headers,
                       .body = body,
                       .require = require};
    testlib_server_route(s, &r);
}

/* The base URL of a port where nothing listens any more. */
static void closed_base(char *out, size_t size)
{
    testlib_server *s = testlib_server_start();
    snprintf(out, size, "%s", testlib_server_base(s));
    testlib_server_stop(s);
}

static mcpauth_http_options test_options(void)
{
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    opts.timeout_seconds = 10;
    return opts;
}

/* --- mcpauth_discover_issuer -------------------------------------------- */

START_TEST(issuer_second_candidate)
{
    testlib_server *s;
    mcpauth_as_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    s = listen_server();
    route(s, "GET", "/.well-known/oauth-authorization-server/t1", 404, NULL, "{}", NULL);
    route(s, "GET", "/.well-known/openid-configuration/t1", 200, NULL,
          "{\"issuer\":\"%s/t1\",\"token_endpoint\":\"x\"}", NULL);

    mcpauth_status status = mcpauth_discover_issuer(&opts, testlib_server_url(s, "/t1"), &md, &err);
    ck_assert_msg(status == MCPAUTH_OK, "%s", err.message);
    ck_assert_str_eq(md.issuer, testlib_server_url(s, "/t1"));
    ck_assert_str_eq(md.metadata_url,
                     testlib_server_url(s, "/.well-known/openid-configuration/t1"));
    ck_assert_str_eq(mcpauth_json_string(md.document, "token_endpoint"), "x");
    mcpauth_as_metadata_free(&md);
    testlib_server_stop(s);
}
END_TEST

START_TEST(issuer_third_candidate)
{
    testlib_server *s;
    mcpauth_as_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    s = listen_server();
    route(s, "GET", "/.well-known/oauth-authorization-server/t1", 404, NULL, NULL, NULL);
    route(s, "GET", "/.well-known/openid-configuration/t1", 403, NULL, NULL, NULL);
    route(s, "GET", "/t1/.well-known/openid-configuration", 200, NULL, "{\"issuer\":\"%s/t1\"}",
          NULL);

    ck_assert_int_eq(mcpauth_discover_issuer(&opts, testlib_server_url(s, "/t1"), &md, &err),
                     MCPAUTH_OK);
    ck_assert_str_eq(md.metadata_url,
                     testlib_server_url(s, "/t1/.well-known/openid-configuration"));
    mcpauth_as_metadata_free(&md);
    testlib_server_stop(s);
}
END_TEST

START_TEST(issuer_not_found)
{
    testlib_server *s;
    mcpauth_as_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();
    char expected[512];

    s = listen_server();
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, testlib_server_base(s), &md, &err),
                     MCPAUTH_EREMOTE);
    snprintf(expected, sizeof expected,
             "no authorization server metadata found for issuer \"%s\" (tried "
             "%s/.well-known/oauth-authorization-server: 404, "
             "%s/.well-known/openid-configuration: 404)",
             testlib_server_base(s), testlib_server_base(s), testlib_server_base(s));
    ck_assert_str_eq(err.message, expected);
    ck_assert_ptr_null(md.issuer);
    ck_assert_ptr_null(md.document);
    testlib_server_stop(s);
}
END_TEST

START_TEST(issuer_mismatch)
{
    testlib_server *s;
    mcpauth_as_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    s = listen_server();
    route(s, "GET", "/.well-known/oauth-authorization-server", 200, NULL,
          "{\"issuer\":\"https://evil.example\"}", NULL);
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, testlib_server_base(s), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "\"https://evil.example\""));
    ck_assert_ptr_nonnull(strstr(err.message, testlib_server_base(s)));
    ck_assert_ptr_nonnull(strstr(err.message, "/.well-known/oauth-authorization-server\""));
    ck_assert_ptr_nonnull(strstr(err.message, "RFC 8414 §3.3"));
    ck_assert_ptr_null(md.document);
    testlib_server_stop(s);
}
END_TEST

START_TEST(issuer_trailing_slash)
{
    testlib_server *s;
    mcpauth_as_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();
    char asked[128];

    s = listen_server();
    route(s, "GET", "/.well-known/oauth-authorization-server", 200, NULL, "{\"issuer\":\"%s\"}",
          NULL);
    route(s, "GET", "/.well-known/oauth-authorization-server/t1", 200, NULL,
          "{\"issuer\":\"%s/t1\"}", NULL);

    /* "http://127.0.0.1:P/" finds "http://127.0.0.1:P"... */
    snprintf(asked, sizeof asked, "%s/", testlib_server_base(s));
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, asked, &md, &err), MCPAUTH_OK);
    ck_assert_str_eq(md.issuer, testlib_server_base(s));
    mcpauth_as_metadata_free(&md);

    /* ...but a path's trailing '/' is significant, */
    snprintf(asked, sizeof asked, "%s/t1/", testlib_server_base(s));
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, asked, &md, &err), MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "RFC 8414 §3.3"));

    /* and so is a second one. */
    snprintf(asked, sizeof asked, "%s//", testlib_server_base(s));
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, asked, &md, &err), MCPAUTH_EREMOTE);
    testlib_server_stop(s);
}
END_TEST

START_TEST(issuer_bad_documents)
{
    testlib_server *s;
    mcpauth_as_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    s = listen_server();
    route(s, "GET", "/.well-known/oauth-authorization-server/a", 200, NULL, "[1,2]", NULL);
    route(s, "GET", "/.well-known/oauth-authorization-server/b", 200, NULL, "<html>", NULL);
    route(s, "GET", "/.well-known/oauth-authorization-server/c", 200, NULL, "{\"issuer\":42}",
          NULL);
    route(s, "GET", "/.well-known/oauth-authorization-server/d", 500, NULL, NULL, NULL);
    route(s, "GET", "/.well-known/openid-configuration/d", 200, NULL, "{\"issuer\":\"%s/d\"}",
          NULL);

    ck_assert_int_eq(mcpauth_discover_issuer(&opts, testlib_server_url(s, "/a"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "not a JSON object"));
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, testlib_server_url(s, "/b"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "not valid JSON"));
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, testlib_server_url(s, "/c"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "no \"issuer\" string"));
    /* A 5xx stops the walk: the good third document is never used. */
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, testlib_server_url(s, "/d"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "HTTP 500"));
    ck_assert_ptr_null(md.document);
    testlib_server_stop(s);
}
END_TEST

START_TEST(issuer_network_error)
{
    mcpauth_as_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();
    char base[64];

    closed_base(base, sizeof base); /* nothing listens there any more */
    ck_assert_int_eq(mcpauth_discover_issuer(&opts, base, &md, &err), MCPAUTH_ENETWORK);
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
    testlib_server *s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    s = listen_server();
    route(s, "POST", "/mcp", 401,
          "WWW-Authenticate: Basic realm=\"x\"\r\n"
          "WWW-Authenticate: Bearer resource_metadata=\"%s/meta/here\", scope=\"a b\"\r\n",
          NULL, INITIALIZE);
    route(s, "GET", "/meta/here", 200, NULL,
          "{\"resource\":\"%s/mcp\",\"authorization_servers\":[\"https://as/t\",\"b\"]}", NULL);

    mcpauth_status status =
        mcpauth_discover_resource(&opts, testlib_server_url(s, "/mcp"), &md, &err);
    ck_assert_msg(status == MCPAUTH_OK, "%s", err.message);
    ck_assert_str_eq(md.resource, testlib_server_url(s, "/mcp"));
    ck_assert_str_eq(md.metadata_url, testlib_server_url(s, "/meta/here"));
    ck_assert_str_eq(md.authorization_server, "https://as/t");
    ck_assert_ptr_nonnull(md.document);
    mcpauth_resource_metadata_free(&md);
    testlib_server_stop(s);
}
END_TEST

START_TEST(resource_probe_request)
{
    testlib_server *s;
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
        s = listen_server();
        route(s, "POST", "/mcp", 401, "WWW-Authenticate: Bearer resource_metadata=\"%s/m\"\r\n",
              NULL, required[i]);
        route(s, "GET", "/m", 200, NULL,
              "{\"resource\":\"%s/mcp\","
              "\"authorization_servers\":[\"https://as/\"]}",
              NULL);
        mcpauth_status status =
            mcpauth_discover_resource(&opts, testlib_server_url(s, "/mcp"), &md, &err);
        ck_assert_msg(status == MCPAUTH_OK, "%s: %s", required[i], err.message);
        mcpauth_resource_metadata_free(&md);
        testlib_server_stop(s);
    }
}
END_TEST

START_TEST(resource_path_then_root)
{
    testlib_server *s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    /* A 401 without a Bearer resource_metadata; no path document; a root
     * document describing the origin. */
    s = listen_server();
    route(s, "POST", "/a/mcp", 401, "WWW-Authenticate: Bearer realm=\"x\"\r\n", NULL, NULL);
    route(s, "GET", "/.well-known/oauth-protected-resource", 200, NULL,
          "{\"resource\":\"%s\",\"authorization_servers\":[\"https://as/\"]}", NULL);

    mcpauth_status status =
        mcpauth_discover_resource(&opts, testlib_server_url(s, "/a/mcp"), &md, &err);
    ck_assert_msg(status == MCPAUTH_OK, "%s", err.message);
    ck_assert_str_eq(md.resource, testlib_server_base(s));
    ck_assert_str_eq(md.metadata_url,
                     testlib_server_url(s, "/.well-known/oauth-protected-resource"));
    ck_assert_str_eq(md.authorization_server, "https://as/");
    mcpauth_resource_metadata_free(&md);
    testlib_server_stop(s);
}
END_TEST

START_TEST(resource_path_document)
{
    testlib_server *s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    /* A malformed challenge is skipped; a 405 to the probe still leads to the
     * well-knowns. */
    s = listen_server();
    route(s, "POST", "/mcp", 401, "WWW-Authenticate: Bearer realm=\"unterminated\r\n", NULL, NULL);
    route(s, "POST", "/other", 405, NULL, NULL, NULL);
    route(s, "GET", "/.well-known/oauth-protected-resource/mcp", 200, NULL,
          "{\"resource\":\"%s/mcp\",\"authorization_servers\":[\"https://as/\"]}", NULL);
    route(s, "GET", "/.well-known/oauth-protected-resource/other", 200, NULL,
          "{\"resource\":\"%s/other\",\"authorization_servers\":[\"https://as/\"]}", NULL);

    ck_assert_int_eq(mcpauth_discover_resource(&opts, testlib_server_url(s, "/mcp"), &md, &err),
                     MCPAUTH_OK);
    ck_assert_str_eq(md.metadata_url,
                     testlib_server_url(s, "/.well-known/oauth-protected-resource/mcp"));
    mcpauth_resource_metadata_free(&md);
    ck_assert_int_eq(mcpauth_discover_resource(&opts, testlib_server_url(s, "/other"), &md, &err),
                     MCPAUTH_OK);
    mcpauth_resource_metadata_free(&md);
    testlib_server_stop(s);
}
END_TEST

START_TEST(resource_mismatch)
{
    testlib_server *s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    s = listen_server();
    /* Header document for the root: the classic PRM-7 mistake. */
    route(s, "POST", "/mcp", 401,
          "WWW-Authenticate: Bearer resource_metadata=\"%s/.well-known/"
          "oauth-protected-resource\"\r\n",
          NULL, NULL);
    route(s, "GET", "/.well-known/oauth-protected-resource", 200, NULL,
          "{\"resource\":\"%s\",\"authorization_servers\":[\"https://as/\"]}", NULL);
    /* Path document with a trailing-slash drift. */
    route(s, "POST", "/x", 401, NULL, NULL, NULL);
    route(s, "GET", "/.well-known/oauth-protected-resource/x", 200, NULL,
          "{\"resource\":\"%s/x/\",\"authorization_servers\":[\"https://as/\"]}", NULL);

    ck_assert_int_eq(mcpauth_discover_resource(&opts, testlib_server_url(s, "/mcp"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "RFC 9728 §3.3"));
    ck_assert_ptr_nonnull(strstr(err.message, testlib_server_url(s, "/mcp\"")));
    ck_assert_ptr_null(md.resource);

    ck_assert_int_eq(mcpauth_discover_resource(&opts, testlib_server_url(s, "/x"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, testlib_server_url(s, "/x/\"")));
    ck_assert_ptr_nonnull(strstr(err.message, testlib_server_url(s, "/x\"")));
    testlib_server_stop(s);
}
END_TEST

START_TEST(resource_root_mismatch)
{
    testlib_server *s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    s = listen_server();
    route(s, "POST", "/mcp", 401, NULL, NULL, NULL);
    route(s, "GET", "/.well-known/oauth-protected-resource", 200, NULL,
          PRM("https://elsewhere.example"), NULL);
    ck_assert_int_eq(mcpauth_discover_resource(&opts, testlib_server_url(s, "/mcp"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "\"https://elsewhere.example\""));
    ck_assert_ptr_nonnull(strstr(err.message, "nor its origin"));
    testlib_server_stop(s);
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
        testlib_server *s;
        mcpauth_error err = {0};
        s = listen_server();
        route(s, "POST", "/mcp", 401, NULL, NULL, NULL);
        route(s, "GET", "/.well-known/oauth-protected-resource/mcp", 200, NULL, bodies[i][0], NULL);
        ck_assert_int_eq(mcpauth_discover_resource(&opts, testlib_server_url(s, "/mcp"), &md, &err),
                         MCPAUTH_EREMOTE);
        ck_assert_msg(strstr(err.message, bodies[i][1]), "%s", err.message);
        testlib_server_stop(s);
    }
}
END_TEST

START_TEST(resource_not_protected)
{
    testlib_server *s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();
    char expected[256];

    s = listen_server();
    route(s, "POST", "/open", 200, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", NULL);
    route(s, "POST", "/accepted", 202, NULL, NULL, NULL);
    route(s, "POST", "/moved", 307, "Location: /moved/\r\n", NULL, NULL);

    ck_assert_int_eq(mcpauth_discover_resource(&opts, testlib_server_url(s, "/open"), &md, &err),
                     MCPAUTH_EREMOTE);
    snprintf(expected, sizeof expected,
             "MCP server at \"%s/open\" answered HTTP 200 without a token: it does not require "
             "authorization",
             testlib_server_base(s));
    ck_assert_str_eq(err.message, expected);
    ck_assert_int_eq(
        mcpauth_discover_resource(&opts, testlib_server_url(s, "/accepted"), &md, &err),
        MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "does not require authorization"));

    /* A POST is not followed: the user is told where to go. */
    ck_assert_int_eq(mcpauth_discover_resource(&opts, testlib_server_url(s, "/moved"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "HTTP 307"));
    ck_assert_ptr_nonnull(strstr(err.message, testlib_server_url(s, "/moved/\": use that URL")));

    /* 404: not an MCP endpoint at all. */
    ck_assert_int_eq(mcpauth_discover_resource(&opts, testlib_server_url(s, "/nothing"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "not an MCP endpoint"));
    testlib_server_stop(s);
}
END_TEST

START_TEST(resource_not_found)
{
    testlib_server *s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();
    char expected[512];

    s = listen_server();
    route(s, "POST", "/mcp", 401, NULL, NULL, NULL);
    route(s, "POST", "/h", 401, "WWW-Authenticate: Bearer resource_metadata=\"%s/gone\"\r\n", NULL,
          NULL);
    route(s, "POST", "/rel", 401, "WWW-Authenticate: Bearer resource_metadata=\"/relative\"\r\n",
          NULL, NULL);
    route(s, "POST", "/", 401, NULL, NULL, NULL);

    ck_assert_int_eq(mcpauth_discover_resource(&opts, testlib_server_url(s, "/mcp"), &md, &err),
                     MCPAUTH_EREMOTE);
    snprintf(expected, sizeof expected,
             "no protected resource metadata found for MCP server \"%s/mcp\" (tried "
             "%s/.well-known/oauth-protected-resource/mcp: 404, "
             "%s/.well-known/oauth-protected-resource: 404)",
             testlib_server_base(s), testlib_server_base(s), testlib_server_base(s));
    ck_assert_str_eq(err.message, expected);

    /* The header's URL is the only candidate when there is one (AM-5). */
    ck_assert_int_eq(mcpauth_discover_resource(&opts, testlib_server_url(s, "/h"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "(tried http://127.0.0.1"));
    ck_assert_ptr_nonnull(strstr(err.message, "/gone: 404)"));

    ck_assert_int_eq(mcpauth_discover_resource(&opts, testlib_server_url(s, "/rel"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_nonnull(strstr(err.message, "resource_metadata"));
    ck_assert_ptr_nonnull(strstr(err.message, "\"/relative\""));

    /* A path-less MCP URL has one candidate. */
    ck_assert_int_eq(mcpauth_discover_resource(&opts, testlib_server_url(s, "/"), &md, &err),
                     MCPAUTH_EREMOTE);
    ck_assert_ptr_null(strstr(err.message, ", "));
    testlib_server_stop(s);
}
END_TEST

START_TEST(resource_root_url)
{
    testlib_server *s;
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();

    /* MCP URL "http://127.0.0.1:P/": the root document may name the origin. */
    s = listen_server();
    route(s, "POST", "/", 401, NULL, NULL, NULL);
    route(s, "GET", "/.well-known/oauth-protected-resource", 200, NULL,
          "{\"resource\":\"%s\",\"authorization_servers\":[\"https://as/\"]}", NULL);
    ck_assert_int_eq(mcpauth_discover_resource(&opts, testlib_server_url(s, "/"), &md, &err),
                     MCPAUTH_OK);
    ck_assert_str_eq(md.resource, testlib_server_base(s));
    mcpauth_resource_metadata_free(&md);
    ck_assert_int_eq(mcpauth_discover_resource(&opts, testlib_server_base(s), &md, &err),
                     MCPAUTH_OK);
    mcpauth_resource_metadata_free(&md);
    testlib_server_stop(s);
}
END_TEST

START_TEST(resource_errors)
{
    mcpauth_resource_metadata md;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();
    char url[128];

    closed_base(url, sizeof url);
    strcat(url, "/mcp");
    ck_assert_int_eq(mcpauth_discover_resource(&opts, url, &md, &err), MCPAUTH_ENETWORK);
    ck_assert_int_eq(mcpauth_discover_resource(&opts, "http://example.com/mcp", &md, &err),
                     MCPAUTH_EUSAGE);
    ck_assert_int_eq(mcpauth_discover_resource(&opts, "not a url", &md, &err), MCPAUTH_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "MCP server URL"));
    ck_assert_int_eq(mcpauth_discover_resource(&opts, "http://127.0.0.1:1/mcp#x", &md, NULL),
                     MCPAUTH_EUSAGE);
}
END_TEST

/* --- mcpauth_discover_registration_endpoint ------------------------------ */

START_TEST(registration_from_issuer)
{
    testlib_server *s;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();
    char *issuer = NULL, *endpoint = NULL;

    s = listen_server();
    route(s, "GET", "/.well-known/oauth-authorization-server", 200, NULL,
          "{\"issuer\":\"%s\",\"registration_endpoint\":\"%s/register\"}", NULL);

    char *asked = strdup(testlib_server_url(s, ""));
    mcpauth_status status =
        mcpauth_discover_registration_endpoint(&opts, asked, NULL, &issuer, &endpoint, &err);
    ck_assert_msg(status == MCPAUTH_OK, "%s", err.message);
    ck_assert_str_eq(issuer, asked);
    ck_assert_str_eq(endpoint, testlib_server_url(s, "/register"));
    free(issuer);
    free(endpoint);
    free(asked);
    testlib_server_stop(s);
}
END_TEST

/* resource -> its protected resource metadata -> the issuer it names -> the
 * issuer's metadata. */
START_TEST(registration_from_resource)
{
    testlib_server *s;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();
    char *issuer = NULL, *endpoint = NULL;

    s = listen_server();
    route(s, "POST", "/mcp", 401, "WWW-Authenticate: Bearer resource_metadata=\"%s/prm\"\r\n", NULL,
          INITIALIZE);
    route(s, "GET", "/prm", 200, NULL,
          "{\"resource\":\"%s/mcp\",\"authorization_servers\":[\"%s/as\"]}", NULL);
    route(s, "GET", "/.well-known/oauth-authorization-server/as", 200, NULL,
          "{\"issuer\":\"%s/as\",\"registration_endpoint\":\"%s/as/reg\"}", NULL);

    char *resource = strdup(testlib_server_url(s, "/mcp"));
    mcpauth_status status =
        mcpauth_discover_registration_endpoint(&opts, NULL, resource, &issuer, &endpoint, &err);
    ck_assert_msg(status == MCPAUTH_OK, "%s", err.message);
    ck_assert_str_eq(issuer, testlib_server_url(s, "/as"));
    ck_assert_str_eq(endpoint, testlib_server_url(s, "/as/reg"));
    free(issuer);
    free(endpoint);
    free(resource);
    testlib_server_stop(s);
}
END_TEST

START_TEST(registration_not_offered)
{
    testlib_server *s;
    mcpauth_error err = {0};
    mcpauth_http_options opts = test_options();
    char *issuer = (char *)"x", *endpoint = (char *)"x";

    s = listen_server();
    route(s, "GET", "/.well-known/oauth-authorization-server", 200, NULL,
          "{\"issuer\":\"%s\",\"token_endpoint\":\"%s/token\"}", NULL);

    char *asked = strdup(testlib_server_url(s, ""));
    ck_assert_int_eq(
        mcpauth_discover_registration_endpoint(&opts, asked, NULL, &issuer, &endpoint, &err),
        MCPAUTH_EREMOTE);
    ck_assert_ptr_null(issuer);
    ck_assert_ptr_null(endpoint);
    ck_assert_ptr_nonnull(strstr(err.message, "advertises no registration_endpoint"));
    ck_assert_ptr_nonnull(strstr(err.message, asked));
    free(asked);
    testlib_server_stop(s);

    /* A resource that cannot be reached keeps the discovery's status. */
    ck_assert_int_eq(mcpauth_discover_registration_endpoint(&opts, NULL, "http://127.0.0.1:1/mcp",
                                                            &issuer, &endpoint, &err),
                     MCPAUTH_ENETWORK);
    ck_assert_ptr_null(endpoint);
}
END_TEST

/* --- issuer binding ------------------------------------------------------ */

START_TEST(resource_metadata_names_issuer)
{
    static const char *const text =
        "{\"resource\": \"https://mcp.example/mcp\", \"authorization_servers\": "
        "[\"https://a.example\", 7, \"https://b.example/tenant\"]}";
    mcpauth_resource_metadata md = {0};
    md.document = mcpauth_json_parse_object(text, strlen(text), "test", NULL);
    ck_assert_ptr_nonnull(md.document);
    ck_assert(mcpauth_resource_metadata_names_issuer(&md, "https://a.example"));
    ck_assert(mcpauth_resource_metadata_names_issuer(&md, "https://A.example/"));
    ck_assert(mcpauth_resource_metadata_names_issuer(&md, "https://b.example/tenant"));
    ck_assert(!mcpauth_resource_metadata_names_issuer(&md, "https://b.example"));
    ck_assert(!mcpauth_resource_metadata_names_issuer(&md, "https://b.example/tenant2"));
    ck_assert(!mcpauth_resource_metadata_names_issuer(&md, "7"));
    json_object_put(md.document);
    md.document = mcpauth_json_parse_object("{}", 2, "test", NULL);
    ck_assert(!mcpauth_resource_metadata_names_issuer(&md, "https://a.example"));
    json_object_put(md.document);
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

    tc = tcase_create("binding");
    tcase_add_test(tc, resource_metadata_names_issuer);
    suite_add_tcase(s, tc);

    tc = tcase_create("registration");
    tcase_add_test(tc, registration_from_issuer);
    tcase_add_test(tc, registration_from_resource);
    tcase_add_test(tc, registration_not_offered);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run_http(discovery_suite());
}
