/*
 * documents.c: a person's documents, from the first byte of a put to the
 * row that makes it visible, and back out through a verified read.
 *
 * Durability of a put, in order (see also blobstore_fs.c):
 *   1. blob written and fsynced under a temp name, renamed, directory fsynced
 *   2. one transaction: document row + owner's key wrapping, COMMIT
 *      (synchronous=FULL: the WAL is fsynced before COMMIT returns)
 *   3. only now does the caller hear success
 * A crash before 2 leaves an orphan blob that no row names: invisible,
 * reported at start-up. A crash after 2 leaves the whole document.
 */
#include <pthread.h>
#include <stdatomic.h>

#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "blobstore.h"
#include "db.h"
#include "documents.h"
#include "journal.h"
#include "tsa.h"
#include "keys.h"
#include "workers.h"
#include "secmem.h"
#include "vault_os.h"

static const char *const categories[] = {
	"identity", "residence", "health", "housing", "employment", "income",
	"tax", "family", "schooling", "bank", "justice", "other",
};

#define TITLE_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TITLE_AD_LEN (4 + 2 * VAULT_ID_LEN)
static const char title_label[] = "vault/title/v1";

int
documents_category_valid(const char *c)
{
	size_t i;

	for (i = 0; c != NULL && i < sizeof categories / sizeof categories[0]; i++)
		if (strcmp(c, categories[i]) == 0)
			return 1;
	return 0;
}

int
documents_category_index(const char *c)
{
	int i;

	for (i = 0; c != NULL && i < DOC_CATEGORY_COUNT; i++)
		if (strcmp(c, categories[i]) == 0)
			return i;
	return -1;
}

const char *
documents_category_name(int i)
{
	return i >= 0 && i < DOC_CATEGORY_COUNT ? categories[i] : NULL;
}

_Static_assert(sizeof categories / sizeof categories[0] == DOC_CATEGORY_COUNT,
    "categories");

int
documents_date_valid(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d, i;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 0;
	return 1;
}

static int
title_valid(const char *t)
{
	size_t n, i;

	if (t == NULL || (n = strlen(t)) == 0 || n > DOC_TITLE_MAX ||
	    !vault_utf8_valid(t))
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			return 0;
	return 1;
}

/* type "/" subtype, each of RFC 6838 restricted-name characters. */
static int
media_type_valid(const char *m)
{
	const char *slash;
	size_t n, i;

	if (m == NULL || (n = strlen(m)) < 3 || n > DOC_MEDIA_TYPE_MAX ||
	    (slash = strchr(m, '/')) == NULL || slash == m || slash[1] == '\0' ||
	    strchr(slash + 1, '/') != NULL)
		return 0;
	for (i = 0; i < n; i++) {
		char c = m[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("!#$&^_.+-/", c) != NULL))
			return 0;
	}
	return 1;
}

static void
title_ad(const vault_id *doc, const vault_id *owner, uint8_t ad[TITLE_AD_LEN])
{
	memcpy(ad, "VTI1", 4);
	memcpy(ad + 4, doc->b, VAULT_ID_LEN);
	memcpy(ad + 4 + VAULT_ID_LEN, owner->b, VAULT_ID_LEN);
}

/* The title is personal data ("titre de séjour de …"): it is stored
 * encrypted under a key derived from the document key, so that whoever can
 * open the document can read its title, and nobody else. */
static vault_err
title_key(const uint8_t *dk, uint8_t **tkp)
{
	uint8_t *tk;

	*tkp = NULL;
	if ((tk = secmem_alloc(32)) == NULL)
		return VAULT_ERR_NOMEM;
	crypto_generichash(tk, 32, (const uint8_t *)title_label,
	    sizeof title_label - 1, dk, KEYS_DOCKEY_LEN);
	*tkp = tk;
	return VAULT_OK;
}

static vault_err
title_seal(const uint8_t *dk, const vault_id *doc, const vault_id *owner,
    const char *title, uint8_t **outp, size_t *out_len)
{
	uint8_t ad[TITLE_AD_LEN], *out, *tk;
	size_t n = strlen(title);
	vault_err r;

	*outp = NULL;
	if ((r = title_key(dk, &tk)) != VAULT_OK)
		return r;
	*out_len = TITLE_NONCE_LEN + n + crypto_aead_xchacha20poly1305_ietf_ABYTES;
	if ((out = malloc(*out_len)) == NULL) {
		secmem_free(tk);
		return VAULT_ERR_NOMEM;
	}
	title_ad(doc, owner, ad);
	randombytes_buf(out, TITLE_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + TITLE_NONCE_LEN, NULL,
	    (const uint8_t *)title, n, ad, sizeof ad, NULL, out, tk);
	secmem_free(tk);
	*outp = out;
	return VAULT_OK;
}

static vault_err
title_open(const uint8_t *dk, const vault_id *doc, const vault_id *owner,
    const uint8_t *enc, size_t enc_len, char title[DOC_TITLE_MAX + 1])
{
	uint8_t ad[TITLE_AD_LEN], *tk;
	unsigned long long n;
	vault_err r;

	title[0] = '\0';
	if (enc_len < TITLE_NONCE_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES ||
	    enc_len > TITLE_NONCE_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES +
	    DOC_TITLE_MAX)
		return VAULT_ERR_CORRUPT;
	if ((r = title_key(dk, &tk)) != VAULT_OK)
		return r;
	title_ad(doc, owner, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)title, &n, NULL,
	    enc + TITLE_NONCE_LEN, enc_len - TITLE_NONCE_LEN, ad, sizeof ad, enc,
	    tk) != 0)
		r = VAULT_ERR_CORRUPT;
	else
		title[n] = '\0';
	secmem_free(tk);
	return r;
}

/* ---- usage ------------------------------------------------------------ */

