/*
 * test_store.c: documents in a real data directory. Round trips, bad
 * metadata and limits that store nothing, blobs swapped or damaged on disk,
 * deletion that leaves no key wrapping, failing fsyncs and full disks,
 * leftovers of crashes, schema migration, and the canary: no plaintext on
 * disk. Puts of many sizes at once from sibling stores (the group commit,
 * each put's own condition), and with no thread to be had.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts.h"
#include "blobstore.h"
#include "db.h"
#include "documents.h"
#include "testlib.h"
#include "testutil.h"
#include "vault_os.h"
#include "workers.h"

static int test_setup(void) { return sodium_init() < 0 ? -1 : 0; }

struct person {
	struct account_unlocked u;
	char *code;
};

static int
person_new(struct store *s, const char *login, const char *secret, struct person *p)
{
	vault_id id;
	memset(p, 0, sizeof *p);
	if (accounts_create(s, login, login, "person", NULL, NULL, secret, strlen(secret), &id,
	    &p->code) != VAULT_OK)
		return -1;
	return accounts_unlock(s, login, secret, strlen(secret), NULL, &p->u, NULL) == VAULT_OK ? 0 : -1;
}

static void
person_free(struct person *p)
{
	account_unlocked_wipe(&p->u);
	sodium_free(p->code);
}

static const struct document_meta meta_ok = {
	"Titre de séjour", "residence", "application/pdf", "2025-01-31", "2027-01-30",
};

static vault_err
put(struct store *s, const vault_id *owner, const struct document_meta *m,
    const uint8_t *data, size_t n, enum blob_compress mode, struct document_info *info)
{
	struct document_put *p;
	vault_err r;
	size_t off = 0;

	if ((r = documents_put_begin(s, owner, owner, m, mode, NULL, &p)) != VAULT_OK)
		return r;
	while (off < n) {
		size_t k = n - off < 100000 ? n - off : 100000;
		if ((r = documents_put_write(p, data + off, k)) != VAULT_OK) {
			documents_put_abort(p);
			return r;
		}
		off += k;
	}
	return documents_put_commit(p, info);
}

/* Reads a whole document; returns malloc'd bytes or NULL and the error. */
static uint8_t *
get(struct store *s, const struct person *p, const vault_id *owner,
    const vault_id *doc, size_t *n, vault_err *err, struct document_info *info)
{
	struct document_read *rd;
	uint8_t *buf = NULL;
	size_t cap = 0, k;
	vault_err r;

	*n = 0;
	struct doc_holder h = { p->u.id, p->u.pk, p->u.sk, memcmp(p->u.id.b, owner->b, VAULT_ID_LEN) == 0 };

	if ((r = documents_open(s, owner, doc, &h, &rd, info)) != VAULT_OK) {
		*err = r;
		return NULL;
	}
	for (;;) {
		if (cap - *n < 65536) {
			cap = cap * 2 + 65536;
			buf = realloc(buf, cap);
		}
		r = documents_read(rd, buf + *n, cap - *n, &k);
		if (r != VAULT_OK || k == 0)
			break;
		*n += k;
	}
	documents_close(rd);
	*err = r;
	if (r != VAULT_OK) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int
count_files(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Blobs (not temp files) under DIR/blobs. */
static vault_err count_cb(void *ctx, const char *name, uint64_t size, int is_blob)
{
	(void)name; (void)size;
	if (is_blob) (*(int *)ctx)++;
	return VAULT_OK;
}

static int
count_blobs(struct store *s)
{
	int n = 0;
	blobstore_list(s->blobs, count_cb, &n);
	return n;
}

static int64_t
count_rows(struct store *s, const char *table)
{
	char sql[256];
	sqlite3_stmt *st;
	int64_t v = -1;
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	if (sqlite3_prepare_v2(db_handle(s->db), sql, -1, &st, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
blob_path(const char *dir, const vault_id *doc, char out[512])
{
	char t[VAULT_ID_TEXT_LEN + 1];
	vault_id_to_text(doc, t);
	snprintf(out, 512, "%s/blobs/%.2s/%s", dir, t, t);
}

static void
tmp_dir(const char *dir, char out[512])
{
	snprintf(out, 512, "%s/blobs/tmp", dir);
}

TEST(document_round_trips_with_its_metadata_and_fingerprint)
{
	char *dir;
	struct store *s = tu_store_new(&dir);
	struct person a;
	struct document_info in, out;
	size_t n = (3u << 20) + 17, got;
	uint8_t *data = malloc(n), *back, md[32];
	vault_err r;

	REQUIRE(s != NULL && person_new(s, "amina", "sesame", &a) == 0);
	tu_fill_random(data, n, 11);
	CHECK_EQ(put(s, &a.u.id, &meta_ok, data, n, BLOB_COMPRESS_AUTO, &in), VAULT_OK);
	crypto_hash_sha256(md, data, n);
	CHECK(memcmp(in.sha256, md, 32) == 0);
	CHECK_EQ(in.size, n);
	back = get(s, &a, &a.u.id, &in.id, &got, &r, &out);
	CHECK_EQ(r, VAULT_OK);
	REQUIRE(back != NULL);
	CHECK_EQ(got, n);
	CHECK(memcmp(back, data, n) == 0);
	CHECK(strcmp(out.title, "Titre de séjour") == 0);
	CHECK(strcmp(out.category, "residence") == 0);
	CHECK(strcmp(out.media_type, "application/pdf") == 0);
	CHECK(strcmp(out.issued, "2025-01-31") == 0);
	CHECK(strcmp(out.expires, "2027-01-30") == 0);
	CHECK(memcmp(out.sha256, md, 32) == 0);
	CHECK_EQ(count_blobs(s), 1);
	free(back);
	free(data);
	person_free(&a);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST(bad_metadata_is_refused_and_stores_nothing)
{
	char *dir, tdir[512];
	struct store *s = tu_store_new(&dir);
	struct person a;
	struct document_info info;
	vault_id nobody;
	uint8_t data[10] = "0123456789";
	struct document_meta bad[] = {
		{ "x", "passport", "application/pdf", NULL, NULL },
		{ "x", "identity", "application/pdf", "2026-02-29", NULL },
		{ "x", "identity", "application/pdf", "2026-13-01", NULL },
		{ "x", "identity", "application/pdf", NULL, "31/01/2026" },
		{ "", "identity", "application/pdf", NULL, NULL },
		{ "a\nb", "identity", "application/pdf", NULL, NULL },
		{ "x", "identity", "pdf", NULL, NULL },
		{ "x", "identity", "text/html; charset=utf-8", NULL, NULL },
		{ "x", "identity", "a/b/c", NULL, NULL },
	};
	size_t i;

	REQUIRE(s != NULL && person_new(s, "amina", "sesame", &a) == 0);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ(put(s, &a.u.id, &bad[i], data, sizeof data, BLOB_COMPRESS_AUTO, &info), VAULT_ERR_FORMAT);
	vault_id_random(&nobody);
	CHECK_EQ(put(s, &nobody, &meta_ok, data, sizeof data, BLOB_COMPRESS_AUTO, &info), VAULT_ERR_NOTFOUND);
	CHECK_EQ(count_rows(s, "documents"), 0);
	CHECK_EQ(count_blobs(s), 0);
	tmp_dir(dir, tdir);
	CHECK_EQ(count_files(tdir), 0);
	CHECK(documents_date_valid("2024-02-29"));
	CHECK(!documents_date_valid("2100-02-29"));
	person_free(&a);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST(size_limit_and_quota_stop_a_put_and_store_nothing)
{
	char *dir, tdir[512];
	struct store *s = tu_store_new(&dir);
	struct person a;
	struct document_info info;
	size_t n = 300000;
	uint8_t *data = malloc(n);
	uint64_t used;

	REQUIRE(s != NULL && person_new(s, "amina", "sesame", &a) == 0);
	tu_fill_random(data, n, 5);
	s->opt.max_document_size = 250000;
	CHECK_EQ(put(s, &a.u.id, &meta_ok, data, n, BLOB_COMPRESS_AUTO, &info), VAULT_ERR_LIMIT);
	CHECK_EQ(put(s, &a.u.id, &meta_ok, data, 250000, BLOB_COMPRESS_AUTO, &info), VAULT_OK);
	s->opt.quota_bytes = 400000;
	CHECK_EQ(put(s, &a.u.id, &meta_ok, data, 200000, BLOB_COMPRESS_AUTO, &info), VAULT_ERR_LIMIT);
	CHECK_EQ(put(s, &a.u.id, &meta_ok, data, 150000, BLOB_COMPRESS_AUTO, &info), VAULT_OK);
	CHECK_EQ(put(s, &a.u.id, &meta_ok, data, 1, BLOB_COMPRESS_AUTO, &info), VAULT_ERR_LIMIT);
	CHECK_EQ(documents_usage(s, &a.u.id, &used), VAULT_OK);
	CHECK_EQ(used, 400000);
	CHECK_EQ(count_rows(s, "documents"), 2);
	CHECK_EQ(count_blobs(s), 2);
	tmp_dir(dir, tdir);
	CHECK_EQ(count_files(tdir), 0);
	/* the usage follows a deletion (schema 7's triggers), and room
	 * comes back */
	CHECK_EQ(documents_delete(s, &a.u.id, &info.id, &a.u.id, NULL), VAULT_OK);
	CHECK_EQ(documents_usage(s, &a.u.id, &used), VAULT_OK);
	CHECK_EQ(used, 250000);
	CHECK_EQ(put(s, &a.u.id, &meta_ok, data, 150000, BLOB_COMPRESS_AUTO, &info), VAULT_OK);
	CHECK_EQ(documents_usage(s, &a.u.id, &used), VAULT_OK);
	CHECK_EQ(used, 400000);
	CHECK_EQ(count_rows(s, "documents WHERE (SELECT usage_bytes FROM accounts"
	    " WHERE account_id = owner_id) = (SELECT SUM(size) FROM documents)"), 2);
	free(data);
	person_free(&a);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST(blobs_swapped_between_documents_or_persons_fail_with_no_plaintext)
{
	char *dir, pa[512], pb[512], pc[512], tmp[520];
	struct store *s = tu_store_new(&dir);
	struct person a, b;
	struct document_info d1, d2, d3;
	uint8_t data[5000], *back;
	size_t got;
	vault_err r;

	REQUIRE(s != NULL && person_new(s, "amina", "sesame", &a) == 0 &&
	    person_new(s, "bruno", "ouvre", &b) == 0);
	tu_fill_text(data, sizeof data, 1);
	REQUIRE(put(s, &a.u.id, &meta_ok, data, sizeof data, BLOB_COMPRESS_AUTO, &d1) == VAULT_OK);
	REQUIRE(put(s, &a.u.id, &meta_ok, data, sizeof data, BLOB_COMPRESS_AUTO, &d2) == VAULT_OK);
	REQUIRE(put(s, &b.u.id, &meta_ok, data, sizeof data, BLOB_COMPRESS_AUTO, &d3) == VAULT_OK);
	blob_path(dir, &d1.id, pa);
	blob_path(dir, &d2.id, pb);
	blob_path(dir, &d3.id, pc);
	/* same person, two documents: swap their blobs */
	snprintf(tmp, sizeof tmp, "%s.x", pa);
	REQUIRE(rename(pa, tmp) == 0 && rename(pb, pa) == 0 && rename(tmp, pb) == 0);
	back = get(s, &a, &a.u.id, &d1.id, &got, &r, NULL);
	CHECK(back == NULL && r == VAULT_ERR_CORRUPT);
	back = get(s, &a, &a.u.id, &d2.id, &got, &r, NULL);
	CHECK(back == NULL && r == VAULT_ERR_CORRUPT);
	/* even with the swapped rows' hashes patched to match, the AD binding
	 * catches it: swap the cipher hashes in the database too */
	{
		char t1[33], t2[33], sql[400];
		vault_id_to_text(&d1.id, t1);
		vault_id_to_text(&d2.id, t2);
		snprintf(sql, sizeof sql,
		    "UPDATE documents SET cipher_sha256 = (SELECT cipher_sha256 FROM documents WHERE document_id = '%s'), "
		    "cipher_size = (SELECT cipher_size FROM documents WHERE document_id = '%s') WHERE document_id = '%s'",
		    t2, t2, t1);
		CHECK(sqlite3_exec(db_handle(s->db), sql, NULL, NULL, NULL) == SQLITE_OK);
		back = get(s, &a, &a.u.id, &d1.id, &got, &r, NULL);
		CHECK(back == NULL && r == VAULT_ERR_CORRUPT);
		CHECK_EQ(got, 0);
	}
	/* another person's blob in place of a's document */
	REQUIRE(rename(pc, pb) == 0);
	back = get(s, &a, &a.u.id, &d2.id, &got, &r, NULL);
	CHECK(back == NULL && r == VAULT_ERR_CORRUPT);
	/* a person cannot open another person's document, even knowing its id */
	back = get(s, &b, &a.u.id, &d1.id, &got, &r, NULL);
	CHECK(back == NULL && r == VAULT_ERR_NOTFOUND);
	back = get(s, &b, &b.u.id, &d1.id, &got, &r, NULL);
	CHECK(back == NULL && r == VAULT_ERR_NOTFOUND);
	person_free(&a);
	person_free(&b);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

/* Reads a document to its end or its first error; returns what was
 * released (malloc'd, *n bytes) and the error in *err. */
static uint8_t *
read_released(struct store *s, const struct person *p, const vault_id *doc,
    size_t *n, vault_err *err)
{
	struct doc_holder h = { p->u.id, p->u.pk, p->u.sk, 1 };
	struct document_read *rd;
	uint8_t *buf = malloc(1 << 20);
	size_t k;

	*n = 0;
	if ((*err = documents_open(s, &p->u.id, doc, &h, &rd, NULL)) != VAULT_OK)
		return buf;
	while ((*err = documents_read(rd, buf + *n, (1 << 20) - *n, &k)) == VAULT_OK && k > 0)
		*n += k;
	documents_close(rd);
	return buf;
}

/* A damaged blob: every byte released belongs to an authenticated chunk
 * (a prefix of the original), and the whole original is never released:
 * the read fails before its last bytes. */
TEST(damaged_blob_on_disk_yields_an_error_and_never_the_whole_document)
{
	char *dir, path[512], sql[300], t[VAULT_ID_TEXT_LEN + 1];
	struct store *s = tu_store_new(&dir);
	struct person a;
	struct document_info d, dz;
	size_t n = 200000, len, got;
	uint8_t *data = malloc(n), *blob, *back;
	vault_err r;

	REQUIRE(s != NULL && person_new(s, "amina", "sesame", &a) == 0);
	tu_fill_random(data, n, 9);
	REQUIRE(put(s, &a.u.id, &meta_ok, data, n, BLOB_COMPRESS_NEVER, &d) == VAULT_OK);
	blob_path(dir, &d.id, path);
	blob = tu_read_file(path, &len);
	REQUIRE(blob != NULL);
	/* a flipped byte in the last chunk: the first chunks are released,
	 * the last one never */
	blob[len - 40] ^= 1;
	REQUIRE(tu_write_file(path, blob, len) == 0);
	back = read_released(s, &a, &d.id, &got, &r);
	CHECK(r == VAULT_ERR_CORRUPT && got < n && memcmp(back, data, got) == 0);
	free(back);
	/* a flipped byte in the first chunk: nothing at all */
	blob[len - 40] ^= 1;
	blob[100] ^= 1;
	REQUIRE(tu_write_file(path, blob, len) == 0);
	back = read_released(s, &a, &d.id, &got, &r);
	CHECK(r == VAULT_ERR_CORRUPT && got == 0);
	free(back);
	blob[100] ^= 1;
	/* the final chunk dropped: refused before any byte (size) */
	REQUIRE(tu_write_file(path, blob, len - (n % BLOB_CHUNK) - 17) == 0);
	back = read_released(s, &a, &d.id, &got, &r);
	CHECK(r == VAULT_ERR_TRUNCATED && got == 0);
	free(back);
	/* restored: reads again, whole */
	REQUIRE(tu_write_file(path, blob, len) == 0);
	back = read_released(s, &a, &d.id, &got, &r);
	CHECK(r == VAULT_OK && got == n && memcmp(back, data, n) == 0);
	free(back);
	/* the recorded fingerprint altered in the database: the blob is
	 * intact, but it is not what the row says was deposited, so its last
	 * bytes are withheld */
	vault_id_to_text(&d.id, t);
	snprintf(sql, sizeof sql, "UPDATE documents SET sha256 = zeroblob(32)"
	    " WHERE document_id = '%s'", t);
	REQUIRE(sqlite3_exec(db_handle(s->db), sql, NULL, NULL, NULL) == SQLITE_OK);
	back = read_released(s, &a, &d.id, &got, &r);
	CHECK(r == VAULT_ERR_CORRUPT && got < n && got >= n - BLOB_CHUNK);
	free(back);
	/* gone */
	unlink(path);
	back = read_released(s, &a, &d.id, &got, &r);
	CHECK(r == VAULT_ERR_CORRUPT && got == 0);
	free(back);
	free(blob);
	/* deflated (text): the same promise, through inflate */
	tu_fill_text(data, n, 3);
	REQUIRE(put(s, &a.u.id, &meta_ok, data, n, BLOB_COMPRESS_ALWAYS, &dz) == VAULT_OK);
	blob_path(dir, &dz.id, path);
	blob = tu_read_file(path, &len);
	REQUIRE(blob != NULL);
	back = read_released(s, &a, &dz.id, &got, &r);
	CHECK(r == VAULT_OK && got == n && memcmp(back, data, n) == 0);
	free(back);
	blob[len - 20] ^= 1;
	REQUIRE(tu_write_file(path, blob, len) == 0);
	back = read_released(s, &a, &dz.id, &got, &r);
	CHECK(r == VAULT_ERR_CORRUPT && got < n && memcmp(back, data, got) == 0);
	free(back);
	free(blob);
	free(data);
	person_free(&a);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST(delete_destroys_every_key_wrapping_and_the_blob)
{
	char *dir, path[512];
	struct store *s = tu_store_new(&dir);
	struct person a;
	struct document_info d, keep;
	uint8_t data[1000], sealed[KEYS_SEALED_DOCKEY_LEN], *back;
	size_t got;
	vault_err r;
	sqlite3_stmt *st;
	char idt[33];

	REQUIRE(s != NULL && person_new(s, "amina", "sesame", &a) == 0);
	tu_fill_random(data, sizeof data, 2);
	REQUIRE(put(s, &a.u.id, &meta_ok, data, sizeof data, BLOB_COMPRESS_AUTO, &d) == VAULT_OK);
	REQUIRE(put(s, &a.u.id, &meta_ok, data, sizeof data, BLOB_COMPRESS_AUTO, &keep) == VAULT_OK);
	vault_id_to_text(&d.id, idt);
	REQUIRE(sqlite3_prepare_v2(db_handle(s->db),
	    "SELECT wrapped FROM key_wrappings WHERE document_id = ?1", -1, &st, NULL) == SQLITE_OK);
	sqlite3_bind_text(st, 1, idt, -1, SQLITE_STATIC);
	REQUIRE(sqlite3_step(st) == SQLITE_ROW);
	memcpy(sealed, sqlite3_column_blob(st, 0), sizeof sealed);
	sqlite3_finalize(st);
	CHECK_EQ(count_rows(s, "key_wrappings"), 2);
	CHECK_EQ(documents_delete(s, &a.u.id, &d.id, &a.u.id, NULL), VAULT_OK);
	CHECK_EQ(count_rows(s, "key_wrappings"), 1);
	CHECK_EQ(count_rows(s, "documents"), 1);
	blob_path(dir, &d.id, path);
	CHECK(access(path, F_OK) != 0);
	back = get(s, &a, &a.u.id, &d.id, &got, &r, NULL);
	CHECK(back == NULL && r == VAULT_ERR_NOTFOUND);
	CHECK_EQ(documents_delete(s, &a.u.id, &d.id, &a.u.id, NULL), VAULT_ERR_NOTFOUND);
	/* the sealed key is in no file of the database any more (secure_delete
	 * plus the checkpoint that empties the WAL) */
	CHECK(!tu_tree_contains(dir, sealed, sizeof sealed));
	/* the other document is untouched */
	back = get(s, &a, &a.u.id, &keep.id, &got, &r, NULL);
	CHECK(back != NULL && got == sizeof data);
	free(back);
	person_free(&a);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

/* ---- fault injection through vault_os ---------------------------------- */

static int fail_fsync_at, fsync_calls, fsync_failed_fd, retried;
static int fail_write_errno;

static int
fake_fsync(int fd)
{
	if (fsync_failed_fd >= 0 && fd == fsync_failed_fd)
		retried = 1; /* the same fd again after a failure: a retry */
	if (++fsync_calls == fail_fsync_at) {
		fsync_failed_fd = fd;
		errno = EIO;
		return -1;
	}
	return fsync(fd);
}

static ssize_t
fake_write(int fd, const void *p, size_t n)
{
	(void)fd; (void)p; (void)n;
	errno = fail_write_errno;
	return -1;
}

TEST(failed_fsync_at_each_point_fails_the_put_is_never_retried_and_leaves_nothing)
{
	char *dir, tdir[512];
	struct store *s = tu_store_new(&dir);
	struct person a;
	struct document_info d, first;
	uint8_t data[70000], *back;
	int point, points;
	size_t got;
	vault_err r;

	REQUIRE(s != NULL && person_new(s, "amina", "sesame", &a) == 0);
	tu_fill_random(data, sizeof data, 4);
	/* count the fsyncs of one put through the table */
	fail_fsync_at = -1;
	fsync_calls = 0;
	fsync_failed_fd = -1;
	vault_os.fsync = fake_fsync;
	REQUIRE(put(s, &a.u.id, &meta_ok, data, sizeof data, BLOB_COMPRESS_AUTO, &first) == VAULT_OK);
	points = fsync_calls;
	CHECK(points >= 2); /* the file and its directory at least */
	for (point = 1; point <= points; point++) {
		int64_t rows = count_rows(s, "documents");
		int blobs = count_blobs(s);
		vault_err pr;
		fsync_calls = 0;
		fail_fsync_at = point;
		fsync_failed_fd = -1;
		retried = 0;
		pr = put(s, &a.u.id, &meta_ok, data, sizeof data, BLOB_COMPRESS_AUTO, &d);
		if (pr == VAULT_OK) {
			/* this put made fewer fsyncs than the first (its fan-out
			 * directory existed already): the point was not reached */
			CHECK(fsync_calls < point);
			continue;
		}
		CHECK_EQ(pr, VAULT_ERR_IO);
		CHECK(!retried);
		CHECK_EQ(count_rows(s, "documents"), rows);
		CHECK_EQ(count_blobs(s), blobs);
		/* fail-stop: no later write is accepted, reads go on */
		fail_fsync_at = -1;
		CHECK_EQ(put(s, &a.u.id, &meta_ok, data, sizeof data, BLOB_COMPRESS_AUTO, &d), VAULT_ERR_STOPPED);
		CHECK_EQ(documents_delete(s, &a.u.id, &first.id, &a.u.id, NULL), VAULT_ERR_STOPPED);
		back = get(s, &a, &a.u.id, &first.id, &got, &r, NULL);
		CHECK(back != NULL && got == sizeof data);
		free(back);
		/* a restart clears it */
		atomic_store(s->stopped, 0);
	}
	vault_os_reset();
	tmp_dir(dir, tdir);
	CHECK_EQ(count_files(tdir), 0);
	/* and the store still works */
	{
		int before = count_blobs(s);
		CHECK_EQ(put(s, &a.u.id, &meta_ok, data, sizeof data, BLOB_COMPRESS_AUTO, &d), VAULT_OK);
		CHECK_EQ(count_blobs(s), before + 1);
	}
	person_free(&a);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST(full_disk_fails_the_put_with_nospace_and_leaves_nothing)
{
	char *dir, tdir[512];
	struct store *s = tu_store_new(&dir);
	struct person a;
	struct document_info d;
	uint8_t data[70000];

	REQUIRE(s != NULL && person_new(s, "amina", "sesame", &a) == 0);
	tu_fill_random(data, sizeof data, 4);
	vault_os.write = fake_write;
	fail_write_errno = ENOSPC;
	CHECK_EQ(put(s, &a.u.id, &meta_ok, data, sizeof data, BLOB_COMPRESS_AUTO, &d), VAULT_ERR_NOSPACE);
	/* a full disk is not a failing disk: writes stay allowed */
	CHECK_EQ(store_writable(s), VAULT_OK);
	fail_write_errno = EIO;
	CHECK_EQ(put(s, &a.u.id, &meta_ok, data, sizeof data, BLOB_COMPRESS_AUTO, &d), VAULT_ERR_IO);
	CHECK_EQ(store_writable(s), VAULT_ERR_STOPPED);
	vault_os_reset();
	CHECK_EQ(count_rows(s, "documents"), 0);
	CHECK_EQ(count_blobs(s), 0);
	tmp_dir(dir, tdir);
	CHECK_EQ(count_files(tdir), 0);
	person_free(&a);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

/* ---- the file backend's direct writes and reads ------------------------ */

/* 0: count the O_DIRECT writes and let them through; 1: refuse them
 * (EINVAL), as a file system without O_DIRECT does; 2: ENOSPC at the
 * second write */
static int dio_mode, dio_writes, dio_calls, buffered_writes;

static ssize_t
dio_write(int fd, const void *p, size_t n)
{
	int fl = fcntl(fd, F_GETFL);

	dio_calls++;
	if (fl >= 0 && (fl & O_DIRECT))
		dio_writes++;
	else
		buffered_writes++;
	if (dio_mode == 1 && fl >= 0 && (fl & O_DIRECT)) {
		errno = EINVAL;
		return -1;
	}
	if (dio_mode == 2 && dio_calls == 2) {
		errno = ENOSPC;
		return -1;
	}
	return write(fd, p, n);
}

static int
list_cb(void *ctx, const char *name, uint64_t size, int is_blob)
{
	(void)name; (void)size;
	++*(int *)ctx;
	return is_blob ? VAULT_OK : VAULT_ERR_FORMAT;
}

TEST(blobs_of_every_size_round_trip_written_direct_or_buffered)
{
	static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, (512 << 10) - 1,
	    512 << 10, (512 << 10) + 1, 1 << 20, (1 << 20) + 12345, (3 << 20) + 7 };
	char *dir = tu_tempdir("dio"), name[VAULT_ID_TEXT_LEN + 1];
	struct blobstore *bs;
	struct blobstore_put *p;
	struct blobstore_get *g;
	size_t big = (3 << 20) + 7, i, off, n, got;
	uint8_t *data = malloc(big), *back = malloc(big + 1);
	uint64_t size;
	int mode, listed;

	REQUIRE(dir != NULL && data != NULL && back != NULL);
	tu_fill_random(data, big, 9);
	REQUIRE(blobstore_fs_open(dir, 0, NULL, &bs) == VAULT_OK);
	vault_os.write = dio_write;
	for (mode = 0; mode <= 1; mode++) {
		dio_mode = mode;
		for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			dio_writes = buffered_writes = 0;
			REQUIRE(blobstore_put_new(bs, name, &p) == VAULT_OK);
			/* uneven pieces, as the blob writer hands them */
			for (off = 0; off < sizes[i]; off += n) {
				n = sizes[i] - off < 70001 ? sizes[i] - off : 70001;
				REQUIRE(blobstore_put_write(p, data + off, n) == VAULT_OK);
			}
			CHECK_EQ(blobstore_put_commit(p), VAULT_OK);
			/* whole 4 KiB blocks direct unless refused, the partial
			 * block at the end through the page cache: never padded */
			CHECK(mode == 1 || sizes[i] < 4096 || dio_writes > 0);
			CHECK(mode == 1 || (sizes[i] % 4096 != 0) == (buffered_writes > 0));
			REQUIRE(blobstore_get_open(bs, name, &g, &size) == VAULT_OK);
			CHECK_EQ(size, sizes[i]);
			for (got = 0;; got += n) {
				REQUIRE(blobstore_get_read(g, back + got, 65536 < big + 1 - got
				    ? 65536 : big + 1 - got, &n) == VAULT_OK);
				if (n == 0)
					break;
			}
			blobstore_get_close(g);
			CHECK_EQ(got, sizes[i]);
			CHECK(memcmp(back, data, sizes[i]) == 0);
		}
	}
	/* a block written in the background fails: the put fails with it
	 * and leaves no file */
	dio_mode = 2;
	dio_calls = 0;
	REQUIRE(blobstore_put_new(bs, name, &p) == VAULT_OK);
	for (off = 0; off < big; off += n) {
		n = big - off < 70001 ? big - off : 70001;
		if (blobstore_put_write(p, data + off, n) != VAULT_OK)
			break;
	}
	CHECK_EQ(blobstore_put_commit(p), VAULT_ERR_NOSPACE);
	CHECK_EQ(blobstore_exists(bs, name), VAULT_ERR_NOTFOUND);
	vault_os_reset();
	listed = 0;
	CHECK_EQ(blobstore_list(bs, list_cb, &listed), VAULT_OK);
	CHECK_EQ(listed, 2 * (int)(sizeof sizes / sizeof sizes[0]));
	blobstore_close(bs);
	free(data);
	free(back);
	tu_rmrf(dir);
	free(dir);
}

/* ---- threads: concurrent puts, and none to be had ------------------------ */

/* small, one chunk, several batches, and over the 4 MiB past which a
 * put waits for its blob before its rows (documents.c) */
static const size_t put_sizes[] = { 0, 200 << 10, (1 << 20) + 7, (4 << 20) + (100 << 10) };
#define PUT_SIZES (sizeof put_sizes / sizeof put_sizes[0])
#define PUT_MAX ((4 << 20) + (100 << 10))

/* Puts data[0..n) for every size; checks each one reads back whole. */
static void
put_every_size(struct store *s, struct person *a, const uint8_t *data)
{
	struct document_info in;
	uint8_t *back, md[32];
	size_t i, got;
	vault_err r;

	for (i = 0; i < PUT_SIZES; i++) {
		CHECK_EQ(put(s, &a->u.id, &meta_ok, data, put_sizes[i], BLOB_COMPRESS_AUTO,
		    &in), VAULT_OK);
		crypto_hash_sha256(md, data, put_sizes[i]);
		CHECK(memcmp(in.sha256, md, 32) == 0);
		back = get(s, a, &a->u.id, &in.id, &got, &r, NULL);
		CHECK_EQ(r, VAULT_OK);
		CHECK_EQ(got, put_sizes[i]);
		CHECK(back != NULL && (got == 0 || memcmp(back, data, got) == 0));
		free(back);
	}
}

static int
no_thread(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	(void)t; (void)attr; (void)fn; (void)arg;
	return EAGAIN;
}

TEST(puts_land_whole_when_no_thread_can_be_had)
{
	char *dir;
	struct store *s = tu_store_new(&dir);
	struct person a;
	uint8_t *data = malloc(PUT_MAX);

	REQUIRE(s != NULL && data != NULL && person_new(s, "amina", "sesame", &a) == 0);
	tu_fill_random(data, PUT_MAX, 21);
	/* no idle worker left, and none can be started: the hashes, the
	 * blocks, the rows and the time-stamp all run on the put's thread */
	workers_shutdown();
	vault_os.thread = no_thread;
	put_every_size(s, &a, data);
	vault_os_reset();
	CHECK_EQ(count_rows(s, "documents"), (int64_t)PUT_SIZES);
	CHECK_EQ(count_blobs(s), (int)PUT_SIZES);
	free(data);
	person_free(&a);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

struct putter {
	struct store *first;
	struct person *a;
	const uint8_t *data;
	vault_id ids[2 * PUT_SIZES];
	uint8_t sha[2 * PUT_SIZES][32];
	vault_err r;
};

static void *
putter_main(void *arg)
{
	struct putter *pt = arg;
	struct document_info in;
	struct store *sib;
	size_t i;

	if ((pt->r = store_open_sibling(pt->first, &sib)) != VAULT_OK)
		return NULL;
	for (i = 0; i < 2 * PUT_SIZES && pt->r == VAULT_OK; i++) {
		pt->r = put(sib, &pt->a->u.id, &meta_ok, pt->data,
		    put_sizes[i % PUT_SIZES], BLOB_COMPRESS_NEVER, &in);
		pt->ids[i] = in.id;
		memcpy(pt->sha[i], in.sha256, 32);
	}
	store_close(sib);
	return NULL;
}

TEST(concurrent_puts_from_sibling_stores_all_land_whole)
{
	enum { THREADS = 6 };
	char *dir;
	struct store *s = tu_store_new(&dir);
	struct person a;
	struct putter pt[THREADS];
	pthread_t th[THREADS];
	uint8_t *data = malloc(PUT_MAX), *back, md[32];
	size_t i, k, got;
	vault_err r;

	REQUIRE(s != NULL && data != NULL && person_new(s, "amina", "sesame", &a) == 0);
	tu_fill_random(data, PUT_MAX, 22);
	/* small and large puts meet in the group commit: a batch's writer
	 * waits on other puts' blobs, a large one waits for its own first */
	for (k = 0; k < THREADS; k++) {
		pt[k] = (struct putter){ .first = s, .a = &a, .data = data };
		REQUIRE(pthread_create(&th[k], NULL, putter_main, &pt[k]) == 0);
	}
	for (k = 0; k < THREADS; k++)
		pthread_join(th[k], NULL);
	for (k = 0; k < THREADS; k++) {
		CHECK_EQ(pt[k].r, VAULT_OK);
		for (i = 0; i < 2 * PUT_SIZES && pt[k].r == VAULT_OK; i++) {
			back = get(s, &a, &a.u.id, &pt[k].ids[i], &got, &r, NULL);
			CHECK_EQ(r, VAULT_OK);
			CHECK_EQ(got, put_sizes[i % PUT_SIZES]);
			crypto_hash_sha256(md, data, put_sizes[i % PUT_SIZES]);
			CHECK(memcmp(pt[k].sha[i], md, 32) == 0);
			CHECK(back != NULL && (got == 0 || memcmp(back, data, got) == 0));
			free(back);
		}
	}
	CHECK_EQ(count_rows(s, "documents"), (int64_t)(THREADS * 2 * PUT_SIZES));
	CHECK_EQ(count_blobs(s), (int)(THREADS * 2 * PUT_SIZES));
	free(data);
	person_free(&a);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

/* ---- start-up --------------------------------------------------------- */

TEST(startup_removes_temp_files_and_reports_orphans_and_missing_blobs)
{
	char *dir, path[600], bp[512];
	struct store *s = tu_store_new(&dir);
	struct store_options o;
	struct store_recovery rep;
	struct person a;
	struct document_info d1, d2;
	uint8_t data[100] = { 1 };

	REQUIRE(s != NULL && person_new(s, "amina", "sesame", &a) == 0);
	REQUIRE(put(s, &a.u.id, &meta_ok, data, sizeof data, BLOB_COMPRESS_AUTO, &d1) == VAULT_OK);
	REQUIRE(put(s, &a.u.id, &meta_ok, data, sizeof data, BLOB_COMPRESS_AUTO, &d2) == VAULT_OK);
	person_free(&a);
	store_close(s);
	/* a put cut short, an orphan blob, a missing blob, a stray file */
	snprintf(path, sizeof path, "%s/blobs/tmp/0123.tmp", dir);
	REQUIRE(tu_write_file(path, "x", 1) == 0);
	snprintf(path, sizeof path, "%s/blobs/ab", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/blobs/ab/ab000000000000000000000000000000", dir);
	REQUIRE(tu_write_file(path, "y", 1) == 0);
	snprintf(path, sizeof path, "%s/blobs/ab/notes.txt", dir);
	REQUIRE(tu_write_file(path, "z", 1) == 0);
	blob_path(dir, &d2.id, bp);
	REQUIRE(unlink(bp) == 0);
	store_options_default(&o);
	o.pw = test_pw_fast;
	REQUIRE(store_open(dir, &o, &s, &rep) == VAULT_OK);
	CHECK_EQ(rep.tmp_removed, 1);
	CHECK_EQ(rep.orphan_blobs, 1);
	CHECK_EQ(rep.missing_blobs, 1);
	CHECK_EQ(rep.stray_files, 1);
	snprintf(path, sizeof path, "%s/blobs/tmp", dir);
	CHECK_EQ(count_files(path), 0);
	/* the orphan is kept: reporting, not deleting, is the safe default */
	snprintf(path, sizeof path, "%s/blobs/ab/ab000000000000000000000000000000", dir);
	CHECK(access(path, F_OK) == 0);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST(database_of_the_first_schema_is_migrated_with_its_rows)
{
	char *dir = tu_tempdir("migrate"), path[512];
	struct vault_db *db;
	struct store_options o;
	struct store *s;
	struct account_unlocked u;
	vault_id id;
	char *code = NULL;

	REQUIRE(dir != NULL);
	store_options_default(&o);
	o.pw = test_pw_fast;
	REQUIRE(store_create(dir, &o, 0) == VAULT_OK);
	/* store_create made the latest schema: start again from version 1 */
	snprintf(path, sizeof path, "%s/vault.db", dir);
	unlink(path);
	REQUIRE(db_open(path, 1, &db) == VAULT_OK);
	CHECK_EQ(db_schema_version(db), 1);
	CHECK(sqlite3_exec(db_handle(db), "SELECT * FROM journal", NULL, NULL, NULL) != SQLITE_OK);
	CHECK(sqlite3_exec(db_handle(db), "SELECT * FROM mandates", NULL, NULL, NULL) != SQLITE_OK);
	db_close(db);
	/* an account made on schema 1, with the rows schema 1 had */
	{
		struct keys_record rec;
		uint8_t *pepper = NULL;
		char idt[33], sql[2048], *hex[9];
		const void *parts[9];
		size_t lens[9], i;
		REQUIRE(keys_pepper_load((snprintf(path, sizeof path, "%s/pepper.key", dir), path), &pepper) == VAULT_OK);
		vault_id_random(&id);
		REQUIRE(keys_account_create(&id, "pw", 2, pepper, &test_pw_fast, &rec, &code, NULL) == VAULT_OK);
		sodium_free(code);
		keys_pepper_free(pepper);
		vault_id_to_text(&id, idt);
		parts[0] = rec.pk; lens[0] = 32;
		parts[1] = rec.pw_salt; lens[1] = 16;
		parts[2] = rec.pw_nonce; lens[2] = 24;
		parts[3] = rec.pw_wrapped_sk; lens[3] = 48;
		parts[4] = rec.rec_salt; lens[4] = 16;
		parts[5] = rec.rec_nonce; lens[5] = 24;
		parts[6] = rec.rec_wrapped_sk; lens[6] = 48;
		for (i = 0; i < 7; i++) {
			hex[i] = malloc(lens[i] * 2 + 1);
			sodium_bin2hex(hex[i], lens[i] * 2 + 1, parts[i], lens[i]);
		}
		snprintf(sql, sizeof sql,
		    "INSERT INTO accounts VALUES ('%s', 'ancien', 'person', 'Ancien', NULL, 1);"
		    "INSERT INTO account_keys VALUES ('%s', x'%s', 1, 8192, x'%s', x'%s', x'%s',"
		    " x'%s', x'%s', x'%s', 1);", idt, idt, hex[0], hex[1], hex[2], hex[3],
		    hex[4], hex[5], hex[6]);
		for (i = 0; i < 7; i++)
			free(hex[i]);
		snprintf(path, sizeof path, "%s/vault.db", dir);
		REQUIRE(db_open(path, 1, &db) == VAULT_OK);
		CHECK(sqlite3_exec(db_handle(db), sql, NULL, NULL, NULL) == SQLITE_OK);
		db_close(db);
	}
	/* opening the store migrates it, keeping the account */
	REQUIRE(store_open(dir, &o, &s, NULL) == VAULT_OK);
	CHECK_EQ(db_schema_version(s->db), DB_SCHEMA_LATEST);
	CHECK(sqlite3_exec(db_handle(s->db), "SELECT * FROM journal", NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sqlite3_exec(db_handle(s->db), "SELECT * FROM mandates", NULL, NULL, NULL) == SQLITE_OK);
	CHECK_EQ(accounts_unlock(s, "ancien", "pw", 2, NULL, &u, NULL), VAULT_OK);
	CHECK(memcmp(u.id.b, id.b, VAULT_ID_LEN) == 0);
	account_unlocked_wipe(&u);
	store_close(s);
	/* a database from a newer build is refused, not damaged */
	snprintf(path, sizeof path, "%s/vault.db", dir);
	REQUIRE(db_open(path, 0, &db) == VAULT_OK);
	sqlite3_exec(db_handle(db), "PRAGMA user_version = 99", NULL, NULL, NULL);
	db_close(db);
	CHECK_EQ(db_open(path, 0, &db), VAULT_ERR_UNSUPPORTED);
	tu_rmrf(dir);
	free(dir);
}

TEST(database_settings_are_wal_full_sync_foreign_keys_and_0600)
{
	char *dir, path[512];
	struct store *s = tu_store_new(&dir);
	sqlite3_stmt *st;
	struct stat sb;

	REQUIRE(s != NULL);
	REQUIRE(sqlite3_prepare_v2(db_handle(s->db), "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
	REQUIRE(sqlite3_step(st) == SQLITE_ROW);
	CHECK(strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0);
	sqlite3_finalize(st);
	REQUIRE(sqlite3_prepare_v2(db_handle(s->db), "PRAGMA synchronous", -1, &st, NULL) == SQLITE_OK);
	REQUIRE(sqlite3_step(st) == SQLITE_ROW);
	CHECK_EQ(sqlite3_column_int(st, 0), 2); /* FULL */
	sqlite3_finalize(st);
	REQUIRE(sqlite3_prepare_v2(db_handle(s->db), "PRAGMA foreign_keys", -1, &st, NULL) == SQLITE_OK);
	REQUIRE(sqlite3_step(st) == SQLITE_ROW);
	CHECK_EQ(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	/* a document whose owner does not exist violates a foreign key */
	CHECK(sqlite3_exec(db_handle(s->db), "INSERT INTO key_wrappings VALUES "
	    "('nope', 'owner', 'x', x'00', 0)", NULL, NULL, NULL) != SQLITE_OK);
	snprintf(path, sizeof path, "%s/vault.db", dir);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

/* ---- the canary -------------------------------------------------------- */

TEST(no_plaintext_secret_or_title_on_disk)
{
	char *dir, *tmpd = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct store *s = tu_store_new(&dir);
	struct person a;
	struct document_info d;
	char marker[64], secret[64], title[96];
	uint8_t rnd[8], *data;
	size_t n = 300000, i;
	struct document_meta m = meta_ok;

	REQUIRE(s != NULL);
	randombytes_buf(rnd, sizeof rnd);
	snprintf(marker, sizeof marker, "CANARY-DOC-%02x%02x%02x%02x%02x%02x%02x%02x",
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	snprintf(secret, sizeof secret, "CANARY-SECRET-%02x%02x%02x%02x", rnd[4], rnd[5], rnd[6], rnd[7]);
	snprintf(title, sizeof title, "CANARY-TITLE-%02x%02x%02x%02x", rnd[0], rnd[2], rnd[4], rnd[6]);
	REQUIRE(person_new(s, "amina", secret, &a) == 0);
	data = malloc(n);
	/* text-like (deflated) and incompressible (not), marker sprinkled in */
	tu_fill_text(data, n, 3);
	for (i = 0; i + strlen(marker) < n; i += 40000)
		memcpy(data + i, marker, strlen(marker));
	m.title = title;
	REQUIRE(put(s, &a.u.id, &m, data, n, BLOB_COMPRESS_AUTO, &d) == VAULT_OK);
	REQUIRE(put(s, &a.u.id, &m, data, n, BLOB_COMPRESS_NEVER, &d) == VAULT_OK);
	tu_fill_random(data, n, 8);
	memcpy(data + 1000, marker, strlen(marker));
	REQUIRE(put(s, &a.u.id, &m, data, n, BLOB_COMPRESS_AUTO, &d) == VAULT_OK);
	/* the recovery code is a secret too */
	CHECK(!tu_tree_contains(dir, marker, strlen(marker)));
	CHECK(!tu_tree_contains(dir, secret, strlen(secret)));
	CHECK(!tu_tree_contains(dir, title, strlen(title)));
	CHECK(!tu_tree_contains(dir, a.code, strlen(a.code)));
	/* temp files of the system's temp directory: nothing of ours there
	 * (ctest points TMPDIR at a directory of the build; the marker is
	 * random per run) */
	CHECK(!tu_tree_contains(tmpd, marker, strlen(marker)));
	free(data);
	person_free(&a);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST_MAIN
