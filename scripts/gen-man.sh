#!/usr/bin/env bash
# gen-man.sh - write a man page from the programs' own --help texts, so the
# pages cannot drift from the CLI (docs/man/meson.build runs this at build
# time; scdoc turns the generated source into roff).
#
#   gen-man.sh corral  CORRAL SCDOC OUT           corral(1): global help, nouns
#   gen-man.sh noun    CORRAL SCDOC OUT NOUN      corral-NOUN(1): every verb's --help
#   gen-man.sh corrald CORRALD SCDOC OUT HEAD     corrald(8): HEAD (scdoc) + --help
#
# Help texts go into scdoc literal blocks verbatim.  Fails (and leaves no
# OUT) when a help text cannot be had or scdoc warns.
set -euo pipefail

mode=$1 prog=$2 scdoc=$3 out=$4
src=$(mktemp)
trap 'rm -f "$src" "$src.err"' EXIT

literal() { printf '```\n'; "$@"; printf '```\n\n'; }

case $mode in
corral)
	{
		printf 'corral(1)\n\n# NAME\n\ncorral - manage the virtual machines, disks, networks and backups of a corrald host\n\n'
		printf '# SYNOPSIS\n\n*corral* [_GLOBAL OPTIONS_] _NOUN_ _VERB_ [_ARGUMENTS_] [_OPTIONS_]\n\n'
		printf '# DESCRIPTION\n\n'
		printf 'corral talks to corrald(8) through its REST API (a unix socket, or TLS to a remote host). '
		printf 'Each noun has its own page, corral-_NOUN_(1), made like this one from the help texts '
		printf '(*corral* _NOUN_ _VERB_ *--help* prints the same).\n\n'
		literal "$prog" --help
		printf '# NOUNS\n\n'
		for n in $("$prog" __complete ""); do
			printf '*corral-%s*(1)\n' "$n"
			"$prog" "$n" --help | sed -n '3p' | sed 's/[*_\]/\\&/g; s/^/\t/'
			printf '\n'
		done
		printf '# SHELL COMPLETION\n\n'
		printf 'The bash completion installed with corral asks *corral \\_\\_complete* for nouns, verbs, '
		printf 'options and the names of VMs, volumes, pools and networks (from corrald).\n\n'
		printf '# SEE ALSO\n\ncorrald(8), docs/cli.md and docs/api.md in the corral sources\n'
	} >"$src"
	;;
noun)
	noun=$5
	{
		printf 'corral-%s(1)\n\n# NAME\n\ncorral-%s - ' "$noun" "$noun"
		"$prog" "$noun" --help | sed -n '3p' | sed 's/[*_\]/\\&/g'
		printf '\n# SYNOPSIS\n\n'
		verbs=$("$prog" __complete "$noun" "")
		if [ -n "$verbs" ]; then
			printf '*corral %s* _VERB_ [_ARGUMENTS_] [_OPTIONS_]\n\n' "$noun"
			printf '# DESCRIPTION\n\n'
			literal "$prog" "$noun" --help
			printf '# VERBS\n\n'
			for v in $verbs; do
				printf '## %s\n\n' "$v"
				literal "$prog" "$noun" "$v" --help
			done
		else
			printf '*corral %s* [_OPTIONS_]\n\n# DESCRIPTION\n\n' "$noun"
			literal "$prog" "$noun" --help
		fi
		printf '# SEE ALSO\n\ncorral(1), corrald(8)\n'
	} >"$src"
	;;
corrald)
	head=$5
	{
		cat "$head"
		printf '\n# OPTIONS\n\n'
		literal "$prog" --help
		printf '# SEE ALSO\n\ncorral(1), docs/config.md and docs/state.md in the corral sources\n'
	} >"$src"
	;;
*)
	echo "gen-man.sh: unknown mode '$mode'" >&2
	exit 2
	;;
esac
# GEN_MAN_KEEP=FILE keeps the generated scdoc source (to debug a page).
[ -n "${GEN_MAN_KEEP:-}" ] && cp "$src" "$GEN_MAN_KEEP"
"$scdoc" <"$src" >"$out.tmp" 2>"$src.err" || { cat "$src.err" >&2; rm -f "$out.tmp"; exit 1; }
if [ -s "$src.err" ]; then
	cat "$src.err" >&2
	rm -f "$out.tmp"
	exit 1
fi
mv "$out.tmp" "$out"
