/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <inttypes.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "log.h"
#include "qmp.h"

/* A read goes into a stack buffer; only an incomplete tail line is copied to the heap. */
#define QMP_READ_SIZE (16U * 1024U)
/* Unix sockets answer -EAGAIN (not EINPROGRESS) when the listen backlog is full: retry. */
#define QMP_CONNECT_RETRY_USEC (10U * 1000U)
#define QMP_CONNECT_RETRY_MAX 200U

#ifndef new0
#define new0(t, n) ((t *) calloc((n), sizeof(t)))
#endif
#ifndef mfree
#define mfree(p) ({ free(p); (void *) NULL; })
#endif

typedef enum QmpState {
        QMP_STATE_CONNECTING,           /* connect() in progress or retrying */
        QMP_STATE_GREETING,             /* waiting for {"QMP": …} */
        QMP_STATE_NEGOTIATING,          /* qmp_capabilities sent */
        QMP_STATE_READY,
        QMP_STATE_DISCONNECTED,
} QmpState;

typedef struct QmpCommand QmpCommand;
struct QmpCommand {
        QmpCommand *next;
        int64_t id;
        char *text;                     /* serialized line until it is moved to the write buffer */
        QmpReplyHandler callback;
        void *userdata;
};

struct QmpClient {
        unsigned n_ref;
        unsigned n_dispatch;            /* > 0 while one of our event callbacks runs */
        bool dead;                      /* last reference dropped during dispatch: free on leave */

        sd_event *event;
        sd_event_source *io_source, *retry_source;
        int fd;
        char *path;
        unsigned n_connect_retries;
        QmpState state;
        bool write_shut;                /* peer stopped reading (EPIPE): wait for EOF */

        char *rbuf;                     /* incomplete line carried over between reads */
        size_t rbuf_size;
        char *wbuf;
        size_t wbuf_size, wbuf_offset;

        QmpCommand *pending_head, *pending_tail;
        unsigned n_pending;
        int64_t next_id;
        int64_t capabilities_id;

        bool have_version;
        unsigned version[3];

        QmpReadyHandler ready_callback;
        void *ready_userdata;
        QmpEventHandler event_callback;
        void *event_userdata;
        QmpDisconnectHandler disconnect_callback;
        void *disconnect_userdata;
};

static const char *const qmp_error_class_table[_QMP_ERROR_CLASS_MAX] = {
        [QMP_ERROR_GENERIC]           = "GenericError",
        [QMP_ERROR_COMMAND_NOT_FOUND] = "CommandNotFound",
        [QMP_ERROR_DEVICE_NOT_ACTIVE] = "DeviceNotActive",
        [QMP_ERROR_DEVICE_NOT_FOUND]  = "DeviceNotFound",
        [QMP_ERROR_KVM_MISSING_CAP]   = "KVMMissingCap",
};

DEFINE_STRING_TABLE_LOOKUP(qmp_error_class, QmpErrorClass);

int qmp_error_class_to_errno(const char *error_class) {
        static const int table[_QMP_ERROR_CLASS_MAX] = {
                [QMP_ERROR_GENERIC]           = EIO,
                [QMP_ERROR_COMMAND_NOT_FOUND] = EOPNOTSUPP,
                [QMP_ERROR_DEVICE_NOT_ACTIVE] = ENXIO,
                [QMP_ERROR_DEVICE_NOT_FOUND]  = ENODEV,
                [QMP_ERROR_KVM_MISSING_CAP]   = EOPNOTSUPP,
        };
        QmpErrorClass k = qmp_error_class_from_string(error_class);

        if (k < 0)
                return -EIO;
        return -table[k];
}

static QmpCommand *qmp_command_free(QmpCommand *cmd) {
        if (!cmd)
                return NULL;
        g_free(cmd->text);
        free(cmd);
        return NULL;
}

static void client_free(QmpClient *c) {
        while (c->pending_head) {
                QmpCommand *next = c->pending_head->next;

                qmp_command_free(c->pending_head);
                c->pending_head = next;
        }
        sd_event_source_disable_unref(c->io_source);
        sd_event_source_disable_unref(c->retry_source);
        safe_close(c->fd);
        sd_event_unref(c->event);
        free(c->path);
        free(c->rbuf);
        free(c->wbuf);
        free(c);
}

