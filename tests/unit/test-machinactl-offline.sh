#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# machinactl's offline verbs against data/ and a scratch config dir: output, exit codes (0 ok,
# 1 failure, 4 unknown machine) and "file: $.path: message" diagnostics.
# Usage: test-machinactl-offline.sh MACHINACTL SRCDIR
set -u

ctl=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
export MACHINA_ACCEL=tcg
failed=0

fail() { echo "not ok - $*"; failed=1; }
ok() { echo "ok - $*"; }
# expect RC DESCRIPTION COMMAND...: runs COMMAND, output in $tmp/out and $tmp/err
expect() {
        want=$1; what=$2; shift 2
        "$@" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        if [ "$rc" -ne "$want" ]; then
                fail "$what: exit $rc, expected $want"; cat "$tmp/err"
        else
                ok "$what"
        fi
}
has() { grep -qF -- "$2" "$tmp/$1" || fail "$1 lacks: $2"; }

expect 0 "--version" "$ctl" --version
has out "machina "
expect 0 "--help" "$ctl" --help
has out "gen-mac NAME CONNECTION"
expect 1 "unknown verb" "$ctl" frobnicate
expect 1 "no verb: list, and no system bus" env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/no-bus" "$ctl"

cfg="--config-dir=$src/data"
expect 0 "cat web" "$ctl" "$cfg" cat web
has out "web (5b0c9f3e-2a41-4d7b-9c15-7e2f4a8d6b10)"
has out "Tags: server web-tier"
has out "WWN 0x5525400"
mac=$("$ctl" gen-mac --id=5b0c9f3e-2a41-4d7b-9c15-7e2f4a8d6b10 web eth0)
has out "eth0: network lan (bridge, bridge br0) MAC $mac"

expect 0 "cat --json" "$ctl" "$cfg" --json=short cat demo
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["name"] == "demo", d' "$tmp/out" \
        || fail "cat --json is not the demo definition as JSON"

expect 4 "cat unknown" "$ctl" "$cfg" cat no-such-machine
has err "No machine 'no-such-machine'."
expect 4 "args with one unknown of two" "$ctl" "$cfg" args demo no-such-machine
has out "-machine q35,accel=tcg \\"

expect 0 "args demo, runtime dir" "$ctl" "$cfg" --runtime-dir=/tmp/r,x args demo
has out "-chardev socket,id=qmp,path=/tmp/r,,x/demo/qmp.sock,server=on,wait=off \\"
expect 0 "args two machines" "$ctl" "$cfg" args demo web
has out "# demo"
has out "# web"
XDG_RUNTIME_DIR=/tmp/xdg-test expect 0 "args --user" "$ctl" "$cfg" --user args demo
has out "path=/tmp/xdg-test/machina/demo/qmp.sock"

expect 0 "unit demo" "$ctl" "$cfg" --emulator=/usr/bin/true unit demo
has out "ExecStart=/usr/bin/true -name guest=demo"
has out "User=machina-qemu"
XDG_RUNTIME_DIR=/tmp/xdg-test expect 0 "unit --user" "$ctl" "$cfg" --user --emulator=/usr/bin/true unit demo
grep -q '^User=' "$tmp/out" && fail "--user unit has User="

expect 0 "gen-id" "$ctl" gen-id
grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' "$tmp/out" || fail "gen-id: $(cat "$tmp/out")"
id1=$(cat "$tmp/out"); "$ctl" gen-id >"$tmp/out"; [ "$id1" != "$(cat "$tmp/out")" ] || fail "gen-id repeats"
# IDENTIFIERS.md test vector.
expect 0 "gen-mac --id" "$ctl" gen-mac --id=0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40 alpha eth0
has out "52:54:00:48:8e:c2"
expect 1 "gen-mac bad uuid" "$ctl" gen-mac --id=nope alpha eth0
expect 4 "gen-mac unknown machine" "$ctl" "$cfg" gen-mac nope eth0
expect 1 "gen-mac arity" "$ctl" gen-mac alpha

# A broken definition: its own name fails with 1 and a located diagnostic; others still work.
mkdir -p "$tmp/conf/machine.conf.d"
printf '{"name": "good"}\n' >"$tmp/conf/machine.conf.d/good.conf.json"
printf '{"name": "bad", "attrs": {"cpu": {"count": "many"}}}\n' >"$tmp/conf/machine.conf.d/bad.conf.json"
expect 1 "cat broken" "$ctl" --config-dir="$tmp/conf" cat bad
has err "bad.conf.json: \$.attrs"
expect 0 "cat next to a broken one" "$ctl" --config-dir="$tmp/conf" cat good
has out "good ("
HOME=$tmp XDG_CONFIG_HOME=$tmp expect 4 "--user reads \$XDG_CONFIG_HOME/machina" "$ctl" --user cat good
mv "$tmp/conf" "$tmp/machina"
HOME=$tmp XDG_CONFIG_HOME=$tmp expect 0 "--user finds it" "$ctl" --user cat good

exit $failed
