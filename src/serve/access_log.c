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

/* An ISO 8601 UTC time with milliseconds: out holds at least 32 bytes. The
 * part to the second is formatted once a second. */
static void timestamp(char *out, size_t size)
{
    static time_t second = -1;
    static char prefix[24];
    static size_t prefix_length;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != second) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        prefix_length = strftime(prefix, sizeof prefix, "%Y-%m-%dT%H:%M:%S", &tm);
        second = ts.tv_sec;
    }
    long ms = ts.tv_nsec / 1000000;
    if (size < prefix_length + 6) {
        if (size > 0)
            out[0] = '\0';
        return;
    }
    memcpy(out, prefix, prefix_length);
    char *p = out + prefix_length;
    *p++ = '.';
    *p++ = (char)('0' + ms / 100);
    *p++ = (char)('0' + ms / 10 % 10);
    *p++ = (char)('0' + ms % 10);
    *p++ = 'Z';
    *p = '\0';
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

/* A JSON request line is written straight into a buffer: a json_object per
 * line was a fifth of the work of answering a small request. Each field
 * has a budget in escaped bytes (any client or token may make them long)
 * that keeps the whole line within LOG_LINE_MAX and valid JSON. */
typedef struct line_out {
    char *p;
    size_t used, size;
} line_out;

static void put(line_out *o, const char *s, size_t n)
{
    if (n > o->size - o->used)
        n = o->size - o->used;
    memcpy(o->p + o->used, s, n);
    o->used += n;
}

static void put_string(line_out *o, const char *key, const char *value, size_t budget)
{
    if (!value)
        return;
    put(o, key, strlen(key));
    size_t room = o->size - o->used;
    o->used += mcpauth_json_quote(o->p + o->used, budget < room ? budget : room, value);
}

/* Writes thousandths of a unit as "%.3f" would (decimals > 0) or an
 * integer (decimals 0), without printf. */
static void put_number(line_out *o, unsigned long long value, int decimals)
{
    char digits[32];
    size_t at = sizeof digits;
    for (int i = 0; i < decimals; i++, value /= 10)
        digits[--at] = (char)('0' + value % 10);
    if (decimals > 0)
        digits[--at] = '.';
    do {
        digits[--at] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    put(o, digits + at, sizeof digits - at);
}

static size_t json_request_line(char *line, size_t size, const char *when,
                                const mcpauth__serve_log_entry *e)
{
    line_out o = {line, 0, size - 1}; /* the closing brace always fits */
    put(&o, "{", 1);
    put_string(&o, "\"time\":", when, 40);
    put_string(&o, ",\"peer\":", e->peer, 130);
    put_string(&o, ",\"method\":", e->method, 40);
    put_string(&o, ",\"path\":", e->path, 512);
    put(&o, ",\"status\":", 10);
    put_number(&o, e->status > 0 ? (unsigned long long)e->status : 0, 0);
    put(&o, ",\"latency_ms\":", 14);
    double ms = e->latency_ms;
    put_number(&o, ms > 0 && ms < 1e15 ? (unsigned long long)(ms * 1000 + 0.5) : 0, 3);
    put_string(&o, ",\"token\":", e->token_hash, 40);
    put_string(&o, ",\"sub\":", e->subject, 256);
    put_string(&o, ",\"cache\":", e->cache, 16);
    put_string(&o, ",\"detail\":", e->detail, 640);
    put_string(&o, ",\"scheme\":", e->scheme, 16);
    line[o.used++] = '}';
    return o.used;
}

void mcpauth__serve_log_request(const mcpauth_serve_config *config,
                                const mcpauth__serve_log_entry *e)
{
    char when[40];
    timestamp(when, sizeof when);
    if (config->log_format == MCPAUTH_LOG_JSON) {
        char line[LOG_LINE_MAX];
        log_line(config, line, json_request_line(line, sizeof line, when, e));
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