QmpClient *qmp_client_ref(QmpClient *c) {
        if (c)
                c->n_ref++;
        return c;
}

QmpClient *qmp_client_unref(QmpClient *c) {
        if (!c || --c->n_ref > 0)
                return NULL;

        /* Inside one of our own callbacks the dispatcher still walks this object: only mark it,
         * stop I/O, and let client_leave() free it. No handler is called from here on. */
        if (c->n_dispatch > 0) {
                c->dead = true;
                c->io_source = sd_event_source_disable_unref(c->io_source);
                c->retry_source = sd_event_source_disable_unref(c->retry_source);
                return NULL;
        }
        client_free(c);
        return NULL;
}

static void client_enter(QmpClient *c) {
        c->n_dispatch++;
}

static void client_leave(QmpClient *c) {
        if (--c->n_dispatch == 0 && c->dead)
                client_free(c);
}

/* True while handlers may still be called and I/O continues. */
static bool client_alive(QmpClient *c) {
        return !c->dead && c->state != QMP_STATE_DISCONNECTED;
}

void qmp_client_set_ready_handler(QmpClient *c, QmpReadyHandler cb, void *userdata) {
        c->ready_callback = cb;
        c->ready_userdata = userdata;
}

void qmp_client_set_event_handler(QmpClient *c, QmpEventHandler cb, void *userdata) {
        c->event_callback = cb;
        c->event_userdata = userdata;
}

void qmp_client_set_disconnect_handler(QmpClient *c, QmpDisconnectHandler cb, void *userdata) {
        c->disconnect_callback = cb;
        c->disconnect_userdata = userdata;
}

bool qmp_client_is_ready(QmpClient *c) {
        return c && !c->dead && c->state == QMP_STATE_READY;
}

bool qmp_client_is_connected(QmpClient *c) {
        return c && client_alive(c);
}

unsigned qmp_client_n_pending(QmpClient *c) {
        return c ? c->n_pending : 0;
}

int qmp_client_get_version(QmpClient *c, unsigned *ret_major, unsigned *ret_minor, unsigned *ret_micro) {
        if (!c)
                return -EINVAL;
        if (!c->have_version)
                return -ENODATA;
        if (ret_major)
                *ret_major = c->version[0];
        if (ret_minor)
                *ret_minor = c->version[1];
        if (ret_micro)
                *ret_micro = c->version[2];
        return 0;
}

/* Every pending command is failed exactly once, then the disconnect handler runs. Always called
 * from within a dispatch (n_dispatch > 0), so the object outlives the handlers. */
static int client_disconnect(QmpClient *c, int error) {
        QmpCommand *cmd;

        if (c->state == QMP_STATE_DISCONNECTED)
                return error;

        c->state = QMP_STATE_DISCONNECTED;
        c->io_source = sd_event_source_disable_unref(c->io_source);
        c->retry_source = sd_event_source_disable_unref(c->retry_source);
        c->fd = safe_close(c->fd);
        c->wbuf = mfree(c->wbuf);
        c->wbuf_size = c->wbuf_offset = 0;

        if (error < 0)
                log_debug_errno(error, "QMP connection %s failed: %m", strna(c->path));

        /* Unlink one at a time: a handler may drop the client, which then frees the rest. */
        while (!c->dead && (cmd = c->pending_head)) {
                c->pending_head = cmd->next;
                if (!c->pending_head)
                        c->pending_tail = NULL;
                c->n_pending--;
                if (cmd->callback)
                        cmd->callback(c, -ECONNRESET, NULL, NULL, cmd->userdata);
                qmp_command_free(cmd);
        }

        if (!c->dead && c->disconnect_callback)
                c->disconnect_callback(c, error, c->disconnect_userdata);
        return error;
}

/* Edge-triggered: with thousands of QMP sockets ready at once (every guest stopping), a
 * level-triggered fd is reported again by every epoll_wait() until its turn comes, and sd-event
 * dispatches one source per iteration: K ready sockets cost K²/2 (22 s for 9000 in the bench).
 * An edge is reported once. sd-event re-arms an edge-triggered fd on every update, even an
 * unchanged one, and on_io() updates after each dispatch: an fd with data left is reported
 * again, so one bounded read per dispatch loses nothing. */
