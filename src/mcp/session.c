/* The session table: sessions keyed by their random id in an open-addressing
 * hash table (linear probing, backward-shift deletion), each bound to the
 * subject and client that created it, dropped when idle, bounded in number.
 *
 * MCP Security Best Practices §Session Hijacking: ids come from a CSPRNG and
 * sessions are bound to the user, so a leaked id is useless to anyone else;
 * a session never authenticates anything (every request carries a token). */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "mcpauth/secret.h"

#define INITIAL_CAPACITY 16 /* slots; a power of two */

struct mcpauth__session_table {
    mcpauth__session **slots; /* NULL: empty */
    size_t capacity;          /* a power of two */
    size_t count;
    size_t max_sessions;
    int64_t idle_seconds;
};

/* FNV-1a. Ids are random, so their hash is as good as any; an id a client
 * makes up only decides where its own lookup starts probing. */
static size_t hash_id(const char *id)
{
    uint64_t hash = 14695981039346656037u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        hash ^= *p;
        hash *= 1099511628211u;
    }
    return (size_t)hash;
}

static void session_free(mcpauth__session *session)
{
    if (!session)
        return;
    free(session->subject);
    free(session->client_id);
    free(session);
}

static bool session_expired(const mcpauth__session_table *table, const mcpauth__session *session,
                            int64_t now)
{
    return table->idle_seconds > 0 && now - session->last_used >= table->idle_seconds;
}

mcpauth__session_table *mcpauth__session_table_new(size_t max_sessions, int64_t idle_seconds)
{
    mcpauth__session_table *table = calloc(1, sizeof *table);
    if (!table)
        return NULL;
    table->slots = calloc(INITIAL_CAPACITY, sizeof *table->slots);
    if (!table->slots) {
        free(table);
        return NULL;
    }
    table->capacity = INITIAL_CAPACITY;
    table->max_sessions = max_sessions;
    table->idle_seconds = idle_seconds;
    return table;
}

void mcpauth__session_table_free(mcpauth__session_table *table)
{
    if (!table)
        return;
    for (size_t i = 0; i < table->capacity; i++)
        session_free(table->slots[i]);
    free(table->slots);
    free(table);
}

static void insert_slot(mcpauth__session **slots, size_t capacity, mcpauth__session *session)
{
    size_t mask = capacity - 1;
    size_t i = hash_id(session->id) & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = session;
}

/* Keeps the load factor at most 1/2 so that probe sequences stay short. */
static bool reserve(mcpauth__session_table *table)
{
    if ((table->count + 1) * 2 <= table->capacity)
        return true;
    if (table->capacity > SIZE_MAX / 2 / sizeof *table->slots)
        return false;
    size_t capacity = table->capacity * 2;
    mcpauth__session **slots = calloc(capacity, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < table->capacity; i++) {
        if (table->slots[i])
            insert_slot(slots, capacity, table->slots[i]);
    }
    free(table->slots);
    table->slots = slots;
    table->capacity = capacity;
    return true;
}

/* Empties slot i and moves later members of its probe run back so that no
 * lookup meets a hole before its entry (Knuth vol. 3, §6.4 Algorithm R). */
