/* scrubber.h: vaultd's background thread that runs the scrub (scrub.h) on
 * its schedule, at the lowest CPU and I/O priority. */
#ifndef VAULTD_SCRUBBER_H
#define VAULTD_SCRUBBER_H

#include <stdint.h>

#include "store.h"

struct scrubber;

/* Starts the thread on a sibling of first: a pass when period_ms has gone
 * by since the last complete one (scrub_schedule_base), reading at most
 * share_percent of the time. period_ms 0: no thread, *scp NULL. */
vault_err scrubber_start(struct store *first, int64_t period_ms,
    unsigned share_percent, struct scrubber **scp);
/* Asks the thread to stop (it does so between two reads), joins it, closes
 * its store. NULL-safe. */
void scrubber_stop(struct scrubber *sc);

#endif
