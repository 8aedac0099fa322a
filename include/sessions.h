/*
 * sessions.h: log-in sessions, in memory only.
 *
 * A session token is 256 random bits, given to the client once; the table
 * keeps only its SHA-256. A session of a person or an aidant holds the
 * account's unlocked secret key in guarded memory (to open documents and
 * grant mandates); administrators' and auditors' keys are wiped at log-in,
 * since nothing they may do needs them. Log-out, idle time-out, the end of
 * the absolute lifetime and a recovery of the account wipe the key at once.
 * Nothing here survives a restart, on purpose: no unlocked key on disk.
 */
#ifndef SESSIONS_H
#define SESSIONS_H

#include <stdint.h>

#include "accounts.h"

#define SESSION_TOKEN_LEN 32
#define SESSION_TOKEN_TEXT_LEN 43 /* base64url, no padding */
#define SESSIONS_PER_ACCOUNT 16   /* beyond, an account's oldest session ends */

struct sessions;

/* A copy of what a request needs from its session. sk is a guarded copy
 * (NULL for roles that hold no key); free it with session_view_wipe. */
struct session_view {
	uint8_t token_hash[32];
	vault_id account;
	char role[24];
	uint8_t pk[KEYS_PK_LEN];
	uint8_t *sk;
	int64_t expires_at;       /* absolute end, ms */
};

vault_err sessions_new(unsigned max_sessions, int64_t idle_ms,
    int64_t lifetime_ms, struct sessions **sp);
void sessions_free(struct sessions *s);

/* Opens a session for u, taking its secret key (u->sk becomes NULL).
 * token receives the text token. VAULT_ERR_LIMIT if the table is full. */
vault_err sessions_open(struct sessions *s, struct account_unlocked *u,
    char token[SESSION_TOKEN_TEXT_LEN + 1], int64_t *expires_at);

/* Looks a token up and refreshes its idle timer. VAULT_ERR_AUTH if unknown,
 * idle too long or past its lifetime (then wiped). */
vault_err sessions_lookup(struct sessions *s, const char *token,
    struct session_view *v);

void session_view_wipe(struct session_view *v);

/* Ends one session (by the hash in a view) or every session of an account;
 * wipes their keys. */
void sessions_close(struct sessions *s, const uint8_t token_hash[32]);
void sessions_close_account(struct sessions *s, const vault_id *account);

/* Ends sessions past their idle time or lifetime; returns how many. */
unsigned sessions_sweep(struct sessions *s);

#endif
