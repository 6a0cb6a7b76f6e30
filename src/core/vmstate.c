/*
 * vmstate.c - see vmstate.h.
 */
#include <string.h>

#include "vmstate.h"
#include "util/common.h"

static const char *const state_names[] = { "stopped", "starting", "running", "paused", "stopping", "crashed" };
static const char *const action_names[] = { "start", "stop", "kill", "reboot", "pause", "resume", "edit", "delete" };

const char *vmstate_name(enum vm_state s) { return state_names[s]; }
const char *vmaction_name(enum vm_action a) { return action_names[a]; }

int vmstate_parse(const char *s, enum vm_state *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(state_names); i++) {
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum vm_state)i;
			return 0;
		}
	}
	return -1;
}

bool vmstate_is_active(enum vm_state s)
{
	return s == VM_STARTING || s == VM_RUNNING || s == VM_PAUSED || s == VM_STOPPING;
}

bool vmstate_can_transition(enum vm_state from, enum vm_state to)
{
	if (from == to)
		return false;
	switch (from) {
	case VM_STOPPED:
	case VM_CRASHED:
		return to == VM_STARTING;
	case VM_STARTING:
		return to == VM_RUNNING || to == VM_PAUSED || to == VM_STOPPED || to == VM_CRASHED;
	case VM_RUNNING:
		return to == VM_PAUSED || to == VM_STOPPING || to == VM_STOPPED || to == VM_CRASHED;
	case VM_PAUSED:
		return to == VM_RUNNING || to == VM_STOPPING || to == VM_STOPPED || to == VM_CRASHED;
	case VM_STOPPING:
		return to == VM_STOPPED || to == VM_CRASHED || to == VM_RUNNING || to == VM_PAUSED;
	}
	return false;
}

const char *vmstate_action_refusal(enum vm_state s, enum vm_action a)
{
	switch (a) {
	case ACT_START:
		if (vmstate_is_active(s))
			return "vm is already running";
		return NULL;
	case ACT_EDIT:
	case ACT_DELETE:
		if (vmstate_is_active(s))
			return "vm is running; stop it first";
		return NULL;
	case ACT_STOP:
	case ACT_KILL:
		if (!vmstate_is_active(s))
			return "vm is not running";
		return NULL;
	case ACT_REBOOT:
		if (s != VM_RUNNING)
			return s == VM_PAUSED ? "vm is paused; resume it first" : "vm is not running";
		return NULL;
	case ACT_PAUSE:
		if (s == VM_PAUSED)
			return "vm is already paused";
		if (s != VM_RUNNING)
			return "vm is not running";
		return NULL;
	case ACT_RESUME:
		if (s == VM_RUNNING)
			return "vm is not paused";
		if (s != VM_PAUSED)
			return "vm is not running";
		return NULL;
	}
	return "unknown action";
}
