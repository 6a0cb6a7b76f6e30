/*
 * recover.h - start-up recovery of what a killed corrald left half done
 * (see recover.c and docs/jobs.md, "Crash recovery").
 */
#ifndef CORRAL_SERVICE_RECOVER_H
#define CORRAL_SERVICE_RECOVER_H

/*
 * At corrald start, after rt_attach_all() and svc_snapshot_recover() and
 * before any job can start: end the QEMU block jobs and nodes of live moves
 * a crash cut off in the running VMs, undo or complete the moves, imports
 * and clones the store still records running (removing only files and
 * volumes those jobs recorded as theirs), and end every job record left
 * "running" with what really happened.
 */
void svc_recover(void);

#endif
