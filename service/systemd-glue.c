/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdlib.h>

#include "bus-util.h"
#include "log.h"
#include "machine-lifecycle.h"
#include "manager.h"
#include "systemd-glue.h"

char *systemd_unit_path(const char *unit) {
        char *p = NULL;

        if (sd_bus_path_encode(SYSTEMD_PATH "/unit", unit, &p) < 0)
                return NULL;
        return p;
}

static Machine *machine_for_unit_path(Manager *m, const char *path) {
        _cleanup_free_ char *unit = NULL;

        if (sd_bus_path_decode(path, SYSTEMD_PATH "/unit", &unit) <= 0)
                return NULL;
        return manager_get_machine_by_unit(m, unit);
}

static int match_job_removed(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *job, *unit, *result;
        Manager *m = userdata;
        Machine *machine;
        uint32_t id;
        int r;

        r = sd_bus_message_read(message, "uoss", &id, &job, &unit, &result);
        if (r < 0) {
                log_debug_errno(r, "Malformed JobRemoved signal: %m");
                return 0;
        }
        if (strncmp(unit, "machina-", 8) != 0)
                return 0;
        machine = manager_get_machine_by_unit(m, unit);
        if (machine)
                machine_on_job_removed(machine, job, result);
        return 0;
}

static int match_unit_removed(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *unit, *path;
        Manager *m = userdata;
        Machine *machine;
        int r;

        r = sd_bus_message_read(message, "so", &unit, &path);
        if (r < 0)
                return 0;
        machine = manager_get_machine_by_unit(m, unit);
        if (machine)
                machine_on_unit_gone(machine, NULL);
        return 0;
}

/* PropertiesChanged of org.freedesktop.systemd1.Unit / .Service on a machina unit. */
static int match_unit_properties(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *interface, *active_state = NULL, *sub_state = NULL, *result = NULL;
        Manager *m = userdata;
        Machine *machine;
        uint32_t main_pid = 0;
        bool have_pid = false;
        int r;

        machine = machine_for_unit_path(m, sd_bus_message_get_path(message));
        if (!machine)
                return 0;

        r = sd_bus_message_read(message, "s", &interface);
        if (r < 0)
                return 0;
        r = sd_bus_message_enter_container(message, 'a', "{sv}");
        if (r < 0)
                return 0;
        while ((r = sd_bus_message_enter_container(message, 'e', "sv")) > 0) {
                const char *name;

                r = sd_bus_message_read(message, "s", &name);
                if (r < 0)
                        return 0;
                if (streq(name, "ActiveState"))
                        r = sd_bus_message_read(message, "v", "s", &active_state);
                else if (streq(name, "SubState"))
                        r = sd_bus_message_read(message, "v", "s", &sub_state);
                else if (streq(name, "Result"))
                        r = sd_bus_message_read(message, "v", "s", &result);
                else if (streq(name, "MainPID")) {
                        r = sd_bus_message_read(message, "v", "u", &main_pid);
                        have_pid = true;
                } else
                        r = sd_bus_message_skip(message, "v");
                if (r < 0)
                        return 0;
                r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return 0;
        }

        if (have_pid)
                machine_on_main_pid(machine, main_pid);
        if (result)
                machine_on_unit_result(machine, result);
        if (active_state && (streq(active_state, "inactive") || streq(active_state, "failed")))
                machine_on_unit_gone(machine, active_state);
        else if (active_state && streq(active_state, "activating") && streq_ptr(sub_state, "auto-restart"))
                machine_on_auto_restart(machine);
        else if (active_state && streq(active_state, "active"))
                machine_on_unit_active(machine);
        return 0;
}

static int on_subscribed(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (e)
                log_warning("Failed to subscribe to systemd: %s", e->message);
        return 0;
}

