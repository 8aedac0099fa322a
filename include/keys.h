/*
 * keys.h: the key hierarchy of an account (docs/FORMAT.md, "Keys").
 *
 *   secret ──Argon2id(salt, ops, mem)──► s ─┐
 *                                           ├─ BLAKE2b-256(key=pepper) ─► KEK_secret
 *   pepper (file outside the database) ─────┘
 *   recovery code ─ normalised ─────────────── BLAKE2b-256(key=pepper) ─► KEK_recovery
 *
 *   KEK_* ─XChaCha20-Poly1305, AD = "VSK1"‖account id‖pk─► wrapped X25519 secret key
 *   document key ─crypto_box_seal to pk─► one wrapping row per (document, holder)
 *
 * Invariants: an unwrapped secret key, a pepper, a KEK, a document key and a
 * recovery code live only in sodium_malloc memory and are freed with
 * sodium_free (which wipes). Nothing here logs.
 */
#ifndef KEYS_H
#define KEYS_H

#include <sodium.h>
#include <stdint.h>

#include "vault.h"

#define KEYS_PEPPER_LEN 32
#define KEYS_SALT_LEN crypto_pwhash_SALTBYTES              /* 16 */
#define KEYS_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES /* 24 */
#define KEYS_PK_LEN crypto_box_PUBLICKEYBYTES              /* 32 */
#define KEYS_SK_LEN crypto_box_SECRETKEYBYTES              /* 32 */
#define KEYS_WRAPPED_SK_LEN (KEYS_SK_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define KEYS_DOCKEY_LEN crypto_secretstream_xchacha20poly1305_KEYBYTES /* 32 */
/* sealed box of "VDK1" ‖ document id ‖ document key */
#define KEYS_DOCKEY_PAYLOAD_LEN (4 + VAULT_ID_LEN + KEYS_DOCKEY_LEN)
#define KEYS_SEALED_DOCKEY_LEN (KEYS_DOCKEY_PAYLOAD_LEN + crypto_box_SEALBYTES)

/* Recovery codes: 28 symbols from an alphabet without look-alikes (no 0, O,
 * 1, I, L), shown as seven groups of four: "K7QM-2XPA-…". 28 × log2(31) ≈
 * 138 bits. Input is accepted in any case, with or without dashes and spaces. */
#define KEYS_RECOVERY_SYMBOLS 28
#define KEYS_RECOVERY_TEXT_LEN (KEYS_RECOVERY_SYMBOLS + KEYS_RECOVERY_SYMBOLS / 4 - 1)
#define KEYS_RECOVERY_ALPHABET "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

#define KEYS_SECRET_MAX_LEN 1024

/* Argon2id cost, recorded per account so that it can be raised later. */
struct keys_pwparams {
	uint64_t opslimit;
	uint64_t memlimit; /* bytes */
};

/* What the database keeps of an account's keys: public parts and wrappings. */
struct keys_record {
	vault_id account_id;
	uint8_t pk[KEYS_PK_LEN];
	struct keys_pwparams pw;
	uint8_t pw_salt[KEYS_SALT_LEN];
	uint8_t pw_nonce[KEYS_NONCE_LEN];
	uint8_t pw_wrapped_sk[KEYS_WRAPPED_SK_LEN];
	uint8_t rec_salt[KEYS_SALT_LEN];
	uint8_t rec_nonce[KEYS_NONCE_LEN];
	uint8_t rec_wrapped_sk[KEYS_WRAPPED_SK_LEN];
};

/* Default Argon2id cost of this build (see SECURITY.md for the reasons). */
extern const struct keys_pwparams keys_pwparams_default;

/* Returns 1 if a is weaker than b in time or memory, else 0. */
int keys_pwparams_weaker(const struct keys_pwparams *a,
    const struct keys_pwparams *b);

/* Checks a cost against libsodium's bounds: VAULT_ERR_FORMAT if outside. */
vault_err keys_pwparams_check(const struct keys_pwparams *p);

