/* hashq.c: a FIFO of SHA-256 updates served by one worker thread (from
 * the process's pool, workers.h). */
#include <pthread.h>
#include <stdlib.h>

#include "hashq.h"
#include "workers.h"

#define HASHQ_SLOTS 32 /* a batch: its plaintext and up to 4 chunks, four times */

struct hashq_job {
	EVP_MD_CTX *ctx;
	const void *p;
	size_t len;
	void (*fn)(void *);     /* or, instead of an update, a call */
	void *arg;
};

struct hashq {
	int threaded;
	unsigned wake;           /* jobs waiting before the worker is woken */
	pthread_mutex_t mu;
	pthread_cond_t cv_work;  /* a job was queued, or stop */
	pthread_cond_t cv_done;  /* a job finished */
	struct hashq_job ring[HASHQ_SLOTS];
	uint64_t submitted;      /* tickets handed out: 1..submitted */
	uint64_t done;           /* jobs finished: 1..done */
	int stop;
	int failed;
};

static void
hashq_destroy(struct hashq *q)
{
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv_work);
	pthread_cond_destroy(&q->cv_done);
	free(q);
}

static void
hashq_main(void *arg)
{
	struct hashq *q = arg;
	struct hashq_job job;
	int ok;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (q->done == q->submitted && !q->stop)
			pthread_cond_wait(&q->cv_work, &q->mu);
		if (q->done == q->submitted && q->stop)
			break;
		job = q->ring[q->done % HASHQ_SLOTS];
		pthread_mutex_unlock(&q->mu);
		if (job.fn != NULL) {
			/* a call after a failed update would work on a wrong
			 * digest (a time-stamp of it): the caller fails anyway */
			if (!q->failed)
				job.fn(job.arg);
			ok = 1;
		} else
			ok = EVP_DigestUpdate(job.ctx, job.p, job.len) == 1;
		pthread_mutex_lock(&q->mu);
		if (!ok)
			q->failed = 1;
		q->done++;
		pthread_cond_broadcast(&q->cv_done);
	}
	pthread_mutex_unlock(&q->mu);
	/* hashq_free handed q over when it set stop, every job done: the
	 * submitter has gone on without waiting for this thread to wake */
	hashq_destroy(q);
}

vault_err
hashq_new(int threaded, unsigned wake, struct hashq **qp)
{
	struct hashq *q;

	*qp = NULL;
	if ((q = calloc(1, sizeof *q)) == NULL)
		return VAULT_ERR_NOMEM;
	q->threaded = threaded;
	q->wake = wake > 0 && wake < HASHQ_SLOTS ? wake : 1;
	if (threaded) {
		pthread_mutex_init(&q->mu, NULL);
		pthread_cond_init(&q->cv_work, NULL);
		pthread_cond_init(&q->cv_done, NULL);
		if (workers_run(hashq_main, q) != 0) {
			/* No thread to be had: hash inline rather than fail. */
			pthread_mutex_destroy(&q->mu);
			pthread_cond_destroy(&q->cv_work);
			pthread_cond_destroy(&q->cv_done);
			q->threaded = 0;
		}
	}
	*qp = q;
	return VAULT_OK;
}

/* Queues job; wakes the worker once q->wake jobs wait, or at once. */
static uint64_t
enqueue(struct hashq *q, const struct hashq_job *job, int wake_now)
{
	uint64_t ticket;

	pthread_mutex_lock(&q->mu);
	while (q->submitted - q->done == HASHQ_SLOTS) {
		pthread_cond_signal(&q->cv_work);
		pthread_cond_wait(&q->cv_done, &q->mu);
	}
	q->ring[q->submitted % HASHQ_SLOTS] = *job;
	ticket = ++q->submitted;
	/* Woken once q->wake jobs wait, or when the submitter waits for
	 * it (hashq_wait). */
	if (wake_now || q->submitted - q->done >= q->wake)
		pthread_cond_signal(&q->cv_work);
	pthread_mutex_unlock(&q->mu);
	return ticket;
}

uint64_t
hashq_submit(struct hashq *q, EVP_MD_CTX *ctx, const void *p, size_t len)
{
	if (!q->threaded) {
		if (EVP_DigestUpdate(ctx, p, len) != 1)
			q->failed = 1;
		return ++q->done;
	}
	return enqueue(q, &(struct hashq_job){ ctx, p, len, NULL, NULL }, 0);
}

uint64_t
hashq_submit_fn(struct hashq *q, void (*fn)(void *), void *arg)
{
	if (!q->threaded) {
		fn(arg);
		return ++q->done;
	}
	return enqueue(q, &(struct hashq_job){ NULL, NULL, 0, fn, arg }, 1);
}

void
hashq_wait(struct hashq *q, uint64_t ticket)
{
	if (!q->threaded || ticket == 0)
		return;
	pthread_mutex_lock(&q->mu);
	if (q->done < ticket)
		pthread_cond_signal(&q->cv_work);
	while (q->done < ticket)
		pthread_cond_wait(&q->cv_done, &q->mu);
	pthread_mutex_unlock(&q->mu);
}

vault_err
hashq_wait_all(struct hashq *q)
{
	int failed;

	if (q->threaded) {
		pthread_mutex_lock(&q->mu);
		if (q->done < q->submitted)
			pthread_cond_signal(&q->cv_work);
		while (q->done < q->submitted)
			pthread_cond_wait(&q->cv_done, &q->mu);
		failed = q->failed;
		pthread_mutex_unlock(&q->mu);
	} else
		failed = q->failed;
	return failed ? VAULT_ERR_INTERNAL : VAULT_OK;
}

void
hashq_free(struct hashq *q)
{
	if (q == NULL)
		return;
	if (!q->threaded) {
		free(q);
		return;
	}
	/* Every job done (the caller frees their buffers next), then q is
	 * the worker's: it frees q as it leaves. Waiting here for it to wake
	 * and leave cost each deposit 70 us on this VM, the time to wake an
	 * idle CPU, with nothing left to do. */
	pthread_mutex_lock(&q->mu);
	if (q->done < q->submitted)
		pthread_cond_signal(&q->cv_work);
	while (q->done < q->submitted)
		pthread_cond_wait(&q->cv_done, &q->mu);
	q->stop = 1;
	pthread_cond_signal(&q->cv_work);
	pthread_mutex_unlock(&q->mu);
}
