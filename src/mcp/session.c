/* The session table: sessions keyed by their random id, each bound to the
 * subject and client that created it, dropped when idle, bounded in number.
 *
 * It lives in one anonymous shared mapping made before `mcpauth serve` forks
 * its workers, so that every worker knows every session: the kernel spreads a
 * client's connections across the workers, and a session known only to the
 * one that created it would be 404 on the others. Hence a fixed layout with
 * no pointers into any process's heap, a fixed capacity, and one lock shared
 * by the processes:
 *
 *   header | records[max_sessions] | index[index size]
 *
 * The index is an open-addressing hash table (linear probing, backward-shift
 * deletion, at most half full) of record numbers plus one, 0 meaning empty.
 * Records come from a free list, else from those never used yet, so a large
 * table costs only the pages it has touched.
 *
 * A record keeps SHA-256 of the subject and of the client id rather than the
 * strings: a fixed size however long they are, and no copy of identities in
 * memory every worker maps.
 *
 * MCP Security Best Practices §Session Hijacking: ids come from a CSPRNG and
 * sessions are bound to the user, so a leaked id is useless to anyone else;
 * a session never authenticates anything (every request carries a token). */
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mcp_internal.h"
#include "mcpauth/secret.h"

/* Who a session belongs to. */
typedef struct session_owner {
    bool has_subject; /* false: anonymous */
    bool has_client;  /* false: no client id */
    uint8_t subject_hash[SHA256_DIGEST_SIZE];
    uint8_t client_hash[SHA256_DIGEST_SIZE];
} session_owner;

typedef struct session_record {
    int64_t last_used;
    int64_t pid; /* the process that created it, which holds its stream or child */
    session_owner owner;
    uint32_t next_free; /* while free: the next free record plus one; 0: none */
    bool in_use;
    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    char protocol_version[MCPAUTH__SESSION_VERSION_SIZE];
    char log_level[MCPAUTH__SESSION_LOG_LEVEL_SIZE];
} session_record;

struct mcpauth_mcp_sessions {
    pthread_mutex_t lock; /* process-shared and robust; guards all below that changes */
    size_t mapping_size;
    size_t records_offset; /* from the start of the mapping */
    size_t index_offset;
    uint32_t max_sessions;
    uint32_t index_mask; /* the index size minus one; the size is a power of two */
    int64_t idle_seconds;
    uint32_t count;     /* live sessions */
    uint32_t used;      /* records [0, used) have been handed out before */
    uint32_t free_head; /* a free record below used, plus one; 0: none */
    /* "LABEL-" every id starts with, or "" (mcpauth_mcp_sessions_set_instance). */
    char instance[MCPAUTH_MCP_INSTANCE_MAX + 2];
};

static session_record *records(mcpauth_mcp_sessions *table)
{
    return (session_record *)((char *)table + table->records_offset);
}

static uint32_t *index_slots(mcpauth_mcp_sessions *table)
{
    return (uint32_t *)((char *)table + table->index_offset);
}

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

bool mcpauth__session_id_valid(const char *text, size_t length)
{
    if (!text || length != MCPAUTH_MCP_SESSION_ID_LENGTH)
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-'))
            return false;
    }
    return true;
}

static bool is_session_id(const char *id)
{
    return id && mcpauth__session_id_valid(id, strnlen(id, MCPAUTH_MCP_SESSION_ID_LENGTH + 1));
}

static void copy_text(char *dst, size_t size, const char *src)
{
    size_t n = src ? strnlen(src, size - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

static void hash_text(const char *text, uint8_t out[SHA256_DIGEST_SIZE])
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, strlen(text), (const uint8_t *)text);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}

static void owner_of(const char *subject, const char *client_id, session_owner *out)
{
    memset(out, 0, sizeof *out);
    out->has_subject = subject != NULL;
    out->has_client = client_id != NULL;
    if (subject)
        hash_text(subject, out->subject_hash);
    if (client_id)
        hash_text(client_id, out->client_hash);
}