static void delete_slot(mcpauth__session_table *table, size_t i)
{
    size_t mask = table->capacity - 1;
    session_free(table->slots[i]);
    table->slots[i] = NULL;
    table->count--;
    for (size_t j = (i + 1) & mask; table->slots[j]; j = (j + 1) & mask) {
        size_t home = hash_id(table->slots[j]->id) & mask;
        /* The entry at j may move to the hole at i unless its home lies
         * cyclically in (i, j]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        table->slots[i] = table->slots[j];
        table->slots[j] = NULL;
        i = j;
    }
}

size_t mcpauth__session_sweep(mcpauth__session_table *table, int64_t now)
{
    /* After a deletion slot i may hold a moved entry, so look at it again. */
    for (size_t i = 0; i < table->capacity;) {
        if (table->slots[i] && session_expired(table, table->slots[i], now))
            delete_slot(table, i);
        else
            i++;
    }
    return table->count;
}

/* 16 random bytes in lowercase hex: 128 bits from the CSPRNG, all visible
 * ASCII (MCP transports §Session Management: 0x21 to 0x7E). */
static bool random_id(char out[MCPAUTH_MCP_SESSION_ID_LENGTH + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char bytes[MCPAUTH_MCP_SESSION_ID_LENGTH / 2];
    if (gnutls_rnd(GNUTLS_RND_RANDOM, bytes, sizeof bytes) != 0)
        return false;
    for (size_t i = 0; i < sizeof bytes; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 0x0f];
    }
    out[MCPAUTH_MCP_SESSION_ID_LENGTH] = '\0';
    return true;
}

static mcpauth__session **find_slot(mcpauth__session_table *table, const char *id, size_t *index)
{
    size_t mask = table->capacity - 1;
    for (size_t i = hash_id(id) & mask; table->slots[i]; i = (i + 1) & mask) {
        if (mcpauth_secret_equal(table->slots[i]->id, id)) {
            *index = i;
            return &table->slots[i];
        }
    }
    return NULL;
}

static bool copy_optional(const char *text, char **out)
{
    *out = NULL;
    if (!text)
        return true;
    *out = strdup(text);
    return *out != NULL;
}

mcpauth__session_status mcpauth__session_create(mcpauth__session_table *table, const char *subject,
                                                const char *client_id, const char *protocol_version,
                                                int64_t now, mcpauth__session **out)
{
    *out = NULL;
    if (table->count >= table->max_sessions &&
        mcpauth__session_sweep(table, now) >= table->max_sessions)
        return MCPAUTH__SESSION_FULL;
    if (!reserve(table))
        return MCPAUTH__SESSION_NO_MEMORY;

    mcpauth__session *session = calloc(1, sizeof *session);
    if (!session)
        return MCPAUTH__SESSION_NO_MEMORY;
    if (!copy_optional(subject, &session->subject) ||
        !copy_optional(client_id, &session->client_id)) {
        session_free(session);
        return MCPAUTH__SESSION_NO_MEMORY;
    }
    /* A collision of 128 random bits means the generator is broken; retry
     * once anyway rather than shadow a live session. */
    size_t unused;
    for (int attempt = 0;; attempt++) {
        if (attempt == 2 || !random_id(session->id)) {
            session_free(session);
            return MCPAUTH__SESSION_NO_MEMORY;
        }
        if (!find_slot(table, session->id, &unused))
            break;
    }
    session->protocol_version = protocol_version;
    session->last_used = now;
    insert_slot(table->slots, table->capacity, session);
    table->count++;
    *out = session;
    return MCPAUTH__SESSION_CREATED;
}

/* NULL-safe equality: two NULLs are equal (both anonymous / no client). */
static bool same_optional(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

mcpauth__session *mcpauth__session_find(mcpauth__session_table *table, const char *id,
                                        const char *subject, const char *client_id, int64_t now)
{
    if (!id || strnlen(id, MCPAUTH_MCP_SESSION_ID_LENGTH + 1) != MCPAUTH_MCP_SESSION_ID_LENGTH)
        return NULL;
    size_t index;
    mcpauth__session **slot = find_slot(table, id, &index);
    if (!slot)
        return NULL;
    if (session_expired(table, *slot, now)) {
        delete_slot(table, index);
        return NULL;
    }
    /* MCP Security Best Practices §Session Hijacking: a session belongs to
     * the subject and client that created it. */
    if (!same_optional((*slot)->subject, subject) || !same_optional((*slot)->client_id, client_id))
        return NULL;
    return *slot;
}

void mcpauth__session_remove(mcpauth__session_table *table, mcpauth__session *session)
{
    size_t index;
    if (find_slot(table, session->id, &index) && table->slots[index] == session)
        delete_slot(table, index);
}
