/*
 * fuzz_checkpoint_note: signed checkpoint notes as `vaultctl journal
 * verify` reads them back from a database that may have been edited
 * (note_verify, note_checkpoint_parse: crypto/note.c).
 *
 * One checkpoint is signed at start-up with a fixed key. Whatever the
 * input: if it verifies, its body (up to the blank line) is the signed
 * body; if it parses as a checkpoint, writing the parsed origin, size and
 * root back gives the input's first three lines exactly (one text form).
 * FUZZ_WRITE_SEEDS=DIR writes the note and a few neighbours into DIR.
 */
#include <sodium.h>

#include "fuzz.h"

#include "note.h"

#define ORIGIN "vault.example.org/journal"

static uint8_t pk[32], sk[64];
static char *body;

static void
seed(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_WRITE_SEEDS");
	uint8_t seedkey[32], root[32];
	char *note, *other;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	memset(seedkey, 0xc4, sizeof seedkey);
	memset(root, 0x17, sizeof root);
	crypto_sign_seed_keypair(pk, sk, seedkey);
	if ((body = note_checkpoint_body(ORIGIN, 1234, root)) == NULL ||
	    note_sign(body, ORIGIN, sk, pk, &note) != VAULT_OK)
		abort();
	FUZZ_CHECK(note_verify(note, ORIGIN, pk) == VAULT_OK);
	if (dir != NULL) {
		seed(dir, "checkpoint.txt", note);
		/* a second signature line by another name, first */
		if ((other = malloc(strlen(note) + 128)) == NULL)
			abort();
		snprintf(other, strlen(note) + 128, "%.*s\xe2\x80\x94 other.example "
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n%s",
		    (int)(strstr(note, "\n\n") + 2 - note), note, strstr(note, "\n\n") + 2);
		seed(dir, "two-signatures.txt", other);
		seed(dir, "body-only.txt", body);
		free(other);
		exit(0);
	}
	free(note);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), origin[NOTE_NAME_MAX + 1], *back;
	const char *sep, *l3;
	uint8_t root[32];
	uint64_t tree_size;
	vault_err r;

	r = note_verify(s, ORIGIN, pk);
	FUZZ_CHECK(r == VAULT_OK || r == VAULT_ERR_AUTH || r == VAULT_ERR_FORMAT);
	if (r == VAULT_OK) {
		sep = strstr(s, "\n\n");
		FUZZ_CHECK(sep != NULL);
		FUZZ_CHECK((size_t)(sep + 1 - s) == strlen(body) &&
		    memcmp(s, body, strlen(body)) == 0);
	}
	if (note_checkpoint_parse(s, origin, &tree_size, root) == VAULT_OK) {
		back = note_checkpoint_body(origin, tree_size, root);
		FUZZ_CHECK(back != NULL);
		l3 = strchr(strchr(strchr(s, '\n') + 1, '\n') + 1, '\n');
		FUZZ_CHECK((size_t)(l3 + 1 - s) == strlen(back) &&
		    memcmp(s, back, strlen(back)) == 0);
		free(back);
	}
	free(s);
	return 0;
}
