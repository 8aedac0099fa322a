/*
 * test_scrub.c: the scheduled control (scrub.h) on a real data directory.
 * The throttle's pause as a pure function; a damaged and a lost blob each
 * journaled once, to their owner, and "ok" once repaired; a stray file
 * journaled once, on the second pass that finds it, and never under a name
 * that is not an identifier; nothing written once the store has stopped;
 * a pass that is asked to stop ends incomplete; the schedule's base.
 * No assertion here depends on how long anything took.
 */
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts.h"
#include "db.h"
#include "documents.h"
#include "journal.h"
#include "scrub.h"
#include "testlib.h"
#include "testutil.h"
#include "vault_os.h"

static int test_setup(void) { return sodium_init() < 0 ? -1 : 0; }

static const struct document_meta meta_ok = {
	"Avis d'imposition", "tax", "application/pdf", NULL, NULL,
};

/* A person with n documents of 100 kB each (ids in docs). */
static struct store *
setup(char **dir, vault_id *owner, vault_id *docs, int n)
{
	struct account_unlocked u;
	struct document_put *p;
	struct document_info info;
	struct store *s = tu_store_new(dir);
	uint8_t *data = malloc(100000);
	char *code = NULL;
	int i;

	if (s == NULL || data == NULL ||
	    accounts_create(s, "amina", "Amina", "person", NULL, NULL, "sesame", 6,
	    owner, &code) != VAULT_OK ||
	    accounts_unlock(s, "amina", "sesame", 6, NULL, &u, NULL) != VAULT_OK)
		abort();
	sodium_free(code);
	for (i = 0; i < n; i++) {
		tu_fill_random(data, 100000, (uint32_t)i + 1);
		if (documents_put_begin(s, owner, owner, &meta_ok, BLOB_COMPRESS_NEVER,
		    NULL, &p) != VAULT_OK || documents_put_write(p, data, 100000) != VAULT_OK ||
		    documents_put_commit(p, &info) != VAULT_OK)
			abort();
		docs[i] = info.id;
	}
	account_unlocked_wipe(&u);
	free(data);
	return s;
}

static void
blob_path(const char *dir, const vault_id *doc, char out[512])
{
	char t[VAULT_ID_TEXT_LEN + 1];

	vault_id_to_text(doc, t);
	snprintf(out, 512, "%s/blobs/%.2s/%s", dir, t, t);
}

static void
flip_byte(const char *path, long at)
{
	FILE *f = fopen(path, "r+b");
	int c;

	if (f == NULL)
		abort();
	fseek(f, at, SEEK_SET);
	c = fgetc(f);
	fseek(f, at, SEEK_SET);
	fputc(c ^ 1, f);
	fclose(f);
}

/* A pause that never sleeps: it adds up what it was asked to wait, and
 * says stop after stop_after calls (0: never). */
struct fake_pause {
	uint64_t asked_ns;
	unsigned calls, stop_after, writes_on, writes_off;
};

static int
fake_pause(void *ctx, uint64_t ns)
{
	struct fake_pause *f = ctx;

	f->asked_ns += ns;
	f->calls++;
	return f->stop_after != 0 && f->calls >= f->stop_after;
}

static void
fake_writing(void *ctx, int on)
{
	struct fake_pause *f = ctx;

	if (on)
		f->writes_on++;
	else
		f->writes_off++;
}

static vault_err
pass(struct store *s, unsigned share, struct fake_pause *f, struct scrub_report *rep)
{
	struct scrub_control c = { share, fake_pause, fake_writing, f };

	return scrub_pass(s, &c, rep);
}

/* fsck.finding events in the journal, in order. */
struct findings {
	unsigned n;
	struct journal_row rows[16];
};

static vault_err
finding_cb(void *ctx, const struct journal_row *row)
{
	struct findings *f = ctx;

	if (f->n < 16)
		f->rows[f->n] = *row;
	f->n++;
	return VAULT_OK;
}

static struct findings
findings(struct store *s)
{
	struct journal_filter jf = { NULL, NULL, "fsck.finding", 0, -1, 1000 };
	struct findings f;

	memset(&f, 0, sizeof f);
	if (journal_query(s, &jf, finding_cb, &f) != VAULT_OK)
		abort();
	return f;
}