vault_err
documents_timestamp(struct store *s, const vault_id *owner, const vault_id *doc,
    uint8_t **der, size_t *len)
{
	char ot[VAULT_ID_TEXT_LEN + 1], dt[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;
	vault_err r;
	int rc;

	*der = NULL;
	*len = 0;
	vault_id_to_text(owner, ot);
	vault_id_to_text(doc, dt);
	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT tsa_token FROM documents"
	    " WHERE document_id = ?1 AND owner_id = ?2", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, dt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ot, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) > 0) {
		*len = (size_t)sqlite3_column_bytes(st, 0);
		if ((*der = malloc(*len)) == NULL)
			r = VAULT_ERR_NOMEM;
		else {
			memcpy(*der, sqlite3_column_blob(st, 0), *len);
			r = VAULT_OK;
		}
	} else
		r = rc == SQLITE_ROW || rc == SQLITE_DONE ? VAULT_ERR_NOTFOUND : db_err(rc);
	sqlite3_finalize(st);
	return r;
}

vault_err
documents_usage(struct store *s, const vault_id *owner, uint64_t *bytes)
{
	char idt[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;
	int rc;

	*bytes = 0;
	vault_id_to_text(owner, idt);
	/* kept by the triggers of schema 7 */
	if (db_prepare(s->db, "SELECT COALESCE((SELECT usage_bytes FROM accounts"
	    " WHERE account_id = ?1), 0)", &st) != VAULT_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, idt, -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*bytes = (uint64_t)sqlite3_column_int64(st, 0);
	db_finish(s->db, st);
	return rc == SQLITE_ROW ? VAULT_OK : db_err(rc);
}

/* ---- put -------------------------------------------------------------- */

struct document_put {
	struct store *s;
	vault_id id, owner, depositor;
	char idt[VAULT_ID_TEXT_LEN + 1];
	uint8_t owner_pk[KEYS_PK_LEN];
	uint8_t *dk;                 /* guarded */
	char *title;                 /* guarded copy */
	char category[16];
	char media_type[DOC_MEDIA_TYPE_MAX + 1];
	char issued[11], expires[11];
	struct blobstore_put *bp;
	struct blob_writer *w;
	uint64_t size, limit;
	char origin[JOURNAL_ORIGIN_MAX + 1];
	uint8_t *token;              /* RFC 3161 TimeStampResp, DER */
	size_t token_len;
	char serial[65];
	int tsa_pending;        /* the external TSA did not answer */
	vault_err stamp_r;           /* tsa_stamp's answer (stamp_fingerprint) */
	_Atomic int abandoned;       /* the put failed: no stamp to ask for */
	vault_err err;               /* sticky */
};

static vault_err
sink_write(void *ctx, const void *p, size_t len)
{
	return blobstore_put_write(ctx, p, len);
}

void
documents_put_abort(struct document_put *p)
{
	if (p == NULL)
		return;
	blob_writer_free(p->w);
	blobstore_put_abort(p->bp);
	OPENSSL_free(p->token);
	keys_dockey_free(p->dk);
	secmem_free(p->title);
	free(p);
}

vault_err
documents_put_begin(struct store *s, const vault_id *owner,
    const vault_id *depositor, const struct document_meta *meta,
    enum blob_compress compress, const char *origin, struct document_put **pp)
{
	struct document_put *p;
	struct blob_sink sink;
	uint64_t used;
	vault_err r;

	*pp = NULL;
	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	if (!title_valid(meta->title) || !documents_category_valid(meta->category) ||
	    !media_type_valid(meta->media_type) ||
	    (meta->issued != NULL && !documents_date_valid(meta->issued)) ||
	    (meta->expires != NULL && !documents_date_valid(meta->expires)))
		return VAULT_ERR_FORMAT;
	if ((p = calloc(1, sizeof *p)) == NULL)
		return VAULT_ERR_NOMEM;
	p->s = s;
	p->owner = *owner;
	p->depositor = *depositor;
	snprintf(p->origin, sizeof p->origin, "%s", origin != NULL ? origin : "");
	snprintf(p->category, sizeof p->category, "%s", meta->category);
	snprintf(p->media_type, sizeof p->media_type, "%s", meta->media_type);
	snprintf(p->issued, sizeof p->issued, "%s", meta->issued ? meta->issued : "");
	snprintf(p->expires, sizeof p->expires, "%s", meta->expires ? meta->expires : "");
	if ((r = accounts_public_key(s, owner, p->owner_pk)) != VAULT_OK ||
	    (r = documents_usage(s, owner, &used)) != VAULT_OK)
		goto fail;
	/* The tighter of the two limits, checked as bytes arrive. */
	p->limit = s->opt.max_document_size;
	if (used >= s->opt.quota_bytes)
		p->limit = 0;
	else if (s->opt.quota_bytes - used < p->limit)
		p->limit = s->opt.quota_bytes - used;
	/* one size for every title, so that secmem's cache serves them all */
	if ((p->title = secmem_alloc(DOC_TITLE_MAX + 1)) == NULL) {
		r = VAULT_ERR_NOMEM;
		goto fail;
	}
	memcpy(p->title, meta->title, strlen(meta->title) + 1);
	/* the blob store names the blob, at random: the document's id */
	if ((r = keys_dockey_new(&p->dk)) != VAULT_OK ||
	    (r = blobstore_put_new(s->blobs, p->idt, &p->bp)) != VAULT_OK ||
	    (r = vault_id_from_text(p->idt, &p->id)) != VAULT_OK)
		goto fail;
	sink.write = sink_write;
	sink.ctx = p->bp;
	if ((r = blob_writer_new(p->dk, &p->id, owner, compress, &sink,
	    &p->w)) != VAULT_OK)
		goto fail;
	*pp = p;
	return VAULT_OK;
fail:
	documents_put_abort(p);
	/* the blob store's pool reports a failed sync here: stop */
	return store_note_failure(s, r);
}

vault_err
documents_put_write(struct document_put *p, const void *buf, size_t len)
{
	if (p->err != VAULT_OK)
		return p->err;
	if (len > p->limit - p->size) {
		p->err = VAULT_ERR_LIMIT;
		return p->err;
	}
	p->size += len;
	p->err = blob_writer_write(p->w, buf, len);
	return p->err;
}

vault_err
documents_add_wrapping(struct store *s, const char *document_id,
    const char *holder_kind, const char *holder_id, const void *wrapped,
    size_t len, int64_t now)
{
	sqlite3_stmt *st;
	int rc;

	if (db_prepare(s->db,
	    "INSERT INTO key_wrappings (document_id, holder_kind, holder_id,"
	    " wrapped, created_at) VALUES (?1, ?2, ?3, ?4, ?5)", &st) != VAULT_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, document_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, holder_kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, holder_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 4, wrapped, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	rc = sqlite3_step(st);
	db_finish(s->db, st);
	return rc == SQLITE_DONE ? VAULT_OK : db_err(rc);
}

/* A document deposited in the categories of an active read mandate is
 * wrapped for that mandate's aidant at once (DESIGN.md: charter 3). */
static vault_err
wrap_for_mandates(struct document_put *p, struct store *ws, const char *owner,
    int64_t now)
{
	uint8_t sealed[KEYS_SEALED_DOCKEY_LEN];
	sqlite3_stmt *q = NULL;
	vault_err r = VAULT_OK;
	int rc;

	if (db_prepare(ws->db,
	    "SELECT m.mandate_id, k.public_key FROM mandates m JOIN account_keys k"
	    " ON k.account_id = m.aidant_id WHERE m.person_id = ?1"
	    " AND m.scope_read = 1 AND m.revoked_at IS NULL AND m.expires_at > ?2"
	    " AND (m.categories >> ?3) & 1", &q) != VAULT_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(q, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now);
	sqlite3_bind_int(q, 3, documents_category_index(p->category));
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(q, 1) != KEYS_PK_LEN) {
			r = VAULT_ERR_CORRUPT;
			goto out;
		}
		if ((r = keys_dockey_seal(p->dk, &p->id, sqlite3_column_blob(q, 1),
		    sealed)) != VAULT_OK ||
		    (r = documents_add_wrapping(ws, p->idt, "aidant",
		    (const char *)sqlite3_column_text(q, 0), sealed, sizeof sealed,
		    now)) != VAULT_OK)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = db_err(rc);
out:
	db_finish(ws->db, q);
	return r;
}

/* VAULT_OK if aidant holds an active deposit mandate from owner covering
 * category (its id in mandate), VAULT_ERR_AUTH if not. */
static vault_err
deposit_mandate_active(struct store *ws, const char *owner, const char *aidant,
    const char *category, int64_t now, char mandate[VAULT_ID_TEXT_LEN + 1])
{
	sqlite3_stmt *st;
	int rc;

	if (db_prepare(ws->db, "SELECT mandate_id FROM mandates WHERE person_id = ?1"
	    " AND aidant_id = ?2 AND scope_deposit = 1 AND revoked_at IS NULL"
	    " AND expires_at > ?3 AND (categories >> ?4) & 1"
	    " ORDER BY expires_at DESC LIMIT 1", &st) != VAULT_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, aidant, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int(st, 4, documents_category_index(category));
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		snprintf(mandate, VAULT_ID_TEXT_LEN + 1, "%s",
		    (const char *)sqlite3_column_text(st, 0));
	db_finish(ws->db, st);
	return rc == SQLITE_ROW ? VAULT_OK : rc == SQLITE_DONE ? VAULT_ERR_AUTH : db_err(rc);
}

static vault_err
insert_rows(struct document_put *p, struct store *ws, const struct blob_result *res,
    const uint8_t *sealed, const uint8_t *tenc, size_t tenc_len, int64_t now)
{
	char owner[VAULT_ID_TEXT_LEN + 1], dep[VAULT_ID_TEXT_LEN + 1];
	char mandate[VAULT_ID_TEXT_LEN + 1] = "";
	sqlite3_stmt *st = NULL;
	uint64_t used;
	vault_err r;
	int rc;

	vault_id_to_text(&p->owner, owner);
	vault_id_to_text(&p->depositor, dep);
	/* Quota again, inside the write transaction: two puts that each fit
	 * alone must not both land past the quota. */
	/* An aidant's deposit again needs, now, an active deposit mandate for
	 * this category: the person may have revoked it while the paper was
	 * being uploaded, and the revocation wins. */
	if (memcmp(p->depositor.b, p->owner.b, VAULT_ID_LEN) != 0 &&
	    (r = deposit_mandate_active(ws, owner, dep, p->category, now,
	    mandate)) != VAULT_OK)
		return r;
	if ((r = documents_usage(ws, &p->owner, &used)) != VAULT_OK)
		return r;
	if (used + res->size > p->s->opt.quota_bytes)
		return VAULT_ERR_LIMIT;
	if (db_prepare(ws->db,
	    "INSERT INTO documents (document_id, owner_id, title_enc, category,"
	    " media_type, size, sha256, blob_version, compressed, cipher_size,"
	    " cipher_sha256, issued, expires, deposited_by, deposited_at, tsa_token,"
	    " tsa_serial, tsa_pending) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
	    " ?10, ?11, NULLIF(?12, ''), NULLIF(?13, ''), ?14, ?15, ?16,"
	    " NULLIF(?17, ''), ?18)", &st) != VAULT_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, p->idt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, tenc, (int)tenc_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, p->category, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, p->media_type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)res->size);
	sqlite3_bind_blob(st, 7, res->sha256, 32, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, BLOB_VERSION);
	sqlite3_bind_int(st, 9, res->compressed);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)res->cipher_size);
	sqlite3_bind_blob(st, 11, res->cipher_sha256, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, p->issued, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, p->expires, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 14, dep, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 15, now);
	if (p->token != NULL)
		sqlite3_bind_blob(st, 16, p->token, (int)p->token_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 17, p->serial, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 18, p->tsa_pending);
	rc = sqlite3_step(st);
	db_finish(ws->db, st);
	if (rc != SQLITE_DONE)
		return db_err(rc);
	if ((r = documents_add_wrapping(ws, p->idt, "owner", owner, sealed,
	    KEYS_SEALED_DOCKEY_LEN, now)) != VAULT_OK ||
	    (r = wrap_for_mandates(p, ws, owner, now)) != VAULT_OK ||
	    (r = journal_append(ws, &(struct journal_event){ &p->depositor,
	    &p->owner, "document.deposit", p->idt, "ok",
	    p->origin[0] != '\0' ? p->origin : NULL })) != VAULT_OK)
		return r;
	/* an aidant's deposit used his mandate: the person sees both, and
	 * in the same commit (no second WAL sync for the deposit) */
	if (mandate[0] != '\0' && (r = journal_append(ws, &(struct journal_event){
	    &p->depositor, &p->owner, "mandate.use", mandate, "ok",
	    p->origin[0] != '\0' ? p->origin : NULL })) != VAULT_OK)
		return r;
	if (p->tsa_pending)
		r = journal_append(ws, &(struct journal_event){ NULL, &p->owner,
		    "timestamp.wait", p->idt, "pending", NULL });
	return r;
}

/* ---- group commit ------------------------------------------------------ */

/*
 * A deposit's blob is made durable by the deposit's own thread (its last
 * block, fchmod and fsync, blobstore_fs.c) while a worker seals its key
 * and title, takes the fingerprints and the time-stamp (made on the hash
 * thread) and writes its rows. A small blob (BLOB_OVERLAP_MAX) does not
 * wait for its fsync before its rows are written: it joins the group
 * commit at once, the batch's rows are inserted meanwhile, and only the
 * COMMIT waits until every blob of the batch is durable. The order that
 * makes a deposit safe is unchanged (blob durable, then the COMMIT that
 * makes it visible); what overlaps is the CPU work of the inserts with
 * the fsync. A large blob's fsync may take seconds: it waits first, so
 * that the write lock is never held across it.
 */
#define BLOB_OVERLAP_MAX (4u << 20)

/* One put's blob on its way to durable, and the condition its threads
 * wait on under the group's mutex: the blob durable, the rows written,
 * its turn to write a batch. One condition per put, not the group's: with
 * eight deposits at once, every wake-up on a shared one woke all of
 * their threads (a tenth of vaultd's CPU in context switches). */
struct blob_commit {
	pthread_cond_t cv;
	vault_err r;
	int done;
};

/* One deposit's rows, waiting to be written with others. */
struct commit_job {
	struct document_put *p;
	const struct blob_result *res;
	const uint8_t *sealed, *tenc;
	size_t tenc_len;
	int64_t now;
	struct blob_commit *bc; /* the blob, durable once bc->done && bc->r OK */
	vault_err insert_r;     /* its own rows: refused (quota), or written */
	vault_err commit_r;     /* the shared COMMIT */
	int done;
	struct commit_job *next;
};

static const char sql_savepoint[] = "SAVEPOINT put";
static const char sql_release[] = "RELEASE put";
static const char sql_rollback_to[] = "ROLLBACK TO put";

/* Under the group's mutex: *rp = r, *done set, and the threads waiting
 * on bc's condition woken (the put's own steps: its blob durable, its
 * rows written). */
static void
step_done(struct commit_group *g, struct blob_commit *bc, vault_err *rp,
    int *done, vault_err r)
{
	pthread_mutex_lock(&g->mu);
	*rp = r;
	*done = 1;
	pthread_cond_broadcast(&bc->cv);
	pthread_mutex_unlock(&g->mu);
}

/* Returns once every blob of batch is durable or failed. */
static void
wait_blobs(struct commit_group *g, struct commit_job *batch)
{
	struct commit_job *j;

	pthread_mutex_lock(&g->mu);
	for (j = batch; j != NULL; j = j->next)
		while (!j->bc->done)
			pthread_cond_wait(&j->bc->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

/* Writes the rows of every job of batch in one transaction on ws, each
 * inside its own savepoint, so that one refused deposit (over quota)
 * leaves the others whole; then, once their blobs are durable, one
 * COMMIT, one WAL sync for all. Returns 1 if the batch must be written
 * again: a blob failed, its job is marked, and the transaction was rolled
 * back whole. */
static int
commit_batch(struct store *ws, struct commit_job *batch)
{
	struct commit_job *j;
	vault_err r;
	int written = 0, again = 0;

	if ((r = db_begin(ws->db)) != VAULT_OK) {
		for (j = batch; j != NULL; j = j->next)
			j->insert_r = r;
		return 0;
	}
	for (j = batch; j != NULL; j = j->next) {
		if (j->insert_r != VAULT_OK)
			continue; /* its blob failed in an earlier pass */
		if ((r = db_run(ws->db, sql_savepoint)) != VAULT_OK)
			break;
		j->insert_r = insert_rows(j->p, ws, j->res, j->sealed, j->tenc,
		    j->tenc_len, j->now);
		if (j->insert_r != VAULT_OK && (r = db_run(ws->db, sql_rollback_to)) != VAULT_OK)
			break;
		if ((r = db_run(ws->db, sql_release)) != VAULT_OK)
			break;
		written += j->insert_r == VAULT_OK;
	}
	if (r == VAULT_OK) {
		wait_blobs(ws->group, batch);
		for (j = batch; j != NULL; j = j->next) {
			if (j->bc->r == VAULT_ERR_IO) {
				/* a failed fsync stops the store: no commit,
				 * of this batch or any after it */
				(void)store_note_failure(ws, VAULT_ERR_IO);
				r = VAULT_ERR_STOPPED;
			}
			if (j->insert_r == VAULT_OK && j->bc->r != VAULT_OK) {
				/* its rows must not commit: nor, in this
				 * transaction, anybody's */
				j->insert_r = j->bc->r;
				again = 1;
			}
		}
	}
	if (r != VAULT_OK) {
		/* the transaction itself failed: nothing of the batch stays */
		db_rollback(ws->db);
		for (j = batch; j != NULL; j = j->next)
			if (j->insert_r == VAULT_OK)
				j->insert_r = r;
		return 0;
	}
	if (again) {
		db_rollback(ws->db);
		for (j = batch; j != NULL; j = j->next)
			if (j->insert_r != VAULT_OK && j->bc->r == VAULT_OK)
				j->insert_r = VAULT_OK; /* refused in this pass only */
		return 1;
	}
	if (written == 0) {
		db_rollback(ws->db);
		return 0;
	}
	r = store_note_failure(ws, db_commit(ws->db));
	for (j = batch; j != NULL; j = j->next)
		j->commit_r = r;
	return 0;
}

/* Queues job and returns once its rows are committed or refused. Whoever
 * finds no batch being written writes all that wait (its own included),
 * on its own connection; the others sleep meanwhile. With one deposit at a
 * time this is one transaction as before; with many, their COMMITs and
 * WAL syncs become one. */
static void
group_commit(struct store *s, struct commit_job *job)
{
	struct commit_group *g = s->group;
	struct commit_job *batch, *j;

	pthread_mutex_lock(&g->mu);
	if (g->tail != NULL)
		g->tail->next = job;
	else
		g->head = job;
	g->tail = job;
	while (!job->done) {
		if (g->busy) {
			pthread_cond_wait(&job->bc->cv, &g->mu);
			continue;
		}
		g->busy = 1;
		batch = g->head;
		g->head = g->tail = NULL;
		pthread_mutex_unlock(&g->mu);
		/* a pass that meets a failed blob is written again without it
		 * (a failed fsync has stopped the store: the next pass's
		 * COMMIT is refused, and every job hears it) */
		while (commit_batch(s, batch))
			;
		pthread_mutex_lock(&g->mu);
		for (j = batch; j != NULL; j = j->next) {
			j->done = 1;
			pthread_cond_broadcast(&j->bc->cv);
		}
		g->busy = 0;
		/* the next batch's writer: whoever waits first */
		if (g->head != NULL)
			pthread_cond_broadcast(&g->head->bc->cv);
	}
	pthread_mutex_unlock(&g->mu);
}

/* The time-stamp over the fingerprint, asked for on the hash thread as
 * soon as the fingerprint is known (blob_writer_on_fingerprint), while
 * the put's thread encrypts the end of the paper: on a 200 KiB paper the
 * stamp (~0.1 ms in-process) had been the longest step between the last
 * byte and the rows. */
static void
stamp_fingerprint(void *arg, const uint8_t sha256[32])
{
	struct document_put *p = arg;

	/* the blob's end failed (a full disk) after this was queued: an
	 * external TSA is not asked, nor waited for, about a refused paper */
	if (atomic_load(&p->abandoned)) {
		p->stamp_r = VAULT_ERR_INTERNAL;
		return;
	}
	p->stamp_r = tsa_stamp(p->s->tsa, sha256, 0, &p->token, &p->token_len,
	    p->serial);
}

/* What the put's thread hands to a worker while it makes the blob
 * durable: everything of the end of a deposit that is CPU, not disk. */
struct put_rows {
	struct document_put *p;
	struct blob_commit *bc;
	struct commit_job *job;
	struct blob_result res;
	uint8_t sealed[KEYS_SEALED_DOCKEY_LEN];
	uint8_t *tenc;
	size_t tenc_len;
	int64_t now;
	vault_err r;            /* before the rows: seal, fingerprints, stamp */
	int done;               /* under the group's mutex */
};

/* The sealed key and title, the fingerprints and the time-stamp (made on
 * the hash thread meanwhile), then the rows, in the group commit, whose
 * COMMIT waits for the blob. */
static void
put_rows_main(void *arg)
{
	struct put_rows *w = arg;
	struct document_put *p = w->p;
	struct commit_group *g = p->s->group;
	vault_err r;

	r = keys_dockey_seal(p->dk, &p->id, p->owner_pk, w->sealed);
	if (r == VAULT_OK)
		r = title_seal(p->dk, &p->id, &p->owner, p->title, &w->tenc,
		    &w->tenc_len);
	if (r == VAULT_OK)
		r = blob_writer_finish(p->w, &w->res);
	/* an external TSA that does not answer does not stop a deposit: the
	 * document waits for its token (tsa_pending), the wait is journaled
	 * with the deposit, and the retry worker asks again */
	if (r == VAULT_OK && p->s->tsa != NULL && (r = p->stamp_r) == VAULT_ERR_UNAVAILABLE) {
		p->tsa_pending = 1;
		r = VAULT_OK;
	}
	/* a large blob's fsync may take seconds: the write lock is not held
	 * across it (see above) */
	if (r == VAULT_OK && w->res.cipher_size > BLOB_OVERLAP_MAX)
		wait_blobs(g, &(struct commit_job){ .bc = w->bc });
	if (r == VAULT_OK && (r = store_writable(p->s)) == VAULT_OK) {
		w->now = vault_os.now_ms();
		*w->job = (struct commit_job){ p, &w->res, w->sealed, w->tenc,
		    w->tenc_len, w->now, w->bc, VAULT_OK, VAULT_OK, 0, NULL };
		group_commit(p->s, w->job);
	}
	step_done(g, w->bc, &w->r, &w->done, r);
}

vault_err
documents_put_commit(struct document_put *p, struct document_info *info)
{
	struct commit_group *g = p->s->group;
	struct blob_commit bc = { .r = VAULT_OK };
	struct commit_job job = { 0 };
	struct put_rows w = { .p = p, .bc = &bc, .job = &job };
	int blob_durable = 0, worker;
	vault_err r;

	if (info != NULL)
		memset(info, 0, sizeof *info);
	pthread_cond_init(&bc.cv, NULL);
	if (p->s->tsa != NULL)
		blob_writer_on_fingerprint(p->w, stamp_fingerprint, p);
	if ((r = p->err) != VAULT_OK || (r = blob_writer_end(p->w)) != VAULT_OK) {
		atomic_store(&p->abandoned, 1);
		goto out;
	}
	/* Every byte of the blob is with the blob store. From here two
	 * threads: this one makes the blob durable (its last block, fchmod,
	 * fsync: waiting on the disk, not on a CPU), while a worker does the
	 * CPU part and writes the rows, whose COMMIT waits for the blob. The
	 * other way round, on two CPUs busy with the encryption's end, the
	 * hashes and the stamp, the worker that was to start the disk waited
	 * 0.2 ms for a CPU on a 200 KiB paper. No thread to be had: the
	 * blob first, then the rows, here. */
	worker = workers_run(put_rows_main, &w) == 0;
	r = blobstore_put_commit(p->bp); /* frees bp whatever happens */
	p->bp = NULL;
	step_done(g, &bc, &bc.r, &bc.done, r);
	if (!worker)
		put_rows_main(&w);
	/* w, bc and job live on this stack */
	pthread_mutex_lock(&g->mu);
	while (!w.done)
		pthread_cond_wait(&bc.cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	/* a blob that became durable is removed below if anything failed */
	blob_durable = bc.r == VAULT_OK;
	r = bc.r != VAULT_OK ? bc.r : w.r; /* a failed fsync first: it must
	                                     * reach the fail-stop below */
	if (r != VAULT_OK)
		goto out;
	if ((r = job.insert_r) != VAULT_OK)
		goto out; /* rolled back: the blob is removed below */
	/* From here the blob is kept whatever COMMIT answered. A COMMIT whose
	 * WAL fsync failed has still written its frames, and WAL recovery at
	 * the next start may find them valid: removing the blob then would
	 * leave a row without a blob. Kept, the outcome is the whole document
	 * or an orphan that start-up reports; never half of one. */
	blob_durable = 0;
	if ((r = job.commit_r) != VAULT_OK) {
		/* ...except when SQLite found no room for the WAL frames
		 * (SQLITE_FULL): the commit frame was never written whole, the
		 * transaction is rolled back for certain, and the answer says
		 * nothing was stored, so nothing must be: the blob goes too. */
		if (r == VAULT_ERR_NOSPACE)
			blob_durable = 1;
		goto out;
	}
	if (info != NULL) {
		info->id = p->id;
		info->owner = p->owner;
		info->deposited_by = p->depositor;
		snprintf(info->title, sizeof info->title, "%s", p->title);
		memcpy(info->category, p->category, sizeof info->category);
		memcpy(info->media_type, p->media_type, sizeof info->media_type);
		memcpy(info->issued, p->issued, sizeof info->issued);
		memcpy(info->expires, p->expires, sizeof info->expires);
		info->size = w.res.size;
		memcpy(info->sha256, w.res.sha256, 32);
		info->cipher_size = w.res.cipher_size;
		memcpy(info->cipher_sha256, w.res.cipher_sha256, 32);
		info->compressed = w.res.compressed;
		info->deposited_at = w.now;
		info->tsa_pending = p->tsa_pending;
	}
out:
	/* A blob whose row never committed is nobody's: remove it so that a
	 * failed put leaves nothing (a crash here leaves an orphan that
	 * start-up reports). */
	if (blob_durable && blobstore_remove(p->s->blobs, p->idt) == VAULT_ERR_IO)
		(void)store_note_failure(p->s, VAULT_ERR_IO);
	free(w.tenc);
	pthread_cond_destroy(&bc.cv);
	(void)store_note_failure(p->s, r);
	documents_put_abort(p);
	return r;
}

/* ---- read ------------------------------------------------------------- */

struct document_read {
	struct blobstore_get *g;
	struct blob_reader *br;
};

static vault_err
source_read(void *ctx, void *p, size_t cap, size_t *n)
{
	return blobstore_get_read(ctx, p, cap, n);
}

/* The holder's wrapping of each document: the owner's own, or any of an
 * aidant's active read mandates from that owner (expiry is checked here,
 * so an expired mandate stops working before any sweeper runs). */
#define WRAPPING_OF_HOLDER \
	"(SELECT w.wrapped FROM key_wrappings w WHERE w.document_id = d.document_id" \
	" AND ((?3 = 1 AND w.holder_kind = 'owner' AND w.holder_id = ?2) OR" \
	" (?3 = 0 AND w.holder_kind = 'aidant' AND w.holder_id IN" \
	" (SELECT m.mandate_id FROM mandates m WHERE m.person_id = ?2" \
	" AND m.aidant_id = ?4 AND m.scope_read = 1 AND m.revoked_at IS NULL" \
	" AND m.expires_at > ?5))) LIMIT 1)"

/* Rows of owner's documents with the holder's wrapping; document_id and
 * category NULL for any; holder NULL for rows whatever their wrappings (the
 * caller brings the key: a share link). Columns as read by row_info. */
static vault_err
query_rows(struct store *s, const vault_id *owner, const char *document_id,
    const struct doc_holder *holder, const char *category, sqlite3_stmt **stp)
{
	char ot[VAULT_ID_TEXT_LEN + 1], ht[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;

	*stp = NULL;
	vault_id_to_text(owner, ot);
	if (holder != NULL)
		vault_id_to_text(&holder->account, ht);
	else
		ht[0] = '\0';
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "SELECT d.document_id, d.category, d.media_type, d.size, d.sha256,"
	    " d.cipher_size, d.cipher_sha256, d.compressed, COALESCE(d.issued, ''),"
	    " COALESCE(d.expires, ''), d.deposited_by, d.deposited_at, d.title_enc,"
	    " d.blob_version, " WRAPPING_OF_HOLDER " AS wrapped, d.tsa_pending,"
	    " COALESCE(d.integrity, '')"
	    " FROM documents d WHERE d.owner_id = ?2"
	    " AND (?1 IS NULL OR d.document_id = ?1) AND (?6 IS NULL OR d.category = ?6)"
	    " AND (?3 = 2 OR wrapped IS NOT NULL) ORDER BY d.deposited_at, d.document_id",
	    -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	if (document_id != NULL)
		sqlite3_bind_text(st, 1, document_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, ot, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, holder == NULL ? 2 : holder->is_owner ? 1 : 0);
	sqlite3_bind_text(st, 4, ht, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, vault_os.now_ms());
	if (category != NULL)
		sqlite3_bind_text(st, 6, category, -1, SQLITE_TRANSIENT);
	*stp = st;
	return VAULT_OK;
}

/* One row into info (title decrypted with the holder's key, or with dk_in
 * when holder is NULL); *dkp gets the document key (guarded) if dkp is not
 * NULL. */
static vault_err
row_info(sqlite3_stmt *st, const vault_id *owner, const struct doc_holder *holder,
    const uint8_t *dk_in, struct document_info *info, uint8_t **dkp)
{
	uint8_t *dk = NULL;
	vault_err r;

	if (dkp != NULL)
		*dkp = NULL;
	memset(info, 0, sizeof *info);
	info->owner = *owner;
	if (vault_id_from_text((const char *)sqlite3_column_text(st, 0), &info->id) != VAULT_OK ||
	    vault_id_from_text((const char *)sqlite3_column_text(st, 10),
	    &info->deposited_by) != VAULT_OK ||
	    sqlite3_column_bytes(st, 4) != 32 || sqlite3_column_bytes(st, 6) != 32 ||
	    sqlite3_column_int(st, 13) != BLOB_VERSION)
		return VAULT_ERR_CORRUPT;
	snprintf(info->category, sizeof info->category, "%s", sqlite3_column_text(st, 1));
	snprintf(info->media_type, sizeof info->media_type, "%s", sqlite3_column_text(st, 2));
	info->size = (uint64_t)sqlite3_column_int64(st, 3);
	memcpy(info->sha256, sqlite3_column_blob(st, 4), 32);
	info->cipher_size = (uint64_t)sqlite3_column_int64(st, 5);
	memcpy(info->cipher_sha256, sqlite3_column_blob(st, 6), 32);
	info->compressed = sqlite3_column_int(st, 7);
	snprintf(info->issued, sizeof info->issued, "%s", sqlite3_column_text(st, 8));
	snprintf(info->expires, sizeof info->expires, "%s", sqlite3_column_text(st, 9));
	info->deposited_at = sqlite3_column_int64(st, 11);
	info->tsa_pending = sqlite3_column_int(st, 15);
	snprintf(info->integrity, sizeof info->integrity, "%s", sqlite3_column_text(st, 16));
	if (holder == NULL) {
		if ((dk = secmem_alloc(KEYS_DOCKEY_LEN)) == NULL)
			return VAULT_ERR_NOMEM;
		memcpy(dk, dk_in, KEYS_DOCKEY_LEN);
	} else if ((r = keys_dockey_open(sqlite3_column_blob(st, 14),
	    (size_t)sqlite3_column_bytes(st, 14), &info->id, holder->pk, holder->sk,
	    &dk)) != VAULT_OK)
		return r;
	if ((r = title_open(dk, &info->id, owner, sqlite3_column_blob(st, 12),
	    (size_t)sqlite3_column_bytes(st, 12), info->title)) != VAULT_OK) {
		keys_dockey_free(dk);
		return r;
	}
	if (dkp != NULL)
		*dkp = dk;
	else
		keys_dockey_free(dk);
	return VAULT_OK;
}

/* One document's row, title and key. */
static vault_err
load_one(struct store *s, const vault_id *owner, const vault_id *doc,
    const struct doc_holder *holder, const uint8_t *dk_in,
    struct document_info *info, uint8_t **dkp)
{
	char dt[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;
	vault_err r;
	int rc;

	vault_id_to_text(doc, dt);
	if ((r = query_rows(s, owner, dt, holder, NULL, &st)) != VAULT_OK)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = row_info(st, owner, holder, dk_in, info, dkp);
	else
		r = rc == SQLITE_DONE ? VAULT_ERR_NOTFOUND : db_err(rc);
	sqlite3_finalize(st);
	return r;
}

vault_err
documents_info(struct store *s, const vault_id *owner, const vault_id *doc,
    const struct doc_holder *holder, struct document_info *info)
{
	return load_one(s, owner, doc, holder, NULL, info, NULL);
}

vault_err
documents_list(struct store *s, const vault_id *owner,
    const struct doc_holder *holder, const char *category, documents_fn fn,
    void *ctx)
{
	struct document_info info;
	sqlite3_stmt *st;
	vault_err r;
	int rc;

	if ((r = query_rows(s, owner, NULL, holder, category, &st)) != VAULT_OK)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = row_info(st, owner, holder, NULL, &info, NULL)) != VAULT_OK ||
		    (r = fn(ctx, &info)) != VAULT_OK)
			break;
	}
	if (r == VAULT_OK && rc != SQLITE_DONE)
		r = db_err(rc);
	sqlite3_finalize(st);
	sodium_memzero(&info, sizeof info);
	return r;
}

/* documents_open and documents_open_key: holder, or the key itself. */
static vault_err
open_doc(struct store *s, const vault_id *owner, const vault_id *doc,
    const struct doc_holder *holder, const uint8_t *dk_in,
    struct document_read **rp, struct document_info *infop)
{
	char dt[VAULT_ID_TEXT_LEN + 1];
	struct document_info info;
	struct document_read *rd = NULL;
	struct blob_source src;
	uint8_t *dk = NULL;
	uint64_t size = 0;
	vault_err r;

	*rp = NULL;
	if (infop != NULL)
		memset(infop, 0, sizeof *infop);
	vault_id_to_text(doc, dt);
	if ((r = load_one(s, owner, doc, holder, dk_in, &info, &dk)) != VAULT_OK)
		goto out;
	/* the scheduled control already found it damaged or gone: say so
	 * now rather than after a prefix */
	if (info.integrity[0] != '\0') {
		r = VAULT_ERR_CORRUPT;
		goto out;
	}
	if ((rd = calloc(1, sizeof *rd)) == NULL) {
		r = VAULT_ERR_NOMEM;
		goto out;
	}
	if ((r = blobstore_get_open(s->blobs, dt, &rd->g, &size)) != VAULT_OK) {
		if (r == VAULT_ERR_NOTFOUND)
			r = VAULT_ERR_CORRUPT; /* a row without its blob */
		goto out;
	}
	/* A blob of another size than recorded is damaged: refused before
	 * any byte. Its contents are checked as they stream: every chunk is
	 * authenticated before it is released (secretstream, with the
	 * document and owner as associated data), and the last bytes only
	 * once the whole original matches its SHA-256 (blob_reader_read).
	 * Hashing the whole ciphertext first, as an earlier version did,
	 * halved download speed for no gain the AEAD does not already give;
	 * the keyless ciphertext check belongs to fsck and the scrub. */
	if (size != info.cipher_size) {
		r = size < info.cipher_size ? VAULT_ERR_TRUNCATED : VAULT_ERR_CORRUPT;
		goto out;
	}
	src.read = source_read;
	src.ctx = rd->g;
	if ((r = blob_reader_new(dk, doc, owner, info.size, info.sha256, &src,
	    &rd->br)) != VAULT_OK)
		goto out;
	if (blob_reader_compressed(rd->br) != info.compressed) {
		r = VAULT_ERR_CORRUPT;
		goto out;
	}
	*rp = rd;
	rd = NULL;
	if (infop != NULL)
		*infop = info;
out:
	documents_close(rd);
	keys_dockey_free(dk);
	sodium_memzero(&info, sizeof info);
	return r;
}

vault_err
documents_open(struct store *s, const vault_id *owner, const vault_id *doc,
    const struct doc_holder *holder, struct document_read **rp,
    struct document_info *info)
{
	return open_doc(s, owner, doc, holder, NULL, rp, info);
}

vault_err
documents_open_key(struct store *s, const vault_id *owner, const vault_id *doc,
    const uint8_t *dk, struct document_read **rp, struct document_info *info)
{
	return open_doc(s, owner, doc, NULL, dk, rp, info);
}

vault_err
documents_unwrap_owner_key(struct store *s, const vault_id *owner,
    const vault_id *doc, const uint8_t *owner_pk, const uint8_t *owner_sk,
    struct document_info *info, uint8_t **dkp)
{
	struct doc_holder h;

	h.account = *owner;
	h.pk = owner_pk;
	h.sk = owner_sk;
	h.is_owner = 1;
	return load_one(s, owner, doc, &h, NULL, info, dkp);
}

vault_err
documents_read(struct document_read *r, void *buf, size_t cap, size_t *n)
{
	return blob_reader_read(r->br, buf, cap, n);
}

void
documents_close(struct document_read *r)
{
	if (r == NULL)
		return;
	blob_reader_free(r->br);
	blobstore_get_close(r->g);
	free(r);
}

/* ---- delete ----------------------------------------------------------- */

vault_err
documents_delete(struct store *s, const vault_id *owner, const vault_id *doc,
    const vault_id *actor, const char *origin)
{
	char ot[VAULT_ID_TEXT_LEN + 1], dt[VAULT_ID_TEXT_LEN + 1];
	sqlite3 *h = db_handle(s->db);
	sqlite3_stmt *st = NULL;
	vault_err r;
	int rc;

	vault_id_to_text(owner, ot);
	vault_id_to_text(doc, dt);
	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	if ((r = db_begin(s->db)) != VAULT_OK)
		return store_note_failure(s, r);
	if (sqlite3_prepare_v2(h,
	    "DELETE FROM key_wrappings WHERE document_id = ?1 AND EXISTS"
	    " (SELECT 1 FROM documents WHERE document_id = ?1 AND owner_id = ?2)",
	    -1, &st, NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto rollback;
	}
	sqlite3_bind_text(st, 1, dt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ot, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE) {
		r = db_err(rc);
		goto rollback;
	}
	if (sqlite3_prepare_v2(h,
	    "DELETE FROM documents WHERE document_id = ?1 AND owner_id = ?2",
	    -1, &st, NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto rollback;
	}
	sqlite3_bind_text(st, 1, dt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ot, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		r = db_err(rc);
		goto rollback;
	}
	if (sqlite3_changes(h) != 1) {
		r = VAULT_ERR_NOTFOUND;
		goto rollback;
	}
	if ((r = journal_append(s, &(struct journal_event){ actor, owner,
	    "document.delete", dt, "ok", origin })) != VAULT_OK)
		goto rollback;
	/* Committed: every wrapping of the key is gone, the blob opens for
	 * nobody. Removing the blob is then housekeeping; if it fails, the
	 * orphan is reported at the next start-up. */
	if ((r = db_commit(s->db)) != VAULT_OK)
		return store_note_failure(s, r);
	/* secure_delete zeroed the rows in the new page images, but the WAL
	 * still holds the old ones: checkpoint and truncate it so that the
	 * wrapping leaves the disk now, not at some later checkpoint. (Best
	 * effort: a concurrent reader can hold the old frames a little longer.) */
	(void)store_note_failure(s, db_checkpoint_truncate(s->db));
	/* The deletion is committed and answered as done; a failed sync of
	 * the checkpoint or of the blob's removal stops later writes. (No
	 * descriptor free to open the directory with is not a failed sync:
	 * the blob then may come back after a crash, as an orphan whose key
	 * is gone, which start-up reports.) */
	r = blobstore_remove(s->blobs, dt);
	if (r == VAULT_ERR_IO)
		(void)store_note_failure(s, VAULT_ERR_IO);
	return VAULT_OK;
rollback:
	db_rollback(s->db);
	return r;
}
