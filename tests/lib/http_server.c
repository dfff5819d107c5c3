/* A canned HTTP server on its own thread, and a libuv loop with an
 * asynchronous client: see testlib.h. */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testlib.h"

#define MAX_ROUTES  16
#define REQUEST_MAX 65536

typedef struct stored_route {
    char *method, *target, *headers, *body, *require;
    size_t body_length;
    int status;
    int delay_ms;
} stored_route;

typedef struct hit {
    char method[16];
    char target[512];
} hit;

struct testlib_server {
    int fd;
    int stop_pipe[2];
    pthread_t thread;
    pthread_mutex_t lock;
    char base[64];
    stored_route routes[MAX_ROUTES];
    size_t route_count;
    hit *hits;
    size_t hit_count;
    char *last_request;
    char *forbid;
    int connections;         /* threads answering a connection */
    pthread_cond_t finished; /* signalled when one of them ends */
};

typedef struct connection {
    testlib_server *server;
    int fd;
} connection;

/* A copy of text[0..length) with every "%s" replaced by the base URL;
 * *out_length (when not NULL) receives the copy's length. */
static char *expand(const testlib_server *s, const char *text, size_t length, size_t *out_length)
{
    size_t base_length = strlen(s->base), marks = 0;
    for (const char *p = text; (p = memmem(p, length - (size_t)(p - text), "%s", 2)); p += 2)
        marks++;
    size_t total = length + marks * base_length - marks * 2;
    char *out = malloc(total + 1);
    ck_assert_ptr_nonnull(out);
    size_t used = 0;
    for (const char *p = text, *end = text + length; p < end;) {
        const char *mark = memmem(p, (size_t)(end - p), "%s", 2);
        size_t head = mark ? (size_t)(mark - p) : (size_t)(end - p);
        memcpy(out + used, p, head);
        used += head;
        if (!mark)
            break;
        memcpy(out + used, s->base, base_length);
        used += base_length;
        p = mark + 2;
    }
    out[total] = '\0';
    if (out_length)
        *out_length = total;
    return out;
}

static void route_clear(stored_route *r)
{
    free(r->method);
    free(r->target);
    free(r->headers);
    free(r->body);
    free(r->require);
    memset(r, 0, sizeof *r);
}

void testlib_server_route(testlib_server *s, const testlib_route *route)
{
    stored_route r = {
        .method = strdup(route->method),
        .target = expand(s, route->target, strlen(route->target), NULL),
        .headers = route->headers ? expand(s, route->headers, strlen(route->headers), NULL) : NULL,
        .status = route->status,
        .delay_ms = route->delay_ms,
        .require = route->require ? strdup(route->require) : NULL,
    };
    if (route->body) {
        r.body = expand(s, route->body, strlen(route->body), &r.body_length);
    }
    ck_assert_ptr_nonnull(r.method);
    pthread_mutex_lock(&s->lock);
    size_t i = 0;
    while (i < s->route_count && !(strcmp(s->routes[i].method, r.method) == 0 &&
                                   strcmp(s->routes[i].target, r.target) == 0))
        i++;
    if (i < s->route_count) {
        route_clear(&s->routes[i]);
    } else {
        ck_assert_uint_lt(s->route_count, MAX_ROUTES);
        s->route_count++;
    }
    s->routes[i] = r;
    pthread_mutex_unlock(&s->lock);
}

void testlib_server_forbid(testlib_server *s, const char *text)
{
    pthread_mutex_lock(&s->lock);
    free(s->forbid);
    s->forbid = strdup(text);
    pthread_mutex_unlock(&s->lock);
}

void testlib_server_json(testlib_server *s, const char *method, const char *target, int status,
                         const char *body)
{
    testlib_route r = {.method = method,
                       .target = target,
                       .status = status,
                       .headers = "Content-Type: application/json\r\n",
                       .body = body};
    testlib_server_route(s, &r);
}

/* Reads one request (head and Content-Length body); false when the peer
 * gave up or the stop pipe fired. */
static bool read_request(testlib_server *s, int client, char *buf, size_t *length)
{
    size_t want = 0;
    *length = 0;
    for (;;) {
        struct pollfd fds[2] = {{client, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
        if (poll(fds, 2, 10000) <= 0 || fds[1].revents)
            return false;
        ssize_t n = read(client, buf + *length, REQUEST_MAX - 1 - *length);
        if (n <= 0)
            return false;
        *length += (size_t)n;
        buf[*length] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end && !want) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            want = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if ((want && *length >= want) || *length == REQUEST_MAX - 1)
            return true;
    }
}

static void write_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n <= 0)
            return;
        data += n;
        length -= (size_t)n;
    }
}

