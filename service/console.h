/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* OpenConsole(): a relay between the guest's serial console (QEMU's console.sock, where QEMU is
 * the server and accepts one client at a time) and the caller's end of a socketpair.
 *
 * machinad holds the single connection to QEMU while someone has the console open and copies
 * bytes both ways on sd-event through bounded buffers (a full buffer stops reading from that
 * side: back-pressure, nothing is dropped while both ends live).
 *
 * Rule for several openers: the newest opener gets the console. The previous caller's socket is
 * closed (it reads EOF); guest output not yet delivered goes to the new caller, input the old
 * caller had not yet delivered is dropped. When the caller closes its end, machinad closes the
 * QEMU connection too, so nothing else is held while nobody watches. */

#include "machine.h"

#define CONSOLE_BUFFER_SIZE (64U * 1024U)

typedef struct Console Console;

/* Returns the caller's end of a new socketpair in *ret_fd (owned by the caller).
 * -ENOTCONN: the guest is not running; -EOPNOTSUPP: the guest has no serial console;
 * -EBUSY: QEMU's console is held by someone outside machinad. */
int machine_open_console(Machine *machine, int *ret_fd);

/* Disconnect both sides (the guest stopped, or the machine goes away). */
void machine_close_console(Machine *machine);

/* Whether a caller has the console open. */
bool machine_console_is_open(const Machine *machine);
