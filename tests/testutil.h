/* testutil.h: helpers shared by the C tests (temp dirs, files, stores). */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Fast Argon2id for tests (the minimum libsodium allows). */
extern const struct keys_pwparams test_pw_fast;

/* A fresh directory under $TMPDIR (or /tmp); returns a malloc'd path. */
char *tu_tempdir(const char *tag);
/* rm -rf */
void tu_rmrf(const char *path);
/* Deterministic content: incompressible (seeded ChaCha20) or text-like. */
void tu_fill_random(uint8_t *p, size_t n, uint32_t seed);
void tu_fill_text(uint8_t *p, size_t n, uint32_t seed);
/* Reads a whole file; returns malloc'd bytes or NULL. */
uint8_t *tu_read_file(const char *path, size_t *len);
int tu_write_file(const char *path, const void *p, size_t len);
/* Does needle occur in any regular file under dir (recursively)? Prints the
 * first file where it does. */
int tu_tree_contains(const char *dir, const void *needle, size_t len);
/* A fresh store in a new temp dir, with fast Argon2id. */
struct store *tu_store_new(char **dirp);

#endif
