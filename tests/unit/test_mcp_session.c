/* The MCP session table on its own: probing and deletion under load, idle
 * sweeps, the bound, binding to subject and client, and sharing it between
 * processes, including one that dies holding its lock. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/mcp/mcp_internal.h"
#include "testlib.h"

#define T0 1700000000

static void create(mcpauth_mcp_sessions *table, const char *subject, const char *client_id,
                   int64_t now, mcpauth__session *out)
{
    ck_assert_int_eq(mcpauth__session_create(table, subject, client_id, "2025-11-25", 0, now, out),
                     MCPAUTH__SESSION_CREATED);
    ck_assert_uint_eq(strlen(out->id), MCPAUTH_MCP_SESSION_ID_LENGTH);
}

static bool find(mcpauth_mcp_sessions *table, const char *id, const char *subject,
                 const char *client_id, int64_t now)
{
    mcpauth__session found;
    bool ok = mcpauth__session_find(table, id, subject, client_id, now, &found);
    if (ok)
        ck_assert_str_eq(found.id, id);
    return ok;
}

/* Child processes report through their exit status only: a Check assertion
 * failing there would be taken for the parent's. */
static pid_t fork_child(void)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    return pid;
}

static int wait_child(pid_t pid)
{
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "child ended by signal %d", WTERMSIG(status));
    return WEXITSTATUS(status);
}

START_TEST(create_and_find)
{
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(10, 60);
    ck_assert_ptr_nonnull(table);
    mcpauth__session s;
    create(table, "sub", "client", T0, &s);
    ck_assert_str_eq(s.protocol_version, "2025-11-25");
    ck_assert_str_eq(s.log_level, "");
    ck_assert_int_eq(s.last_used, T0);

    mcpauth__session found;
    ck_assert(mcpauth__session_find(table, s.id, "sub", "client", T0, &found));
    ck_assert_mem_eq(&found, &s, sizeof s);
    ck_assert(!find(table, s.id, "sub", "other", T0));
    ck_assert(!find(table, s.id, "other", "client", T0));
    ck_assert(!find(table, s.id, NULL, "client", T0));
    ck_assert(!find(table, s.id, "sub", NULL, T0));
    ck_assert(!find(table, NULL, "sub", "client", T0));
    ck_assert(!find(table, "", "sub", "client", T0));
    /* Someone else's attempt does not end it. */
    ck_assert(find(table, s.id, "sub", "client", T0));

    ck_assert(mcpauth__session_remove(table, s.id));
    ck_assert(!mcpauth__session_remove(table, s.id));
    ck_assert(!find(table, s.id, "sub", "client", T0));
    ck_assert(!mcpauth__session_touch(table, s.id, T0));
    ck_assert(!mcpauth__session_set_log_level(table, s.id, "debug"));
    ck_assert_uint_eq(mcpauth__session_sweep(table, T0), 0);
    mcpauth_mcp_sessions_free(table);
}
END_TEST

/* A fleet's instance label starts every id, the rest stays random hex; a
 * bad label is refused and changes nothing. */
START_TEST(instance_prefix)
{
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(8, 60);
    ck_assert_ptr_nonnull(table);
    mcpauth__session a, b;
    create(table, "s", "c", T0, &a);
    ck_assert_ptr_null(strchr(a.id, '-'));
    static const char *const bad[] = {"", "ABC", "a-b", "a.b", "123456789", "é"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert(!mcpauth_mcp_instance_valid(bad[i]));
        ck_assert(!mcpauth_mcp_sessions_set_instance(table, bad[i]));
    }
    ck_assert(!mcpauth_mcp_instance_valid(NULL));
    create(table, "s", "c", T0, &b);
    ck_assert_ptr_null(strchr(b.id, '-'));
    ck_assert(mcpauth_mcp_sessions_set_instance(table, "mcp2"));
    create(table, "s", "c", T0, &a);
    create(table, "s", "c", T0, &b);
    ck_assert(strncmp(a.id, "mcp2-", 5) == 0 && strncmp(b.id, "mcp2-", 5) == 0);
    ck_assert_str_ne(a.id, b.id);
    ck_assert_uint_eq(strspn(a.id + 5, "0123456789abcdef"), MCPAUTH_MCP_SESSION_ID_LENGTH - 5);
    ck_assert(find(table, a.id, "s", "c", T0));
    ck_assert(mcpauth_mcp_sessions_set_instance(table, "z0123456"));
    create(table, "s", "c", T0, &a);
    ck_assert(strncmp(a.id, "z0123456-", 9) == 0);
    ck_assert(find(table, b.id, "s", "c", T0));
    mcpauth_mcp_sessions_free(table);
}
END_TEST

