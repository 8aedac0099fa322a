/* testutil.c: see testutil.h. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

const struct keys_pwparams test_pw_fast = { .opslimit = 1, .memlimit = 8192 };

char *
tu_tempdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&p, "%s/vault-%s-XXXXXX", base, tag) < 0)
		return NULL;
	if (mkdtemp(p) == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

void
tu_rmrf(const char *path)
{
	if (path != NULL)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
tu_fill_random(uint8_t *p, size_t n, uint32_t seed)
{
	uint8_t key[32] = { 0 }, nonce[8] = { 0 };

	memcpy(key, &seed, sizeof seed);
	memset(p, 0, n);
	crypto_stream_chacha20_xor(p, p, n, nonce, key);
}

void
tu_fill_text(uint8_t *p, size_t n, uint32_t seed)
{
	static const char *words[] = { "caisse ", "allocations ", "familiales ",
	    "attestation ", "de ", "droits ", "numero ", "allocataire ",
	    "Paris ", "le ", "montant ", "euros\n" };
	size_t i = 0, k;
	uint32_t x = seed * 2654435761u + 1;

	while (i < n) {
		const char *w;
		x = x * 1103515245u + 12345u;
		w = words[(x >> 16) % 12];
		for (k = 0; w[k] != '\0' && i < n; k++)
			p[i++] = (uint8_t)w[k];
	}
}

uint8_t *
tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	long n;

	*len = 0;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) != NULL) {
		if (fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		} else
			*len = (size_t)n;
	}
	fclose(f);
	return p;
}

int
tu_write_file(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	int r;

	if (f == NULL)
		return -1;
	r = fwrite(p, 1, len, f) == len ? 0 : -1;
	if (fclose(f) != 0)
		r = -1;
	return r;
}

static const void *tc_needle;
static size_t tc_len;
static int tc_found;

static int
search_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	uint8_t *p;
	size_t n, i;

	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	if ((p = tu_read_file(path, &n)) == NULL)
		return 0;
	for (i = 0; n >= tc_len && i <= n - tc_len; i++)
		if (memcmp(p + i, tc_needle, tc_len) == 0) {
			fprintf(stderr, "  marker found in %s at offset %zu\n", path, i);
			tc_found = 1;
			break;
		}
	free(p);
	return tc_found;
}

int
tu_tree_contains(const char *dir, const void *needle, size_t len)
{
	tc_needle = needle;
	tc_len = len;
	tc_found = 0;
	nftw(dir, search_one, 16, FTW_PHYS);
	return tc_found;
}

struct store *
tu_store_new(char **dirp)
{
	struct store_options o;
	struct store *s = NULL;
	char *dir = tu_tempdir("store");

	*dirp = dir;
	if (dir == NULL)
		return NULL;
	store_options_default(&o);
	o.pw = test_pw_fast;
	/* no pool of spare blob files: its thread's system calls would mix
	 * with those a test counts (test_store has its own tests of it) */
	o.blob_spares = 0;
	if (store_create(dir, &o, 0) != VAULT_OK || store_open(dir, &o, &s, NULL) != VAULT_OK)
		return NULL;
	return s;
}
