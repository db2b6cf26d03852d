#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `meson install --destdir`: every file where a freedesktop daemon's files belong, the policy
# valid against polkit's DTD, the bus policy loadable, the unit accepted by systemd-analyze.
set -euo pipefail
build=$1
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >/dev/null
prefix=$(meson introspect "$build" --buildoptions | /usr/bin/python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
root=$dest$prefix
fail=0
for f in bin/machinactl libexec/machina/machinad libexec/machina/machina-qmp-stop \
         lib/systemd/system/machinad.service lib/sysusers.d/machina.conf \
         share/dbus-1/system.d/org.machina.conf share/dbus-1/system-services/org.machina.service \
         share/dbus-1/services/org.machina.service \
         share/dbus-1/interfaces/org.machina.Manager.xml share/dbus-1/interfaces/org.machina.Machine.xml \
         share/polkit-1/actions/org.machina.policy share/man/man1/machinactl.1; do
        if [[ ! -e $root/$f ]]; then
                echo "missing: $prefix/$f"; fail=1
        fi
done
for f in libexec/machina/machinad libexec/machina/machina-qmp-stop bin/machinactl; do
        [[ -x $root/$f ]] || { echo "not executable: $f"; fail=1; }
done
# The activation files and the unit name the installed daemon.
grep -qx "Exec=$prefix/libexec/machina/machinad" "$root/share/dbus-1/system-services/org.machina.service" ||
        { echo "system activation file does not name the installed machinad"; fail=1; }
grep -qx "Exec=$prefix/libexec/machina/machinad --user" "$root/share/dbus-1/services/org.machina.service" ||
        { echo "session activation file does not run machinad --user"; fail=1; }
grep -qx "ExecStart=$prefix/libexec/machina/machinad" "$root/lib/systemd/system/machinad.service" ||
        { echo "unit does not run the installed machinad"; fail=1; }
xmllint --noout --dtdvalid /usr/share/polkit-1/policyconfig-1.dtd "$root/share/polkit-1/actions/org.machina.policy" || fail=1
for x in Manager Machine; do
        xmllint --noout "$root/share/dbus-1/interfaces/org.machina.$x.xml" || fail=1
done
# The unit: no errors from systemd-analyze verify other than what --root hides from it (the
# host's units it depends on and /bin/kill are outside the destdir).
out=$(systemd-analyze verify --root="$dest" "$root/lib/systemd/system/machinad.service" 2>&1 |
        grep -v -e "Failed to create machinad.service/start: Unit [a-z.-]* not found" \
                -e "/bin/kill is not executable" || true)
if [[ -n $out ]]; then
        echo "systemd-analyze verify: $out"; fail=1
fi
exposure=$(systemd-analyze security --offline=true "$root/lib/systemd/system/machinad.service" 2>/dev/null |
        sed -n 's/.*Overall exposure level for machinad.service: \([0-9.]*\).*/\1/p')
echo "machinad.service exposure: $exposure"
[[ -n $exposure ]] || { echo "no exposure figure"; fail=1; }
if [[ $fail -ne 0 ]]; then
        echo "FAIL"; exit 1
fi
echo "PASS"
