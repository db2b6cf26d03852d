/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qmp-standin: a few hundred bytes of RSS that look like QEMU to machinad, so the benchmark can
 * run a thousand "guests" as real transient units on a machine that could not hold a thousand
 * QEMUs. Selected by the host file's "emulator" key.
 *
 * It takes QEMU's argv and ignores everything but:
 *   -chardev socket,id=ID,path=PATH,server=on,…   listened on (stale socket replaced);
 *   -mon chardev=ID,mode=control                   that chardev speaks QMP;
 *   -S                                             status "prelaunch" until "cont".
 * Other server sockets (a serial console) accept and discard. QMP: greeting, capabilities
 * negotiation, query-status, stop/cont (STOP/RESUME events), system_reset (RESET),
 * system_powerdown (POWERDOWN, then SHUTDOWN guest-shutdown and exit 0, as a guest with ACPI
 * does), quit (SHUTDOWN host-qmp-quit, exit 0); SIGTERM/SIGINT → SHUTDOWN host-signal, exit 0.
 * Events go to every negotiated monitor client, as QEMU does. */

#include <errno.h>
#include <json-glib/json-glib.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "macro.h"

#define MAX_LISTENERS 8
#define MAX_CLIENTS 32
#define MAX_MESSAGE (64 * 1024)

typedef struct Listener {
        char id[64];
        char path[sizeof(((struct sockaddr_un *) NULL)->sun_path)];
        bool qmp;
        int fd;
} Listener;

typedef struct Client {
        int fd;
        bool qmp;
        bool negotiated;
        char *buf;
        size_t len;
} Client;

static Listener listeners[MAX_LISTENERS];
static size_t n_listeners;
static Client clients[MAX_CLIENTS];
typedef enum RunState {
        RUN_STATE_RUNNING,
        RUN_STATE_PAUSED,
        RUN_STATE_PRELAUNCH,
} RunState;

static const char * const run_state_names[] = {
        [RUN_STATE_RUNNING] = "running",
        [RUN_STATE_PAUSED] = "paused",
        [RUN_STATE_PRELAUNCH] = "prelaunch",
};

static RunState run_state = RUN_STATE_RUNNING;

/* One option value of a QEMU "-chardev" string: "key=value" up to an unescaped comma; ",," is
 * a literal comma. Returns false if absent or too long. */
static bool qemu_opt_get(const char *opts, const char *key, char *ret, size_t size) {
        size_t klen = strlen(key);
        const char *p = opts;

        while (*p) {
                bool match = strncmp(p, key, klen) == 0 && p[klen] == '=';
                size_t n = 0;

                if (match)
                        p += klen + 1;
                for (; *p; p++) {
                        if (*p == ',') {
                                if (p[1] != ',')
                                        break;
                                p++;
                        }
                        if (match) {
                                if (n + 1 >= size)
                                        return false;
                                ret[n++] = *p;
                        }
                }
                if (match) {
                        ret[n] = 0;
                        return true;
                }
                if (*p == ',')
                        p++;
        }
        return false;
}

static Listener *find_listener(const char *id) {
        for (Listener *l = listeners; l < listeners + n_listeners; l++)
                if (streq(l->id, id))
                        return l;
        return NULL;
}

static int parse_argv(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                char id[64], path[sizeof(listeners[0].path)], server[8], mode[16];

                if (streq(argv[i], "-S")) {
                        run_state = RUN_STATE_PRELAUNCH;
                        continue;
                }
                if (i + 1 >= argc)
                        break;
                if (streq(argv[i], "-chardev") && strncmp(argv[i + 1], "socket,", 7) == 0) {
                        const char *o = argv[i + 1] + 7;

                        if (!qemu_opt_get(o, "server", server, sizeof(server)) || !streq(server, "on"))
                                continue;
                        if (!qemu_opt_get(o, "id", id, sizeof(id)) || !qemu_opt_get(o, "path", path, sizeof(path)))
                                return -EINVAL;
                        if (n_listeners >= MAX_LISTENERS)
                                return -E2BIG;
                        Listener *l = &listeners[n_listeners++];
                        strcpy(l->id, id);
                        strcpy(l->path, path);
                        l->fd = -EBADF;
                } else if (streq(argv[i], "-mon") && qemu_opt_get(argv[i + 1], "chardev", id, sizeof(id)) &&
                           qemu_opt_get(argv[i + 1], "mode", mode, sizeof(mode)) && streq(mode, "control")) {
                        Listener *l = find_listener(id);
                        if (l)
                                l->qmp = true;
                }
        }
        return 0;
}

