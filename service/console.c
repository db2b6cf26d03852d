/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-event.h>

#include "console.h"
#include "log.h"
#include "manager.h"
#include "qemu-argv.h"

/* One direction of the relay: bytes read from one side, not yet written to the other. */
typedef struct ConsoleBuffer {
        uint8_t data[CONSOLE_BUFFER_SIZE];
        size_t n;
} ConsoleBuffer;

struct Console {
        Machine *machine;
        int qemu_fd;
        int client_fd;
        sd_event_source *qemu_source;
        sd_event_source *client_source;
        ConsoleBuffer to_client;        /* guest output */
        ConsoleBuffer to_qemu;          /* caller input */
};

static Console *console_free(Console *c) {
        if (!c)
                return NULL;
        sd_event_source_disable_unref(c->qemu_source);
        sd_event_source_disable_unref(c->client_source);
        safe_close(c->qemu_fd);
        safe_close(c->client_fd);
        free(c);
        return NULL;
}

void machine_close_console(Machine *machine) {
        if (!machine->console)
                return;
        log_debug("Console of %s closed.", machine->name);
        machine->console = console_free(machine->console);
}

bool machine_console_is_open(const Machine *machine) {
        return machine->console;
}

/* Read from fd into b while there is room; 0 on EOF, 1 otherwise, -errno on error. */
static int buffer_fill(ConsoleBuffer *b, int fd) {
        ssize_t k;

        if (b->n >= sizeof(b->data))
                return 1;
        k = read(fd, b->data + b->n, sizeof(b->data) - b->n);
        if (k < 0)
                return IN_SET(errno, EAGAIN, EINTR) ? 1 : -errno;
        if (k == 0)
                return 0;
        b->n += (size_t) k;
        return 1;
}

static int buffer_drain(ConsoleBuffer *b, int fd) {
        ssize_t k;

        if (b->n == 0)
                return 0;
        k = send(fd, b->data, b->n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0)
                return IN_SET(errno, EAGAIN, EINTR) ? 0 : -errno;
        memmove(b->data, b->data + k, b->n - (size_t) k);
        b->n -= (size_t) k;
        return 0;
}

/* Watch for input only where there is room for it, for output only where something waits. */
static void update_events(Console *c) {
        (void) sd_event_source_set_io_events(c->qemu_source,
                        (c->to_client.n < sizeof(c->to_client.data) ? EPOLLIN : 0) |
                        (c->to_qemu.n > 0 ? EPOLLOUT : 0));
        if (c->client_source)
                (void) sd_event_source_set_io_events(c->client_source,
                                (c->to_qemu.n < sizeof(c->to_qemu.data) ? EPOLLIN : 0) |
                                (c->to_client.n > 0 ? EPOLLOUT : 0));
}

static int on_qemu_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Console *c = userdata;
        Machine *machine = c->machine;
        int r = 1;

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                r = buffer_fill(&c->to_client, c->qemu_fd);
        /* Hung up with our buffer full: nothing more will come, do not spin on the HUP. */
        if (r > 0 && (revents & (EPOLLHUP | EPOLLERR)) && c->to_client.n >= sizeof(c->to_client.data))
                r = 0;
        if (r > 0 && (revents & EPOLLOUT))
                r = buffer_drain(&c->to_qemu, c->qemu_fd) < 0 ? -EPIPE : 1;
        if (r <= 0) {
                /* QEMU closed the console (it exits): hand over what it said last, then end. */
                (void) buffer_drain(&c->to_client, c->client_fd);
                log_debug("Console of %s: QEMU side ended: %s", machine->name,
                          r < 0 ? strerror(-r) : "EOF");
                machine_close_console(machine);
                return 0;
        }
        if (c->client_fd >= 0 && buffer_drain(&c->to_client, c->client_fd) < 0) {
                machine_close_console(machine);
                return 0;
        }
        update_events(c);
        return 0;
}

static int on_client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Console *c = userdata;
        Machine *machine = c->machine;
        int r = 1;

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                r = buffer_fill(&c->to_qemu, c->client_fd);
        /* Hung up with our buffer full: nothing more will come, do not spin on the HUP. */
        if (r > 0 && (revents & (EPOLLHUP | EPOLLERR)) && c->to_qemu.n >= sizeof(c->to_qemu.data))
                r = 0;
        if (r > 0 && (revents & EPOLLOUT))
                r = buffer_drain(&c->to_client, c->client_fd) < 0 ? -EPIPE : 1;
        if (r <= 0) {
                /* The caller is gone: let go of QEMU's console too. */
                (void) buffer_drain(&c->to_qemu, c->qemu_fd);
                machine_close_console(machine);
                return 0;
        }
        if (buffer_drain(&c->to_qemu, c->qemu_fd) < 0) {
                machine_close_console(machine);
                return 0;
        }
        update_events(c);
        return 0;
}

static int connect_qemu(const char *path, int *ret) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* A unix stream connect completes at once or fails; EAGAIN means QEMU's backlog holds
         * somebody else's connection already. */
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return errno == EAGAIN ? -EBUSY : -errno;
        *ret = TAKE_FD(fd);
        return 0;
}

/* Attach a new caller: returns the caller's end. */
static int console_attach_client(Console *c, int *ret_fd) {
        _cleanup_close_ int ours = -EBADF, theirs = -EBADF;
        int pair[2], r;

        /* Our end is non-blocking; theirs stays blocking (O_NONBLOCK would travel with the fd). */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
                return -errno;
        ours = pair[0];
        theirs = pair[1];
        if (fcntl(ours, F_SETFL, O_NONBLOCK) < 0)
                return -errno;

        /* Newest opener wins: the previous caller reads EOF; its undelivered input is dropped. */
        c->client_source = sd_event_source_disable_unref(c->client_source);
        safe_close(c->client_fd);
        c->client_fd = -EBADF;
        c->to_qemu.n = 0;
        r = sd_event_add_io(c->machine->manager->event, &c->client_source, ours, EPOLLIN,
                            on_client_io, c);
        if (r < 0)
                return r;
        c->client_fd = TAKE_FD(ours);
        update_events(c);
        *ret_fd = TAKE_FD(theirs);
        return 0;
}

int machine_open_console(Machine *machine, int *ret_fd) {
        _cleanup_free_ char *path = NULL;
        Console *c;
        int r;

        if (!machine_is_active(machine) || !machine->runtime_dir)
                return -ENOTCONN;
        if (machine->resolved->attrs.console == CONSOLE_NONE)
                return -EOPNOTSUPP;

        if (!machine->console) {
                if (asprintf(&path, "%s/" RUNTIME_CONSOLE_SOCKET, machine->runtime_dir) < 0)
                        return -ENOMEM;
                c = calloc(1, sizeof(Console));
                if (!c)
                        return -ENOMEM;
                c->machine = machine;
                c->client_fd = -EBADF;
                r = connect_qemu(path, &c->qemu_fd);
                if (r < 0) {
                        c->qemu_fd = -EBADF;
                        console_free(c);
                        return r;
                }
                r = sd_event_add_io(machine->manager->event, &c->qemu_source, c->qemu_fd, EPOLLIN,
                                    on_qemu_io, c);
                if (r < 0) {
                        console_free(c);
                        return r;
                }
                machine->console = c;
        }
        r = console_attach_client(machine->console, ret_fd);
        if (r < 0 && machine->console->client_fd < 0)
                machine_close_console(machine);
        return r;
}
