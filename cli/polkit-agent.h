/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A textual polkit agent (pkttyagent) for interactive authorization on a terminal, as
 * systemctl does: started before the first mutating call, stopped at exit. */

/* Starts pkttyagent when stdin is a terminal and we are not root; no-op otherwise or when it
 * runs already. Failures are logged at debug level only: the call then fails with polkit's
 * answer instead. */
void polkit_agent_open_if_enabled(void);
void polkit_agent_close(void);
