/* libcurl's multi-socket API on a libuv loop.
 *
 * libcurl says which sockets it wants watched (socket callback) and when it
 * next needs a kick (timer callback); the loop reports readiness back through
 * curl_multi_socket_action(), after which finished transfers are collected
 * from curl_multi_info_read() and their callbacks run. User callbacks only
 * ever run from a loop callback, after libcurl has returned, so they may
 * start requests or close the client.
 *
 * Lifetime: the client owns one uv_timer_t and one uv_poll_t per socket.
 * close() marks it closing, cancels what is in flight, frees libcurl's state
 * and closes the handles; the memory goes in the last close callback, so any
 * loop callback or user callback still on the stack keeps a valid client. */
#include "mcpauth/http_async.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transfer.h"

typedef struct http_async_request http_async_request;
typedef struct http_async_socket http_async_socket;

struct http_async_request {
    mcpauth_http_async *client;
    http_async_request *prev, *next; /* in client->requests */
    mcpauth_http_async_cb cb;
    mcpauth_http_async_data_cb data_cb; /* streaming requests only */
    void *data;
    /* What libcurl reads after start() returns: the URL for messages and
     * resp->url, the body by pointer (CURLOPT_POSTFIELDS does not copy). The
     * bearer token and Basic credentials are used up while start() builds
     * the Authorization header, so they are never stored here. */
    char *url;
    char *body;
    size_t body_length;
    mcpauth__http_transfer transfer;
};

/* Watches one of libcurl's sockets. */
struct http_async_socket {
    uv_poll_t poll;
    mcpauth_http_async *client;
    curl_socket_t fd;
    http_async_socket *prev, *next; /* in client->sockets while open */
};

struct mcpauth_http_async {
    uv_loop_t *loop;
    mcpauth_http_options opts;
    CURLM *multi;
    uv_timer_t timer; /* fires when libcurl's next timeout is due */
    http_async_request *requests;
    size_t pending;
    http_async_socket *sockets;
    size_t open_handles; /* the timer plus every socket poll not yet closed */
    bool closing;
    mcpauth_http_async_closed_cb closed_cb;
    void *closed_data;
};

static void request_link(mcpauth_http_async *client, http_async_request *r)
{
    r->prev = NULL;
    r->next = client->requests;
    if (client->requests)
        client->requests->prev = r;
    client->requests = r;
    client->pending++;
}

static void request_unlink(mcpauth_http_async *client, http_async_request *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        client->requests = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    client->pending--;
}

/* The body may be a form with a client secret in it. */
static void request_free(http_async_request *r)
{
    mcpauth__http_transfer_cleanup(&r->transfer);
    free(r->url);
    if (r->body) {
        explicit_bzero(r->body, r->body_length);
        free(r->body);
    }
    free(r);
}

static void on_handle_closed(uv_handle_t *handle)
{
    mcpauth_http_async *client;
    if (handle->type == UV_POLL) {
        http_async_socket *s = handle->data;
        client = s->client;
        free(s);
    } else {
        client = handle->data;
    }
    if (--client->open_handles > 0 || !client->closing)
        return;
    mcpauth_http_async_closed_cb closed_cb = client->closed_cb;
    void *closed_data = client->closed_data;
    free(client);
    if (closed_cb)
        closed_cb(closed_data);
}

