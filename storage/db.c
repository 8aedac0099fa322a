/* db.c: opening, configuring and migrating the metadata database. */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "vault_os.h"

extern const char *const db_migrations[];
extern const size_t db_migrations_count;

_Static_assert(DB_SCHEMA_LATEST == 7, "update DB_SCHEMA_LATEST with schema.c");

/* Prepared statements kept per connection, keyed by the address of their
 * SQL text (a string literal at its call site): parsing the same SQL on
 * every deposit was a tenth of its CPU. */
#define DB_STMT_CACHE 64

struct vault_db {
	sqlite3 *h;
	int sync_failed; /* a checkpoint of this connection failed to sync */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[DB_STMT_CACHE];
};

vault_err
db_prepare(struct vault_db *db, const char *sql, sqlite3_stmt **stp)
{
	unsigned i, h = (unsigned)(((uintptr_t)sql >> 3) % DB_STMT_CACHE);

	*stp = NULL;
	for (i = 0; i < DB_STMT_CACHE; i++, h = (h + 1) % DB_STMT_CACHE) {
		if (db->cache[h].sql == sql) {
			*stp = db->cache[h].st;
			return VAULT_OK;
		}
		if (db->cache[h].sql == NULL)
			break;
	}
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, stp,
	    NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	if (i < DB_STMT_CACHE) {
		db->cache[h].sql = sql;
		db->cache[h].st = *stp;
	}
	/* a full cache: still correct, db_finish tells the statement is not
	 * cached and finalizes it */
	return VAULT_OK;
}

void
db_finish(struct vault_db *db, sqlite3_stmt *st)
{
	unsigned i;

	if (st == NULL)
		return;
	for (i = 0; i < DB_STMT_CACHE; i++)
		if (db->cache[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return;
		}
	sqlite3_finalize(st);
}

vault_err
db_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW: return VAULT_OK;
	case SQLITE_NOMEM: return VAULT_ERR_NOMEM;
	case SQLITE_FULL: return VAULT_ERR_NOSPACE;
	case SQLITE_CONSTRAINT: return VAULT_ERR_EXISTS;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB: return VAULT_ERR_CORRUPT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return VAULT_ERR_BUSY; /* retryable, never fail-stop */
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY: return VAULT_ERR_IO;
	default: return VAULT_ERR_INTERNAL;
	}
}

static vault_err
exec(sqlite3 *h, const char *sql)
{
	return db_err(sqlite3_exec(h, sql, NULL, NULL, NULL));
}

static int
user_version(sqlite3 *h)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static vault_err
migrate(sqlite3 *h, int target)
{
	char sql[64];
	vault_err r;
	int v;

	if ((v = user_version(h)) < 0)
		return VAULT_ERR_CORRUPT;
	if (v > DB_SCHEMA_LATEST)
		return VAULT_ERR_UNSUPPORTED;
	for (; v < target; v++) {
		if ((r = exec(h, "BEGIN IMMEDIATE")) != VAULT_OK)
			return r;
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
		if ((r = exec(h, db_migrations[v])) != VAULT_OK ||
		    (r = exec(h, sql)) != VAULT_OK ||
		    (r = exec(h, "COMMIT")) != VAULT_OK) {
			exec(h, "ROLLBACK");
			return r;
		}
	}
	return VAULT_OK;
}

static vault_err
sync_wal_dir(sqlite3 *h, const char *path)
{
	char wal[4096], dir[4096], *slash;
	int fd, rc;

	/* A read opens the WAL file, creating it if needed. */
	if (user_version(h) < 0)
		return VAULT_ERR_IO;
	if (snprintf(wal, sizeof wal, "%s-wal", path) >= (int)sizeof wal ||
	    snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
		return VAULT_ERR_LIMIT;
	if (access(wal, F_OK) != 0)
		return VAULT_ERR_IO;
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else
		strcpy(dir, ".");
	if ((fd = vault_os.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)) < 0)
		return VAULT_ERR_IO;
	rc = vault_os.fsync(fd);
	vault_os.close(fd);
	return rc == 0 ? VAULT_OK : VAULT_ERR_IO;
}

/*
 * SQLite's own automatic checkpoint (after a commit that leaves 1000 or
 * more frames in the WAL) ignores its errors: a failed fsync there went
 * unseen and the store kept accepting writes. This hook does the same
 * checkpoint and remembers a failure, which store_note_failure turns into
 * the fail-stop (SECURITY.md, section 6). The commit itself succeeded and
 * is reported as such.
 */
#define DB_AUTOCHECKPOINT_FRAMES 1000