/* documents.integrity of one document: "" for NULL. */
static const char *
integrity(struct store *s, const vault_id *doc)
{
	static char out[16];
	char t[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;

	vault_id_to_text(doc, t);
	out[0] = '?';
	out[1] = '\0';
	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT COALESCE(integrity, '')"
	    " FROM documents WHERE document_id = ?1", -1, &st, NULL) != SQLITE_OK)
		abort();
	sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, sizeof out, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

static int
has_setting(struct store *s, const char *name)
{
	sqlite3_stmt *st;
	int found;

	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT 1 FROM settings WHERE"
	    " name = ?1", -1, &st, NULL) != SQLITE_OK)
		abort();
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static int64_t
count_unref_settings(struct store *s)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT count(*) FROM settings"
	    " WHERE name LIKE 'scrub.unref.%'", -1, &st, NULL) != SQLITE_OK)
		abort();
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

TEST(pause_is_the_read_time_times_100_over_share_minus_1)
{
	CHECK_EQ(scrub_pause_ns(1000000, 10), 9000000);     /* 10 %: 9 t */
	CHECK_EQ(scrub_pause_ns(1000000, 50), 1000000);     /* 50 %: t */
	CHECK_EQ(scrub_pause_ns(1000000, 25), 3000000);
	CHECK_EQ(scrub_pause_ns(1000000, 1), 99000000);
	CHECK_EQ(scrub_pause_ns(1000000, 100), 0);          /* no throttle */
	CHECK_EQ(scrub_pause_ns(0, 10), 0);
	CHECK_EQ(scrub_pause_ns(3, 10), 27);
	CHECK_EQ(scrub_pause_ns(1000000, 0), 99000000);     /* 0 taken as 1 */
	CHECK_EQ(scrub_pause_ns(1000000, 250), 0);          /* above 100: 100 */
	/* a read that took forever does not wrap around */
	CHECK(scrub_pause_ns(UINT64_MAX, 1) >= UINT64_MAX / 100);
}