START_TEST(anonymous_and_clientless)
{
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(10, 60);
    mcpauth__session anonymous, clientless;
    create(table, NULL, NULL, T0, &anonymous);
    create(table, "sub", NULL, T0, &clientless);
    ck_assert(find(table, anonymous.id, NULL, NULL, T0));
    ck_assert(!find(table, anonymous.id, "sub", NULL, T0));
    ck_assert(!find(table, anonymous.id, "", "", T0));
    ck_assert(find(table, clientless.id, "sub", NULL, T0));
    ck_assert(!find(table, clientless.id, "sub", "c", T0));
    ck_assert(!find(table, clientless.id, "sub", "", T0));
    mcpauth_mcp_sessions_free(table);
}
END_TEST

/* Only hashes are kept, so length makes no difference. */
START_TEST(long_identities)
{
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(10, 60);
    char *subject = malloc(10000), *other = malloc(10000);
    memset(subject, 's', 9999);
    subject[9999] = '\0';
    memcpy(other, subject, 10000);
    other[9998] = 't';
    mcpauth__session s;
    create(table, subject, subject, T0, &s);
    ck_assert(find(table, s.id, subject, subject, T0));
    ck_assert(!find(table, s.id, other, subject, T0));
    ck_assert(!find(table, s.id, subject, other, T0));
    free(other);
    free(subject);
    mcpauth_mcp_sessions_free(table);
}
END_TEST

START_TEST(expiry_on_find)
{
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(10, 60);
    mcpauth__session s, found;
    create(table, "sub", "c", T0, &s);
    ck_assert(mcpauth__session_find(table, s.id, "sub", "c", T0 + 59, &found));
    /* find does not touch; the engine does, after its checks. */
    ck_assert_int_eq(found.last_used, T0);
    ck_assert(!find(table, s.id, "sub", "c", T0 + 60));
    ck_assert_uint_eq(mcpauth__session_sweep(table, T0), 0);
    mcpauth_mcp_sessions_free(table);
}
END_TEST

START_TEST(touch_and_log_level)
{
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(10, 60);
    mcpauth__session s, found;
    create(table, "sub", "c", T0, &s);
    ck_assert(mcpauth__session_touch(table, s.id, T0 + 50));
    ck_assert(mcpauth__session_set_log_level(table, s.id, "emergency"));
    ck_assert(mcpauth__session_find(table, s.id, "sub", "c", T0 + 109, &found));
    ck_assert_int_eq(found.last_used, T0 + 50);
    ck_assert_str_eq(found.log_level, "emergency");
    ck_assert(!find(table, s.id, "sub", "c", T0 + 110));
    mcpauth_mcp_sessions_free(table);
}
END_TEST

START_TEST(no_idle_limit)
{
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(10, 0);
    mcpauth__session s;
    create(table, "sub", "c", T0, &s);
    ck_assert_uint_eq(mcpauth__session_sweep(table, T0 + 100000000), 1);
    mcpauth_mcp_sessions_free(table);
}
END_TEST

