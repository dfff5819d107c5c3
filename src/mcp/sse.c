/* Server-Sent Events for the Streamable HTTP transport: event formatting
 * and the per-session replay buffer behind Last-Event-ID (MCP 2025-11-25
 * transports §Resumability and Redelivery). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"

typedef struct replay_event {
    struct replay_event *next;
    uint64_t stream;
    uint64_t seq;
    size_t length;
    char text[];
} replay_event;

struct mcpauth__sse_replay {
    replay_event *head, *tail; /* oldest first */
    size_t bytes;
    size_t max_bytes;
};

char *mcpauth__sse_event(uint64_t stream, uint64_t seq, const char *data, size_t length,
                         size_t *out_length)
{
    char head[MCPAUTH__SSE_MAX_ID + 16];
    int n = snprintf(head, sizeof head, "id: %" PRIu64 "-%" PRIu64 "\ndata: ", stream, seq);
    size_t total = (size_t)n + (data ? length : 0) + 2;
    char *event = malloc(total + 1);
    if (!event)
        return NULL;
    memcpy(event, head, (size_t)n);
    if (data)
        memcpy(event + n, data, length);
    memcpy(event + total - 2, "\n\n", 3);
    *out_length = total;
    return event;
}

static bool parse_number(const char *start, const char *end, uint64_t *out)
{
    if (start == end || end - start > 19)
        return false;
    uint64_t value = 0;
    for (const char *p = start; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        value = value * 10 + (uint64_t)(*p - '0');
    }
    *out = value;
    return true;
}

bool mcpauth__sse_parse_id(const char *text, uint64_t *stream, uint64_t *seq)
{
    const char *dash = strchr(text, '-');
    return dash && parse_number(text, dash, stream) &&
           parse_number(dash + 1, dash + 1 + strlen(dash + 1), seq);
}

mcpauth__sse_replay *mcpauth__sse_replay_new(size_t max_bytes)
{
    mcpauth__sse_replay *replay = calloc(1, sizeof *replay);
    if (replay)
        replay->max_bytes = max_bytes;
    return replay;
}

static void drop_oldest(mcpauth__sse_replay *replay)
{
    replay_event *e = replay->head;
    replay->head = e->next;
    if (!replay->head)
        replay->tail = NULL;
    replay->bytes -= e->length;
    free(e);
}

void mcpauth__sse_replay_free(mcpauth__sse_replay *replay)
{
    if (!replay)
        return;
    while (replay->head)
        drop_oldest(replay);
    free(replay);
}

bool mcpauth__sse_replay_add(mcpauth__sse_replay *replay, uint64_t stream, uint64_t seq,
                             const char *event, size_t length)
{
    if (length > replay->max_bytes)
        return false;
    replay_event *e = malloc(sizeof *e + length);
    if (!e)
        return false;
    while (replay->head && replay->bytes + length > replay->max_bytes)
        drop_oldest(replay);
    e->next = NULL;
    e->stream = stream;
    e->seq = seq;
    e->length = length;
    memcpy(e->text, event, length);
    if (replay->tail)
        replay->tail->next = e;
    else
        replay->head = e;
    replay->tail = e;
    replay->bytes += length;
    return true;
}

size_t mcpauth__sse_replay_since(const mcpauth__sse_replay *replay, uint64_t stream, uint64_t seq,
                                 mcpauth__sse_replay_cb cb, void *data)
{
    size_t count = 0;
    for (const replay_event *e = replay->head; e; e = e->next) {
        if (e->stream == stream && e->seq > seq) {
            cb(e->text, e->length, data);
            count++;
        }
    }
    return count;
}

size_t mcpauth__sse_replay_bytes(const mcpauth__sse_replay *replay)
{
    return replay->bytes;
}
