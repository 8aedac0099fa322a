/*
 * hashq.h: SHA-256 on a second thread.
 *
 * The store pipeline hashes every byte twice (the plaintext for the legal
 * fingerprint, the ciphertext for keyless integrity checks). Done inline,
 * that makes the pipeline slower than the serial bound of one hash plus
 * encryption plus write; done here, both hashes overlap encryption.
 *
 * Jobs run in submission order on one worker thread. A job only reads its
 * buffer; the submitter must not change that buffer until hashq_wait() has
 * returned for the job's ticket. A queue created with threaded = 0 runs
 * each job inline in hashq_submit (small documents need no thread).
 */
#ifndef HASHQ_H
#define HASHQ_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "vault.h"

struct hashq;

/* *qp is NULL on failure. The worker is woken once `wake` jobs wait (or
 * when the submitter waits). A writer that queues several jobs per chunk
 * and waits only at the end of a batch gives HASHQ_WAKE: waking the worker
 * for every job cost a futex call and, on a virtual machine, an interrupt
 * to an idle CPU for each chunk (a good part of a large deposit's time).
 * A reader that waits for each chunk's hash before reusing its buffer
 * gives 1, or the worker would only start when waited for, and the hash
 * would no longer overlap decryption. */
#define HASHQ_WAKE 3
vault_err hashq_new(int threaded, unsigned wake, struct hashq **qp);
/* Queues ctx.update(p, len); returns the job's ticket (> 0). Blocks while the
 * queue is full. A failed EVP update is reported by hashq_wait_all. */
uint64_t hashq_submit(struct hashq *q, EVP_MD_CTX *ctx, const void *p, size_t len);
/* Queues fn(arg), run on the worker once the jobs before it are done
 * (inline at once when not threaded), and wakes the worker now: work
 * that needs what those jobs hash, done beside the submitter (a
 * deposit's time-stamp over its fingerprint). Skipped if an earlier
 * update failed: its digest would be wrong. Returns its ticket. */
uint64_t hashq_submit_fn(struct hashq *q, void (*fn)(void *), void *arg);
/* Returns once the job with this ticket (and all before it) is done.
 * A ticket of 0 returns at once. */
void hashq_wait(struct hashq *q, uint64_t ticket);
/* Waits for every job; VAULT_ERR_INTERNAL if any EVP update failed. */
vault_err hashq_wait_all(struct hashq *q);
/* Waits for every job, then lets the worker go: it frees q as it leaves,
 * without the caller waiting for it. NULL-safe. */
void hashq_free(struct hashq *q);

#endif
