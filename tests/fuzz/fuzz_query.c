/*
 * fuzz_query: the query strings of vaultd's routes. The input is a query
 * string ("title=Titre%20de%20s%C3%A9jour&category=residence&..."), split
 * and unescaped the way libmicrohttpd hands arguments to us (first of a
 * repeated name wins); then every argument parser of api/parse.c runs on
 * what it would see:
 *   journal paging (after, limit), journal search (person, actor, action,
 *   since), proof requests (index, tree_size, first, second), a deposit's
 *   metadata (title, category, issued, expires), its Content-Type (ct) and
 *   its declared Content-Length (cl, against max, used, quota).
 * Accepted values are read again a second, independent way: numbers are
 * their digits written back, instants write back to the same text, dates
 * exist, identifiers write back to themselves, limits hold.
 */
#include <ctype.h>
#include <time.h>

#include "fuzz.h"

#include "documents.h"
#include "journal.h"
#include "parse.h"

/* The digits of s without leading zeros ("0" for zero). */
static const char *
digits(const char *s)
{
	while (s[0] == '0' && s[1] != '\0')
		s++;
	return s;
}

static void
check_number(const char *s, uint64_t v)
{
	char back[32];
	size_t i;

	FUZZ_CHECK(s[0] != '\0');
	for (i = 0; s[i] != '\0'; i++)
		FUZZ_CHECK(s[i] >= '0' && s[i] <= '9');
	FUZZ_CHECK(v <= (uint64_t)INT64_MAX);
	snprintf(back, sizeof back, "%llu", (unsigned long long)v);
	FUZZ_CHECK(strcmp(back, digits(s)) == 0);
}

static void
check_u64_arg(const char *s)
{
	uint64_t v;

	if (s != NULL && api_parse_u64(s, &v) == 0)
		check_number(s, v);
}

/* YYYY-MM-DD that exists, from 1900 on, read without the code under test. */
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

static void
check_paging(const char *after, const char *limit)
{
	struct journal_filter f;
	struct api_bad bad;

	memset(&f, 0, sizeof f);
	if (api_parse_paging(after, limit, &f, &bad) != 0) {
		FUZZ_CHECK(bad.status == 400);
		return;
	}
	if (after == NULL || strcmp(after, "-1") == 0)
		FUZZ_CHECK(f.after_index == -1);
	else
		check_number(after, (uint64_t)f.after_index);
	if (limit == NULL)
		FUZZ_CHECK(f.limit == 1000);
	else {
		check_number(limit, f.limit);
		FUZZ_CHECK(f.limit >= 1 && f.limit <= 1000);
	}
}

static void
check_search(const char *person, const char *actor, const char *action,
    const char *since)
{
	struct journal_filter f;
	struct api_bad bad;
	char back[VAULT_ID_TEXT_LEN + 1], when[32];
	vault_id id;
	struct tm tm;
	time_t t;

	memset(&f, 0, sizeof f);
	if (api_parse_journal_search(person, actor, action, since, &f, &bad) != 0) {
		FUZZ_CHECK(bad.status == 400);
		return;
	}
	if (person != NULL) {
		FUZZ_CHECK(vault_id_from_text(person, &id) == VAULT_OK);
		vault_id_to_text(&id, back);
		FUZZ_CHECK(strcmp(back, person) == 0);
	}
	if (actor != NULL) {
		FUZZ_CHECK(vault_id_from_text(actor, &id) == VAULT_OK);
		vault_id_to_text(&id, back);
		FUZZ_CHECK(strcmp(back, actor) == 0);
	}
	FUZZ_CHECK(action == NULL || strlen(action) <= JOURNAL_ACTION_MAX);
	if (since != NULL) {
		/* "written exactly YYYY-MM-DDTHH:MM:SSZ": the instant writes
		 * back to the very text */
		FUZZ_CHECK(f.since_ms >= 0 && f.since_ms % 1000 == 0);
		t = (time_t)(f.since_ms / 1000);
		FUZZ_CHECK(gmtime_r(&t, &tm) != NULL);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		FUZZ_CHECK(strcmp(when, since) == 0);
	}
}

