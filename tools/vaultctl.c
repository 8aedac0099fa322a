/*
 * vaultctl: the operator's command line.
 *
 *   vaultctl init --data-dir DIR --admin-login LOGIN [--force]
 *                 [--pepper-file PATH] [--argon2-ops N] [--argon2-mem-kib N]
 *
 * The administrator's secret is read from standard input, one line, into
 * guarded memory; the recovery code is printed once on standard output.
 */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blobstore.h"
#include "db.h"
#include "fsck.h"
#include "instance.h"
#include "journal.h"
#include "note.h"
#include "receipts.h"
#include "keys.h"
#include "store.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: vaultctl init --data-dir DIR --admin-login LOGIN [options]\n"
	    "       vaultctl journal verify --data-dir DIR [--verifier-key KEY]\n"
	    "       vaultctl receipt verify FILE (--public-key BASE64 | --data-dir DIR)\n"
	    "       vaultctl fsck --data-dir DIR\n"
	    "\n"
	    "  init    create a data directory (mode 0700) with its pepper,\n"
	    "          instance key and database, and the first instance\n"
	    "          administrator, whose secret is read from standard input\n"
	    "          (one line, at least %d characters)\n"
	    "\n"
	    "options:\n"
	    "  --data-dir DIR        the data directory to create\n"
	    "  --admin-login LOGIN   3-64 characters of a-z 0-9 . _ -\n"
	    "  --force               replace an existing data directory's keys\n"
	    "                        and database (its documents become unreadable)\n"
	    "  --pepper-file PATH    keep the pepper outside the data directory\n"
	    "  --argon2-ops N        Argon2id passes (default %llu)\n"
	    "  --argon2-mem-kib N    Argon2id memory in KiB (default %llu)\n"
	    "  --help                this text\n"
	    "\n"
	    "  journal verify   recompute the access journal's Merkle tree from the\n"
	    "          database, check every signed checkpoint; exits 1 and names the\n"
	    "          first bad index on any edit, deletion, insertion or reordering\n",
	    INSTANCE_ADMIN_SECRET_MIN,
	    (unsigned long long)keys_pwparams_default.opslimit,
	    (unsigned long long)(keys_pwparams_default.memlimit >> 10));
}

/* One line from fd into guarded memory, without stdio's buffer (which would
 * keep a copy of the secret in ordinary memory). */
static char *
read_secret_line(int fd, size_t *lenp)
{
	char *buf, c;
	size_t n = 0;
	ssize_t k;

	if ((buf = sodium_malloc(KEYS_SECRET_MAX_LEN + 1)) == NULL)
		return NULL;
	for (;;) {
		k = read(fd, &c, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || c == '\n')
			break;
		if (n == KEYS_SECRET_MAX_LEN) {
			sodium_free(buf);
			return NULL;
		}
		buf[n++] = c;
	}
	sodium_memzero(&c, sizeof c);
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*lenp = n;
	return buf;
}

static int
parse_u64(const char *s, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' ? 0 : -1;
}

static int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "admin-login", required_argument, NULL, 'l' },
		{ "force", no_argument, NULL, 'f' },
		{ "pepper-file", required_argument, NULL, 'p' },
		{ "argon2-ops", required_argument, NULL, 'o' },
		{ "argon2-mem-kib", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *login = NULL;
	struct store_options o;
	unsigned long long v;
	char *secret, *code = NULL;
	size_t secret_len = 0;
	int force = 0, c;
	vault_err r;

	store_options_default(&o);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'l': login = optarg; break;
		case 'f': force = 1; break;
		case 'p': o.pepper_path = optarg; break;
		case 'o':
			if (parse_u64(optarg, &v) != 0) goto bad;
			o.pw.opslimit = v;
			break;
		case 'm':
			if (parse_u64(optarg, &v) != 0 || v > (1ull << 32)) goto bad;
			o.pw.memlimit = v << 10;
			break;
		case 'h': usage(stdout); return 0;
		default: goto bad;
		}
	}
	if (dir == NULL || login == NULL || optind != argc)
		goto bad;
	if (keys_pwparams_check(&o.pw) != VAULT_OK) {
		fprintf(stderr, "vaultctl: Argon2id cost out of range\n");
		return 2;
	}
	if ((secret = read_secret_line(0, &secret_len)) == NULL) {
		fprintf(stderr, "vaultctl: could not read the administrator's secret "
		    "from standard input (at most %d bytes)\n", KEYS_SECRET_MAX_LEN);
		return 1;
	}
	r = instance_init(dir, &o, login, secret, secret_len, force, &code);
	sodium_free(secret);
	switch (r) {
	case VAULT_OK:
		break;
	case VAULT_ERR_EXISTS:
		fprintf(stderr, "vaultctl: %s exists and is not empty; "
		    "use --force to replace it\n", dir);
		return 1;
	case VAULT_ERR_LIMIT:
		fprintf(stderr, "vaultctl: the administrator's secret must have at "
		    "least %d characters\n", INSTANCE_ADMIN_SECRET_MIN);
		return 1;
	case VAULT_ERR_FORMAT:
		fprintf(stderr, "vaultctl: a login has 3 to 64 characters among "
		    "a-z 0-9 . _ -\n");
		return 1;
	default:
		fprintf(stderr, "vaultctl: could not create %s: %s\n", dir,
		    vault_strerror(r));
		return 1;
	}
	printf("created %s\nadministrator: %s\nrecovery code (shown once; "
	    "keep it offline): ", dir, login);
	fflush(stdout);
	/* the code itself with write(2): no copy left in stdio's buffer */
	if (write(1, code, strlen(code)) < 0 || write(1, "\n", 1) < 0) {
		sodium_free(code);
		return 1;
	}
	sodium_free(code);
	return 0;
