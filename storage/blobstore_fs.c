/*
 * blobstore_fs.c: the file backend of the blob store (contract in
 * blobstore.h).
 *
 * Layout: DIR/ab/ab01…ef (fan-out on the first two hex digits, so that no
 * directory grows past a few thousand entries per million blobs). DIR/tmp/
 * held blobs being written by earlier versions; start-up still empties it.
 *
 * A blob is written in place, under its final name, in a file created
 * with mode 0200: the owner may write it, nobody may read it, and a file
 * in that mode is not a blob yet. Durability, in order, for a put:
 *   1. the file exists, mode 0200, and its directory entry is durable
 *   2. write the blob into it
 *   3. fchmod 0600 and fsync the file: data, size and mode together
 * and only after 3 does the caller commit the database row that makes the
 * document visible. A put that fails, or a crash before 3 ends, leaves a
 * file in mode 0200, which nobody refers to and start-up removes.
 *
 * Step 1 is what the earlier temp file, rename and directory fsync did,
 * moved off the deposit's path: a pool of such empty files ("spares") is
 * made ahead by a thread of the store, a batch at a time in one directory
 * with one directory fsync for the whole batch. A put takes a spare and
 * pays two system calls and one fsync; without one ready (no pool, or
 * empty), it creates its file itself and fsyncs the directory at commit.
 * The names of a batch share their first byte (the directory), chosen at
 * random per batch; the other fifteen bytes are random per name.
 *
 * Step 2 bypasses the page cache: the blob is staged in STAGE_CAP
 * buffers and written with O_DIRECT, each full buffer on a thread of the
 * pool while the caller fills the other, the last one at commit: its
 * whole blocks direct, the partial block at the end through the page
 * cache (the fsync of step 3 takes it with the rest). perf on this
 * 2 vCPU VM put a fifth of vaultd's CPU on a 200 KiB
 * deposit, and 43 % of its busy CPU on a 1 GiB one, in the kernel copying
 * into fresh page-cache pages; direct, the device reads the buffer itself.
 * A blob up to STAGE_CAP (most papers) is written in two calls at
 * commit. A file system that refuses O_DIRECT (EINVAL) gets the same
 * bytes buffered.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blobstore.h"
#include "vault_os.h"
#include "workers.h"

/* The operations a backend provides; an object-store backend fills the same
 * table (its put would stream a multipart upload and complete it at commit). */
struct blobstore_ops {
	vault_err (*put_new)(struct blobstore *, char *, struct blobstore_put **);
	vault_err (*put_write)(struct blobstore_put *, const void *, size_t);
	vault_err (*put_commit)(struct blobstore_put *);
	void (*put_abort)(struct blobstore_put *);
	vault_err (*get_open)(struct blobstore *, const char *, struct blobstore_get **, uint64_t *);
	vault_err (*get_read)(struct blobstore_get *, void *, size_t, size_t *);
	void (*get_close)(struct blobstore_get *);
	vault_err (*remove)(struct blobstore *, const char *);
	vault_err (*exists)(struct blobstore *, const char *);
	vault_err (*list)(struct blobstore *, blobstore_list_fn, void *);
	vault_err (*recover)(struct blobstore *, unsigned *);
	void (*close)(struct blobstore *);
};

#define SPARES_MAX 64
/* Staging for direct writes: a multiple of DIO_ALIGN, which covers the
 * logical block size of 512- and 4096-byte devices. Buffers are kept for
 * reuse (at most STAGES_KEPT): fresh pages cost a fault each. */
#define STAGE_CAP (512u << 10)
#define DIO_ALIGN 4096u
#define STAGES_KEPT 8
#define SPARE_MODE 0200         /* written, not yet a blob */
#define BLOB_MODE 0600

struct blobstore {
	const struct blobstore_ops *ops;
	char *dir;
	/* the pool of spares (empty files in mode 0200 whose names are
	 * durable), refilled by its own thread while below half of target */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned target;        /* 0: no pool */
	unsigned count;
	char spare[SPARES_MAX][VAULT_ID_TEXT_LEN + 1];
	int refiller_started, stopping;
	vault_err failed;       /* a batch's directory fsync failed: sticky */
	_Atomic int *stopped;   /* the store's fail-stop flag, or NULL */
	/* prefix directories this process has made durable (their entry in
	 * dir fsynced after it saw them exist): one per first two hex
	 * digits of a name */
	_Atomic unsigned char prefix_durable[256];
	pthread_t refiller;
	uint8_t *stages[STAGES_KEPT]; /* idle staging buffers, under mu */
	unsigned n_stages;
};

/* One block in flight on a thread of the pool (a put's write, a get's
 * read ahead), and its outcome. */
struct inflight {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int busy;
	int err;                /* the last block's: 0, a vault_err or an errno */
};

