#!/usr/bin/env bash
# setup-user.sh [USER...] - create the system accounts corral's confined
# processes run as: corral-qemu (QEMU, docs/security.md) and corral-imgd (the
# image helper that parses guest disks, docs/image.md); without arguments
# both.  Each: no login shell, no home directory, its own group, no other
# groups.  Also gives root a subordinate id range for unprivileged system
# containers (docs/containers.md).  Idempotent: an existing user or range is
# left as it is.  Needs root.
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

# Unprivileged system containers (docs/containers.md) map container ids
# 0..65535 to a range of root's subordinate ids: give root one in /etc/subuid
# and /etc/subgid if it has none (100000-165535, the range Debian gives the
# first user's; an existing range of root's is left as it is).
ensure_root_subids() {
	local file=$1 flag=$2
	[ -f "$file" ] && grep -q '^root:' "$file" && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "corral: root has no subordinate ids in $file; run $0 as root" >&2
		return 1
	fi
	echo "corral: giving root the subordinate ids 100000-165535 in $file"
	usermod "$flag" 100000-165535 root
}
ensure_root_subids /etc/subuid --add-subuids
ensure_root_subids /etc/subgid --add-subgids
