/*
 * test_vmstate.c - the VM state machine (src/core/vmstate.c).
 *
 * The API and the runtime both ask vmstate which actions a state allows and
 * which transitions are legal, so the full tables are written out here once,
 * from vmstate.h and docs/api.md, and every (state, action) and
 * (state, state) pair is checked against them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/vmstate.h"
#include "util/common.h"

#define NSTATES 6
#define NACTIONS 8

static const enum vm_state all_states[NSTATES] = { VM_STOPPED, VM_STARTING, VM_RUNNING,
						   VM_PAUSED,  VM_STOPPING, VM_CRASHED };
static const enum vm_action all_actions[NACTIONS] = { ACT_START, ACT_STOP,   ACT_KILL, ACT_REBOOT,
						      ACT_PAUSE, ACT_RESUME, ACT_EDIT, ACT_DELETE };

static void test_names_roundtrip(void **state)
{
	(void)state;
	static const char *const want[NSTATES] = { "stopped", "starting", "running", "paused", "stopping", "crashed" };
	for (int i = 0; i < NSTATES; i++) {
		enum vm_state s = VM_CRASHED;
		assert_string_equal(vmstate_name(all_states[i]), want[i]);
		assert_int_equal(vmstate_parse(want[i], &s), 0);
		assert_int_equal(s, all_states[i]);
	}
	enum vm_state s = VM_PAUSED;
	assert_int_equal(vmstate_parse("Running", &s), -1);
	assert_int_equal(vmstate_parse("", &s), -1);
	assert_int_equal(vmstate_parse("runningx", &s), -1);
	assert_int_equal(s, VM_PAUSED);

	static const char *const acts[NACTIONS] = { "start", "stop", "kill", "reboot", "pause", "resume", "edit", "delete" };
	for (int i = 0; i < NACTIONS; i++)
		assert_string_equal(vmaction_name(all_actions[i]), acts[i]);
}

static void test_is_active(void **state)
{
	(void)state;
	assert_false(vmstate_is_active(VM_STOPPED));
	assert_true(vmstate_is_active(VM_STARTING));
	assert_true(vmstate_is_active(VM_RUNNING));
	assert_true(vmstate_is_active(VM_PAUSED));
	assert_true(vmstate_is_active(VM_STOPPING));
	assert_false(vmstate_is_active(VM_CRASHED));
}

/*
 * Which actions each state allows (1 = allowed):
 *   start       only from stopped / crashed
 *   stop, kill  only while QEMU is active (starting, running, paused, stopping)
 *   reboot      only running
 *   pause       only running
 *   resume      only paused
 *   edit/delete only stopped / crashed
 */
static const int allowed[NSTATES][NACTIONS] = {
	/*               start stop kill reboot pause resume edit delete */
	/* stopped  */ { 1, 0, 0, 0, 0, 0, 1, 1 },
	/* starting */ { 0, 1, 1, 0, 0, 0, 0, 0 },
	/* running  */ { 0, 1, 1, 1, 1, 0, 0, 0 },
	/* paused   */ { 0, 1, 1, 0, 0, 1, 0, 0 },
	/* stopping */ { 0, 1, 1, 0, 0, 0, 0, 0 },
	/* crashed  */ { 1, 0, 0, 0, 0, 0, 1, 1 },
};

static void test_action_table(void **state)
{
	(void)state;
	for (int i = 0; i < NSTATES; i++) {
		for (int a = 0; a < NACTIONS; a++) {
			const char *why = vmstate_action_refusal(all_states[i], all_actions[a]);
			if (allowed[i][a] && why)
				fail_msg("%s refused in state %s: %s", vmaction_name(all_actions[a]),
					 vmstate_name(all_states[i]), why);
			if (!allowed[i][a] && !why)
				fail_msg("%s allowed in state %s", vmaction_name(all_actions[a]),
					 vmstate_name(all_states[i]));
			if (why) {
				/* a sentence for the user: non-empty, mentions the VM, no trailing newline */
				assert_true(strlen(why) > 3);
				assert_non_null(strstr(why, "vm"));
				assert_null(strchr(why, '\n'));
			}
		}
	}
}

static void test_refusal_wording(void **state)
{
	(void)state;
	/* the messages users see for the common mistakes say what to do */
	assert_non_null(strstr(vmstate_action_refusal(VM_RUNNING, ACT_EDIT), "stop it first"));
	assert_non_null(strstr(vmstate_action_refusal(VM_PAUSED, ACT_DELETE), "stop it first"));
	assert_non_null(strstr(vmstate_action_refusal(VM_RUNNING, ACT_START), "already running"));
	assert_non_null(strstr(vmstate_action_refusal(VM_STOPPED, ACT_STOP), "not running"));
	assert_non_null(strstr(vmstate_action_refusal(VM_CRASHED, ACT_KILL), "not running"));
	assert_non_null(strstr(vmstate_action_refusal(VM_PAUSED, ACT_PAUSE), "already paused"));
	assert_non_null(strstr(vmstate_action_refusal(VM_RUNNING, ACT_RESUME), "not paused"));
	assert_non_null(strstr(vmstate_action_refusal(VM_PAUSED, ACT_REBOOT), "resume"));
}

