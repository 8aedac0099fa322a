/*
 * bench_journal: the legal integrity layer, through the real storage API.
 *
 *   bench_journal [--entries N] [--batch B] [--record R] [--pairs P]
 *                 [--tsa-seconds S] [--dir DIR]
 *
 * In a throw-away data directory under DIR (default $TMPDIR or /tmp),
 * removed at the end, it measures and prints:
 *   record      R entries (default 2000), one durable transaction each
 *               (journal_record, like a read event), with a signed
 *               checkpoint every 1000 entries as vaultd makes them
 *   fill        up to N entries (default 1,000,000), B journal_append
 *               calls per transaction (default 1000), a checkpoint every
 *               1000 entries: the batched rate
 *   inclusion   journal_inclusion at P (default 1000) random (index, size)
 *               pairs, size <= N: mean, 99th percentile, max, and the
 *               max of CPU time alone (goal < 1 ms)
 *   consistency journal_consistency at P random (first, second) pairs
 *               (goal < 1 ms)
 *   verify      journal_verify on a fresh connection, what `vaultctl
 *               journal verify` runs (goal: 1,000,000 entries in < 10 s)
 *   tsa         tsa_stamp in a loop for S seconds (default 2), one thread
 *               then two (goal >= 1000 tokens/s)
 * then the peak resident set size.
 * A benchmark, not a test: it prints figures and checks nothing.
 */
#include <ftw.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "journal.h"
#include "store.h"
#include "tsa.h"

#define CHECKPOINT_EVERY 1000   /* vaultd's default --checkpoint-entries */
#define PROOF_GOAL_MS 1.0
#define VERIFY_GOAL_S_PER_M 10.0 /* seconds per million entries */
#define TSA_GOAL 1000.0

static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* This thread's CPU time: what a call cost, without the time the
 * scheduler gave to others. */