static int client_update_io(QmpClient *c) {
        uint32_t events;

        if (!c->io_source)
                return 0;
        if (c->state == QMP_STATE_CONNECTING)
                events = EPOLLOUT;
        else {
                events = EPOLLIN;
                if (!c->write_shut && c->wbuf_offset < c->wbuf_size)
                        events |= EPOLLOUT;
        }
        return sd_event_source_set_io_events(c->io_source, events | EPOLLET);
}

static int wbuf_append(QmpClient *c, const char *text) {
        size_t l = strlen(text);
        char *p;

        if (c->write_shut)
                return 0;       /* nobody reads any more; the EOF will fail the command */
        if (c->wbuf_offset > 0 && c->wbuf_offset == c->wbuf_size) {
                c->wbuf = mfree(c->wbuf);
                c->wbuf_size = c->wbuf_offset = 0;
        }
        p = realloc(c->wbuf, c->wbuf_size + l);
        if (!p)
                return -ENOMEM;
        memcpy(p + c->wbuf_size, text, l);
        c->wbuf = p;
        c->wbuf_size += l;
        return 0;
}

/* Move queued commands to the write buffer, in order: only qmp_capabilities (queued at the head)
 * before the negotiation finished, everything once ready. */
static int client_flush_queue(QmpClient *c) {
        int r;

        if (!IN_SET(c->state, QMP_STATE_NEGOTIATING, QMP_STATE_READY))
                return 0;

        for (QmpCommand *cmd = c->pending_head; cmd; cmd = cmd->next) {
                if (!cmd->text)
                        continue;
                if (c->state != QMP_STATE_READY && cmd->id != c->capabilities_id)
                        break;
                r = wbuf_append(c, cmd->text);
                if (r < 0)
                        return r;
                cmd->text = (g_free(cmd->text), NULL);
        }
        return client_update_io(c);
}

static int client_queue(QmpClient *c, const char *command, JsonObject *arguments, bool head,
                        QmpReplyHandler cb, void *userdata, int64_t *ret_id) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *json = NULL;
        QmpCommand *cmd;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "execute");
        json_builder_add_string_value(b, command);
        if (arguments) {
                json_builder_set_member_name(b, "arguments");
                json_builder_add_value(b, json_node_init_object(json_node_alloc(), arguments));
        }
        json_builder_set_member_name(b, "id");
        json_builder_add_int_value(b, c->next_id);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        json = json_to_string(root, false);
        if (!json)
                return -ENOMEM;
        if (strlen(json) >= QMP_LINE_MAX)
                return -EMSGSIZE;

        cmd = new0(QmpCommand, 1);
        if (!cmd)
                return -ENOMEM;
        cmd->text = g_strconcat(json, "\n", NULL);
        cmd->id = c->next_id++;
        cmd->callback = cb;
        cmd->userdata = userdata;

        if (head) {
                cmd->next = c->pending_head;
                c->pending_head = cmd;
                if (!c->pending_tail)
                        c->pending_tail = cmd;
        } else {
                if (c->pending_tail)
                        c->pending_tail->next = cmd;
                else
                        c->pending_head = cmd;
                c->pending_tail = cmd;
        }
        c->n_pending++;
        if (ret_id)
                *ret_id = cmd->id;
        return client_flush_queue(c);
}

int qmp_client_execute(QmpClient *c, const char *command, JsonObject *arguments, QmpReplyHandler cb, void *userdata) {
        if (!c || isempty(command))
                return -EINVAL;
        if (!client_alive(c))
                return -ENOTCONN;
        if (c->n_pending >= QMP_PENDING_MAX)
                return -ENOBUFS;

        return client_queue(c, command, arguments, false, cb, userdata, NULL);
}

static void on_capabilities(QmpClient *c, int error, JsonNode *result, const QmpError *qmp_error, void *userdata) {
        if (!client_alive(c))
                return;
        if (error < 0) {
                log_debug_errno(error, "QMP capabilities negotiation refused: %s",
                                qmp_error ? strna(qmp_error->desc) : "no reply");
                client_disconnect(c, -EPROTO);
                return;
        }

        c->state = QMP_STATE_READY;
        if (client_flush_queue(c) < 0) {
                client_disconnect(c, -ENOMEM);
                return;
        }
        if (c->ready_callback)
                c->ready_callback(c, c->ready_userdata);
}

