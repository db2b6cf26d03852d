/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The transient service of a guest (DESIGN §5). QEMU parses guest-controlled data all day, so it
 * runs with as little as it needs: its own user, no capabilities, a read-only OS, only the device
 * nodes it opens, only the address families it uses, a syscall allow-list.
 *
 * Restart: "autostart": "always" maps to Restart=on-success. A guest that powers itself off makes
 * QEMU exit 0, which on-success restarts; a QEMU that crashes is left failed (visible as
 * "crashed", no crash loop). A stop requested through systemd (StopUnit, "systemctl stop", host
 * shutdown, "machinactl stop") never triggers Restart=, whatever its value, so the user stays in
 * charge. machinad must therefore send user-requested stops through StopUnit, not ACPI alone. */

#include <inttypes.h>
#include <stdarg.h>

#include "log.h"
#include "qemu-argv.h"
#include "unit-properties.h"

#define UNIT_STOP_GRACE_USEC (5ULL * 1000000ULL)

static const char * const unit_property_signature_table[_UNIT_PROPERTY_TYPE_MAX] = {
        [UNIT_PROPERTY_STRING]       = "s",
        [UNIT_PROPERTY_BOOL]         = "b",
        [UNIT_PROPERTY_UINT64]       = "t",
        [UNIT_PROPERTY_STRV]         = "as",
        [UNIT_PROPERTY_EXEC]         = "a(sasb)",
        [UNIT_PROPERTY_DEVICE_ALLOW] = "a(ss)",
        [UNIT_PROPERTY_UINT32]       = "u",
        [UNIT_PROPERTY_INT32]        = "i",
        [UNIT_PROPERTY_BOOL_STRV]    = "(bas)",
        [UNIT_PROPERTY_EXEC_EX]      = "a(sasas)",
};

const char *unit_property_type_signature(UnitPropertyType t) {
        if ((size_t) t >= ELEMENTSOF(unit_property_signature_table))
                return NULL;
        return unit_property_signature_table[t];
}

void unit_properties_done(UnitProperties *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_props; i++) {
                free(p->props[i].s);
                strv_free(p->props[i].strv);
        }
        free(p->props);
        *p = (UnitProperties) {};
}

char *unit_name_for_machine(const char *name) {
        char *s;

        if (!machine_name_is_valid(name))
                return NULL;
        if (asprintf(&s, "machina-%s.service", name) < 0)
                return NULL;
        return s;
}

static UnitProperty *push(UnitProperties *p, const char *name, UnitPropertyType type) {
        UnitProperty *n;

        n = realloc(p->props, (p->n_props + 1) * sizeof(UnitProperty));
        if (!n)
                return NULL;
        p->props = n;
        n = p->props + p->n_props++;
        *n = (UnitProperty) { .name = name, .type = type };
        return n;
}

static int add_string(UnitProperties *p, const char *name, const char *value) {
        UnitProperty *u = push(p, name, UNIT_PROPERTY_STRING);

        if (!u)
                return -ENOMEM;
        u->s = strdup(value);
        return u->s ? 0 : -ENOMEM;
}

static int add_bool(UnitProperties *p, const char *name, bool b) {
        UnitProperty *u = push(p, name, UNIT_PROPERTY_BOOL);

        if (!u)
                return -ENOMEM;
        u->b = b;
        return 0;
}

static int add_number(UnitProperties *p, const char *name, UnitPropertyType type, uint64_t t) {
        UnitProperty *u = push(p, name, type);

        if (!u)
                return -ENOMEM;
        u->t = t;
        return 0;
}

/* Takes ownership of strv, also on failure. */
static int add_strv(UnitProperties *p, const char *name, UnitPropertyType type, bool b, char **strv) {
        UnitProperty *u;

        if (!strv)
                return -ENOMEM;
        u = push(p, name, type);
        if (!u) {
                strv_free(strv);
                return -ENOMEM;
        }
        u->b = b;
        u->strv = strv;
        return 0;
}

static char **strv_new_va(const char *first, ...) {
        _cleanup_strv_free_ char **l = NULL;
        va_list ap;

        if (!first)
                return calloc(1, sizeof(char *));
        va_start(ap, first);
        for (const char *s = first; s; s = va_arg(ap, const char *))
                if (strv_extend(&l, s) < 0) {
                        va_end(ap);
                        return NULL;
                }
        va_end(ap);
        return TAKE_PTR(l);
}
#define strv_new(...) strv_new_va(__VA_ARGS__, NULL)

