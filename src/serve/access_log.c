/* Log lines: one per answered request, and server events. Text for people,
 * JSON (one object per line) for log pipelines. Tokens never appear: only
 * the short hash the validator computed.
 *
 * Request lines are buffered and written by mcpauth__serve_log_flush() (a timer in
 * run.c, and whenever the buffer fills): one write(2) per line would be a
 * system call per request. Writes end at line boundaries and stay within
 * PIPE_BUF, so lines from several workers sharing stderr never interleave. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mcpauth/json.h"
#include "serve_internal.h"

#define LOG_BUFFER_SIZE (32 * 1024)
#define LOG_LINE_MAX    2048

/* One buffer per process: every worker is its own process. */
static char log_buffer[LOG_BUFFER_SIZE];
static size_t log_used;

static void write_fully(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* a log that cannot be written must not stop the server */
        data += n;
        length -= (size_t)n;
    }
}

void mcpauth__serve_log_flush(const mcpauth_serve_config *config)
{
    int fd = fileno(config->log);
    size_t start = 0;
    while (start < log_used) {
        size_t end = log_used;
        if (end - start > PIPE_BUF) {
            /* Cut after the last complete line that fits. */
            end = start + PIPE_BUF;
            while (end > start && log_buffer[end - 1] != '\n')
                end--;
            if (end == start)
                end = start + PIPE_BUF;
        }
        write_fully(fd, log_buffer + start, end - start);
        start = end;
    }
    log_used = 0;
}

static void log_line(const mcpauth_serve_config *config, const char *line, size_t length)
{
    if (length > LOG_LINE_MAX)
        length = LOG_LINE_MAX;
    if (log_used + length + 1 > sizeof log_buffer)
        mcpauth__serve_log_flush(config);
    memcpy(log_buffer + log_used, line, length);
    log_used += length;
    if (length == 0 || line[length - 1] != '\n')
        log_buffer[log_used++] = '\n';
}

static void timestamp(char *out, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Copies at most max bytes of s into out (size bytes, NUL-terminated) for a
 * text log line: a field may come from a client, a token or an authorization
 * server (a `sub` claim is any JSON string), and a newline or other control
 * character in it would forge a line of its own. Control bytes and DEL
 * become \xHH; a backslash and a double quote are escaped so the quoted
 * request field cannot be closed early. "-" stands for a missing field. */
static const char *escaped(char *out, size_t size, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    if (!s)
        return "-";
    size_t used = 0;
    for (size_t i = 0; s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        char piece[4];
        size_t n = 0;
        if (c < 0x20 || c == 0x7f) {
            piece[n++] = '\\';
            piece[n++] = 'x';
            piece[n++] = hex[c >> 4];
            piece[n++] = hex[c & 15];
        } else {
            if (c == '\\' || c == '"')
                piece[n++] = '\\';
            piece[n++] = (char)c;
        }
        if (used + n >= size)
            break;
        memcpy(out + used, piece, n);
        used += n;
    }
    out[used] = '\0';
    return out;
}

static void add_string(json_object *obj, const char *key, const char *value)
{
    if (value)
        json_object_object_add(obj, key, json_object_new_string(value));
}

void mcpauth__serve_log_request(const mcpauth_serve_config *config,
                                const mcpauth__serve_log_entry *e)
{
    char when[40];
    timestamp(when, sizeof when);
    if (config->log_format == MCPAUTH_LOG_JSON) {
        json_object *obj = json_object_new_object();
        add_string(obj, "time", when);
        add_string(obj, "peer", e->peer);
        add_string(obj, "method", e->method);
        add_string(obj, "path", e->path);
        json_object_object_add(obj, "status", json_object_new_int(e->status));
        char latency[32];
        snprintf(latency, sizeof latency, "%.3f", e->latency_ms);
        /* Serialised as written: no binary floating-point noise in logs. */
        json_object_object_add(obj, "latency_ms", json_object_new_double_s(e->latency_ms, latency));
        add_string(obj, "token", e->token_hash);
        add_string(obj, "sub", e->subject);
        add_string(obj, "cache", e->cache);
        add_string(obj, "detail", e->detail);
        add_string(obj, "scheme", e->scheme);
        const char *text = mcpauth_json_compact(obj);
        log_line(config, text, strlen(text));
        json_object_put(obj);
    } else {
        char peer[200], method[80], path[820], sub[420], detail[1600];
        char line[LOG_LINE_MAX];
        int n = snprintf(
            line, sizeof line, "%s %s \"%s %s\" %d %.3fms token=%s sub=%s cache=%s%s%s%s\n", when,
            escaped(peer, sizeof peer, e->peer, 64), escaped(method, sizeof method, e->method, 16),
            escaped(path, sizeof path, e->path, 200), e->status, e->latency_ms,
            e->token_hash ? e->token_hash : "-", escaped(sub, sizeof sub, e->subject, 100),
            e->cache ? e->cache : "-", e->detail ? " (" : "",
            e->detail ? escaped(detail, sizeof detail, e->detail, 400) : "", e->detail ? ")" : "");
        if (n > 0)
            log_line(config, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
    if (log_used > LOG_BUFFER_SIZE / 2)
        mcpauth__serve_log_flush(config);
}

void mcpauth__serve_log_event(const mcpauth_serve_config *config, const char *level,
                              const char *fmt, ...)
{
    char when[40], message[1024];
    timestamp(when, sizeof when);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    /* Events go out at once, after the request lines before them. */
    if (config->log_format == MCPAUTH_LOG_JSON) {
        json_object *obj = json_object_new_object();
        add_string(obj, "time", when);
        add_string(obj, "level", level);
        add_string(obj, "message", message);
        const char *text = mcpauth_json_compact(obj);
        log_line(config, text, strlen(text));
        json_object_put(obj);
    } else {
        char line[LOG_LINE_MAX], text[4 * sizeof message];
        int n = snprintf(line, sizeof line, "%s %s: %s\n", when, level,
                         escaped(text, sizeof text, message, sizeof message));
        if (n > 0)
            log_line(config, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
    mcpauth__serve_log_flush(config);
}
