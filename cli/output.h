/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Output for the online verbs: the pager, colours, JSON, tables and time formatting. */

#include <json-glib/json-glib.h>
#include <libsmartcols.h>
#include <stdint.h>

#include "machinactl.h"

/* Pipes stdout into $SYSTEMD_PAGER, $PAGER or less when stdout is a terminal (not with
 * --no-pager or an empty/"cat" pager). pager_close() waits for it. */
void pager_open(const CtlOptions *o);
void pager_close(void);

/* Colours only on a terminal, and not with NO_COLOR or SYSTEMD_COLORS=0|false|no. */
bool colors_enabled(void);
const char *state_color(const char *state);     /* smartcols colour name, or NULL */
const char *ansi_color(const char *color);      /* escape sequence for a name above */
#define ANSI_NORMAL "\x1B[0m"

/* Prints the node and frees nothing; returns 0 or -errno. */
int json_print(JsonNode *node, bool pretty);

static inline void scols_unref_tablep(struct libscols_table **t) {
        scols_unref_table(*t);
}
#define _cleanup_table_ _cleanup_(scols_unref_tablep)

/* A table with the named columns (NULL-terminated), headers unless --no-legend. */
struct libscols_table *table_new(const CtlOptions *o, const char * const *columns);
/* Sets a cell; color may be NULL. Returns 0 or -errno. */
int table_set(struct libscols_line *line, size_t column, const char *text, const char *color);

/* "Thu 2024-05-02 13:04:05 UTC", or "" for 0. */
char *format_timestamp(char *buf, size_t size, uint64_t usec);
/* "3min 2s ago" relative to now. */
char *format_ago(char *buf, size_t size, uint64_t usec);
/* 1024 → "1G", 96 → "96M". */
char *format_mib(char *buf, size_t size, uint64_t mib);
/* "30", "30s", "500ms", "2min", "1h" → µs. Returns 0 or -EINVAL/-ERANGE. */
int parse_timespan(const char *s, uint64_t *ret);