START_TEST(bound_and_room_from_idle)
{
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(2, 60);
    mcpauth__session s;
    create(table, "a", "c", T0, &s);
    create(table, "b", "c", T0 + 30, &s);
    ck_assert_int_eq(mcpauth__session_create(table, "c", "c", "2025-11-25", 0, T0 + 59, &s),
                     MCPAUTH__SESSION_FULL);
    ck_assert_str_eq(s.id, "");
    /* At T0 + 60 the first is idle and makes room. */
    create(table, "c", "c", T0 + 60, &s);
    ck_assert_uint_eq(mcpauth__session_sweep(table, T0 + 60), 2);

    mcpauth_mcp_sessions *none = mcpauth_mcp_sessions_new(0, 60);
    ck_assert_ptr_nonnull(none);
    ck_assert_int_eq(mcpauth__session_create(none, "c", "c", "2025-11-25", 0, T0, &s),
                     MCPAUTH__SESSION_FULL);
    ck_assert(!find(none, "0123456789abcdef0123456789abcdef", "c", "c", T0));
    mcpauth_mcp_sessions_free(none);
    mcpauth_mcp_sessions_free(table);

    ck_assert_ptr_null(mcpauth_mcp_sessions_new((size_t)MCPAUTH_MCP_MAX_SESSIONS + 1, 60));
}
END_TEST

static mcpauth__session_status create_limited(mcpauth_mcp_sessions *table, const char *subject,
                                              const char *client_id, size_t limit, int64_t now,
                                              mcpauth__session *out)
{
    return mcpauth__session_create(table, subject, client_id, "2025-11-25", limit, now, out);
}

/* The per-owner limit: an owner is its subject and client together
 * (anonymous is one owner too); its live sessions count, expired ones do
 * not; at the limit *out is its least recently used session; the limit is
 * checked before the table's, so one owner never fills it. */
START_TEST(owner_limit)
{
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(8, 60);
    mcpauth__session s[3], refused;
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(create_limited(table, "sub", "c", 3, T0 + (int64_t)i, &s[i]),
                         MCPAUTH__SESSION_CREATED);
    ck_assert(mcpauth__session_touch(table, s[0].id, T0 + 5));
    ck_assert_int_eq(create_limited(table, "sub", "c", 3, T0 + 6, &refused),
                     MCPAUTH__SESSION_OWNER_FULL);
    ck_assert_str_eq(refused.id, s[1].id);
    ck_assert_int_eq(refused.last_used, T0 + 1);
    ck_assert_uint_eq(mcpauth__session_sweep(table, T0 + 6), 3);

    /* Other owners: another subject, another client, no client, nobody. */
    mcpauth__session other;
    ck_assert_int_eq(create_limited(table, "sub2", "c", 3, T0 + 6, &other),
                     MCPAUTH__SESSION_CREATED);
    ck_assert_int_eq(create_limited(table, "sub", "c2", 3, T0 + 6, &other),
                     MCPAUTH__SESSION_CREATED);
    ck_assert_int_eq(create_limited(table, "sub", NULL, 3, T0 + 6, &other),
                     MCPAUTH__SESSION_CREATED);
    for (size_t i = 0; i < 2; i++)
        ck_assert_int_eq(create_limited(table, NULL, NULL, 2, T0 + 6, &other),
                         MCPAUTH__SESSION_CREATED);
    ck_assert_int_eq(create_limited(table, NULL, NULL, 2, T0 + 6, &other),
                     MCPAUTH__SESSION_OWNER_FULL);

    /* Ending one makes room; so does expiry (s[1] at T0 + 61). */
    ck_assert(mcpauth__session_remove(table, s[2].id));
    ck_assert_int_eq(create_limited(table, "sub", "c", 3, T0 + 7, &s[2]), MCPAUTH__SESSION_CREATED);
    ck_assert_int_eq(create_limited(table, "sub", "c", 3, T0 + 60, &other),
                     MCPAUTH__SESSION_OWNER_FULL);
    ck_assert_int_eq(create_limited(table, "sub", "c", 3, T0 + 61, &other),
                     MCPAUTH__SESSION_CREATED);

    /* 0: no limit, but the table's. */
    mcpauth_mcp_sessions_free(table);
    table = mcpauth_mcp_sessions_new(4, 60);
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(create_limited(table, "sub", "c", 0, T0, &other),
                         MCPAUTH__SESSION_CREATED);
    ck_assert_int_eq(create_limited(table, "sub", "c", 0, T0, &other), MCPAUTH__SESSION_FULL);
    mcpauth_mcp_sessions_free(table);
}
END_TEST

