/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* An asynchronous QMP (QEMU Machine Protocol) client on sd-event. It never blocks: connect, read
 * and write are all driven by the event loop. Messages are line-delimited JSON (json-glib).
 *
 * Life cycle: qmp_client_connect() → greeting read → "qmp_capabilities" answered → ready handler.
 * Commands may be queued with qmp_client_execute() at once; they go out after negotiation, in
 * order. QEMU's compact output is expected: one message per line ("pretty=on" is not supported).
 * Each command's handler is called exactly once: with the reply, with the QMP error, or
 * with -ECONNRESET when the connection ends first. After that the disconnect handler runs once.
 * Dropping the last reference (also from inside any handler) cancels everything silently: no
 * handler of this client is called afterwards. */

#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* Longest accepted QMP message; a longer line disconnects with -EMSGSIZE. */
#define QMP_LINE_MAX (1024U * 1024U)
/* Commands queued or awaiting a reply per client; more fail with -ENOBUFS. */
#define QMP_PENDING_MAX 64U

typedef struct QmpClient QmpClient;

typedef enum QmpErrorClass {
        QMP_ERROR_GENERIC,              /* "GenericError" */
        QMP_ERROR_COMMAND_NOT_FOUND,    /* "CommandNotFound" */
        QMP_ERROR_DEVICE_NOT_ACTIVE,    /* "DeviceNotActive" */
        QMP_ERROR_DEVICE_NOT_FOUND,     /* "DeviceNotFound" */
        QMP_ERROR_KVM_MISSING_CAP,      /* "KVMMissingCap" */
        _QMP_ERROR_CLASS_MAX,
        _QMP_ERROR_CLASS_INVALID = -EINVAL,
} QmpErrorClass;

DECLARE_STRING_TABLE_LOOKUP(qmp_error_class, QmpErrorClass);

/* The errno a QMP error class maps to (negative); unknown classes map to -EIO. */
int qmp_error_class_to_errno(const char *error_class);

/* Details of an "error" reply, valid only during the reply handler. */
typedef struct QmpError {
        const char *error_class;        /* e.g. "CommandNotFound" */
        const char *desc;               /* human-readable, from QEMU */
} QmpError;

/* error == 0: result is the "return" value (any JSON type, owned by the client).
 * error < 0: result is NULL; qmp_error is set when QEMU answered with "error" (error is then
 * qmp_error_class_to_errno() of its class), NULL for local failures (-ECONNRESET, …). */
typedef void (*QmpReplyHandler)(QmpClient *c, int error, JsonNode *result, const QmpError *qmp_error, void *userdata);

/* Called once the greeting was read and "qmp_capabilities" was answered. */
typedef void (*QmpReadyHandler)(QmpClient *c, void *userdata);

/* A QMP event. data is the "data" member or NULL if the event has none; timestamp_usec is QEMU's
 * CLOCK_REALTIME timestamp in µs (0 if absent). */
typedef void (*QmpEventHandler)(QmpClient *c, const char *event, JsonObject *data, uint64_t timestamp_usec, void *userdata);

/* The connection ended: error 0 is an orderly EOF (QEMU closed the socket, e.g. it exited);
 * -ECONNRESET is just as normal when QEMU exits with a command of ours still unread (the kernel
 * reports a reset then; seen after "quit" with a command queued behind it);
 * negative: -EMSGSIZE (line too long), -EBADMSG (not QMP/JSON, or EOF inside a message),
 * -EPROTO (negotiation refused), -ETIMEDOUT (connect retries exhausted), or a socket error.
 * Called after every pending command's handler got -ECONNRESET. */
typedef void (*QmpDisconnectHandler)(QmpClient *c, int error, void *userdata);

/* Non-blocking connect to a unix stream socket. Fails right away with -ENOENT, -ECONNREFUSED,
 * etc. when the socket is missing or has nobody listening. Paths longer than sun_path work. */
int qmp_client_connect(sd_event *e, const char *path, QmpClient **ret);

/* Adopt an already connected stream socket (takes the fd, also on failure). */
int qmp_client_new_from_fd(sd_event *e, int fd, QmpClient **ret);

QmpClient *qmp_client_ref(QmpClient *c);
QmpClient *qmp_client_unref(QmpClient *c);
static inline void qmp_client_unrefp(QmpClient **c) {
        if (*c)
                qmp_client_unref(*c);
}

void qmp_client_set_ready_handler(QmpClient *c, QmpReadyHandler cb, void *userdata);
void qmp_client_set_event_handler(QmpClient *c, QmpEventHandler cb, void *userdata);
void qmp_client_set_disconnect_handler(QmpClient *c, QmpDisconnectHandler cb, void *userdata);

/* Queue a command. arguments may be NULL; it is serialized at once (not kept). Returns
 * -ENOTCONN after a disconnect, -ENOBUFS past QMP_PENDING_MAX, -EINVAL for an empty command.
 * The handler is never called from within this function. */
int qmp_client_execute(QmpClient *c, const char *command, JsonObject *arguments, QmpReplyHandler cb, void *userdata);

bool qmp_client_is_ready(QmpClient *c);
bool qmp_client_is_connected(QmpClient *c);
unsigned qmp_client_n_pending(QmpClient *c);

/* QEMU's version from the greeting, -ENODATA before it arrived. */
int qmp_client_get_version(QmpClient *c, unsigned *ret_major, unsigned *ret_minor, unsigned *ret_micro);