/* A missing subject or client matches only a missing one (anonymous, no
 * client), never an empty string. */
static bool same_owner(const session_owner *a, const session_owner *b)
{
    return a->has_subject == b->has_subject && a->has_client == b->has_client &&
           memcmp(a->subject_hash, b->subject_hash, sizeof a->subject_hash) == 0 &&
           memcmp(a->client_hash, b->client_hash, sizeof a->client_hash) == 0;
}

static bool expired(const mcpauth_mcp_sessions *table, const session_record *record, int64_t now)
{
    return table->idle_seconds > 0 && now - record->last_used >= table->idle_seconds;
}

static void copy_out(const session_record *record, mcpauth__session *out)
{
    memcpy(out->id, record->id, sizeof out->id);
    memcpy(out->protocol_version, record->protocol_version, sizeof out->protocol_version);
    memcpy(out->log_level, record->log_level, sizeof out->log_level);
    out->last_used = record->last_used;
}

/* --- the index ----------------------------------------------------------- */

static void insert_slot(mcpauth_mcp_sessions *table, uint32_t number)
{
    uint32_t *index = index_slots(table);
    size_t mask = table->index_mask;
    size_t i = hash_id(records(table)[number].id) & mask;
    while (index[i])
        i = (i + 1) & mask;
    index[i] = number + 1;
}

/* The in-use record with this id and its index slot, or NULL. */
static session_record *find_slot(mcpauth_mcp_sessions *table, const char *id, size_t *slot)
{
    session_record *recs = records(table);
    uint32_t *index = index_slots(table);
    size_t mask = table->index_mask;
    for (size_t i = hash_id(id) & mask; index[i]; i = (i + 1) & mask) {
        session_record *record = &recs[index[i] - 1];
        if (mcpauth_secret_equal(record->id, id)) {
            *slot = i;
            return record;
        }
    }
    return NULL;
}

static session_record *take_record(mcpauth_mcp_sessions *table, uint32_t *number)
{
    session_record *recs = records(table);
    if (table->free_head) {
        *number = table->free_head - 1;
        table->free_head = recs[*number].next_free;
    } else if (table->used < table->max_sessions) {
        *number = table->used++;
    } else {
        return NULL;
    }
    memset(&recs[*number], 0, sizeof recs[*number]);
    return &recs[*number];
}

/* Wipes the record (no identity hashes left behind) onto the free list. */
static void release_record(mcpauth_mcp_sessions *table, uint32_t number)
{
    session_record *record = &records(table)[number];
    memset(record, 0, sizeof *record);
    record->next_free = table->free_head;
    table->free_head = number + 1;
}

/* Ends the session in slot i and moves later members of its probe run back
 * so that no lookup meets a hole before its entry (Knuth vol. 3, §6.4
 * Algorithm R). */
