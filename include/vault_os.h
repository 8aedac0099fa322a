/*
 * vault_os.h: the system calls that durability depends on, behind a table.
 *
 * The blob store and the key files call the operating system only through
 * vault_os, so that tests can make a chosen fsync fail with EIO, a write
 * fail with ENOSPC, or the clock jump. Production code never changes the
 * table. (SQLite goes through its own VFS; crash tests reach it with strace.)
 */
#ifndef VAULT_OS_H
#define VAULT_OS_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

struct vault_os {
	int (*open)(const char *path, int flags, mode_t mode);
	ssize_t (*read)(int fd, void *buf, size_t len);
	ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	int (*fsync)(int fd);
	int (*rename)(const char *from, const char *to); /* never replaces: EEXIST */
	int (*unlink)(const char *path);
	int (*close)(int fd);
	int64_t (*now_ms)(void); /* wall clock, milliseconds since the epoch */
	/* vault_os_thread's pthread_create (tests: no thread to be had) */
	int (*thread)(pthread_t *t, const pthread_attr_t *attr,
	    void *(*fn)(void *), void *arg);
};

extern struct vault_os vault_os;

/* Restores every entry of vault_os to the real system call. */
void vault_os_reset(void);

/* write(2) until done or error; returns 0, or -1 with errno set. */
int vault_os_write_all(int fd, const void *buf, size_t len);

/* fsync of a directory, or of the directory that holds path: what makes a
 * created, renamed or removed name durable. 0, or -1 with errno set. */
int vault_os_fsync_dir(const char *dir);
int vault_os_fsync_parent(const char *path);
/* A whole text file, NUL-terminated, read with read(2) straight into the
 * destination (no stdio buffer keeps a copy): in sodium_malloc'd memory if
 * secret (free with sodium_free), else malloc'd. NULL if it cannot be read
 * or holds cap - 1 bytes or more. */
char *vault_os_read_text(const char *path, size_t cap, int secret);

/* pthread_create with every signal blocked in the new thread from its
 * first instruction: threads a library starts must not take a process's
 * SIGTERM, whatever the mask of the thread that starts them. */
int vault_os_thread(pthread_t *t, const pthread_attr_t *attr,
    void *(*fn)(void *), void *arg);

#endif
