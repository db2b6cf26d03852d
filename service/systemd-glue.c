/* SPDX-License-Identifier: LGPL-2.1-or-later */

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
                        r = sd_bus_message_open_container(msg, 'v', "a(sasb)");
                        if (r >= 0)
                                r = sd_bus_message_open_container(msg, 'a', "(sasb)");
                        if (r >= 0)
                                r = sd_bus_message_open_container(msg, 'r', "sasb");
                        if (r >= 0)
                                r = sd_bus_message_append(msg, "s", p->strv[0]);
                        if (r >= 0)
                                r = sd_bus_message_append_strv(msg, p->strv);
                        if (r >= 0)
                                r = sd_bus_message_append(msg, "b", p->b);
                        for (int k = 0; k < 3 && r >= 0; k++)
                                r = sd_bus_message_close_container(msg);
                        break;
                case UNIT_PROPERTY_EXEC_EX: {
                        char *flags[3] = {}, **f = flags;

                        if (p->b)
                                *f++ = (char *) "ignore-failure";
                        if (p->privileged)
                                *f++ = (char *) "privileged";
                        r = sd_bus_message_open_container(msg, 'v', "a(sasas)");
                        if (r >= 0)
                                r = sd_bus_message_open_container(msg, 'a', "(sasas)");
                        if (r >= 0)
                                r = sd_bus_message_open_container(msg, 'r', "sasas");
                        if (r >= 0)
                                r = sd_bus_message_append(msg, "s", p->strv[0]);
                        if (r >= 0)
                                r = sd_bus_message_append_strv(msg, p->strv);
                        if (r >= 0)
                                r = sd_bus_message_append_strv(msg, flags);
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
        return sd_bus_call_async(m->bus, ret_slot, msg, callback, userdata, 0);
}

int systemd_stop_unit(Manager *m, const char *unit, sd_bus_message_handler_t callback,
                      void *userdata, sd_bus_slot **ret_slot) {
        return sd_bus_call_method_async(m->bus, ret_slot, SYSTEMD_SERVICE, SYSTEMD_PATH,
                                        SYSTEMD_MANAGER_INTERFACE, "StopUnit", callback, userdata,
                                        "ss", unit, "replace");
}

int systemd_kill_unit(Manager *m, const char *unit, const char *whom, int signo,
                      sd_bus_message_handler_t callback, void *userdata, sd_bus_slot **ret_slot) {
        return sd_bus_call_method_async(m->bus, ret_slot, SYSTEMD_SERVICE, SYSTEMD_PATH,
                                        SYSTEMD_MANAGER_INTERFACE, "KillUnit", callback, userdata,
                                        "ssi", unit, whom, signo);
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

        if (!path)
                return -ENOMEM;
        return sd_bus_call_method_async(m->bus, ret_slot, SYSTEMD_SERVICE, path,
                                        "org.freedesktop.DBus.Properties", "GetAll", callback,
                                        userdata, "s", "org.freedesktop.systemd1.Unit");
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