struct blobstore_put {
	struct blobstore *bs;
	int fd;
	int entry_durable;      /* a spare: its name is durable already */
	char final[PATH_MAX];
	char subdir[PATH_MAX];
	vault_err err; /* sticky: after a failed write, commit fails too */
	/* Step 2 (see the top): the stage fills while the other buffer is
	 * written by a thread of the pool (busy, under mu); no stage: no
	 * memory for one, written as it comes, buffered */
	uint8_t *stage, *other, *wbuf;
	size_t staged;
	uint64_t written;       /* bytes in the file, padding excepted */
	int direct;             /* O_DIRECT: 0 not tried, 1 set, -1 refused */
	struct inflight w;      /* err: a vault_err */
};

/* Reads mirror the writes: O_DIRECT, a STAGE_CAP block at a time, the
 * next block read on a thread of the pool while the caller consumes this
 * one (a blob was written around the page cache, so it is seldom there).
 * No buffers to be had: plain read(2). */
struct blobstore_get {
	struct blobstore *bs;
	int fd;
	uint8_t *cur, *next;    /* both NULL: plain reads */
	size_t cur_len, cur_pos, next_len;
	uint64_t off;           /* where the next block starts */
	int direct;             /* 1: O_DIRECT set; 0: buffered */
	int end;                /* the block last read was the file's last */
	struct inflight r;      /* err: an errno */
};

/* ---- helpers ---------------------------------------------------------- */

static int
valid_name(const char *name)
{
	size_t i;

	if (name == NULL || strlen(name) != VAULT_ID_TEXT_LEN)
		return 0;
	for (i = 0; i < VAULT_ID_TEXT_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return 1;
}

static vault_err
errno_err(void)
{
	switch (errno) {
	case ENOSPC:
	case EDQUOT: return VAULT_ERR_NOSPACE;
	case ENOMEM: return VAULT_ERR_NOMEM;
	case ENOENT: return VAULT_ERR_NOTFOUND;
	case EEXIST: return VAULT_ERR_EXISTS;
	/* no descriptor free: the request fails (503), nothing stops */
	case EMFILE:
	case ENFILE: return VAULT_ERR_BUSY;
	default: return VAULT_ERR_IO;
	}
}

/* After vault_os_fsync_dir failed: a directory that could not be opened
 * for want of a descriptor or memory is not a failed sync (which alone
 * stops the store). */
static vault_err
dirsync_err(void)
{
	return errno == EMFILE || errno == ENFILE ? VAULT_ERR_BUSY :
	    errno == ENOMEM ? VAULT_ERR_NOMEM : VAULT_ERR_IO;
}

/* mkdir that is durable: the entry is fsynced in its parent, also when it
 * existed already. Found existing is not enough: another thread may have
 * made it and not yet synced its entry, or a process killed before its
 * sync may have left it in the page cache only. A failed mkdir is
 * errno_err's (a full disk is NOSPACE), a failed sync IO. */
static vault_err
mkdir_durable(const char *path, const char *parent)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return errno_err();
	return vault_os_fsync_dir(parent) == 0 ? VAULT_OK : dirsync_err();
}

/* The directory of a name's prefix, durable in bs->dir: synced at its
 * first use in this process, known durable after that. */
static vault_err
prefix_dir_durable(struct blobstore *bs, const char *sub, const char *name)
{
	unsigned char b;
	vault_err r;

	if (sodium_hex2bin(&b, 1, name, 2, NULL, NULL, NULL) != 0)
		return VAULT_ERR_FORMAT;
	if (atomic_load(&bs->prefix_durable[b]))
		return VAULT_OK;
	if ((r = mkdir_durable(sub, bs->dir)) == VAULT_OK)
		atomic_store(&bs->prefix_durable[b], 1);
	return r;
}

static int
path_join(char *out, const char *a, const char *b)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", a, b);
	return n < 0 || n >= PATH_MAX ? -1 : 0;
}

/* ---- spares ------------------------------------------------------------- */

/* A fresh name: prefix (two hex digits) and 30 random ones. */
static void
fresh_name(const char prefix[2], char name[VAULT_ID_TEXT_LEN + 1])
{
	uint8_t rb[VAULT_ID_LEN];

	randombytes_buf(rb, sizeof rb);
	sodium_bin2hex(name, VAULT_ID_TEXT_LEN + 1, rb, sizeof rb);
	name[0] = prefix[0];
	name[1] = prefix[1];
}

static int
name_paths(const struct blobstore *bs, const char *name, char sub[PATH_MAX],
    char file[PATH_MAX])
{
	return snprintf(sub, PATH_MAX, "%s/%.2s", bs->dir, name) >= PATH_MAX ||
	    snprintf(file, PATH_MAX, "%s/%.2s/%s", bs->dir, name, name) >= PATH_MAX ?
	    -1 : 0;
}