static int listen_unix(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
        (void) unlink(path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
                return -errno;
        return TAKE_FD(fd);
}

static void send_all(int fd, const char *s) {
        size_t n = strlen(s);

        while (n > 0) {
                ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                struct pollfd p = { .fd = fd, .events = POLLOUT };
                                (void) poll(&p, 1, 1000);
                                continue;
                        }
                        return;  /* the peer went away; its POLLHUP closes it */
                }
                s += k;
                n -= (size_t) k;
        }
}

static void emit_event(const char *event, const char *data) {
        struct timeval tv;
        char *msg = NULL;

        (void) gettimeofday(&tv, NULL);
        if (asprintf(&msg, "{\"timestamp\": {\"seconds\": %lld, \"microseconds\": %ld}, \"event\": \"%s\"%s%s}\r\n",
                     (long long) tv.tv_sec, (long) tv.tv_usec, event, data ? ", \"data\": " : "", data ?: "") < 0)
                return;
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                if (clients[i].fd >= 0 && clients[i].qmp && clients[i].negotiated)
                        send_all(clients[i].fd, msg);
        free(msg);
}

static void cleanup_and_exit(int code) {
        for (size_t i = 0; i < n_listeners; i++)
                (void) unlink(listeners[i].path);
        exit(code);
}

static void reply(Client *c, const char *body, const char *id) {
        _cleanup_free_ char *msg = NULL;

        if (asprintf(&msg, "{%s%s%s}\r\n", body, id ? ", \"id\": " : "", id ?: "") >= 0)
                send_all(c->fd, msg);
}

static void handle_command(Client *c, const char *text, size_t len) {
        g_autoptr(JsonParser) parser = json_parser_new();
        _cleanup_free_ char *err = NULL;
        g_autofree char *id = NULL;
        const char *cmd = NULL;
        JsonNode *root;

        if (!json_parser_load_from_data(parser, text, (gssize) len, NULL) ||
            !JSON_NODE_HOLDS_OBJECT(root = json_parser_get_root(parser))) {
                reply(c, "\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error\"}", NULL);
                return;
        }
        JsonObject *o = json_node_get_object(root);
        if (json_object_has_member(o, "id"))
                id = json_to_string(json_object_get_member(o, "id"), false);
        cmd = json_object_get_string_member_with_default(o, "execute", NULL);
        if (!cmd) {
                reply(c, "\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input lacks member 'execute'\"}", id);
                return;
        }
        if (!c->negotiated) {
                if (streq(cmd, "qmp_capabilities")) {
                        c->negotiated = true;
                        reply(c, "\"return\": {}", id);
                } else
                        reply(c, "\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
                              "\"Expecting capabilities negotiation with 'qmp_capabilities'\"}", id);
                return;
        }
        if (streq(cmd, "query-status")) {
                _cleanup_free_ char *body = NULL;
                if (asprintf(&body, "\"return\": {\"status\": \"%s\", \"singlestep\": false, \"running\": %s}",
                             run_state_names[run_state], run_state == RUN_STATE_RUNNING ? "true" : "false") >= 0)
                        reply(c, body, id);
        } else if (streq(cmd, "stop")) {
                if (run_state == RUN_STATE_RUNNING) {
                        run_state = RUN_STATE_PAUSED;
                        emit_event("STOP", NULL);
                }
                reply(c, "\"return\": {}", id);
        } else if (streq(cmd, "cont")) {
                if (run_state != RUN_STATE_RUNNING) {
                        run_state = RUN_STATE_RUNNING;
                        emit_event("RESUME", NULL);
                }
                reply(c, "\"return\": {}", id);
        } else if (streq(cmd, "system_reset")) {
                reply(c, "\"return\": {}", id);
                emit_event("RESET", "{\"guest\": false, \"reason\": \"host-qmp-system-reset\"}");
        } else if (streq(cmd, "system_powerdown")) {
                reply(c, "\"return\": {}", id);
                emit_event("POWERDOWN", NULL);
                /* A paused guest cannot see the button, as with QEMU. */
                if (run_state == RUN_STATE_RUNNING) {
                        emit_event("SHUTDOWN", "{\"guest\": true, \"reason\": \"guest-shutdown\"}");
                        cleanup_and_exit(EXIT_SUCCESS);
                }
        } else if (streq(cmd, "quit")) {
                reply(c, "\"return\": {}", id);
                emit_event("SHUTDOWN", "{\"guest\": false, \"reason\": \"host-qmp-quit\"}");
                cleanup_and_exit(EXIT_SUCCESS);
        } else {
                if (asprintf(&err, "\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command %s has not been found\"}",
                             cmd) >= 0)
                        reply(c, err, id);
        }
}

static void client_close(Client *c) {
        if (c->fd >= 0)
                close(c->fd);
        free(c->buf);
        *c = (Client) { .fd = -EBADF };
}

