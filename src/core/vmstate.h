/*
 * vmstate.h - the VM state machine.
 *
 *   stopped/crashed --start--> starting --(QEMU up)--> running <--pause/resume--> paused
 *   running/paused --stop--> stopping --(QEMU gone)--> stopped
 *   any running state --(QEMU died without a guest shutdown)--> crashed
 *
 * Every transition is recorded as an event.  Which user actions a state
 * allows is decided here, so the API and the runtime agree.
 */
#ifndef CORRAL_CORE_VMSTATE_H
#define CORRAL_CORE_VMSTATE_H

#include <stdbool.h>

enum vm_state { VM_STOPPED, VM_STARTING, VM_RUNNING, VM_PAUSED, VM_STOPPING, VM_CRASHED };

enum vm_action { ACT_START, ACT_STOP, ACT_KILL, ACT_REBOOT, ACT_PAUSE, ACT_RESUME, ACT_EDIT, ACT_DELETE };

const char *vmstate_name(enum vm_state s);
int vmstate_parse(const char *s, enum vm_state *out);
const char *vmaction_name(enum vm_action a);

/* true if QEMU is (supposed to be) running in this state. */
bool vmstate_is_active(enum vm_state s);
/* true if `from -> to` is a legal transition. */
bool vmstate_can_transition(enum vm_state from, enum vm_state to);
/*
 * NULL if `a` is allowed in `s`, else a sentence for the user,
 * e.g. "vm is running; stop it first".
 */
const char *vmstate_action_refusal(enum vm_state s, enum vm_action a);

#endif
