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

/* Returns 1 if role names one of the five roles. */
int accounts_role_valid(const char *role);

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
 * structure_admin, instance_admin, auditor; structure_id is the structure of
 * an aidant or structure administrator, NULL otherwise. On success
 * *recovery_codep holds the recovery code (guarded; the caller shows it
 * once, then sodium_free). VAULT_ERR_EXISTS if the login is taken,
 * VAULT_ERR_FORMAT if the login, name or role is malformed. The creation
 * is journaled ("account.create", actor creator, may be NULL). */
vault_err accounts_create(struct store *s, const char *login,
    const char *display_name, const char *role, const vault_id *structure_id,
    const vault_id *creator, const char *secret, size_t secret_len,
    vault_id *idp, char **recovery_codep);

/* Activation codes: 12 symbols of the recovery alphabet, shown as three
 * groups of four; valid ACCOUNT_ACTIVATION_MS. */
#define ACCOUNT_ACTIVATION_SYMBOLS 12
#define ACCOUNT_ACTIVATION_TEXT_LEN 14
#define ACCOUNT_ACTIVATION_MS (3600 * 1000)

/* An activation code as typed (any case, dashes and spaces) to its 12
 * symbols in upper case; VAULT_ERR_FORMAT otherwise (out wiped). */
vault_err accounts_activation_normalise(const char *code,
    char out[ACCOUNT_ACTIVATION_SYMBOLS + 1]);

/* Enrols a person without keys: her key pair is made when she activates
 * her account with the one-time code, choosing her own secret. Only a
 * keyed hash of the code is stored. *codep: guarded, sodium_free it.
 * Enrolling again a login that was never activated gives it a new code,
 * if enrolled_by enrolled it or is an instance administrator. */
vault_err accounts_enrol(struct store *s, const char *login,
    const char *display_name, const vault_id *enrolled_by, const char *origin,
    vault_id *idp, char **codep, int64_t *expires_at);

/* Activates an enrolled person with her code and chosen secret: creates
 * her key pair; returns her recovery code. VAULT_ERR_AUTH for a wrong,
 * used or expired code and for an unknown login alike. */
vault_err accounts_activate(struct store *s, const char *login,
    const char *code, const char *secret, size_t secret_len,
    const char *origin, vault_id *idp, char **recovery_codep);

/* What a log-in attempt did, for the caller's answer and counters. */
struct unlock_report {
	int known;       /* the login exists */
	vault_id id;     /* its account, if known */
	int locked;      /* refused because the account is locked */
	int locked_now;  /* this failure locked it */
};

/* Unlocks with the secret. VAULT_ERR_AUTH for a wrong secret, an unknown
 * login and a locked account alike (each still costs one Argon2id
 * evaluation, so that the time taken tells nothing). After
 * opt.lock_threshold failures in a row the account is locked for
 * opt.lock_ms. Journals session.login, session.login_failed and
 * session.locked. If the stored Argon2id cost is below the store's, the
 * key is re-wrapped at the new cost. rep may be NULL. */
vault_err accounts_unlock(struct store *s, const char *login,
    const char *secret, size_t secret_len, const char *origin,
    struct account_unlocked *u, struct unlock_report *rep);

/* Structures (association, CCAS, France Services, library): 1–128 bytes
 * of name. Journals "structure.create". */
vault_err accounts_structure_create(struct store *s, const char *name,
    const vault_id *creator, const char *origin, vault_id *idp);
/* VAULT_OK if it exists, VAULT_ERR_NOTFOUND if not. */
vault_err accounts_structure_exists(struct store *s, const vault_id *id);

/* An account as the API shows it. */
struct account_info {
	vault_id id;
	char login[ACCOUNT_LOGIN_MAX + 1];
	char role[24];
	char display_name[ACCOUNT_NAME_MAX + 1];
	vault_id structure_id;
	int has_structure;
	char structure_name[ACCOUNT_NAME_MAX + 1]; /* "" without a structure */
	int has_keys;           /* 0: enrolled, not yet activated */
	int64_t created_at;
	int64_t locked_until;
};

/* Structures and their members, for administrators (structures.c). */
struct structure_info {
	vault_id id;
	char name[ACCOUNT_NAME_MAX + 1];
	int64_t created_at;
	unsigned members;       /* aidants and structure admins not removed */
};
typedef vault_err (*accounts_structure_fn)(void *ctx, const struct structure_info *si);
vault_err accounts_structures_list(struct store *s, accounts_structure_fn fn, void *ctx);

struct member_info {
	vault_id id;
	char login[ACCOUNT_LOGIN_MAX + 1];
	char display_name[ACCOUNT_NAME_MAX + 1];
	char role[24];
	int64_t created_at;
	int64_t removed_at;     /* 0 while a member */
};
typedef vault_err (*accounts_member_fn)(void *ctx, const struct member_info *m);
/* Aidants and structure administrators of structure, removed ones too. */
vault_err accounts_members_list(struct store *s, const vault_id *structure,
    accounts_member_fn fn, void *ctx);
/* Removes a member of structure: his log-ins are refused from now on as an
 * unknown login's, every wrapping of his mandates is deleted, each active
 * mandate is revoked (mandate.revoke, journaled to its person with by as
 * actor), and aidant.remove is journaled; one transaction. The caller ends
 * his sessions. VAULT_ERR_NOTFOUND if he is not a present member. */
vault_err accounts_member_remove(struct store *s, const vault_id *structure,
    const vault_id *member, const vault_id *by, const char *origin);

/* VAULT_ERR_NOTFOUND if there is no such account. */
vault_err accounts_get(struct store *s, const vault_id *id, struct account_info *info);

/* Recovery: the code unlocks the key, which is re-wrapped under new_secret
 * and a new recovery code (returned as in accounts_create); the old code
 * and the old secret stop working in the same transaction. */
vault_err accounts_recover(struct store *s, const char *login,
    const char *recovery_code, const char *new_secret, size_t new_secret_len,
    const char *origin, vault_id *idp, char **new_recovery_codep);

/* Loads the public key of an account. VAULT_ERR_NOTFOUND if none. */
vault_err accounts_public_key(struct store *s, const vault_id *id,
    uint8_t pk[KEYS_PK_LEN]);

#endif
