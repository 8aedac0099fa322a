/*
 * test_tlscert.c: the development TLS key and certificate. The files are
 * 0600 and never overwritten; the certificate is a self-signed v3 server
 * certificate for localhost, 127.0.0.1 and ::1, valid now; the key is its
 * key, and tlscert_check tells a matching pair from a foreign key, garbage
 * and a missing file; a failing disk leaves no file behind.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tlscert.h"
#include "vault_os.h"
#include "testlib.h"
#include "testutil.h"

static int test_setup(void) { vault_os_reset(); return 0; }

/* A temp dir with the two names of a pair in it. */
struct pair {
	char *dir;
	char cert[512], key[512];
};

static int
pair_new(struct pair *p, const char *tag)
{
	if ((p->dir = tu_tempdir(tag)) == NULL)
		return -1;
	snprintf(p->cert, sizeof p->cert, "%s/cert.pem", p->dir);
	snprintf(p->key, sizeof p->key, "%s/key.pem", p->dir);
	return 0;
}

static void
pair_free(struct pair *p)
{
	tu_rmrf(p->dir);
	free(p->dir);
}

static X509 *
load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static EVP_PKEY *
load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (f == NULL)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

static int
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* 1 if the extension is present and critical, 0 if not critical, -1 if absent */
static int
ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	return i < 0 ? -1 : X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

