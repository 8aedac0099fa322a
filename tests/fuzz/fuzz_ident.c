/*
 * fuzz_ident: the identifiers and small words vaultd takes from outside,
 * each against a second reading written here from its definition. The
 * first byte chooses the reader, the rest is its text:
 *   0 identifiers (vault_id_from_text: 32 lowercase hex, one spelling)
 *   1 logins (3 to 64 of a-z A-Z 0-9 . _ -)
 *   2 document categories (the twelve names)
 *   3 dates (YYYY-MM-DD that exist, from 1900)
 *   4 UTF-8 (vault_utf8_valid against jansson's own check)
 *   5 roles
 *   6 note names (the journal's origin)
 *   7 session tokens: the rest says which character of a real token to
 *     change to what; the changed token must open the session only if it
 *     is the token, to the byte (one text form per token)
 */
#include <ctype.h>
#include <jansson.h>
#include <sodium.h>

#include "fuzz.h"

#include "accounts.h"
#include "documents.h"
#include "note.h"
#include "sessions.h"

static struct sessions *sess;
static char token[SESSION_TOKEN_TEXT_LEN + 1];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct account_unlocked u;
	int64_t expires;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0 || sessions_new(4, 3600 * 1000, 7200 * 1000, &sess) != VAULT_OK)
		abort();
	memset(&u, 0, sizeof u);
	vault_id_random(&u.id);
	snprintf(u.role, sizeof u.role, "auditor");
	if (sessions_open(sess, &u, token, &expires) != VAULT_OK)
		abort();
	return 0;
}

static int
date_exists(const char *s)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y = 0, m = 0, d = 0, i, leap;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++) {
		if (i == 4 || i == 7)
			continue;
		if (!isdigit((unsigned char)s[i]))
			return 0;
		if (i < 4)
			y = y * 10 + s[i] - '0';
		else if (i < 7)
			m = m * 10 + s[i] - '0';
		else
			d = d * 10 + s[i] - '0';
	}
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return y >= 1900 && m >= 1 && m <= 12 && d >= 1 &&
	    d <= mdays[m - 1] + (m == 2 && leap);
}

static int
only(const char *s, const char *set_extra, int lower_hex)
{
	for (; *s != '\0'; s++) {
		if (lower_hex) {
			if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
				return 0;
		} else if (!isalnum((unsigned char)*s) || (unsigned char)*s >= 0x80) {
			if (strchr(set_extra, *s) == NULL)
				return 0;
		}
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const roles[] = { "person", "aidant", "structure_admin",
	    "instance_admin", "auditor" };
	char back[VAULT_ID_TEXT_LEN + 1], changed[SESSION_TOKEN_TEXT_LEN + 1];
	struct session_view v;
	char *s;
	vault_id id;
	json_t *j;
	size_t n, i;
	int c, hit;

	if (size < 1)
		return 0;
	s = fuzz_str(data + 1, size - 1);
	n = strlen(s);
	switch (data[0] % 8) {
	case 0:
		if (vault_id_from_text(s, &id) == VAULT_OK) {
			vault_id_to_text(&id, back);
			FUZZ_CHECK(strcmp(back, s) == 0);
			FUZZ_CHECK(n == VAULT_ID_TEXT_LEN && only(s, "", 1));
		} else {
			FUZZ_CHECK(!(n == VAULT_ID_TEXT_LEN && only(s, "", 1)));
			for (i = 0; i < VAULT_ID_LEN; i++)
				FUZZ_CHECK(id.b[i] == 0); /* left zeroed */
		}
		break;
	case 1:
		FUZZ_CHECK(accounts_login_valid(s) ==
		    (n >= ACCOUNT_LOGIN_MIN && n <= ACCOUNT_LOGIN_MAX && only(s, "._-", 0)));
		break;
	case 2:
		c = documents_category_index(s);
		FUZZ_CHECK(documents_category_valid(s) == (c >= 0));
		for (i = 0, hit = -1; i < DOC_CATEGORY_COUNT; i++)
			if (strcmp(s, documents_category_name((int)i)) == 0)
				hit = (int)i;
		FUZZ_CHECK(c == hit);
		break;
	case 3:
		FUZZ_CHECK(documents_date_valid(s) == date_exists(s));
		break;
	case 4:
		j = json_string(s);
		FUZZ_CHECK(vault_utf8_valid(s) == (j != NULL));
		json_decref(j);
		break;
	case 5:
		for (i = 0, hit = 0; i < sizeof roles / sizeof roles[0]; i++)
			hit |= strcmp(s, roles[i]) == 0;
		FUZZ_CHECK(accounts_role_valid(s) == hit);
		break;
	case 6:
		for (i = 0, hit = n >= 1 && n <= NOTE_NAME_MAX; i < n; i++)
			if (!isgraph((unsigned char)s[i]) || s[i] == '+')
				hit = 0;
		FUZZ_CHECK(note_name_valid(s) == hit);
		break;
	case 7:
		/* pairs (position, byte) applied to the real token; the rest
		 * of the input, if any, is appended */
		memcpy(changed, token, sizeof changed);
		for (i = 1; i + 1 < size && i < 9; i += 2)
			changed[data[i] % SESSION_TOKEN_TEXT_LEN] = (char)data[i + 1];
		free(s);
		s = malloc(sizeof changed + (size > 9 ? size - 9 : 0));
		if (s == NULL)
			abort();
		memcpy(s, changed, sizeof changed);
		if (size > 9) {
			memcpy(s + strlen(changed), data + 9, size - 9);
			s[strlen(changed) + size - 9] = '\0';
		}
		if (sessions_lookup(sess, s, &v) == VAULT_OK) {
			FUZZ_CHECK(strcmp(s, token) == 0);
			session_view_wipe(&v);
		} else
			FUZZ_CHECK(strcmp(s, token) != 0);
		break;
	}
	free(s);
	return 0;
}
