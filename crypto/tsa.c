/* tsa.c: the built-in time-stamping authority (see tsa.h). */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <dlfcn.h>
#include <sodium.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tsa.h"
#include "vault_os.h"

#define TSA_FILE_MAX (1 << 20) /* certificates, chains and keys we read */
#define TSA_DAYS (20 * 365)     /* tokens must verify for as long as papers are kept */

struct tsa {
	X509 *cert;             /* the signer, when tokens are made here */
	EVP_PKEY *key;
	ASN1_OBJECT *policy;
	char *chain_pem;        /* served as it is */
	/* external */
	char *url;
	X509_STORE *trust;      /* from chain_pem */
	long timeout_ms, backoff_ms;
	_Atomic int64_t quiet_until_ms;
};

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

static int
random_serial(ASN1_INTEGER *serial)
{
	BIGNUM *bn = BN_new();
	int ok;

	ok = bn != NULL && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
	    BN_to_ASN1_INTEGER(bn, serial) != NULL;
	BN_free(bn);
	return ok;
}

/* A certificate for key, named cn, signed by issuer/ikey (itself if NULL). */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey, int ca)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	time_t now = (time_t)(vault_os.now_ms() / 1000);
	int ok;

	ok = x != NULL && name != NULL && X509_set_version(x, 2) == 1 &&
	    random_serial(X509_get_serialNumber(x)) &&
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"vault time-stamping", -1, -1, 0) == 1 &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) == 1 &&
	    X509_set_subject_name(x, name) == 1 &&
	    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name) == 1 &&
	    X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &now) != NULL &&
	    X509_time_adj_ex(X509_getm_notAfter(x), TSA_DAYS, 0, &now) != NULL &&
	    X509_set_pubkey(x, key) == 1;
	if (ok && ca)
		ok = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") &&
		    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") &&
		    add_ext(x, x, NID_subject_key_identifier, "hash");
	else if (ok)
		ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") &&
		    add_ext(x, issuer, NID_key_usage, "critical,digitalSignature,nonRepudiation") &&
		    add_ext(x, issuer, NID_ext_key_usage, "critical,timeStamping") &&
		    add_ext(x, issuer, NID_subject_key_identifier, "hash") &&
		    add_ext(x, issuer, NID_authority_key_identifier, "keyid");
	if (ok)
		ok = X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()) > 0;
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Writes a PEM object to a new file (O_EXCL), fsynced. */
static int
write_pem(const char *path, mode_t mode, X509 *cert, EVP_PKEY *key)
{
	int fd, ok;
	FILE *f;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode)) < 0)
		return 0;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(path);
		return 0;
	}
	ok = cert != NULL ? PEM_write_X509(f, cert) == 1 :
	    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
	ok = ok && fflush(f) == 0 && vault_os.fsync(fileno(f)) == 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok)
		unlink(path);
	return ok;
}

static void
paths(const char *dir, char root[PATH_MAX], char crt[PATH_MAX], char key[PATH_MAX])
{
	snprintf(root, PATH_MAX, "%s/tsa-root.crt", dir);
	snprintf(crt, PATH_MAX, "%s/tsa.crt", dir);
	snprintf(key, PATH_MAX, "%s/tsa.key", dir);
}

