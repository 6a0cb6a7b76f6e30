#!/bin/sh
# install-conf.sh - meson install script: put the example corrald.conf in
# place as /etc/corral/corrald.conf only when there is none, so that a
# reinstall or an upgrade never overwrites the administrator's settings.
# Honours DESTDIR (meson install --destdir).  Usage: install-conf.sh EXAMPLE CONFDIR
set -eu
example=$1
confdir=${DESTDIR:-}$2
mkdir -p "$confdir"
if [ -e "$confdir/corrald.conf" ]; then
	echo "Keeping the existing $confdir/corrald.conf (the template is $example)" >&2
else
	install -m 0644 "${DESTDIR:-}$example" "$confdir/corrald.conf"
	echo "Installing $confdir/corrald.conf"
fi
