/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* machinactl console NAME: OpenConsole() → an fd on the guest's serial console, relayed to the
 * terminal. On a terminal the line is raw and three ^] within a second leave, as machinectl's
 * login does; without a terminal it relays until stdin or the console ends. */

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>

#include "ctl-bus.h"
#include "log.h"

#define ESCAPE_CHAR 0x1d        /* ^] */
#define ESCAPE_USEC 1000000ULL

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

static int write_all(int fd, const char *buf, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, buf, n);

                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN) {
                                struct pollfd p = { .fd = fd, .events = POLLOUT };

                                (void) poll(&p, 1, 1000);
                                continue;
                        }
                        return -errno;
                }
                buf += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Counts ^] presses; true when the third came within ESCAPE_USEC of the first. */
static bool escape_seen(const char *buf, size_t n, unsigned *count, uint64_t *first) {
        for (size_t i = 0; i < n; i++) {
                if (buf[i] != ESCAPE_CHAR) {
                        *count = 0;
                        continue;
                }
                if (*count == 0 || now_usec() - *first > ESCAPE_USEC) {
                        *count = 1;
                        *first = now_usec();
                } else if (++*count >= 3)
                        return true;
        }
        return false;
}

static int relay(int console, bool tty) {
        struct pollfd p[2] = {
                { .fd = STDIN_FILENO, .events = POLLIN },
                { .fd = console, .events = POLLIN },
        };
        uint64_t first = 0;
        unsigned count = 0;
        char buf[4096];
        int r;

        for (;;) {
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t n = read(console, buf, sizeof(buf));

                        if (n < 0 && errno != EAGAIN && errno != EINTR)
                                return -errno;
                        if (n == 0)
                                return 0;               /* the guest or machinad closed it */
                        if (n > 0) {
                                r = write_all(STDOUT_FILENO, buf, (size_t) n);
                                if (r < 0)
                                        return r;
                        }
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

                        if (n < 0 && errno != EAGAIN && errno != EINTR)
                                return -errno;
                        if (n == 0) {
                                /* End of input: stop reading it, keep printing the guest. */
                                (void) shutdown(console, SHUT_WR);
                                p[0].fd = -1;
                                continue;
                        }
                        if (n > 0) {
                                if (tty && escape_seen(buf, (size_t) n, &count, &first))
                                        return 0;
                                r = write_all(console, buf, (size_t) n);
                                if (r < 0)
                                        return r;
                        }
                }
        }
}

int verb_console(const CtlOptions *o, char **names) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        _cleanup_bus_ sd_bus *bus = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct termios saved, raw;
        bool tty;
        int r, code, console;

        code = ctl_check_names("console", names);
        if (code != 0)
                return code;
        if (names[1]) {
                log_error("console takes exactly one machine name.");
                return EXIT_FAILURE;
        }
        code = ctl_bus_open(o, true, &bus);
        if (code != 0)
                return code;
        code = ctl_get_machine(bus, names[0], &path);
        if (code != 0)
                return code;

        r = sd_bus_call_method(bus, MACHINA_SERVICE, path, MACHINA_MACHINE_IFACE, "OpenConsole",
                               &error, &reply, "");
        if (r < 0) {
                _cleanup_free_ char *what = NULL;

                if (asprintf(&what, "Failed to open the console of %s", names[0]) < 0)
                        what = NULL;
                return ctl_log_error(&error, r, what ?: names[0]);
        }
        r = sd_bus_message_read(reply, "h", &console);
        if (r < 0)
                return ctl_log_error(NULL, r, "Malformed OpenConsole reply");
        fd = fcntl(console, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return ctl_log_error(NULL, -errno, "Failed to take the console fd");

        tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
        if (tty) {
                if (!o->quiet)
                        fprintf(stderr, "Connected to the console of %s. Press ^] three times within 1s to leave.\r\n",
                                names[0]);
                raw = saved;
                cfmakeraw(&raw);
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &raw);
        }
        r = relay(fd, tty);
        if (tty) {
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
                if (!o->quiet)
                        fprintf(stderr, "\nConnection to the console of %s closed.\n", names[0]);
        }
        if (r < 0)
                return ctl_log_error(NULL, r, "Console relay failed");
        return 0;
}
