/* sessions.c: the in-memory session table (see sessions.h). */
#include <openssl/sha.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "secmem.h"
#include "sessions.h"
#include "vault_os.h"

struct session {
	int used;
	int next;                /* next entry of its bucket, or -1 */
	uint8_t token_hash[32];
	vault_id account;
	char role[24];
	uint8_t pk[KEYS_PK_LEN];
	uint8_t *sk;             /* guarded, or NULL */
	int64_t created_at, last_seen;
};

/* Entries are found by their token hash's first eight bytes, in a table
 * of buckets (chained through session.next): a request looks at the one
 * or two entries of its bucket, not at every session. What a lookup's
 * time could tell is which bucket the SHA-256 of the presented token
 * falls in, and whether some session's hash falls there too: nothing
 * about any session's token, which is 256 random bits. Within the bucket,
 * hashes are compared whole and in constant time. */
struct sessions {
	pthread_mutex_t mu;
	struct session *tab;
	unsigned max;
	int *bucket;             /* first entry of each bucket, or -1 */
	uint64_t mask;           /* buckets - 1 (a power of two) */
	int64_t idle_ms, lifetime_ms;
};

static uint64_t
bucket_of(const struct sessions *s, const uint8_t h[32])
{
	uint64_t k;

	memcpy(&k, h, sizeof k);
	return k & s->mask;
}

static void
unlink_entry(struct sessions *s, struct session *e)
{
	int i = (int)(e - s->tab), *p;

	for (p = &s->bucket[bucket_of(s, e->token_hash)]; *p >= 0; p = &s->tab[*p].next)
		if (*p == i) {
			*p = e->next;
			return;
		}
}

static void
link_entry(struct sessions *s, struct session *e)
{
	uint64_t b = bucket_of(s, e->token_hash);

	e->next = s->bucket[b];
	s->bucket[b] = (int)(e - s->tab);
}

static struct session *
find(struct sessions *s, const uint8_t h[32])
{
	int i;

	for (i = s->bucket[bucket_of(s, h)]; i >= 0; i = s->tab[i].next)
		if (sodium_memcmp(s->tab[i].token_hash, h, 32) == 0)
			return &s->tab[i];
	return NULL;
}

static int
role_keeps_key(const char *role)
{
	return strcmp(role, "person") == 0 || strcmp(role, "aidant") == 0 ||
	    strcmp(role, "structure_admin") == 0;
}

static void
wipe(struct sessions *s, struct session *e)
{
	if (e->used)
		unlink_entry(s, e);
	sodium_free(e->sk);
	sodium_memzero(e, sizeof *e);
}

vault_err
sessions_new(unsigned max, int64_t idle_ms, int64_t lifetime_ms,
    struct sessions **sp)
{
	struct sessions *s;
	uint64_t n = 1, i;

	*sp = NULL;
	while (n < 2 * (uint64_t)max)
		n <<= 1;
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (s->tab = calloc(max, sizeof *s->tab)) == NULL ||
	    (s->bucket = malloc(n * sizeof *s->bucket)) == NULL) {
		if (s != NULL)
			free(s->tab);
		free(s);
		return VAULT_ERR_NOMEM;
	}
	for (i = 0; i < n; i++)
		s->bucket[i] = -1;
	s->mask = n - 1;
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
			wipe(s, &s->tab[i]);
	pthread_mutex_destroy(&s->mu);
	free(s->bucket);
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
			wipe(s, &s->tab[i]);
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
		wipe(s, oldest);
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
	link_entry(s, e);
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

	memset(v, 0, sizeof *v);
	if (strlen(token_text) != SESSION_TOKEN_TEXT_LEN ||
	    vault_base64_decode(token, sizeof token, token_text, SESSION_TOKEN_TEXT_LEN,
	    &tlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    tlen != SESSION_TOKEN_LEN)
		return VAULT_ERR_AUTH;
	SHA256(token, sizeof token, h);
	sodium_memzero(token, sizeof token);
	pthread_mutex_lock(&s->mu);
	e = find(s, h);
	if (e != NULL && expired(s, e, now)) {
		wipe(s, e);
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
			/* from secmem's cache of wiped guarded blocks: a fresh
			 * sodium_malloc for every request costs more system
			 * calls than the rest of the lookup */
			if ((v->sk = secmem_alloc(KEYS_SK_LEN)) == NULL)
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
	secmem_free(v->sk);
	sodium_memzero(v, sizeof *v);
}

void
sessions_close(struct sessions *s, const uint8_t token_hash[32])
{
	struct session *e;

	pthread_mutex_lock(&s->mu);
	if ((e = find(s, token_hash)) != NULL)
		wipe(s, e);
	pthread_mutex_unlock(&s->mu);
}

void
sessions_close_account(struct sessions *s, const vault_id *account)
{
	unsigned i;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < s->max; i++)
		if (s->tab[i].used && memcmp(s->tab[i].account.b, account->b, VAULT_ID_LEN) == 0)
			wipe(s, &s->tab[i]);
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
			wipe(s, &s->tab[i]);
			n++;
		}
	pthread_mutex_unlock(&s->mu);
	return n;
}
