/* A line-speaking child process on libuv (see child_process.h): three
 * pipes, a line assembler per output pipe, and a timer that turns a SIGTERM
 * into a SIGKILL when the child does not go. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/child_process.h"

#define READ_CHUNK 65536
/* After the process exits, what it wrote before exiting is still read for
 * this long; a grandchild holding the pipes open cannot keep us waiting. */
#define DRAIN_AFTER_EXIT_MS 200

typedef struct line_buffer {
    char *data;
    size_t length;
    size_t capacity;
} line_buffer;

struct mcpauth_child {
    uv_process_t process;
    uv_pipe_t in, out, err;
    uv_timer_t timer; /* SIGKILL after the grace period; then the drain after exit */
    mcpauth_child_callbacks cb;
    void *data;
    size_t max_line;
    size_t max_stderr_line;
    uint64_t kill_grace_ms;
    line_buffer out_line, err_line;
    char read_buffer[READ_CHUNK];
    size_t write_pending;
    int open_handles;
    bool process_closed, in_closed, out_closed, err_closed, timer_closed;
    bool exited, stopping;
    int pid;
};

typedef struct write_request {
    uv_write_t req;
    mcpauth_child *child;
    size_t length;
    char bytes[];
} write_request;

static void on_handle_closed(uv_handle_t *handle)
{
    mcpauth_child *child = handle->data;
    if (--child->open_handles > 0)
        return;
    if (child->cb.on_close)
        child->cb.on_close(child, child->data);
    free(child->out_line.data);
    free(child->err_line.data);
    free(child);
}

static void close_once(uv_handle_t *handle, bool *closed)
{
    if (*closed)
        return;
    *closed = true;
    uv_close(handle, on_handle_closed);
}

/* ---- reading ---- */

static bool line_append(line_buffer *b, const char *bytes, size_t length)
{
    if (b->length + length > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 256;
        while (capacity < b->length + length)
            capacity *= 2;
        char *grown = realloc(b->data, capacity);
        if (!grown)
            return false;
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->length, bytes, length);
    b->length += length;
    return true;
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    mcpauth_child *child = handle->data;
    (void)suggested;
    /* stdout and stderr share one buffer: a read callback always runs to
     * completion before the next allocation. */
    *buf = uv_buf_init(child->read_buffer, sizeof child->read_buffer);
}

/* Splits chunk into stdout lines; false when a line is too long (or memory
 * ran out assembling it). */
static bool split_stdout(mcpauth_child *child, const char *chunk, size_t length)
{
    line_buffer *b = &child->out_line;
    while (length > 0) {
        const char *newline = memchr(chunk, '\n', length);
        size_t piece = newline ? (size_t)(newline - chunk) : length;
        if (b->length + piece > child->max_line)
            return false;
        if (!newline)
            return line_append(b, chunk, piece);
        if (b->length == 0) {
            child->cb.on_line(child, chunk, piece, child->data);
        } else {
            if (!line_append(b, chunk, piece))
                return false;
            size_t whole = b->length;
            b->length = 0;
            child->cb.on_line(child, b->data, whole, child->data);
        }
        chunk += piece + 1;
        length -= piece + 1;
    }
    return true;
}

/* stderr is for people: long lines are cut rather than refused. */
static void split_stderr(mcpauth_child *child, const char *chunk, size_t length)
{
    line_buffer *b = &child->err_line;
    while (length > 0) {
        const char *newline = memchr(chunk, '\n', length);
        size_t piece = newline ? (size_t)(newline - chunk) : length;
        size_t room = child->max_stderr_line - b->length;
        if (piece >= room) {
            line_append(b, chunk, room);
            if (child->cb.on_stderr)
                child->cb.on_stderr(child, b->data, b->length, child->data);
            b->length = 0;
            chunk += room;
            length -= room;
            continue;
        }
        line_append(b, chunk, piece);
        if (!newline)
            return;
        if (child->cb.on_stderr)
            child->cb.on_stderr(child, b->data ? b->data : "", b->length, child->data);
        b->length = 0;
        chunk += piece + 1;
        length -= piece + 1;
    }
}

static void on_stdout(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    mcpauth_child *child = stream->data;
    if (nread < 0) {
        close_once((uv_handle_t *)&child->out, &child->out_closed);
        return;
    }
    if (!split_stdout(child, buf->base, (size_t)nread)) {
        uv_read_stop(stream);
        child->out_line.length = 0;
        child->cb.on_overflow(child, child->data);
    }
}

static void on_stderr_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    mcpauth_child *child = stream->data;
    if (nread < 0) {
        /* A last line without "\n" still goes to the log. */
        if (child->err_line.length > 0 && child->cb.on_stderr)
            child->cb.on_stderr(child, child->err_line.data, child->err_line.length, child->data);
        child->err_line.length = 0;
        close_once((uv_handle_t *)&child->err, &child->err_closed);
        return;
    }
    split_stderr(child, buf->base, (size_t)nread);
}

