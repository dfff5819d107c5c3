/* The requestState of the era bridge's InputRequiredResult (MCP 2026-07-28
 * basic/patterns/mrtr §Server Requirements 4 and 5): it passes through the
 * client, so it is sealed with AES-256-GCM (NIST SP 800-38D) under a key
 * that never leaves the process, and carries what a retry is checked
 * against: the principal it was given to, an expiry, the pending call it
 * names and that call's round. A fresh random 96-bit nonce per state; the
 * tag check is the AEAD's own (constant time in GnuTLS). */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "mcpauth/base64url.h"

#define STATE_VERSION 1
#define NONCE_SIZE    12
#define TAG_SIZE      16
#define PLAIN_SIZE    (MCPAUTH__REQUEST_STATE_OWNER_SIZE + 8 + 8 + 8)
#define SEALED_SIZE   (1 + NONCE_SIZE + PLAIN_SIZE + TAG_SIZE)
/* base64url of SEALED_SIZE bytes, with room: longer text is not ours. */
#define MAX_TEXT ((SEALED_SIZE + 2) / 3 * 4 + 4)

/* Bound into the tag as associated data, so that a blob sealed for another
 * purpose under the same key could never pass as a state. */
static const char aad[] = "mcpauth requestState v1";

struct mcpauth__request_state_key {
    unsigned char bytes[32];
};

mcpauth__request_state_key *mcpauth__request_state_key_new(void)
{
    mcpauth__request_state_key *key = malloc(sizeof *key);
    if (key && gnutls_rnd(GNUTLS_RND_KEY, key->bytes, sizeof key->bytes) != 0) {
        free(key);
        return NULL;
    }
    return key;
}

void mcpauth__request_state_key_free(mcpauth__request_state_key *key)
{
    if (!key)
        return;
    gnutls_memset(key->bytes, 0, sizeof key->bytes);
    free(key);
}

void mcpauth__request_state_owner(const char *subject, const char *client_id,
                                  unsigned char owner[MCPAUTH__REQUEST_STATE_OWNER_SIZE])
{
    /* Presence flags before each part, so that (NULL, "") and ("", NULL)
     * and ("a", "b") and ("ab", NULL) all differ. */
    gnutls_hash_hd_t hash;
    memset(owner, 0, MCPAUTH__REQUEST_STATE_OWNER_SIZE);
    if (gnutls_hash_init(&hash, GNUTLS_DIG_SHA256) != 0)
        return;
    const char *parts[2] = {subject, client_id};
    for (size_t i = 0; i < 2; i++) {
        unsigned char present = parts[i] != NULL;
        gnutls_hash(hash, &present, 1);
        if (parts[i])
            gnutls_hash(hash, parts[i], strlen(parts[i]) + 1);
    }
    gnutls_hash_deinit(hash, owner);
}

static void put64(unsigned char *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (unsigned char)(v & 0xff);
}

static uint64_t get64(const unsigned char *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | in[i];
    return v;
}

static bool cipher_open(const mcpauth__request_state_key *key, gnutls_aead_cipher_hd_t *h)
{
    gnutls_datum_t k = {.data = (unsigned char *)key->bytes, .size = sizeof key->bytes};
    return gnutls_aead_cipher_init(h, GNUTLS_CIPHER_AES_256_GCM, &k) == 0;
}

char *mcpauth__request_state_seal(const mcpauth__request_state_key *key,
                                  const mcpauth__request_state *state)
{
    unsigned char plain[PLAIN_SIZE], sealed[SEALED_SIZE];
    memcpy(plain, state->owner, MCPAUTH__REQUEST_STATE_OWNER_SIZE);
    put64(plain + MCPAUTH__REQUEST_STATE_OWNER_SIZE, (uint64_t)state->expires_ms);
    put64(plain + MCPAUTH__REQUEST_STATE_OWNER_SIZE + 8, state->handle);
    put64(plain + MCPAUTH__REQUEST_STATE_OWNER_SIZE + 16, state->round);
    sealed[0] = STATE_VERSION;
    gnutls_aead_cipher_hd_t h;
    if (gnutls_rnd(GNUTLS_RND_NONCE, sealed + 1, NONCE_SIZE) != 0 || !cipher_open(key, &h))
        return NULL;
    size_t out_length = PLAIN_SIZE + TAG_SIZE;
    int rc = gnutls_aead_cipher_encrypt(h, sealed + 1, NONCE_SIZE, aad, sizeof aad - 1, TAG_SIZE,
                                        plain, sizeof plain, sealed + 1 + NONCE_SIZE, &out_length);
    gnutls_aead_cipher_deinit(h);
    gnutls_memset(plain, 0, sizeof plain);
    if (rc != 0 || out_length != PLAIN_SIZE + TAG_SIZE)
        return NULL;
    return mcpauth_base64url_encode(sealed, sizeof sealed);
}

mcpauth__request_state_status
mcpauth__request_state_open(const mcpauth__request_state_key *key, const char *text,
                            const unsigned char owner[MCPAUTH__REQUEST_STATE_OWNER_SIZE],
                            int64_t now_ms, mcpauth__request_state *out)
{
    size_t length = text ? strnlen(text, MAX_TEXT + 1) : 0;
    if (length == 0 || length > MAX_TEXT)
        return MCPAUTH__REQUEST_STATE_FORGED;
    size_t n = 0;
    uint8_t *sealed = mcpauth_base64url_decode(text, length, &n);
    if (!sealed)
        return MCPAUTH__REQUEST_STATE_FORGED;
    unsigned char plain[PLAIN_SIZE];
    size_t plain_length = sizeof plain;
    gnutls_aead_cipher_hd_t h;
    bool opened = n == SEALED_SIZE && sealed[0] == STATE_VERSION && cipher_open(key, &h);
    if (opened) {
        opened = gnutls_aead_cipher_decrypt(h, sealed + 1, NONCE_SIZE, aad, sizeof aad - 1,
                                            TAG_SIZE, sealed + 1 + NONCE_SIZE,
                                            PLAIN_SIZE + TAG_SIZE, plain, &plain_length) == 0 &&
                 plain_length == PLAIN_SIZE;
        gnutls_aead_cipher_deinit(h);
    }
    free(sealed);
    if (!opened)
        return MCPAUTH__REQUEST_STATE_FORGED;
    memcpy(out->owner, plain, MCPAUTH__REQUEST_STATE_OWNER_SIZE);
    out->expires_ms = (int64_t)get64(plain + MCPAUTH__REQUEST_STATE_OWNER_SIZE);
    out->handle = get64(plain + MCPAUTH__REQUEST_STATE_OWNER_SIZE + 8);
    out->round = get64(plain + MCPAUTH__REQUEST_STATE_OWNER_SIZE + 16);
    gnutls_memset(plain, 0, sizeof plain);
    /* Both digests are ours (the sealed one authenticated): comparing them
     * reveals nothing, but it costs nothing to do it in constant time. */
    if (gnutls_memcmp(out->owner, owner, MCPAUTH__REQUEST_STATE_OWNER_SIZE) != 0)
        return MCPAUTH__REQUEST_STATE_FOREIGN;
    if (now_ms >= out->expires_ms)
        return MCPAUTH__REQUEST_STATE_EXPIRED;
    return MCPAUTH__REQUEST_STATE_OK;
}