/*
 * Key files (the pepper, the instance signing seed): 32 random bytes, 0600.
 * keys_file_create writes a new one (O_EXCL: never overwrites) and fsyncs
 * it and its directory. keys_pepper_load reads one into read-only guarded
 * memory; *pepperp is set to NULL first. A file of the wrong size is
 * VAULT_ERR_FORMAT; one readable by group or others is VAULT_ERR_AUTH
 * (refused, as ssh refuses a private key with loose permissions).
 */
vault_err keys_file_create(const char *path);
vault_err keys_pepper_load(const char *path, uint8_t **pepperp);
void keys_pepper_free(uint8_t *pepper);

/*
 * Creates an account's key pair, wraps the secret key under the secret and
 * under a fresh recovery code. On success rec is filled, *recovery_codep
 * points to KEYS_RECOVERY_TEXT_LEN+1 bytes of guarded memory holding the
 * code (the caller shows it once and frees it with sodium_free), and, if
 * skp is not NULL, *skp holds the unwrapped secret key (guarded memory).
 */
vault_err keys_account_create(const vault_id *account_id, const char *secret,
    size_t secret_len, const uint8_t *pepper,
    const struct keys_pwparams *params, struct keys_record *rec,
    char **recovery_codep, uint8_t **skp);

/* Unwraps the secret key with the account's secret. VAULT_ERR_AUTH on a wrong
 * secret or pepper. *skp is NULL on failure, guarded memory on success. */
vault_err keys_unlock_secret(const struct keys_record *rec, const char *secret,
    size_t secret_len, const uint8_t *pepper, uint8_t **skp);

/* Unwraps the secret key with the recovery code (any case, dashes and
 * spaces ignored). VAULT_ERR_FORMAT if the text is not a code at all,
 * VAULT_ERR_AUTH if it is the wrong code. */
vault_err keys_unlock_recovery(const struct keys_record *rec, const char *code,
    const uint8_t *pepper, uint8_t **skp);

/* Re-wraps sk under a new secret with the given cost and a fresh salt.
 * rec is changed only on success. */
vault_err keys_set_secret(struct keys_record *rec, const uint8_t *sk,
    const char *secret, size_t secret_len, const uint8_t *pepper,
    const struct keys_pwparams *params);

/* Re-wraps sk under a new recovery code; the old code no longer opens rec.
 * *recovery_codep as in keys_account_create. rec is changed only on success. */
vault_err keys_set_recovery(struct keys_record *rec, const uint8_t *sk,
    const uint8_t *pepper, char **recovery_codep);

/* Normalises a typed recovery code to its 28 symbols (out: 29 bytes,
 * guarded or stack memory the caller wipes). VAULT_ERR_FORMAT if a
 * character is outside the alphabet or the count is wrong. */
vault_err keys_recovery_normalise(const char *code, char *out);

/* A fresh document key in guarded memory (secmem.h: a deposit takes one,
 * and a fresh sodium_malloc each time cost more than the key's use).
 * Every document key this file hands out is freed with keys_dockey_free. */
vault_err keys_dockey_new(uint8_t **dkp);
void keys_dockey_free(uint8_t *dk);

/* Seals "VDK1" ‖ document id ‖ dk to a holder's public key. */
vault_err keys_dockey_seal(const uint8_t *dk, const vault_id *document_id,
    const uint8_t holder_pk[KEYS_PK_LEN],
    uint8_t sealed[KEYS_SEALED_DOCKEY_LEN]);

/* Opens a sealed document key with the holder's key pair and checks that it
 * belongs to document_id: VAULT_ERR_CORRUPT if not. */
vault_err keys_dockey_open(const uint8_t *sealed, size_t sealed_len,
    const vault_id *document_id, const uint8_t holder_pk[KEYS_PK_LEN],
    const uint8_t *holder_sk, uint8_t **dkp);

#endif