static void socket_close(mcpauth_http_async *client, http_async_socket *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        client->sockets = s->next;
    if (s->next)
        s->next->prev = s->prev;
    /* uv_close() stops watching the fd at once, so when libcurl reuses the
     * fd number for a new socket, a new poll can be created for it even
     * before this handle's close callback has run. */
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

/* Runs the callbacks of every transfer libcurl has finished. */
static void complete_finished(mcpauth_http_async *client)
{
    CURLMsg *msg;
    int queued;
    /* A callback may close the client, after which multi is gone. */
    while (!client->closing && (msg = curl_multi_info_read(client->multi, &queued))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode code = msg->data.result; /* msg dies with remove_handle */
        char *private = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &private);
        http_async_request *r = (http_async_request *)private;
        curl_multi_remove_handle(client->multi, easy);
        request_unlink(client, r);

        mcpauth_http_response resp = {0};
        mcpauth_error err = {0};
        if (mcpauth__http_transfer_finish(&r->transfer, code, &resp, &err) == MCPAUTH_OK) {
            r->cb(MCPAUTH_OK, &resp, NULL, r->data);
            mcpauth_http_response_free(&resp);
        } else {
            r->cb(err.status, NULL, &err, r->data);
        }
        request_free(r);
    }
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
    http_async_socket *s = poll->data;
    mcpauth_http_async *client = s->client;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(client->multi, s->fd, flags, &running);
    complete_finished(client);
}

