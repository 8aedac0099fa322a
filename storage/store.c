/* store.c: creating and opening a data directory (layout in store.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blobstore.h"
#include "db.h"
#include "journal.h"
#include "tsa.h"
#include "store.h"
#include "vault_os.h"
#include <sodium.h>

void
store_options_default(struct store_options *o)
{
	memset(o, 0, sizeof *o);
	o->pw = keys_pwparams_default;
	o->max_document_size = STORE_DEFAULT_MAX_DOCUMENT_SIZE;
	o->quota_bytes = STORE_DEFAULT_QUOTA;
	o->lock_threshold = STORE_DEFAULT_LOCK_THRESHOLD;
	o->lock_ms = STORE_DEFAULT_LOCK_MS;
	o->blob_spares = STORE_DEFAULT_BLOB_SPARES;
}

static int
join(char out[PATH_MAX], const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
	return n < 0 || n >= PATH_MAX ? -1 : 0;
}

static int
dir_is_empty(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int empty = 1;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

static void
remove_if_present(const char *dir, const char *name)
{
	char p[PATH_MAX];

	if (join(p, dir, name) == 0)
		unlink(p);
}

vault_err
store_create(const char *dir, const struct store_options *o, int force)
{
	char path[PATH_MAX];
	struct stat st;
	struct vault_db *db = NULL;
	vault_err r;

	if (strlen(dir) >= PATH_MAX - 32)
		return VAULT_ERR_LIMIT;
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return VAULT_ERR_EXISTS;
		if (!dir_is_empty(dir)) {
			if (!force)
				return VAULT_ERR_EXISTS;
			/* --force: new keys and database. blobs/ is left
			 * alone (never delete documents on a flag): without
			 * the old pepper its blobs open for nobody, and
			 * start-up reports them as orphans. */
			remove_if_present(dir, "vault.db");
			remove_if_present(dir, "vault.db-wal");
			remove_if_present(dir, "vault.db-shm");
			remove_if_present(dir, "pepper.key");
			remove_if_present(dir, "instance.key");
		}
		if (chmod(dir, 0700) != 0)
			return VAULT_ERR_IO;
	} else if (mkdir(dir, 0700) != 0)
		return errno == ENOENT ? VAULT_ERR_NOTFOUND : VAULT_ERR_IO;
	if (o->pepper_path != NULL) {
		if (force)
			unlink(o->pepper_path);
		if ((r = keys_file_create(o->pepper_path)) != VAULT_OK)
			return r;
	} else {
		if (join(path, dir, "pepper.key") != 0)
			return VAULT_ERR_LIMIT;
		if ((r = keys_file_create(path)) != VAULT_OK)
			return r;
	}
	if (join(path, dir, "instance.key") != 0)
		return VAULT_ERR_LIMIT;
	if ((r = keys_file_create(path)) != VAULT_OK)
		return r;
	if (join(path, dir, "vault.db") != 0)
		return VAULT_ERR_LIMIT;
	if ((r = db_open(path, 0, &db)) != VAULT_OK)
		return r;
	db_close(db);
	return VAULT_OK;
}

/* ---- start-up scan: orphans and missing blobs ------------------------- */

struct scan {
	sqlite3_stmt *has_row;
	struct store_recovery *rep;
};

