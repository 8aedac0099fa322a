/*
 * accounts.h: accounts and their keys in the database.
 *
 * Every account has an X25519 key pair whose secret key is stored only
 * wrapped (keys.h). Logging in is unwrapping: a wrong secret fails the AEAD
 * tag, so no password hash is stored beside the wrapping.
 */
#ifndef ACCOUNTS_H
#define ACCOUNTS_H

#include "keys.h"
#include "store.h"

#define ACCOUNT_LOGIN_MIN 3
#define ACCOUNT_LOGIN_MAX 64
#define ACCOUNT_NAME_MAX 128

/* Logins: 3–64 characters of a-z 0-9 . _ -, compared case-insensitively
 * (DESIGN.md). Returns 1 if valid. Upper-case ASCII is accepted and folded. */
int accounts_login_valid(const char *login);

/* An unlocked account: its id and, in guarded memory, its secret key. */
struct account_unlocked {
	vault_id id;
	char role[24];
	uint8_t pk[KEYS_PK_LEN];
	uint8_t *sk; /* guarded; freed by account_unlocked_wipe */
};

/* Frees and wipes the secret key. */
void account_unlocked_wipe(struct account_unlocked *u);

/* Creates an account with its keys. role is one of person, aidant,
 * structure_admin, instance_admin, auditor. On success *recovery_codep holds
 * the recovery code (guarded; the caller shows it once, then sodium_free).
 * VAULT_ERR_EXISTS if the login is taken, VAULT_ERR_FORMAT if the login,
 * name or role is malformed. */
vault_err accounts_create(struct store *s, const char *login,
    const char *display_name, const char *role, const char *secret,
    size_t secret_len, vault_id *idp, char **recovery_codep);

/* Unlocks with the secret. VAULT_ERR_AUTH for a wrong secret and for an
 * unknown login alike (an unknown login still costs one Argon2id
 * evaluation). If the stored Argon2id cost is below the store's, the key
 * is re-wrapped at the new cost before returning. */
vault_err accounts_unlock(struct store *s, const char *login,
    const char *secret, size_t secret_len, struct account_unlocked *u);

/* Recovery: the code unlocks the key, which is re-wrapped under new_secret
 * and a new recovery code (returned as in accounts_create); the old code
 * and the old secret stop working in the same transaction. */
vault_err accounts_recover(struct store *s, const char *login,
    const char *recovery_code, const char *new_secret, size_t new_secret_len,
    char **new_recovery_codep);

/* Loads the public key of an account. VAULT_ERR_NOTFOUND if none. */
vault_err accounts_public_key(struct store *s, const vault_id *id,
    uint8_t pk[KEYS_PK_LEN]);

#endif
