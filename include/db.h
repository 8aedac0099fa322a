/*
 * db.h: the metadata database (SQLite).
 *
 * Invariants of every connection: WAL journal, synchronous=FULL (a COMMIT
 * that returned is on disk), foreign keys enforced, secure_delete on (a
 * deleted key wrapping is overwritten, not left in a free page), STRICT
 * tables. The schema carries its version in PRAGMA user_version; db_open
 * applies the missing migrations in order, each in its own transaction.
 */
#ifndef DB_H
#define DB_H

#include <sqlite3.h>

#include "vault.h"

#define DB_SCHEMA_LATEST 7

struct vault_db;

/* Opens (creating with mode 0600 if needed) and migrates up to
 * target_version (0 means DB_SCHEMA_LATEST; tests pass an older one to make
 * a database of an earlier schema). VAULT_ERR_UNSUPPORTED if the file's
 * schema is newer than this build knows. */
vault_err db_open(const char *path, int target_version, struct vault_db **dbp);
void db_close(struct vault_db *db);
int db_schema_version(struct vault_db *db);
sqlite3 *db_handle(struct vault_db *db);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. db_commit returns VAULT_ERR_IO if the
 * commit failed, in which case the transaction was rolled back. A
 * successful db_begin must be followed by exactly one db_commit or
 * db_rollback on the same thread: it holds the process's writer mutex. */
vault_err db_begin(struct vault_db *db);
vault_err db_commit(struct vault_db *db);
void db_rollback(struct vault_db *db);

/* A prepared statement for sql, which must be a string literal (or any
 * text that lives as long as db at the same address): kept by db and
 * handed out again, reset, on the next call with the same sql. Give it
 * back with db_finish (reset and unbound), never sqlite3_finalize. One
 * user at a time: do not prepare the same sql twice before finishing it. */
vault_err db_prepare(struct vault_db *db, const char *sql, sqlite3_stmt **st);
void db_finish(struct vault_db *db, sqlite3_stmt *st);
/* Runs a cached statement without parameters or rows (SAVEPOINT ...). */
vault_err db_run(struct vault_db *db, const char *sql);

/* A truncating WAL checkpoint (after a deletion or a revocation, so that
 * the removed key wrappings leave the WAL file). VAULT_OK also when a
 * reader kept it from finishing; VAULT_ERR_IO if a sync failed. */
vault_err db_checkpoint_truncate(struct vault_db *db);

/* 1 once a checkpoint on this connection, explicit or automatic (every
 * 1000 WAL frames, run by db.c itself instead of SQLite, which would
 * ignore a failure), failed with an I/O error: a sync may have failed, and
 * store_note_failure stops the store. */
int db_sync_failed(const struct vault_db *db);

/* Maps an SQLite result code to a vault_err. */
vault_err db_err(int rc);

#endif
