/*
 * tsa.h: the built-in RFC 3161 time-stamping authority (OpenSSL's TS API,
 * in-process).
 *
 * Files in the data directory, made once (tsa_create_files):
 *   tsa-root.crt   a self-signed root (CA:TRUE, keyCertSign)
 *   tsa.crt        the TSA certificate, signed by the root, with the
 *                  critical extended key usage timeStamping
 *   tsa.key        its ECDSA P-256 key, 0600
 * A token answers a request for the SHA-256 of the deposited bytes, with a
 * fresh nonce and certReq (the TSA certificate is in the token), the
 * policy TSA_POLICY_OID, an accuracy of one second, and a random 128-bit
 * serial. It verifies with the stock command:
 *   openssl ts -verify -data FILE -in TOKEN.tsr -CAfile CHAIN.pem
 * where CHAIN.pem is tsa.crt then tsa-root.crt (GET /v1/tsa/certificates).
 */
#ifndef TSA_H
#define TSA_H

#include <stddef.h>
#include <stdint.h>

#include "vault.h"

/* A UUID-derived OID (arc 2.25, ITU-T X.667): ours without registration. */
#define TSA_POLICY_OID "2.25.203938461097315312573634087425393947562"

struct tsa;

/* Where the tokens come from. All NULL: the built-in authority of DIR. */
struct tsa_config {
	/* An operator's own TSA certificate and key (PEM) instead of DIR's. */
	const char *cert_file;
	const char *key_file;
	/* An external TSA reached over HTTP or HTTPS (RFC 3161 section 3.4):
	 * its answers must verify against chain_file, or they are refused. */
	const char *url;
	/* PEM: what GET /v1/tsa/certificates serves (the TSA certificate
	 * then its issuers), and for an external TSA the trust anchors. NULL
	 * with the built-in authority: DIR's tsa.crt then tsa-root.crt. */
	const char *chain_file;
	long timeout_ms;           /* per external request; 0: 5000 */
	long backoff_ms;           /* after a failure, deposits stop asking
	                            * for this long (0: 60000) */
};

/* Creates the three files if tsa.key does not exist; VAULT_OK if they do. */
vault_err tsa_create_files(const char *dir);
/* Loads the authority c describes (c NULL: the built-in one of dir).
 * *tp is NULL on failure. An external authority (c->url) loads libcurl
 * at its first use in the process: VAULT_ERR_UNSUPPORTED if it cannot. */
vault_err tsa_open(const char *dir, const struct tsa_config *c, struct tsa **tp);
void tsa_free(struct tsa *t);
/* 1 if tokens come from an external TSA over the network. */
int tsa_is_external(const struct tsa *t);

/* A TimeStampResp (DER, malloc'd) over sha256; serial_hex gets the token's
 * serial number (lowercase hex). Thread-safe.
 * With an external TSA: VAULT_ERR_UNAVAILABLE when it cannot be reached,
 * answers with an error, or answers with a token that does not verify
 * (wrong imprint, wrong nonce, untrusted signer). After such a failure,
 * calls with background = 0 (a deposit waiting for its answer) fail at
 * once for backoff_ms, so that an unreachable TSA does not slow every
 * deposit; background calls (the retry worker) always ask. */
vault_err tsa_stamp(struct tsa *t, const uint8_t sha256[32], int background,
    uint8_t **der, size_t *len, char serial_hex[65]);
/* The chain served by GET /v1/tsa/certificates, PEM, malloc'd. */
vault_err tsa_chain_pem(const struct tsa *t, char **pem);

#endif
