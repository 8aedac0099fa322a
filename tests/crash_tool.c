/*
 * crash_tool: the two halves of the crash-consistency test
 * (tests/crash_test.py drives them under strace).
 *
 *   crash_tool write DIR LOGIN SECRET N
 *       stores N documents for LOGIN (deleting every third one after it is
 *       stored), printing "OK id seed size" once a put has returned success
 *       and "DEL id" once a delete has; stops at the first failure with
 *       "ERR step error".
 *   crash_tool check DIR LOGIN SECRET ACKS
 *       opens the store as vaultd would at start-up, then checks that every
 *       acknowledged document is whole, every deleted one gone, every
 *       visible document decrypts to exactly the bytes its title names (no
 *       partial document), no temp file nor unfinished blob file (mode
 *       0200) is left, and SQLite's integrity_check passes. Exits 0 only
 *       then.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "accounts.h"
#include "db.h"
#include "documents.h"
#include "testutil.h"

static size_t
doc_size(unsigned seed)
{
	/* small, one chunk, several batches (threaded hashing), text-like */
	static const size_t sizes[] = { 1200, 700000, 70000, 3, 1300000 };
	return sizes[seed % 5];
}

static void
doc_bytes(unsigned seed, uint8_t *p, size_t n)
{
	if (seed % 2)
		tu_fill_text(p, n, seed);
	else
		tu_fill_random(p, n, seed);
}

static int
open_store(const char *dir, struct store **s, struct store_recovery *rep)
{
	struct store_options o;
	store_options_default(&o);
	o.pw = test_pw_fast;
	return store_open(dir, &o, s, rep) == VAULT_OK ? 0 : -1;
}

static int
do_write(const char *dir, const char *login, const char *secret, unsigned n)
{
	struct account_unlocked u;
	struct document_info info;
	struct document_put *p;
	struct store *s;
	char title[64], idt[33], prev[33] = "";
	vault_id prev_id;
	uint8_t *data;
	unsigned seed;
	vault_err r;

	if (open_store(dir, &s, NULL) != 0 ||
	    accounts_unlock(s, login, secret, strlen(secret), NULL, &u, NULL) != VAULT_OK) {
		printf("ERR open\n");
		return 1;
	}
	data = malloc(1300000);
	for (seed = 1; seed <= n; seed++) {
		size_t size = doc_size(seed);
		struct document_meta m = { title, "other", "application/octet-stream", NULL, NULL };
		snprintf(title, sizeof title, "seed=%u size=%zu", seed, size);
		doc_bytes(seed, data, size);
		if ((r = documents_put_begin(s, &u.id, &u.id, &m, BLOB_COMPRESS_AUTO, NULL, &p)) != VAULT_OK ||
		    (r = documents_put_write(p, data, size)) != VAULT_OK) {
			documents_put_abort(p);
			printf("ERR put %s\n", vault_strerror(r));
			return 1;
		}
		if ((r = documents_put_commit(p, &info)) != VAULT_OK) {
			printf("ERR commit %s\n", vault_strerror(r));
			return 1;
		}
		vault_id_to_text(&info.id, idt);
		printf("OK %s %u %zu\n", idt, seed, size);
		fflush(stdout);
		if (seed % 3 == 0 && prev[0] != '\0') {
			printf("DELETING %s\n", prev);
			fflush(stdout);
			if ((r = documents_delete(s, &u.id, &prev_id, &u.id, NULL)) != VAULT_OK) {
				printf("ERR delete %s\n", vault_strerror(r));
				return 1;
			}
			printf("DEL %s\n", prev);
			fflush(stdout);
		}
		memcpy(prev, idt, sizeof prev);
		prev_id = info.id;
	}
	free(data);
	account_unlocked_wipe(&u);
	store_close(s);
	return 0;
}

