/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-bus: time D-Bus calls in-process with sd-bus, so the figures are the daemon's and the
 * bus's, not a scripting language's message parsing. Prints one JSON object per run on stdout:
 * {"what": …, "ms": [t1, t2, …]}.
 *
 *   bench-bus ADDRESS call DEST PATH IFACE METHOD RUNS
 *       a method without arguments (ListMachines, GetManagedObjects), after one warm-up call;
 *       "ms" is call + reply walked, "walk" the walk alone (the client's share); RUNS 0: one call,
 *       walked, no warm-up and no output (a whole-process floor for `machinactl list`);
 *   bench-bus ADDRESS define PREFIX FIRST COUNT JSON_TEMPLATE
 *       DefineMachine(json, 0) of COUNT guests PREFIX-FIRST…; "@NAME@" in the template is the
 *       name; one time per call;
 *   bench-bus ADDRESS first-reply
 *       connect, then Get(org.machina.Manager, Version): for cold activation, time from before
 *       the connect to the reply. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "macro.h"

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int open_bus(const char *address, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        r = sd_bus_set_bus_client(bus, true);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

static void print_times(const char *what, const double *ms, unsigned n) {
        printf("{\"what\": \"%s\", \"ms\": [", what);
        for (unsigned i = 0; i < n; i++)
                printf("%s%.4f", i ? ", " : "", ms[i]);
        printf("]}\n");
}

static int do_call(sd_bus *bus, char **argv) {
        unsigned runs = (unsigned) atoi(argv[5]);
        _cleanup_free_ double *ms = NULL, *walk = NULL;
        int r;

        if (runs > 100000)
                return -EINVAL;
        if (runs == 0) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

                r = sd_bus_call_method(bus, argv[1], argv[2], argv[3], argv[4], &error, &reply, "");
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", argv[4], error.message ?: strerror(-r));
                        return r;
                }
                return sd_bus_message_skip(reply, NULL);
        }
        ms = calloc(runs, sizeof(double));
        walk = calloc(runs, sizeof(double));
        if (!ms || !walk)
                return -ENOMEM;
        for (unsigned i = 0; i <= runs; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                double t0 = now_ms(), t1;

                r = sd_bus_call_method(bus, argv[1], argv[2], argv[3], argv[4], &error, &reply, "");
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", argv[4], error.message ?: strerror(-r));
                        return r;
                }
                /* Walk the whole reply, as a client that uses it would. */
                t1 = now_ms();
                r = sd_bus_message_skip(reply, NULL);
                if (r < 0)
                        return r;
                if (i > 0) {  /* the first call is a warm-up */
                        ms[i - 1] = now_ms() - t0;
                        walk[i - 1] = now_ms() - t1;
                }
        }
        print_times(argv[4], ms, runs);
        print_times("walk", walk, runs);
        return 0;
}

static char *expand(const char *template, const char *name) {
        size_t n = strlen(template) + 1;
        const char *p;
        char *s, *o;

        for (p = template; (p = strstr(p, "@NAME@")); p += 6)
                n += strlen(name);
        s = o = malloc(n);
        if (!s)
                return NULL;
        for (p = template; *p;) {
                if (strncmp(p, "@NAME@", 6) == 0) {
                        o = stpcpy(o, name);
                        p += 6;
                } else
                        *o++ = *p++;
        }
        *o = 0;
        return s;
}

static int do_define(sd_bus *bus, char **argv) {
        unsigned first = (unsigned) atoi(argv[2]), count = (unsigned) atoi(argv[3]);
        _cleanup_free_ double *ms = NULL;
        int r;

        if (count == 0 || count > 100000)
                return -EINVAL;
        ms = calloc(count, sizeof(double));
        if (!ms)
                return -ENOMEM;
        for (unsigned i = 0; i < count; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                _cleanup_free_ char *name = NULL, *json = NULL;
                double t0;

                if (asprintf(&name, "%s-%u", argv[1], first + i) < 0)
                        return -ENOMEM;
                json = expand(argv[4], name);
                if (!json)
                        return -ENOMEM;
                t0 = now_ms();
                r = sd_bus_call_method(bus, "org.machina", "/org/machina", "org.machina.Manager",
                                       "DefineMachine", &error, &reply, "st", json, (uint64_t) 0);
                if (r < 0) {
                        fprintf(stderr, "DefineMachine %s: %s\n", name, error.message ?: strerror(-r));
                        return r;
                }
                ms[i] = now_ms() - t0;
        }
        print_times("DefineMachine", ms, count);
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        double t0 = now_ms(), t;
        int r;

        if (argc < 3) {
                fprintf(stderr, "usage: see the header of bench/bench-bus.c\n");
                return EXIT_FAILURE;
        }
        r = open_bus(argv[1], &bus);
        if (r < 0) {
                fprintf(stderr, "connect to %s: %s\n", argv[1], strerror(-r));
                return EXIT_FAILURE;
        }
        if (streq(argv[2], "call") && argc == 8)
                r = do_call(bus, argv + 2);
        else if (streq(argv[2], "define") && argc == 7)
                r = do_define(bus, argv + 2);
        else if (streq(argv[2], "first-reply") && argc == 3) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_free_ char *v = NULL;

                r = sd_bus_get_property_string(bus, "org.machina", "/org/machina", "org.machina.Manager",
                                               "Version", &error, &v);
                t = now_ms() - t0;
                if (r < 0)
                        fprintf(stderr, "Version: %s\n", error.message ?: strerror(-r));
                else
                        print_times("first-reply", &t, 1);
        } else {
                fprintf(stderr, "usage: see the header of bench/bench-bus.c\n");
                return EXIT_FAILURE;
        }
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
