/* scrub.c: the scheduled integrity control of the blobs (see scrub.h). */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobstore.h"
#include "db.h"
#include "fsck.h"
#include "journal.h"
#include "scrub.h"
#include "vault_os.h"

#define UNREF_PREFIX "scrub.unref."
#define UNREF_KEY_LEN 64        /* hex SHA-256 of the file's name */

uint64_t
scrub_pause_ns(uint64_t read_ns, unsigned share_percent)
{
	if (share_percent == 0)
		share_percent = 1;
	if (share_percent >= 100)
		return 0;
	/* t * (100/share - 1) = t * (100 - share) / share; a read of more
	 * than 2^57 ns (4.5 years) would overflow: cap it there */
	if (read_ns > (UINT64_MAX / 100))
		read_ns = UINT64_MAX / 100;
	return read_ns * (100 - share_percent) / share_percent;
}

/* ---- settings ------------------------------------------------------------- */

/* 1 and *v if the setting holds a number, 0 if absent, <0 on error. */
static int
setting_get_i64(struct store *s, const char *name, int64_t *v)
{
	sqlite3_stmt *st;
	int rc, found = 0;

	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT value FROM settings"
	    " WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = strtoll((const char *)sqlite3_column_text(st, 0), NULL, 10);
		found = 1;
	} else if (rc != SQLITE_DONE)
		found = -1;
	sqlite3_finalize(st);
	return found;
}

/* Inside the caller's transaction. value NULL deletes. */
static vault_err
setting_put(struct store *s, const char *name, const char *value)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db_handle(s->db), value != NULL ?
	    "INSERT OR REPLACE INTO settings (name, value) VALUES (?1, ?2)" :
	    "DELETE FROM settings WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (value != NULL)
		sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? VAULT_OK : db_err(rc);
}

static vault_err
setting_put_i64(struct store *s, const char *name, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof buf, "%" PRId64, v);
	return setting_put(s, name, buf);
}

/* Opens a write transaction, if the store still accepts writes. */
static vault_err
begin(struct store *s, const struct scrub_control *c)
{
	vault_err r;

	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	if (c != NULL && c->writing != NULL)
		c->writing(c->ctx, 1);
	if ((r = db_begin(s->db)) != VAULT_OK) {
		if (c != NULL && c->writing != NULL)
			c->writing(c->ctx, 0);
		return store_note_failure(s, r);
	}
	return VAULT_OK;
}

/* Commits (r == VAULT_OK) or rolls back. */
static vault_err
end(struct store *s, const struct scrub_control *c, vault_err r)
{
	if (r == VAULT_OK)
		r = store_note_failure(s, db_commit(s->db));
	else
		db_rollback(s->db);
	if (c != NULL && c->writing != NULL)
		c->writing(c->ctx, 0);
	return r;
}

vault_err
scrub_schedule_base(struct store *s, int64_t now_ms, int64_t *base_ms)
{
	const char *name = "scrub.last_pass";
	int64_t v = 0;
	vault_err r;
	int found;

	*base_ms = now_ms;
	if ((found = setting_get_i64(s, name, &v)) == 0) {
		name = "scrub.since";
		found = setting_get_i64(s, name, &v);
	}
	if (found < 0)
		return VAULT_ERR_INTERNAL;
	if (found == 1 && v <= now_ms) {
		*base_ms = v;
		return VAULT_OK;
	}
	/* never scrubbed here, or the clock went back: count from now */
	if ((r = begin(s, NULL)) != VAULT_OK)
		return r;
	return end(s, NULL, setting_put_i64(s, name, now_ms));
}

/* ---- documents ------------------------------------------------------------ */

enum integrity { INTEGRITY_OK = 0, INTEGRITY_MISSING, INTEGRITY_CORRUPT, INTEGRITY_NONE };

static const char *const integrity_db[] = { NULL, "missing", "corrupt" };
static const char *const integrity_outcome[] = { "ok", "missing", "corrupt" };

struct doc_row {
	char id[VAULT_ID_TEXT_LEN + 1];
	vault_id owner;
	uint64_t cipher_size;
	uint8_t cipher_sha256[32];
	int hash_ok;                    /* cipher_sha256 had 32 bytes */
	enum integrity was, now;        /* now INTEGRITY_NONE: no verdict */
};

