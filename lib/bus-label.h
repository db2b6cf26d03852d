/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* D-Bus object path labels as systemd's bus_label_escape(): every byte not [A-Za-z0-9], and a
 * leading digit, becomes "_xx" (lowercase hex); the empty string becomes "_". */

char *bus_label_escape(const char *s);
/* Inverse; returns NULL on malformed input (or -ENOMEM: errno set). */
char *bus_label_unescape(const char *label);