static void on_timer(uv_timer_t *timer)
{
    mcpauth_http_async *client = timer->data;
    int running;
    curl_multi_socket_action(client->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    complete_finished(client);
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching fd. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    mcpauth_http_async *client = userp;
    http_async_socket *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (!s)
            return 0;
        /* Inside curl_multi_cleanup() the multi handle is already half torn
         * down and some libcurl versions reject calls on it (curl#15201). */
        if (!client->closing)
            curl_multi_assign(client->multi, fd, NULL);
        socket_close(client, s);
        return 0;
    }
    /* Nothing new gets watched once close() has begun tearing down. */
    if (client->closing)
        return 0;
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        if (uv_poll_init_socket(client->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        s->client = client;
        s->fd = fd;
        s->next = client->sockets;
        if (client->sockets)
            client->sockets->prev = s;
        client->sockets = s;
        client->open_handles++;
        curl_multi_assign(client->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: libcurl wants a kick in timeout_ms (-1: never).
 * Even a 0 ms timeout goes through the loop rather than being acted on here,
 * since libcurl must not be re-entered from its own callback. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    mcpauth_http_async *client = userp;
    if (client->closing)
        return 0;
    if (timeout_ms < 0)
        return uv_timer_stop(&client->timer) == 0 ? 0 : -1;
    return uv_timer_start(&client->timer, on_timer, (uint64_t)timeout_ms, 0) == 0 ? 0 : -1;
}

int mcpauth_http_async_new(uv_loop_t *loop, const mcpauth_http_options *opts,
                           mcpauth_http_async **out)
{
    *out = NULL;
    mcpauth_http_async *client = calloc(1, sizeof *client);
    if (!client)
        return UV_ENOMEM;
    client->multi = curl_multi_init();
    if (!client->multi) {
        free(client);
        return UV_ENOMEM;
    }
    int rc = uv_timer_init(loop, &client->timer);
    if (rc != 0) {
        curl_multi_cleanup(client->multi);
        free(client);
        return rc;
    }
    client->loop = loop;
    client->opts = *opts;
    client->timer.data = client;
    client->open_handles = 1;
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETDATA, client);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERDATA, client);
    *out = client;
    return 0;
}

static char *copy_bytes(const char *data, size_t length)
{
    char *copy = malloc(length + 1);
    if (!copy)
        return NULL;
    memcpy(copy, data, length);
    copy[length] = '\0';
    return copy;
}

/* transfer.c's body callback in streaming mode. */
static bool on_stream_data(mcpauth__http_transfer *t, const char *bytes, size_t length)
{
    http_async_request *r = t->on_data_arg;
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    return r->data_cb(status, t->headers, t->header_count, bytes, length, r->data);
}

static mcpauth_status request_start(mcpauth_http_async *client, const mcpauth_http_request *req,
                                    bool streaming, long timeout_seconds,
                                    mcpauth_http_async_data_cb data_cb, mcpauth_http_async_cb cb,
                                    void *data, mcpauth_error *err)
{
    if (client->closing)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "HTTP client is closing");
    http_async_request *r = calloc(1, sizeof *r);
    if (!r)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    r->client = client;
    r->cb = cb;
    r->data = data;
    r->url = strdup(req->url);
    r->body_length = req->body ? req->body_length : 0;
    r->body = req->body ? copy_bytes(req->body, req->body_length) : NULL;
    if (!r->url || (req->body && !r->body)) {
        request_free(r);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    mcpauth_http_request copy = *req;
    copy.url = r->url;
    copy.body = r->body;
    /* The policy check happens in here, so a refused URL fails now. */
    mcpauth_status st =
        mcpauth__http_transfer_init(&r->transfer, &client->opts, &copy, r->url, err);
    if (st != MCPAUTH_OK) {
        request_free(r);
        return st;
    }
    curl_easy_setopt(r->transfer.easy, CURLOPT_PRIVATE, r);
    if (streaming) {
        r->data_cb = data_cb;
        r->transfer.on_data = on_stream_data;
        r->transfer.on_data_arg = r;
        curl_easy_setopt(r->transfer.easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(r->transfer.easy, CURLOPT_TIMEOUT, timeout_seconds);
        if (timeout_seconds > 0) /* what a timeout's message names */
            r->transfer.timeout = timeout_seconds;
    }
    /* Only queues the transfer and asks for a 0 ms timer: nothing completes,
     * and no callback runs, before the loop gets control back. */
    if (curl_multi_add_handle(client->multi, r->transfer.easy) != CURLM_OK) {
        request_free(r);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot start request to %s", req->url);
    }
    request_link(client, r);
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_http_async_start(mcpauth_http_async *client, const mcpauth_http_request *req,
                                        mcpauth_http_async_cb cb, void *data, mcpauth_error *err)
{
    return request_start(client, req, false, 0, NULL, cb, data, err);
}

mcpauth_status mcpauth_http_async_stream(mcpauth_http_async *client,
                                         const mcpauth_http_request *req, long timeout_seconds,
                                         mcpauth_http_async_data_cb data_cb,
                                         mcpauth_http_async_cb cb, void *data, mcpauth_error *err)
{
    return request_start(client, req, true, timeout_seconds, data_cb, cb, data, err);
}

void mcpauth_http_async_cancel(mcpauth_http_async *client, void *data)
{
    for (http_async_request *r = client->requests; r; r = r->next) {
        if (r->data != data)
            continue;
        request_unlink(client, r);
        curl_multi_remove_handle(client->multi, r->transfer.easy);
        mcpauth_error err;
        mcpauth_error_set(&err, MCPAUTH_ENETWORK, "request cancelled");
        r->cb(MCPAUTH_ENETWORK, NULL, &err, r->data);
        request_free(r);
        return;
    }
}

size_t mcpauth_http_async_pending(const mcpauth_http_async *client)
{
    return client->pending;
}

void mcpauth_http_async_close(mcpauth_http_async *client, mcpauth_http_async_closed_cb closed_cb,
                              void *data)
{
    /* Also guards against a cancelled request's callback closing again. */
    if (client->closing)
        return;
    client->closing = true;
    client->closed_cb = closed_cb;
    client->closed_data = data;
    /* A cancelled callback may start requests (refused, since closing is
     * set) but none can be added to the list while it drains. */
    while (client->requests) {
        http_async_request *r = client->requests;
        request_unlink(client, r);
        curl_multi_remove_handle(client->multi, r->transfer.easy);
        mcpauth_error err;
        mcpauth_error_set(&err, MCPAUTH_ENETWORK, "request cancelled");
        r->cb(MCPAUTH_ENETWORK, NULL, &err, r->data);
        request_free(r);
    }
    curl_multi_cleanup(client->multi);
    client->multi = NULL;
    /* libcurl should have reported CURL_POLL_REMOVE for all its sockets by
     * now, but how it tears down its connection cache has changed between
     * versions; a poll left behind would keep the loop alive forever. */
    while (client->sockets)
        socket_close(client, client->sockets);
    uv_close((uv_handle_t *)&client->timer, on_handle_closed);
}