/* Reads a whole document and checks it against the bytes its title names. */
static int
check_doc(struct store *s, struct account_unlocked *u, const char *idt, int verbose)
{
	struct document_info info;
	struct document_read *rd;
	unsigned seed;
	size_t size, got = 0, k;
	uint8_t *want, *buf;
	vault_id id;
	vault_err r;
	int ok;

	if (vault_id_from_text(idt, &id) != VAULT_OK)
		return -1;
	struct doc_holder h = { u->id, u->pk, u->sk, 1 };

	if ((r = documents_open(s, &u->id, &id, &h, &rd, &info)) != VAULT_OK) {
		if (verbose)
			fprintf(stderr, "crash_tool: %s: open: %s\n", idt, vault_strerror(r));
		return -1;
	}
	if (sscanf(info.title, "seed=%u size=%zu", &seed, &size) != 2 || size != info.size) {
		documents_close(rd);
		return -1;
	}
	want = malloc(size + 1);
	buf = malloc(size + 65536);
	doc_bytes(seed, want, size);
	for (;;) {
		r = documents_read(rd, buf + got, 65536, &k);
		if (r != VAULT_OK || k == 0 || got + k > size)
			break;
		got += k;
	}
	documents_close(rd);
	ok = r == VAULT_OK && got == size && memcmp(buf, want, size) == 0;
	if (!ok && verbose)
		fprintf(stderr, "crash_tool: %s: content differs (%s, %zu of %zu)\n",
		    idt, vault_strerror(r), got, size);
	free(want);
	free(buf);
	return ok ? 0 : -1;
}

/* Files of the blob store that are not blobs yet (mode 0200) and hold
 * bytes: what a put cut short left, which start-up must have removed.
 * (Empty ones are spares, which the store opened here makes anew.)
 * Prints each and returns how many. */
static int
unfinished_left(const char *dir)
{
	char top[600], sub[900], path[1200];
	struct dirent *de, *fe;
	struct stat st;
	DIR *d, *e;
	int n = 0;

	snprintf(top, sizeof top, "%s/blobs", dir);
	if ((d = opendir(top)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 2)
			continue;
		snprintf(sub, sizeof sub, "%s/%s", top, de->d_name);
		if ((e = opendir(sub)) == NULL)
			continue;
		while ((fe = readdir(e)) != NULL) {
			snprintf(path, sizeof path, "%s/%s", sub, fe->d_name);
			if (fe->d_name[0] != '.' && lstat(path, &st) == 0 &&
			    S_ISREG(st.st_mode) && !(st.st_mode & S_IRUSR) &&
			    st.st_size > 0) {
				fprintf(stderr, "crash_tool: unfinished file left: %s\n",
				    fe->d_name);
				n++;
			}
		}
		closedir(e);
	}
	closedir(d);
	return n;
}

