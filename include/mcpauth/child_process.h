/* A child process on a libuv loop that speaks lines: its stdin takes the
 * lines we write, its stdout is read line by line (each at most a set
 * length), and its stderr is read line by line for the log. In the libuv
 * manner: a handle with callbacks, errors returned as negative libuv codes.
 *
 * Life of a handle: mcpauth_child_spawn(), then any number of writes; the
 * process ends on its own or through mcpauth_child_stop() (SIGTERM, then
 * SIGKILL after the grace period). libuv reaps it (no zombies) and on_exit
 * reports how it ended; once it has exited and every pipe is closed,
 * on_close runs and the handle is freed. on_close runs exactly once for
 * every handle spawn returned.
 *
 * Nothing here blocks; call everything on the loop's thread.
 */
#ifndef MCPAUTH_CHILD_PROCESS_H
#define MCPAUTH_CHILD_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct mcpauth_child mcpauth_child;

/* A complete line from the child's stdout (without its "\n"; a trailing
 * "\r" is kept). line is borrowed for the call. */
typedef void (*mcpauth_child_line_cb)(mcpauth_child *child, const char *line, size_t length,
                                      void *data);

/* The child wrote a stdout line longer than max_line: reading stdout stops
 * (the caller usually stops the child). */
typedef void (*mcpauth_child_overflow_cb)(mcpauth_child *child, void *data);

/* The process is gone: exit_status, or term_signal when a signal ended it
 * (0 otherwise). The handle stays valid until on_close. */
typedef void (*mcpauth_child_exit_cb)(mcpauth_child *child, int64_t exit_status, int term_signal,
                                      void *data);

/* Everything is closed; child is freed right after this returns. */
typedef void (*mcpauth_child_close_cb)(mcpauth_child *child, void *data);

typedef struct mcpauth_child_options {
    const char *file;       /* program, looked up in PATH when it has no "/" */
    char **args;            /* args[0] is the program name; NULL-terminated; borrowed */
    char **env;             /* "NAME=VALUE", NULL-terminated; borrowed for the call */
    size_t max_line;        /* longest stdout line accepted (bytes, without "\n") */
    size_t max_stderr_line; /* longer stderr lines are cut into pieces of this size */
    uint64_t kill_grace_ms; /* from SIGTERM to SIGKILL in mcpauth_child_stop() */
} mcpauth_child_options;

typedef struct mcpauth_child_callbacks {
    mcpauth_child_line_cb on_line;   /* stdout */
    mcpauth_child_line_cb on_stderr; /* stderr; may be NULL (lines dropped) */
    mcpauth_child_overflow_cb on_overflow;
    mcpauth_child_exit_cb on_exit;   /* may be NULL */
    mcpauth_child_close_cb on_close; /* may be NULL */
} mcpauth_child_callbacks;

/* Starts the process. On 0, *out is a live handle; on a negative libuv error
 * (UV_ENOENT: no such program) nothing was started and no callback runs.
 * callbacks is copied. */
int mcpauth_child_spawn(uv_loop_t *loop, const mcpauth_child_options *options,
                        const mcpauth_child_callbacks *callbacks, void *data, mcpauth_child **out);

/* Queues line and a "\n" on the child's stdin (copied). 0, or UV_EPIPE once
 * stdin is closed (the child stopped or is stopping). */
int mcpauth_child_write_line(mcpauth_child *child, const char *line, size_t length);

/* Bytes queued on stdin and not yet taken by the child: for bounding what a
 * slow child makes us hold. */
size_t mcpauth_child_write_pending(const mcpauth_child *child);

/* The process id (for logs and the MCPAUTH tests). */
int mcpauth_child_pid(const mcpauth_child *child);

/* True once the process has exited. */
bool mcpauth_child_exited(const mcpauth_child *child);

/* Ends the process: closes its stdin, sends SIGTERM and, when it is still
 * there after kill_grace_ms, SIGKILL. Does nothing after the first call or
 * once the process has exited. */
void mcpauth_child_stop(mcpauth_child *child);

#endif
