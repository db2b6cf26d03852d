/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* machina-tap add IFNAME BRIDGE USER | del IFNAME: the tap device of a bridged guest NIC.
 *
 * QEMU runs unprivileged and machinad has no network namespace of its own worth touching, so the
 * guest's unit runs this as "ExecStartPre=+machina-tap add …" and "ExecStopPost=-+machina-tap
 * del …" (with full privileges, in the unit's network namespace). "add" creates a persistent tap
 * owned by USER, with the bridge's MTU, enslaves it to BRIDGE and brings it up; QEMU then opens it
 * by name. "del" removes it, and is idempotent: a missing tap is success, so the cleanup also
 * works after a failed start or while machinad is down.
 *
 * A tap another process holds open (TUNSETIFF says EBUSY) is never taken over nor deleted: that
 * is another guest's (tap names are derived from guest names, a hash collision is possible) or
 * someone else's. A stale tap nobody holds (left by a crashed manager) is reused by "add". */

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "rtnl.h"

#define TUN_DEVICE "/dev/net/tun"

/* Opens TUN_DEVICE and attaches to (or, unless it exists, creates) the tap IFNAME. exclusive:
 * fail with -EBUSY when it exists. The tap is not persistent while the fd is held unless it was
 * already; callers clear TUNSETPERSIST so that an error path removes it by closing. */