static double
cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char *
met(int ok)
{
	return ok ? "met" : "NOT met";
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

/* A random uint64 in [0, n), n > 0. */
static uint64_t
uniform(uint64_t n)
{
	uint64_t x;

	randombytes_buf(&x, sizeof x);
	return x % n; /* the bias is irrelevant here */
}

/* The events: a read of a document by an aidant for a person. */
struct events {
	vault_id actor, person;
	char object[VAULT_ID_TEXT_LEN + 1];
	struct journal_event e;
};

static void
events_init(struct events *ev)
{
	vault_id obj;

	vault_id_random(&ev->actor);
	vault_id_random(&ev->person);
	vault_id_random(&obj);
	vault_id_to_text(&obj, ev->object);
	ev->e.actor = &ev->actor;
	ev->e.person = &ev->person;
	ev->e.action = "document.download";
	ev->e.object = ev->object;
	ev->e.outcome = "ok";
	ev->e.origin = "192.0.2.10";
}

/* vaultd's rule (api/server.c, maybe_checkpoint): sign one when the journal
 * has grown by CHECKPOINT_EVERY since the last. Adds its time to *cp_s. */
static vault_err
maybe_checkpoint(struct store *s, unsigned *made, double *cp_s)
{
	uint64_t size, last = 0;
	char *note = NULL;
	vault_err r;
	double t;

	if ((r = journal_size(s, &size)) != VAULT_OK)
		return r;
	r = journal_checkpoint_latest(s, &note, &last, NULL);
	free(note);
	note = NULL;
	if (r != VAULT_OK && r != VAULT_ERR_NOTFOUND)
		return r;
	if (size - last < CHECKPOINT_EVERY)
		return VAULT_OK;
	t = now();
	if ((r = journal_checkpoint(s, &note)) != VAULT_OK)
		return r;
	*cp_s += now() - t;
	(*made)++;
	free(note);
	return VAULT_OK;
}

/* ---- RFC 3161 time-stamps ------------------------------------------------ */

struct stamper {
	struct tsa *tsa;
	double seconds;
	unsigned long count;
	int failed;
};

static void *
stamp_loop(void *arg)
{
	struct stamper *st = arg;
	uint8_t sha[32], *der;
	char serial[65];
	size_t len;
	double end = now() + st->seconds;

	randombytes_buf(sha, sizeof sha);
	while (now() < end) {
		sha[0]++;
		if (tsa_stamp(st->tsa, sha, 0, &der, &len, serial) != VAULT_OK) {
			st->failed = 1;
			break;
		}
		free(der);
		st->count++;
	}
	return NULL;
}

static double
bench_tsa(struct tsa *t, int threads, double seconds, int *failed)
{
	struct stamper st[8];
	pthread_t th[8];
	unsigned long total = 0;
	double t0;
	int i;

	memset(st, 0, sizeof st);
	t0 = now();
	for (i = 0; i < threads; i++) {
		st[i].tsa = t;
		st[i].seconds = seconds;
		pthread_create(&th[i], NULL, stamp_loop, &st[i]);
	}
	for (i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		total += st[i].count;
		*failed |= st[i].failed;
	}
	return (double)total / (now() - t0);
}

/* ---- proofs ----------------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Times one proof at each of pairs random points; *p99_ms is the 99th
 * percentile and *cpu_max_ms the largest CPU time of one proof, both less
 * exposed than the wall-clock maximum to a preemption on a shared
 * machine. */
static int
bench_proofs(struct store *s, uint64_t n, unsigned pairs, int consistency,
    double *mean_ms, double *p99_ms, double *max_ms, double *cpu_max_ms,
    double *mean_hashes)
{
	uint8_t path[64][32];
	unsigned i, count;
	uint64_t a, b;
	double t, c, sum = 0, max = 0, cmax = 0, hashes = 0, *all;
	vault_err r;

	if ((all = calloc(pairs, sizeof *all)) == NULL)
		return -1;
	for (i = 0; i < pairs; i++) {
		b = 1 + uniform(n);                      /* size or second, 1..n */
		a = consistency ? 1 + uniform(b) : uniform(b);
		c = cpu_now();
		t = now();
		r = consistency ? journal_consistency(s, a, b, path, &count) :
		    journal_inclusion(s, a, b, path, &count);
		t = (now() - t) * 1e3;
		c = (cpu_now() - c) * 1e3;
		if (r != VAULT_OK) {
			fprintf(stderr, "bench_journal: %s(%llu, %llu): %s\n",
			    consistency ? "journal_consistency" : "journal_inclusion",
			    (unsigned long long)a, (unsigned long long)b, vault_strerror(r));
			free(all);
			return -1;
		}
		all[i] = t;
		sum += t;
		hashes += count;
		if (t > max)
			max = t;
		if (c > cmax)
			cmax = c;
	}
	qsort(all, pairs, sizeof *all, cmp_double);
	*mean_ms = sum / pairs;
	*p99_ms = all[(size_t)((pairs - 1) * 0.99)];
	*max_ms = max;
	*cpu_max_ms = cmax;
	*mean_hashes = hashes / pairs;
	free(all);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *base = getenv("TMPDIR");
	uint64_t entries = 1000000, size = 0, i, mark;
	unsigned batch = 1000, record = 2000, pairs = 1000, cps = 0, j;
	double tsa_seconds = 2, t, t0, tw, cp_s = 0, fill_s, rec_rate, fill_rate;
	double inc_mean, inc_p99, inc_max, inc_cpu, inc_h;
	double con_mean, con_p99, con_max, con_cpu, con_h;
	double ver_s, ver_goal;
	double tsa1, tsa2;
	char tmp[2048], dir[2100], path[2200];
	struct journal_verify_report rep;
	struct store_options o;
	struct vault_db *vdb;
	struct events ev;
	struct rusage ru;
	struct store *s = NULL;
	struct tsa *tsa = NULL;
	int rc = 1, failed = 0;
	vault_err r;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	for (i = 1; i < (uint64_t)argc; i++) {
		if (strcmp(argv[i], "--entries") == 0 && i + 1 < (uint64_t)argc)
			entries = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--batch") == 0 && i + 1 < (uint64_t)argc)
			batch = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--record") == 0 && i + 1 < (uint64_t)argc)
			record = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--pairs") == 0 && i + 1 < (uint64_t)argc)
			pairs = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--tsa-seconds") == 0 && i + 1 < (uint64_t)argc)
			tsa_seconds = strtod(argv[++i], NULL);
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < (uint64_t)argc)
			base = argv[++i];
		else {
			fprintf(stderr, "usage: bench_journal [--entries N] [--batch B]"
			    " [--record R] [--pairs P] [--tsa-seconds S] [--dir DIR]\n");
			return 2;
		}
	}
	if (sodium_init() < 0 || batch == 0 || pairs == 0 || tsa_seconds <= 0 ||
	    entries < (uint64_t)record + 1 || strlen(base) > 2000)
		return 2;

	/* a throw-away data directory; Argon2id at its minimum (no log-ins here) */
	snprintf(tmp, sizeof tmp, "%s/bench-journal-XXXXXX", base);
	if (mkdtemp(tmp) == NULL) {
		perror("bench_journal: mkdtemp");
		return 1;
	}
	snprintf(dir, sizeof dir, "%s/data", tmp);
	store_options_default(&o);
	o.pw.opslimit = 1;
	o.pw.memlimit = 8192;
	if ((r = store_create(dir, &o, 0)) != VAULT_OK ||
	    (r = store_open(dir, &o, &s, NULL)) != VAULT_OK) {
		fprintf(stderr, "bench_journal: cannot set up %s: %s\n", dir, vault_strerror(r));
		goto out;
	}
	events_init(&ev);
	printf("bench_journal: %llu entries into %s, checkpoint every %u entries\n",
	    (unsigned long long)entries, dir, CHECKPOINT_EVERY);

	/* 1. one entry per durable transaction (a read event) */
	t0 = now();
	for (j = 0; j < record; j++)
		if ((r = journal_record(s, &ev.e)) != VAULT_OK ||
		    (r = maybe_checkpoint(s, &cps, &cp_s)) != VAULT_OK)
			goto fail;
	t = now() - t0;
	rec_rate = record / t;
	printf("  %-44s %10.0f entries/s  (%.3f ms each, %u entries)\n",
	    "journal_record, 1 entry per transaction", rec_rate, 1e3 / rec_rate, record);

	/* 2. fill: batch appends per transaction, as fast as the API allows */
	size = record;
	t0 = tw = now();
	mark = size;
	while (size < entries) {
		uint64_t n = entries - size < batch ? entries - size : batch;

		if ((r = db_begin(s->db)) != VAULT_OK)
			goto fail;
		for (i = 0; i < n; i++)
			if ((r = journal_append(s, &ev.e)) != VAULT_OK) {
				db_rollback(s->db);
				goto fail;
			}
		if ((r = db_commit(s->db)) != VAULT_OK ||
		    (r = maybe_checkpoint(s, &cps, &cp_s)) != VAULT_OK)
			goto fail;
		size += n;
		if (size - mark >= entries / 10 || size == entries) {
			t = now();
			printf("    filled %8llu: %8.0f entries/s over the last %llu\n",
			    (unsigned long long)size, (size - mark) / (t - tw),
			    (unsigned long long)(size - mark));
			fflush(stdout);
			tw = t;
			mark = size;
		}
	}
	fill_s = now() - t0;
	fill_rate = (entries - record) / fill_s;
	printf("  %-44s %10.0f entries/s  (%llu entries in %.1f s)\n", "journal_append,"
	    " batched", fill_rate, (unsigned long long)(entries - record), fill_s);
	printf("  %-44s %10.2f ms each  (%u checkpoints, included above)\n",
	    "journal_checkpoint (root + Ed25519 + commit)", cp_s * 1e3 / cps, cps);
	printf("  %-44s %10.1f s  goal <= 120 s (1M entries): %s\n", "time to fill 1M"
	    " entries at this rate", 1e6 / fill_rate, met(1e6 / fill_rate <= 120));

	/* 3. proofs at the full size */
	if (bench_proofs(s, entries, pairs, 0, &inc_mean, &inc_p99, &inc_max,
	    &inc_cpu, &inc_h) != 0 ||
	    bench_proofs(s, entries, pairs, 1, &con_mean, &con_p99, &con_max,
	    &con_cpu, &con_h) != 0)
		goto out;
	printf("  %-44s %10.3f ms mean, %.3f p99, %.3f max (CPU max %.3f), %.1f hashes"
	    "  goal < 1 ms: mean %s, max %s\n", "journal_inclusion", inc_mean, inc_p99,
	    inc_max, inc_cpu, inc_h, met(inc_mean < PROOF_GOAL_MS),
	    met(inc_max < PROOF_GOAL_MS));
	printf("  %-44s %10.3f ms mean, %.3f p99, %.3f max (CPU max %.3f), %.1f hashes"
	    "  goal < 1 ms: mean %s, max %s\n", "journal_consistency", con_mean, con_p99,
	    con_max, con_cpu, con_h, met(con_mean < PROOF_GOAL_MS),
	    met(con_max < PROOF_GOAL_MS));

	/* 4. full verification, on its own connection as vaultctl opens it */
	snprintf(path, sizeof path, "%s/vault.db", dir);
	if ((r = db_open(path, 0, &vdb)) != VAULT_OK)
		goto fail;
	t = now();
	r = journal_verify(vdb, s->origin, s->instance_pk, &rep);
	ver_s = now() - t;
	db_close(vdb);
	if (r != VAULT_OK)
		goto fail;
	ver_goal = VERIFY_GOAL_S_PER_M * (double)entries / 1e6;
	printf("  %-44s %10.2f s, %.0f entries/s (%llu entries, %llu checkpoints, %s)"
	    "  goal < %.1f s: %s\n", "journal_verify", ver_s, rep.entries / ver_s,
	    (unsigned long long)rep.entries, (unsigned long long)rep.checkpoints,
	    rep.ok ? "ok" : rep.reason, ver_goal, met(ver_s < ver_goal));

	/* 5. RFC 3161 time-stamps, in-process */
	snprintf(path, sizeof path, "%s/tsa", tmp);
	if (mkdir(path, 0700) != 0 || (r = tsa_create_files(path)) != VAULT_OK ||
	    (r = tsa_open(path, NULL, &tsa)) != VAULT_OK)
		goto fail;
	tsa1 = bench_tsa(tsa, 1, tsa_seconds, &failed);
	tsa2 = bench_tsa(tsa, 2, tsa_seconds, &failed);
	if (failed) {
		fprintf(stderr, "bench_journal: tsa_stamp failed\n");
		goto out;
	}
	printf("  %-44s %10.0f tokens/s  goal >= %.0f/s: %s\n", "tsa_stamp, 1 thread",
	    tsa1, TSA_GOAL, met(tsa1 >= TSA_GOAL));
	printf("  %-44s %10.0f tokens/s  goal >= %.0f/s: %s\n", "tsa_stamp, 2 threads",
	    tsa2, TSA_GOAL, met(tsa2 >= TSA_GOAL));

	getrusage(RUSAGE_SELF, &ru);
	printf("  %-44s %10.1f MiB\n", "peak RSS", ru.ru_maxrss / 1024.0);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "bench_journal: %s\n", vault_strerror(r));
out:
	tsa_free(tsa);
	store_close(s);
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