static vault_err
scan_blob(void *ctx, const char *name, uint64_t size, int is_blob)
{
	struct scan *sc = ctx;
	int rc;

	(void)size;
	if (!is_blob) {
		sc->rep->stray_files++;
		return VAULT_OK;
	}
	sqlite3_reset(sc->has_row);
	sqlite3_bind_text(sc->has_row, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(sc->has_row);
	if (rc == SQLITE_DONE)
		sc->rep->orphan_blobs++;
	else if (rc != SQLITE_ROW)
		return db_err(rc);
	return VAULT_OK;
}

static vault_err
scan(struct store *s, struct store_recovery *rep)
{
	sqlite3 *h = db_handle(s->db);
	struct scan sc = { NULL, rep };
	sqlite3_stmt *all = NULL;
	vault_err r;
	int rc;

	if (sqlite3_prepare_v2(h, "SELECT 1 FROM documents WHERE document_id = ?",
	    -1, &sc.has_row, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h, "SELECT document_id FROM documents", -1, &all,
	    NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto out;
	}
	if ((r = blobstore_list(s->blobs, scan_blob, &sc)) != VAULT_OK)
		goto out;
	while ((rc = sqlite3_step(all)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(all, 0);
		if (blobstore_exists(s->blobs, id) != VAULT_OK)
			rep->missing_blobs++;
	}
	r = rc == SQLITE_DONE ? VAULT_OK : db_err(rc);
out:
	sqlite3_finalize(sc.has_row);
	sqlite3_finalize(all);
	return r;
}

/* The instance's signing key (from the 32-byte seed in instance.key) and
 * the journal's origin, chosen once and kept in the settings table:
 * "vault/" and 16 hex digits of the key's hash, unique per instance. */
static vault_err
load_instance(struct store *s)
{
	char path[PATH_MAX], origin[64];
	uint8_t *seed = NULL, md[32];
	sqlite3_stmt *st;
	vault_err r;
	int rc;

	if (join(path, s->dir, "instance.key") != 0)
		return VAULT_ERR_LIMIT;
	if ((r = keys_pepper_load(path, &seed)) != VAULT_OK)
		return r;
	if ((s->instance_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL) {
		keys_pepper_free(seed);
		return VAULT_ERR_NOMEM;
	}
	crypto_sign_seed_keypair(s->instance_pk, s->instance_sk, seed);
	keys_pepper_free(seed);
	sodium_mprotect_readonly(s->instance_sk);
	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT value FROM settings"
	    " WHERE name = 'origin'", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		snprintf(s->origin, sizeof s->origin, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return VAULT_OK;
	crypto_hash_sha256(md, s->instance_pk, sizeof s->instance_pk);
	snprintf(origin, sizeof origin, "vault/%02x%02x%02x%02x%02x%02x%02x%02x",
	    md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7]);
	if (sqlite3_prepare_v2(db_handle(s->db), "INSERT OR IGNORE INTO settings"
	    " (name, value) VALUES ('origin', ?1)", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_err(rc);
	snprintf(s->origin, sizeof s->origin, "%s", origin);
	return VAULT_OK;
}

vault_err
store_open(const char *dir, const struct store_options *o, struct store **sp,
    struct store_recovery *rep)
{
	struct store_recovery dummy;
	char path[PATH_MAX], lockpath[PATH_MAX];
	struct store *s;
	vault_err r;

	*sp = NULL;
	if (rep == NULL)
		rep = &dummy;
	memset(rep, 0, sizeof *rep);
	if ((r = keys_pwparams_check(&o->pw)) != VAULT_OK)
		return r;
	if ((s = calloc(1, sizeof *s)) == NULL || (s->dir = strdup(dir)) == NULL) {
		free(s);
		return VAULT_ERR_NOMEM;
	}
	s->lock_fd = -1;
	s->opt = *o;
	s->opt.pepper_path = NULL; /* not kept: the caller owns these */
	s->opt.tsa = NULL;
	s->stopped = &s->stopped_own;
	s->group = &s->group_own;
	pthread_mutex_init(&s->group_own.mu, NULL);
	if (o->pepper_path != NULL)
		r = keys_pepper_load(o->pepper_path, &s->pepper);
	else if (join(path, dir, "pepper.key") != 0)
		r = VAULT_ERR_LIMIT;
	else
		r = keys_pepper_load(path, &s->pepper);
	if (r != VAULT_OK)
		goto fail;
	if (join(path, dir, "vault.db") != 0) {
		r = VAULT_ERR_LIMIT;
		goto fail;
	}
	if (access(path, F_OK) != 0) {
		r = VAULT_ERR_NOTFOUND; /* never create a database by accident */
		goto fail;
	}
	/* One process at a time: start-up's recovery removes the files a
	 * running store is writing (mode 0200), so a second vaultd on the
	 * same directory would unlink another's blobs in flight. The lock
	 * ends with the process, however it ends. */
	if (join(lockpath, dir, "lock") != 0) {
		r = VAULT_ERR_LIMIT;
		goto fail;
	}
	if ((s->lock_fd = open(lockpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) < 0) {
		r = errno == ENOENT ? VAULT_ERR_NOTFOUND : VAULT_ERR_IO;
		goto fail;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		r = errno == EWOULDBLOCK ? VAULT_ERR_BUSY : VAULT_ERR_IO;
		goto fail;
	}
	if ((r = db_open(path, 0, &s->db)) != VAULT_OK)
		goto fail;
	if ((r = load_instance(s)) != VAULT_OK)
		goto fail;
	/* the built-in TSA's files exist even when another TSA is configured,
	 * so that switching back needs nothing */
	if ((r = tsa_create_files(dir)) != VAULT_OK || (r = tsa_open(dir, o->tsa, &s->tsa)) != VAULT_OK)
		goto fail;
	/* a database from before the journal was a tree: build its hashes
	 * (a gap in the rows is left for `vaultctl journal verify` to report) */
	if ((r = journal_backfill(s, NULL)) != VAULT_OK && r != VAULT_ERR_CORRUPT)
		goto fail;
	if (join(path, dir, "blobs") != 0) {
		r = VAULT_ERR_LIMIT;
		goto fail;
	}
	if ((r = blobstore_fs_open(path, o->blob_spares, s->stopped, &s->blobs)) != VAULT_OK ||
	    (r = blobstore_recover(s->blobs, &rep->tmp_removed)) != VAULT_OK ||
	    (r = scan(s, rep)) != VAULT_OK)
		goto fail;
	*sp = s;
	return VAULT_OK;
fail:
	store_close(s);
	return r;
}

vault_err
store_note_failure(struct store *s, vault_err r)
{
	/* a failed sync in a checkpoint (db.c) stops the store too, though
	 * the commit that ran it succeeded */
	if (r == VAULT_ERR_IO || db_sync_failed(s->db))
		atomic_store(s->stopped, 1);
	return r;
}

vault_err
store_writable(const struct store *s)
{
	return atomic_load(s->stopped) ? VAULT_ERR_STOPPED : VAULT_OK;
}

vault_err
store_open_sibling(struct store *first, struct store **sp)
{
	char path[PATH_MAX];
	struct store *s;
	vault_err r;

	*sp = NULL;
	if ((s = calloc(1, sizeof *s)) == NULL || (s->dir = strdup(first->dir)) == NULL) {
		free(s);
		return VAULT_ERR_NOMEM;
	}
	s->opt = first->opt;
	s->pepper = first->pepper;
	s->instance_sk = first->instance_sk;
	s->tsa = first->tsa;
	memcpy(s->instance_pk, first->instance_pk, sizeof s->instance_pk);
	memcpy(s->origin, first->origin, sizeof s->origin);
	s->stopped = first->stopped;
	s->group = first->group;
	s->blobs = first->blobs; /* one pool of spares for all */
	s->is_sibling = 1;
	if (join(path, first->dir, "vault.db") != 0)
		r = VAULT_ERR_LIMIT;
	else
		r = db_open(path, 0, &s->db);
	if (r != VAULT_OK) {
		store_close(s);
		return r;
	}
	*sp = s;
	return VAULT_OK;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	db_close(s->db);
	if (!s->is_sibling) {
		blobstore_close(s->blobs);
		if (s->lock_fd >= 0)
			close(s->lock_fd); /* after the blob store's threads */
		keys_pepper_free(s->pepper);
		keys_pepper_free(s->instance_sk);
		tsa_free(s->tsa);
		pthread_mutex_destroy(&s->group_own.mu);
	}
	free(s->dir);
	free(s);
}