vault_err
tsa_create_files(const char *dir)
{
	char root[PATH_MAX], crt[PATH_MAX], keyp[PATH_MAX];
	EVP_PKEY *rkey = NULL, *key = NULL;
	X509 *rc = NULL, *c = NULL;
	vault_err r = VAULT_ERR_INTERNAL;

	paths(dir, root, crt, keyp);
	if (access(keyp, F_OK) == 0)
		return VAULT_OK;
	/* the root's key signs once and is forgotten: nobody can issue
	 * another TSA certificate under this root later */
	if ((rkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (rc = make_cert(rkey, "vault time-stamping root", NULL, NULL, 1)) == NULL ||
	    (c = make_cert(key, "vault time-stamping authority", rc, rkey, 0)) == NULL)
		goto out;
	unlink(root);
	unlink(crt);
	if (!write_pem(keyp, 0600, NULL, key) || !write_pem(crt, 0644, c, NULL) ||
	    !write_pem(root, 0644, rc, NULL) || vault_os_fsync_dir(dir) != 0) {
		unlink(keyp);
		unlink(crt);
		unlink(root);
		r = VAULT_ERR_IO;
		goto out;
	}
	r = VAULT_OK;
out:
	EVP_PKEY_free(rkey);
	EVP_PKEY_free(key);
	X509_free(rc);
	X509_free(c);
	return r;
}

static X509 *
pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

static EVP_PKEY *
pem_key(const char *path)
{
	char *pem = vault_os_read_text(path, TSA_FILE_MAX, 1);
	BIO *b = pem != NULL ? BIO_new_mem_buf(pem, -1) : NULL;
	EVP_PKEY *k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	sodium_free(pem); /* wipes */
	return k;
}

/* Every certificate of chain_pem into the trust store. */
static int
load_trust(struct tsa *t)
{
	BIO *b = BIO_new_mem_buf(t->chain_pem, -1);
	X509 *x;
	int n = 0;

	if (b == NULL || (t->trust = X509_STORE_new()) == NULL) {
		BIO_free(b);
		return 0;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		n++;
		if (X509_STORE_add_cert(t->trust, x) != 1) { /* takes a reference */
			X509_free(x);
			BIO_free(b);
			return 0;
		}
		X509_free(x);
	}
	ERR_clear_error(); /* the end of the PEM stream is reported as an error */
	BIO_free(b);
	return n > 0;
}

/* libcurl is loaded only when an external authority is configured. Linked
 * in, it brought some thirty libraries (TLS, Kerberos, LDAP, SSH…) into
 * every process of the store, 3.7 MiB of resident pages before a byte was
 * stored, for a client most instances never use. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;
static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} cu;

static void
curl_init(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);

	if (h == NULL)
		return;
	/* POSIX's way to assign dlsym's void * to a function pointer */
	*(void **)&cu.global_init = dlsym(h, "curl_global_init");
	*(void **)&cu.easy_init = dlsym(h, "curl_easy_init");
	*(void **)&cu.easy_setopt = dlsym(h, "curl_easy_setopt");
	*(void **)&cu.easy_perform = dlsym(h, "curl_easy_perform");
	*(void **)&cu.easy_getinfo = dlsym(h, "curl_easy_getinfo");
	*(void **)&cu.easy_cleanup = dlsym(h, "curl_easy_cleanup");
	*(void **)&cu.slist_append = dlsym(h, "curl_slist_append");
	*(void **)&cu.slist_free_all = dlsym(h, "curl_slist_free_all");
	/* never closed: the process keeps it once it needs it */
	curl_ready = cu.global_init != NULL && cu.easy_init != NULL &&
	    cu.easy_setopt != NULL && cu.easy_perform != NULL &&
	    cu.easy_getinfo != NULL && cu.easy_cleanup != NULL &&
	    cu.slist_append != NULL && cu.slist_free_all != NULL &&
	    cu.global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

vault_err
tsa_open(const char *dir, const struct tsa_config *c, struct tsa **tp)
{
	char root[PATH_MAX], crt[PATH_MAX], keyp[PATH_MAX];
	char *a = NULL, *b = NULL;
	struct tsa *t;
	vault_err r = VAULT_ERR_FORMAT;

	*tp = NULL;
	paths(dir, root, crt, keyp);
	if ((t = calloc(1, sizeof *t)) == NULL)
		return VAULT_ERR_NOMEM;
	t->timeout_ms = c != NULL && c->timeout_ms > 0 ? c->timeout_ms : 5000;
	t->backoff_ms = c != NULL && c->backoff_ms > 0 ? c->backoff_ms : 60000;
	if (c != NULL && c->url != NULL) {
		/* an external authority: nothing to sign with, a chain to trust */
		if (c->chain_file == NULL || (t->chain_pem = vault_os_read_text(c->chain_file, TSA_FILE_MAX, 0)) == NULL ||
		    !load_trust(t) || (t->url = strdup(c->url)) == NULL)
			goto fail;
		pthread_once(&curl_once, curl_init);
		if (!curl_ready) {
			r = VAULT_ERR_UNSUPPORTED; /* no libcurl.so.4 to be had */
			goto fail;
		}
		*tp = t;
		return VAULT_OK;
	}
	if (c != NULL && (c->cert_file != NULL) != (c->key_file != NULL))
		goto fail;
	if (c != NULL && c->cert_file != NULL) {
		if ((a = vault_os_read_text(c->cert_file, TSA_FILE_MAX, 0)) == NULL)
			goto fail;
		t->key = pem_key(c->key_file);
		/* the served chain: the operator's, or the certificate alone */
		t->chain_pem = c->chain_file != NULL ? vault_os_read_text(c->chain_file, TSA_FILE_MAX, 0) : strdup(a);
	} else {
		if ((a = vault_os_read_text(crt, TSA_FILE_MAX, 0)) == NULL || (b = vault_os_read_text(root, TSA_FILE_MAX, 0)) == NULL ||
		    (t->chain_pem = malloc(strlen(a) + strlen(b) + 1)) == NULL)
			goto fail;
		memcpy(t->chain_pem, a, strlen(a));
		memcpy(t->chain_pem + strlen(a), b, strlen(b) + 1);
		t->key = pem_key(c != NULL && c->key_file != NULL ? c->key_file : keyp);
	}
	t->cert = pem_cert(a);
	t->policy = OBJ_txt2obj(TSA_POLICY_OID, 1);
	if (t->cert == NULL || t->key == NULL || t->policy == NULL ||
	    t->chain_pem == NULL || X509_check_private_key(t->cert, t->key) != 1)
		goto fail;
	/* OpenSSL's TS code refuses to sign with a certificate that lacks the
	 * critical timeStamping extended key usage: check it now, not at the
	 * first deposit */
	if (X509_check_purpose(t->cert, X509_PURPOSE_TIMESTAMP_SIGN, 0) != 1 ||
	    !(X509_get_extended_key_usage(t->cert) & XKU_TIMESTAMP))
		goto fail;
	free(a);
	free(b);
	*tp = t;
	return VAULT_OK;
fail:
	free(a);
	free(b);
	tsa_free(t);
	return r;
}

int
tsa_is_external(const struct tsa *t)
{
	return t->url != NULL;
}

void
tsa_free(struct tsa *t)
{
	if (t == NULL)
		return;
	X509_free(t->cert);
	EVP_PKEY_free(t->key);
	ASN1_OBJECT_free(t->policy);
	X509_STORE_free(t->trust);
	free(t->chain_pem);
	free(t->url);
	free(t);
}

static ASN1_INTEGER *
serial_cb(TS_RESP_CTX *ctx, void *data)
{
	ASN1_INTEGER *s = ASN1_INTEGER_new();

	(void)data;
	if (s == NULL || !random_serial(s)) {
		ASN1_INTEGER_free(s);
		TS_RESP_CTX_set_status_info(ctx, TS_STATUS_REJECTION, "no serial");
		return NULL;
	}
	return s;
}

/* The request, as any client sends it: SHA-256 imprint, a fresh nonce,
 * certReq. */
static TS_REQ *
make_request(const uint8_t sha256[32])
{
	TS_REQ *req = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *nonce = ASN1_INTEGER_new();
	int ok;

	ok = req != NULL && mi != NULL && alg != NULL && nonce != NULL &&
	    TS_REQ_set_version(req, 1) == 1 &&
	    X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) == 1 &&
	    TS_MSG_IMPRINT_set_algo(mi, alg) == 1 &&
	    TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)(uintptr_t)sha256, 32) == 1 &&
	    TS_REQ_set_msg_imprint(req, mi) == 1 &&
	    random_serial(nonce) && TS_REQ_set_nonce(req, nonce) == 1 &&
	    TS_REQ_set_cert_req(req, 1) == 1;
	/* the setters copy */
	TS_MSG_IMPRINT_free(mi);
	X509_ALGOR_free(alg);
	ASN1_INTEGER_free(nonce);
	if (!ok) {
		TS_REQ_free(req);
		return NULL;
	}
	return req;
}