/* The next documents after `after` (""), by id, into rows (*n of them);
 * after moves to the last id read, *seen counts the rows read (0: none
 * left). No transaction stays open once it returns. */
static vault_err
load_batch(struct store *s, char after[VAULT_ID_TEXT_LEN + 1], struct doc_row *rows,
    unsigned *n, unsigned *seen)
{
	const char *integrity;
	sqlite3_stmt *st;
	int rc;

	*n = *seen = 0;
	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT document_id, owner_id,"
	    " cipher_size, cipher_sha256, integrity FROM documents"
	    " WHERE document_id > ?1 ORDER BY document_id LIMIT ?2", -1, &st,
	    NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, after, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, SCRUB_BATCH);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < SCRUB_BATCH) {
		struct doc_row *d = &rows[*n];

		(*seen)++;
		memset(d, 0, sizeof *d);
		snprintf(d->id, sizeof d->id, "%s", sqlite3_column_text(st, 0));
		snprintf(after, VAULT_ID_TEXT_LEN + 1, "%s", d->id);
		if (vault_id_from_text((const char *)sqlite3_column_text(st, 1),
		    &d->owner) != VAULT_OK)
			continue; /* cannot be: a foreign key to accounts */
		d->cipher_size = (uint64_t)sqlite3_column_int64(st, 2);
		if ((d->hash_ok = sqlite3_column_bytes(st, 3) == 32))
			memcpy(d->cipher_sha256, sqlite3_column_blob(st, 3), 32);
		integrity = (const char *)sqlite3_column_text(st, 4);
		d->was = integrity == NULL ? INTEGRITY_OK :
		    strcmp(integrity, "missing") == 0 ? INTEGRITY_MISSING :
		    INTEGRITY_CORRUPT;
		d->now = INTEGRITY_NONE;
		(*n)++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? VAULT_OK : db_err(rc);
}

/* Writes the verdicts that changed, each with its event. The update is
 * conditional on the row still holding what was read: a document deleted
 * meanwhile (its blob then missing) gets no finding. */
static vault_err
write_verdicts(struct store *s, const struct scrub_control *c,
    const struct doc_row *rows, unsigned n, struct scrub_report *rep)
{
	sqlite3_stmt *st = NULL;
	unsigned i, changed = 0;
	vault_err r;
	int rc;

	for (i = 0; i < n; i++)
		if (rows[i].now != INTEGRITY_NONE && rows[i].now != rows[i].was)
			changed++;
	if (changed == 0)
		return VAULT_OK;
	if ((r = begin(s, c)) != VAULT_OK)
		return r;
	if (sqlite3_prepare_v2(db_handle(s->db), "UPDATE documents SET"
	    " integrity = ?2 WHERE document_id = ?1 AND integrity IS ?3", -1, &st,
	    NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto out;
	}
	for (i = 0; i < n && r == VAULT_OK; i++) {
		const struct doc_row *d = &rows[i];

		if (d->now == INTEGRITY_NONE || d->now == d->was)
			continue;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC);
		if (integrity_db[d->now] != NULL)
			sqlite3_bind_text(st, 2, integrity_db[d->now], -1, SQLITE_STATIC);
		if (integrity_db[d->was] != NULL)
			sqlite3_bind_text(st, 3, integrity_db[d->was], -1, SQLITE_STATIC);
		if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
			r = db_err(rc);
			break;
		}
		if (sqlite3_changes(db_handle(s->db)) != 1)
			continue;
		/* the system did it: no actor */
		if ((r = journal_append(s, &(struct journal_event){ NULL, &d->owner,
		    "fsck.finding", d->id, integrity_outcome[d->now], NULL })) == VAULT_OK)
			rep->journaled++;
	}
out:
	sqlite3_finalize(st);
	return end(s, c, r);
}

struct pacer {
	const struct scrub_control *c;
	uint64_t owed_ns;
};

/* After each read: pay the pause it owes, in sleeps of at least a
 * millisecond (shorter ones would cost more in wake-ups than they pace). */