/* Creates the file of a new blob, empty, mode 0200, refusing any that
 * exists. Its name is not durable yet. Returns the descriptor or -1. */
static int
create_file(const char *path)
{
	return vault_os.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, SPARE_MODE);
}

/* Makes up to n spares in one directory, durable with one directory
 * fsync, and adds them to the pool. */
static void
refill_batch(struct blobstore *bs, unsigned n)
{
	char names[SPARES_MAX][VAULT_ID_TEXT_LEN + 1], prefix[3];
	char sub[PATH_MAX], file[PATH_MAX];
	unsigned made = 0, i;
	uint8_t b;
	vault_err r = VAULT_OK;
	int fd;

	randombytes_buf(&b, 1);
	sodium_bin2hex(prefix, sizeof prefix, &b, 1);
	for (i = 0; i < n; i++) {
		fresh_name(prefix, names[made]);
		if (name_paths(bs, names[made], sub, file) != 0)
			break;
		if (made == 0 && (r = prefix_dir_durable(bs, sub, names[made])) != VAULT_OK)
			break;
		if ((fd = create_file(file)) < 0)
			break; /* no room, no descriptor: fewer spares, no harm */
		vault_os.close(fd);
		made++;
	}
	if (made > 0 && vault_os_fsync_dir(sub) != 0)
		r = errno == EMFILE || errno == ENFILE || errno == ENOMEM ?
		    VAULT_ERR_BUSY : VAULT_ERR_IO;
	if (made > 0 && r != VAULT_OK) {
		/* not known durable: not spares. Removing them needs no
		 * fsync: a file left in mode 0200 is removed at start-up. */
		for (i = 0; i < made; i++)
			if (name_paths(bs, names[i], sub, file) == 0)
				vault_os.unlink(file);
		made = 0;
	}
	pthread_mutex_lock(&bs->mu);
	if (r == VAULT_ERR_IO) {
		bs->failed = VAULT_ERR_IO;
		if (bs->stopped != NULL)
			atomic_store(bs->stopped, 1);
	}
	for (i = 0; i < made && bs->count < SPARES_MAX; i++)
		memcpy(bs->spare[bs->count++], names[i], VAULT_ID_TEXT_LEN + 1);
	pthread_mutex_unlock(&bs->mu);
}

static void *
refiller_main(void *arg)
{
	struct blobstore *bs = arg;
	struct timespec backoff;
	unsigned want, before;

	pthread_mutex_lock(&bs->mu);
	for (;;) {
		while (!bs->stopping && bs->failed == VAULT_OK &&
		    bs->count > bs->target / 2)
			pthread_cond_wait(&bs->cv, &bs->mu);
		if (bs->stopping || bs->failed != VAULT_OK)
			break;
		want = bs->target - bs->count;
		before = bs->count;
		pthread_mutex_unlock(&bs->mu);
		refill_batch(bs, want);
		pthread_mutex_lock(&bs->mu);
		if (bs->count <= before && !bs->stopping) {
			/* nothing made (a full disk, no descriptor): puts make
			 * their own files meanwhile; try again in a second */
			clock_gettime(CLOCK_REALTIME, &backoff);
			backoff.tv_sec += 1;
			pthread_cond_timedwait(&bs->cv, &bs->mu, &backoff);
		}
	}
	pthread_mutex_unlock(&bs->mu);
	return NULL;
}

/* Starts the refiller if there is a pool and it is not running. Called
 * with bs->mu held. */
static void
start_refiller(struct blobstore *bs)
{
	if (bs->target > 0 && !bs->refiller_started)
		bs->refiller_started = vault_os_thread(&bs->refiller, NULL,
		    refiller_main, bs) == 0;
}

/* Takes a spare into name; 1 if there was one, 0 if not, -1 after a
 * failed sync. Wakes the refiller when the pool runs low. */
static int
take_spare(struct blobstore *bs, char name[VAULT_ID_TEXT_LEN + 1])
{
	int got = 0;

	if (bs->target == 0)
		return 0;
	pthread_mutex_lock(&bs->mu);
	if (bs->failed != VAULT_OK) {
		pthread_mutex_unlock(&bs->mu);
		return -1;
	}
	if (bs->count > 0) {
		memcpy(name, bs->spare[--bs->count], VAULT_ID_TEXT_LEN + 1);
		got = 1;
	}
	if (bs->count <= bs->target / 2) {
		start_refiller(bs);
		pthread_cond_signal(&bs->cv);
	}
	pthread_mutex_unlock(&bs->mu);
	return got;
}

/* ---- put -------------------------------------------------------------- */

/* A staging buffer, from those kept or new; NULL if there is no memory. */
static uint8_t *
stage_take(struct blobstore *bs)
{
	void *b = NULL;

	pthread_mutex_lock(&bs->mu);
	if (bs->n_stages > 0)
		b = bs->stages[--bs->n_stages];
	pthread_mutex_unlock(&bs->mu);
	if (b == NULL && posix_memalign(&b, DIO_ALIGN, STAGE_CAP) != 0)
		b = NULL;
	return b;
}

