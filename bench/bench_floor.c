/*
 * bench_floor: the two references the API benchmark compares itself with,
 * measured in-process on this machine:
 *
 *   bench_floor floor DIR N SIZE   the durable floor: N times, write SIZE
 *                                  bytes to a temp file, fsync, rename,
 *                                  fsync the directory, and commit one row
 *                                  in SQLite with synchronous=FULL; prints
 *                                  operations per second. The files stay
 *                                  in DIR, for the caller to remove at the
 *                                  end of its run: removed here, they
 *                                  would tax whatever creates files next
 *                                  (vaultd, in bench_api), since ext4
 *                                  without a journal skips inodes freed
 *                                  in the last minutes, reading each one's
 *                                  table block to find that out.
 *   bench_floor decrypt MIB        raw secretstream decryption of MIB MiB
 *                                  in 64 KiB chunks; prints MB/s
 *   bench_floor sockcopy MIB       MIB MiB through a loopback TCP connection,
 *                                  64 KiB writes on one thread, reads on
 *                                  another; prints MB/s (the socket copy a
 *                                  download pays besides decryption)
 *
 * A benchmark helper: it prints figures and checks nothing.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
floor_bench(const char *dir, int n, size_t size)
{
	char tmp[4096], fin[4096], db[4096];
	uint8_t *buf = malloc(size);
	sqlite3 *h;
	double t;
	int i, fd, dfd;

	randombytes_buf(buf, size);
	snprintf(db, sizeof db, "%s/floor.db", dir);
	if (sqlite3_open(db, &h) != SQLITE_OK ||
	    sqlite3_exec(h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    " CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB)",
	    NULL, NULL, NULL) != SQLITE_OK)
		return 1;
	t = now();
	for (i = 0; i < n; i++) {
		snprintf(tmp, sizeof tmp, "%s/floor-%d.tmp", dir, i);
		snprintf(fin, sizeof fin, "%s/floor-%d", dir, i);
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
		    write(fd, buf, size) != (ssize_t)size || fsync(fd) != 0)
			return 1;
		close(fd);
		if (rename(tmp, fin) != 0 || (dfd = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
			return 1;
		fsync(dfd);
		close(dfd);
		if (sqlite3_exec(h, "BEGIN IMMEDIATE; INSERT INTO t (v) VALUES"
		    " (randomblob(100)); COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			return 1;
	}
	t = now() - t;
	printf("%.1f\n", n / t);
	sqlite3_close(h);
	free(buf);
	return 0;
}

static int
decrypt_bench(size_t mib)
{
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t key[32], hdr[24], *c, *p;
	size_t chunks = mib * 16, i;
	unsigned char tag;
	double t;

	c = malloc(chunks * (65536 + 17));
	p = malloc(65536);
	randombytes_buf(p, 65536);
	crypto_secretstream_xchacha20poly1305_keygen(key);
	crypto_secretstream_xchacha20poly1305_init_push(&st, hdr, key);
	for (i = 0; i < chunks; i++)
		crypto_secretstream_xchacha20poly1305_push(&st, c + i * (65536 + 17),
		    NULL, p, 65536, NULL, 0, 0);
	crypto_secretstream_xchacha20poly1305_init_pull(&st, hdr, key);
	t = now();
	for (i = 0; i < chunks; i++)
		if (crypto_secretstream_xchacha20poly1305_pull(&st, p, NULL, &tag,
		    c + i * (65536 + 17), 65536 + 17, NULL, 0) != 0)
			return 1;
	t = now() - t;
	printf("%.0f\n", (double)chunks * 65536 / t / 1e6);
	free(c);
	free(p);
	return 0;
}

struct writer_arg {
	int fd;
	size_t mib;
};

static void *
sock_writer(void *arg)
{
	struct writer_arg *w = arg;
	static uint8_t buf[65536];
	size_t left = w->mib << 20, off;
	ssize_t n;

	while (left > 0) {
		for (off = 0; off < sizeof buf; off += (size_t)n)
			if ((n = write(w->fd, buf + off, sizeof buf - off)) <= 0)
				return NULL;
		left -= sizeof buf;
	}
	close(w->fd);
	return NULL;
}

static int
sockcopy_bench(size_t mib)
{
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	struct writer_arg w;
	pthread_t th;
	uint8_t *buf = malloc(65536);
	uint64_t got = 0;
	int ls, cs, ss;
	ssize_t n;
	double t;

	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 1) != 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &al) != 0 ||
	    (cs = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(cs, (struct sockaddr *)&a, sizeof a) != 0 ||
	    (ss = accept(ls, NULL, NULL)) < 0)
		return 1;
	w.fd = ss;
	w.mib = mib;
	t = now();
	pthread_create(&th, NULL, sock_writer, &w);
	while ((n = read(cs, buf, 65536)) > 0)
		got += (uint64_t)n;
	t = now() - t;
	pthread_join(th, NULL);
	printf("%.0f\n", (double)got / t / 1e6);
	close(cs);
	close(ls);
	free(buf);
	return got == (uint64_t)mib << 20 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	if (argc == 5 && strcmp(argv[1], "floor") == 0)
		return floor_bench(argv[2], atoi(argv[3]), (size_t)strtoull(argv[4], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "decrypt") == 0)
		return decrypt_bench((size_t)strtoull(argv[2], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "sockcopy") == 0)
		return sockcopy_bench((size_t)strtoull(argv[2], NULL, 10));
	fprintf(stderr, "usage: bench_floor floor DIR N SIZE | decrypt MIB | sockcopy MIB\n");
	return 2;
}