static int
after_read(void *ctx, uint64_t read_ns)
{
	struct pacer *p = ctx;
	uint64_t ns;

	p->owed_ns += scrub_pause_ns(read_ns, p->c->share_percent);
	if (p->owed_ns < 1000000)
		return p->c->pause(p->c->ctx, 0);
	ns = p->owed_ns;
	p->owed_ns = 0;
	return p->c->pause(p->c->ctx, ns);
}

/* ---- files of no document ----------------------------------------------- */

struct unref {
	char key[UNREF_KEY_LEN + 1];
	char object[VAULT_ID_TEXT_LEN + 1];   /* "" unless id-shaped */
	int state;                            /* in settings: 0 none, 1 seen, 2 reported */
};

struct unref_walk {
	struct store *s;
	sqlite3_stmt *has;
	const struct scrub_control *c;
	struct unref *v;
	size_t n, cap;
	int stop;
	vault_err err;
};

static int
unref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct unref *)a)->key, ((const struct unref *)b)->key);
}

static vault_err
unref_one(void *ctx, const char *name, uint64_t size, int is_blob)
{
	struct unref_walk *w = ctx;
	uint8_t md[32];
	const char *base;
	struct unref *u;
	vault_id id;
	int rc;

	(void)size;
	if (w->c->pause(w->c->ctx, 0) != 0) {
		w->stop = 1;
		return VAULT_ERR_LIMIT; /* ends the listing */
	}
	if (is_blob) {
		sqlite3_reset(w->has);
		sqlite3_bind_text(w->has, 1, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(w->has);
		sqlite3_reset(w->has); /* no read transaction left open */
		if (rc == SQLITE_ROW)
			return VAULT_OK;
		if (rc != SQLITE_DONE)
			return w->err = db_err(rc);
	}
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct unref *v = realloc(w->v, cap * sizeof *v);

		if (v == NULL)
			return w->err = VAULT_ERR_NOMEM;
		w->v = v;
		w->cap = cap;
	}
	u = &w->v[w->n++];
	memset(u, 0, sizeof *u);
	/* the name is kept only as a hash: it could be anything */
	crypto_hash_sha256(md, (const unsigned char *)name, strlen(name));
	sodium_bin2hex(u->key, sizeof u->key, md, sizeof md);
	base = strrchr(name, '/');
	base = base != NULL ? base + 1 : name;
	/* the journal holds opaque identifiers only (journal.h): a name that
	 * is not shaped like one is not written there */
	if (vault_id_from_text(base, &id) == VAULT_OK)
		vault_id_to_text(&id, u->object);
	return VAULT_OK;
}

/* Two passes in a row find the file before it is journaled (scrub.h);
 * settings rows of files no longer found are dropped. */
static vault_err
write_unreferenced(struct store *s, const struct scrub_control *c,
    struct unref *v, size_t n, struct scrub_report *rep)
{
	char name[sizeof UNREF_PREFIX + UNREF_KEY_LEN];
	struct unref *old = NULL, key, *hit;
	size_t nold = 0, cap = 0, i;
	sqlite3_stmt *st = NULL;
	vault_err r;
	int rc;