/* Gives a buffer back (it holds ciphertext only: nothing to wipe). */
static void
stage_give(struct blobstore *bs, uint8_t *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&bs->mu);
	if (bs->n_stages < STAGES_KEPT) {
		bs->stages[bs->n_stages++] = b;
		b = NULL;
	}
	pthread_mutex_unlock(&bs->mu);
	free(b);
}

static void
inflight_init(struct inflight *f)
{
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->busy = 0;
	f->err = 0;
}

/* fn(arg) on a thread of the pool, or here if none can be had; fn ends
 * with inflight_done. */
static void
inflight_start(struct inflight *f, void (*fn)(void *), void *arg)
{
	f->busy = 1;
	if (workers_run(fn, arg) != 0)
		fn(arg);
}

static void
inflight_done(struct inflight *f, int err)
{
	pthread_mutex_lock(&f->mu);
	f->err = err;
	f->busy = 0;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

/* Waits until no block is in flight; the last one's outcome. */
static int
inflight_wait(struct inflight *f)
{
	pthread_mutex_lock(&f->mu);
	while (f->busy)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	return f->err;
}

/* Gives the buffers back and frees the handle (no block in flight). */
static void
io_free(struct blobstore *bs, uint8_t *a, uint8_t *b, struct inflight *f,
    void *handle)
{
	stage_give(bs, a);
	stage_give(bs, b);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(handle);
}

/* Sets (on) or clears O_DIRECT on fd. 0, or -1 with errno set. */
static int
fd_direct(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT);
}

/* Writes len bytes of b (a multiple of DIO_ALIGN) at p->written; direct
 * (O_DIRECT set on the first call). A file system that refuses O_DIRECT
 * (EINVAL) gets this block and the rest buffered. 0, or -1 with errno
 * set. */
static int
write_block(struct blobstore_put *p, const uint8_t *b, size_t len)
{
	if (p->direct == 0)
		p->direct = fd_direct(p->fd, 1) == 0 ? 1 : -1;
	if (p->direct == 1) {
		if (vault_os_write_all(p->fd, b, len) == 0) {
			p->written += len;
			return 0;
		}
		if (errno != EINVAL)
			return -1;
		/* another alignment wanted, or none: from this block's
		 * start, through the page cache */
		if (fd_direct(p->fd, 0) != 0 ||
		    lseek(p->fd, (off_t)p->written, SEEK_SET) != (off_t)p->written)
			return -1;
		p->direct = -1;
	}
	if (vault_os_write_all(p->fd, b, len) != 0)
		return -1;
	p->written += len;
	return 0;
}

/* A full buffer, written on a thread of the pool while the caller fills
 * the other one. */
static void
write_task(void *arg)
{
	struct blobstore_put *p = arg;
	vault_err r = VAULT_OK;

	if (write_block(p, p->wbuf, STAGE_CAP) != 0)
		r = errno_err();
	inflight_done(&p->w, (int)r);
}

/* Waits for the buffer in flight; its buffer becomes the spare, and its
 * failure the put's. */
static void
wait_write(struct blobstore_put *p)
{
	vault_err r = (vault_err)inflight_wait(&p->w);

	if (p->wbuf != NULL) {
		p->other = p->wbuf;
		p->wbuf = NULL;
	}
	if (p->err == VAULT_OK)
		p->err = r;
}

/* The filled stage goes to the disk: on a thread of the pool if a second
 * buffer can be had, else here. */
static vault_err
submit(struct blobstore_put *p)
{
	wait_write(p);
	if (p->err != VAULT_OK)
		return p->err;
	if (p->other == NULL)
		p->other = stage_take(p->bs);
	if (p->other == NULL) {
		if (write_block(p, p->stage, STAGE_CAP) != 0)
			p->err = errno_err();
		p->staged = 0;
		return p->err;
	}
	p->wbuf = p->stage;
	p->stage = p->other;
	p->other = NULL;
	p->staged = 0;
	inflight_start(&p->w, write_task, p);
	return VAULT_OK;
}

/* Step 2 ends: the aligned part of what is staged goes direct, the last
 * partial block (under DIO_ALIGN bytes) through the page cache, so the
 * file ends at the blob's size. (Padding the last block and cutting it
 * with ftruncate cost 70 us a blob on this VM, a fifth of a small blob's
 * way to the disk.) Nothing lies past the end: a direct write that went
 * partly out before an EINVAL is written again whole, buffered, from its
 * start (write_block). 0, or -1 with errno set. */