/* The built-in authority's answer. */
static TS_RESP *
respond_here(struct tsa *t, TS_REQ *req)
{
	TS_RESP_CTX *ctx = NULL;
	TS_RESP *resp = NULL;
	BIO *bio = NULL;

	if ((bio = BIO_new(BIO_s_mem())) == NULL || i2d_TS_REQ_bio(bio, req) != 1 ||
	    (ctx = TS_RESP_CTX_new()) == NULL ||
	    TS_RESP_CTX_set_signer_cert(ctx, t->cert) != 1 ||
	    TS_RESP_CTX_set_signer_key(ctx, t->key) != 1 ||
	    TS_RESP_CTX_set_signer_digest(ctx, EVP_sha256()) != 1 ||
	    TS_RESP_CTX_set_ess_cert_id_digest(ctx, EVP_sha256()) != 1 ||
	    TS_RESP_CTX_set_def_policy(ctx, t->policy) != 1 ||
	    TS_RESP_CTX_add_md(ctx, EVP_sha256()) != 1 ||
	    TS_RESP_CTX_set_accuracy(ctx, 1, 0, 0) != 1)
		goto out;
	TS_RESP_CTX_set_serial_cb(ctx, serial_cb, NULL);
	resp = TS_RESP_create_response(ctx, bio);
out:
	TS_RESP_CTX_free(ctx);
	BIO_free(bio);
	return resp;
}

#define TSA_REPLY_MAX (256 * 1024)

struct reply_buf {
	unsigned char *p;
	size_t len;
};

static size_t
reply_write(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct reply_buf *b = ctx;
	size_t n = size * nmemb;

	if (n > TSA_REPLY_MAX - b->len)
		return 0; /* too big: curl fails the transfer */
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return n;
}

/* An external authority's answer, verified against the request (imprint,
 * nonce, version) and the configured chain (signature, signer with the
 * timeStamping usage). NULL if unreachable, refused or not verifying. */
