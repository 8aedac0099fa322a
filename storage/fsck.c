/* fsck.c: keyless integrity control of the blobs (see fsck.h). */
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "blobstore.h"
#include "db.h"
#include "fsck.h"

struct walk {
	sqlite3_stmt *has;
	void (*report)(void *, const char *, const char *);
	void *ctx;
	struct fsck_report *rep;
};

static vault_err
walk_one(void *ctx, const char *name, uint64_t size, int is_blob)
{
	struct walk *w = ctx;

	(void)size;
	if (is_blob) {
		sqlite3_reset(w->has);
		sqlite3_bind_text(w->has, 1, name, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(w->has) == SQLITE_ROW)
			return VAULT_OK;
	}
	w->rep->unreferenced++;
	w->report(w->ctx, "unreferenced", name);
	return VAULT_OK;
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

enum fsck_verdict
fsck_check_blob(struct blobstore *bs, const char *name, uint64_t want_size,
    const uint8_t want[32], const struct fsck_pace *pace, uint64_t *bytes)
{
	struct blobstore_get *g;
	unsigned char md[32];
	enum fsck_verdict v = FSCK_BLOB_UNCHECKED;
	EVP_MD_CTX *c;
	uint64_t size, total = 0, t0 = 0;
	vault_err r;
	size_t n;
	int ok;

	switch (blobstore_get_open(bs, name, &g, &size)) {
	case VAULT_OK: break;
	case VAULT_ERR_NOTFOUND: return FSCK_BLOB_MISSING;
	case VAULT_ERR_NOMEM: return FSCK_BLOB_UNCHECKED;
	/* a directory, a symbolic link or a file we may not read in the
	 * blob's place: whatever it is, it is not the blob */
	default: return FSCK_BLOB_CORRUPT;
	}
	if ((c = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		goto out;
	for (;;) {
		if (pace->after_read != NULL)
			t0 = mono_ns();
		r = blobstore_get_read(g, pace->buf, pace->cap, &n);
		if (pace->after_read != NULL &&
		    pace->after_read(pace->ctx, mono_ns() - t0) != 0) {
			v = FSCK_BLOB_INTERRUPTED;
			goto out;
		}
		if (r != VAULT_OK || n == 0)
			break; /* a read error leaves total short: corrupt */
		EVP_DigestUpdate(c, pace->buf, n);
		total += n;
	}
	if (EVP_DigestFinal_ex(c, md, NULL) != 1)
		goto out;
	ok = total == want_size && size == want_size && sodium_memcmp(md, want, 32) == 0;
	v = ok ? FSCK_BLOB_OK : FSCK_BLOB_CORRUPT;
out:
	if (bytes != NULL)
		*bytes += total;
	EVP_MD_CTX_free(c);
	blobstore_get_close(g);
	return v;
}

vault_err
fsck_run(struct vault_db *db, struct blobstore *bs,
    void (*report)(void *, const char *, const char *), void *ctx,
    struct fsck_report *rep)
{
	static const char *const kinds[] = {
		[FSCK_BLOB_MISSING] = "missing", [FSCK_BLOB_CORRUPT] = "corrupt",
		[FSCK_BLOB_UNCHECKED] = "unchecked",
	};
	unsigned char buf[65536];
	struct fsck_pace pace = { buf, sizeof buf, NULL, NULL };
	enum fsck_verdict v;
	struct walk w;
	sqlite3_stmt *st = NULL;
	vault_err r = VAULT_OK;
	const char *name;
	int rc;

	memset(rep, 0, sizeof *rep);
	memset(&w, 0, sizeof w);
	if (sqlite3_prepare_v2(db_handle(db), "SELECT document_id, cipher_size,"
	    " cipher_sha256 FROM documents ORDER BY document_id", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db_handle(db), "SELECT 1 FROM documents WHERE"
	    " document_id = ?1", -1, &w.has, NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(st, 0);
		rep->checked++;
		v = sqlite3_column_bytes(st, 2) == 32 ? fsck_check_blob(bs, name,
		    (uint64_t)sqlite3_column_int64(st, 1), sqlite3_column_blob(st, 2),
		    &pace, &rep->bytes) : FSCK_BLOB_CORRUPT;
		switch (v) {
		case FSCK_BLOB_MISSING: rep->missing++; break;
		case FSCK_BLOB_CORRUPT: rep->corrupt++; break;
		case FSCK_BLOB_UNCHECKED: rep->unchecked++; break;
		default: continue;
		}
		report(ctx, kinds[v], name);
	}
	if (rc != SQLITE_DONE) {
		r = db_err(rc);
		goto out;
	}
	w.report = report;
	w.ctx = ctx;
	w.rep = rep;
	r = blobstore_list(bs, walk_one, &w);
out:
	sqlite3_finalize(st);
	sqlite3_finalize(w.has);
	return r;
}
