/*
 * schema.c: the migrations of the metadata database, oldest first.
 * Migration N brings a database from user_version N-1 to N. Never edit a
 * migration that has shipped: add the next one.
 */
#include <stddef.h>

const char *const db_migrations[] = {
	/* 1: accounts, their keys, documents and key wrappings */
	"CREATE TABLE accounts ("
	"  account_id TEXT PRIMARY KEY,"
	"  login TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  role TEXT NOT NULL CHECK (role IN ('person', 'aidant',"
	"    'structure_admin', 'instance_admin', 'auditor')),"
	"  display_name TEXT NOT NULL,"
	"  structure_id TEXT,"
	"  created_at INTEGER NOT NULL"
	") STRICT;"
	/* Public key and wrappings of the account's X25519 secret key
	 * (docs/FORMAT.md, Keys). Nothing here opens anything without the
	 * pepper and the secret or recovery code. */
	"CREATE TABLE account_keys ("
	"  account_id TEXT PRIMARY KEY REFERENCES accounts ON DELETE CASCADE,"
	"  public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
	"  pw_opslimit INTEGER NOT NULL,"
	"  pw_memlimit INTEGER NOT NULL,"
	"  pw_salt BLOB NOT NULL CHECK (length(pw_salt) = 16),"
	"  pw_nonce BLOB NOT NULL CHECK (length(pw_nonce) = 24),"
	"  pw_wrapped_sk BLOB NOT NULL CHECK (length(pw_wrapped_sk) = 48),"
	"  rec_salt BLOB NOT NULL CHECK (length(rec_salt) = 16),"
	"  rec_nonce BLOB NOT NULL CHECK (length(rec_nonce) = 24),"
	"  rec_wrapped_sk BLOB NOT NULL CHECK (length(rec_wrapped_sk) = 48),"
	"  updated_at INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE documents ("
	"  document_id TEXT PRIMARY KEY,"
	"  owner_id TEXT NOT NULL REFERENCES accounts,"
	"  title_enc BLOB NOT NULL,"
	"  category TEXT NOT NULL CHECK (category IN ('identity', 'residence',"
	"    'health', 'housing', 'employment', 'income', 'tax', 'family',"
	"    'schooling', 'bank', 'justice', 'other')),"
	"  media_type TEXT NOT NULL,"
	"  size INTEGER NOT NULL CHECK (size >= 0),"
	"  sha256 BLOB NOT NULL CHECK (length(sha256) = 32),"
	"  blob_version INTEGER NOT NULL,"
	"  compressed INTEGER NOT NULL CHECK (compressed IN (0, 1)),"
	"  cipher_size INTEGER NOT NULL,"
	"  cipher_sha256 BLOB NOT NULL CHECK (length(cipher_sha256) = 32),"
	"  issued TEXT,"
	"  expires TEXT,"
	"  deposited_by TEXT NOT NULL REFERENCES accounts,"
	"  deposited_at INTEGER NOT NULL"
	") STRICT;"
	/* One row per (document, holder): the owner's sealed box, later an
	 * aidant's (read mandate) or a share link's. Deleting a document's rows
	 * is crypto-shredding: the blob alone opens for nobody. */
	"CREATE TABLE key_wrappings ("
	"  document_id TEXT NOT NULL REFERENCES documents ON DELETE CASCADE,"
	"  holder_kind TEXT NOT NULL CHECK (holder_kind IN ('owner', 'aidant', 'share')),"
	"  holder_id TEXT NOT NULL,"
	"  wrapped BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (document_id, holder_kind, holder_id)"
	") STRICT, WITHOUT ROWID;",

	/* 2: structures, the journal, and the indexes that listing needs */
	"CREATE TABLE structures ("
	"  structure_id TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL"
	") STRICT;"
	/* Append-only; the rowid is the leaf index + 1 of the Merkle tree that
	 * the integrity work builds over it. Only opaque identifiers here. */
	"CREATE TABLE journal ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at INTEGER NOT NULL,"
	"  actor_id TEXT,"
	"  person_id TEXT,"
	"  action TEXT NOT NULL,"
	"  object_id TEXT,"
	"  outcome TEXT NOT NULL,"
	"  origin TEXT"
	") STRICT;"
	"CREATE INDEX journal_person ON journal (person_id, seq);"
	"CREATE INDEX documents_owner ON documents (owner_id, category);"
	"CREATE INDEX key_wrappings_holder ON key_wrappings (holder_kind, holder_id);",

	/* 3: enrolment by activation code, log-in protection, mandates and
	 * share links */
	"ALTER TABLE accounts ADD COLUMN activation_hash BLOB;"
	"ALTER TABLE accounts ADD COLUMN activation_expires_at INTEGER;"
	"ALTER TABLE accounts ADD COLUMN enrolled_by TEXT;"
	"ALTER TABLE accounts ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE accounts ADD COLUMN locked_until INTEGER NOT NULL DEFAULT 0;"
	/* A mandate: a person's consent, with scopes, categories (a bit per
	 * category, in the order of documents.c) and an end. A read mandate
	 * owns the key wrappings made for it: holder_kind 'aidant',
	 * holder_id = mandate_id. */
	"CREATE TABLE mandates ("
	"  mandate_id TEXT PRIMARY KEY,"
	"  person_id TEXT NOT NULL REFERENCES accounts,"
	"  aidant_id TEXT NOT NULL REFERENCES accounts,"
	"  scope_deposit INTEGER NOT NULL CHECK (scope_deposit IN (0, 1)),"
	"  scope_read INTEGER NOT NULL CHECK (scope_read IN (0, 1)),"
	"  categories INTEGER NOT NULL CHECK (categories > 0 AND categories < 4096),"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  revoked_at INTEGER,"
	"  ended_journaled INTEGER NOT NULL DEFAULT 0"
	") STRICT;"
	"CREATE INDEX mandates_aidant ON mandates (aidant_id, person_id);"
	"CREATE INDEX mandates_person ON mandates (person_id);"
	/* A share link: only a hash of its token is kept; the document key
	 * for it is wrapped under a key derived from the token (holder_kind
	 * 'share', holder_id = share_id), so the server cannot open it. */
	"CREATE TABLE shares ("
	"  share_id TEXT PRIMARY KEY,"
	"  person_id TEXT NOT NULL REFERENCES accounts,"
	"  document_id TEXT NOT NULL REFERENCES documents ON DELETE CASCADE,"
	"  token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  max_downloads INTEGER NOT NULL CHECK (max_downloads >= 1),"
	"  downloads INTEGER NOT NULL DEFAULT 0,"
	"  revoked_at INTEGER"
	") STRICT;"
	"CREATE INDEX shares_person ON shares (person_id);",

	/* 4: the journal as a Merkle tree, its signed checkpoints, and the
	 * instance's settings. A journal row's leaf is its canonical entry
	 * (docs/JOURNAL.md); perfect subtree hashes are stored as they
	 * complete. */
	"CREATE TABLE merkle_nodes ("
	"  level INTEGER NOT NULL,"
	"  idx INTEGER NOT NULL,"
	"  hash BLOB NOT NULL CHECK (length(hash) = 32),"
	"  PRIMARY KEY (level, idx)"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE checkpoints ("
	"  tree_size INTEGER PRIMARY KEY,"
	"  root BLOB NOT NULL CHECK (length(root) = 32),"
	"  note TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE settings ("
	"  name TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL"
	") STRICT;",

	/* 5: each document's RFC 3161 time-stamp token (a TimeStampResp, DER)
	 * and its serial, unique */
	"ALTER TABLE documents ADD COLUMN tsa_token BLOB;"
	"ALTER TABLE documents ADD COLUMN tsa_serial TEXT;"
	"CREATE UNIQUE INDEX documents_tsa_serial ON documents (tsa_serial)"
	"  WHERE tsa_serial IS NOT NULL;",

	/* 6: time-stamps that wait for an external TSA, time-stamped
	 * checkpoints, and what the scheduled scrub found.
	 * documents.tsa_pending = 1: deposited while the external TSA was
	 * unreachable; the background worker fetches the token and clears it.
	 * documents.integrity: NULL while the blob matched its recorded hash
	 * at the last control, else 'missing' or 'corrupt' (a change of this
	 * column is journaled as fsck.finding, once). */
	"ALTER TABLE documents ADD COLUMN tsa_pending INTEGER NOT NULL DEFAULT 0"
	"  CHECK (tsa_pending IN (0, 1));"
	"CREATE INDEX documents_tsa_pending ON documents (tsa_pending)"
	"  WHERE tsa_pending = 1;"
	"ALTER TABLE documents ADD COLUMN integrity TEXT"
	"  CHECK (integrity IN ('missing', 'corrupt'));"
	"ALTER TABLE checkpoints ADD COLUMN tsa_token BLOB;"
	"ALTER TABLE checkpoints ADD COLUMN tsa_serial TEXT;"
	/* an aidant removed from the structure: the row stays (the journal
	 * names him), his log-ins are refused like an unknown login's */
	"ALTER TABLE accounts ADD COLUMN removed_at INTEGER;",

	/* 7: a person's usage (the quota, checked at every deposit's start
	 * and again in its transaction), kept by triggers beside her
	 * account: SUM(size) over her documents read every row of hers, and
	 * a deposit slowed down with every paper she had. */
	"ALTER TABLE accounts ADD COLUMN usage_bytes INTEGER NOT NULL DEFAULT 0"
	"  CHECK (usage_bytes >= 0);"
	"UPDATE accounts SET usage_bytes = (SELECT COALESCE(SUM(size), 0)"
	"  FROM documents WHERE owner_id = accounts.account_id);"
	"CREATE TRIGGER documents_usage_insert AFTER INSERT ON documents BEGIN"
	"  UPDATE accounts SET usage_bytes = usage_bytes + NEW.size"
	"  WHERE account_id = NEW.owner_id; END;"
	"CREATE TRIGGER documents_usage_delete AFTER DELETE ON documents BEGIN"
	"  UPDATE accounts SET usage_bytes = usage_bytes - OLD.size"
	"  WHERE account_id = OLD.owner_id; END;"
	"CREATE TRIGGER documents_usage_update AFTER UPDATE OF size, owner_id"
	"  ON documents BEGIN"
	"  UPDATE accounts SET usage_bytes = usage_bytes - OLD.size"
	"  WHERE account_id = OLD.owner_id;"
	"  UPDATE accounts SET usage_bytes = usage_bytes + NEW.size"
	"  WHERE account_id = NEW.owner_id; END;",
};

const size_t db_migrations_count = sizeof db_migrations / sizeof db_migrations[0];