static TS_RESP *
respond_external(struct tsa *t, TS_REQ *req)
{
	struct curl_slist *hdr = NULL;
	struct reply_buf b = { NULL, 0 };
	TS_VERIFY_CTX *vc = NULL;
	TS_RESP *resp = NULL;
	const unsigned char *q;
	unsigned char *der = NULL;
	char *ctype = NULL;
	long code = 0;
	CURL *c = NULL;
	int n;

	if ((n = i2d_TS_REQ(req, &der)) <= 0 || (b.p = malloc(TSA_REPLY_MAX)) == NULL ||
	    (c = cu.easy_init()) == NULL ||
	    (hdr = cu.slist_append(NULL, "Content-Type: application/timestamp-query")) == NULL)
		goto out;
	if (cu.easy_setopt(c, CURLOPT_URL, t->url) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_TIMEOUT_MS, t->timeout_ms) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, t->timeout_ms) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_HTTPHEADER, hdr) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_POSTFIELDS, der) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)n) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_write) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_WRITEDATA, &b) != CURLE_OK)
		goto out;
	if (cu.easy_perform(c) != CURLE_OK ||
	    cu.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200 ||
	    cu.easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype) != CURLE_OK ||
	    ctype == NULL || strncasecmp(ctype, "application/timestamp-reply", 27) != 0)
		goto out;
	q = b.p;
	if ((resp = d2i_TS_RESP(NULL, &q, (long)b.len)) == NULL || q != b.p + b.len)
		goto bad;
	/* imprint, nonce and version from the request; then the signature
	 * and the signer's chain up to the configured anchors */
	if ((vc = TS_REQ_to_TS_VERIFY_CTX(req, NULL)) == NULL ||
	    X509_STORE_up_ref(t->trust) != 1)
		goto bad;
	TS_VERIFY_CTX_set_store(vc, t->trust); /* vc now holds that reference */
	TS_VERIFY_CTX_add_flags(vc, TS_VFY_SIGNER | TS_VFY_SIGNATURE);
	if (TS_RESP_verify_response(vc, resp) != 1)
		goto bad;
	goto out;
bad:
	TS_RESP_free(resp);
	resp = NULL;
out:
	ERR_clear_error();
	TS_VERIFY_CTX_free(vc);
	cu.slist_free_all(hdr);
	if (c != NULL)
		cu.easy_cleanup(c);
	OPENSSL_free(der);
	free(b.p);
	return resp;
}

vault_err
tsa_stamp(struct tsa *t, const uint8_t sha256[32], int background,
    uint8_t **der, size_t *len, char serial_hex[65])
{
	TS_REQ *req = NULL;
	TS_RESP *resp = NULL;
	const ASN1_INTEGER *serial;
	BIGNUM *bn = NULL;
	unsigned char *p = NULL;
	char *hex = NULL;
	vault_err r = VAULT_ERR_INTERNAL;
	int64_t now = vault_os.now_ms();
	int n;

	*der = NULL;
	*len = 0;
	serial_hex[0] = '\0';
	if (t->url != NULL && !background && now < atomic_load(&t->quiet_until_ms))
		return VAULT_ERR_UNAVAILABLE;
	if ((req = make_request(sha256)) == NULL)
		goto out;
	if (t->url != NULL) {
		resp = respond_external(t, req);
		atomic_store(&t->quiet_until_ms, resp != NULL ? 0 : now + t->backoff_ms);
		if (resp == NULL) {
			r = VAULT_ERR_UNAVAILABLE;
			goto out;
		}
	} else if ((resp = respond_here(t, req)) == NULL)
		goto out;
	if (ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp))) !=
	    TS_STATUS_GRANTED || TS_RESP_get_tst_info(resp) == NULL) {
		r = t->url != NULL ? VAULT_ERR_UNAVAILABLE : VAULT_ERR_INTERNAL;
		goto out;
	}
	serial = TS_TST_INFO_get_serial(TS_RESP_get_tst_info(resp));
	if ((bn = ASN1_INTEGER_to_BN(serial, NULL)) == NULL || (hex = BN_bn2hex(bn)) == NULL)
		goto out;
	for (n = 0; hex[n] != '\0' && n < 64; n++)
		serial_hex[n] = (char)(hex[n] >= 'A' && hex[n] <= 'F' ? hex[n] - 'A' + 'a' : hex[n]);
	serial_hex[n] = '\0';
	if ((n = i2d_TS_RESP(resp, &p)) <= 0)
		goto out;
	*der = p;
	*len = (size_t)n;
	p = NULL;
	r = VAULT_OK;
out:
	OPENSSL_free(p);
	OPENSSL_free(hex);
	BN_free(bn);
	TS_RESP_free(resp);
	TS_REQ_free(req);
	return r;
}

vault_err
tsa_chain_pem(const struct tsa *t, char **pem)
{
	*pem = strdup(t->chain_pem);
	return *pem != NULL ? VAULT_OK : VAULT_ERR_NOMEM;
}
