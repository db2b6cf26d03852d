#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The rendered unit of every example must pass "systemd-analyze verify" and score an exposure of
# at most 1.5 in "systemd-analyze security" (threshold 15 on its 0..100 scale).
# Usage: test-unit-security.sh MACHINACTL SRCDIR QMP_STOP_HELPER
set -eu

ctl=$1
src=$2
helper=$(realpath "$3")
qemu=$(command -v qemu-system-x86_64 || true)
if [ -z "$qemu" ] || ! command -v systemd-analyze >/dev/null; then
        echo "# skipping: needs qemu-system-x86_64 and systemd-analyze"
        exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
export MACHINA_ACCEL=tcg
failed=0

for def in "$src"/data/machine.conf.d/*.conf.json; do
        name=$(basename "$def" .conf.json)
        unit=$tmp/machina-$name.service
        "$ctl" --config-dir="$src/data" --emulator="$qemu" --qmp-stop-helper="$helper" unit "$name" >"$unit"

        if ! systemd-analyze verify --man=no "$unit" >"$tmp/verify.log" 2>&1; then
                echo "not ok - $name: systemd-analyze verify"; cat "$tmp/verify.log"; failed=1
        fi
        if ! systemd-analyze security --offline=true --threshold=15 "$unit" >"$tmp/sec.log" 2>&1; then
                echo "not ok - $name: exposure above the threshold"; grep '✗' "$tmp/sec.log" || true; failed=1
        fi
        score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$tmp/sec.log")
        if [ -z "$score" ] || ! awk -v s="$score" 'BEGIN { exit !(s <= 1.5) }'; then
                echo "not ok - $name: exposure '$score' > 1.5"; failed=1
        else
                echo "ok - $name: exposure $score"
        fi
done
exit $failed
