/* os.c: the real system calls behind vault_os (see vault_os.h). */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "vault_os.h"

static int
real_open(const char *path, int flags, mode_t mode)
{
	return open(path, flags, mode);
}

/* Never replaces an existing name: a blob, once stored, is not overwritten
 * by a later put that happens to draw the same name. */
static int
real_rename(const char *from, const char *to)
{
	return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}

static int64_t
real_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct vault_os vault_os = {
	.open = real_open, .read = read, .pread = pread, .write = write, .fsync = fsync,
	.rename = real_rename, .unlink = unlink, .close = close,
	.now_ms = real_now_ms, .thread = pthread_create,
};

void
vault_os_reset(void)
{
	vault_os.open = real_open;
	vault_os.read = read;
	vault_os.pread = pread;
	vault_os.write = write;
	vault_os.fsync = fsync;
	vault_os.rename = real_rename;
	vault_os.unlink = unlink;
	vault_os.close = close;
	vault_os.now_ms = real_now_ms;
	vault_os.thread = pthread_create;
}

int
vault_os_fsync_dir(const char *dir)
{
	int fd, r, saved;

	fd = vault_os.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	r = vault_os.fsync(fd);
	saved = errno;
	vault_os.close(fd);
	errno = saved;
	return r;
}

int
vault_os_fsync_parent(const char *path)
{
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, path);
	return vault_os_fsync_dir(dirname(buf));
}

int
vault_os_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = vault_os.write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) { /* a write that makes no progress: treat as full */
			errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

char *
vault_os_read_text(const char *path, size_t cap, int secret)
{
	size_t n = 0;
	ssize_t k = 0;
	char *buf;
	int fd;

	if (cap < 2 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	if ((buf = secret ? sodium_malloc(cap) : malloc(cap)) == NULL) {
		close(fd);
		return NULL;
	}
	while (n < cap - 1 && (k = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)k;
	close(fd);
	buf[n] = '\0';
	if (k < 0 || n == cap - 1) { /* unreadable, or larger than cap allows */
		if (secret)
			sodium_free(buf);
		else
			free(buf);
		return NULL;
	}
	return buf;
}

int
vault_os_thread(pthread_t *t, const pthread_attr_t *attr,
    void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = vault_os.thread(t, attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}