static bool def_needs_ip(const MachineDef *m) {
        /* User-mode networking is QEMU's own TCP/IP stack on host sockets; VNC and spice listen on
         * 127.0.0.1. Bridged NICs are a tap fd: no sockets of QEMU's. */
        for (size_t i = 0; i < m->n_connections; i++)
                if (IN_SET(m->connections[i].kind, NETWORK_KIND_USER, NETWORK_KIND_UNSET))
                        return true;
        return m->attrs.vnc_port >= 0 || m->attrs.spice_port >= 0;
}

static bool def_has_bridge(const MachineDef *m) {
        for (size_t i = 0; i < m->n_connections; i++)
                if (m->connections[i].kind == NETWORK_KIND_BRIDGE)
                        return true;
        return false;
}

static Accel accel_from_argv(char * const *argv) {
        for (size_t i = 0; argv && argv[i] && argv[i + 1]; i++)
                if (streq(argv[i], "-machine"))
                        return strstr(argv[i + 1], ",accel=tcg") && !strstr(argv[i + 1], "kvm")
                                ? ACCEL_TCG : ACCEL_KVM;
        return ACCEL_KVM;
}

static bool volume_writable(const Volume *v) {
        return v->format != VOLUME_FORMAT_ISO && v->readonly <= 0;
}