TEST(created_files_are_0600_and_the_key_is_unencrypted_pkcs8_p256)
{
	struct pair p;
	struct stat st;
	EVP_PKEY *k;
	uint8_t *text;
	size_t len;
	char group[64];

	REQUIRE(pair_new(&p, "tls") == 0);
	REQUIRE(tlscert_create(p.cert, p.key) == VAULT_OK);
	CHECK(lstat(p.cert, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
	CHECK(lstat(p.key, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
	text = tu_read_file(p.key, &len);
	REQUIRE(text != NULL);
	CHECK(len > 27 && memcmp(text, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	CHECK(memmem(text, len, "ENCRYPTED", 9) == NULL);
	free(text);
	text = tu_read_file(p.cert, &len);
	REQUIRE(text != NULL);
	CHECK(len > 27 && memcmp(text, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
	CHECK(memmem(text, len, "PRIVATE", 7) == NULL);
	free(text);
	k = load_key(p.key);
	REQUIRE(k != NULL);
	CHECK(EVP_PKEY_is_a(k, "EC"));
	CHECK(EVP_PKEY_get_group_name(k, group, sizeof group, NULL) == 1 &&
	    strcmp(group, "prime256v1") == 0);
	EVP_PKEY_free(k);
	pair_free(&p);
}

TEST(certificate_is_a_self_signed_v3_sha256_certificate_for_localhost)
{
	struct pair p;
	X509 *x;
	X509_NAME *subj;
	char cn[64], o[64];

	REQUIRE(pair_new(&p, "tls") == 0);
	REQUIRE(tlscert_create(p.cert, p.key) == VAULT_OK);
	x = load_cert(p.cert);
	REQUIRE(x != NULL);
	CHECK_EQ(X509_get_version(x), X509_VERSION_3);
	CHECK_EQ(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	subj = X509_get_subject_name(x);
	CHECK_EQ(X509_NAME_entry_count(subj), 2);
	CHECK(X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof cn) > 0 &&
	    strcmp(cn, "localhost") == 0);
	CHECK(X509_NAME_get_text_by_NID(subj, NID_organizationName, o, sizeof o) > 0 &&
	    strcmp(o, "vault development certificate") == 0);
	CHECK(X509_NAME_cmp(subj, X509_get_issuer_name(x)) == 0);
	/* issuer = subject and the signature verifies under its own key */
	CHECK_EQ(X509_self_signed(x, 1), 1);
	CHECK_EQ(X509_verify(x, X509_get0_pubkey(x)), 1);
	/* a subject key identifier, the hash of its key */
	CHECK(X509_get0_subject_key_id(x) != NULL);
	CHECK_EQ(ext_critical(x, NID_subject_key_identifier), 0);
	X509_free(x);
	pair_free(&p);
}

TEST(certificate_names_localhost_127_0_0_1_and_ipv6_loopback_and_nothing_else)
{
	struct pair p;
	GENERAL_NAMES *gens;
	GENERAL_NAME *g;
	uint8_t v4[4], v6[16];
	int i, crit = -1, dns = 0, ip4 = 0, ip6 = 0, other = 0;
	X509 *x;

	REQUIRE(inet_pton(AF_INET, "127.0.0.1", v4) == 1);
	REQUIRE(inet_pton(AF_INET6, "::1", v6) == 1);
	REQUIRE(pair_new(&p, "tls") == 0);
	REQUIRE(tlscert_create(p.cert, p.key) == VAULT_OK);
	x = load_cert(p.cert);
	REQUIRE(x != NULL);
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	REQUIRE(gens != NULL);
	CHECK_EQ(crit, 0);
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_DNS && ASN1_STRING_length(g->d.dNSName) == 9 &&
		    memcmp(ASN1_STRING_get0_data(g->d.dNSName), "localhost", 9) == 0)
			dns++;
		else if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 4 &&
		    memcmp(ASN1_STRING_get0_data(g->d.iPAddress), v4, 4) == 0)
			ip4++;
		else if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 16 &&
		    memcmp(ASN1_STRING_get0_data(g->d.iPAddress), v6, 16) == 0)
			ip6++;
		else
			other++;
	}
	CHECK_EQ(dns, 1);
	CHECK_EQ(ip4, 1);
	CHECK_EQ(ip6, 1);
	CHECK_EQ(other, 0);
	GENERAL_NAMES_free(gens);
	/* and libcrypto's own matchers agree */
	CHECK_EQ(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	CHECK_EQ(X509_check_host(x, "example.org", 0, 0, NULL), 0);
	CHECK_EQ(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	CHECK_EQ(X509_check_ip_asc(x, "::1", 0), 1);
	CHECK_EQ(X509_check_ip_asc(x, "127.0.0.2", 0), 0);
	X509_free(x);
	pair_free(&p);
}

TEST(certificate_is_a_server_certificate_and_not_a_ca)
{
	struct pair p;
	BASIC_CONSTRAINTS *bc;
	EXTENDED_KEY_USAGE *eku;
	int crit = -1;
	X509 *x;

	REQUIRE(pair_new(&p, "tls") == 0);
	REQUIRE(tlscert_create(p.cert, p.key) == VAULT_OK);
	x = load_cert(p.cert);
	REQUIRE(x != NULL);
	/* basicConstraints critical CA:FALSE */
	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	REQUIRE(bc != NULL);
	CHECK_EQ(crit, 1);
	CHECK_EQ(bc->ca, 0);
	BASIC_CONSTRAINTS_free(bc);
	CHECK_EQ(X509_check_ca(x), 0);
	/* keyUsage critical digitalSignature, only */
	CHECK_EQ(ext_critical(x, NID_key_usage), 1);
	CHECK_EQ(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	/* extendedKeyUsage serverAuth, only */
	crit = -1;
	eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	REQUIRE(eku != NULL);
	CHECK_EQ(crit, 0);
	CHECK_EQ(sk_ASN1_OBJECT_num(eku), 1);
	CHECK_EQ(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_server_auth);
	EXTENDED_KEY_USAGE_free(eku);
	CHECK_EQ(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
	CHECK_EQ(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
	CHECK_EQ(X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0), 0);
	X509_free(x);
	pair_free(&p);
}

TEST(certificate_is_valid_now_for_825_days_with_a_positive_128_bit_serial)
{
	struct pair p;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	BIGNUM *serial;
	int days = -1, secs = -1;
	X509 *x;

	REQUIRE(pair_new(&p, "tls") == 0);
	REQUIRE(tlscert_create(p.cert, p.key) == VAULT_OK);
	x = load_cert(p.cert);
	REQUIRE(x != NULL);
	CHECK_EQ(X509_cmp_current_time(X509_get0_notBefore(x)), -1);
	CHECK_EQ(X509_cmp_current_time(X509_get0_notAfter(x)), 1);
	CHECK_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
	    X509_get0_notAfter(x)), 1);
	CHECK_EQ(days, 825);
	CHECK_EQ(secs, 0);
	serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	REQUIRE(serial != NULL);
	CHECK(!BN_is_negative(serial));
	CHECK_EQ(BN_num_bits(serial), 128);
	BN_free(serial);
	/* a client that trusts it verifies it, now, as a server for localhost */
	REQUIRE((store = X509_STORE_new()) != NULL);
	REQUIRE(X509_STORE_add_cert(store, x) == 1);
	REQUIRE((ctx = X509_STORE_CTX_new()) != NULL);
	REQUIRE(X509_STORE_CTX_init(ctx, store, x, NULL) == 1);
	CHECK(X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER) == 1);
	CHECK(X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), "localhost", 0) == 1);
	CHECK_EQ(X509_verify_cert(ctx), 1);
	CHECK_EQ(X509_STORE_CTX_get_error(ctx), X509_V_OK);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(x);
	pair_free(&p);
}

static int64_t fixed_ms;
static int64_t fake_now_ms(void) { return fixed_ms; }

TEST(validity_starts_at_the_vault_os_clock)
{
	struct pair p;
	ASN1_TIME *want;
	X509 *x;

	fixed_ms = (int64_t)1893456000 * 1000; /* 2030-01-01T00:00:00Z */
	REQUIRE(pair_new(&p, "tls") == 0);
	vault_os.now_ms = fake_now_ms;
	CHECK_EQ(tlscert_create(p.cert, p.key), VAULT_OK);
	vault_os_reset();
	x = load_cert(p.cert);
	REQUIRE(x != NULL);
	want = ASN1_TIME_set(NULL, 1893456000);
	REQUIRE(want != NULL);
	CHECK_EQ(ASN1_TIME_compare(X509_get0_notBefore(x), want), 0);
	CHECK_EQ(X509_cmp_current_time(X509_get0_notBefore(x)), 1);
	ASN1_TIME_free(want);
	X509_free(x);
	pair_free(&p);
}

TEST(key_matches_its_certificate)
{
	struct pair p;
	EVP_PKEY *k;
	X509 *x;

	REQUIRE(pair_new(&p, "tls") == 0);
	REQUIRE(tlscert_create(p.cert, p.key) == VAULT_OK);
	CHECK_EQ(tlscert_check(p.cert, p.key), VAULT_OK);
	/* independently of tlscert_check */
	x = load_cert(p.cert);
	k = load_key(p.key);
	CHECK(x != NULL && k != NULL && X509_check_private_key(x, k) == 1);
	CHECK(k != NULL && EVP_PKEY_eq(X509_get0_pubkey(x), k) == 1);
	EVP_PKEY_free(k);
	X509_free(x);
	pair_free(&p);
}

TEST(two_creates_draw_different_keys_and_serials)
{
	struct pair a, b;
	X509 *xa, *xb;

	REQUIRE(pair_new(&a, "tls") == 0);
	REQUIRE(pair_new(&b, "tls") == 0);
	REQUIRE(tlscert_create(a.cert, a.key) == VAULT_OK);
	REQUIRE(tlscert_create(b.cert, b.key) == VAULT_OK);
	xa = load_cert(a.cert);
	xb = load_cert(b.cert);
	REQUIRE(xa != NULL && xb != NULL);
	CHECK(ASN1_INTEGER_cmp(X509_get0_serialNumber(xa), X509_get0_serialNumber(xb)) != 0);
	CHECK(EVP_PKEY_eq(X509_get0_pubkey(xa), X509_get0_pubkey(xb)) != 1);
	X509_free(xa);
	X509_free(xb);
	pair_free(&a);
	pair_free(&b);
}

TEST(second_create_returns_exists_and_leaves_both_files_unchanged)
{
	struct pair p;
	uint8_t *cert0, *key0, *cert1, *key1;
	size_t cl0, kl0, cl1, kl1;
	struct stat c0, k0, c1, k1;

	REQUIRE(pair_new(&p, "tls") == 0);
	REQUIRE(tlscert_create(p.cert, p.key) == VAULT_OK);
	cert0 = tu_read_file(p.cert, &cl0);
	key0 = tu_read_file(p.key, &kl0);
	REQUIRE(cert0 != NULL && key0 != NULL);
	REQUIRE(stat(p.cert, &c0) == 0 && stat(p.key, &k0) == 0);
	CHECK_EQ(tlscert_create(p.cert, p.key), VAULT_ERR_EXISTS);
	cert1 = tu_read_file(p.cert, &cl1);
	key1 = tu_read_file(p.key, &kl1);
	REQUIRE(cert1 != NULL && key1 != NULL);
	CHECK(cl0 == cl1 && memcmp(cert0, cert1, cl0) == 0);
	CHECK(kl0 == kl1 && memcmp(key0, key1, kl0) == 0);
	CHECK(stat(p.cert, &c1) == 0 && c1.st_ino == c0.st_ino &&
	    c1.st_mtim.tv_sec == c0.st_mtim.tv_sec && c1.st_mtim.tv_nsec == c0.st_mtim.tv_nsec);
	CHECK(stat(p.key, &k1) == 0 && k1.st_ino == k0.st_ino &&
	    k1.st_mtim.tv_sec == k0.st_mtim.tv_sec && k1.st_mtim.tv_nsec == k0.st_mtim.tv_nsec);
	CHECK_EQ(tlscert_check(p.cert, p.key), VAULT_OK);
	free(cert0);
	free(key0);
	free(cert1);
	free(key1);
	pair_free(&p);
}

TEST(existing_key_alone_refuses_the_create_and_no_certificate_is_left)
{
	struct pair p;
	uint8_t *key;
	size_t len;

	REQUIRE(pair_new(&p, "tls") == 0);
	REQUIRE(tu_write_file(p.key, "mine", 4) == 0);
	CHECK_EQ(tlscert_create(p.cert, p.key), VAULT_ERR_EXISTS);
	CHECK(access(p.cert, F_OK) != 0 && errno == ENOENT);
	key = tu_read_file(p.key, &len);
	CHECK(key != NULL && len == 4 && memcmp(key, "mine", 4) == 0);
	free(key);
	/* and a symbolic link in either place is not followed */
	CHECK(unlink(p.key) == 0);
	REQUIRE(symlink("elsewhere.pem", p.key) == 0);
	CHECK(tlscert_create(p.cert, p.key) != VAULT_OK);
	CHECK(access(p.cert, F_OK) != 0);
	CHECK_EQ(count_files(p.dir), 1);
	pair_free(&p);
}

TEST(certificate_paired_with_another_key_is_refused_with_auth)
{
	struct pair a, b;

	REQUIRE(pair_new(&a, "tls") == 0);
	REQUIRE(pair_new(&b, "tls") == 0);
	REQUIRE(tlscert_create(a.cert, a.key) == VAULT_OK);
	REQUIRE(tlscert_create(b.cert, b.key) == VAULT_OK);
	CHECK_EQ(tlscert_check(a.cert, b.key), VAULT_ERR_AUTH);
	CHECK_EQ(tlscert_check(b.cert, a.key), VAULT_ERR_AUTH);
	CHECK_EQ(tlscert_check(a.cert, a.key), VAULT_OK);
	CHECK_EQ(tlscert_check(b.cert, b.key), VAULT_OK);
	pair_free(&a);
	pair_free(&b);
}

TEST(garbage_empty_swapped_or_encrypted_files_are_format_errors)
{
	static const char garbage[] = "-----BEGIN CERTIFICATE-----\nnot base64 !!\n"
	    "-----END CERTIFICATE-----\n";
	char junk[600], empty[600], enc[600];
	struct pair p;
	EVP_PKEY *k;
	FILE *f;

	REQUIRE(pair_new(&p, "tls") == 0);
	REQUIRE(tlscert_create(p.cert, p.key) == VAULT_OK);
	snprintf(junk, sizeof junk, "%s/junk.pem", p.dir);
	snprintf(empty, sizeof empty, "%s/empty.pem", p.dir);
	snprintf(enc, sizeof enc, "%s/enc.pem", p.dir);
	REQUIRE(tu_write_file(junk, garbage, sizeof garbage - 1) == 0);
	REQUIRE(tu_write_file(empty, "", 0) == 0);
	CHECK_EQ(tlscert_check(junk, p.key), VAULT_ERR_FORMAT);
	CHECK_EQ(tlscert_check(p.cert, junk), VAULT_ERR_FORMAT);
	CHECK_EQ(tlscert_check(empty, p.key), VAULT_ERR_FORMAT);
	CHECK_EQ(tlscert_check(p.cert, empty), VAULT_ERR_FORMAT);
	/* the right files in the wrong places */
	CHECK_EQ(tlscert_check(p.key, p.cert), VAULT_ERR_FORMAT);
	/* a directory is not a file */
	CHECK_EQ(tlscert_check(p.dir, p.key), VAULT_ERR_FORMAT);
	/* the key, encrypted: refused without asking for a passphrase */
	k = load_key(p.key);
	REQUIRE(k != NULL);
	f = fopen(enc, "w");
	REQUIRE(f != NULL);
	CHECK(PEM_write_PKCS8PrivateKey(f, k, EVP_aes_256_cbc(), "pw", 2, NULL, NULL) == 1);
	fclose(f);
	EVP_PKEY_free(k);
	CHECK_EQ(tlscert_check(p.cert, enc), VAULT_ERR_FORMAT);
	/* the originals are still a pair */
	CHECK_EQ(tlscert_check(p.cert, p.key), VAULT_OK);
	pair_free(&p);
}

TEST(missing_file_is_notfound)
{
	char absent[600];
	struct pair p;

	REQUIRE(pair_new(&p, "tls") == 0);
	CHECK_EQ(tlscert_check(p.cert, p.key), VAULT_ERR_NOTFOUND);
	REQUIRE(tlscert_create(p.cert, p.key) == VAULT_OK);
	snprintf(absent, sizeof absent, "%s/absent.pem", p.dir);
	CHECK_EQ(tlscert_check(absent, p.key), VAULT_ERR_NOTFOUND);
	CHECK_EQ(tlscert_check(p.cert, absent), VAULT_ERR_NOTFOUND);
	/* missing wins over unparsable */
	CHECK_EQ(tlscert_check(p.key, absent), VAULT_ERR_NOTFOUND);
	pair_free(&p);
}

/* ---- failures of the disk --------------------------------------------- */

static int fsync_calls, fsync_dirs, fail_fsync_at, fail_write_errno, short_writes;

static int
fake_fsync(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		fsync_dirs++;
	if (++fsync_calls == fail_fsync_at) {
		errno = EIO;
		return -1;
	}
	return fsync(fd);
}

static ssize_t
fake_write(int fd, const void *buf, size_t n)
{
	if (short_writes)
		return write(fd, buf, n > 7 ? 7 : n);
	errno = fail_write_errno;
	return -1;
}

TEST(failed_fsync_at_each_point_fails_the_create_and_leaves_no_file)
{
	struct pair p;
	int point, points;

	REQUIRE(pair_new(&p, "tls") == 0);
	fail_fsync_at = -1;
	fsync_calls = fsync_dirs = 0;
	vault_os.fsync = fake_fsync;
	CHECK_EQ(tlscert_create(p.cert, p.key), VAULT_OK);
	points = fsync_calls;
	/* the two files and their directory */
	CHECK(points >= 3);
	CHECK(fsync_dirs >= 1);
	CHECK(unlink(p.cert) == 0 && unlink(p.key) == 0);
	for (point = 1; point <= points; point++) {
		fsync_calls = 0;
		fail_fsync_at = point;
		CHECK_EQ(tlscert_create(p.cert, p.key), VAULT_ERR_IO);
		CHECK_EQ(count_files(p.dir), 0);
	}
	vault_os_reset();
	CHECK_EQ(tlscert_create(p.cert, p.key), VAULT_OK);
	pair_free(&p);
}

TEST(full_disk_is_nospace_a_failing_one_io_and_neither_leaves_a_file)
{
	struct pair p;

	REQUIRE(pair_new(&p, "tls") == 0);
	short_writes = 0;
	vault_os.write = fake_write;
	fail_write_errno = ENOSPC;
	CHECK_EQ(tlscert_create(p.cert, p.key), VAULT_ERR_NOSPACE);
	CHECK_EQ(count_files(p.dir), 0);
	fail_write_errno = EIO;
	CHECK_EQ(tlscert_create(p.cert, p.key), VAULT_ERR_IO);
	CHECK_EQ(count_files(p.dir), 0);
	vault_os_reset();
	pair_free(&p);
}

TEST(short_writes_are_completed)
{
	struct pair p;

	REQUIRE(pair_new(&p, "tls") == 0);
	short_writes = 1;
	vault_os.write = fake_write;
	CHECK_EQ(tlscert_create(p.cert, p.key), VAULT_OK);
	vault_os_reset();
	short_writes = 0;
	CHECK_EQ(tlscert_check(p.cert, p.key), VAULT_OK);
	pair_free(&p);
}

TEST(key_in_a_missing_directory_fails_and_removes_the_certificate)
{
	char key[600];
	struct pair p;

	REQUIRE(pair_new(&p, "tls") == 0);
	snprintf(key, sizeof key, "%s/no/such/dir/key.pem", p.dir);
	CHECK_EQ(tlscert_create(p.cert, key), VAULT_ERR_IO);
	CHECK_EQ(count_files(p.dir), 0);
	pair_free(&p);
}

TEST_MAIN
