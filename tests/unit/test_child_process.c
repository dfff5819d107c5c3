/* The line-speaking child process handle, with /bin/sh children: lines both
 * ways, the stdout line limit, stderr lines cut to size, exit status and
 * signal, SIGTERM turning into SIGKILL, and no zombie left once on_close
 * has run. Each test owns a loop and checks that it closes cleanly. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <uv.h>

#include "mcpauth/child_process.h"
#include "testlib.h"

#define MAX_LINES 16

typedef struct outcome {
    char *lines[MAX_LINES];
    size_t line_count;
    char *errors[MAX_LINES];
    size_t error_count;
    int overflows;
    int exits;
    int64_t exit_status;
    int term_signal;
    int closes;
    int pid;
    mcpauth_child *child;
    size_t stop_after_lines; /* 0: never stop */
    bool write_on_exit;      /* try a write from on_exit */
    int write_on_exit_rc;
} outcome;

static void on_line(mcpauth_child *child, const char *line, size_t length, void *data)
{
    outcome *o = data;
    ck_assert_uint_lt(o->line_count, MAX_LINES);
    o->lines[o->line_count++] = strndup(line, length);
    if (o->line_count == o->stop_after_lines) {
        mcpauth_child_stop(child);
        mcpauth_child_stop(child); /* a second stop does nothing */
    }
}

static void on_stderr(mcpauth_child *child, const char *line, size_t length, void *data)
{
    outcome *o = data;
    (void)child;
    if (o->error_count < MAX_LINES)
        o->errors[o->error_count++] = strndup(line, length);
}

static void on_overflow(mcpauth_child *child, void *data)
{
    outcome *o = data;
    o->overflows++;
    mcpauth_child_stop(child);
}

static void on_exit_cb(mcpauth_child *child, int64_t exit_status, int term_signal, void *data)
{
    outcome *o = data;
    ck_assert(mcpauth_child_exited(child));
    o->exits++;
    o->exit_status = exit_status;
    o->term_signal = term_signal;
    if (o->write_on_exit)
        o->write_on_exit_rc = mcpauth_child_write_line(child, "late", 4);
}

static void on_close(mcpauth_child *child, void *data)
{
    outcome *o = data;
    (void)child;
    o->closes++;
}

static const mcpauth_child_callbacks callbacks = {
    .on_line = on_line,
    .on_stderr = on_stderr,
    .on_overflow = on_overflow,
    .on_exit = on_exit_cb,
    .on_close = on_close,
};

static char *env_path[] = {"PATH=/usr/bin:/bin", NULL};

/* Runs `sh -c script` to the end (the loop runs until every handle is
 * closed). before_run may write to the child. */