TEST(a_pass_under_a_share_asks_for_pauses_and_none_at_100_percent)
{
	struct fake_pause f = { 0 };
	struct scrub_report rep;
	vault_id owner, docs[3];
	char *dir;
	struct store *s = setup(&dir, &owner, docs, 3);

	REQUIRE(pass(s, 100, &f, &rep) == VAULT_OK && rep.complete);
	CHECK_EQ(f.asked_ns, 0);
	CHECK(f.calls >= 3);                   /* a stop check after every read */
	CHECK_EQ(rep.checked, 3);
	CHECK(rep.bytes > 300000);
	memset(&f, 0, sizeof f);
	REQUIRE(pass(s, 1, &f, &rep) == VAULT_OK && rep.complete);
	CHECK(f.asked_ns > 0);                 /* reads take time: 99 times that */
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST(damaged_and_lost_blobs_are_journaled_once_to_their_owner_then_ok_once_repaired)
{
	struct fake_pause f = { 0 };
	struct scrub_report rep;
	vault_id owner, docs[3];
	char *dir, path[512], ot[33], d0[33], d1[33], moved[600];
	struct store *s = setup(&dir, &owner, docs, 3);
	struct findings fs;
	unsigned i;

	vault_id_to_text(&owner, ot);
	vault_id_to_text(&docs[0], d0);
	vault_id_to_text(&docs[1], d1);
	REQUIRE(pass(s, 100, &f, &rep) == VAULT_OK && rep.complete);
	CHECK_EQ(findings(s).n, 0);            /* a clean store: nothing */
	CHECK_EQ(f.writes_on, 1);              /* only the pass's end */
	blob_path(dir, &docs[0], path);
	flip_byte(path, 50000);
	blob_path(dir, &docs[1], path);
	snprintf(moved, sizeof moved, "%s.away", dir);
	REQUIRE(rename(path, moved) == 0);
	REQUIRE(pass(s, 100, &f, &rep) == VAULT_OK && rep.complete);
	CHECK_EQ(rep.corrupt, 1);
	CHECK_EQ(rep.missing, 1);
	CHECK_EQ(rep.journaled, 2);
	CHECK(strcmp(integrity(s, &docs[0]), "corrupt") == 0);
	CHECK(strcmp(integrity(s, &docs[1]), "missing") == 0);
	CHECK(strcmp(integrity(s, &docs[2]), "") == 0);
	fs = findings(s);
	REQUIRE(fs.n == 2);
	for (i = 0; i < 2; i++) {
		CHECK(fs.rows[i].actor[0] == '\0');            /* the system */
		CHECK(strcmp(fs.rows[i].person, ot) == 0);     /* her journal */
		CHECK(fs.rows[i].origin[0] == '\0');
	}
	/* ids are in order of the pass, which goes by document id */
	for (i = 0; i < 2; i++) {
		if (strcmp(fs.rows[i].object, d0) == 0)
			CHECK(strcmp(fs.rows[i].outcome, "corrupt") == 0);
		else
			CHECK(strcmp(fs.rows[i].object, d1) == 0 &&
			    strcmp(fs.rows[i].outcome, "missing") == 0);
	}
	/* the same state again: nothing more */
	REQUIRE(pass(s, 100, &f, &rep) == VAULT_OK && rep.complete);
	CHECK_EQ(rep.journaled, 0);
	CHECK_EQ(findings(s).n, 2);
	/* repaired (the lost blob back from a backup): "ok", once */
	blob_path(dir, &docs[1], path);
	REQUIRE(rename(moved, path) == 0);
	REQUIRE(pass(s, 100, &f, &rep) == VAULT_OK && rep.complete);
	fs = findings(s);
	REQUIRE(fs.n == 3);
	CHECK(strcmp(fs.rows[2].object, d1) == 0 && strcmp(fs.rows[2].outcome, "ok") == 0);
	CHECK(strcmp(integrity(s, &docs[1]), "") == 0);
	CHECK(strcmp(integrity(s, &docs[0]), "corrupt") == 0);
	REQUIRE(pass(s, 100, &f, &rep) == VAULT_OK && rep.complete);
	CHECK_EQ(findings(s).n, 3);
	CHECK_EQ(f.writes_on, f.writes_off);   /* every raise undone */
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST(a_stray_file_is_journaled_once_on_the_second_pass_that_finds_it_and_never_by_a_name)
{
	struct fake_pause f = { 0 };
	struct scrub_report rep;
	vault_id owner, docs[1], orphan;
	char *dir, path[600], name[33];
	struct store *s = setup(&dir, &owner, docs, 1);
	struct findings fs;

	/* a file named like nothing of ours, a blob of no document */
	snprintf(path, sizeof path, "%s/blobs/Nom de famille.pdf", dir);
	REQUIRE(tu_write_file(path, "x", 1) == 0);
	vault_id_random(&orphan);
	vault_id_to_text(&orphan, name);
	snprintf(path, sizeof path, "%s/blobs/%.2s", dir, name);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/blobs/%.2s/%s", dir, name, name);
	REQUIRE(tu_write_file(path, "orphan", 6) == 0);

	REQUIRE(pass(s, 100, &f, &rep) == VAULT_OK && rep.complete);
	CHECK_EQ(rep.unreferenced, 2);
	CHECK_EQ(findings(s).n, 0);            /* seen once: maybe a deposit in flight */
	CHECK_EQ(count_unref_settings(s), 2);
	REQUIRE(pass(s, 100, &f, &rep) == VAULT_OK && rep.complete);
	fs = findings(s);
	REQUIRE(fs.n == 2);
	CHECK(fs.rows[0].person[0] == '\0' && fs.rows[1].person[0] == '\0');
	CHECK(fs.rows[0].actor[0] == '\0' && fs.rows[1].actor[0] == '\0');
	CHECK(strcmp(fs.rows[0].outcome, "unreferenced") == 0);
	CHECK(strcmp(fs.rows[1].outcome, "unreferenced") == 0);
	/* the orphan by its id; the other file by nothing at all */
	CHECK((strcmp(fs.rows[0].object, name) == 0 && fs.rows[1].object[0] == '\0') ||
	    (strcmp(fs.rows[1].object, name) == 0 && fs.rows[0].object[0] == '\0'));
	REQUIRE(pass(s, 100, &f, &rep) == VAULT_OK && rep.complete);
	REQUIRE(pass(s, 100, &f, &rep) == VAULT_OK && rep.complete);
	CHECK_EQ(findings(s).n, 2);            /* once, not every pass */
	/* removed: forgotten, so that it would be new if it came back */
	REQUIRE(unlink(path) == 0);
	REQUIRE(pass(s, 100, &f, &rep) == VAULT_OK && rep.complete);
	CHECK_EQ(rep.unreferenced, 1);
	CHECK_EQ(count_unref_settings(s), 1);
	CHECK_EQ(findings(s).n, 2);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST(a_stopped_store_gets_no_write_from_the_scrub)
{
	struct fake_pause f = { 0 };
	struct scrub_report rep;
	vault_id owner, docs[2];
	char *dir, path[512];
	struct store *s = setup(&dir, &owner, docs, 2);
	int64_t base;

	blob_path(dir, &docs[0], path);
	REQUIRE(unlink(path) == 0);
	atomic_store(s->stopped, 1);
	CHECK(pass(s, 100, &f, &rep) == VAULT_ERR_STOPPED);
	CHECK_EQ(f.writes_on, 0);
	CHECK(scrub_schedule_base(s, 1000, &base) == VAULT_ERR_STOPPED);
	CHECK(!has_setting(s, "scrub.since") && !has_setting(s, "scrub.last_pass"));
	CHECK_EQ(findings(s).n, 0);
	CHECK(strcmp(integrity(s, &docs[0]), "") == 0);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST(a_pass_asked_to_stop_ends_incomplete_and_keeps_what_it_found)
{
	struct fake_pause f = { 0 };
	struct scrub_report rep;
	vault_id owner, docs[3];
	char *dir, path[512];
	struct store *s = setup(&dir, &owner, docs, 3);
	int i;

	for (i = 0; i < 3; i++) {
		blob_path(dir, &docs[i], path);
		REQUIRE(unlink(path) == 0);
	}
	/* a missing blob costs no read: the stop check before the third */
	f.stop_after = 3;
	REQUIRE(pass(s, 100, &f, &rep) == VAULT_OK);
	CHECK(!rep.complete);
	CHECK_EQ(rep.checked, 2);
	CHECK(!has_setting(s, "scrub.last_pass"));
	CHECK_EQ(findings(s).n, 2);            /* what it found is written */
	store_close(s);
	tu_rmrf(dir);
	free(dir);

	s = setup(&dir, &owner, docs, 3);
	memset(&f, 0, sizeof f);
	f.stop_after = 2;                      /* after the first read */
	REQUIRE(pass(s, 100, &f, &rep) == VAULT_OK);
	CHECK(!rep.complete);
	CHECK_EQ(rep.checked, 0);
	CHECK(!has_setting(s, "scrub.last_pass"));
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST(the_schedule_counts_from_the_first_start_then_from_the_last_complete_pass)
{
	struct fake_pause f = { 0 };
	struct scrub_report rep;
	vault_id owner, docs[1];
	char *dir;
	struct store *s = setup(&dir, &owner, docs, 1);
	int64_t base = 0, now;

	CHECK(scrub_schedule_base(s, 5000, &base) == VAULT_OK && base == 5000);
	CHECK(scrub_schedule_base(s, 9000, &base) == VAULT_OK && base == 5000);
	/* the clock went back before the stored time: from now */
	CHECK(scrub_schedule_base(s, 4000, &base) == VAULT_OK && base == 4000);
	CHECK(scrub_schedule_base(s, 9000, &base) == VAULT_OK && base == 4000);
	REQUIRE(pass(s, 100, &f, &rep) == VAULT_OK && rep.complete);
	now = vault_os.now_ms();
	CHECK(scrub_schedule_base(s, now + 10, &base) == VAULT_OK);
	CHECK(base > 9000 && base <= now + 10);  /* the pass's end */
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST_MAIN