static int64_t qmp_json_get_int(JsonObject *o, const char *name, int64_t def) {
        JsonNode *n = o ? json_object_get_member(o, name) : NULL;

        if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
                return def;
        return json_node_get_int(n);
}

static JsonObject *qmp_json_get_object(JsonObject *o, const char *name) {
        JsonNode *n = o ? json_object_get_member(o, name) : NULL;

        return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

static const char *qmp_json_get_string(JsonObject *o, const char *name) {
        JsonNode *n = o ? json_object_get_member(o, name) : NULL;

        if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
                return NULL;
        return json_node_get_string(n);
}

static int client_handle_greeting(QmpClient *c, JsonObject *o) {
        JsonObject *qmp = qmp_json_get_object(o, "QMP");
        JsonObject *qemu = qmp_json_get_object(qmp_json_get_object(qmp, "version"), "qemu");

        if (!qmp)
                return client_disconnect(c, -EBADMSG);
        if (qemu) {
                c->version[0] = (unsigned) qmp_json_get_int(qemu, "major", 0);
                c->version[1] = (unsigned) qmp_json_get_int(qemu, "minor", 0);
                c->version[2] = (unsigned) qmp_json_get_int(qemu, "micro", 0);
                c->have_version = true;
        }

        c->state = QMP_STATE_NEGOTIATING;
        /* Queued at the head: commands the caller queued early must follow it. */
        return client_queue(c, "qmp_capabilities", NULL, true, on_capabilities, c, &c->capabilities_id);
}

static void client_handle_event(QmpClient *c, JsonObject *o, const char *event) {
        JsonObject *ts = qmp_json_get_object(o, "timestamp");
        int64_t sec = qmp_json_get_int(ts, "seconds", 0), usec = qmp_json_get_int(ts, "microseconds", 0);
        uint64_t timestamp = 0;

        if (sec > 0 && usec >= 0 && (uint64_t) sec < UINT64_MAX / 1000000U)
                timestamp = (uint64_t) sec * 1000000U + (uint64_t) usec;

        if (c->event_callback)
                c->event_callback(c, event, qmp_json_get_object(o, "data"), timestamp, c->event_userdata);
}

static void client_handle_reply(QmpClient *c, JsonObject *o) {
        JsonNode *idn = json_object_get_member(o, "id");
        QmpCommand *cmd, *prev = NULL;
        JsonObject *err;
        int64_t id;

        if (!idn || !JSON_NODE_HOLDS_VALUE(idn) || json_node_get_value_type(idn) != G_TYPE_INT64) {
                log_debug("QMP reply without our id, ignoring.");
                return;
        }
        id = json_node_get_int(idn);

        for (cmd = c->pending_head; cmd; prev = cmd, cmd = cmd->next)
                if (cmd->id == id && !cmd->text)
                        break;
        if (!cmd) {
                log_debug("QMP reply to unknown id %" PRIi64 ", ignoring.", id);
                return;
        }

        /* Unlink before calling: the handler may queue, disconnect or drop the client. */
        if (prev)
                prev->next = cmd->next;
        else
                c->pending_head = cmd->next;
        if (c->pending_tail == cmd)
                c->pending_tail = prev;
        c->n_pending--;

        err = qmp_json_get_object(o, "error");
        if (cmd->callback) {
                if (err || !json_object_has_member(o, "return")) {
                        QmpError e = {
                                .error_class = qmp_json_get_string(err, "class") ?: "GenericError",
                                .desc = qmp_json_get_string(err, "desc") ?: "",
                        };

                        cmd->callback(c, qmp_error_class_to_errno(e.error_class), NULL, &e, cmd->userdata);
                } else
                        cmd->callback(c, 0, json_object_get_member(o, "return"), NULL, cmd->userdata);
        }
        qmp_command_free(cmd);
}

static int client_handle_line(QmpClient *c, const char *line, size_t size) {
        g_autoptr(JsonParser) parser = NULL;
        g_autoptr(GError) error = NULL;
        const char *event;
        JsonNode *root;
        JsonObject *o;

        /* QEMU ends lines with "\r\n"; blank lines are harmless. */
        while (size > 0 && strchr(" \t\r", line[size - 1]))
                size--;
        if (size == 0)
                return 0;

        parser = json_parser_new_immutable();
        if (!json_parser_load_from_data(parser, line, (gssize) size, &error)) {
                log_debug("QMP: unparsable message: %s", error->message);
                return client_disconnect(c, -EBADMSG);
        }
        root = json_parser_get_root(parser);
        if (!root || !JSON_NODE_HOLDS_OBJECT(root))
                return client_disconnect(c, -EBADMSG);
        o = json_node_get_object(root);

        if (c->state == QMP_STATE_GREETING)
                return client_handle_greeting(c, o);

        event = qmp_json_get_string(o, "event");
        if (event)
                client_handle_event(c, o, event);
        else if (json_object_has_member(o, "return") || json_object_has_member(o, "error"))
                client_handle_reply(c, o);
        else
                log_debug("QMP: ignoring message that is neither event nor reply.");
        return 0;
}

/* Split data into lines: complete lines are parsed straight from the read buffer; a partial
 * tail is kept in c->rbuf, bounded by QMP_LINE_MAX. */
static int client_feed(QmpClient *c, const char *p, size_t n) {
        while (n > 0 && client_alive(c)) {
                const char *nl = memchr(p, '\n', n);
                size_t k = nl ? (size_t) (nl - p) : n;
                char *b;

                if (c->rbuf_size + k > QMP_LINE_MAX)
                        return client_disconnect(c, -EMSGSIZE);

                if (!nl || c->rbuf_size > 0) {
                        b = realloc(c->rbuf, c->rbuf_size + k);
                        if (!b)
                                return client_disconnect(c, -ENOMEM);
                        memcpy(b + c->rbuf_size, p, k);
                        c->rbuf = b;
                        c->rbuf_size += k;
                }
                if (!nl)
                        return 0;

                if (c->rbuf_size > 0) {
                        /* Take the assembled line out first: handlers may disconnect or free. */
                        _cleanup_free_ char *line = TAKE_PTR(c->rbuf);
                        size_t size = c->rbuf_size;

                        c->rbuf_size = 0;
                        client_handle_line(c, line, size);
                } else
                        client_handle_line(c, p, k);

                p += k + 1;
                n -= k + 1;
        }
        return 0;
}

static int client_read(QmpClient *c) {
        char buf[QMP_READ_SIZE];
        ssize_t n;

        n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
                if (IN_SET(errno, EAGAIN, EINTR))
                        return 0;
                return client_disconnect(c, -errno);
        }
        if (n == 0)
                /* EOF inside a message means it was cut short. */
                return client_disconnect(c, c->rbuf_size > 0 ? -EBADMSG : 0);

        return client_feed(c, buf, (size_t) n);
}