static int
do_check(const char *dir, const char *login, const char *secret, const char *acks)
{
	struct store_recovery rep;
	struct account_unlocked u;
	struct store *s;
	sqlite3_stmt *st;
	char line[256], id[64], tdir[600];
	char (*acked)[33] = NULL, (*deleted)[33] = NULL, inflight[33] = "";
	size_t na = 0, nd = 0, i, j;
	unsigned seed;
	size_t size;
	int bad = 0, visible = 0, rc;
	FILE *f;
	DIR *d;
	struct dirent *de;

	if ((f = fopen(acks, "r")) == NULL)
		return 2;
	acked = calloc(1000, 33);
	deleted = calloc(1000, 33);
	while (fgets(line, sizeof line, f) != NULL && na < 1000) {
		if (sscanf(line, "OK %32s %u %zu", id, &seed, &size) == 3)
			memcpy(acked[na++], id, 33);
		else if (sscanf(line, "DELETING %32s", id) == 1)
			memcpy(inflight, id, 33);
		else if (sscanf(line, "DEL %32s", id) == 1)
			memcpy(deleted[nd++], id, 33);
	}
	fclose(f);
	if (open_store(dir, &s, &rep) != 0 ||
	    accounts_unlock(s, login, secret, strlen(secret), NULL, &u, NULL) != VAULT_OK) {
		fprintf(stderr, "crash_tool: cannot open the store after the crash\n");
		return 1;
	}
	/* every acknowledged, undeleted document is whole */
	for (i = 0; i < na; i++) {
		int del = 0;
		for (j = 0; j < nd; j++)
			del |= strcmp(acked[i], deleted[j]) == 0;
		/* a deletion in flight at the crash may have committed: the
		 * document is then gone, which is what was asked */
		if (!del && strcmp(acked[i], inflight) == 0 &&
		    check_doc(s, &u, acked[i], 0) != 0)
			continue;
		if (!del && check_doc(s, &u, acked[i], 1) != 0) {
			fprintf(stderr, "crash_tool: LOST acknowledged document %s\n", acked[i]);
			bad = 1;
		}
	}
	/* every visible document is whole; deleted ones are not visible */
	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT document_id FROM documents",
	    -1, &st, NULL) != SQLITE_OK)
		return 1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *did = (const char *)sqlite3_column_text(st, 0);
		visible++;
		if (check_doc(s, &u, did, 1) != 0) {
			fprintf(stderr, "crash_tool: PARTIAL document visible: %s\n", did);
			bad = 1;
		}
		for (j = 0; j < nd; j++)
			if (strcmp(did, deleted[j]) == 0) {
				fprintf(stderr, "crash_tool: deleted document back: %s\n", did);
				bad = 1;
			}
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db_handle(s->db), "PRAGMA integrity_check", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		fprintf(stderr, "crash_tool: integrity_check failed\n");
		bad = 1;
	}
	sqlite3_finalize(st);
	snprintf(tdir, sizeof tdir, "%s/blobs/tmp", dir);
	if ((d = opendir(tdir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.') {
				fprintf(stderr, "crash_tool: temp file left: %s\n", de->d_name);
				bad = 1;
			}
		closedir(d);
	}
	/* nor what a put cut short wrote into its file (mode 0200): start-up
	 * removes it */
	if (unfinished_left(dir) != 0)
		bad = 1;
	/* one line for the driver: what start-up found */
	printf("acked=%zu deleted=%zu visible=%d tmp_removed=%u orphans=%u missing=%u\n",
	    na, nd, visible, rep.tmp_removed, rep.orphan_blobs, rep.missing_blobs);
	if (rep.missing_blobs != 0) {
		fprintf(stderr, "crash_tool: a document row lost its blob\n");
		bad = 1;
	}
	account_unlocked_wipe(&u);
	store_close(s);
	free(acked);
	free(deleted);
	return bad;
}

static int
do_init(const char *dir, const char *login, const char *secret)
{
	struct store_options o;
	struct store *s;
	vault_id id;
	char *code = NULL;

	store_options_default(&o);
	o.pw = test_pw_fast;
	if (store_create(dir, &o, 0) != VAULT_OK || store_open(dir, &o, &s, NULL) != VAULT_OK)
		return 1;
	if (accounts_create(s, login, login, "person", NULL, NULL, secret, strlen(secret), &id, &code) != VAULT_OK)
		return 1;
	sodium_free(code);
	store_close(s);
	return 0;
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 2;
	if (argc == 5 && strcmp(argv[1], "init") == 0)
		return do_init(argv[2], argv[3], argv[4]);
	if (argc == 6 && strcmp(argv[1], "write") == 0)
		return do_write(argv[2], argv[3], argv[4], (unsigned)atoi(argv[5]));
	if (argc == 6 && strcmp(argv[1], "check") == 0)
		return do_check(argv[2], argv[3], argv[4], argv[5]);
	fprintf(stderr, "usage: crash_tool init DIR LOGIN SECRET | write DIR LOGIN SECRET N | check DIR LOGIN SECRET ACKS\n");
	return 2;
}
