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

/* Creates the three files if tsa.key does not exist; VAULT_OK if they do. */
vault_err tsa_create_files(const char *dir);
/* Loads the TSA's certificate and key. *tp is NULL on failure. */
vault_err tsa_open(const char *dir, struct tsa **tp);
void tsa_free(struct tsa *t);
/* A TimeStampResp (DER, malloc'd) over sha256; serial_hex gets the token's
 * serial number (lowercase hex). Thread-safe. */
vault_err tsa_stamp(struct tsa *t, const uint8_t sha256[32], uint8_t **der,
    size_t *len, char serial_hex[65]);
/* tsa.crt then tsa-root.crt, PEM, malloc'd. */
vault_err tsa_chain_pem(const char *dir, char **pem);

#endif