static int client_write(QmpClient *c) {
        while (c->wbuf_offset < c->wbuf_size) {
                ssize_t n;

                n = send(c->fd, c->wbuf + c->wbuf_offset, c->wbuf_size - c->wbuf_offset, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        if (IN_SET(errno, EPIPE, ECONNRESET)) {
                                /* QEMU is going away; what it sent before closing (replies,
                                 * SHUTDOWN) is still to be read, so keep reading until EOF. */
                                c->write_shut = true;
                                c->wbuf = mfree(c->wbuf);
                                c->wbuf_size = c->wbuf_offset = 0;
                                break;
                        }
                        return client_disconnect(c, -errno);
                }
                c->wbuf_offset += (size_t) n;
        }
        if (c->wbuf_offset == c->wbuf_size) {
                c->wbuf = mfree(c->wbuf);
                c->wbuf_size = c->wbuf_offset = 0;
        }
        return 0;
}

static int connect_unix_path(int fd, const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int pfd = -EBADF;
        const char *p = path;
        char proc[64];

        /* Paths too long for sun_path are reached through an O_PATH fd, as systemd does. */
        if (strlen(path) >= sizeof(sa.sun_path)) {
                pfd = open(path, O_PATH | O_CLOEXEC);
                if (pfd < 0)
                        return -errno;
                snprintf(proc, sizeof(proc), "/proc/self/fd/%i", pfd);
                p = proc;
        }
        strncpy(sa.sun_path, p, sizeof(sa.sun_path) - 1);
        if (connect(fd, (const struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return 0;
}

static int client_try_connect(QmpClient *c);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        QmpClient *c = userdata;

        client_enter(c);
        if (client_alive(c)) {
                int r = client_try_connect(c);
                if (r < 0)
                        client_disconnect(c, r);
        }
        client_leave(c);
        return 0;
}

/* Returns 0 when connected or in progress (state set accordingly), -errno on hard failure. */
static int client_try_connect(QmpClient *c) {
        int r;

        r = connect_unix_path(c->fd, c->path);
        if (r == -EAGAIN) {
                if (++c->n_connect_retries > QMP_CONNECT_RETRY_MAX)
                        return -ETIMEDOUT;
                /* Explicit accuracy: 0 would mean sd-event's default slack of 250 ms. */
                if (!c->retry_source)
                        r = sd_event_add_time_relative(c->event, &c->retry_source, CLOCK_MONOTONIC,
                                                       QMP_CONNECT_RETRY_USEC, QMP_CONNECT_RETRY_USEC / 10, on_retry, c);
                else {
                        r = sd_event_source_set_time_relative(c->retry_source, QMP_CONNECT_RETRY_USEC);
                        if (r >= 0)
                                r = sd_event_source_set_enabled(c->retry_source, SD_EVENT_ONESHOT);
                }
                if (r < 0)
                        return r;
                c->state = QMP_STATE_CONNECTING;
                return sd_event_source_set_enabled(c->io_source, SD_EVENT_OFF);
        }
        if (r == -EINPROGRESS)
                c->state = QMP_STATE_CONNECTING;
        else if (r < 0)
                return r;
        else
                c->state = QMP_STATE_GREETING;

        r = sd_event_source_set_enabled(c->io_source, SD_EVENT_ON);
        if (r < 0)
                return r;
        return client_update_io(c);
}

static int client_finish_connect(QmpClient *c) {
        int error = 0;
        socklen_t l = sizeof(error);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &l) < 0)
                return client_disconnect(c, -errno);
        if (error != 0)
                return client_disconnect(c, -error);
        c->state = QMP_STATE_GREETING;
        return client_update_io(c);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        QmpClient *c = userdata;

        client_enter(c);
        if (c->state == QMP_STATE_CONNECTING) {
                if (revents & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                        (void) client_finish_connect(c);
        } else {
                if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                        (void) client_read(c);
                if (client_alive(c) && (revents & EPOLLOUT))
                        (void) client_write(c);
                if (client_alive(c) && client_update_io(c) < 0)
                        (void) client_disconnect(c, -EIO);
        }
        client_leave(c);
        return 0;
}

static int client_new(sd_event *e, int fd, QmpClient **ret) {
        _cleanup_close_ int fd_close = fd;
        QmpClient *c;
        int r;

        c = new0(QmpClient, 1);
        if (!c)
                return -ENOMEM;
        c->n_ref = 1;
        c->fd = TAKE_FD(fd_close);
        c->event = sd_event_ref(e);
        c->next_id = 1;
        c->capabilities_id = -1;
        c->state = QMP_STATE_GREETING;

        r = sd_event_add_io(e, &c->io_source, c->fd, EPOLLIN | EPOLLET, on_io, c);
        if (r < 0) {
                client_free(c);
                return r;
        }
        (void) sd_event_source_set_description(c->io_source, "qmp-client");
        *ret = c;
        return 0;
}

int qmp_client_new_from_fd(sd_event *e, int fd, QmpClient **ret) {
        if (!e || fd < 0 || !ret) {
                safe_close(fd);
                return -EINVAL;
        }
        return client_new(e, fd, ret);
}

int qmp_client_connect(sd_event *e, const char *path, QmpClient **ret) {
        _cleanup_(qmp_client_unrefp) QmpClient *c = NULL;
        int fd, r;

        if (!e || isempty(path) || !ret)
                return -EINVAL;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        r = client_new(e, fd, &c);
        if (r < 0)
                return r;
        c->path = strdup(path);
        if (!c->path)
                return -ENOMEM;

        r = client_try_connect(c);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}
