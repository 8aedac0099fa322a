/*
 * test_sessions.c: the in-memory session table (api/sessions.c). Every
 * open session is found by its token and by no other; log-out, the end of
 * an account's sessions, idle time-out and the absolute lifetime end
 * exactly the sessions they name, also when many sessions share a bucket
 * of the table's index; an account holds at most SESSIONS_PER_ACCOUNT.
 */
#include <sodium.h>

#include "secmem.h"
#include "sessions.h"
#include "testlib.h"
#include "vault_os.h"

static int test_setup(void) { return sodium_init() < 0 ? -1 : 0; }

static int64_t clock_ms = 1000000;
static int64_t fake_now(void) { return clock_ms; }

static struct account_unlocked
account(const char *role, int with_key)
{
	struct account_unlocked u;

	memset(&u, 0, sizeof u);
	vault_id_random(&u.id);
	snprintf(u.role, sizeof u.role, "%s", role);
	randombytes_buf(u.pk, sizeof u.pk);
	if (with_key) {
		u.sk = sodium_malloc(KEYS_SK_LEN);
		randombytes_buf(u.sk, KEYS_SK_LEN);
	}
	return u;
}

/* Opens a session for u; returns 0 and fills token. */
static int
open_one(struct sessions *s, struct account_unlocked *u,
    char token[SESSION_TOKEN_TEXT_LEN + 1])
{
	int64_t exp;

	return sessions_open(s, u, token, &exp) == VAULT_OK ? 0 : -1;
}

static int
alive(struct sessions *s, const char *token)
{
	struct session_view v;
	vault_err r = sessions_lookup(s, token, &v);

	session_view_wipe(&v);
	return r == VAULT_OK;
}

#define N 300

/* 300 sessions in a table of 300 entries (512 buckets): some buckets hold
 * several; each token finds its own account, a token one character off
 * finds nothing. */
TEST(every_session_is_found_by_its_token_only)
{
	static char tok[N][SESSION_TOKEN_TEXT_LEN + 1];
	static vault_id ids[N];
	struct session_view v;
	struct sessions *s;
	int i, found = 0;
	char bad[SESSION_TOKEN_TEXT_LEN + 1];

	vault_os.now_ms = fake_now;
	REQUIRE(sessions_new(N, 60000, 3600000, &s) == VAULT_OK);
	for (i = 0; i < N; i++) {
		struct account_unlocked u = account("person", 1);
		ids[i] = u.id;
		REQUIRE(open_one(s, &u, tok[i]) == 0);
		CHECK(u.sk == NULL); /* the table took the key */
	}
	for (i = 0; i < N; i++) {
		REQUIRE(sessions_lookup(s, tok[i], &v) == VAULT_OK);
		found += memcmp(v.account.b, ids[i].b, VAULT_ID_LEN) == 0 && v.sk != NULL;
		session_view_wipe(&v);
		memcpy(bad, tok[i], sizeof bad);
		bad[5] = bad[5] == 'A' ? 'B' : 'A';
		CHECK(!alive(s, bad));
	}
	CHECK_EQ(found, N);
	/* full: the next log-in is refused, nothing is evicted */
	{
		struct account_unlocked u = account("person", 1);
		char t[SESSION_TOKEN_TEXT_LEN + 1];
		CHECK(open_one(s, &u, t) != 0);
		sodium_free(u.sk);
	}
	for (i = 0; i < N; i++)
		CHECK(alive(s, tok[i]));
	sessions_free(s);
	vault_os_reset();
}

/* Closing every other session leaves the rest whole; the freed entries
 * are reused and the new sessions are found. */
