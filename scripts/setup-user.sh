#!/usr/bin/env bash
# setup-user.sh [USER] - create a system account corral runs a sandboxed
# helper as (default corral-imgd, the image helper: docs/image.md): no login
# shell, no home directory, its own group, no other groups.  Idempotent: an
# existing user is left as it is.  Needs root.
set -euo pipefail
user=${1:-corral-imgd}
if getent passwd "$user" >/dev/null; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "corral: user $user is missing; run $0 $user as root" >&2
	exit 1
fi
nologin=/usr/sbin/nologin
[ -x "$nologin" ] || nologin=/bin/false
echo "corral: creating system user $user"
useradd --system --user-group --no-create-home --home-dir /nonexistent --shell "$nologin" \
	--comment "corral sandboxed helper" "$user"