	if (n > 0) /* v may be NULL then, which qsort and bsearch may not take */
		qsort(v, n, sizeof *v, unref_cmp);
	if ((r = begin(s, c)) != VAULT_OK)
		return r;
	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT substr(name, ?3), value"
	    " FROM settings WHERE name > ?1 AND name < ?2 ORDER BY name", -1, &st,
	    NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto out;
	}
	sqlite3_bind_text(st, 1, UNREF_PREFIX, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, UNREF_PREFIX "~", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, (int)strlen(UNREF_PREFIX) + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (nold == cap) {
			struct unref *o = realloc(old, (cap = cap ? cap * 2 : 16) * sizeof *o);

			if (o == NULL) {
				r = VAULT_ERR_NOMEM;
				goto out;
			}
			old = o;
		}
		memset(&old[nold], 0, sizeof *old);
		snprintf(old[nold].key, sizeof old->key, "%s", sqlite3_column_text(st, 0));
		old[nold].state = strcmp((const char *)sqlite3_column_text(st, 1),
		    "reported") == 0 ? 2 : 1;
		nold++;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE) {
		r = db_err(rc);
		goto out;
	}
	/* both sorted by key (ORDER BY name: same prefix, same order) */
	for (i = 0; i < nold && r == VAULT_OK; i++)
		if (n == 0 || bsearch(&old[i], v, n, sizeof *v, unref_cmp) == NULL) {
			snprintf(name, sizeof name, UNREF_PREFIX "%s", old[i].key);
			r = setting_put(s, name, NULL);
		}
	for (i = 0; i < n && r == VAULT_OK; i++) {
		key = v[i];
		hit = nold == 0 ? NULL : bsearch(&key, old, nold, sizeof *old, unref_cmp);
		if (hit != NULL && hit->state == 2)
			continue;
		snprintf(name, sizeof name, UNREF_PREFIX "%s", v[i].key);
		if (hit == NULL) {
			r = setting_put(s, name, "seen");
			continue;
		}
		if ((r = journal_append(s, &(struct journal_event){ NULL, NULL,
		    "fsck.finding", v[i].object[0] ? v[i].object : NULL,
		    "unreferenced", NULL })) == VAULT_OK &&
		    (r = setting_put(s, name, "reported")) == VAULT_OK)
			rep->journaled++;
	}
	if (r == VAULT_OK)
		r = setting_put_i64(s, "scrub.last_pass", vault_os.now_ms());
out:
	sqlite3_finalize(st);
	free(old);
	return end(s, c, r);
}

/* ---- a pass ------------------------------------------------------------- */

vault_err
scrub_pass(struct store *s, const struct scrub_control *c, struct scrub_report *rep)
{
	struct doc_row rows[SCRUB_BATCH];
	char after[VAULT_ID_TEXT_LEN + 1] = "";
	struct unref_walk w;
	struct pacer p = { c, 0 };
	struct fsck_pace pace = { NULL, SCRUB_CHUNK, after_read, &p };
	enum fsck_verdict verdict;
	unsigned n, seen, i;
	vault_err r, r2;

	memset(rep, 0, sizeof *rep);
	memset(&w, 0, sizeof w);
	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	if ((pace.buf = malloc(SCRUB_CHUNK)) == NULL)
		return VAULT_ERR_NOMEM;
	for (;;) {
		if ((r = load_batch(s, after, rows, &n, &seen)) != VAULT_OK || seen == 0)
			break;
		for (i = 0; i < n; i++) {
			/* a stop check before each blob too: a missing one
			 * costs no read */
			if (c->pause(c->ctx, 0) != 0)
				break;
			verdict = rows[i].hash_ok ? fsck_check_blob(s->blobs, rows[i].id,
			    rows[i].cipher_size, rows[i].cipher_sha256, &pace,
			    &rep->bytes) : FSCK_BLOB_CORRUPT;
			if (verdict == FSCK_BLOB_INTERRUPTED)
				break;
			rep->checked++;
			switch (verdict) {
			case FSCK_BLOB_OK: rows[i].now = INTEGRITY_OK; break;
			case FSCK_BLOB_MISSING: rows[i].now = INTEGRITY_MISSING; rep->missing++; break;
			case FSCK_BLOB_CORRUPT: rows[i].now = INTEGRITY_CORRUPT; rep->corrupt++; break;
			default: rep->unchecked++; break;
			}
		}
		/* what was found is written even when stopping */
		r = write_verdicts(s, c, rows, n, rep);
		if (r != VAULT_OK || i < n)
			goto out;
	}
	if (r != VAULT_OK)
		goto out;
	w.s = s;
	w.c = c;
	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT 1 FROM documents WHERE"
	    " document_id = ?1", -1, &w.has, NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto out;
	}
	r2 = blobstore_list(s->blobs, unref_one, &w);
	sqlite3_finalize(w.has);
	if (w.stop)
		goto out;
	if ((r = w.err != VAULT_OK ? w.err : r2) != VAULT_OK)
		goto out;
	rep->unreferenced = (unsigned)w.n;
	if ((r = write_unreferenced(s, c, w.v, w.n, rep)) == VAULT_OK)
		rep->complete = 1;
out:
	free(w.v);
	free(pace.buf);
	return r;
}