static int
write_tail(struct blobstore_put *p)
{
	size_t head = p->staged & ~(size_t)(DIO_ALIGN - 1);

	if (head > 0 && write_block(p, p->stage, head) != 0)
		return -1;
	if (p->staged > head) {
		if (p->direct == 1 && fd_direct(p->fd, 0) != 0)
			return -1;
		p->direct = -1;
		if (vault_os_write_all(p->fd, p->stage + head, p->staged - head) != 0)
			return -1;
		p->written += p->staged - head;
	}
	p->staged = 0;
	return 0;
}

static vault_err
fs_put_new(struct blobstore *bs, char *name, struct blobstore_put **pp)
{
	struct blobstore_put *p;
	char prefix[3];
	uint8_t b;
	int spare;
	vault_err r;

	*pp = NULL;
	if ((p = calloc(1, sizeof *p)) == NULL)
		return VAULT_ERR_NOMEM;
	p->bs = bs;
	p->fd = -1;
	if ((spare = take_spare(bs, name)) < 0) {
		free(p);
		return VAULT_ERR_IO;
	}
	if (spare) {
		p->entry_durable = 1;
		if (name_paths(bs, name, p->subdir, p->final) != 0) {
			free(p);
			return VAULT_ERR_LIMIT;
		}
		/* O_TRUNC: a spare is empty; if anything had written to it,
		 * this put's bytes alone are kept */
		p->fd = vault_os.open(p->final, O_WRONLY | O_TRUNC | O_NOFOLLOW |
		    O_CLOEXEC, 0);
	} else {
		randombytes_buf(&b, 1);
		sodium_bin2hex(prefix, sizeof prefix, &b, 1);
		fresh_name(prefix, name);
		if (name_paths(bs, name, p->subdir, p->final) != 0) {
			free(p);
			return VAULT_ERR_LIMIT;
		}
		if ((r = prefix_dir_durable(bs, p->subdir, name)) != VAULT_OK) {
			free(p);
			return r;
		}
		p->fd = create_file(p->final);
	}
	if (p->fd < 0) {
		r = errno_err();
		if (spare)
			vault_os.unlink(p->final);
		free(p);
		return r == VAULT_ERR_NOTFOUND || r == VAULT_ERR_EXISTS ? VAULT_ERR_IO : r;
	}
	/* no buffer to be had: written as it comes, buffered */
	p->stage = stage_take(bs);
	inflight_init(&p->w);
	*pp = p;
	return VAULT_OK;
}

static vault_err
fs_put_write(struct blobstore_put *p, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t n;

	if (p->err != VAULT_OK)
		return p->err;
	if (p->stage == NULL) {
		if (vault_os_write_all(p->fd, buf, len) != 0)
			p->err = errno_err();
		return p->err;
	}
	while (len > 0) {
		n = STAGE_CAP - p->staged < len ? STAGE_CAP - p->staged : len;
		memcpy(p->stage + p->staged, b, n);
		p->staged += n;
		b += n;
		len -= n;
		if (p->staged == STAGE_CAP && submit(p) != VAULT_OK)
			return p->err;
	}
	return VAULT_OK;
}

static void
fs_put_abort(struct blobstore_put *p)
{
	if (p == NULL)
		return;
	/* the buffer in flight writes to p->fd */
	wait_write(p);
	if (p->fd >= 0)
		vault_os.close(p->fd);
	/* no fsync of the directory: if the removal is lost, the file is
	 * still in mode 0200 and start-up removes it */
	if (p->final[0] != '\0')
		vault_os.unlink(p->final);
	io_free(p->bs, p->stage, p->other, &p->w, p);
}

static vault_err
fs_put_commit(struct blobstore_put *p)
{
	vault_err r;
	struct stat st;

	wait_write(p);
	if ((r = p->err) != VAULT_OK)
		goto fail;
	if (p->stage != NULL && write_tail(p) != 0) {
		r = errno_err();
		goto fail;
	}
	/* 3. the data, its size and the mode that says "a blob" in one
	 * fsync. Any failed fsync is VAULT_ERR_IO, ENOSPC included: it stops
	 * the store, where a failed write only fails the put. */
	if (fchmod(p->fd, BLOB_MODE) != 0) {
		r = errno_err();
		goto fail;
	}
	if (vault_os.fsync(p->fd) != 0) {
		r = VAULT_ERR_IO;
		goto fail;
	}
	/* removed under us (by hand, or by a process that did not respect
	 * the data directory's lock): durable bytes with no name */
	if (fstat(p->fd, &st) != 0 || st.st_nlink == 0) {
		r = VAULT_ERR_IO;
		goto fail;
	}
	if (vault_os.close(p->fd) != 0) {
		p->fd = -1;
		r = errno_err();
		goto fail;
	}
	p->fd = -1;
	/* a file this put created itself: its name too */
	if (!p->entry_durable && vault_os_fsync_dir(p->subdir) != 0) {
		r = dirsync_err();
		goto fail;
	}
	io_free(p->bs, p->stage, p->other, &p->w, p);
	return VAULT_OK;
fail:
	/* not known durable: taken back, so that the caller's failure
	 * leaves nothing behind */
	fs_put_abort(p);
	return r == VAULT_ERR_NOTFOUND ? VAULT_ERR_IO : r;
}

