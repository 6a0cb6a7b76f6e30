/*
 * watchdog.h - corral-guard's hold on the host's watchdog device (docs/ha.md
 * "The watchdog"): the kernel's watchdog API (linux/watchdog.h) for a
 * hardware timer (iTCO, IPMI, a virtual i6300esb) or softdog.
 *
 * The guard opens the device only while it holds armed HA guests, sets its
 * timeout (WD_TIMEOUT_S) and pets it from its loop; once every armed guest
 * is gone it closes it with the magic 'V', which stops the timer.  When
 * the guard stops petting (it hangs, is stopped or killed, or a fence's
 * SIGKILL did not end a guest in time) the device resets the host before
 * the survivors restart those guests.
 *
 * Plain C with no allocation: the guard locks its memory and must not
 * fail in its loop.
 */
#ifndef CORRAL_GUARD_WATCHDOG_H
#define CORRAL_GUARD_WATCHDOG_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The timeout asked of the device.  The survivors restart a lost host's
 * HA guests W = L - detection + 1.5 s after they see it leave
 * (ha_fence_wait_ms; with a witness W adds qdevice's timeout, by which the
 * cut host learns later), L = token_eff + consensus + 1.5 s: 3 s after the
 * cut host learns of its loss.  The guard kills within 100 ms of learning,
 * waits up to WD_CONFIRM_MS for the guests to end (petting meanwhile) and
 * stops petting if one has not, so the device resets the host at the
 * latest 0.1 + 0.4 + 2 s after it learnt, 0.5 s to spare for a device that
 * fires late.  A guard frozen before the cut resets the host 2 s after
 * its last pet.
 */
#define WD_TIMEOUT_S 2
#define WD_CONFIRM_MS 400
_Static_assert(100 + WD_CONFIRM_MS + WD_TIMEOUT_S * 1000 <= 2500, "the host must be reset before the survivors act");

struct wd {
	char path[128];		/* the device; "" when none is used */
	int fd;			/* -1: not open (not armed) */
	int timeout_s;		/* what the device took (it may round) */
	bool magic_close;	/* WDIOF_MAGICCLOSE: 'V' then close stops it */
	char identity[33];	/* the driver's name (WDIOC_GETSUPPORT) */
};

/*
 * Choose the device for the setting `conf`: "none", "auto" (/dev/watchdog0,
 * else /dev/watchdog, when it is a character device) or a path.  w->path
 * is "" when no device is used; `why` (n bytes) gets the sentence the
 * status shows ("none: no watchdog device on this host ...").  0, or -1
 * when conf is unusable (why says it; w->path stays "").
 */
int wd_configure(struct wd *w, const char *conf, char *why, size_t n);

/*
 * Open w->path and set its timeout to timeout_s; the timer runs from now.
 * 0, or -errno with why set ("... is busy: another program holds it", "...
 * is not a watchdog device") and the device closed.  A no-op while open.
 */
int wd_arm(struct wd *w, int timeout_s, char *why, size_t n);

/* Restart the timer (no-op while not open). */
void wd_pet(struct wd *w);

/*
 * Stop the timer and close the device: true.  A device without magic
 * close cannot be stopped by closing it (the timer would run out): it is
 * kept open and petting goes on, false.
 */
bool wd_disarm(struct wd *w);

/*
 * Wait up to ms milliseconds for every process of the pidfds to end,
 * calling wd_pet on w (may be NULL) every 100 ms meanwhile.  true when all
 * ended (a pidfd turns readable at exit), false when one still runs.
 */
bool wd_wait_dead(struct wd *w, const int *pidfds, unsigned n, int ms);

#endif
