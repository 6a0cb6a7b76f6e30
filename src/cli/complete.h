/*
 * complete.h - shell completion from the CLI's own tables: the hidden verb
 * `corral __complete WORD... CURRENT` prints, one per line, what may come
 * at CURRENT after the words typed so far (without "corral"): global
 * options, nouns, a noun's verbs, a verb's options (read from the very
 * option table its parser uses), and the names of VMs, volumes, pools and
 * networks, asked of corrald (the --socket/--remote/--url among the words
 * are honoured).  The shell filters by prefix (data/corral.bash-completion).
 * When corrald cannot be reached nothing is printed for names, and no error
 * either: completion never writes to the terminal.
 */
#ifndef CORRAL_CLI_COMPLETE_H
#define CORRAL_CLI_COMPLETE_H

#include "cli.h"

/* argv[0] is "__complete", the last argument the word being completed.  Always CLI_OK. */
int cli_complete(struct cli *cli, int argc, char **argv);

#endif