static void serve_one(testlib_server *s, int client)
{
    char *request = malloc(REQUEST_MAX);
    size_t length;
    ck_assert_ptr_nonnull(request);
    if (!read_request(s, client, request, &length)) {
        free(request);
        return;
    }

    char method[16] = "", target[512] = "";
    sscanf(request, "%15s %511s", method, target);
    pthread_mutex_lock(&s->lock);
    free(s->last_request);
    s->last_request = request;
    hit *grown = realloc(s->hits, (s->hit_count + 1) * sizeof *grown);
    if (grown) {
        s->hits = grown;
        snprintf(s->hits[s->hit_count].method, sizeof grown->method, "%s", method);
        snprintf(s->hits[s->hit_count].target, sizeof grown->target, "%s", target);
        s->hit_count++;
    }
    const stored_route *r = NULL;
    for (size_t i = 0; i < s->route_count && !r; i++) {
        if (strcmp(s->routes[i].method, method) == 0 && strcmp(s->routes[i].target, target) == 0)
            r = &s->routes[i];
    }
    if ((s->forbid && strcasestr(request, s->forbid)) ||
        (r && r->require && !strstr(request, r->require))) {
        static const stored_route teapot = {.status = 418};
        r = &teapot;
    }
    int status = r ? r->status : 404;
    int delay_ms = r ? r->delay_ms : 0;
    char *headers = strdup(r && r->headers ? r->headers : "");
    size_t body_length = r && r->body ? r->body_length : 0;
    char *body = malloc(body_length + 1);
    if (body_length)
        memcpy(body, r->body, body_length);
    pthread_mutex_unlock(&s->lock);

    if (delay_ms > 0) {
        struct pollfd stop = {s->stop_pipe[0], POLLIN, 0};
        if (poll(&stop, 1, delay_ms) != 0)
            goto done;
    }
    char head[2048];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d Test\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     status, body_length, headers);
    write_all(client, head, (size_t)n);
    write_all(client, body, body_length);
done:
    free(headers);
    free(body);
}

/* One thread per connection, so that a delayed answer holds up no other
 * request. */
static void *connection_main(void *data)
{
    connection *c = data;
    testlib_server *s = c->server;
    serve_one(s, c->fd);
    shutdown(c->fd, SHUT_WR);
    close(c->fd);
    free(c);
    pthread_mutex_lock(&s->lock);
    s->connections--;
    pthread_cond_signal(&s->finished);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void *server_main(void *data)
{
    testlib_server *s = data;
    for (;;) {
        struct pollfd fds[2] = {{s->fd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
        if (poll(fds, 2, -1) < 0 || fds[1].revents)
            return NULL;
        int client = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        if (client < 0)
            continue;
        connection *c = malloc(sizeof *c);
        ck_assert_ptr_nonnull(c);
        *c = (connection){s, client};
        pthread_t thread;
        pthread_mutex_lock(&s->lock);
        s->connections++;
        pthread_mutex_unlock(&s->lock);
        ck_assert_int_eq(pthread_create(&thread, NULL, connection_main, c), 0);
        pthread_detach(thread);
    }
}

testlib_server *testlib_server_start(void)
{
    testlib_server *s = calloc(1, sizeof *s);
    ck_assert_ptr_nonnull(s);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t length = sizeof addr;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    signal(SIGPIPE, SIG_IGN); /* a client that gave up must not kill the test */
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s->fd, 0);
    ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(s->fd, 64), 0);
    ck_assert_int_eq(getsockname(s->fd, (struct sockaddr *)&addr, &length), 0);
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", ntohs(addr.sin_port));
    ck_assert_int_eq(pipe2(s->stop_pipe, O_CLOEXEC), 0);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->finished, NULL);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, server_main, s), 0);
    return s;
}

const char *testlib_server_base(const testlib_server *s)
{
    return s->base;
}

const char *testlib_server_url(const testlib_server *s, const char *path)
{
    static char urls[4][512];
    static int next;
    char *url = urls[next++ % 4];
    snprintf(url, sizeof urls[0], "%s%s", s->base, path);
    return url;
}

int testlib_server_hits(testlib_server *s, const char *method, const char *target)
{
    int count = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->hit_count; i++) {
        if ((!method || strcmp(s->hits[i].method, method) == 0) &&
            (!target || strcmp(s->hits[i].target, target) == 0))
            count++;
    }
    pthread_mutex_unlock(&s->lock);
    return count;
}

char *testlib_server_last_request(testlib_server *s)
{
    pthread_mutex_lock(&s->lock);
    char *copy = s->last_request ? strdup(s->last_request) : NULL;
    pthread_mutex_unlock(&s->lock);
    return copy;
}

void testlib_server_stop(testlib_server *s)
{
    ck_assert_int_eq(write(s->stop_pipe[1], "x", 1), 1);
    pthread_join(s->thread, NULL);
    pthread_mutex_lock(&s->lock);
    while (s->connections > 0)
        pthread_cond_wait(&s->finished, &s->lock);
    pthread_mutex_unlock(&s->lock);
    close(s->fd);
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
    for (size_t i = 0; i < s->route_count; i++)
        route_clear(&s->routes[i]);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->finished);
    free(s->hits);
    free(s->last_request);
    free(s->forbid);
    free(s);
}

/* --- the loop ----------------------------------------------------------- */

void testlib_async_init(testlib_async *async, long timeout_seconds)
{
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    opts.timeout_seconds = timeout_seconds;
    ck_assert_int_eq(uv_loop_init(&async->loop), 0);
    ck_assert_int_eq(mcpauth_http_async_new(&async->loop, &opts, &async->http), 0);
}

static void watchdog_fired(uv_timer_t *timer)
{
    (void)timer;
    ck_abort_msg("the loop ran for ten seconds without finishing");
}

void testlib_async_run_until(testlib_async *async, const bool *done)
{
    uv_timer_t watchdog;
    ck_assert_int_eq(uv_timer_init(&async->loop, &watchdog), 0);
    ck_assert_int_eq(uv_timer_start(&watchdog, watchdog_fired, 10000, 0), 0);
    while (!*done)
        uv_run(&async->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&async->loop, UV_RUN_NOWAIT);
}

void testlib_async_close(testlib_async *async)
{
    mcpauth_http_async_close(async->http, NULL, NULL);
    async->http = NULL;
    uv_run(&async->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&async->loop), 0);
}