/* ---- get, remove, exists ------------------------------------------------ */

static vault_err
blob_path(struct blobstore *bs, const char *name, char out[PATH_MAX])
{
	if (!valid_name(name))
		return VAULT_ERR_FORMAT;
	if (snprintf(out, PATH_MAX, "%s/%.2s/%s", bs->dir, name, name) >= PATH_MAX)
		return VAULT_ERR_LIMIT;
	return VAULT_OK;
}

/* Reads the block at g->off into g->next. 0, or an errno. */
static int
read_block(struct blobstore_get *g)
{
	size_t got = 0;
	ssize_t k;

	while (got < STAGE_CAP) {
		k = vault_os.pread(g->fd, g->next + got, STAGE_CAP - got,
		    (off_t)(g->off + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EINVAL && g->direct) {
			/* alignment refused: buffered from here on */
			if (fd_direct(g->fd, 0) != 0)
				return errno;
			g->direct = 0;
			continue;
		}
		if (k < 0)
			return errno;
		if (k == 0)
			break;
		got += (size_t)k;
		/* a direct read ends short only at the end of the file */
		if (g->direct && got % DIO_ALIGN != 0)
			break;
	}
	g->next_len = got;
	g->off += got;
	return 0;
}

static void
read_task(void *arg)
{
	struct blobstore_get *g = arg;

	inflight_done(&g->r, read_block(g));
}

static vault_err
fs_get_open(struct blobstore *bs, const char *name, struct blobstore_get **gp,
    uint64_t *sizep)
{
	char path[PATH_MAX];
	struct blobstore_get *g;
	struct stat st;
	vault_err r;
	int fd;

	*gp = NULL;
	if ((r = blob_path(bs, name, path)) != VAULT_OK)
		return r;
	if ((fd = vault_os.open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0)) < 0)
		return errno_err();
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		vault_os.close(fd);
		return VAULT_ERR_IO;
	}
	if ((g = calloc(1, sizeof *g)) == NULL) {
		vault_os.close(fd);
		return VAULT_ERR_NOMEM;
	}
	g->bs = bs;
	g->fd = fd;
	inflight_init(&g->r);
	if ((g->cur = stage_take(bs)) != NULL &&
	    (g->next = stage_take(bs)) != NULL) {
		g->direct = fd_direct(fd, 1) == 0;
		/* the first block, while the caller gets ready */
		inflight_start(&g->r, read_task, g);
	} else {
		stage_give(bs, g->cur);
		g->cur = NULL;
		/* read whole and in order: let the kernel read far ahead */
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	if (sizep != NULL)
		*sizep = (uint64_t)st.st_size;
	*gp = g;
	return VAULT_OK;
}

static vault_err
fs_get_read(struct blobstore_get *g, void *buf, size_t cap, size_t *n)
{
	uint8_t *t;
	ssize_t k;
	size_t m;

	*n = 0;
	if (g->cur == NULL) {
		do
			k = vault_os.read(g->fd, buf, cap);
		while (k < 0 && errno == EINTR);
		if (k < 0)
			return VAULT_ERR_IO;
		*n = (size_t)k;
		return VAULT_OK;
	}
	if (g->cur_pos == g->cur_len) {
		if (g->end)
			return VAULT_OK;
		if (inflight_wait(&g->r) != 0)
			return VAULT_ERR_IO;
		t = g->cur;
		g->cur = g->next;
		g->next = t;
		g->cur_len = g->next_len;
		g->cur_pos = 0;
		g->end = g->cur_len < STAGE_CAP;
		if (!g->end)
			inflight_start(&g->r, read_task, g);
	}
	m = g->cur_len - g->cur_pos < cap ? g->cur_len - g->cur_pos : cap;
	memcpy(buf, g->cur + g->cur_pos, m);
	g->cur_pos += m;
	*n = m;
	return VAULT_OK;
}

static void
fs_get_close(struct blobstore_get *g)
{
	if (g == NULL)
		return;
	/* the block in flight reads from g->fd into g->next */
	inflight_wait(&g->r);
	vault_os.close(g->fd);
	io_free(g->bs, g->cur, g->next, &g->r, g);
}

static vault_err
fs_remove(struct blobstore *bs, const char *name)
{
	char path[PATH_MAX], sub[PATH_MAX];
	vault_err r;

	if ((r = blob_path(bs, name, path)) != VAULT_OK)
		return r;
	if (vault_os.unlink(path) != 0)
		return errno_err();
	snprintf(sub, PATH_MAX, "%s/%.2s", bs->dir, name);
	if (vault_os_fsync_dir(sub) != 0)
		return dirsync_err();
	return VAULT_OK;
}