bad:
	usage(stderr);
	return 2;
}

/*
 * vaultctl journal verify --data-dir DIR [--verifier-key KEY]
 * Recomputes the journal's tree from the database and checks every
 * checkpoint; the key is the instance's, from DIR/instance.key, or the
 * verifier key string that GET /v1/instance/keys publishes.
 */
static int
cmd_journal_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "verifier-key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct journal_verify_report rep;
	const char *dir = NULL, *vkey = NULL;
	char path[4096], origin[NOTE_NAME_MAX + 1] = "";
	uint8_t pk[32], sk[64], *seed = NULL, raw[40];
	struct vault_db *db = NULL;
	sqlite3_stmt *st;
	size_t n;
	vault_err r;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd')
			dir = optarg;
		else if (c == 'k')
			vkey = optarg;
		else
			goto bad;
	}
	if (dir == NULL || optind != argc)
		goto bad;
	snprintf(path, sizeof path, "%s/vault.db", dir);
	if (access(path, R_OK) != 0) {
		fprintf(stderr, "vaultctl: no database in %s\n", dir);
		return 1;
	}
	if ((r = db_open(path, 0, &db)) != VAULT_OK) {
		fprintf(stderr, "vaultctl: cannot open %s: %s\n", path, vault_strerror(r));
		return 1;
	}
	if (sqlite3_prepare_v2(db_handle(db), "SELECT value FROM settings WHERE"
	    " name = 'origin'", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(origin, sizeof origin, "%s", sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	if (vkey != NULL) {
		/* name+hash+base64(0x01 ‖ key) */
		const char *p1 = strchr(vkey, '+'), *p2 = p1 ? strchr(p1 + 1, '+') : NULL;
		if (p2 == NULL || (size_t)(p1 - vkey) > NOTE_NAME_MAX ||
		    vault_base64_decode(raw, sizeof raw, p2 + 1, strlen(p2 + 1), &n,
		    sodium_base64_VARIANT_ORIGINAL) != 0 || n != 33 || raw[0] != 0x01) {
			fprintf(stderr, "vaultctl: not a verifier key: %s\n", vkey);
			db_close(db);
			return 2;
		}
		memcpy(origin, vkey, (size_t)(p1 - vkey));
		origin[p1 - vkey] = '\0';
		memcpy(pk, raw + 1, 32);
	} else {
		snprintf(path, sizeof path, "%s/instance.key", dir);
		if ((r = keys_pepper_load(path, &seed)) != VAULT_OK) {
			fprintf(stderr, "vaultctl: cannot read %s (%s): give --verifier-key\n",
			    path, vault_strerror(r));
			db_close(db);
			return 1;
		}
		crypto_sign_seed_keypair(pk, sk, seed);
		sodium_memzero(sk, sizeof sk);
		keys_pepper_free(seed);
	}
	r = journal_verify(db, origin, pk, &rep);
	db_close(db);
	if (r != VAULT_OK) {
		fprintf(stderr, "vaultctl: could not read the journal: %s\n", vault_strerror(r));
		return 1;
	}
	if (!rep.ok) {
		if (rep.first_bad_index >= 0)
			printf("journal: FAILED at index %lld: %s\n",
			    (long long)rep.first_bad_index, rep.reason);
		else
			printf("journal: FAILED: %s\n", rep.reason);
		return 1;
	}
	printf("journal: %llu entries and %llu checkpoints verified (origin %s)\n",
	    (unsigned long long)rep.entries, (unsigned long long)rep.checkpoints,
	    origin);
	return 0;
bad:
	fprintf(stderr, "usage: vaultctl journal verify --data-dir DIR [--verifier-key KEY]\n");
	return 2;
}

/*
 * vaultctl receipt verify FILE (--public-key BASE64 | --data-dir DIR)
 * Checks a receipt's signature against the instance's public key: the one
 * GET /v1/instance/keys publishes (receipt_public_key), or the one of a
 * data directory. The key inside the receipt itself is never trusted.
 */
static int
cmd_receipt_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "public-key", required_argument, NULL, 'k' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key = NULL, *dir = NULL;
	uint8_t pk[32], sk[64], *seed = NULL;
	char path[4096], *text;
	size_t n, cap = 1 << 20;
	vault_err r;
	FILE *f;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'k')
			key = optarg;
		else if (c == 'd')
			dir = optarg;
		else
			goto bad;
	}
	if (optind != argc - 1 || (key == NULL) == (dir == NULL))
		goto bad;
	if (key != NULL) {
		if (vault_base64_decode(pk, sizeof pk, key, strlen(key), &n,
		    sodium_base64_VARIANT_ORIGINAL) != 0 || n != 32) {
			fprintf(stderr, "vaultctl: --public-key is the base64 of 32 bytes\n");
			return 2;
		}
	} else {
		snprintf(path, sizeof path, "%s/instance.key", dir);
		if ((r = keys_pepper_load(path, &seed)) != VAULT_OK) {
			fprintf(stderr, "vaultctl: cannot read %s: %s\n", path, vault_strerror(r));
			return 1;
		}
		crypto_sign_seed_keypair(pk, sk, seed);
		sodium_memzero(sk, sizeof sk);
		keys_pepper_free(seed);
	}
	if ((f = fopen(argv[optind], "rb")) == NULL || (text = malloc(cap)) == NULL) {
		fprintf(stderr, "vaultctl: cannot read %s\n", argv[optind]);
		if (f != NULL)
			fclose(f);
		return 1;
	}
	n = fread(text, 1, cap, f);
	fclose(f);
	r = receipts_verify(text, n, pk);
	free(text);
	if (r == VAULT_OK) {
		printf("receipt: signature OK\n");
		return 0;
	}
	printf("receipt: %s\n", r == VAULT_ERR_AUTH ? "signature does NOT verify with "
	    "this key" : "not a receipt");
	return 1;
