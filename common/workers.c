/* workers.c: the process's pool of threads for short tasks (workers.h). */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <time.h>

#include "vault_os.h"
#include "workers.h"

struct worker {
	pthread_t self;
	pthread_cond_t cv;
	void (*fn)(void *);     /* the task; NULL while idle */
	void *arg;
	struct worker *next;    /* in the idle list, then the ended list */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gone = PTHREAD_COND_INITIALIZER;
static struct worker *idle;     /* most recently idle first */
/* Threads that have ended their last task and are leaving. They are
 * joinable, not detached: a detached thread may still be unwinding (its
 * stack and TLS in use) when workers_shutdown returns and the process
 * exits, which a leak checker rightly reports. Whoever comes next joins
 * them. */
static struct worker *ended;
static unsigned threads;        /* alive, idle or not */
static int stopping;

static void
unlink_idle(struct worker *w)
{
	struct worker **p;

	for (p = &idle; *p != NULL; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			return;
		}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct timespec until;
	int rc;

	w->self = pthread_self();
	for (;;) {
		w->fn(w->arg);
		/* A task may leave what it worked on in its stack frames (the
		 * SHA-256 code's message schedule is the plaintext, reversibly):
		 * wiped before the thread idles or serves another request. */
		sodium_stackzero(WORKERS_STACK_WIPE);
		pthread_mutex_lock(&mu);
		w->fn = NULL;
		rc = 0;
		if (!stopping) {
			w->next = idle;
			idle = w;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += WORKERS_IDLE_MS / 1000;
			while (w->fn == NULL && !stopping && rc != ETIMEDOUT)
				rc = pthread_cond_timedwait(&w->cv, &mu, &until);
			if (w->fn == NULL)
				unlink_idle(w);
		}
		if (w->fn == NULL) {
			w->next = ended;
			ended = w;
			threads--;
			pthread_cond_broadcast(&gone);
			pthread_mutex_unlock(&mu);
			return NULL;
		}
		pthread_mutex_unlock(&mu);
	}
}

/* Joins the threads on the list (taken from `ended` under mu). */
static void
reap(struct worker *w)
{
	struct worker *next;

	for (; w != NULL; w = next) {
		next = w->next;
		pthread_join(w->self, NULL);
		pthread_cond_destroy(&w->cv);
		free(w);
	}
}

int
workers_run(void (*fn)(void *), void *arg)
{
	struct worker *w, *gone_list;
	pthread_t t;

	pthread_mutex_lock(&mu);
	gone_list = ended;
	ended = NULL;
	if ((w = idle) != NULL) {
		idle = w->next;
		w->fn = fn;
		w->arg = arg;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&mu);
		reap(gone_list);
		return 0;
	}
	threads++;
	pthread_mutex_unlock(&mu);
	reap(gone_list);
	if ((w = calloc(1, sizeof *w)) == NULL)
		goto fail;
	pthread_cond_init(&w->cv, NULL);
	w->fn = fn;
	w->arg = arg;
	if (vault_os_thread(&t, NULL, worker_main, w) == 0)
		return 0;
	pthread_cond_destroy(&w->cv);
	free(w);
fail:
	pthread_mutex_lock(&mu);
	threads--;
	pthread_cond_broadcast(&gone);
	pthread_mutex_unlock(&mu);
	return -1;
}

void
workers_shutdown(void)
{
	struct worker *w;

	pthread_mutex_lock(&mu);
	stopping = 1;
	for (w = idle; w != NULL; w = w->next)
		pthread_cond_signal(&w->cv);
	while (threads > 0)
		pthread_cond_wait(&gone, &mu);
	idle = NULL;
	w = ended;
	ended = NULL;
	stopping = 0;
	pthread_mutex_unlock(&mu);
	reap(w);	/* every thread has returned when this does */
}