static vault_err
fs_exists(struct blobstore *bs, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	vault_err r;

	if ((r = blob_path(bs, name, path)) != VAULT_OK)
		return r;
	if (lstat(path, &st) != 0)
		return errno_err();
	return S_ISREG(st.st_mode) ? VAULT_OK : VAULT_ERR_NOTFOUND;
}

/* ---- list and recover --------------------------------------------------- */

static int
is_prefix_dir(const char *n)
{
	return strlen(n) == 2 &&
	    ((n[0] >= '0' && n[0] <= '9') || (n[0] >= 'a' && n[0] <= 'f')) &&
	    ((n[1] >= '0' && n[1] <= '9') || (n[1] >= 'a' && n[1] <= 'f'));
}

/* A file in mode 0200: a spare or a put that never committed. */
static int
is_unfinished(const struct stat *st)
{
	return (st->st_mode & S_IRUSR) == 0;
}

static vault_err
fs_list(struct blobstore *bs, blobstore_list_fn fn, void *ctx)
{
	char sub[PATH_MAX], path[PATH_MAX], rel[PATH_MAX];
	struct dirent *de, *fe;
	DIR *top, *d;
	struct stat st;
	vault_err r = VAULT_OK;

	if ((top = opendir(bs->dir)) == NULL)
		return errno_err();
	while (r == VAULT_OK && (de = readdir(top)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "tmp") == 0)
			continue;
		if (path_join(sub, bs->dir, de->d_name) != 0)
			continue;
		if (!is_prefix_dir(de->d_name) || lstat(sub, &st) != 0 ||
		    !S_ISDIR(st.st_mode)) {
			r = fn(ctx, de->d_name, 0, 0);
			continue;
		}
		if ((d = opendir(sub)) == NULL) {
			r = errno_err();
			break;
		}
		while (r == VAULT_OK && (fe = readdir(d)) != NULL) {
			if (strcmp(fe->d_name, ".") == 0 || strcmp(fe->d_name, "..") == 0)
				continue;
			if (path_join(path, sub, fe->d_name) != 0 ||
			    lstat(path, &st) != 0)
				continue;
			/* a blob being written, or a spare: not a blob yet */
			if (S_ISREG(st.st_mode) && is_unfinished(&st) &&
			    valid_name(fe->d_name))
				continue;
			if (S_ISREG(st.st_mode) && valid_name(fe->d_name) &&
			    memcmp(fe->d_name, de->d_name, 2) == 0)
				r = fn(ctx, fe->d_name, (uint64_t)st.st_size, 1);
			else {
				snprintf(rel, sizeof rel, "%s/%s", de->d_name,
				    fe->d_name);
				r = fn(ctx, rel, (uint64_t)st.st_size, 0);
			}
		}
		closedir(d);
	}
	closedir(top);
	return r;
}

/* Removes, in one prefix directory, the files in mode 0200: puts cut
 * short (counted) and spares never used (not counted). */
static vault_err
recover_prefix(const char *sub, unsigned *removed)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	int gone = 0;
	DIR *d;

	if ((d = opendir(sub)) == NULL)
		return errno_err();
	while ((de = readdir(d)) != NULL) {
		if (!valid_name(de->d_name) || path_join(path, sub, de->d_name) != 0 ||
		    lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || !is_unfinished(&st))
			continue;
		/* never committed: nobody was told it is stored */
		if (vault_os.unlink(path) == 0) {
			gone = 1;
			*removed += st.st_size > 0;
		}
	}
	closedir(d);
	return gone && vault_os_fsync_dir(sub) != 0 ? errno_err() : VAULT_OK;
}

static vault_err
fs_recover(struct blobstore *bs, unsigned *removed)
{
	char tdir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	vault_err r = VAULT_OK;
	unsigned old = 0;
	DIR *d;

	*removed = 0;
	if (path_join(tdir, bs->dir, "tmp") != 0)
		return VAULT_ERR_LIMIT;
	if ((d = opendir(tdir)) == NULL)
		return errno_err();
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (path_join(path, tdir, de->d_name) != 0)
			continue;
		/* A temp file (of an earlier version) was never committed:
		 * nobody was told it is stored, so removing it loses nothing. */
		if (vault_os.unlink(path) == 0)
			old++;
	}
	closedir(d);
	if (old > 0 && vault_os_fsync_dir(tdir) != 0)
		return errno_err();
	*removed = old;
	if ((d = opendir(bs->dir)) == NULL)
		return errno_err();
	while (r == VAULT_OK && (de = readdir(d)) != NULL)
		if (is_prefix_dir(de->d_name) && path_join(path, bs->dir, de->d_name) == 0)
			r = recover_prefix(path, removed);
	closedir(d);
	/* the pool is made now, at start-up, rather than by the first
	 * deposits (and never before this clean-up, which would take it) */
	pthread_mutex_lock(&bs->mu);
	if (r == VAULT_OK)
		start_refiller(bs);
	pthread_mutex_unlock(&bs->mu);
	return r;
}