static void run_sh(const char *script, size_t max_line, uint64_t grace_ms, outcome *o,
                   void (*before_run)(outcome *o))
{
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    char *args[] = {"sh", "-c", (char *)script, NULL};
    mcpauth_child_options options = {
        .file = "/bin/sh",
        .args = args,
        .env = env_path,
        .max_line = max_line,
        .max_stderr_line = 16,
        .kill_grace_ms = grace_ms,
    };
    ck_assert_int_eq(mcpauth_child_spawn(&loop, &options, &callbacks, o, &o->child), 0);
    o->pid = mcpauth_child_pid(o->child);
    ck_assert_int_gt(o->pid, 0);
    if (before_run)
        before_run(o);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(o->exits, 1);
    ck_assert_int_eq(o->closes, 1);
    /* Reaped by libuv: nothing left to wait for. */
    ck_assert_int_eq(waitpid(o->pid, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
}

static void outcome_free(outcome *o)
{
    for (size_t i = 0; i < o->line_count; i++)
        free(o->lines[i]);
    for (size_t i = 0; i < o->error_count; i++)
        free(o->errors[i]);
}

START_TEST(lines_and_exit_status)
{
    outcome o = {0};
    run_sh("printf 'one\\ntwo\\r\\n\\nlast-without-newline'; exit 3", 100, 1000, &o, NULL);
    ck_assert_uint_eq(o.line_count, 3);
    ck_assert_str_eq(o.lines[0], "one");
    ck_assert_str_eq(o.lines[1], "two\r");
    ck_assert_str_eq(o.lines[2], "");
    ck_assert_int_eq(o.exit_status, 3);
    ck_assert_int_eq(o.term_signal, 0);
    outcome_free(&o);
}
END_TEST

static void write_two(outcome *o)
{
    ck_assert_int_eq(mcpauth_child_write_line(o->child, "hello", 5), 0);
    ck_assert_int_eq(mcpauth_child_write_line(o->child, "{\"a\":1}", 7), 0);
}

START_TEST(writes_reach_stdin)
{
    outcome o = {.stop_after_lines = 2};
    run_sh("while read -r l; do echo \"got:$l\"; done", 100, 1000, &o, write_two);
    ck_assert_uint_eq(o.line_count, 2);
    ck_assert_str_eq(o.lines[0], "got:hello");
    ck_assert_str_eq(o.lines[1], "got:{\"a\":1}");
    outcome_free(&o);
}
END_TEST

START_TEST(stop_after_first_line)
{
    outcome o = {.stop_after_lines = 1};
    run_sh("echo ready; exec sleep 30", 100, 2000, &o, NULL);
    ck_assert_uint_eq(o.line_count, 1);
    ck_assert_int_eq(o.term_signal, SIGTERM);
    outcome_free(&o);
}
END_TEST

START_TEST(term_ignored_then_kill)
{
    outcome o = {.stop_after_lines = 1};
    uint64_t start = uv_hrtime();
    run_sh("trap '' TERM; echo ready; while :; do sleep 0.05; done", 100, 300, &o, NULL);
    ck_assert_int_eq(o.term_signal, SIGKILL);
    ck_assert_uint_ge((uv_hrtime() - start) / 1000000, 250);
    outcome_free(&o);
}
END_TEST

START_TEST(stdout_line_limit)
{
    outcome o = {0};
    /* A 5000-byte line against a limit of 1000, after a line that fits. */
    run_sh("echo short; head -c 5000 /dev/zero | tr '\\0' x; echo; exec sleep 30", 1000, 1000, &o,
           NULL);
    ck_assert_int_eq(o.overflows, 1);
    ck_assert_uint_eq(o.line_count, 1);
    ck_assert_str_eq(o.lines[0], "short");
    ck_assert_int_eq(o.term_signal, SIGTERM);
    outcome_free(&o);
}
END_TEST

START_TEST(line_exactly_at_limit)
{
    outcome o = {0};
    run_sh("head -c 1000 /dev/zero | tr '\\0' y; echo", 1000, 1000, &o, NULL);
    ck_assert_int_eq(o.overflows, 0);
    ck_assert_uint_eq(o.line_count, 1);
    ck_assert_uint_eq(strlen(o.lines[0]), 1000);
    outcome_free(&o);
}
END_TEST

START_TEST(stderr_lines_cut)
{
    outcome o = {0};
    run_sh("echo 'warn: short' >&2; echo 'abcdefghijklmnopqrstuvwxyz' >&2; printf 'tail' >&2", 100,
           1000, &o, NULL);
    ck_assert_uint_eq(o.error_count, 4);
    ck_assert_str_eq(o.errors[0], "warn: short");
    ck_assert_str_eq(o.errors[1], "abcdefghijklmnop");
    ck_assert_str_eq(o.errors[2], "qrstuvwxyz");
    ck_assert_str_eq(o.errors[3], "tail");
    outcome_free(&o);
}
END_TEST

START_TEST(write_after_exit_fails)
{
    outcome o = {.write_on_exit = true};
    run_sh("exit 0", 100, 1000, &o, NULL);
    ck_assert_int_eq(o.exit_status, 0);
    ck_assert_int_eq(o.write_on_exit_rc, UV_EPIPE);
    outcome_free(&o);
}
END_TEST

START_TEST(missing_program)
{
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    char *args[] = {"/nonexistent/program", NULL};
    mcpauth_child_options options = {
        .file = args[0], .args = args, .env = env_path, .max_line = 100};
    outcome o = {0};
    mcpauth_child *child = NULL;
    ck_assert_int_eq(mcpauth_child_spawn(&loop, &options, &callbacks, &o, &child), UV_ENOENT);
    ck_assert_ptr_null(child);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(o.exits + o.closes, 0);
}
END_TEST

static Suite *child_process_suite(void)
{
    Suite *s = suite_create("child_process");
    TCase *tc = tcase_create("child");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, lines_and_exit_status);
    tcase_add_test(tc, writes_reach_stdin);
    tcase_add_test(tc, stop_after_first_line);
    tcase_add_test(tc, term_ignored_then_kill);
    tcase_add_test(tc, stdout_line_limit);
    tcase_add_test(tc, line_exactly_at_limit);
    tcase_add_test(tc, stderr_lines_cut);
    tcase_add_test(tc, write_after_exit_fails);
    tcase_add_test(tc, missing_program);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(child_process_suite());
}
