#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Policy files under test:
#   test-policy.sh polkit-xml   polkit/org.machina.policy is valid against polkit's DTD
#   test-policy.sh bus          dbus/org.machina.conf loads in a real dbus-daemon (the bed's bus)
#                               and does what it says: only root owns org.machina, all may call it
#   test-policy.sh polkit       polkitd of a bed loads the actions with the agreed defaults, and
#                               the bed's rules dir takes effect
#   test-policy.sh units        machinad.service and a rendered guest unit pass systemd-analyze
#                               verify and security --offline (thresholds 10 and 15), and agree on
#                               the group through which machinad, holding no capability, reaches
#                               QEMU's sockets
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
fail() { echo "FAIL: $*" >&2; exit 1; }

# Poll CMD until it succeeds or SECS pass.
poll() {
        local secs=$1; shift
        local end=$((SECONDS + secs))
        until "$@"; do
                [[ $SECONDS -lt $end ]] || return 1
                sleep 0.05
        done
}

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

bed=
owner_pid=
cleanup() {
        local rc=$?
        if [[ -n "$owner_pid" ]]; then
                kill "$owner_pid" 2>/dev/null || true
                wait "$owner_pid" 2>/dev/null || true
        fi
        if [[ -n "$bed" ]]; then
                if [[ $rc -ne 0 ]]; then
                        for f in "$bed"/logs/*; do echo "----- $f"; tail -n 100 "$f"; done >&2
                fi
                "$src/tests/testbed/testbed" down "$bed" || rc=1
        fi
        exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bed_up() {
        [[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root"; exit 77; }
        bed=$(mktemp -u /tmp/machina-testbed-policy.XXXXXX)
        "$src/tests/testbed/testbed" up "$bed" --owner $$ --parts "$1"
        eval "$("$src/tests/testbed/testbed" env "$bed")"
        export DBUS_SYSTEM_BUS_ADDRESS
}

case "${1:-}" in
polkit-xml)
        xmllint --noout --dtdvalid /usr/share/polkit-1/policyconfig-1.dtd "$src/polkit/org.machina.policy"
        n=$(grep -c '<action id="org\.machina\.machine\.\(control\|console\|define\)">' "$src/polkit/org.machina.policy")
        [[ $n -eq 3 ]] || fail "expected the 3 actions of the design, found $n"
        ;;
bus)
        xmllint --noout "$src/dbus/org.machina.conf"
        bed_up bus
        # nobody may not own the name (default deny, no exception for it).
        out=$(as_nobody busctl --system call org.freedesktop.DBus /org/freedesktop/DBus \
                org.freedesktop.DBus RequestName su org.machina 0 2>&1) && fail "uid 65534 could own org.machina: $out"
        grep -qi 'not allowed\|denied' <<<"$out" || fail "unexpected error for uid 65534: $out"
        # root may own it; while it does, nobody may call it.
        $PY -c '
import sys, dbus, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
c = dbus.bus.BusConnection(sys.argv[1])
r = c.request_name("org.machina", dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
print("owner" if r == dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER else "not-owner", flush=True)
GLib.MainLoop().run()
' "$DBUS_SYSTEM_BUS_ADDRESS" >"$bed/owner.out" 2>&1 &
        owner_pid=$!
        poll 10 grep -q owner "$bed/owner.out" || fail "root owner did not start: $(cat "$bed/owner.out")"
        grep -qx owner "$bed/owner.out" || fail "root could not own org.machina"
        as_nobody busctl --system call org.machina / org.freedesktop.DBus.Peer Ping \
                || fail "uid 65534 may not call org.machina"
        ;;
polkit)
        bed_up bus,polkit
        v=$(pkaction --action-id org.machina.machine.control --verbose)
        for want in "implicit any:.*auth_admin$" "implicit inactive:.*auth_admin$" "implicit active:.*auth_admin_keep$"; do
                grep -q "$want" <<<"$v" || fail "control action lacks '$want': $v"
        done
        for a in control console define; do
                pkaction --action-id "org.machina.machine.$a" >/dev/null || fail "action $a not loaded"
                # root is always authorized; nobody gets an admin challenge (exit 2).
                pkcheck --action-id "org.machina.machine.$a" --process $$ || fail "root not authorized for $a"
                rc=0; as_nobody sh -c 'exec pkcheck --action-id "$0" --process $$' "org.machina.machine.$a" || rc=$?
                [[ $rc -eq 2 ]] || fail "uid 65534 for $a: pkcheck exit $rc, expected 2 (challenge)"
        done
        # The bed's rules dir is live: granting nobody the console action takes effect.
        cat >"$TESTBED_POLKIT_RULES_DIR/50-test.rules" <<'RULES'
polkit.addRule(function(action, subject) {
        if (action.id == "org.machina.machine.console" && subject.user == "nobody")
                return polkit.Result.YES;
});
RULES
        chmod 0644 "$TESTBED_POLKIT_RULES_DIR/50-test.rules"
        poll 15 as_nobody sh -c 'exec pkcheck --action-id org.machina.machine.console --process $$' \
                || fail "rules file not honoured"
        rc=0; as_nobody sh -c 'exec pkcheck --action-id org.machina.machine.control --process $$' || rc=$?
        [[ $rc -eq 2 ]] || fail "rule leaked into the control action (exit $rc)"
        ;;
units)
        build=${MACHINA_BUILDDIR:?}
        qemu=$(command -v qemu-system-x86_64) || { echo "SKIP: needs qemu-system-x86_64"; exit 77; }
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        # The daemon's unit with ExecStart= pointed at the build tree (verify wants it executable).
        sed "s|^ExecStart=.*|ExecStart=$build/service/machinad|" "$build/units/machinad.service" \
                >"$tmp/machinad.service"
        systemd-analyze verify --man=no "$tmp/machinad.service" >"$tmp/verify.log" 2>&1 ||
                fail "systemd-analyze verify machinad.service: $(cat "$tmp/verify.log")"
        systemd-analyze security --offline=true --threshold=10 "$tmp/machinad.service" >"$tmp/sec.log" 2>&1 ||
                fail "machinad.service above threshold 10: $(grep '✗' "$tmp/sec.log")"
        e=$(sed -n 's/.*Overall exposure level for machinad.service: \([0-9.]*\).*/\1/p' "$tmp/sec.log")
        awk -v e="$e" 'BEGIN { exit !(e != "" && e <= 1.0) }' ||
                fail "machinad.service exposure '$e' > 1.0: $(grep '✗' "$tmp/sec.log")"
        echo "machinad.service: exposure $e"
        # A system-mode guest unit as machinad would start it.
        MACHINA_ACCEL=tcg "$build/cli/machinactl" --config-dir="$src/data" --emulator="$qemu" \
                --qmp-stop-helper="$build/service/machina-qmp-stop" unit demo >"$tmp/machina-demo.service"
        systemd-analyze verify --man=no "$tmp/machina-demo.service" >"$tmp/verify.log" 2>&1 ||
                fail "systemd-analyze verify machina-demo.service: $(cat "$tmp/verify.log")"
        systemd-analyze security --offline=true --threshold=15 "$tmp/machina-demo.service" >"$tmp/sec.log" 2>&1 ||
                fail "guest unit above threshold 15: $(grep '✗' "$tmp/sec.log")"
        echo "machina-demo.service: exposure $(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$tmp/sec.log")"
        # machinad has no CAP_DAC_OVERRIDE/CAP_CHOWN: QEMU's sockets must be open to QEMU's group
        # (UMask=0007) and machinad must be a member of exactly that group.
        grep -qx 'CapabilityBoundingSet=' "$tmp/machinad.service" || fail "machinad.service keeps capabilities"
        grep -qx 'UMask=0007' "$tmp/machina-demo.service" || fail "guest unit UMask is not 0007"
        group=$(sed -n 's/^Group=//p' "$tmp/machina-demo.service")
        [[ -n $group ]] || fail "guest unit sets no Group="
        grep -qx "Group=$group" "$tmp/machinad.service" ||
                fail "machinad.service does not run in the guests' group $group"
        ;;
*)
        echo "usage: $0 polkit-xml|bus|polkit|units" >&2
        exit 2
        ;;
esac
echo PASS