static void
fs_close(struct blobstore *bs)
{
	char sub[PATH_MAX], file[PATH_MAX];
	unsigned i;

	pthread_mutex_lock(&bs->mu);
	bs->stopping = 1;
	pthread_cond_broadcast(&bs->cv);
	pthread_mutex_unlock(&bs->mu);
	if (bs->refiller_started)
		pthread_join(bs->refiller, NULL);
	/* unused spares: empty files nobody needs (a crash leaves them to
	 * start-up instead) */
	for (i = 0; i < bs->count; i++)
		if (name_paths(bs, bs->spare[i], sub, file) == 0)
			vault_os.unlink(file);
	for (i = 0; i < bs->n_stages; i++)
		free(bs->stages[i]);
	pthread_mutex_destroy(&bs->mu);
	pthread_cond_destroy(&bs->cv);
	free(bs->dir);
	free(bs);
}

static const struct blobstore_ops fs_ops = {
	.put_new = fs_put_new, .put_write = fs_put_write,
	.put_commit = fs_put_commit, .put_abort = fs_put_abort,
	.get_open = fs_get_open, .get_read = fs_get_read,
	.get_close = fs_get_close, .remove = fs_remove, .exists = fs_exists,
	.list = fs_list, .recover = fs_recover, .close = fs_close,
};

vault_err
blobstore_fs_open(const char *dir, unsigned spares, _Atomic int *stopped,
    struct blobstore **bsp)
{
	char tdir[PATH_MAX], parent[PATH_MAX];
	struct blobstore *bs;
	char *slash;
	vault_err r;

	*bsp = NULL;
	if (path_join(tdir, dir, "tmp") != 0 || strlen(dir) >= PATH_MAX)
		return VAULT_ERR_LIMIT;
	strcpy(parent, dir);
	if ((slash = strrchr(parent, '/')) != NULL)
		*slash = '\0';
	else
		strcpy(parent, ".");
	if ((r = mkdir_durable(dir, parent)) != VAULT_OK ||
	    (r = mkdir_durable(tdir, dir)) != VAULT_OK)
		return r;
	if ((bs = calloc(1, sizeof *bs)) == NULL || (bs->dir = strdup(dir)) == NULL) {
		free(bs);
		return VAULT_ERR_NOMEM;
	}
	bs->ops = &fs_ops;
	bs->stopped = stopped;
	bs->target = spares < SPARES_MAX ? spares : SPARES_MAX;
	pthread_mutex_init(&bs->mu, NULL);
	pthread_cond_init(&bs->cv, NULL);
	*bsp = bs;
	return VAULT_OK;
}

/* ---- the interface: dispatch to the backend ------------------------------ */

void blobstore_close(struct blobstore *bs) { if (bs != NULL) bs->ops->close(bs); }

vault_err
blobstore_put_new(struct blobstore *bs, char name[VAULT_ID_TEXT_LEN + 1],
    struct blobstore_put **pp)
{
	return bs->ops->put_new(bs, name, pp);
}

vault_err
blobstore_put_write(struct blobstore_put *p, const void *buf, size_t len)
{
	return p->bs->ops->put_write(p, buf, len);
}

vault_err
blobstore_put_commit(struct blobstore_put *p)
{
	return p->bs->ops->put_commit(p);
}

void
blobstore_put_abort(struct blobstore_put *p)
{
	if (p != NULL)
		p->bs->ops->put_abort(p);
}

vault_err
blobstore_get_open(struct blobstore *bs, const char *name,
    struct blobstore_get **gp, uint64_t *sizep)
{
	return bs->ops->get_open(bs, name, gp, sizep);
}

vault_err
blobstore_get_read(struct blobstore_get *g, void *buf, size_t cap, size_t *n)
{
	return g->bs->ops->get_read(g, buf, cap, n);
}

void
blobstore_get_close(struct blobstore_get *g)
{
	if (g != NULL)
		g->bs->ops->get_close(g);
}

vault_err blobstore_remove(struct blobstore *bs, const char *name) { return bs->ops->remove(bs, name); }
vault_err blobstore_exists(struct blobstore *bs, const char *name) { return bs->ops->exists(bs, name); }
vault_err blobstore_list(struct blobstore *bs, blobstore_list_fn fn, void *ctx) { return bs->ops->list(bs, fn, ctx); }
vault_err blobstore_recover(struct blobstore *bs, unsigned *removed) { return bs->ops->recover(bs, removed); }
