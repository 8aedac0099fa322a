/* sessions.c: the in-memory session table (see sessions.h). */
#include <openssl/sha.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sessions.h"
#include "vault_os.h"

struct session {
	int used;
	uint8_t token_hash[32];
	vault_id account;
	char role[24];
	uint8_t pk[KEYS_PK_LEN];
	uint8_t *sk;             /* guarded, or NULL */
	int64_t created_at, last_seen;
};

struct sessions {
	pthread_mutex_t mu;
	struct session *tab;
	unsigned max;
	int64_t idle_ms, lifetime_ms;
};

static int
role_keeps_key(const char *role)
{
	return strcmp(role, "person") == 0 || strcmp(role, "aidant") == 0 ||
	    strcmp(role, "structure_admin") == 0;
}

static void
wipe(struct session *e)
{
	sodium_free(e->sk);
	sodium_memzero(e, sizeof *e);
}

vault_err
sessions_new(unsigned max, int64_t idle_ms, int64_t lifetime_ms,
    struct sessions **sp)
{
	struct sessions *s;

	*sp = NULL;
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (s->tab = calloc(max, sizeof *s->tab)) == NULL) {
		free(s);
		return VAULT_ERR_NOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->max = max;
	s->idle_ms = idle_ms;
	s->lifetime_ms = lifetime_ms;
	*sp = s;
	return VAULT_OK;
}

void
sessions_free(struct sessions *s)
{
	unsigned i;

	if (s == NULL)
		return;
	for (i = 0; i < s->max; i++)
		if (s->tab[i].used)
			wipe(&s->tab[i]);
	pthread_mutex_destroy(&s->mu);
	free(s->tab);
	free(s);
}

static int
expired(const struct sessions *s, const struct session *e, int64_t now)
{
	return now - e->last_seen >= s->idle_ms || now - e->created_at >= s->lifetime_ms;
}

vault_err
sessions_open(struct sessions *s, struct account_unlocked *u,
    char token_text[SESSION_TOKEN_TEXT_LEN + 1], int64_t *expires_at)
{
	uint8_t token[SESSION_TOKEN_LEN];
	struct session *e = NULL, *oldest = NULL;
	int64_t now = vault_os.now_ms();
	unsigned i, mine = 0;

	pthread_mutex_lock(&s->mu);
	/* One account holds at most SESSIONS_PER_ACCOUNT sessions: beyond,
	 * its oldest ends. Without this, one login (or a script with its
	 * secret) could fill the table and lock everybody else out. */
	for (i = 0; i < s->max; i++) {
		if (s->tab[i].used && expired(s, &s->tab[i], now))
			wipe(&s->tab[i]);
		if (!s->tab[i].used) {
			if (e == NULL)
				e = &s->tab[i];
			continue;
		}
		if (memcmp(s->tab[i].account.b, u->id.b, VAULT_ID_LEN) != 0)
			continue;
		mine++;
		if (oldest == NULL || s->tab[i].created_at < oldest->created_at)
			oldest = &s->tab[i];
	}
	if (mine >= SESSIONS_PER_ACCOUNT) {
		wipe(oldest);
		if (e == NULL)
			e = oldest;
	}
	if (e == NULL) {
		pthread_mutex_unlock(&s->mu);
		return VAULT_ERR_LIMIT;
	}
	randombytes_buf(token, sizeof token);
	SHA256(token, sizeof token, e->token_hash);
	e->used = 1;
	e->account = u->id;
	memcpy(e->role, u->role, sizeof e->role);
	memcpy(e->pk, u->pk, sizeof e->pk);
	if (role_keeps_key(u->role)) {
		e->sk = u->sk;
		u->sk = NULL;
	}
	e->created_at = e->last_seen = now;
	*expires_at = now + s->lifetime_ms;
	pthread_mutex_unlock(&s->mu);
	sodium_free(u->sk); /* an administrator's key: not kept */
	u->sk = NULL;
	sodium_bin2base64(token_text, SESSION_TOKEN_TEXT_LEN + 1, token, sizeof token,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(token, sizeof token);
	return VAULT_OK;
}

vault_err
sessions_lookup(struct sessions *s, const char *token_text, struct session_view *v)
{
	uint8_t token[SESSION_TOKEN_LEN], h[32];
	int64_t now = vault_os.now_ms();
	struct session *e = NULL;
	vault_err r = VAULT_ERR_AUTH;
	size_t tlen;
	unsigned i;

	memset(v, 0, sizeof *v);
	if (strlen(token_text) != SESSION_TOKEN_TEXT_LEN ||
	    vault_base64_decode(token, sizeof token, token_text, SESSION_TOKEN_TEXT_LEN,
	    &tlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    tlen != SESSION_TOKEN_LEN)
		return VAULT_ERR_AUTH;
	SHA256(token, sizeof token, h);
	sodium_memzero(token, sizeof token);
	pthread_mutex_lock(&s->mu);
	/* Compare every entry, in constant time each: the table's layout
	 * tells nothing about which token matched. */
	for (i = 0; i < s->max; i++)
		if (s->tab[i].used & (sodium_memcmp(s->tab[i].token_hash, h, 32) == 0))
			e = &s->tab[i];
	if (e != NULL && expired(s, e, now)) {
		wipe(e);
		e = NULL;
	}
	if (e != NULL) {
		e->last_seen = now;
		memcpy(v->token_hash, e->token_hash, 32);
		v->account = e->account;
		memcpy(v->role, e->role, sizeof v->role);
		memcpy(v->pk, e->pk, sizeof v->pk);
		v->expires_at = e->created_at + s->lifetime_ms;
		r = VAULT_OK;
		if (e->sk != NULL) {
			if ((v->sk = sodium_malloc(KEYS_SK_LEN)) == NULL)
				r = VAULT_ERR_NOMEM;
			else
				memcpy(v->sk, e->sk, KEYS_SK_LEN);
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (r != VAULT_OK)
		session_view_wipe(v);
	return r;
}

void
session_view_wipe(struct session_view *v)
{
	sodium_free(v->sk);
	sodium_memzero(v, sizeof *v);
}

void
sessions_close(struct sessions *s, const uint8_t token_hash[32])
{
	unsigned i;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < s->max; i++)
		if (s->tab[i].used && sodium_memcmp(s->tab[i].token_hash, token_hash, 32) == 0)
			wipe(&s->tab[i]);
	pthread_mutex_unlock(&s->mu);
}

void
sessions_close_account(struct sessions *s, const vault_id *account)
{
	unsigned i;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < s->max; i++)
		if (s->tab[i].used && memcmp(s->tab[i].account.b, account->b, VAULT_ID_LEN) == 0)
			wipe(&s->tab[i]);
	pthread_mutex_unlock(&s->mu);
}

unsigned
sessions_sweep(struct sessions *s)
{
	int64_t now = vault_os.now_ms();
	unsigned i, n = 0;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < s->max; i++)
		if (s->tab[i].used && expired(s, &s->tab[i], now)) {
			wipe(&s->tab[i]);
			n++;
		}
	pthread_mutex_unlock(&s->mu);
	return n;
}
