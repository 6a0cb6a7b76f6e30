#!/usr/bin/env bash
# setup-user.sh [USER] - create the system user QEMU runs as under corrald
# (default corral-qemu): no login shell, no home directory, its own group.
# Idempotent: an existing user is left as it is.  Needs root.
set -euo pipefail
user=${1:-corral-qemu}
if getent passwd "$user" >/dev/null; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "corral: user $user is missing; run $0 as root" >&2
	exit 1
fi
nologin=/usr/sbin/nologin
[ -x "$nologin" ] || nologin=/bin/false
echo "corral: creating system user $user (QEMU runs as it)"
useradd --system --user-group --no-create-home --home-dir /nonexistent --shell "$nologin" \
	--comment "corral QEMU processes" "$user"
