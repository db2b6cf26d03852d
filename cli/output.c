/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "log.h"
#include "output.h"

static pid_t pager_pid;

void pager_open(const CtlOptions *o) {
        const char *pager;
        int fds[2];
        pid_t pid;

        if (o->no_pager || pager_pid > 0 || !isatty(STDOUT_FILENO))
                return;
        pager = getenv("SYSTEMD_PAGER") ?: getenv("PAGER");
        if (pager && (isempty(pager) || streq(pager, "cat")))
                return;
        if (pipe(fds) < 0)
                return (void) log_debug_errno(errno, "Failed to create the pager pipe: %m");
        fflush(stdout);
        pid = fork();
        if (pid < 0) {
                (void) close(fds[0]);
                (void) close(fds[1]);
                return (void) log_debug_errno(errno, "Failed to fork the pager: %m");
        }
        if (pid == 0) {
                if (dup2(fds[0], STDIN_FILENO) < 0)
                        _exit(EXIT_FAILURE);
                (void) close(fds[0]);
                (void) close(fds[1]);
                /* As systemd: quit if one screen, raw colours, no init, keep the screen. */
                (void) setenv("LESS", "FRSXMK", 0);
                if (pager)
                        execl("/bin/sh", "sh", "-c", pager, (char *) NULL);
                execlp("less", "less", (char *) NULL);
                execlp("more", "more", (char *) NULL);
                _exit(EXIT_FAILURE);
        }
        pager_pid = pid;
        if (dup2(fds[1], STDOUT_FILENO) < 0)
                log_debug_errno(errno, "Failed to redirect stdout to the pager: %m");
        (void) close(fds[0]);
        (void) close(fds[1]);
        /* A pager that quits early must not kill us with SIGPIPE before the exit code is set. */
        (void) signal(SIGPIPE, SIG_IGN);
}

void pager_close(void) {
        if (pager_pid <= 0)
                return;
        fflush(stdout);
        (void) close(STDOUT_FILENO);
        (void) waitpid(pager_pid, NULL, 0);
        pager_pid = 0;
}

bool colors_enabled(void) {
        static int cached = -1;
        const char *e;

        if (cached >= 0)
                return cached;
        e = getenv("SYSTEMD_COLORS");
        if (getenv("NO_COLOR"))
                cached = false;
        else if (e && IN_SET(e[0], '0', 'f', 'n'))     /* 0, false, no */
                cached = false;
        else if (e && IN_SET(e[0], '1', 't', 'y'))     /* forced on */
                cached = true;
        else
                cached = isatty(STDOUT_FILENO) && !streq_ptr(getenv("TERM"), "dumb");
        return cached;
}

const char *state_color(const char *state) {
        if (!colors_enabled() || !state)
                return NULL;
        if (streq(state, "running"))
                return "green";
        if (streq(state, "crashed"))
                return "red";
        if (streq(state, "stopped"))
                return NULL;
        return "yellow";        /* starting, stopping, paused */
}

const char *ansi_color(const char *color) {
        if (!color)
                return "";
        if (streq(color, "green"))
                return "\x1B[0;1;32m";
        if (streq(color, "red"))
                return "\x1B[0;1;31m";
        if (streq(color, "yellow"))
                return "\x1B[0;1;33m";
        return "";
}

int json_print(JsonNode *node, bool pretty) {
        g_autoptr(JsonGenerator) gen = json_generator_new();
        g_autofree char *text = NULL;

        json_generator_set_pretty(gen, pretty);
        json_generator_set_root(gen, node);
        text = json_generator_to_data(gen, NULL);
        if (!text)
                return -ENOMEM;
        puts(text);
        return 0;
}

struct libscols_table *table_new(const CtlOptions *o, const char * const *columns) {
        struct libscols_table *t;

        t = scols_new_table();
        if (!t)
                return NULL;
        scols_table_enable_noheadings(t, o->no_legend);
        scols_table_enable_colors(t, colors_enabled());
        for (size_t i = 0; columns[i]; i++)
                if (!scols_table_new_column(t, columns[i], 0, 0)) {
                        scols_unref_table(t);
                        return NULL;
                }
        return t;
}

int table_set(struct libscols_line *line, size_t column, const char *text, const char *color) {
        int r;

        r = scols_line_set_data(line, column, text);
        if (r < 0)
                return r;
        if (color)
                r = scols_cell_set_color(scols_line_get_cell(line, column), color);
        return r;
}

char *format_timestamp(char *buf, size_t size, uint64_t usec) {
        time_t sec = (time_t) (usec / 1000000);
        struct tm tm;

        if (usec == 0 || !localtime_r(&sec, &tm) || strftime(buf, size, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                buf[0] = 0;
        return buf;
}

char *format_ago(char *buf, size_t size, uint64_t usec) {
        struct timespec ts;
        uint64_t now, d;

        clock_gettime(CLOCK_REALTIME, &ts);
        now = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
        d = (now > usec ? now - usec : 0) / 1000000;
        if (d >= 86400)
                snprintf(buf, size, "%" PRIu64 " days ago", d / 86400);
        else if (d >= 3600)
                snprintf(buf, size, "%" PRIu64 "h %" PRIu64 "min ago", d / 3600, d % 3600 / 60);
        else if (d >= 60)
                snprintf(buf, size, "%" PRIu64 "min %" PRIu64 "s ago", d / 60, d % 60);
        else
                snprintf(buf, size, "%" PRIu64 "s ago", d);
        return buf;
}

char *format_mib(char *buf, size_t size, uint64_t mib) {
        if (mib >= 1024 && mib % 1024 == 0)
                snprintf(buf, size, "%" PRIu64 "G", mib / 1024);
        else
                snprintf(buf, size, "%" PRIu64 "M", mib);
        return buf;
}

int parse_timespan(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                { "",    1000000ULL    },
                { "s",   1000000ULL    },
                { "sec", 1000000ULL    },
                { "ms",  1000ULL       },
                { "us",  1ULL          },
                { "m",   60000000ULL   },
                { "min", 60000000ULL   },
                { "h",   3600000000ULL },
        };
        unsigned long long v;
        char *end;

        if (isempty(s) || !IN_SET(s[0], '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(end, units[i].suffix)) {
                        if (v > UINT64_MAX / units[i].usec)
                                return -ERANGE;
                        *ret = v * units[i].usec;
                        return 0;
                }
        return -EINVAL;
}
