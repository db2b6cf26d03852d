#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Golden files: "machinactl args" and "machinactl unit" of every example in data/, compared byte
# for byte with tests/golden/<example>.args and .unit. Host-independent: fixed accelerator,
# emulator path, runtime dir and helper path. MACHINA_UPDATE_GOLDEN=1 rewrites them on purpose
# (review the diff before committing).
# Usage: test-golden.sh MACHINACTL SRCDIR
set -eu

ctl=$1
src=$2
golden=$src/tests/golden
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

export MACHINA_ACCEL=tcg
opts="--config-dir=$src/data --runtime-dir=/run/machina --emulator=/usr/bin/qemu-system-x86_64 --qmp-stop-helper=/usr/libexec/machina/machina-qmp-stop"
failed=0
count=0

for def in "$src"/data/machine.conf.d/*.conf.json; do
        name=$(basename "$def" .conf.json)
        for kind in args unit; do
                # shellcheck disable=SC2086
                "$ctl" $opts "$kind" "$name" >"$tmp/$name.$kind"
                if [ "${MACHINA_UPDATE_GOLDEN:-0}" = 1 ]; then
                        cp "$tmp/$name.$kind" "$golden/$name.$kind"
                        echo "updated $golden/$name.$kind"
                elif ! cmp -s "$tmp/$name.$kind" "$golden/$name.$kind"; then
                        echo "not ok - $name.$kind differs from the golden file:"
                        diff -u "$golden/$name.$kind" "$tmp/$name.$kind" || true
                        failed=1
                else
                        echo "ok - $name.$kind"
                fi
                count=$((count + 1))
        done
done

# Every golden file belongs to an example: a removed example must take its files along.
for g in "$golden"/*.args "$golden"/*.unit; do
        [ -e "$g" ] || continue
        name=$(basename "$g"); name=${name%.*}
        if [ ! -e "$src/data/machine.conf.d/$name.conf.json" ]; then
                echo "not ok - stale golden file $g"
                failed=1
        fi
done

[ "$count" -gt 0 ] || { echo "not ok - no examples found in $src/data"; exit 1; }
exit $failed