static void
check_upload(const char *title, const char *category, const char *issued,
    const char *expires)
{
	struct document_meta m = { title, category, "application/pdf", issued, expires };
	struct api_bad bad;
	int cat;

	if ((cat = api_upload_meta(&m, &bad)) < 0) {
		FUZZ_CHECK(bad.status == 400);
		return;
	}
	FUZZ_CHECK(cat < DOC_CATEGORY_COUNT);
	FUZZ_CHECK(strcmp(documents_category_name(cat), category) == 0);
	FUZZ_CHECK(title != NULL && strlen(title) >= 1 && strlen(title) <= DOC_TITLE_MAX);
	FUZZ_CHECK(vault_utf8_valid(title));
	/* an empty date is none; any other is a real day */
	FUZZ_CHECK(m.issued == (issued != NULL && *issued != '\0' ? issued : NULL));
	FUZZ_CHECK(m.expires == (expires != NULL && *expires != '\0' ? expires : NULL));
	FUZZ_CHECK(m.issued == NULL || date_exists(m.issued));
	FUZZ_CHECK(m.expires == NULL || date_exists(m.expires));
}

static void
check_media_type(const char *ct)
{
	char out[DOC_MEDIA_TYPE_MAX + 1];
	const char *src = ct != NULL && *ct != '\0' ? ct : "application/octet-stream";
	size_t i, n;

	api_media_type(ct, out);
	n = strlen(out);
	FUZZ_CHECK(n <= DOC_MEDIA_TYPE_MAX);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(out[i] != ';' && out[i] != ' ');
		FUZZ_CHECK(out[i] == (char)tolower((unsigned char)src[i]));
	}
	FUZZ_CHECK(n == DOC_MEDIA_TYPE_MAX || src[n] == '\0' || src[n] == ';' ||
	    src[n] == ' ');
}

static uint64_t
number_or(const char *s, uint64_t dflt)
{
	return s != NULL ? strtoull(s, NULL, 10) : dflt;
}

static void
check_limits(const char *cl, uint64_t max, uint64_t used, uint64_t quota)
{
	struct api_bad bad;
	unsigned __int128 len = 0;
	int all_digits = cl != NULL && cl[0] != '\0';
	size_t i;

	for (i = 0; cl != NULL && cl[i] != '\0'; i++) {
		if (cl[i] < '0' || cl[i] > '9')
			all_digits = 0;
		else if (len <= UINT64_MAX)
			len = len * 10 + (unsigned)(cl[i] - '0');
	}
	if (api_upload_limits(cl, max, used, quota, &bad) == 0) {
		FUZZ_CHECK(cl == NULL || (all_digits && len <= max &&
		    (unsigned __int128)used + len <= quota));
		return;
	}
	FUZZ_CHECK(cl != NULL);
	if (!all_digits || len > UINT64_MAX)
		FUZZ_CHECK(bad.status == 400);
	else if (len > max)
		FUZZ_CHECK(bad.status == 413);
	else
		FUZZ_CHECK(bad.status == 507 && (unsigned __int128)used + len > quota);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_arg a[FUZZ_NARGS];
	char *q = fuzz_str(data, size);
	int n = fuzz_query_split(q, a);
	check_paging(fuzz_arg_get(a, n, "after"), fuzz_arg_get(a, n, "limit"));
	check_search(fuzz_arg_get(a, n, "person"), fuzz_arg_get(a, n, "actor"), fuzz_arg_get(a, n, "action"),
	    fuzz_arg_get(a, n, "since"));
	check_u64_arg(fuzz_arg_get(a, n, "index"));
	check_u64_arg(fuzz_arg_get(a, n, "tree_size"));
	check_u64_arg(fuzz_arg_get(a, n, "first"));
	check_u64_arg(fuzz_arg_get(a, n, "second"));
	check_upload(fuzz_arg_get(a, n, "title"), fuzz_arg_get(a, n, "category"), fuzz_arg_get(a, n, "issued"),
	    fuzz_arg_get(a, n, "expires"));
	check_media_type(fuzz_arg_get(a, n, "ct"));
	check_limits(fuzz_arg_get(a, n, "cl"), number_or(fuzz_arg_get(a, n, "max"), 100000000),
	    number_or(fuzz_arg_get(a, n, "used"), 0), number_or(fuzz_arg_get(a, n, "quota"), 1000000000));
	free(q);
	return 0;
}
