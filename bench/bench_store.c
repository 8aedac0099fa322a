/*
 * bench_store: throughput of the store pipeline against its parts.
 *
 *   bench_store [--dir DIR] [--mib N] [--rounds R]
 *   bench_store [--dir DIR] --small N
 *
 * Streams N MiB (default 1024) from a 1 MiB buffer, so that the process's
 * own memory stays small, and prints MB/s (10^6 bytes per second) of:
 *   sha256        OpenSSL EVP SHA-256 alone
 *   secretstream  crypto_secretstream_xchacha20poly1305_push alone, 64 KiB chunks
 *   write+fsync   write(2) to a file in DIR, fsync, rename, fsync DIR
 *   bound         1 / (1/sha256 + 1/secretstream + 1/write): the serial bound
 *   store         documents_put_* into DIR, no compression (goal: >= 90 % of bound)
 *   store text    same, compression chosen automatically, text-like data
 *   store random  same, compression chosen automatically, random data
 *   store random, deflate forced (what automatic choice avoids)
 * then the peak resident set size (goal: < 16 MiB whatever N).
 * With --small N: only N documents of 200 KiB, one durable put each, in
 * process (what a deposit costs below HTTP), as puts per second.
 * A benchmark, not a test: it prints figures and checks nothing.
 */
#include <fcntl.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accounts.h"
#include "documents.h"
#include "store.h"

#define BUF (1u << 20)

static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double
mbps(uint64_t bytes, double secs)
{
	return (double)bytes / secs / 1e6;
}