int systemd_subscribe(Manager *m) {
        int r;

        r = sd_bus_match_signal_async(m->bus, NULL, SYSTEMD_SERVICE, SYSTEMD_PATH,
                                      SYSTEMD_MANAGER_INTERFACE, "JobRemoved",
                                      match_job_removed, NULL, m);
        if (r < 0)
                return log_error_errno(r, "Failed to match JobRemoved: %m");
        r = sd_bus_match_signal_async(m->bus, NULL, SYSTEMD_SERVICE, SYSTEMD_PATH,
                                      SYSTEMD_MANAGER_INTERFACE, "UnitRemoved",
                                      match_unit_removed, NULL, m);
        if (r < 0)
                return log_error_errno(r, "Failed to match UnitRemoved: %m");
        r = sd_bus_add_match_async(m->bus, NULL,
                                   "type='signal',sender='" SYSTEMD_SERVICE "',"
                                   "interface='org.freedesktop.DBus.Properties',"
                                   "member='PropertiesChanged',"
                                   "path_namespace='" SYSTEMD_PATH "/unit'",
                                   match_unit_properties, NULL, m);
        if (r < 0)
                return log_error_errno(r, "Failed to match unit PropertiesChanged: %m");
        /* Without Subscribe() systemd sends UnitRemoved and unit PropertiesChanged to nobody. */
        r = sd_bus_call_method_async(m->bus, NULL, SYSTEMD_SERVICE, SYSTEMD_PATH,
                                     SYSTEMD_MANAGER_INTERFACE, "Subscribe", on_subscribed, m, "");
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to systemd: %m");
        return 0;
}