/* Split the stream into top-level JSON objects (QEMU's parser is streaming too: no newline
 * needed), string-aware so braces in strings don't count. */
static void client_process(Client *c) {
        size_t start = 0;
        int depth = 0;
        bool in_string = false, escaped = false;

        for (size_t i = 0; i < c->len; i++) {
                char ch = c->buf[i];

                if (in_string) {
                        if (escaped)
                                escaped = false;
                        else if (ch == '\\')
                                escaped = true;
                        else if (ch == '"')
                                in_string = false;
                        continue;
                }
                if (ch == '"')
                        in_string = true;
                else if (ch == '{') {
                        if (depth++ == 0)
                                start = i;
                } else if (ch == '}' && depth > 0 && --depth == 0) {
                        handle_command(c, c->buf + start, i - start + 1);
                        if (c->fd < 0)
                                return;
                        memmove(c->buf, c->buf + i + 1, c->len - i - 1);
                        c->len -= i + 1;
                        i = (size_t) -1;
                        in_string = escaped = false;
                } else if (depth == 0 && ch != ' ' && ch != '\r' && ch != '\n' && ch != '\t') {
                        /* Garbage between objects: drop it, as QEMU's lexer would after an error. */
                        memmove(c->buf + i, c->buf + i + 1, c->len - i - 1);
                        c->len--;
                        i--;
                }
        }
        if (depth == 0) {
                c->len = 0;  /* only whitespace left */
                return;
        }
        /* Keep the partial object; drop everything before it. */
        if (start > 0) {
                memmove(c->buf, c->buf + start, c->len - start);
                c->len -= start;
        }
}

static void client_read(Client *c) {
        char tmp[4096];
        ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);

        if (n < 0 && IN_SET(errno, EAGAIN, EINTR))
                return;
        if (n <= 0) {
                client_close(c);
                return;
        }
        if (!c->qmp)
                return;  /* a console nobody types into */
        if (c->len + (size_t) n > MAX_MESSAGE) {
                client_close(c);
                return;
        }
        char *b = realloc(c->buf, c->len + (size_t) n);
        if (!b) {
                client_close(c);
                return;
        }
        c->buf = b;
        memcpy(c->buf + c->len, tmp, (size_t) n);
        c->len += (size_t) n;
        client_process(c);
}

static void accept_client(Listener *l) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd < 0)
                return;
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                if (clients[i].fd < 0) {
                        clients[i] = (Client) { .fd = fd, .qmp = l->qmp };
                        if (l->qmp)
                                send_all(fd, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
                                         "\"package\": \"machina qmp-standin\"}, \"capabilities\": [\"oob\"]}}\r\n");
                        return;
                }
        close(fd);
}

int main(int argc, char **argv) {
        struct pollfd pfd[1 + MAX_LISTENERS + MAX_CLIENTS];
        sigset_t mask;
        int sfd, r;

        r = parse_argv(argc, argv);
        if (r < 0) {
                fprintf(stderr, "qmp-standin: bad -chardev option: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                clients[i].fd = -EBADF;
        for (size_t i = 0; i < n_listeners; i++) {
                listeners[i].fd = listen_unix(listeners[i].path);
                if (listeners[i].fd < 0) {
                        fprintf(stderr, "qmp-standin: listen on %s: %s\n", listeners[i].path, strerror(-listeners[i].fd));
                        cleanup_and_exit(EXIT_FAILURE);
                }
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sfd < 0) {
                fprintf(stderr, "qmp-standin: signalfd: %m\n");
                cleanup_and_exit(EXIT_FAILURE);
        }

        for (;;) {
                size_t n = 0;

                pfd[n++] = (struct pollfd) { .fd = sfd, .events = POLLIN };
                for (size_t i = 0; i < n_listeners; i++)
                        pfd[n++] = (struct pollfd) { .fd = listeners[i].fd, .events = POLLIN };
                for (size_t i = 0; i < MAX_CLIENTS; i++)
                        pfd[n++] = (struct pollfd) { .fd = clients[i].fd, .events = POLLIN };  /* -1: ignored */

                if (poll(pfd, n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        cleanup_and_exit(EXIT_FAILURE);
                }
                if (pfd[0].revents) {
                        emit_event("SHUTDOWN", "{\"guest\": false, \"reason\": \"host-signal\"}");
                        cleanup_and_exit(EXIT_SUCCESS);
                }
                for (size_t i = 0; i < n_listeners; i++)
                        if (pfd[1 + i].revents & POLLIN)
                                accept_client(&listeners[i]);
                for (size_t i = 0; i < MAX_CLIENTS; i++)
                        if (clients[i].fd >= 0 && pfd[1 + n_listeners + i].revents)
                                client_read(&clients[i]);
        }
}
