/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The QEMU command line of a resolved guest (DESIGN §4–§5).
 *
 * PCIe layout: every PCIe device sits alone behind its own pcie-root-port, handed out in a fixed
 * order: NICs first (guest interface names follow the bus number, so they must not move when a
 * disk is added), then the virtio-scsi controller, virtio-blk disks, mediated devices, the
 * virtio-serial controller of the guest agent, pvpanic. Adding something to a later group never
 * renumbers an earlier one. A few spare ports stay free for hotplug. */

#include <inttypes.h>
#include <stdarg.h>

#include "qemu-argv-internal.h"

#define MEMORY_MIB_DEFAULT 512U

char *qemu_opt_escape(const char *s) {
        size_t n = 0;
        char *r, *p;

        if (!s)
                return NULL;
        for (const char *i = s; *i; i++)
                n += *i == ',' ? 2 : 1;
        r = malloc(n + 1);
        if (!r)
                return NULL;
        p = r;
        for (const char *i = s; *i; i++) {
                *p++ = *i;
                if (*i == ',')
                        *p++ = ',';
        }
        *p = 0;
        return r;
}

int argv_add(ArgvBuilder *b, const char *s) {
        return strv_extend(&b->argv, s);
}

int argv_addf(ArgvBuilder *b, const char *format, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return strv_push(&b->argv, s);
}

int argv_add_opt(ArgvBuilder *b, const char *option, const char *format, ...) {
        va_list ap;
        char *s;
        int r;

        r = argv_add(b, option);
        if (r < 0)
                return r;
        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return strv_push(&b->argv, s);
}

int argv_take_port(ArgvBuilder *b, char **ret_bus) {
        if (b->next_port >= PCIE_ROOT_PORTS_MAX)
                return -E2BIG;
        if (asprintf(ret_bus, "rp%u", b->next_port++) < 0)
                return -ENOMEM;
        return 0;
}

static bool attrs_has_graphics(const Attrs *a) {
        return a->vnc_port >= 0 || a->spice_port >= 0;
}

static unsigned pcie_devices_count(const MachineDef *m) {
        bool scsi = false;

        for (size_t i = 0; i < m->n_volumes; i++)
                if (volume_is_scsi(m->volumes + i))
                        scsi = true;

        return m->n_connections + scsi + volumes_count_virtio_blk(m) + m->n_devices +
               (m->attrs.guest_agent > 0) + (m->attrs.pvpanic > 0);
}