bad:
	fprintf(stderr, "usage: vaultctl receipt verify FILE (--public-key BASE64 | "
	    "--data-dir DIR)\n");
	return 2;
}

static void
fsck_print(void *ctx, const char *kind, const char *name)
{
	(void)ctx;
	printf("fsck: %s: %s\n", kind, name);
}

/*
 * vaultctl fsck --data-dir DIR
 * Checks every blob against its recorded size and SHA-256, without any
 * key; reports missing, corrupt and unreferenced blobs; exits 1 on any.
 */
static int
cmd_fsck(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct fsck_report rep;
	struct vault_db *db = NULL;
	struct blobstore *bs = NULL;
	const char *dir = NULL;
	char path[4096];
	vault_err r;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'd')
			goto bad;
		dir = optarg;
	}
	if (dir == NULL || optind != argc)
		goto bad;
	snprintf(path, sizeof path, "%s/vault.db", dir);
	if (access(path, R_OK) != 0 || (r = db_open(path, 0, &db)) != VAULT_OK) {
		fprintf(stderr, "vaultctl: no usable database in %s\n", dir);
		return 1;
	}
	snprintf(path, sizeof path, "%s/blobs", dir);
	if ((r = blobstore_fs_open(path, 0, NULL, &bs)) != VAULT_OK ||
	    (r = fsck_run(db, bs, fsck_print, NULL, &rep)) != VAULT_OK) {
		fprintf(stderr, "vaultctl: fsck could not run: %s\n", vault_strerror(r));
		blobstore_close(bs);
		db_close(db);
		return 1;
	}
	blobstore_close(bs);
	db_close(db);
	printf("fsck: %llu blobs (%llu bytes) checked; %u missing, %u corrupt, "
	    "%u unreferenced", (unsigned long long)rep.checked,
	    (unsigned long long)rep.bytes, rep.missing, rep.corrupt, rep.unreferenced);
	if (rep.unchecked > 0)
		printf("; %u not checked (out of memory)", rep.unchecked);
	printf("\n");
	return rep.missing || rep.corrupt || rep.unreferenced || rep.unchecked ? 1 : 0;
bad:
	fprintf(stderr, "usage: vaultctl fsck --data-dir DIR\n");
	return 2;
}

int
main(int argc, char **argv)
{
	umask(077);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* it handles secrets: no core dump */
	if (sodium_init() < 0) {
		fprintf(stderr, "vaultctl: libsodium failed to initialise\n");
		return 1;
	}
	if (argc >= 2 && strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "fsck") == 0)
		return cmd_fsck(argc - 1, argv + 1);
	if (argc >= 3 && strcmp(argv[1], "receipt") == 0 &&
	    strcmp(argv[2], "verify") == 0)
		return cmd_receipt_verify(argc - 2, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "journal") == 0 &&
	    strcmp(argv[2], "verify") == 0)
		return cmd_journal_verify(argc - 2, argv + 2);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0)) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