static long
peak_rss_kib(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void
fill_text(uint8_t *p, size_t n)
{
	static const char *w[] = { "caisse ", "allocations ", "familiales ",
	    "attestation ", "de ", "droits ", "allocataire ", "euros\n" };
	uint32_t x = 1;
	size_t i = 0, k;

	while (i < n) {
		x = x * 1103515245u + 12345u;
		for (k = 0; w[(x >> 16) % 8][k] != '\0' && i < n; k++)
			p[i++] = (uint8_t)w[(x >> 16) % 8][k];
	}
}

static double
median(double *v, int n)
{
	int i, j;
	double t;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
			t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

static double
bench_sha(const uint8_t *buf, uint64_t total)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char md[32];
	unsigned int n;
	uint64_t done;
	double t = now();

	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (done = 0; done < total; done += BUF)
		EVP_DigestUpdate(c, buf, BUF);
	EVP_DigestFinal_ex(c, md, &n);
	EVP_MD_CTX_free(c);
	return mbps(total, now() - t);
}

static double
bench_secretstream(const uint8_t *buf, uint64_t total)
{
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t key[32], hdr[24];
	uint8_t *out = malloc(65536 + 17);
	uint64_t done;
	size_t off;
	double t;

	crypto_secretstream_xchacha20poly1305_keygen(key);
	crypto_secretstream_xchacha20poly1305_init_push(&st, hdr, key);
	t = now();
	for (done = 0; done < total; done += BUF)
		for (off = 0; off < BUF; off += 65536)
			crypto_secretstream_xchacha20poly1305_push(&st, out, NULL,
			    buf + off, 65536, NULL, 0, 0);
	t = now() - t;
	free(out);
	return mbps(total, t);
}

static double
bench_write(const char *dir, const uint8_t *buf, uint64_t total)
{
	char tmp[4096], fin[4096];
	uint64_t done;
	double t;
	int fd, dfd;

	snprintf(tmp, sizeof tmp, "%s/bench-write.tmp", dir);
	snprintf(fin, sizeof fin, "%s/bench-write", dir);
	t = now();
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return 0;
	for (done = 0; done < total; done += BUF)
		if (write(fd, buf, BUF) != (ssize_t)BUF) {
			close(fd);
			return 0;
		}
	fsync(fd);
	close(fd);
	rename(tmp, fin);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	fsync(dfd);
	close(dfd);
	t = now() - t;
	unlink(fin);
	return mbps(total, t);
}

/* CPU seconds this process has used, every thread's. */
static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* MB/s of one put of total bytes; *cpu, unless NULL: the CPU seconds it
 * took. */
static double
bench_store(struct store *s, const vault_id *owner, const uint8_t *buf,
    uint64_t total, enum blob_compress mode, int *compressed, double *cpu)
{
	struct document_meta m = { "bench", "other", "application/octet-stream", NULL, NULL };
	struct document_info info;
	struct document_put *p;
	uint64_t done;
	double t = now(), c = cpu_seconds();

	if (documents_put_begin(s, owner, owner, &m, mode, NULL, &p) != VAULT_OK)
		return 0;
	for (done = 0; done < total; done += BUF)
		if (documents_put_write(p, buf, BUF) != VAULT_OK) {
			documents_put_abort(p);
			return 0;
		}
	if (documents_put_commit(p, &info) != VAULT_OK)
		return 0;
	t = now() - t;
	if (cpu != NULL)
		*cpu = cpu_seconds() - c;
	*compressed = info.compressed;
	documents_delete(s, owner, &info.id, owner, NULL);
	return mbps(total, t);
}

static void
bench_small(struct store *s, const vault_id *owner, const uint8_t *buf, unsigned n)
{
	struct document_meta m = { "bench", "other", "application/octet-stream", NULL, NULL };
	struct document_info info;
	struct document_put *p;
	double t = now();
	unsigned i;

	for (i = 0; i < n; i++)
		if (documents_put_begin(s, owner, owner, &m, BLOB_COMPRESS_AUTO, NULL, &p) != VAULT_OK ||
		    documents_put_write(p, buf, 200 << 10) != VAULT_OK ||
		    documents_put_commit(p, &info) != VAULT_OK) {
			fprintf(stderr, "bench_store: put %u failed\n", i);
			return;
		}
	t = now() - t;
	printf("  %-34s %8.0f /s  (%.3f ms each)\n", "store, 200 KiB puts", n / t,
	    t / n * 1000);
}

int
main(int argc, char **argv)
{
	unsigned small = 0;
	const char *dir = "./var/bench";
	uint64_t mib = 1024, total;
	struct store_options o;
	struct account_unlocked u;
	struct store *s;
	uint8_t *rnd, *txt;
	char *code;
	vault_id id;
	double sha, ss, wr, bound, st, stt, str, strf, cpu;
	int i, c1, c2, c3, c4, rounds = 3;
	double wrs[9], sts[9];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
			mib = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (strcmp(argv[i], "--small") == 0 && i + 1 < argc)
			small = (unsigned)strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: bench_store [--dir DIR] [--mib N] [--rounds 1-9]"
			    " [--small N]\n");
			return 2;
		}
	}
	if (sodium_init() < 0 || mib == 0 || rounds < 1 || rounds > 9)
		return 1;
	total = mib << 20;
	rnd = malloc(BUF);
	txt = malloc(BUF);
	randombytes_buf(rnd, BUF);
	fill_text(txt, BUF);

	/* a throw-away data directory with one person */
	mkdir("./var", 0700);
	store_options_default(&o);
	o.pw.opslimit = 1;
	o.pw.memlimit = 8192;
	o.max_document_size = o.quota_bytes = UINT64_MAX / 2;
	if (store_create(dir, &o, 1) != VAULT_OK || store_open(dir, &o, &s, NULL) != VAULT_OK ||
	    accounts_create(s, "bench", "Bench", "person", NULL, NULL, "bench", 5, &id, &code) != VAULT_OK) {
		fprintf(stderr, "bench_store: cannot set up %s\n", dir);
		return 1;
	}
	sodium_free(code);
	(void)u;

	if (small > 0) {
		bench_small(s, &id, rnd, small);
		store_close(s);
		free(rnd);
		free(txt);
		return 0;
	}
	printf("bench_store: %llu MiB streams into %s, %d rounds (medians)\n",
	    (unsigned long long)mib, dir, rounds);
	sha = bench_sha(rnd, total);
	ss = bench_secretstream(rnd, total);
	/* The disk's rate varies from run to run (a virtual disk over a host
	 * cache): write+fsync and the store alternate, and medians compare. */
	for (i = 0; i < rounds; i++) {
		wrs[i] = bench_write(dir, rnd, total);
		sts[i] = bench_store(s, &id, rnd, total, BLOB_COMPRESS_NEVER, &c1, &cpu);
		/* how busy the store kept the machine: CPU time against the
		 * wall time of all its CPUs */
		printf("  round %d: write+fsync %.0f MB/s, store %.0f MB/s, CPU %.2f s "
		    "(%.0f %% of %ld CPUs)\n", i + 1, wrs[i], sts[i], cpu,
		    100.0 * cpu / ((double)total / 1e6 / sts[i] * (double)ncpu), ncpu);
	}
	wr = median(wrs, rounds);
	st = median(sts, rounds);
	bound = 1.0 / (1.0 / sha + 1.0 / ss + 1.0 / wr);
	printf("  %-34s %8.0f MB/s\n", "sha256 alone", sha);
	printf("  %-34s %8.0f MB/s\n", "secretstream alone", ss);
	printf("  %-34s %8.0f MB/s\n", "write+fsync alone", wr);
	printf("  %-34s %8.0f MB/s\n", "serial bound", bound);
	printf("  %-34s %8.0f MB/s  (%.0f %% of the bound)\n", "store, no compression", st,
	    100.0 * st / bound);
	stt = bench_store(s, &id, txt, total, BLOB_COMPRESS_AUTO, &c2, NULL);
	printf("  %-34s %8.0f MB/s  (deflated: %s)\n", "store, auto, text-like data", stt,
	    c2 ? "yes" : "no");
	str = bench_store(s, &id, rnd, total, BLOB_COMPRESS_AUTO, &c3, NULL);
	printf("  %-34s %8.0f MB/s  (deflated: %s)\n", "store, auto, random data", str,
	    c3 ? "yes" : "no");
	strf = bench_store(s, &id, rnd, total, BLOB_COMPRESS_ALWAYS, &c4, NULL);
	printf("  %-34s %8.0f MB/s  (deflated: %s)\n", "store, deflate forced, random", strf,
	    c4 ? "yes" : "no");
	printf("  %-34s %8ld KiB\n", "peak RSS", peak_rss_kib());
	store_close(s);
	free(rnd);
	free(txt);
	return 0;
}
