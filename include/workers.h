/*
 * workers.h: threads kept for short tasks, instead of one pthread_create
 * per task.
 *
 * A deposit used to start two threads (its hashes, its blob's fsync): on
 * this kind of machine each one cost about 50 µs of CPU and an interrupt
 * to wake a CPU, and its exit a TLB shoot-down across CPUs. A task given
 * to workers_run goes to an idle thread of the process-wide pool, or to a
 * new one when none is idle (the pool grows as the load asks, never makes
 * a task wait for another); threads idle for WORKERS_IDLE_MS end.
 *
 * A task must not block on another task that is not yet running: every
 * task gets a thread at once, so this holds as long as threads can be
 * made. If one cannot, workers_run returns -1 and the caller runs the
 * task itself.
 */
#ifndef WORKERS_H
#define WORKERS_H

#define WORKERS_IDLE_MS 10000
/* bytes of stack wiped after each task (sodium_stackzero) */
#define WORKERS_STACK_WIPE (64 * 1024)

/* Runs fn(arg) on a thread of the pool. 0, or -1 if no thread could be
 * had (nothing was queued then). */
int workers_run(void (*fn)(void *), void *arg);

/* Waits for running tasks to end and ends and joins every thread (at
 * exit: no thread of the pool is left running, and leak checkers see a
 * clean process). Tasks given after it get threads
 * again. */
void workers_shutdown(void);

#endif
