/* Helpers shared by the Check suites in tests/unit: running a suite from
 * main(), temporary directories, a canned HTTP server on 127.0.0.1 and a
 * libuv loop with an asynchronous HTTP client. Failures end the test through ck_assert, so
 * callers need no error handling. */
#ifndef MCPAUTH_TESTLIB_H
#define MCPAUTH_TESTLIB_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#include "mcpauth/http_async.h"

/* --- running a suite ---------------------------------------------------- */

/* Runs every test of suite (CK_ENV verbosity) and frees it; EXIT_SUCCESS
 * when none failed, else EXIT_FAILURE. For main(). */
int testlib_run(Suite *suite);

/* The same between mcpauth_http_global_init() and _cleanup(), for suites
 * that make HTTP requests. */
int testlib_run_http(Suite *suite);

/* --- temporary directories ---------------------------------------------- */

/* Creates a fresh directory "/tmp/<prefix>-XXXXXX" (or "<parent>/t-XXXXXX"
 * with testlib_tmpdir_make_in) and writes its path into dir. */
void testlib_tmpdir_make(char *dir, size_t size, const char *prefix);
void testlib_tmpdir_make_in(char *dir, size_t size, const char *parent);

/* Removes dir and everything below it (symlinks are not followed). */
void testlib_tmpdir_remove(const char *dir);

/* "dir/name" in one of four rotating static buffers, so that a test can
 * hold a few paths at once. */
const char *testlib_path(const char *dir, const char *name);

/* Writes text to path (created or truncated), ending the test on failure. */
void testlib_put_file(const char *path, const char *text);

/* --- a canned HTTP server ----------------------------------------------- */

/* Runs on its own threads (one per connection, so a delayed answer holds
 * up no other request): both the blocking client and the event
 * loop of the test's own thread can talk to it. Every connection carries
 * one request and one response ("Connection: close"). Routes match on the
 * method and the exact request target; others get 404. */
typedef struct testlib_server testlib_server;

typedef struct testlib_route {
    const char *method;
    const char *target;
    int status;
    const char *headers; /* extra "Name: value\r\n" lines, or NULL */
    const char *body;    /* NULL: empty */
    int delay_ms;        /* wait this long before answering (client timeouts) */
    const char *require; /* the request must contain this, else 418 */
} testlib_route;

/* Starts a server on an ephemeral port of 127.0.0.1. */
testlib_server *testlib_server_start(void);

/* Adds a route, or replaces the one with the same method and target. Every
 * string is copied; "%s" in target, headers or body becomes the server's
 * base URL ("http://127.0.0.1:PORT"). */
void testlib_server_route(testlib_server *server, const testlib_route *route);

/* Every request containing text (case-insensitive: a header name, say) gets
 * 418 and an empty body instead of its route's answer. */
void testlib_server_forbid(testlib_server *server, const char *text);

/* Shorthand for a route with a status and a JSON body. */
void testlib_server_json(testlib_server *server, const char *method, const char *target, int status,
                         const char *body);

/* "http://127.0.0.1:PORT". */
const char *testlib_server_base(const testlib_server *server);

/* base + path in one of four rotating static buffers. */
const char *testlib_server_url(const testlib_server *server, const char *path);

/* Requests received for method and target so far (method NULL: any;
 * target NULL: every request). */
int testlib_server_hits(testlib_server *server, const char *method, const char *target);

/* A copy of the last complete request received (head and body), or NULL
 * when none has arrived; the caller frees it. */
char *testlib_server_last_request(testlib_server *server);

/* Stops the thread, closes the socket and frees everything. */
void testlib_server_stop(testlib_server *server);

/* --- a libuv loop with an asynchronous HTTP client ---------------------- */

typedef struct testlib_async {
    uv_loop_t loop;
    mcpauth_http_async *http;
} testlib_async;

/* Initialises the loop and a client with timeout_seconds (connecting and
 * requests), loopback http allowed. */
void testlib_async_init(testlib_async *async, long timeout_seconds);

/* Runs the loop until *done is true, ending the test after ten seconds. */
void testlib_async_run_until(testlib_async *async, const bool *done);

/* Closes the client, runs the loop dry and checks that it closes cleanly
 * (no handle left behind). */
void testlib_async_close(testlib_async *async);

#endif
