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
for f in bin/machinactl libexec/machina/machinad libexec/machina/machina-qmp-stop libexec/machina/machina-tap \
         lib/systemd/system/machinad.service lib/sysusers.d/machina.conf \
         share/dbus-1/system.d/org.machina.conf share/dbus-1/system-services/org.machina.service \
         share/dbus-1/services/org.machina.service \
         share/dbus-1/interfaces/org.machina.Manager.xml share/dbus-1/interfaces/org.machina.Machine.xml \
         share/polkit-1/actions/org.machina.policy share/polkit-1/rules.d/machina.rules \
         lib/tmpfiles.d/machina.conf share/man/man1/machinactl.1 share/man/man8/machinad.8 \
         share/man/man5/machina.conf.json.5 share/man/man8/machina-qmp-stop.8 share/man/man8/machina-tap.8 \
         share/doc/machina/examples/machina.conf.json \
         share/doc/machina/examples/machine.conf.d/demo.conf.json; do
        if [[ ! -e $root/$f ]]; then
                echo "missing: $prefix/$f"; fail=1
        fi
done
for f in libexec/machina/machinad libexec/machina/machina-qmp-stop libexec/machina/machina-tap bin/machinactl; do
        [[ -x $root/$f ]] || { echo "not executable: $f"; fail=1; }
done
# Modes: binaries 0755, data files 0644, no directory or file writable by group or others.
for f in libexec/machina/machinad libexec/machina/machina-qmp-stop libexec/machina/machina-tap bin/machinactl; do
        mode=$(stat -c %a "$root/$f")
        [[ $mode == 755 ]] || { echo "mode $mode, not 755: $f"; fail=1; }
done
while IFS= read -r -d '' f; do
        echo "group/other-writable: ${f#"$dest"}"; fail=1
done < <(find "$dest" -perm /022 ! -type l -print0)
for f in share/polkit-1/rules.d/machina.rules lib/tmpfiles.d/machina.conf \
         share/doc/machina/examples/machina.conf.json; do
        mode=$(stat -c %a "$root/$f")
        [[ $mode == 644 ]] || { echo "mode $mode, not 644: $f"; fail=1; }
done
# Man pages (built from docs/*.scd): each titled for its name and section, and renders.
for f in man1/machinactl.1 man8/machinad.8 man5/machina.conf.json.5 man8/machina-qmp-stop.8 man8/machina-tap.8; do
        page=$root/share/man/$f; base=${f#*/}
        [[ -e $page ]] || continue
        grep -q "^\.TH \"${base%.*}\" \"${base##*.}\"" "$page" || { echo "bad .TH in $f"; fail=1; }
        [[ $(MANWIDTH=80 man -l "$page" 2>/dev/null | grep -c .) -gt 10 ]] || { echo "$f does not render"; fail=1; }
done
# The examples as installed load and resolve (machinactl reads them offline).
"$build/cli/machinactl" --config-dir="$root/share/doc/machina/examples" args demo >/dev/null ||
        { echo "installed examples do not resolve"; fail=1; }
# The rule grants exactly control and console to group machina, never define.
rules=$root/share/polkit-1/rules.d/machina.rules
grep -q 'isInGroup("machina")' "$rules" || { echo "rule does not name group machina"; fail=1; }
grep -q 'org.machina.machine.define' "$rules" && { echo "rule grants define"; fail=1; }
# sysusers then tmpfiles into an empty root, as a package install on a fresh system would (with
# --root nothing on the host is touched): the users exist and the state dirs get the modes declared.
tmproot=$dest/tmpfiles-root
mkdir -p "$tmproot/etc"
systemd-sysusers --root="$tmproot" "$root/lib/sysusers.d/machina.conf" 2>"$dest/tmpfiles.err" ||
        { echo "systemd-sysusers failed: $(cat "$dest/tmpfiles.err")"; fail=1; }
if systemd-tmpfiles --root="$tmproot" --create "$root/lib/tmpfiles.d/machina.conf" 2>"$dest/tmpfiles.err"; then
        for d in etc/machina/machine.conf.d var/lib/machina/images run/machina; do
                [[ -d $tmproot/$d ]] || { echo "tmpfiles did not create /$d"; fail=1; }
        done
        mode=$(stat -c %a "$tmproot/var/lib/machina")
        [[ $mode == 750 ]] || { echo "/var/lib/machina mode $mode, not 750"; fail=1; }
        group=$(stat -c %g "$tmproot/var/lib/machina")
        [[ $group == $(sed -n 's/^machina-qemu:x:\([0-9]*\):.*/\1/p' "$tmproot/etc/group") ]] ||
                { echo "/var/lib/machina not group machina-qemu"; fail=1; }
        grep -q '^machina:' "$tmproot/etc/group" || { echo "sysusers created no group machina"; fail=1; }
else
        echo "systemd-tmpfiles failed: $(cat "$dest/tmpfiles.err")"; fail=1
fi
rm -rf "$tmproot"
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
# Exposure: under systemd-analyze's own threshold of 10 (1.0 on its 0..10 scale, exit status), and
# the figure itself, from the "Overall exposure level" line, at most 1.0 (docs/security.md).
unit=$root/lib/systemd/system/machinad.service
systemd-analyze security --offline=true --threshold=10 "$unit" >"$dest/security.log" 2>&1 ||
        { echo "machinad.service above threshold 10:"; grep '✗' "$dest/security.log"; fail=1; }
exposure=$(sed -n 's/.*Overall exposure level for machinad.service: \([0-9.]*\).*/\1/p' "$dest/security.log")
echo "machinad.service exposure: $exposure"
if [[ -z $exposure ]]; then
        echo "no exposure figure"; fail=1
elif ! awk -v e="$exposure" 'BEGIN { exit !(e <= 1.0) }'; then
        echo "machinad.service exposure $exposure > 1.0:"; grep '✗' "$dest/security.log"; fail=1
fi
# machinad runs as root without any capability: it reaches what QEMU creates only through the QEMU
# user's group (docs/security.md), so the unit must make that group, the one sysusers creates,
# machinad's own.
grep -qx 'CapabilityBoundingSet=' "$unit" || { echo "machinad.service keeps capabilities"; fail=1; }
qemu_group=$(sed -n 's/^u machina-qemu -:\([^ ]*\) .*/\1/p' "$root/lib/sysusers.d/machina.conf")
grep -qx "Group=$qemu_group" "$unit" ||
        { echo "machinad.service lacks Group=$qemu_group (the QEMU user's group)"; fail=1; }
if [[ $fail -ne 0 ]]; then
        echo "FAIL"; exit 1
fi
echo "PASS"