static int add_root_ports(ArgvBuilder *b, unsigned n) {
        int r;

        if (n > PCIE_ROOT_PORTS_MAX)
                return -E2BIG;
        for (unsigned k = 0; k < n; k++) {
                unsigned slot = PCIE_FIRST_SLOT + k / 8, fn = k % 8;

                /* (chassis, slot) must be unique per root port; port is the PCIe port number. */
                r = argv_add_opt(b, "-device",
                                 "pcie-root-port,id=rp%u,bus=pcie.0,chassis=%u,port=0x%x,addr=0x%x.0x%x%s",
                                 k, k + 1, 0x10 + k, slot, fn, fn == 0 ? ",multifunction=on" : "");
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_chardev_socket(ArgvBuilder *b, const char *id, const char *rtdir, const char *file) {
        _cleanup_free_ char *path = NULL, *e = NULL;

        if (asprintf(&path, "%s/%s", rtdir, file) < 0)
                return -ENOMEM;
        e = qemu_opt_escape(path);
        if (!e)
                return -ENOMEM;
        return argv_add_opt(b, "-chardev", "socket,id=%s,path=%s,server=on,wait=off", id, e);
}

static int add_monitors(ArgvBuilder *b, const RuntimePaths *rt) {
        int r;

        /* Two QMP monitors: one for machinad, one for the unit's ExecStop helper, so a stop
         * works while machinad holds (or is stuck on) its own connection. */
        r = add_chardev_socket(b, "qmp", rt->dir, RUNTIME_QMP_SOCKET);
        if (r < 0)
                return r;
        r = argv_add_opt(b, "-mon", "chardev=qmp,mode=control");
        if (r < 0)
                return r;
        r = add_chardev_socket(b, "qmp-stop", rt->dir, RUNTIME_QMP_STOP_SOCKET);
        if (r < 0)
                return r;
        return argv_add_opt(b, "-mon", "chardev=qmp-stop,mode=control");
}

static int add_cpu(ArgvBuilder *b, const MachineDef *m, Accel accel) {
        _cleanup_free_ char *model = NULL;
        const char *name = m->attrs.cpu_model;

        /* "host" only exists under KVM; "max" is its TCG counterpart (and equals it under KVM). */
        if (isempty(name) || (accel == ACCEL_TCG && streq(name, "host")))
                name = accel == ACCEL_KVM ? "host" : "max";
        model = qemu_opt_escape(name);
        if (!model)
                return -ENOMEM;

        return argv_add_opt(b, "-cpu", "%s%s", model,
                            m->attrs.hyperv > 0 ? ",hv_relaxed,hv_vapic,hv_spinlocks=0x1fff,hv_time" : "");
}

int qemu_tap_name(const char *machine_name, size_t index, char **ret) {
        uint32_t h = 2166136261U;       /* FNV-1a: stable, tiny, good enough to spread names */
        int r;

        if (!machine_name || index > 99)
                return -EINVAL;

        if (strlen(machine_name) + (index >= 10 ? 2 : 1) <= 11)
                r = asprintf(ret, "mt-%s-%zu", machine_name, index);
        else {
                for (const char *p = machine_name; *p; p++)
                        h = (h ^ (uint8_t) *p) * 16777619U;
                r = asprintf(ret, "mh-%08x-%zu", h, index);
        }
        return r < 0 ? -ENOMEM : 0;
}

static int add_connections(ArgvBuilder *b, const MachineDef *m) {
        int r;

        for (size_t i = 0; i < m->n_connections; i++) {
                const Connection *c = m->connections + i;
                _cleanup_free_ char *bus = NULL, *model = NULL, *mac = NULL;

                switch (c->kind) {
                case NETWORK_KIND_UNSET:
                case NETWORK_KIND_USER:
                        r = argv_add_opt(b, "-netdev", "user,id=net-%zu", i);
                        break;
                case NETWORK_KIND_BRIDGE: {
                        _cleanup_free_ char *tap = NULL;

                        r = qemu_tap_name(m->name, i, &tap);
                        if (r < 0)
                                return r;
                        r = argv_add_opt(b, "-netdev", "tap,id=net-%zu,ifname=%s,script=no,downscript=no",
                                         i, tap);
                        break;
                }
                default:
                        return -EINVAL;
                }
                if (r < 0)
                        return r;

                r = argv_take_port(b, &bus);
                if (r < 0)
                        return r;
                model = qemu_opt_escape(c->model ?: "virtio-net-pci");
                if (!model)
                        return -ENOMEM;
                if (c->mac) {
                        _cleanup_free_ char *e = qemu_opt_escape(c->mac);

                        if (!e || asprintf(&mac, ",mac=%s", e) < 0)
                                return -ENOMEM;
                }
                r = argv_add_opt(b, "-device", "%s,netdev=net-%zu,id=nic%zu,bus=%s,addr=0x0%s",
                                 model, i, i, bus, strempty(mac));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_mdevs(ArgvBuilder *b, const MachineDef *m) {
        int r;

        for (size_t i = 0; i < m->n_devices; i++) {
                _cleanup_free_ char *bus = NULL, *id = NULL;

                if (isempty(m->devices[i].id))
                        return -EINVAL;
                id = qemu_opt_escape(m->devices[i].id);
                if (!id)
                        return -ENOMEM;
                r = argv_take_port(b, &bus);
                if (r < 0)
                        return r;
                r = argv_add_opt(b, "-device", "vfio-pci,sysfsdev=/sys/bus/mdev/devices/%s,id=hostdev%zu,bus=%s,addr=0x0",
                                 id, i, bus);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_extras(ArgvBuilder *b, const MachineDef *m, const RuntimePaths *rt) {
        _cleanup_free_ char *bus = NULL;
        int r;

        if (m->attrs.guest_agent > 0) {
                r = argv_take_port(b, &bus);
                if (r < 0)
                        return r;
                r = argv_add_opt(b, "-device", "virtio-serial-pci,id=virtio-serial0,bus=%s,addr=0x0", bus);
                if (r < 0)
                        return r;
                r = add_chardev_socket(b, "guest-agent", rt->dir, RUNTIME_GA_SOCKET);
                if (r < 0)
                        return r;
                r = argv_add_opt(b, "-device",
                                 "virtserialport,bus=virtio-serial0.0,nr=1,chardev=guest-agent,id=guest-agent0,name=org.qemu.guest_agent.0");
                if (r < 0)
                        return r;
                free(bus);
                bus = NULL;
        }

        if (m->attrs.pvpanic > 0) {
                r = argv_take_port(b, &bus);
                if (r < 0)
                        return r;
                r = argv_add_opt(b, "-device", "pvpanic-pci,id=pvpanic0,bus=%s,addr=0x0", bus);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_graphics(ArgvBuilder *b, const Attrs *a) {
        int r;

        if (a->vnc_port >= 0) {
                if (a->vnc_port < 5900 || a->vnc_port > 65535)
                        return -ERANGE;
                r = argv_add_opt(b, "-vnc", "127.0.0.1:%d", a->vnc_port - 5900);
                if (r < 0)
                        return r;
        }
        if (a->spice_port >= 0) {
                if (a->spice_port == 0 || a->spice_port > 65535)
                        return -ERANGE;
                r = argv_add_opt(b, "-spice", "port=%d,addr=127.0.0.1,disable-ticketing=on", a->spice_port);
                if (r < 0)
                        return r;
        }
        if (!attrs_has_graphics(a))
                return 0;

        /* The primary display sits on pcie.0 slot 1, as on real hardware (and as libvirt does). */
        return argv_add_opt(b, "-device", "%s,id=video0,bus=pcie.0,addr=0x1",
                            a->spice_port >= 0 ? "qxl-vga" : "virtio-vga");
}

static int add_kernel(ArgvBuilder *b, const Attrs *a) {
        int r;

        /* -kernel/-initrd/-append take a plain value, not an option list: no ",," escaping. */
        if (isempty(a->kernel))
                return 0;
        r = argv_add_opt(b, "-kernel", "%s", a->kernel);
        if (r < 0)
                return r;
        if (!isempty(a->initrd)) {
                r = argv_add_opt(b, "-initrd", "%s", a->initrd);
                if (r < 0)
                        return r;
        }
        if (!isempty(a->cmdline)) {
                r = argv_add_opt(b, "-append", "%s", a->cmdline);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool machine_type_is_q35(const char *t) {
        return isempty(t) || streq(t, "q35") || strncmp(t, "pc-q35-", 7) == 0;
}

int qemu_argv_build(const MachineDef *m, const HostConfig *host, const char *emulator,
                    Accel accel, const RuntimePaths *rt, char ***ret_argv) {
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *name = NULL, *mtype = NULL;
        ArgvBuilder b = {};
        unsigned n_ports;
        int r;

        if (!m || !m->name || !rt || isempty(rt->dir) || !ret_argv)
                return -EINVAL;
        if (!IN_SET(accel, ACCEL_KVM, ACCEL_TCG))
                return -EINVAL;
        if (!machine_type_is_q35(m->attrs.machine_type))
                return -EOPNOTSUPP;

        name = qemu_opt_escape(m->name);
        mtype = qemu_opt_escape(isempty(m->attrs.machine_type) ? "q35" : m->attrs.machine_type);
        if (!name || !mtype)
                return -ENOMEM;

        r = argv_add(&b, emulator ?: (host && host->emulator ? host->emulator : "qemu-system-x86_64"));
        if (r < 0)
                goto fail;
        r = argv_add_opt(&b, "-name", "guest=%s,debug-threads=on", name);
        if (r < 0)
                goto fail;
        if (m->id_set) {
                char uuid[UUID_STR_LEN];

                uuid_unparse_lower(m->id, uuid);
                r = argv_add_opt(&b, "-uuid", "%s", uuid);
                if (r < 0)
                        goto fail;
        }
        r = argv_add_opt(&b, "-machine", "%s,accel=%s%s", mtype, accel_to_string(accel),
                         qemu_machine_firmware_opts(m));
        if (r < 0)
                goto fail;
        r = add_cpu(&b, m, accel);
        if (r < 0)
                goto fail;
        r = argv_add_opt(&b, "-smp", "%u", m->attrs.cpus > 0 ? m->attrs.cpus : 1U);
        if (r < 0)
                goto fail;
        r = argv_add_opt(&b, "-m", "%" PRIu64,
                         m->attrs.memory_mib > 0 ? m->attrs.memory_mib : (uint64_t) MEMORY_MIB_DEFAULT);
        if (r < 0)
                goto fail;
        r = argv_add(&b, "-nodefaults");
        if (r >= 0)
                r = argv_add(&b, "-no-user-config");
        if (r >= 0 && !attrs_has_graphics(&m->attrs))
                r = argv_add_opt(&b, "-display", "none");
        if (r < 0)
                goto fail;

        r = add_monitors(&b, rt);
        if (r < 0)
                goto fail;
        if (m->attrs.console != CONSOLE_NONE) {
                r = add_chardev_socket(&b, "console", rt->dir, RUNTIME_CONSOLE_SOCKET);
                if (r >= 0)
                        r = argv_add_opt(&b, "-serial", "chardev:console");
                if (r < 0)
                        goto fail;
        }

        r = qemu_argv_add_firmware(&b, m);
        if (r < 0)
                goto fail;
        r = add_kernel(&b, &m->attrs);
        if (r < 0)
                goto fail;

        n_ports = pcie_devices_count(m);
        n_ports += PCIE_ROOT_PORTS_SPARE;
        if (n_ports < PCIE_ROOT_PORTS_MIN)
                n_ports = PCIE_ROOT_PORTS_MIN;
        r = add_root_ports(&b, n_ports);
        if (r < 0)
                goto fail;

        r = add_connections(&b, m);
        if (r < 0)
                goto fail;
        r = qemu_argv_add_volumes(&b, m);
        if (r < 0)
                goto fail;
        r = add_mdevs(&b, m);
        if (r < 0)
                goto fail;
        r = add_extras(&b, m, rt);
        if (r < 0)
                goto fail;
        r = add_graphics(&b, &m->attrs);
        if (r < 0)
                goto fail;

        *ret_argv = TAKE_PTR(b.argv);
        return 0;

fail:
        strv_free(b.argv);
        return r;
}

int qemu_find_binary(const char *name, char **ret) {
        const char *path;

        if (isempty(name))
                return -EINVAL;
        if (strchr(name, '/')) {
                *ret = strdup(name);
                return *ret ? 0 : -ENOMEM;
        }

        path = getenv("PATH") ?: "/usr/local/bin:/usr/bin:/bin";
        for (const char *p = path; *p; ) {
                size_t n = strcspn(p, ":");
                _cleanup_free_ char *f = NULL;

                if (n > 0 && p[0] == '/') {
                        if (asprintf(&f, "%.*s/%s", (int) n, p, name) < 0)
                                return -ENOMEM;
                        if (access(f, X_OK) == 0) {
                                *ret = TAKE_PTR(f);
                                return 0;
                        }
                }
                p += n;
                if (*p == ':')
                        p++;
        }
        return -ENOENT;
}

char *shell_quote(const char *s) {
        static const char safe[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-";
        size_t n = 2;
        char *r, *p;

        if (!s)
                return NULL;
        if (*s && strspn(s, safe) == strlen(s))
                return strdup(s);

        for (const char *i = s; *i; i++)
                n += *i == '\'' ? 4 : 1;
        r = malloc(n + 1);
        if (!r)
                return NULL;
        p = r;
        *p++ = '\'';
        for (const char *i = s; *i; i++)
                if (*i == '\'')
                        p = stpcpy(p, "'\\''");
                else
                        *p++ = *i;
        *p++ = '\'';
        *p = 0;
        return r;
}

static bool option_takes_value(const char *opt) {
        static const char * const flags[] = {
                "-nodefaults", "-no-user-config", "-S", "-no-reboot", "-no-shutdown", "-snapshot",
        };

        for (size_t i = 0; i < ELEMENTSOF(flags); i++)
                if (streq(opt, flags[i]))
                        return false;
        return true;
}

char *qemu_argv_format(char * const *argv) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!argv || !argv[0])
                return strdup("");

        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;

        for (size_t i = 0; argv[i]; ) {
                _cleanup_free_ char *a = NULL, *v = NULL;
                bool pair = i > 0 && argv[i][0] == '-' && argv[i + 1] && option_takes_value(argv[i]);

                a = shell_quote(argv[i]);
                if (pair)
                        v = shell_quote(argv[i + 1]);
                if (!a || (pair && !v)) {
                        fclose(f);
                        return NULL;
                }
                i += pair ? 2 : 1;
                fprintf(f, "%s%s%s%s\n", a, pair ? " " : "", strempty(v), argv[i] ? " \\" : "");
        }
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(buf);
}