int bus_append_unit_properties(sd_bus_message *msg, const UnitProperties *props) {
        int r;

        r = sd_bus_message_open_container(msg, 'a', "(sv)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < props->n_props; i++) {
                const UnitProperty *p = props->props + i;

                r = sd_bus_message_open_container(msg, 'r', "sv");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(msg, "s", p->name);
                if (r < 0)
                        return r;
                switch (p->type) {
                case UNIT_PROPERTY_STRING:
                        r = sd_bus_message_append(msg, "v", "s", p->s);
                        break;
                case UNIT_PROPERTY_BOOL:
                        r = sd_bus_message_append(msg, "v", "b", (int) p->b);
                        break;
                case UNIT_PROPERTY_UINT64:
                        r = sd_bus_message_append(msg, "v", "t", p->t);
                        break;
                case UNIT_PROPERTY_UINT32:
                        r = sd_bus_message_append(msg, "v", "u", (uint32_t) p->t);
                        break;
                case UNIT_PROPERTY_INT32:
                        r = sd_bus_message_append(msg, "v", "i", (int32_t) p->t);
                        break;
                case UNIT_PROPERTY_BOOL_STRV:
                        r = sd_bus_message_open_container(msg, 'v', "(bas)");
                        if (r >= 0)
                                r = sd_bus_message_open_container(msg, 'r', "bas");
                        if (r >= 0)
                                r = sd_bus_message_append(msg, "b", (int) p->b);
                        if (r >= 0)
                                r = sd_bus_message_append_strv(msg, p->strv);
                        for (int k = 0; k < 2 && r >= 0; k++)
                                r = sd_bus_message_close_container(msg);
                        break;
                case UNIT_PROPERTY_STRV:
                        r = sd_bus_message_open_container(msg, 'v', "as");
                        if (r >= 0)
                                r = sd_bus_message_append_strv(msg, p->strv);
                        if (r >= 0)
                                r = sd_bus_message_close_container(msg);
                        break;
                case UNIT_PROPERTY_EXEC:
                case UNIT_PROPERTY_EXEC_EX: {
                        /* ExecStop= & co. are "a(sasb)" (b: ignore failure); the *Ex forms
                         * "a(sasas)", flags by name ("privileged" for "+"). */
                        bool ex = p->type == UNIT_PROPERTY_EXEC_EX;
                        char *flags[3] = {}, **f = flags;

                        if (p->b)
                                *f++ = (char *) "ignore-failure";
                        if (p->privileged)
                                *f++ = (char *) "privileged";
                        r = sd_bus_message_open_container(msg, 'v', ex ? "a(sasas)" : "a(sasb)");
                        if (r >= 0)
                                r = sd_bus_message_open_container(msg, 'a', ex ? "(sasas)" : "(sasb)");
                        if (r >= 0)
                                r = sd_bus_message_open_container(msg, 'r', ex ? "sasas" : "sasb");
                        if (r >= 0)
                                r = sd_bus_message_append(msg, "s", p->strv[0]);
                        if (r >= 0)
                                r = sd_bus_message_append_strv(msg, p->strv);
                        if (r >= 0)
                                r = ex ? sd_bus_message_append_strv(msg, flags) :
                                         sd_bus_message_append(msg, "b", p->b);
                        for (int k = 0; k < 3 && r >= 0; k++)
                                r = sd_bus_message_close_container(msg);
                        break;
                }
                case UNIT_PROPERTY_DEVICE_ALLOW:
                        r = sd_bus_message_open_container(msg, 'v', "a(ss)");
                        if (r >= 0)
                                r = sd_bus_message_open_container(msg, 'a', "(ss)");
                        for (char **s = p->strv; r >= 0 && s && s[0] && s[1]; s += 2)
                                r = sd_bus_message_append(msg, "(ss)", s[0], s[1]);
                        for (int k = 0; k < 2 && r >= 0; k++)
                                r = sd_bus_message_close_container(msg);
                        break;
                default:
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(msg);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(msg);
}

/* Every call to systemd (and to systemd-machined) goes through here. At most
 * SYSTEMD_CALLS_IN_FLIGHT_MAX are in flight, the rest wait in FIFO order: the system bus refuses
 * more than 128 pending replies per connection (max_replies_per_connection), so N Start() at once
 * from several clients would otherwise fail with LimitsExceeded. polkit's queries (polkit.c)
 * share the connection but not this queue (an interactive one may wait minutes and must not hold
 * up systemd calls): MANAGER_POLKIT_QUERIES_MAX bounds them to most of the other half.
 *
 * Callers keep their sd_bus_slot semantics: the slot they get is a handle, unref = cancel,
 * whether the call is still queued or in flight. The handle is a filter slot on a private bus
 * that is never connected (so it costs nothing and never runs); its destroy callback is how we
 * learn of the cancel. A cancelled call in flight is left to the real bus as a floating slot,
 * still counted, until systemd answers: dbus-daemon counts it until then too. */
#define SYSTEMD_CALLS_IN_FLIGHT_MAX 64U

typedef struct SystemdCall SystemdCall;
typedef struct SystemdCalls SystemdCalls;

struct SystemdCalls {
        Manager *manager;
        sd_bus *handles;                /* never connected: owns the callers' handle slots */
        SystemdCall *head, *tail;       /* waiting, oldest first */
        unsigned n_in_flight;
        unsigned n_calls;               /* alive; the struct goes with the last one */
};

struct SystemdCall {
        SystemdCalls *calls;
        sd_bus_message *msg;            /* waiting: the call to send */
        sd_bus_slot *handle;            /* the caller's; NULL once it dropped it (cancel) */
        sd_bus_slot *slot;              /* sent: the reply slot on the real bus */
        bool replied;
        sd_bus_message_handler_t callback;
        void *userdata;
        SystemdCall *prev, *next;
};

static void call_free(SystemdCall *c) {
        SystemdCalls *q = c->calls;

        sd_bus_message_unref(c->msg);
        free(c);
        if (--q->n_calls == 0) {
                q->manager->systemd_calls = NULL;
                sd_bus_unref(q->handles);
                free(q);
        }
}

static void queue_unlink(SystemdCall *c) {
        SystemdCalls *q = c->calls;

        if (c->prev)
                c->prev->next = c->next;
        else
                q->head = c->next;
        if (c->next)
                c->next->prev = c->prev;
        else
                q->tail = c->prev;
        c->prev = c->next = NULL;
}

static void calls_dispatch(SystemdCalls *q);

static int on_call_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        SystemdCall *c = userdata;
        sd_bus_message_handler_t callback = c->callback;
        void *cb_userdata = c->userdata;

        c->replied = true;
        c->calls->n_in_flight--;
        calls_dispatch(c->calls);
        /* The callback may drop the handle, which may free c: nothing of c after this. */
        return callback ? callback(reply, cb_userdata, error) : 0;
}

/* The reply slot is freed: after the caller dropped its handle, or when the bus goes. */
static void on_slot_gone(void *userdata) {
        SystemdCall *c = userdata;

        c->slot = NULL;
        if (!c->replied)
                c->calls->n_in_flight--;
        if (!c->handle)
                call_free(c);
}

static void on_handle_gone(void *userdata) {
        SystemdCall *c = userdata;
        sd_bus_slot *s;

        c->handle = NULL;
        c->callback = NULL;
        if (c->msg) {                           /* still waiting: it is never sent */
                queue_unlink(c);
                call_free(c);
                return;
        }
        s = TAKE_PTR(c->slot);
        if (!s) {
                call_free(c);
                return;
        }
        if (!c->replied)                        /* the bus keeps it until the reply */
                (void) sd_bus_slot_set_floating(s, 1);
        sd_bus_slot_unref(s);                   /* replied: on_slot_gone() frees c now */
}

static int handle_never_called(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return 0;
}

/* A call that could not be sent gets an error reply, as if systemd had refused it. */
static void call_fail(SystemdCall *c, sd_bus_message *msg, int error) {
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        sd_bus_message_handler_t callback = c->callback;
        sd_bus_error e = SD_BUS_ERROR_NULL;

        log_warning_errno(error, "Failed to send a call to systemd: %m");
        c->replied = true;
        (void) sd_bus_message_seal(msg, UINT32_MAX, 0);       /* -EPERM if sending sealed it */
        if (!callback || sd_bus_message_new_method_errno(msg, &reply, error, NULL) < 0)
                return;                         /* out of memory: the caller's op times out */
        (void) callback(reply, c->userdata, &e);
        sd_bus_error_free(&e);
}

static void calls_dispatch(SystemdCalls *q) {
        while (q->head && q->n_in_flight < SYSTEMD_CALLS_IN_FLIGHT_MAX) {
                SystemdCall *c = q->head;
                _cleanup_bus_message_ sd_bus_message *msg = NULL;
                int r;

                queue_unlink(c);
                msg = TAKE_PTR(c->msg);
                r = sd_bus_call_async(q->manager->bus, &c->slot, msg, on_call_reply, c, 0);
                if (r >= 0)
                        r = sd_bus_slot_set_destroy_callback(c->slot, on_slot_gone);
                if (r < 0) {
                        c->slot = sd_bus_slot_unref(c->slot);
                        call_fail(c, msg, r);
                        continue;
                }
                q->n_in_flight++;
        }
}

int bus_call_bounded(Manager *m, sd_bus_message *msg, sd_bus_message_handler_t callback,
                     void *userdata, sd_bus_slot **ret_slot) {
        SystemdCalls *q = m->systemd_calls;
        _cleanup_free_ SystemdCall *c = NULL;
        int r;

        if (!ret_slot)
                return -EINVAL;                 /* a handle is how a call is cancelled */
        if (!q) {
                q = calloc(1, sizeof(SystemdCalls));
                if (!q)
                        return -ENOMEM;
                r = sd_bus_new(&q->handles);
                if (r < 0) {
                        free(q);
                        return r;
                }
                q->manager = m;
                m->systemd_calls = q;
        }
        c = calloc(1, sizeof(SystemdCall));
        if (!c)
                return -ENOMEM;
        *c = (SystemdCall) { .calls = q, .callback = callback, .userdata = userdata };
        r = sd_bus_add_filter(q->handles, &c->handle, handle_never_called, c);
        if (r < 0)
                return r;
        (void) sd_bus_slot_set_destroy_callback(c->handle, on_handle_gone);
        q->n_calls++;
        c->msg = sd_bus_message_ref(msg);
        c->prev = q->tail;
        if (q->tail)
                q->tail->next = c;
        else
                q->head = c;
        q->tail = c;
        *ret_slot = c->handle;
        TAKE_PTR(c);
        calls_dispatch(q);
        return 0;
}

int systemd_start_transient_unit(Manager *m, const char *unit, const UnitProperties *props,
                                 sd_bus_message_handler_t callback, void *userdata,
                                 sd_bus_slot **ret_slot) {
        _cleanup_bus_message_ sd_bus_message *msg = NULL;
        int r;

        r = sd_bus_message_new_method_call(m->bus, &msg, SYSTEMD_SERVICE, SYSTEMD_PATH,
                                           SYSTEMD_MANAGER_INTERFACE, "StartTransientUnit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "ss", unit, "fail");
        if (r < 0)
                return r;
        r = bus_append_unit_properties(msg, props);
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "a(sa(sv))", 0);
        if (r < 0)
                return r;
        return bus_call_bounded(m, msg, callback, userdata, ret_slot);
}

int systemd_stop_unit(Manager *m, const char *unit, sd_bus_message_handler_t callback,
                      void *userdata, sd_bus_slot **ret_slot) {
        _cleanup_bus_message_ sd_bus_message *msg = NULL;
        int r;

        r = sd_bus_message_new_method_call(m->bus, &msg, SYSTEMD_SERVICE, SYSTEMD_PATH,
                                           SYSTEMD_MANAGER_INTERFACE, "StopUnit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "ss", unit, "replace");
        if (r < 0)
                return r;
        return bus_call_bounded(m, msg, callback, userdata, ret_slot);
}

int systemd_kill_unit(Manager *m, const char *unit, const char *whom, int signo,
                      sd_bus_message_handler_t callback, void *userdata, sd_bus_slot **ret_slot) {
        _cleanup_bus_message_ sd_bus_message *msg = NULL;
        int r;

        r = sd_bus_message_new_method_call(m->bus, &msg, SYSTEMD_SERVICE, SYSTEMD_PATH,
                                           SYSTEMD_MANAGER_INTERFACE, "KillUnit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "ssi", unit, whom, signo);
        if (r < 0)
                return r;
        return bus_call_bounded(m, msg, callback, userdata, ret_slot);
}

int systemd_list_guest_units(Manager *m, char ***ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **units = NULL;
        const char *name;
        int r;

        r = sd_bus_call_method(m->bus, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER_INTERFACE,
                               "ListUnitsByPatterns", &error, &reply, "asas",
                               3, "active", "activating", "deactivating",
                               1, "machina-*.service");
        if (r < 0)
                return log_warning_errno(r, "Failed to list guest units: %s", error.message ?: strerror(-r));
        r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(ssssssouso)", &name, NULL, NULL, NULL, NULL,
                                        NULL, NULL, NULL, NULL, NULL)) > 0) {
                r = strv_extend(&units, name);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(units);
        return 0;
}

int systemd_get_unit_main_pid(Manager *m, const char *unit, uint32_t *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = systemd_unit_path(unit);
        int r;

        if (!path)
                return -ENOMEM;
        r = sd_bus_get_property_trivial(m->bus, SYSTEMD_SERVICE, path,
                                        "org.freedesktop.systemd1.Service", "MainPID", &error,
                                        'u', ret);
        if (r < 0)
                return log_debug_errno(r, "Failed to read MainPID of %s: %s", unit,
                                       error.message ?: strerror(-r));
        return 0;
}

int systemd_get_unit_state(Manager *m, const char *unit, sd_bus_message_handler_t callback,
                           void *userdata, sd_bus_slot **ret_slot) {
        _cleanup_free_ char *path = systemd_unit_path(unit);
        _cleanup_bus_message_ sd_bus_message *msg = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        r = sd_bus_message_new_method_call(m->bus, &msg, SYSTEMD_SERVICE, path,
                                           "org.freedesktop.DBus.Properties", "GetAll");
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "s", "org.freedesktop.systemd1.Unit");
        if (r < 0)
                return r;
        return bus_call_bounded(m, msg, callback, userdata, ret_slot);
}

int systemd_read_unit_state(sd_bus_message *reply, const char **ret_active, const char **ret_sub) {
        const char *active = NULL, *sub = NULL;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *name;

                r = sd_bus_message_read(reply, "s", &name);
                if (r < 0)
                        return r;
                if (streq(name, "ActiveState"))
                        r = sd_bus_message_read(reply, "v", "s", &active);
                else if (streq(name, "SubState"))
                        r = sd_bus_message_read(reply, "v", "s", &sub);
                else
                        r = sd_bus_message_skip(reply, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (!active || !sub)
                return -EBADMSG;
        *ret_active = active;
        *ret_sub = sub;
        return 0;
}
