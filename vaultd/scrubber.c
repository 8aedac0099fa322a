/*
 * scrubber.c: the thread that runs the scheduled scrub (scrubber.h).
 *
 * It sleeps on a condition variable (CLOCK_MONOTONIC) until the next pass
 * is due, waking at least every minute to read the schedule again (the
 * wall clock may have moved); during a pass it pauses after every read
 * (scrub_pause_ns) on the same condition variable, so that scrubber_stop
 * ends it between two reads, whatever it was doing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "scrub.h"
#include "scrubber.h"
#include "vault_os.h"

/* linux/ioprio.h, not included: older headers lack it, newer ones move
 * these values between macros and enums */
#define SCRUB_IOPRIO_WHO_PROCESS 1
#define SCRUB_IOPRIO_CLASS_BE 2
#define SCRUB_IOPRIO_CLASS_IDLE 3
#define SCRUB_IOPRIO_VALUE(cls, level) (((cls) << 13) | (level))

#define RECHECK_MS (60 * 1000)          /* the schedule is read again this often */
#define RETRY_MAX_MS (60 * 60 * 1000)   /* after a failed pass, at most this long */

struct scrubber {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping;
	struct store *s;
	int64_t period_ms;
	unsigned share;
	pid_t tid;
};

/* Waits ns nanoseconds or until told to stop; returns 1 if told to stop. */
static int
wait_ns(struct scrubber *sc, uint64_t ns)
{
	struct timespec dl;
	int stop;

	pthread_mutex_lock(&sc->mu);
	if (ns > 0 && !sc->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += (time_t)(ns / 1000000000u);
		dl.tv_nsec += (long)(ns % 1000000000u);
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
		while (!sc->stopping &&
		    pthread_cond_timedwait(&sc->cv, &sc->mu, &dl) != ETIMEDOUT)
			;
	}
	stop = sc->stopping;
	pthread_mutex_unlock(&sc->mu);
	return stop;
}

static int
pause_cb(void *ctx, uint64_t ns)
{
	return wait_ns(ctx, ns);
}

static void
set_io_priority(struct scrubber *sc, int cls, int level)
{
	/* Failure ignored: where the kernel or the I/O scheduler knows no
	 * I/O priorities (mq-deadline and none ignore them; BFQ honours
	 * them), the throttle alone keeps the pass within its share. */
	(void)syscall(SYS_ioprio_set, SCRUB_IOPRIO_WHO_PROCESS, (int)sc->tid,
	    SCRUB_IOPRIO_VALUE(cls, level));
}

/* While it holds the writer lock, which every deposit waits for, the
 * scrub must not wait behind every other reader of the disk: best effort
 * (level 4, a nice-0 thread's) there, idle elsewhere. Going back up from
 * idle needs no privilege; the CPU's nice value could not come back down,
 * but a transaction of a few rows needs little CPU. */
static void
writing_cb(void *ctx, int on)
{
	struct scrubber *sc = ctx;

	set_io_priority(sc, on ? SCRUB_IOPRIO_CLASS_BE : SCRUB_IOPRIO_CLASS_IDLE,
	    on ? 4 : 0);
}

static void *
scrubber_main(void *arg)
{
	struct scrubber *sc = arg;
	struct scrub_control c = { sc->share, pause_cb, writing_cb, sc };
	struct scrub_report rep;
	int64_t base, now, due, retry = 0;
	vault_err r;

	/* Linux: a thread's nice value and I/O priority are its own, set by
	 * its thread id. Failures ignored: the pass is throttled anyway, and
	 * a container may forbid both. */
	sc->tid = (pid_t)syscall(SYS_gettid);
	(void)setpriority(PRIO_PROCESS, (id_t)sc->tid, 19);
	set_io_priority(sc, SCRUB_IOPRIO_CLASS_IDLE, 0);
	while (!wait_ns(sc, 0)) {
		now = vault_os.now_ms();
		if (scrub_schedule_base(sc->s, now, &base) != VAULT_OK)
			base = now; /* read again at the next wake-up */
		due = base + sc->period_ms;
		if (due < retry)
			due = retry;
		if (now < due) {
			(void)wait_ns(sc, (uint64_t)(due - now < RECHECK_MS ?
			    due - now : RECHECK_MS) * 1000000u);
			continue;
		}
		r = scrub_pass(sc->s, &c, &rep);
		if (r == VAULT_OK && rep.complete) {
			fprintf(stderr, "vaultd: scrub: pass done: %llu documents (%llu "
			    "bytes), %u missing, %u corrupt, %u unreferenced files, %u "
			    "not checked; %u findings journaled\n",
			    (unsigned long long)rep.checked, (unsigned long long)rep.bytes,
			    rep.missing, rep.corrupt, rep.unreferenced, rep.unchecked,
			    rep.journaled);
		} else if (r == VAULT_OK) {
			fprintf(stderr, "vaultd: scrub: pass stopped after %llu "
			    "documents\n", (unsigned long long)rep.checked);
		} else {
			fprintf(stderr, "vaultd: scrub: pass failed: %s%s\n",
			    vault_strerror(r), r == VAULT_ERR_STOPPED ?
			    " (nothing is written until vaultd restarts)" : "");
			retry = now + (sc->period_ms < RETRY_MAX_MS ? sc->period_ms :
			    RETRY_MAX_MS);
		}
		fflush(stderr);
	}
	return NULL;
}

vault_err
scrubber_start(struct store *first, int64_t period_ms, unsigned share_percent,
    struct scrubber **scp)
{
	pthread_condattr_t ca;
	struct scrubber *sc;
	vault_err r;

	*scp = NULL;
	if (period_ms <= 0)
		return VAULT_OK;
	if ((sc = calloc(1, sizeof *sc)) == NULL)
		return VAULT_ERR_NOMEM;
	sc->period_ms = period_ms;
	sc->share = share_percent;
	if ((r = store_open_sibling(first, &sc->s)) != VAULT_OK) {
		free(sc);
		return r;
	}
	pthread_mutex_init(&sc->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sc->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&sc->th, NULL, scrubber_main, sc) != 0) {
		pthread_cond_destroy(&sc->cv);
		pthread_mutex_destroy(&sc->mu);
		store_close(sc->s);
		free(sc);
		return VAULT_ERR_NOMEM;
	}
	*scp = sc;
	return VAULT_OK;
}

void
scrubber_stop(struct scrubber *sc)
{
	if (sc == NULL)
		return;
	pthread_mutex_lock(&sc->mu);
	sc->stopping = 1;
	pthread_cond_broadcast(&sc->cv);
	pthread_mutex_unlock(&sc->mu);
	pthread_join(sc->th, NULL);
	store_close(sc->s);
	pthread_cond_destroy(&sc->cv);
	pthread_mutex_destroy(&sc->mu);
	free(sc);
}
