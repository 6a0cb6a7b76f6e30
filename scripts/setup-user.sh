#!/usr/bin/env bash
# setup-user.sh [USER...] - create the system accounts corral's confined
# processes run as: corral-qemu (QEMU, docs/security.md) and corral-imgd (the
# image helper that parses guest disks, docs/image.md); without arguments
# both.  Each: no login shell, no home directory, its own group, no other
# groups.  Idempotent: an existing user is left as it is.  Needs root.
set -euo pipefail
[ $# -gt 0 ] || set -- corral-qemu corral-imgd
nologin=/usr/sbin/nologin
[ -x "$nologin" ] || nologin=/bin/false
for user in "$@"; do
	getent passwd "$user" >/dev/null && continue
	if [ "$(id -u)" -ne 0 ]; then
		echo "corral: user $user is missing; run $0 $user as root" >&2
		exit 1
	fi
	echo "corral: creating system user $user"
	useradd --system --user-group --no-create-home --home-dir /nonexistent --shell "$nologin" \
		--comment "corral confined process" "$user"
done
