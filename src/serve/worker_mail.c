/* Letters between the workers of one server, for what only one of them can
 * do: a legacy HTTP+SSE stream lives in the worker that opened it, so a
 * POST for it that the kernel gave to another worker is handed over.
 *
 * Each worker has an inbox: a SOCK_SEQPACKET socketpair made before the
 * fork, read on one end by its worker only, written on the other by any
 * worker. SEQPACKET keeps each letter whole and in order whoever writes; a
 * socketpair, unlike a named socket, is reachable by no other process. A
 * letter is one datagram when small, else a memfd passed with it
 * (SCM_RIGHTS): the kernel bounds a datagram well below a request body's
 * limit. Sends never block: a full inbox is an error the sender answers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve_internal.h"

/* The largest letter sent as a datagram (the default socket buffer holds
 * about 200 KiB); larger ones go in a memfd. */
#define INLINE_MAX   (48 * 1024)
#define INBOX_BUFFER (4 * 1024 * 1024)

/* A letter as it travels: this header, then each field and a NUL. */
typedef struct wire {
    uint32_t kind;
    int32_t from;
    int64_t from_pid;
    int64_t to_pid;
    uint64_t seq;
    int32_t status;
    int32_t extra;
    uint32_t in_memfd; /* the fields are in the memfd that came with it */
    uint64_t total;    /* bytes after the header */
    uint32_t lengths[MCPAUTH__SERVE_LETTER_FIELDS];
} wire;

struct mcpauth__serve_mail {
    uv_poll_t poll;
    int fd;
    size_t max_letter;
    mcpauth__serve_mail_cb cb;
    void *data;
    char buffer[sizeof(wire) + INLINE_MAX];
};

bool mcpauth__serve_mail_open(mcpauth__serve_shared *shared)
{
    shared->inboxes = calloc((size_t)shared->workers, sizeof *shared->inboxes);
    if (!shared->inboxes)
        return false;
    for (int i = 0; i < shared->workers; i++)
        shared->inboxes[i][0] = shared->inboxes[i][1] = -1;
    for (int i = 0; i < shared->workers; i++) {
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                       shared->inboxes[i]) != 0)
            return false;
        /* Every worker writes through this end: room for relayed streams
         * (the kernel caps it at net.core.wmem_max). */
        int size = INBOX_BUFFER;
        setsockopt(shared->inboxes[i][1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
    return true;
}

void mcpauth__serve_mail_close_all(mcpauth__serve_shared *shared)
{
    for (int i = 0; shared->inboxes && i < shared->workers; i++) {
        if (shared->inboxes[i][0] >= 0)
            close(shared->inboxes[i][0]);
        if (shared->inboxes[i][1] >= 0)
            close(shared->inboxes[i][1]);
    }
    free(shared->inboxes);
    shared->inboxes = NULL;
}

/* ---- sending ---- */

static int send_with_fd(int fd, const void *bytes, size_t length, int memfd)
{
    struct iovec iov = {.iov_base = (void *)bytes, .iov_len = length};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (memfd >= 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof control.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &memfd, sizeof memfd);
    }
    ssize_t n;
    do
        n = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)length ? 0 : n < 0 ? -errno : -EIO;
}