/* ---- exit and stop ---- */

static void on_drain_timeout(uv_timer_t *timer)
{
    mcpauth_child *child = timer->data;
    close_once((uv_handle_t *)&child->out, &child->out_closed);
    close_once((uv_handle_t *)&child->err, &child->err_closed);
    close_once((uv_handle_t *)&child->timer, &child->timer_closed);
}

static void on_process_exit(uv_process_t *process, int64_t exit_status, int term_signal)
{
    mcpauth_child *child = process->data;
    child->exited = true;
    close_once((uv_handle_t *)&child->process, &child->process_closed);
    close_once((uv_handle_t *)&child->in, &child->in_closed);
    uv_timer_stop(&child->timer);
    if (!child->timer_closed)
        uv_timer_start(&child->timer, on_drain_timeout, DRAIN_AFTER_EXIT_MS, 0);
    if (child->cb.on_exit)
        child->cb.on_exit(child, exit_status, term_signal, child->data);
}

static void on_kill_timeout(uv_timer_t *timer)
{
    mcpauth_child *child = timer->data;
    if (!child->exited)
        uv_process_kill(&child->process, SIGKILL);
}

void mcpauth_child_stop(mcpauth_child *child)
{
    if (child->stopping || child->exited)
        return;
    child->stopping = true;
    close_once((uv_handle_t *)&child->in, &child->in_closed);
    uv_process_kill(&child->process, SIGTERM);
    uv_timer_start(&child->timer, on_kill_timeout, child->kill_grace_ms, 0);
}

/* ---- spawning and writing ---- */

int mcpauth_child_spawn(uv_loop_t *loop, const mcpauth_child_options *options,
                        const mcpauth_child_callbacks *callbacks, void *data, mcpauth_child **out)
{
    mcpauth_child *child = calloc(1, sizeof *child);
    if (!child)
        return UV_ENOMEM;
    child->cb = *callbacks;
    child->data = data;
    child->max_line = options->max_line;
    child->max_stderr_line = options->max_stderr_line ? options->max_stderr_line : 1024;
    child->kill_grace_ms = options->kill_grace_ms;
    uv_pipe_init(loop, &child->in, 0);
    uv_pipe_init(loop, &child->out, 0);
    uv_pipe_init(loop, &child->err, 0);
    uv_timer_init(loop, &child->timer);
    child->in.data = child->out.data = child->err.data = child->timer.data = child;
    child->process.data = child;

    uv_stdio_container_t stdio[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&child->in},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&child->out},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&child->err},
    };
    uv_process_options_t po = {
        .exit_cb = on_process_exit,
        .file = options->file,
        .args = options->args,
        .env = options->env,
        .stdio_count = 3,
        .stdio = stdio,
    };
    int rc = uv_spawn(loop, &child->process, &po);
    child->open_handles = 5;
    if (rc != 0) {
        /* Nothing ran; libuv still wants the process handle closed. Quietly:
         * no on_close for a handle the caller never got. */
        child->cb.on_close = NULL;
        close_once((uv_handle_t *)&child->process, &child->process_closed);
        close_once((uv_handle_t *)&child->in, &child->in_closed);
        close_once((uv_handle_t *)&child->out, &child->out_closed);
        close_once((uv_handle_t *)&child->err, &child->err_closed);
        close_once((uv_handle_t *)&child->timer, &child->timer_closed);
        return rc;
    }
    child->pid = child->process.pid;
    uv_read_start((uv_stream_t *)&child->out, on_alloc, on_stdout);
    uv_read_start((uv_stream_t *)&child->err, on_alloc, on_stderr_read);
    *out = child;
    return 0;
}

static void on_written(uv_write_t *req, int status)
{
    write_request *w = (write_request *)req;
    (void)status;
    w->child->write_pending -= w->length;
    free(w);
}

int mcpauth_child_write_line(mcpauth_child *child, const char *line, size_t length)
{
    if (child->in_closed || child->stopping || child->exited)
        return UV_EPIPE;
    write_request *w = malloc(sizeof *w + length + 1);
    if (!w)
        return UV_ENOMEM;
    w->child = child;
    w->length = length + 1;
    memcpy(w->bytes, line, length);
    w->bytes[length] = '\n';
    uv_buf_t buf = uv_buf_init(w->bytes, (unsigned int)w->length);
    int rc = uv_write(&w->req, (uv_stream_t *)&child->in, &buf, 1, on_written);
    if (rc != 0) {
        free(w);
        return rc;
    }
    child->write_pending += w->length;
    return 0;
}

size_t mcpauth_child_write_pending(const mcpauth_child *child)
{
    return child->write_pending;
}

int mcpauth_child_pid(const mcpauth_child *child)
{
    return child->pid;
}

bool mcpauth_child_exited(const mcpauth_child *child)
{
    return child->exited;
}