static int build_device_allow(const MachineDef *m, const UnitContext *ctx, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r = 0;

        if (ctx->accel != ACCEL_TCG && (r = strv_extend(&l, "/dev/kvm")) >= 0)
                r = strv_extend(&l, "rw");
        if (r >= 0 && def_has_bridge(m) && (r = strv_extend(&l, "/dev/net/tun")) >= 0)
                r = strv_extend(&l, "rw");
        if (r >= 0 && m->n_devices > 0 && (r = strv_extend(&l, "/dev/vfio/vfio")) >= 0)
                r = strv_extend(&l, "rw");
        if (r >= 0 && m->n_devices > 0 && (r = strv_extend(&l, "char-vfio")) >= 0)
                r = strv_extend(&l, "rw");
        for (size_t i = 0; r >= 0 && i < m->n_volumes; i++) {
                const Volume *v = m->volumes + i;

                if (v->format != VOLUME_FORMAT_BLOCK || isempty(v->path))
                        continue;
                r = strv_extend(&l, v->path);
                if (r >= 0)
                        r = strv_extend(&l, volume_writable(v) ? "rw" : "r");
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

static int build_rw_paths(const MachineDef *m, const UnitContext *ctx, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = strv_extend(&l, ctx->runtime_dir);
        if (r < 0)
                return r;
        /* "-": a missing image is QEMU's error to report ("Could not open …"), which says more
         * than systemd's namespace setup failure. Block devices live in /dev, which
         * ProtectSystem= leaves alone; DeviceAllow= covers them. */
        for (size_t i = 0; i < m->n_volumes; i++) {
                const Volume *v = m->volumes + i;
                _cleanup_free_ char *s = NULL;

                if (!volume_writable(v) || v->format == VOLUME_FORMAT_BLOCK || isempty(v->path))
                        continue;
                if (asprintf(&s, "-%s", v->path) < 0)
                        return -ENOMEM;
                if (!strv_contains(l, s) && (r = strv_push(&l, TAKE_PTR(s))) < 0)
                        return r;
        }
        if (m->attrs.firmware == FIRMWARE_OVMF && !isempty(m->attrs.firmware_vars)) {
                _cleanup_free_ char *s = NULL;

                if (asprintf(&s, "-%s", m->attrs.firmware_vars) < 0)
                        return -ENOMEM;
                r = strv_push(&l, TAKE_PTR(s));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int build_exec_stop(const MachineDef *m, const UnitContext *ctx, char ***ret) {
        _cleanup_free_ char *sock = NULL, *timeout = NULL;
        uint64_t usec = machine_def_stop_timeout_usec(m);

        if (asprintf(&sock, "%s/%s", ctx->runtime_dir, RUNTIME_QMP_STOP_SOCKET) < 0 ||
            asprintf(&timeout, "%" PRIu64, (usec + 999999) / 1000000) < 0)
                return -ENOMEM;
        *ret = strv_new(ctx->qmp_stop_helper, sock, timeout);
        return *ret ? 0 : -ENOMEM;
}

static int tap_helper_path(const UnitContext *ctx, char **ret) {
        const char *slash;

        if (ctx->tap_helper) {
                *ret = strdup(ctx->tap_helper);
                return *ret ? 0 : -ENOMEM;
        }
        slash = strrchr(ctx->qmp_stop_helper, '/');
        if (!slash)
                return -EINVAL;
        if (asprintf(ret, "%.*s/machina-tap", (int) (slash - ctx->qmp_stop_helper), ctx->qmp_stop_helper) < 0)
                return -ENOMEM;
        return 0;
}

static int add_exec_ex(UnitProperties *p, const char *name, bool ignore_failure, char **argv) {
        int r;

        r = add_strv(p, name, UNIT_PROPERTY_EXEC_EX, ignore_failure, argv);
        if (r < 0)
                return r;
        p->props[p->n_props - 1].privileged = true;
        return 0;
}

/* Bridged NICs: QEMU (unprivileged) opens a tap that "machina-tap add" created before, with full
 * privileges ("+"), in the unit's network namespace; "machina-tap del" removes it after QEMU is
 * gone, also after a failed start ("-": a cleanup never decides the unit's result). A user
 * manager cannot create taps: in --user mode QEMU opens taps that already exist. */
static int build_taps(UnitProperties *p, const MachineDef *m, const UnitContext *ctx) {
        _cleanup_free_ char *helper = NULL;
        int r;

        if (ctx->user_mode || !def_has_bridge(m))
                return 0;
        r = tap_helper_path(ctx, &helper);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_connections; i++) {
                const Connection *c = m->connections + i;
                _cleanup_free_ char *tap = NULL;

                if (c->kind != NETWORK_KIND_BRIDGE)
                        continue;
                if (isempty(c->bridge))
                        return -EINVAL;
                r = qemu_tap_name(m->name, i, &tap);
                if (r < 0)
                        return r;
                r = add_exec_ex(p, "ExecStartPreEx", false,
                                strv_new(helper, "add", tap, c->bridge, isempty(ctx->user) ? "root" : ctx->user));
                if (r < 0)
                        return r;
                r = add_exec_ex(p, "ExecStopPostEx", true, strv_new(helper, "del", tap));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int build_sandbox(UnitProperties *p, const MachineDef *m, const UnitContext *ctx, char * const *argv) {
        static const char * const booleans[] = {
                "NoNewPrivileges", "PrivateTmp", "ProtectKernelTunables", "ProtectKernelModules",
                "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock", "ProtectHostname",
                "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality", "PrivateMounts",
        };
        _cleanup_strv_free_ char **rw = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(booleans); i++) {
                r = add_bool(p, booleans[i], true);
                if (r < 0)
                        return r;
        }
        if ((r = add_string(p, "ProtectSystem", "strict")) < 0 ||
            (r = add_string(p, "ProtectHome", "yes")) < 0 ||
            (r = add_string(p, "ProtectProc", "invisible")) < 0)
                return r;
        r = build_rw_paths(m, ctx, &rw);
        if (r < 0)
                return r;
        r = add_strv(p, "ReadWritePaths", UNIT_PROPERTY_STRV, false, TAKE_PTR(rw));
        if (r < 0)
                return r;

        if (!ctx->user_mode) {
                _cleanup_strv_free_ char **devs = NULL;
                UnitContext c = *ctx;

                if (!IN_SET(c.accel, ACCEL_KVM, ACCEL_TCG))
                        c.accel = accel_from_argv(argv);
                r = build_device_allow(m, &c, &devs);
                if (r < 0)
                        return r;
                r = add_string(p, "DevicePolicy", "closed");
                if (r < 0)
                        return r;
                if (devs) {
                        r = add_strv(p, "DeviceAllow", UNIT_PROPERTY_DEVICE_ALLOW, false, TAKE_PTR(devs));
                        if (r < 0)
                                return r;
                }
        }

        /* No namespaces at all, no capabilities. Files private to the QEMU user and its group: in
         * system mode machinad reaches the QMP and console sockets QEMU creates only through
         * that group (it runs without CAP_DAC_OVERRIDE, units/machinad.service.in). */
        if ((r = add_number(p, "RestrictNamespaces", UNIT_PROPERTY_UINT64, 0)) < 0 ||
            (r = add_number(p, "CapabilityBoundingSet", UNIT_PROPERTY_UINT64, 0)) < 0 ||
            (r = add_number(p, "UMask", UNIT_PROPERTY_UINT32, ctx->user_mode ? 0077 : 0007)) < 0)
                return r;
        /* TCG generates code at run time: W^X would kill it. */
        r = add_bool(p, "MemoryDenyWriteExecute", false);
        if (r < 0)
                return r;

        if (!def_needs_ip(m) && !def_has_bridge(m)) {
                r = add_bool(p, "PrivateNetwork", true);
                if (r < 0)
                        return r;
        }
        r = add_strv(p, "RestrictAddressFamilies", UNIT_PROPERTY_BOOL_STRV, true,
                     def_needs_ip(m) ? strv_new("AF_UNIX", "AF_INET", "AF_INET6") : strv_new("AF_UNIX"));
        if (r < 0)
                return r;

        /* @system-service covers what QEMU does (ioctl on /dev/kvm and tap, memfd, eventfd,
         * io_uring is refused politely); the deny-list then strips what a service never needs. A
         * refused call fails with EPERM instead of killing the guest. */
        if ((r = add_strv(p, "SystemCallArchitectures", UNIT_PROPERTY_STRV, false, strv_new("native"))) < 0 ||
            (r = add_strv(p, "SystemCallFilter", UNIT_PROPERTY_BOOL_STRV, true, strv_new("@system-service"))) < 0 ||
            (r = add_strv(p, "SystemCallFilter", UNIT_PROPERTY_BOOL_STRV, false,
                          strv_new("@privileged", "@resources", "@mount", "@obsolete", "@debug",
                                   "@cpu-emulation", "@swap", "@reboot", "@module", "@raw-io", "@clock"))) < 0 ||
            (r = add_number(p, "SystemCallErrorNumber", UNIT_PROPERTY_INT32, EPERM)) < 0)
                return r;
        return 0;
}

int unit_properties_build(const MachineDef *m, char * const *argv, const UnitContext *ctx,
                          UnitProperties *ret) {
        _cleanup_(unit_properties_done) UnitProperties p = {};
        _cleanup_strv_free_ char **exec_stop = NULL;
        _cleanup_free_ char *description = NULL;
        int r;

        if (!m || !m->name || !argv || !argv[0] || !ctx || isempty(ctx->runtime_dir) ||
            isempty(ctx->qmp_stop_helper) || !ret)
                return -EINVAL;
        if (argv[0][0] != '/')
                return -EINVAL;         /* systemd wants an absolute ExecStart */

        if (asprintf(&description, "machina guest %s", m->name) < 0)
                return -ENOMEM;
        r = build_exec_stop(m, ctx, &exec_stop);
        if (r < 0)
                return r;

        if ((r = add_string(&p, "Description", description)) < 0 ||
            (r = add_string(&p, "CollectMode", "inactive-or-failed")) < 0 ||
            (r = add_string(&p, "Slice", "machine.slice")) < 0 ||
            (r = add_string(&p, "Type", "exec")) < 0 ||
            (r = add_strv(&p, "ExecStart", UNIT_PROPERTY_EXEC, false, strv_copy(argv))) < 0 ||
            /* "-": how QEMU was stopped never decides the unit's result (and so Restart=): QEMU's
             * own exit status does. */
            (r = add_strv(&p, "ExecStop", UNIT_PROPERTY_EXEC, true, TAKE_PTR(exec_stop))) < 0 ||
            (r = add_number(&p, "TimeoutStopUSec", UNIT_PROPERTY_UINT64,
                            machine_def_stop_timeout_usec(m) + UNIT_STOP_GRACE_USEC)) < 0 ||
            (r = add_string(&p, "KillMode", "mixed")) < 0 ||
            (r = add_string(&p, "Restart", m->autostart == AUTOSTART_ALWAYS ? "on-success" : "no")) < 0)
                return r;

        if (!ctx->user_mode && !isempty(ctx->user)) {
                r = add_string(&p, "User", ctx->user);
                if (r >= 0)
                        r = add_string(&p, "Group", ctx->group ?: ctx->user);
                /* SysV IPC objects left by a guest's QEMU go with it. */
                if (r >= 0)
                        r = add_bool(&p, "RemoveIPC", true);
                if (r < 0)
                        return r;
        }

        r = build_taps(&p, m, ctx);
        if (r < 0)
                return r;
        r = build_sandbox(&p, m, ctx, argv);
        if (r < 0)
                return r;

        *ret = p;
        p = (UnitProperties) {};
        return 0;
}

/* One word of a unit file setting: plain when safe, else double-quoted with C escapes. "%" is a
 * specifier everywhere ("%%"); in Exec lines "$" expands variables ("$$"). */
static int quote_word(FILE *f, const char *s, bool exec) {
        bool plain = *s && strcspn(s, " \t\n\"'\\;") == strlen(s);

        if (!plain)
                fputc('"', f);
        for (const char *c = s; *c; c++)
                switch (*c) {
                case '%':
                        fputs("%%", f);
                        break;
                case '$':
                        fputs(exec ? "$$" : "$", f);
                        break;
                case '"':
                case '\\':
                        fputc('\\', f);
                        fputc(*c, f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                default:
                        fputc(*c, f);
                }
        if (!plain)
                fputc('"', f);
        return 0;
}

static void render_words(FILE *f, char * const *l, bool exec) {
        for (size_t i = 0; l && l[i]; i++) {
                if (i > 0)
                        fputc(' ', f);
                quote_word(f, l[i], exec);
        }
}

static void render_one(FILE *f, const UnitProperty *u) {
        const char *n = u->name;
        size_t len = strlen(n);

        switch (u->type) {
        case UNIT_PROPERTY_STRING:
                fprintf(f, "%s=", n);
                for (const char *c = u->s; c && *c; c++)
                        fputs(*c == '%' ? "%%" : (char[]) { *c, 0 }, f);
                break;
        case UNIT_PROPERTY_BOOL:
                fprintf(f, "%s=%s", n, u->b ? "yes" : "no");
                break;
        case UNIT_PROPERTY_UINT64:
                if (len > 4 && streq(n + len - 4, "USec")) {
                        if (u->t % 1000000 == 0)
                                fprintf(f, "%.*sSec=%" PRIu64 "s", (int) len - 4, n, u->t / 1000000);
                        else
                                fprintf(f, "%.*sSec=%" PRIu64 "us", (int) len - 4, n, u->t);
                } else if (streq(n, "RestrictNamespaces") && u->t == 0)
                        fprintf(f, "%s=yes", n);
                else if (streq(n, "CapabilityBoundingSet") && u->t == 0)
                        fprintf(f, "%s=", n);
                else
                        fprintf(f, "%s=%" PRIu64, n, u->t);
                break;
        case UNIT_PROPERTY_UINT32:
                fprintf(f, streq(n, "UMask") ? "%s=%04" PRIo64 : "%s=%" PRIu64, n, u->t);
                break;
        case UNIT_PROPERTY_INT32:
                if (streq(n, "SystemCallErrorNumber") && u->t == EPERM)
                        fprintf(f, "%s=EPERM", n);
                else
                        fprintf(f, "%s=%" PRIi32, n, (int32_t) u->t);
                break;
        case UNIT_PROPERTY_STRV:
        case UNIT_PROPERTY_EXEC:
                fprintf(f, "%s=%s", n, u->type == UNIT_PROPERTY_EXEC && u->b ? "-" : "");
                render_words(f, u->strv, u->type == UNIT_PROPERTY_EXEC);
                break;
        case UNIT_PROPERTY_BOOL_STRV:
                fprintf(f, "%s=%s", n, u->b ? "" : "~");
                render_words(f, u->strv, false);
                break;
        case UNIT_PROPERTY_EXEC_EX:
                /* "ExecStartPreEx" is ExecStartPre= with its flags as prefixes. */
                fprintf(f, "%.*s=%s%s", len > 2 && streq(n + len - 2, "Ex") ? (int) len - 2 : (int) len, n,
                        u->b ? "-" : "", u->privileged ? "+" : "");
                render_words(f, u->strv, true);
                break;
        case UNIT_PROPERTY_DEVICE_ALLOW:
                for (char * const *s = u->strv; s && s[0] && s[1]; s += 2)
                        fprintf(f, "%s%s=%s %s", s == u->strv ? "" : "\n", n, s[0], s[1]);
                break;
        default:
                break;
        }
        fputc('\n', f);
}

static bool property_in_unit_section(const char *name) {
        return streq(name, "Description") || streq(name, "CollectMode");
}

int unit_properties_render(const UnitProperties *p, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        fputs("# Generated by machina: the properties machinad passes to StartTransientUnit.\n"
              "[Unit]\n", f);
        for (size_t i = 0; i < p->n_props; i++)
                if (property_in_unit_section(p->props[i].name))
                        render_one(f, p->props + i);
        fputs("\n[Service]\n", f);
        for (size_t i = 0; i < p->n_props; i++)
                if (!property_in_unit_section(p->props[i].name))
                        render_one(f, p->props + i);

        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}