int mcpauth__serve_mail_send(const mcpauth__serve_shared *shared, int to,
                             const mcpauth__serve_letter *letter)
{
    if (!shared->inboxes || to < 0 || to >= shared->workers)
        return -EINVAL;
    wire head = {.kind = letter->kind,
                 .from = letter->from,
                 .from_pid = letter->from_pid,
                 .to_pid = letter->to_pid,
                 .seq = letter->seq,
                 .status = letter->status,
                 .extra = letter->extra};
    for (int i = 0; i < MCPAUTH__SERVE_LETTER_FIELDS; i++) {
        size_t n = letter->fields[i] ? letter->lengths[i] : 0;
        if (n > UINT32_MAX - 1)
            return -EMSGSIZE;
        head.lengths[i] = (uint32_t)n;
        head.total += n + 1;
    }
    char *bytes = malloc(sizeof head + head.total);
    if (!bytes)
        return -ENOMEM;
    char *p = bytes + sizeof head;
    for (int i = 0; i < MCPAUTH__SERVE_LETTER_FIELDS; i++) {
        if (head.lengths[i])
            memcpy(p, letter->fields[i], head.lengths[i]);
        p[head.lengths[i]] = '\0';
        p += head.lengths[i] + 1;
    }
    int rc;
    if (head.total <= INLINE_MAX) {
        memcpy(bytes, &head, sizeof head);
        rc = send_with_fd(shared->inboxes[to][1], bytes, sizeof head + head.total, -1);
    } else {
        head.in_memfd = 1;
        memcpy(bytes, &head, sizeof head);
        int memfd = memfd_create("mcpauth-letter", MFD_CLOEXEC);
        size_t done = 0;
        while (memfd >= 0 && done < head.total) {
            ssize_t n = write(memfd, bytes + sizeof head + done, head.total - done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            done += (size_t)n;
        }
        rc = memfd < 0           ? -errno
             : done < head.total ? -EIO
                                 : send_with_fd(shared->inboxes[to][1], bytes, sizeof head, memfd);
        if (memfd >= 0)
            close(memfd);
    }
    /* A letter may carry a bearer token: none stays behind in memory. */
    explicit_bzero(bytes, sizeof head + head.total);
    free(bytes);
    return rc;
}

/* ---- receiving ---- */

/* The fields of a letter that came in a memfd, read into a new buffer. */
static char *read_memfd(int memfd, uint64_t total, size_t max)
{
    struct stat st;
    if (total > max || fstat(memfd, &st) != 0 || (uint64_t)st.st_size != total)
        return NULL;
    char *fields = malloc(total ? total : 1);
    size_t done = 0;
    while (fields && done < total) {
        ssize_t n = pread(memfd, fields + done, total - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(fields);
            return NULL;
        }
        done += (size_t)n;
    }
    return fields;
}

/* Checks a letter's header against its fields and hands it on. A malformed
 * one (no worker of ours sends it) is dropped. */
static void deliver(mcpauth__serve_mail *mail, const wire *head, const char *fields)
{
    mcpauth__serve_letter letter = {.kind = head->kind,
                                    .from = head->from,
                                    .from_pid = head->from_pid,
                                    .to_pid = head->to_pid,
                                    .seq = head->seq,
                                    .status = head->status,
                                    .extra = head->extra};
    uint64_t at = 0;
    for (int i = 0; i < MCPAUTH__SERVE_LETTER_FIELDS; i++) {
        if (at + head->lengths[i] + 1 > head->total || fields[at + head->lengths[i]] != '\0')
            return;
        letter.fields[i] = fields + at;
        letter.lengths[i] = head->lengths[i];
        at += head->lengths[i] + 1;
    }
    mail->cb(&letter, mail->data);
}

static void on_readable(uv_poll_t *poll, int status, int events)
{
    mcpauth__serve_mail *mail = poll->data;
    (void)events;
    if (status < 0)
        return;
    for (;;) {
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } control;
        struct iovec iov = {.iov_base = mail->buffer, .iov_len = sizeof mail->buffer};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control.buf,
                             .msg_controllen = sizeof control.buf};
        ssize_t n = recvmsg(mail->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return; /* EAGAIN: all read */
        int memfd = -1;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&memfd, CMSG_DATA(c), sizeof memfd);
        wire head;
        if ((size_t)n >= sizeof head && !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
            memcpy(&head, mail->buffer, sizeof head);
            if (!head.in_memfd && head.total == (uint64_t)n - sizeof head) {
                deliver(mail, &head, mail->buffer + sizeof head);
            } else if (head.in_memfd && memfd >= 0 && (size_t)n == sizeof head) {
                char *fields = read_memfd(memfd, head.total, mail->max_letter);
                if (fields) {
                    deliver(mail, &head, fields);
                    explicit_bzero(fields, head.total);
                }
                free(fields);
            }
        }
        explicit_bzero(mail->buffer, (size_t)n);
        if (memfd >= 0)
            close(memfd);
    }
}

mcpauth__serve_mail *mcpauth__serve_mail_start(mcpauth__serve_context *ctx,
                                               mcpauth__serve_mail_cb cb, void *data)
{
    const mcpauth__serve_shared *shared = ctx->shared;
    if (!shared->inboxes)
        return NULL;
    mcpauth__serve_mail *mail = calloc(1, sizeof *mail);
    if (!mail)
        return NULL;
    mail->fd = shared->inboxes[ctx->worker][0];
    /* The largest a letter may be: a request body, or a backend's message
     * (one line of its output) in a relayed answer, with room for the rest. */
    size_t body = ctx->config->limits.max_body_bytes, line = ctx->config->backend.max_line;
    mail->max_letter = (body > line ? body : line) + 64 * 1024;
    mail->cb = cb;
    mail->data = data;
    if (uv_poll_init(ctx->loop, &mail->poll, mail->fd) != 0) {
        free(mail);
        return NULL;
    }
    mail->poll.data = mail;
    uv_poll_start(&mail->poll, UV_READABLE, on_readable);
    return mail;
}

static void on_mail_closed(uv_handle_t *handle)
{
    free(handle->data);
}

void mcpauth__serve_mail_stop(mcpauth__serve_mail *mail)
{
    if (mail)
        uv_close((uv_handle_t *)&mail->poll, on_mail_closed);
}

int mcpauth__serve_mail_worker_of(const mcpauth__serve_shared *shared, int64_t pid)
{
    for (int w = 0; pid > 0 && w < shared->workers; w++)
        if ((int64_t)__atomic_load_n(&shared->metrics[w].pid, __ATOMIC_RELAXED) == pid)
            return w;
    return -1;
}
