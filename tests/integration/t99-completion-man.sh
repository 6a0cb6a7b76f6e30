#!/usr/bin/env bash
# Shell completion and man pages, both made from the CLI itself: bash
# completion (data/corral.bash-completion -> corral __complete) offers nouns,
# verbs, options and the names a real corrald knows, and stays silent when
# corrald is gone; every man page (built by scdoc from the --help texts)
# renders with man -l and carries the help of every verb.
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(cd "$(dirname "$CORRAL")" && pwd)
CORRAL=$BIN/$(basename "$CORRAL")
. "$(dirname "$0")/lib.sh"
setup_daemon

MAN=$BIN/docs/man
# A directory where `corral` is the binary under test (completion runs COMP_WORDS[0]).
mkdir -p "$T/bin" && ln -sf "$CORRAL" "$T/bin/corral"

# complete WORD... : what bash offers for the last word, through an interactive bash.
complete_words() {
	PATH=$T/bin:$PATH bash --norc -i -c '
		. "$1"; shift
		COMP_WORDS=(corral "$@"); COMP_CWORD=$#
		_corral; printf "%s\n" "${COMPREPLY[@]}"' bash "$SRC/data/corral.bash-completion" "$@" 2>/dev/null
}

test_expect "completion offers nouns, verbs and a verb's own options" '
	complete_words --socket "$SOCK" "" >out && grep -qx vm out && grep -qx snapshot out && grep -qx remote out &&
	complete_words --socket "$SOCK" vm st >out && [ "$(sort out | tr "\n" " ")" = "start stats stop " ] &&
	complete_words --socket "$SOCK" vm delete --d >out && grep -qx -- --disks out &&
	complete_words vm delete - >out && grep -qx -- --yes out && grep -qx -- --json out &&
	complete_words --soc >out && grep -qx -- --socket out
'
test_expect "completion offers the names of VMs, volumes, pools and networks from corrald" '
	create_guest alpha >/dev/null && create_guest alps >/dev/null && corral disk create vol1 8M >/dev/null &&
	complete_words --socket "$SOCK" vm start al >out && [ "$(sort out | tr "\n" " ")" = "alpha alps " ] &&
	complete_words --socket "$SOCK" snapshot create "" >out && grep -qx alpha out &&
	complete_words --socket "$SOCK" disk attach alpha "" >out && grep -qx vol1 out &&
	complete_words --socket "$SOCK" disk create x 8M --pool "" >out && grep -qx default out &&
	complete_words --socket "$SOCK" vm start --timeout 5 a >out && grep -qx alpha out
'
test_expect "completion stays silent when corrald cannot be reached" '
	complete_words --socket "$T/none.sock" vm start "" >out && [ -z "$(tr -d "\n" <out)" ] &&
	"$CORRAL" --socket "$T/none.sock" __complete vm start "" >out 2>err && [ ! -s out ] && [ ! -s err ]
'
test_expect "a man page per noun, corral(1) and corrald(8); each renders and holds every verb's help" '
	nouns=$("$CORRAL" __complete "" | sort | tr "\n" " ") &&
	listed=$(sed -n "/^man_nouns/,/]/p" "$SRC/docs/man/meson.build" | grep -o "'"'"'[a-z]*'"'"'" | tr -d "'"'"'" | sort | tr "\n" " ") &&
	[ "$nouns" = "$listed" ] || { echo "nouns: $nouns; meson: $listed"; return 1; }
	for page in corral.1 corrald.8 $(for n in $nouns; do echo corral-$n.1; done); do
		MANWIDTH=100 man -l "$MAN/$page" >"$T/page.txt" 2>"$T/man.err" && grep -q "^NAME" "$T/page.txt" &&
			! grep -qi "warning\|error" "$T/man.err" || { echo "page $page"; cat "$T/man.err"; return 1; }
	done &&
	for n in $nouns; do
		MANWIDTH=200 man -l "$MAN/corral-$n.1" 2>/dev/null >"$T/page.txt"
		for v in $("$CORRAL" __complete "$n" ""); do
			first=$("$CORRAL" "$n" "$v" --help | head -1)
			grep -qF -- "$first" "$T/page.txt" || { echo "corral-$n.1 lacks: $first"; return 1; }
		done
	done &&
	MANWIDTH=100 man -l "$MAN/corrald.8" | grep -q -- "--state-dir DIR"
'
finish