/* The limit holds for sessions made by several processes at once: the
 * count is taken under the table's lock. */
START_TEST(owner_limit_across_processes)
{
    enum { PROCS = 4, EACH = 10, LIMIT = 16 };
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(1000, 60);
    pid_t pids[PROCS];
    for (size_t p = 0; p < PROCS; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0) {
            mcpauth__session out;
            for (size_t i = 0; i < EACH; i++)
                create_limited(table, "flood", "c", LIMIT, T0, &out);
            _exit(0);
        }
    }
    for (size_t p = 0; p < PROCS; p++)
        waitpid(pids[p], NULL, 0);
    ck_assert_uint_eq(mcpauth__session_sweep(table, T0), LIMIT);
    mcpauth__session other;
    ck_assert_int_eq(create_limited(table, "other", "c", LIMIT, T0, &other),
                     MCPAUTH__SESSION_CREATED);
    mcpauth_mcp_sessions_free(table);
}
END_TEST

/* A full table whose sessions keep ending and starting reuses its records. */
START_TEST(records_reused)
{
    enum { N = 8 };
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(N, 0);
    mcpauth__session s[N];
    for (size_t i = 0; i < N; i++)
        create(table, "sub", "c", T0, &s[i]);
    for (size_t round = 0; round < 100; round++) {
        size_t k = (round * 5) % N;
        ck_assert(mcpauth__session_remove(table, s[k].id));
        create(table, "sub", "c", T0, &s[k]);
        ck_assert_int_eq(
            mcpauth__session_create(table, "x", "c", "2025-11-25", 0, T0, &(mcpauth__session){0}),
            MCPAUTH__SESSION_FULL);
    }
    for (size_t i = 0; i < N; i++)
        ck_assert(find(table, s[i].id, "sub", "c", T0));
    ck_assert_uint_eq(mcpauth__session_sweep(table, T0), N);
    mcpauth_mcp_sessions_free(table);
}
END_TEST

/* Many sessions with staggered last use, swept in steps: every survivor
 * must stay reachable after the backward shifts. */