static int tap_attach(const char *ifname, bool exclusive, int *ret_fd) {
        struct ifreq ifr = {
                .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (exclusive ? IFF_TUN_EXCL : 0),
        };
        _cleanup_close_ int fd = -EBADF;

        fd = open(TUN_DEVICE, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", TUN_DEVICE);
        strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0)
                return -errno;  /* the caller knows what EBUSY/EINVAL mean here */
        if (strncmp(ifr.ifr_name, ifname, IFNAMSIZ) != 0)
                return log_error_errno(EINVAL, "Kernel named the tap %.*s instead of %s.",
                                       IFNAMSIZ, ifr.ifr_name, ifname);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int parse_user(const char *s, uid_t *ret) {
        const struct passwd *pw;

        errno = 0;
        pw = getpwnam(s);
        if (pw) {
                *ret = pw->pw_uid;
                return 0;
        }
        /* A number is a uid as it is ("User=" takes both). */
        if (s[strspn(s, "0123456789")] == 0 && strlen(s) <= 9) {
                *ret = (uid_t) strtoul(s, NULL, 10);
                return 0;
        }
        return errno > 0 ? -errno : -ESRCH;
}

static int tap_add(const char *ifname, const char *bridge, const char *user) {
        _cleanup_close_ int rtnl = -EBADF, tap = -EBADF;
        RtnlLink br, link;
        uid_t uid;
        int r;

        r = parse_user(user, &uid);
        if (r == -ESRCH)
                return log_error_errno(r, "User %s does not exist: not creating tap %s for it.", user, ifname);
        if (r < 0)
                return log_error_errno(r, "Failed to look up user %s, owner of tap %s: %m", user, ifname);

        r = rtnl_open(&rtnl);
        if (r < 0)
                return log_error_errno(r, "Failed to open rtnetlink socket: %m");

        /* The bridge first, so a missing bridge never leaves a tap behind. */
        r = rtnl_link_get(rtnl, bridge, &br);
        if (r == -ENODEV)
                return log_error_errno(r, "Bridge %s does not exist: not creating tap %s.", bridge, ifname);
        if (r < 0)
                return log_error_errno(r, "Failed to look up bridge %s for tap %s: %m", bridge, ifname);
        if (!streq(br.kind, "bridge"))
                return log_error_errno(EMEDIUMTYPE, "%s is not a bridge (link kind: %s): not creating tap %s.",
                                       bridge, isempty(br.kind) ? "none" : br.kind, ifname);

        r = tap_attach(ifname, /* exclusive= */ true, &tap);
        if (r == -EBUSY) {
                r = tap_attach(ifname, /* exclusive= */ false, &tap);
                if (r == -EBUSY)
                        return log_error_errno(r, "Tap %s exists and is in use by another process "
                                               "(another guest with the same tap name?): not taking it over.", ifname);
                if (r == -EINVAL)
                        return log_error_errno(r, "%s exists and is not a single-queue tap device: not taking it over.",
                                               ifname);
                if (r < 0)
                        return log_error_errno(r, "Failed to attach to existing tap %s: %m", ifname);
                log_info("Reusing tap %s, left over and unused.", ifname);
        } else if (r < 0)
                return log_error_errno(r, "Failed to create tap %s: %m", ifname);

        /* Until everything is set up, closing the fd removes the tap again. */
        if (ioctl(tap, TUNSETPERSIST, 0) < 0)
                return log_error_errno(errno, "Failed to make tap %s transient: %m", ifname);
        if (ioctl(tap, TUNSETOWNER, (unsigned long) uid) < 0)
                return log_error_errno(errno, "Failed to give tap %s to %s: %m", ifname, user);

        r = rtnl_link_get(rtnl, ifname, &link);
        if (r < 0)
                return log_error_errno(r, "Failed to look up tap %s just created: %m", ifname);
        /* The bridge's MTU before enslaving: a smaller one would lower the bridge's. */
        if (br.mtu > 0 && link.mtu != br.mtu) {
                r = rtnl_link_set_mtu(rtnl, link.ifindex, br.mtu);
                if (r < 0)
                        return log_error_errno(r, "Failed to set MTU %u of bridge %s on tap %s: %m",
                                               br.mtu, bridge, ifname);
        }
        r = rtnl_link_set_master(rtnl, link.ifindex, br.ifindex);
        if (r < 0)
                return log_error_errno(r, "Failed to attach tap %s to bridge %s: %m", ifname, bridge);
        r = rtnl_link_set_up(rtnl, link.ifindex);
        if (r < 0)
                return log_error_errno(r, "Failed to bring up tap %s on bridge %s: %m", ifname, bridge);

        if (ioctl(tap, TUNSETPERSIST, 1) < 0)
                return log_error_errno(errno, "Failed to make tap %s persistent: %m", ifname);
        log_info("Tap %s on bridge %s (MTU %u) for %s.", ifname, bridge, br.mtu ?: link.mtu, user);
        return 0;
}

static int tap_del(const char *ifname) {
        _cleanup_close_ int rtnl = -EBADF, tap = -EBADF;
        RtnlLink link;
        int r;

        r = rtnl_open(&rtnl);
        if (r < 0)
                return log_error_errno(r, "Failed to open rtnetlink socket: %m");
        r = rtnl_link_get(rtnl, ifname, &link);
        if (r == -ENODEV) {
                log_debug("Tap %s does not exist, nothing to remove.", ifname);
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to look up tap %s: %m", ifname);
        if (!streq(link.kind, "tun"))
                return log_error_errno(EMEDIUMTYPE, "%s is not a tap device (link kind: %s): left alone.",
                                       ifname, isempty(link.kind) ? "none" : link.kind);

        /* Attaching fails with EBUSY while any process holds the tap: then it is not ours to
         * delete. Once attached, dropping persistence and closing removes it. */
        r = tap_attach(ifname, /* exclusive= */ false, &tap);
        if (r == -EBUSY)
                return log_error_errno(r, "Tap %s is in use by another process: left alone.", ifname);
        if (r == -EINVAL)
                return log_error_errno(r, "%s is not a single-queue tap device: left alone.", ifname);
        if (r < 0)
                return log_error_errno(r, "Failed to attach to tap %s: %m", ifname);
        if (ioctl(tap, TUNSETPERSIST, 0) < 0)
                return log_error_errno(errno, "Failed to make tap %s transient: %m", ifname);
        tap = safe_close(tap);

        r = rtnl_link_get(rtnl, ifname, &link);
        if (r == -ENODEV)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to check that tap %s is gone: %m", ifname);
        return log_error_errno(EBUSY, "Tap %s still exists after removal.", ifname);
}

static void help(FILE *f) {
        fprintf(f,
                "Usage: %1$s add IFNAME BRIDGE USER\n"
                "       %1$s del IFNAME\n\n"
                "Create a persistent tap device owned by USER, with the MTU of BRIDGE, attached to\n"
                "BRIDGE and up; or remove it (a missing tap is not an error).\n",
                program_invocation_short_name);
}

int main(int argc, char *argv[]) {
        int r;

        log_set_prefix("machina-tap");

        if (argc == 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
                help(stdout);
                return EXIT_SUCCESS;
        }
        if (argc == 5 && streq(argv[1], "add")) {
                if (!ifname_is_valid(argv[2]) || !ifname_is_valid(argv[3]) || isempty(argv[4])) {
                        log_error("Invalid interface name, bridge name or user: '%s' '%s' '%s'.",
                                  argv[2], argv[3], argv[4]);
                        return 2;
                }
                r = tap_add(argv[2], argv[3], argv[4]);
        } else if (argc == 3 && streq(argv[1], "del")) {
                if (!ifname_is_valid(argv[2])) {
                        log_error("Invalid interface name '%s'.", argv[2]);
                        return 2;
                }
                r = tap_del(argv[2]);
        } else {
                help(stderr);
                return 2;
        }
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
