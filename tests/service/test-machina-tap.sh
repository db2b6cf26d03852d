#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# machina-tap against the real kernel, in a network namespace of its own (the host's network is
# never touched): what "add" builds (owner, bridge, MTU, up, persistent), every refusal with a
# message naming the interface and the bridge, no tap left after a failure, reuse of a left-over
# tap, taps held by another process neither taken over nor deleted, "del" idempotent.
# Usage: test-machina-tap.sh MACHINA_TAP
set -u

if [[ -z ${MACHINA_TAP_IN_NETNS:-} ]]; then
        if [[ $(id -u) != 0 ]] || ! command -v ip >/dev/null; then
                echo "# skipping: needs root and ip(8)"; exit 77
        fi
        MACHINA_TAP_IN_NETNS=1 exec unshare --net "$0" "$@"
fi

tap=$(realpath "$1")
t=mt-test-0
br=mbr-test
fail=0
err=$(mktemp)
trap 'rm -f "$err"' EXIT

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fail=1; }

# run EXPECTED_RC WHAT ARGS...: machina-tap's exit status, and no sanitizer report.
run() {
        local want=$1 what=$2 rc
        shift 2
        "$tap" "$@" 2>"$err"
        rc=$?
        if grep -q -e 'Sanitizer' -e 'runtime error:' "$err"; then
                not_ok "$what: sanitizer report"; cat "$err"
        elif [[ $rc != "$want" ]]; then
                not_ok "$what: exit $rc, expected $want"; cat "$err"
        else
                ok "$what (exit $rc)"
        fi
}
says() {
        if grep -q -e "$1" "$err"; then ok "message: $1"; else not_ok "message lacks '$1': $(cat "$err")"; fi
}
exists() { ip link show dev "$1" >/dev/null 2>&1; }
no_tap() { if exists $t; then not_ok "$1: $t left behind"; else ok "$1: no $t"; fi; }
# field PYTHON-EXPRESSION: evaluated on the tap's "ip -j -d link show" object, as l.
field() {
        ip -j -d link show dev $t | /usr/bin/python3 -c "import json,sys; l=json.load(sys.stdin)[0]; print($1)"
}
expect_field() {
        local v
        v=$(field "$1")
        if [[ $v == "$2" ]]; then ok "$1 = $2"; else not_ok "$1 = '$v', expected '$2'"; fi
}
wait_exists() {
        for _ in $(seq 100); do exists "$1" && return 0; sleep 0.1; done
        return 1
}
wait_gone() {
        for _ in $(seq 100); do exists "$1" || return 0; sleep 0.1; done
        return 1
}

ip link set lo up

run 2 "no arguments"
run 2 "bad interface name" add "a/b" $br nobody
run 2 "name too long" add mt-0123456789abc $br nobody
run 2 "empty interface name" del ""

run 1 "missing bridge" add $t $br nobody
says "Bridge $br does not exist: not creating tap $t"
no_tap "missing bridge"
run 1 "not a bridge" add $t lo nobody
says "lo is not a bridge"
no_tap "not a bridge"

ip link add $br type bridge
ip link set $br mtu 1400 up
run 1 "unknown user" add $t $br no-such-user-machina
says "User no-such-user-machina does not exist"
no_tap "unknown user"

run 0 "add" add $t $br nobody
expect_field 'l["linkinfo"]["info_kind"]' tun
expect_field 'l["linkinfo"]["info_data"]["type"]' tap
expect_field 'l["linkinfo"]["info_data"]["persist"]' True
expect_field 'l["linkinfo"]["info_data"]["vnet_hdr"]' True
expect_field 'l["linkinfo"]["info_data"]["pi"]' False
expect_field 'l["linkinfo"]["info_data"]["user"]' nobody
expect_field 'l.get("master")' $br
expect_field 'l["mtu"]' 1400
expect_field '"UP" in l["flags"]' True
[[ $(ip -j link show dev $br | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["mtu"])') == 1400 ]] &&
        ok "bridge MTU unchanged" || not_ok "bridge MTU changed"

# Left over (persistent, nobody holds it), owned by someone else: reused and given to the user.
run 0 "del" del $t
ip tuntap add dev $t mode tap user 0
run 0 "add over a left-over tap" add $t $br nobody
says "Reusing tap $t"
expect_field 'l["linkinfo"]["info_data"]["user"]' nobody
expect_field 'l.get("master")' $br

# Held by another process: not taken over, not deleted.
run 0 "del" del $t
/usr/bin/python3 -c '
import fcntl, os, struct, sys, time
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), 0x0002 | 0x1000 | 0x4000))
time.sleep(60)' $t &
holder=$!
if wait_exists $t; then
        run 1 "add over a held tap" add $t $br nobody
        says "Tap $t exists and is in use by another process"
        run 1 "del of a held tap" del $t
        says "Tap $t is in use by another process: left alone"
        exists $t && ok "held tap still there" || not_ok "held tap deleted"
        [[ $(field 'l["linkinfo"]["info_data"]["persist"]') == False ]] && ok "held tap not made persistent" ||
                not_ok "held tap taken over"
else
        not_ok "holder did not create $t"
fi
kill "$holder"; wait "$holder" 2>/dev/null
wait_gone $t && ok "holder's tap gone with it" || not_ok "holder's tap stays"

# A name taken by a device that is no tap: refused both ways, left alone.
ip link add $t type bridge
run 1 "add over a bridge of that name" add $t $br nobody
says "$t exists and is not a single-queue tap device"
run 1 "del of a bridge" del $t
says "$t is not a tap device"
exists $t && ok "the other device stays" || not_ok "the other device was deleted"
ip link del $t

# A failure after the tap exists removes it again: a tap's MTU cannot exceed 65521.
ip link set $br mtu 65535
run 1 "MTU the tap cannot take" add $t $br nobody
says "Failed to set MTU 65535 of bridge $br on tap $t"
no_tap "failure after creation"
ip link set $br mtu 1400

run 0 "add" add $t $br nobody
run 0 "del" del $t
no_tap "del"
run 0 "del is idempotent" del $t
run 1 "del of lo" del lo
exists lo && ok "lo stays" || not_ok "lo deleted"

exit $fail