TEST(logout_ends_that_session_and_no_other)
{
	static char tok[N][SESSION_TOKEN_TEXT_LEN + 1];
	struct session_view v;
	struct sessions *s;
	int i;

	REQUIRE(sessions_new(N, 60000, 3600000, &s) == VAULT_OK);
	for (i = 0; i < N; i++) {
		struct account_unlocked u = account("aidant", 1);
		REQUIRE(open_one(s, &u, tok[i]) == 0);
	}
	for (i = 0; i < N; i += 2) {
		REQUIRE(sessions_lookup(s, tok[i], &v) == VAULT_OK);
		sessions_close(s, v.token_hash);
		session_view_wipe(&v);
	}
	for (i = 0; i < N; i++)
		CHECK(alive(s, tok[i]) == (i % 2 == 1));
	for (i = 0; i < N; i += 2) {
		struct account_unlocked u = account("aidant", 1);
		REQUIRE(open_one(s, &u, tok[i]) == 0);
	}
	for (i = 0; i < N; i++)
		CHECK(alive(s, tok[i]));
	sessions_free(s);
}

TEST(an_account_holds_at_most_its_share_and_ends_all_at_once)
{
	char tok[SESSIONS_PER_ACCOUNT + 1][SESSION_TOKEN_TEXT_LEN + 1];
	char other[SESSION_TOKEN_TEXT_LEN + 1];
	struct account_unlocked u = account("person", 0), o = account("person", 1);
	struct sessions *s;
	int i;

	vault_os.now_ms = fake_now;
	REQUIRE(sessions_new(64, 60000, 3600000, &s) == VAULT_OK);
	REQUIRE(open_one(s, &o, other) == 0);
	for (i = 0; i <= SESSIONS_PER_ACCOUNT; i++) {
		u.sk = sodium_malloc(KEYS_SK_LEN);
		REQUIRE(open_one(s, &u, tok[i]) == 0);
		clock_ms += 1; /* distinct creation times: the oldest is known */
	}
	CHECK(!alive(s, tok[0]));   /* the oldest ended */
	for (i = 1; i <= SESSIONS_PER_ACCOUNT; i++)
		CHECK(alive(s, tok[i]));
	sessions_close_account(s, &u.id);
	for (i = 1; i <= SESSIONS_PER_ACCOUNT; i++)
		CHECK(!alive(s, tok[i]));
	CHECK(alive(s, other));
	sessions_free(s);
	vault_os_reset();
}

TEST(idle_and_lifetime_end_sessions)
{
	char a[SESSION_TOKEN_TEXT_LEN + 1], b[SESSION_TOKEN_TEXT_LEN + 1];
	struct account_unlocked ua = account("person", 1), ub = account("person", 1);
	struct sessions *s;

	vault_os.now_ms = fake_now;
	REQUIRE(sessions_new(8, 1000, 5000, &s) == VAULT_OK);
	REQUIRE(open_one(s, &ua, a) == 0);
	REQUIRE(open_one(s, &ub, b) == 0);
	/* a is used every 900 ms; b is left idle and ends */
	clock_ms += 900;
	CHECK(alive(s, a));
	clock_ms += 900;
	CHECK(alive(s, a));
	CHECK(!alive(s, b));
	/* a, used all along, still ends at its absolute lifetime */
	while (clock_ms < 1000000 + 5000 + 3 * 900 && alive(s, a))
		clock_ms += 900;
	CHECK(!alive(s, a));
	CHECK_EQ(sessions_sweep(s), 0);
	sessions_free(s);
	vault_os_reset();
}

TEST(sweep_ends_only_expired_sessions)
{
	char a[SESSION_TOKEN_TEXT_LEN + 1], b[SESSION_TOKEN_TEXT_LEN + 1];
	struct account_unlocked ua = account("person", 1), ub = account("person", 1);
	struct sessions *s;

	vault_os.now_ms = fake_now;
	REQUIRE(sessions_new(8, 1000, 60000, &s) == VAULT_OK);
	REQUIRE(open_one(s, &ua, a) == 0);
	clock_ms += 600;
	REQUIRE(open_one(s, &ub, b) == 0);
	clock_ms += 600; /* a idle 1200 ms, b 600 ms */
	CHECK_EQ(sessions_sweep(s), 1);
	CHECK(alive(s, b));
	CHECK(!alive(s, a));
	sessions_free(s);
	vault_os_reset();
	secmem_drain();
}

TEST_MAIN