static void delete_slot(mcpauth_mcp_sessions *table, size_t i)
{
    session_record *recs = records(table);
    uint32_t *index = index_slots(table);
    size_t mask = table->index_mask;
    release_record(table, index[i] - 1);
    index[i] = 0;
    table->count--;
    for (size_t j = (i + 1) & mask; index[j]; j = (j + 1) & mask) {
        size_t home = hash_id(recs[index[j] - 1].id) & mask;
        /* The entry at j may move to the hole at i unless its home lies
         * cyclically in (i, j]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        index[i] = index[j];
        index[j] = 0;
        i = j;
    }
}

static size_t sweep_locked(mcpauth_mcp_sessions *table, int64_t now)
{
    session_record *recs = records(table);
    for (uint32_t r = 0; r < table->used; r++) {
        size_t slot;
        if (recs[r].in_use && expired(table, &recs[r], now) &&
            find_slot(table, recs[r].id, &slot) == &recs[r])
            delete_slot(table, slot);
    }
    return table->count;
}

/* Rebuilds the index, the free list and the count from the records. A
 * process that died holding the lock may have left any of them half
 * changed; a record counts only once it is complete (in_use is set after
 * the rest), and one whose id is malformed or taken is dropped. */
static void repair(mcpauth_mcp_sessions *table)
{
    session_record *recs = records(table);
    memset(index_slots(table), 0, ((size_t)table->index_mask + 1) * sizeof(uint32_t));
    if (table->used > table->max_sessions)
        table->used = table->max_sessions;
    table->count = 0;
    table->free_head = 0;
    for (uint32_t r = table->used; r-- > 0;) {
        session_record *record = &recs[r];
        size_t slot;
        if (record->in_use && is_session_id(record->id) && !find_slot(table, record->id, &slot)) {
            record->protocol_version[sizeof record->protocol_version - 1] = '\0';
            record->log_level[sizeof record->log_level - 1] = '\0';
            insert_slot(table, r);
            table->count++;
        } else {
            release_record(table, r);
        }
    }
}

/* --- the lock ------------------------------------------------------------ */

bool mcpauth__session_lock(mcpauth_mcp_sessions *table)
{
    int rc = pthread_mutex_lock(&table->lock);
    if (rc == EOWNERDEAD) {
        /* The last holder died (a worker killed or crashed) while changing
         * the table. Without pthread_mutex_consistent() the lock would turn
         * unusable for every worker once released (ENOTRECOVERABLE). */
        repair(table);
        rc = pthread_mutex_consistent(&table->lock);
        if (rc != 0)
            pthread_mutex_unlock(&table->lock);
    }
    return rc == 0;
}

void mcpauth__session_unlock(mcpauth_mcp_sessions *table)
{
    pthread_mutex_unlock(&table->lock);
}

static bool init_lock(pthread_mutex_t *lock)
{
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0)
        return false;
    bool ok = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0 &&
              pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0 &&
              pthread_mutex_init(lock, &attr) == 0;
    pthread_mutexattr_destroy(&attr);
    return ok;
}

/* --- the table ----------------------------------------------------------- */

mcpauth_mcp_sessions *mcpauth_mcp_sessions_new(size_t max_sessions, int64_t idle_seconds)
{
    if (max_sessions > MCPAUTH_MCP_MAX_SESSIONS ||
        max_sessions > (SIZE_MAX / 4) / sizeof(session_record))
        return NULL;
    /* At most half full, so that probe runs stay short and end. */
    size_t index_size = 1;
    while (index_size < 2 * max_sessions)
        index_size *= 2;
    size_t records_offset = (sizeof(mcpauth_mcp_sessions) + alignof(session_record) - 1) /
                            alignof(session_record) * alignof(session_record);
    size_t index_offset = records_offset + max_sessions * sizeof(session_record);
    size_t mapping_size = index_offset + index_size * sizeof(uint32_t);

    /* Anonymous memory starts zeroed: no sessions, an empty index. Pages are
     * only backed once touched, hence MAP_NORESERVE for large tables. */
    void *mapping = mmap(NULL, mapping_size, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapping == MAP_FAILED)
        return NULL;
    mcpauth_mcp_sessions *table = mapping;
    if (!init_lock(&table->lock)) {
        munmap(mapping, mapping_size);
        return NULL;
    }
    table->mapping_size = mapping_size;
    table->records_offset = records_offset;
    table->index_offset = index_offset;
    table->max_sessions = (uint32_t)max_sessions;
    table->index_mask = (uint32_t)(index_size - 1);
    table->idle_seconds = idle_seconds;
    return table;
}

void mcpauth_mcp_sessions_free(mcpauth_mcp_sessions *table)
{
    if (!table)
        return;
    size_t mapping_size = table->mapping_size;
    pthread_mutex_destroy(&table->lock);
    munmap(table, mapping_size);
}

size_t mcpauth__session_sweep(mcpauth_mcp_sessions *table, int64_t now)
{
    if (!mcpauth__session_lock(table))
        return 0;
    size_t count = sweep_locked(table, now);
    mcpauth__session_unlock(table);
    return count;
}

bool mcpauth_mcp_instance_valid(const char *label)
{
    size_t length = label ? strlen(label) : 0;
    if (length == 0 || length > MCPAUTH_MCP_INSTANCE_MAX)
        return false;
    for (size_t i = 0; i < length; i++) {
        if (!((label[i] >= 'a' && label[i] <= 'z') || (label[i] >= '0' && label[i] <= '9')))
            return false;
    }
    return true;
}

bool mcpauth_mcp_sessions_set_instance(mcpauth_mcp_sessions *table, const char *label)
{
    if (!mcpauth_mcp_instance_valid(label))
        return false;
    snprintf(table->instance, sizeof table->instance, "%s-", label);
    return true;
}

/* The instance prefix, then lowercase hex from the CSPRNG to the full
 * length: at least 92 random bits, all visible ASCII (MCP transports
 * §Session Management: 0x21 to 0x7E). */
static bool random_id(const mcpauth_mcp_sessions *table,
                      char out[MCPAUTH_MCP_SESSION_ID_LENGTH + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char bytes[MCPAUTH_MCP_SESSION_ID_LENGTH];
    if (gnutls_rnd(GNUTLS_RND_RANDOM, bytes, sizeof bytes) != 0)
        return false;
    size_t prefix = strlen(table->instance);
    memcpy(out, table->instance, prefix);
    for (size_t i = prefix; i < MCPAUTH_MCP_SESSION_ID_LENGTH; i++)
        out[i] = hex[bytes[i] & 0x0f];
    out[MCPAUTH_MCP_SESSION_ID_LENGTH] = '\0';
    return true;
}

/* How many live sessions owner has at now, and its least recently used one.
 * A walk over the records handed out: one identity's sessions are not
 * linked, and the table holds few enough that the walk costs less than
 * the child process a session usually starts. */
static uint32_t count_owned(mcpauth_mcp_sessions *table, const session_owner *owner, int64_t now,
                            const session_record **oldest)
{
    session_record *recs = records(table);
    uint32_t owned = 0;
    *oldest = NULL;
    for (uint32_t r = 0; r < table->used; r++) {
        const session_record *record = &recs[r];
        if (!record->in_use || expired(table, record, now) || !same_owner(&record->owner, owner))
            continue;
        owned++;
        if (!*oldest || record->last_used < (*oldest)->last_used)
            *oldest = record;
    }
    return owned;
}

/* Adds a session under the lock; see mcpauth__session_create(). */
static mcpauth__session_status insert_locked(mcpauth_mcp_sessions *table, const char *id,
                                             const session_owner *owner,
                                             const char *protocol_version, size_t max_per_owner,
                                             int64_t now, mcpauth__session *out)
{
    if (max_per_owner > 0) {
        const session_record *oldest;
        if (count_owned(table, owner, now, &oldest) >= max_per_owner) {
            copy_out(oldest, out);
            return MCPAUTH__SESSION_OWNER_FULL;
        }
    }
    if (table->count >= table->max_sessions && sweep_locked(table, now) >= table->max_sessions)
        return MCPAUTH__SESSION_FULL;
    /* A collision of 128 random bits means the generator is broken: fail
     * rather than shadow a live session. */
    size_t slot;
    if (find_slot(table, id, &slot))
        return MCPAUTH__SESSION_NO_MEMORY;
    uint32_t number;
    session_record *record = take_record(table, &number);
    if (!record)
        return MCPAUTH__SESSION_NO_MEMORY;
    memcpy(record->id, id, sizeof record->id);
    record->owner = *owner;
    copy_text(record->protocol_version, sizeof record->protocol_version, protocol_version);
    record->last_used = now;
    record->pid = (int64_t)getpid();
    /* in_use last, and not reordered before the rest by the compiler: a
     * record counts (see repair()) only once complete. */
    atomic_signal_fence(memory_order_seq_cst);
    record->in_use = true;
    insert_slot(table, number);
    table->count++;
    copy_out(record, out);
    return MCPAUTH__SESSION_CREATED;
}

mcpauth__session_status mcpauth__session_create(mcpauth_mcp_sessions *table, const char *subject,
                                                const char *client_id, const char *protocol_version,
                                                size_t max_per_owner, int64_t now,
                                                mcpauth__session *out)
{
    memset(out, 0, sizeof *out);
    /* Drawn and hashed before taking the lock, to hold it only briefly. */
    char id[MCPAUTH_MCP_SESSION_ID_LENGTH + 1];
    session_owner owner;
    if (!random_id(table, id))
        return MCPAUTH__SESSION_NO_MEMORY;
    owner_of(subject, client_id, &owner);
    if (!mcpauth__session_lock(table))
        return MCPAUTH__SESSION_NO_MEMORY;
    mcpauth__session_status status =
        insert_locked(table, id, &owner, protocol_version, max_per_owner, now, out);
    mcpauth__session_unlock(table);
    return status;
}

bool mcpauth__session_find(mcpauth_mcp_sessions *table, const char *id, const char *subject,
                           const char *client_id, int64_t now, mcpauth__session *out)
{
    memset(out, 0, sizeof *out);
    if (!id || strnlen(id, MCPAUTH_MCP_SESSION_ID_LENGTH + 1) != MCPAUTH_MCP_SESSION_ID_LENGTH)
        return false;
    session_owner owner;
    owner_of(subject, client_id, &owner);
    if (!mcpauth__session_lock(table))
        return false;
    size_t slot;
    session_record *record = find_slot(table, id, &slot);
    bool found = false;
    if (record && expired(table, record, now)) {
        delete_slot(table, slot);
    } else if (record && same_owner(&record->owner, &owner)) {
        /* MCP Security Best Practices §Session Hijacking: a session belongs
         * to the subject and client that created it. */
        copy_out(record, out);
        found = true;
    }
    mcpauth__session_unlock(table);
    return found;
}

int64_t mcpauth__session_pid(mcpauth_mcp_sessions *table, const char *id, int64_t now)
{
    if (!is_session_id(id) || !mcpauth__session_lock(table))
        return 0;
    size_t slot;
    session_record *record = find_slot(table, id, &slot);
    int64_t pid = record && !expired(table, record, now) ? record->pid : 0;
    mcpauth__session_unlock(table);
    return pid;
}

bool mcpauth__session_alive(mcpauth_mcp_sessions *table, const char *id, int64_t now)
{
    if (!is_session_id(id) || !mcpauth__session_lock(table))
        return false;
    size_t slot;
    session_record *record = find_slot(table, id, &slot);
    bool alive = record && !expired(table, record, now);
    if (record && !alive)
        delete_slot(table, slot);
    mcpauth__session_unlock(table);
    return alive;
}

bool mcpauth__session_touch(mcpauth_mcp_sessions *table, const char *id, int64_t now)
{
    if (!mcpauth__session_lock(table))
        return false;
    size_t slot;
    session_record *record = find_slot(table, id, &slot);
    if (record)
        record->last_used = now;
    mcpauth__session_unlock(table);
    return record != NULL;
}

bool mcpauth__session_set_log_level(mcpauth_mcp_sessions *table, const char *id, const char *level)
{
    if (!mcpauth__session_lock(table))
        return false;
    size_t slot;
    session_record *record = find_slot(table, id, &slot);
    if (record)
        copy_text(record->log_level, sizeof record->log_level, level);
    mcpauth__session_unlock(table);
    return record != NULL;
}

bool mcpauth__session_remove(mcpauth_mcp_sessions *table, const char *id)
{
    if (!mcpauth__session_lock(table))
        return false;
    size_t slot;
    bool found = find_slot(table, id, &slot) != NULL;
    if (found)
        delete_slot(table, slot);
    mcpauth__session_unlock(table);
    return found;
}