/*
 * Legal transitions (1 = allowed), rows = from, columns = to, in the order
 * stopped starting running paused stopping crashed:
 *   stopped/crashed --start--> starting
 *   starting --> running (QEMU up), paused (started paused), stopped (failed to
 *                start / stopped at once), crashed
 *   running <--> paused
 *   running/paused --stop--> stopping; --> stopped (guest powered off), crashed
 *   stopping --> stopped, crashed; back to running/paused when a graceful stop
 *                is abandoned
 * Never to the same state.
 */
static const int transition[NSTATES][NSTATES] = {
	/*               stopped starting running paused stopping crashed */
	/* stopped  */ { 0, 1, 0, 0, 0, 0 },
	/* starting */ { 1, 0, 1, 1, 0, 1 },
	/* running  */ { 1, 0, 0, 1, 1, 1 },
	/* paused   */ { 1, 0, 1, 0, 1, 1 },
	/* stopping */ { 1, 0, 1, 1, 0, 1 },
	/* crashed  */ { 0, 1, 0, 0, 0, 0 },
};

static void test_transition_table(void **state)
{
	(void)state;
	for (int f = 0; f < NSTATES; f++) {
		for (int t = 0; t < NSTATES; t++) {
			bool got = vmstate_can_transition(all_states[f], all_states[t]);
			if (got != (bool)transition[f][t])
				fail_msg("%s -> %s: got %s, want %s", vmstate_name(all_states[f]),
					 vmstate_name(all_states[t]), got ? "allowed" : "forbidden",
					 transition[f][t] ? "allowed" : "forbidden");
		}
	}
}

static void test_transitions_users_rely_on(void **state)
{
	(void)state;
	/* documented path of a VM's life */
	assert_true(vmstate_can_transition(VM_STOPPED, VM_STARTING));
	assert_true(vmstate_can_transition(VM_STARTING, VM_RUNNING));
	assert_true(vmstate_can_transition(VM_RUNNING, VM_PAUSED));
	assert_true(vmstate_can_transition(VM_PAUSED, VM_RUNNING));
	assert_true(vmstate_can_transition(VM_RUNNING, VM_STOPPING));
	assert_true(vmstate_can_transition(VM_PAUSED, VM_STOPPING));
	assert_true(vmstate_can_transition(VM_STOPPING, VM_STOPPED));
	assert_true(vmstate_can_transition(VM_CRASHED, VM_STARTING));
	/* any active state can crash */
	for (int i = 0; i < NSTATES; i++)
		if (vmstate_is_active(all_states[i]))
			assert_true(vmstate_can_transition(all_states[i], VM_CRASHED));
	/* an inactive VM cannot jump to running without starting */
	assert_false(vmstate_can_transition(VM_STOPPED, VM_RUNNING));
	assert_false(vmstate_can_transition(VM_STOPPED, VM_PAUSED));
	assert_false(vmstate_can_transition(VM_CRASHED, VM_RUNNING));
	assert_false(vmstate_can_transition(VM_STOPPED, VM_CRASHED));
	assert_false(vmstate_can_transition(VM_CRASHED, VM_STOPPED));
	/* no state moves back to starting */
	for (int i = 0; i < NSTATES; i++)
		if (vmstate_is_active(all_states[i]))
			assert_false(vmstate_can_transition(all_states[i], VM_STARTING));
}

static void test_actions_agree_with_transitions(void **state)
{
	(void)state;
	/* an allowed start must be a legal transition to starting */
	for (int i = 0; i < NSTATES; i++) {
		bool can_start = vmstate_action_refusal(all_states[i], ACT_START) == NULL;
		assert_int_equal(can_start, vmstate_can_transition(all_states[i], VM_STARTING));
		if (vmstate_action_refusal(all_states[i], ACT_PAUSE) == NULL)
			assert_true(vmstate_can_transition(all_states[i], VM_PAUSED));
		if (vmstate_action_refusal(all_states[i], ACT_RESUME) == NULL)
			assert_true(vmstate_can_transition(all_states[i], VM_RUNNING));
		if (vmstate_action_refusal(all_states[i], ACT_KILL) == NULL)
			assert_true(vmstate_can_transition(all_states[i], VM_STOPPED));
		/* edit and delete are allowed exactly when QEMU is not running */
		assert_int_equal(vmstate_action_refusal(all_states[i], ACT_EDIT) == NULL,
				 !vmstate_is_active(all_states[i]));
		assert_int_equal(vmstate_action_refusal(all_states[i], ACT_DELETE) == NULL,
				 !vmstate_is_active(all_states[i]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_roundtrip),
		cmocka_unit_test(test_is_active),
		cmocka_unit_test(test_action_table),
		cmocka_unit_test(test_refusal_wording),
		cmocka_unit_test(test_transition_table),
		cmocka_unit_test(test_transitions_users_rely_on),
		cmocka_unit_test(test_actions_agree_with_transitions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
