/* fsck.c: keyless integrity control of the blobs (see fsck.h). */
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

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

/* 1 if the blob matches its recorded size and hash, 0 if not, -1 missing. */
static int
check_blob(struct blobstore *bs, const char *name, uint64_t want_size,
    const uint8_t want[32], uint64_t *bytes)
{
	struct blobstore_get *g;
	unsigned char buf[65536], md[32];
	EVP_MD_CTX *c;
	uint64_t size, total = 0;
	size_t n;
	int ok = 0;

	if (blobstore_get_open(bs, name, &g, &size) != VAULT_OK)
		return -1;
	if ((c = EVP_MD_CTX_new()) != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1) {
		while (blobstore_get_read(g, buf, sizeof buf, &n) == VAULT_OK && n > 0) {
			EVP_DigestUpdate(c, buf, n);
			total += n;
		}
		ok = EVP_DigestFinal_ex(c, md, NULL) == 1 && total == want_size &&
		    size == want_size && sodium_memcmp(md, want, 32) == 0;
	}
	*bytes += total;
	EVP_MD_CTX_free(c);
	blobstore_get_close(g);
	return ok;
}

vault_err
fsck_run(struct vault_db *db, struct blobstore *bs,
    void (*report)(void *, const char *, const char *), void *ctx,
    struct fsck_report *rep)
{
	struct walk w;
	sqlite3_stmt *st = NULL;
	vault_err r = VAULT_OK;
	const char *name;
	int rc, k;

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
		k = sqlite3_column_bytes(st, 2) == 32 ? check_blob(bs, name,
		    (uint64_t)sqlite3_column_int64(st, 1), sqlite3_column_blob(st, 2),
		    &rep->bytes) : 0;
		if (k < 0) {
			rep->missing++;
			report(ctx, "missing", name);
		} else if (k == 0) {
			rep->corrupt++;
			report(ctx, "corrupt", name);
		}
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