static int
wal_hook(void *arg, sqlite3 *h, const char *name, int frames)
{
	struct vault_db *db = arg;
	int rc;

	if (frames < DB_AUTOCHECKPOINT_FRAMES)
		return SQLITE_OK;
	rc = sqlite3_wal_checkpoint_v2(h, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	if (db_err(rc) == VAULT_ERR_IO)
		db->sync_failed = 1;
	return SQLITE_OK;
}

int
db_sync_failed(const struct vault_db *db)
{
	return db != NULL && db->sync_failed;
}

vault_err
db_checkpoint_truncate(struct vault_db *db)
{
	int rc = sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	    NULL, NULL);

	/* BUSY: a reader holds old frames; the next checkpoint takes them */
	if (rc == SQLITE_OK || (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return VAULT_OK;
	if (db_err(rc) == VAULT_ERR_IO)
		db->sync_failed = 1;
	return db_err(rc);
}

vault_err
db_open(const char *path, int target_version, struct vault_db **dbp)
{
	struct vault_db *db = NULL;
	sqlite3 *h = NULL;
	vault_err r;
	int fd;

	*dbp = NULL;
	if (target_version == 0)
		target_version = DB_SCHEMA_LATEST;
	if (target_version < 1 || (size_t)target_version > db_migrations_count)
		abort();
	/* Create the file ourselves so that it is 0600 whatever the umask;
	 * SQLite gives the -wal and -shm files the same mode. */
	fd = vault_os.open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return VAULT_ERR_IO;
	vault_os.close(fd);
	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		r = VAULT_ERR_IO;
		goto fail;
	}
	sqlite3_extended_result_codes(h, 1);
	sqlite3_busy_timeout(h, 10000);
	if ((r = exec(h, "PRAGMA journal_mode = WAL")) != VAULT_OK ||
	    (r = exec(h, "PRAGMA synchronous = FULL")) != VAULT_OK ||
	    (r = exec(h, "PRAGMA foreign_keys = ON")) != VAULT_OK ||
	    (r = exec(h, "PRAGMA secure_delete = ON")) != VAULT_OK ||
	    (r = exec(h, "PRAGMA trusted_schema = OFF")) != VAULT_OK)
		goto fail;
	if ((r = migrate(h, target_version)) != VAULT_OK)
		goto fail;
	/* SQLite fsyncs the directory after creating the WAL file but ignores
	 * a failure of that fsync. Make the WAL's directory entry durable here,
	 * where a failure is seen: without it, a power loss could take the
	 * WAL, and every commit in it, away. */
	if ((r = sync_wal_dir(h, path)) != VAULT_OK)
		goto fail;
	if ((db = calloc(1, sizeof *db)) == NULL) {
		r = VAULT_ERR_NOMEM;
		goto fail;
	}
	db->h = h;
	sqlite3_wal_hook(h, wal_hook, db); /* replaces sqlite3_wal_autocheckpoint */
	*dbp = db;
	return VAULT_OK;
fail:
	sqlite3_close(h);
	return r;
}

void
db_close(struct vault_db *db)
{
	unsigned i;

	if (db == NULL)
		return;
	for (i = 0; i < DB_STMT_CACHE; i++)
		sqlite3_finalize(db->cache[i].st);
	sqlite3_close(db->h);
	free(db);
}

int db_schema_version(struct vault_db *db) { return user_version(db->h); }
sqlite3 *db_handle(struct vault_db *db) { return db->h; }

/*
 * Writers of this process take turns on a mutex before BEGIN IMMEDIATE.
 * SQLite lets one writer in at a time anyway, but a connection that finds
 * the lock taken sleeps in its busy handler (1, 2, 5, 10… ms), which caps
 * concurrent deposits far below what the disk allows; a mutex hands the
 * lock over at once. The busy timeout still covers other processes.
 */
static pthread_mutex_t writer = PTHREAD_MUTEX_INITIALIZER;

static const char sql_begin[] = "BEGIN IMMEDIATE";
static const char sql_commit[] = "COMMIT";

vault_err
db_run(struct vault_db *db, const char *sql)
{
	sqlite3_stmt *st;
	vault_err r;
	int rc;

	if ((r = db_prepare(db, sql, &st)) != VAULT_OK)
		return r;
	rc = sqlite3_step(st);
	db_finish(db, st);
	return db_err(rc);
}

vault_err
db_begin(struct vault_db *db)
{
	vault_err r;

	pthread_mutex_lock(&writer);
	if ((r = db_run(db, sql_begin)) != VAULT_OK)
		pthread_mutex_unlock(&writer);
	return r;
}

vault_err
db_commit(struct vault_db *db)
{
	vault_err r = db_run(db, sql_commit);

	if (r != VAULT_OK) {
		exec(db->h, "ROLLBACK");
		/* A failed COMMIT is never reported as anything but failure;
		 * BUSY (rolled back, nothing written) stays retryable. */
		if (r != VAULT_ERR_BUSY && r != VAULT_ERR_NOSPACE &&
		    r != VAULT_ERR_NOMEM)
			r = VAULT_ERR_IO;
	}
	pthread_mutex_unlock(&writer);
	return r;
}

void
db_rollback(struct vault_db *db)
{
	exec(db->h, "ROLLBACK");
	pthread_mutex_unlock(&writer);
}