START_TEST(sweep_under_load)
{
    enum { N = 2000 };
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(N, 100);
    char(*ids)[MCPAUTH_MCP_SESSION_ID_LENGTH + 1] = calloc(N, sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    for (size_t i = 0; i < N; i++) {
        mcpauth__session s;
        create(table, "sub", "c", T0 + (int64_t)(i % 50), &s);
        memcpy(ids[i], s.id, sizeof ids[i]);
    }
    for (int64_t step = 0; step <= 50; step += 7) {
        int64_t now = T0 + 100 + step;
        size_t live = 0;
        for (size_t i = 0; i < N; i++)
            live += (int64_t)(i % 50) > step;
        ck_assert_uint_eq(mcpauth__session_sweep(table, now), live);
        for (size_t i = 0; i < N; i++)
            ck_assert_int_eq(find(table, ids[i], "sub", "c", now), (int64_t)(i % 50) > step);
    }
    free(ids);
    mcpauth_mcp_sessions_free(table);
}
END_TEST

/* Removing in an order unrelated to insertion keeps the rest reachable. */
START_TEST(remove_under_load)
{
    enum { N = 1000 };
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(N, 0);
    char(*ids)[MCPAUTH_MCP_SESSION_ID_LENGTH + 1] = calloc(N, sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    for (size_t i = 0; i < N; i++) {
        mcpauth__session s;
        create(table, "sub", "c", T0, &s);
        memcpy(ids[i], s.id, sizeof ids[i]);
    }
    for (size_t i = 0; i < N; i += 2) {
        size_t k = (i * 7919) % N;
        if (find(table, ids[k], "sub", "c", T0)) {
            ck_assert(mcpauth__session_remove(table, ids[k]));
            ids[k][0] = '\0';
        }
    }
    size_t live = 0;
    for (size_t i = 0; i < N; i++) {
        if (!ids[i][0])
            continue;
        live++;
        ck_assert(find(table, ids[i], "sub", "c", T0));
    }
    ck_assert_uint_eq(mcpauth__session_sweep(table, T0), live);
    ck_assert_uint_lt(live, N);
    free(ids);
    mcpauth_mcp_sessions_free(table);
}
END_TEST

/* What `mcpauth serve` relies on: a session one worker creates, touches or
 * ends is seen so by the others, with the same binding. */
START_TEST(shared_between_processes)
{
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(10, 60);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork_child();
    if (pid == 0) {
        mcpauth__session s;
        bool ok = mcpauth__session_create(table, "sub", "client", "2025-06-18", 0, T0, &s) ==
                      MCPAUTH__SESSION_CREATED &&
                  mcpauth__session_touch(table, s.id, T0 + 50) &&
                  mcpauth__session_set_log_level(table, s.id, "debug") &&
                  write(fds[1], s.id, sizeof s.id) == (ssize_t)sizeof s.id;
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    ck_assert_int_eq(wait_child(pid), 0);
    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    ck_assert_int_eq(read(fds[0], id, sizeof id), sizeof id);
    close(fds[0]);

    mcpauth__session found;
    ck_assert(mcpauth__session_find(table, id, "sub", "client", T0 + 100, &found));
    ck_assert_str_eq(found.protocol_version, "2025-06-18");
    ck_assert_str_eq(found.log_level, "debug");
    ck_assert_int_eq(found.last_used, T0 + 50);
    ck_assert(!find(table, id, "sub", "other", T0 + 100));
    ck_assert(!find(table, id, "other", "client", T0 + 100));
    ck_assert(!find(table, id, NULL, NULL, T0 + 100));
    ck_assert_uint_eq(mcpauth__session_sweep(table, T0 + 100), 1);

    /* The parent's session, ended by a child: gone here too. */
    mcpauth__session mine;
    create(table, "me", NULL, T0 + 100, &mine);
    pid = fork_child();
    if (pid == 0)
        _exit(find(table, mine.id, "me", NULL, T0 + 100) &&
                      !find(table, mine.id, "sub", "client", T0 + 100) &&
                      mcpauth__session_remove(table, mine.id)
                  ? 0
                  : 1);
    ck_assert_int_eq(wait_child(pid), 0);
    ck_assert(!find(table, mine.id, "me", NULL, T0 + 100));

    /* The child's session, ended here: gone for a child too. */
    ck_assert(mcpauth__session_remove(table, id));
    pid = fork_child();
    if (pid == 0)
        _exit(!find(table, id, "sub", "client", T0 + 100) &&
                      mcpauth__session_sweep(table, T0 + 100) == 0
                  ? 0
                  : 1);
    ck_assert_int_eq(wait_child(pid), 0);
    mcpauth_mcp_sessions_free(table);
}
END_TEST

/* A worker that dies holding the lock (killed, crashed) must not wedge the
 * others: the next taker gets EOWNERDEAD, repairs and carries on, whether it
 * was already waiting or comes later. */
START_TEST(holder_dies)
{
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(10, 0);
    mcpauth__session before;
    create(table, "sub", "c", T0, &before);
    for (int waiting = 0; waiting < 2; waiting++) {
        int fds[2];
        ck_assert_int_eq(pipe(fds), 0);
        pid_t pid = fork_child();
        if (pid == 0) {
            if (!mcpauth__session_lock(table))
                _exit(1);
            if (write(fds[1], "x", 1) != 1)
                _exit(1);
            if (waiting)
                usleep(100 * 1000);
            _exit(0);
        }
        close(fds[1]);
        char byte;
        ck_assert_int_eq(read(fds[0], &byte, 1), 1);
        close(fds[0]);
        if (!waiting)
            ck_assert_int_eq(wait_child(pid), 0);
        /* Waits for the child to exit when it still holds the lock. */
        ck_assert(find(table, before.id, "sub", "c", T0));
        if (waiting)
            ck_assert_int_eq(wait_child(pid), 0);

        mcpauth__session s;
        create(table, "sub", "c", T0, &s);
        ck_assert(find(table, s.id, "sub", "c", T0));
        ck_assert(mcpauth__session_remove(table, s.id));
        ck_assert_uint_eq(mcpauth__session_sweep(table, T0), 1);
    }
    mcpauth_mcp_sessions_free(table);
}
END_TEST

/* Children killed at random points of creating and ending sessions, some
 * while holding the lock halfway through a change: afterwards the parent's
 * sessions are all there and the table works. */
START_TEST(holder_killed_midway)
{
    enum { MINE = 8 };
    mcpauth_mcp_sessions *table = mcpauth_mcp_sessions_new(64, 60);
    mcpauth__session mine[MINE];
    for (size_t i = 0; i < MINE; i++)
        create(table, "parent", NULL, T0, &mine[i]);
    for (int round = 1; round <= 20; round++) {
        pid_t pid = fork_child();
        if (pid == 0) {
            /* Sessions last used at T0, so that the parent's sweep drops
             * any the kill leaves behind. */
            for (;;) {
                mcpauth__session s;
                if (mcpauth__session_create(table, "child", NULL, "2025-11-25", 0, T0, &s) ==
                    MCPAUTH__SESSION_CREATED)
                    mcpauth__session_remove(table, s.id);
            }
        }
        usleep((useconds_t)(500 + round * 150));
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);

        int64_t now = T0 + 1000 * round;
        for (size_t i = 0; i < MINE; i++)
            ck_assert(mcpauth__session_touch(table, mine[i].id, now));
        ck_assert_uint_eq(mcpauth__session_sweep(table, now), MINE);
        for (size_t i = 0; i < MINE; i++)
            ck_assert(find(table, mine[i].id, "parent", NULL, now));
        mcpauth__session s;
        create(table, "parent", NULL, now, &s);
        ck_assert(mcpauth__session_remove(table, s.id));
    }
    mcpauth_mcp_sessions_free(table);
}
END_TEST

static Suite *mcp_session_suite(void)
{
    Suite *s = suite_create("mcp_session");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, create_and_find);
    tcase_add_test(tc, anonymous_and_clientless);
    tcase_add_test(tc, instance_prefix);
    tcase_add_test(tc, long_identities);
    tcase_add_test(tc, expiry_on_find);
    tcase_add_test(tc, touch_and_log_level);
    tcase_add_test(tc, no_idle_limit);
    tcase_add_test(tc, bound_and_room_from_idle);
    tcase_add_test(tc, records_reused);
    tcase_add_test(tc, owner_limit);
    tcase_add_test(tc, sweep_under_load);
    tcase_add_test(tc, remove_under_load);
    suite_add_tcase(s, tc);

    tc = tcase_create("processes");
    tcase_add_test(tc, shared_between_processes);
    tcase_add_test(tc, owner_limit_across_processes);
    tcase_add_test(tc, holder_dies);
    tcase_add_test(tc, holder_killed_midway);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(mcp_session_suite());
}
