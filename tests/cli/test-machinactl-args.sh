#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# machinactl without a daemon: usage errors, and what a user sees when machinad or the bus
# cannot be reached (a private dbus-daemon with no org.machina on it).
# Usage: test-machinactl-args.sh MACHINACTL
set -u

ctl=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0
# Never the host's buses.
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/no-such-socket"
unset DBUS_SESSION_BUS_ADDRESS

fail() { echo "not ok - $*"; failed=1; }
ok() { echo "ok - $*"; }
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
lines() { n=$(wc -l <"$tmp/$1"); [ "$n" -eq "$2" ] || fail "$1 has $n lines, expected $2"; }

expect 1 "unknown verb" "$ctl" frobnicate
has err "Unknown command 'frobnicate'"
expect 1 "unknown option" "$ctl" --frobnicate list
expect 0 "help lists the bus verbs" "$ctl" --help
has out "shutdown NAME..."
has out "--no-ask-password"
has out "create FILE|-"
has out "edit NAME"
has out "monitor [NAME...]"
for verb in status show start stop shutdown reboot pause resume kill undefine enable disable; do
        expect 1 "$verb without a name" "$ctl" "$verb"
        has err "$verb needs at least one machine name."
        expect 1 "$verb with an empty name" "$ctl" "$verb" ""
        has err "empty machine name"
done
expect 1 "define without a file" "$ctl" define
expect 1 "create without a file" "$ctl" create
has err "create needs exactly one definition file"
expect 1 "create with two files" "$ctl" create a.json b.json
expect 1 "create from a missing file" "$ctl" create "$tmp/missing.json"
has err "$tmp/missing.json"
lines err 1
expect 1 "edit without a name" "$ctl" edit
has err "edit needs at least one machine name."
expect 1 "edit with an empty name" "$ctl" edit ""
expect 1 "edit with two names" "$ctl" edit alpha beta
has err "edit takes one machine name."
expect 1 "monitor with an empty name" "$ctl" monitor ""
has err "empty machine name"
expect 1 "list with an argument" "$ctl" list foo
expect 1 "reload with an argument" "$ctl" reload foo
expect 1 "unknown signal" "$ctl" kill -s SIGFROB alpha
has err "Unknown signal 'SIGFROB'."
expect 1 "bad --kill-whom" "$ctl" kill --kill-whom=some alpha
expect 1 "bad --timeout" "$ctl" shutdown --timeout=soon alpha
expect 1 "zero --timeout" "$ctl" shutdown --timeout=0 alpha
expect 1 "unknown property" "$ctl" show -p Frob alpha
has err "Unknown property 'Frob'."
expect 1 "bad --json" "$ctl" --json=fancy list
expect 1 "--host with --user" "$ctl" -H somewhere --user list

expect 1 "no system bus" "$ctl" list
has err "Failed to connect to the system bus"
lines err 1
expect 1 "no system bus, default verb" "$ctl"
expect 1 "no system bus, start" "$ctl" --no-ask-password start alpha

# A bus without machinad: the hint names the service.
if command -v dbus-daemon >/dev/null; then
        cat >"$tmp/bus.conf" <<EOC
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOC
        dbus-daemon --config-file="$tmp/bus.conf" --nofork --nopidfile --print-address=1 >"$tmp/addr" 2>"$tmp/bus.log" &
        bus_pid=$!
        trap 'kill $bus_pid 2>/dev/null; wait $bus_pid 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
        i=0
        while [ ! -s "$tmp/addr" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
        [ -s "$tmp/addr" ] || fail "private dbus-daemon did not start: $(cat "$tmp/bus.log")"
        export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/bus"
        expect 1 "bus without machinad" "$ctl" list
        has err "machinad (org.machina) cannot be reached"
        lines err 1
        expect 1 "start, bus without machinad" "$ctl" --no-ask-password start alpha
        has err "Failed to start alpha: machinad (org.machina) cannot be reached"
        expect 1 "monitor, bus without machinad" "$ctl" monitor
        has err "machinad (org.machina) cannot be reached"
        expect 1 "edit, bus without machinad" "$ctl" edit alpha
        has err "cannot be reached"
        echo '{"name": "tau"}' >"$tmp/tau.json"
        expect 1 "create, bus without machinad" "$ctl" --no-ask-password create "$tmp/tau.json"
        has err "Failed to create a machine from $tmp/tau.json: machinad (org.machina) cannot be reached"
        DBUS_SESSION_BUS_ADDRESS="unix:path=$tmp/bus" expect 1 "--user uses the session bus" "$ctl" --user list
        has err "cannot be reached"
fi

# bash completion: verbs and option values (machine names are checked on the bed).
comp=$(dirname "$0")/../../cli/machinactl.bash-completion
complete_words() {
        bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _machinactl; echo "${COMPREPLY[*]}"' _ "$comp" "$@"
}
[ "$(complete_words machinactl sh)" = "shutdown show" ] || fail "completion of 'sh': $(complete_words machinactl sh)"
[ "$(complete_words machinactl kill --kill-whom m)" = "main" ] || fail "completion of --kill-whom"
[ "$(complete_words machinactl --no-l)" = "--no-legend" ] || fail "completion of --no-l"
[ "$(complete_words machinactl cr)" = "create" ] || fail "completion of 'cr': $(complete_words machinactl cr)"
[ "$(complete_words machinactl mo)" = "monitor" ] || fail "completion of 'mo'"
[ "$(complete_words machinactl e)" = "enable edit" ] || fail "completion of 'e': $(complete_words machinactl e)"
ok "bash completion"

[ $failed -eq 0 ] && echo "PASS"
exit $failed
