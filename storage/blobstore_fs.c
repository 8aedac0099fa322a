/*
 * blobstore_fs.c: the file backend of the blob store (contract in
 * blobstore.h).
 *
 * Layout: DIR/ab/ab01…ef (fan-out on the first two hex digits, so that no
 * directory grows past a few thousand entries per million blobs), and
 * DIR/tmp/ for blobs being written.
 *
 * Durability, in order, for a put:
 *   1. write the temp file (O_EXCL, 0600)
 *   2. fsync the temp file
 *   3. rename it to its final name, refusing to replace (RENAME_NOREPLACE)
 *   4. fsync the final directory: from here the blob survives power loss
 * and only after 4 does the caller commit the database row that makes the
 * document visible. A failure at any step discards the temp file and fails
 * the put; a failed fsync is never retried.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blobstore.h"
#include "vault_os.h"

/* The operations a backend provides; an object-store backend fills the same
 * table (its put would stream a multipart upload and complete it at commit). */
struct blobstore_ops {
	vault_err (*put_begin)(struct blobstore *, const char *, struct blobstore_put **);
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

struct blobstore {
	const struct blobstore_ops *ops;
	char *dir;
};

struct blobstore_put {
	struct blobstore *bs;
	int fd;
	char tmp[PATH_MAX];
	char final[PATH_MAX];
	char subdir[PATH_MAX];
	vault_err err; /* sticky: after a failed write, commit fails too */
};

struct blobstore_get {
	struct blobstore *bs;
	int fd;
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

/* mkdir that is durable: the new entry is fsynced in its parent. A failed
 * mkdir is errno_err's (a full disk is NOSPACE), a failed sync IO. */
static vault_err
mkdir_durable(const char *path, const char *parent)
{
	if (mkdir(path, 0700) != 0)
		return errno == EEXIST ? VAULT_OK : errno_err();
	return vault_os_fsync_dir(parent) == 0 ? VAULT_OK : dirsync_err();
}



static int
path_join(char *out, const char *a, const char *b)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", a, b);
	return n < 0 || n >= PATH_MAX ? -1 : 0;
}

/* ---- put -------------------------------------------------------------- */

static vault_err
fs_put_begin(struct blobstore *bs, const char *name, struct blobstore_put **pp)
{
	struct blobstore_put *p;
	char prefix[3], rnd[17];
	uint8_t rb[8];

	*pp = NULL;
	if (!valid_name(name))
		return VAULT_ERR_FORMAT;
	if ((p = calloc(1, sizeof *p)) == NULL)
		return VAULT_ERR_NOMEM;
	p->bs = bs;
	p->fd = -1;
	memcpy(prefix, name, 2);
	prefix[2] = '\0';
	randombytes_buf(rb, sizeof rb);
	sodium_bin2hex(rnd, sizeof rnd, rb, sizeof rb);
	if (snprintf(p->tmp, PATH_MAX, "%s/tmp/%s.%s.tmp", bs->dir, name, rnd) >= PATH_MAX ||
	    snprintf(p->subdir, PATH_MAX, "%s/%s", bs->dir, prefix) >= PATH_MAX ||
	    snprintf(p->final, PATH_MAX, "%s/%s", p->subdir, name) >= PATH_MAX) {
		free(p);
		return VAULT_ERR_LIMIT;
	}
	p->fd = vault_os.open(p->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (p->fd < 0) {
		vault_err r = errno_err();
		free(p);
		return r == VAULT_ERR_NOTFOUND ? VAULT_ERR_IO : r;
	}
	*pp = p;
	return VAULT_OK;
}

static vault_err
fs_put_write(struct blobstore_put *p, const void *buf, size_t len)
{
	if (p->err != VAULT_OK)
		return p->err;
	if (vault_os_write_all(p->fd, buf, len) != 0)
		p->err = errno_err();
	return p->err;
}

static void
fs_put_abort(struct blobstore_put *p)
{
	if (p == NULL)
		return;
	if (p->fd >= 0)
		vault_os.close(p->fd);
	if (p->tmp[0] != '\0')
		vault_os.unlink(p->tmp);
	free(p);
}

static vault_err
fs_put_commit(struct blobstore_put *p)
{
	vault_err r = p->err;

	if (r != VAULT_OK)
		goto fail;
	/* 2. the data. Any failed fsync is VAULT_ERR_IO, ENOSPC included:
	 * it stops the store, where a failed write only fails the put. */
	if (vault_os.fsync(p->fd) != 0) {
		r = VAULT_ERR_IO;
		goto fail;
	}
	if (vault_os.close(p->fd) != 0) {
		p->fd = -1;
		r = errno_err();
		goto fail;
	}
	p->fd = -1;
	if ((r = mkdir_durable(p->subdir, p->bs->dir)) != VAULT_OK)
		goto fail;
	/* 3. the name, atomically, never over an existing blob */
	if (vault_os.rename(p->tmp, p->final) != 0) {
		r = errno_err();
		goto fail;
	}
	p->tmp[0] = '\0';
	/* 4. the directory entry */
	if (vault_os_fsync_dir(p->subdir) != 0) {
		r = dirsync_err();
		/* Visible but not known durable: take it back, so that the
		 * caller's failure leaves nothing behind. */
		vault_os.unlink(p->final);
		goto fail;
	}
	free(p);
	return VAULT_OK;
fail:
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
	if ((g = malloc(sizeof *g)) == NULL) {
		vault_os.close(fd);
		return VAULT_ERR_NOMEM;
	}
	g->bs = bs;
	g->fd = fd;
	/* read whole and in order: let the kernel read far ahead */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (sizep != NULL)
		*sizep = (uint64_t)st.st_size;
	*gp = g;
	return VAULT_OK;
}

static vault_err
fs_get_read(struct blobstore_get *g, void *buf, size_t cap, size_t *n)
{
	ssize_t k;

	*n = 0;
	do
		k = vault_os.read(g->fd, buf, cap);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return VAULT_ERR_IO;
	*n = (size_t)k;
	return VAULT_OK;
}

static void
fs_get_close(struct blobstore_get *g)
{
	if (g == NULL)
		return;
	vault_os.close(g->fd);
	free(g);
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

static vault_err
fs_recover(struct blobstore *bs, unsigned *removed)
{
	char tdir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
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
		/* A temp file was never committed: nobody was told it is
		 * stored, so removing it loses nothing. */
		if (vault_os.unlink(path) == 0)
			(*removed)++;
	}
	closedir(d);
	if (*removed > 0 && vault_os_fsync_dir(tdir) != 0)
		return errno_err();
	return VAULT_OK;
}

static void
fs_close(struct blobstore *bs)
{
	free(bs->dir);
	free(bs);
}

static const struct blobstore_ops fs_ops = {
	.put_begin = fs_put_begin, .put_write = fs_put_write,
	.put_commit = fs_put_commit, .put_abort = fs_put_abort,
	.get_open = fs_get_open, .get_read = fs_get_read,
	.get_close = fs_get_close, .remove = fs_remove, .exists = fs_exists,
	.list = fs_list, .recover = fs_recover, .close = fs_close,
};

vault_err
blobstore_fs_open(const char *dir, struct blobstore **bsp)
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
	*bsp = bs;
	return VAULT_OK;
}

/* ---- the interface: dispatch to the backend ------------------------------ */

void blobstore_close(struct blobstore *bs) { if (bs != NULL) bs->ops->close(bs); }

vault_err
blobstore_put_begin(struct blobstore *bs, const char *name, struct blobstore_put **pp)
{
	return bs->ops->put_begin(bs, name, pp);
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
