/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "macro.h"
#include "rtnl.h"

#define RTNL_ATTRS_MAX   256U
#define RTNL_RECV_BUFFER (64U * 1024U)

typedef struct RtnlRequest {
        struct nlmsghdr nh;
        struct ifinfomsg ifi;
        char attrs[RTNL_ATTRS_MAX];
} RtnlRequest;

bool ifname_is_valid(const char *s) {
        size_t n;

        if (isempty(s))
                return false;
        n = strlen(s);
        if (n >= IFNAMSIZ || streq(s, ".") || streq(s, ".."))
                return false;
        for (const char *p = s; *p; p++)
                if (*p == '/' || *p == ':' || *p == '%' || isspace((unsigned char) *p) ||
                    (unsigned char) *p < 0x20 || (unsigned char) *p == 0x7f)
                        return false;
        return true;
}

int rtnl_open(int *ret_fd) {
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
        _cleanup_close_ int fd = -EBADF;

        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static void request_init(RtnlRequest *req, uint16_t type, int ifindex) {
        static uint32_t seq;

        *req = (RtnlRequest) {
                .nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
                .nh.nlmsg_type = type,
                .nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK,
                .nh.nlmsg_seq = ++seq,
                .ifi.ifi_family = AF_UNSPEC,
                .ifi.ifi_index = ifindex,
        };
}

static int request_add_attr(RtnlRequest *req, uint16_t type, const void *data, size_t len) {
        size_t off = NLMSG_ALIGN(req->nh.nlmsg_len);
        struct rtattr *rta;

        if (off + RTA_SPACE(len) > sizeof(*req))
                return -ENOBUFS;
        rta = (struct rtattr *) ((char *) req + off);
        rta->rta_type = type;
        rta->rta_len = RTA_LENGTH(len);
        memcpy(RTA_DATA(rta), data, len);
        req->nh.nlmsg_len = off + RTA_SPACE(len);
        return 0;
}

static void link_parse(const struct nlmsghdr *nh, RtnlLink *ret) {
        const struct ifinfomsg *ifi = NLMSG_DATA(nh);
        int len = (int) nh->nlmsg_len - (int) NLMSG_LENGTH(sizeof(*ifi));

        *ret = (RtnlLink) { .ifindex = ifi->ifi_index, .flags = ifi->ifi_flags };
        for (const struct rtattr *rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
                switch (rta->rta_type) {
                case IFLA_MTU:
                        if (RTA_PAYLOAD(rta) >= sizeof(uint32_t))
                                memcpy(&ret->mtu, RTA_DATA(rta), sizeof(uint32_t));
                        break;
                case IFLA_MASTER:
                        if (RTA_PAYLOAD(rta) >= sizeof(uint32_t))
                                memcpy(&ret->master, RTA_DATA(rta), sizeof(uint32_t));
                        break;
                case IFLA_LINKINFO: {
                        int n = (int) RTA_PAYLOAD(rta);

                        for (const struct rtattr *i = RTA_DATA(rta); RTA_OK(i, n); i = RTA_NEXT(i, n))
                                if (i->rta_type == IFLA_INFO_KIND) {
                                        size_t k = RTA_PAYLOAD(i);

                                        if (k >= sizeof(ret->kind))
                                                k = sizeof(ret->kind) - 1;
                                        memcpy(ret->kind, RTA_DATA(i), k);
                                        ret->kind[k] = 0;
                                }
                        break;
                }
                default:
                        break;
                }
}

/* Sends req and reads until the kernel's acknowledgement (or error) for it. A RTM_NEWLINK
 * answer on the way is parsed into ret_link, when given. */
static int transact(int fd, RtnlRequest *req, RtnlLink *ret_link) {
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        _cleanup_free_ char *buf = NULL;
        bool got_link = false;

        if (sendto(fd, req, req->nh.nlmsg_len, 0, (struct sockaddr *) &kernel, sizeof(kernel)) < 0)
                return -errno;

        buf = malloc(RTNL_RECV_BUFFER);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = recv(fd, buf, RTNL_RECV_BUFFER, 0);
                int len;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                len = (int) n;
                for (struct nlmsghdr *nh = (struct nlmsghdr *) buf; NLMSG_OK(nh, (unsigned) len);
                     nh = NLMSG_NEXT(nh, len)) {
                        if (nh->nlmsg_seq != req->nh.nlmsg_seq)
                                continue;
                        if (nh->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(nh);

                                if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
                                        return -EBADMSG;
                                if (e->error != 0)
                                        return e->error < 0 ? e->error : -e->error;
                                if (ret_link && !got_link)
                                        return -EBADMSG;
                                return 0;
                        }
                        if (nh->nlmsg_type == RTM_NEWLINK && ret_link &&
                            nh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg))) {
                                link_parse(nh, ret_link);
                                got_link = true;
                        }
                }
        }
}

int rtnl_link_get(int fd, const char *ifname, RtnlLink *ret) {
        RtnlRequest req;
        RtnlLink link;
        int r;

        if (!ifname_is_valid(ifname))
                return -EINVAL;
        request_init(&req, RTM_GETLINK, 0);
        r = request_add_attr(&req, IFLA_IFNAME, ifname, strlen(ifname) + 1);
        if (r < 0)
                return r;
        r = transact(fd, &req, &link);
        if (r < 0)
                return r;
        *ret = link;
        return 0;
}

int rtnl_link_set_mtu(int fd, int ifindex, unsigned mtu) {
        uint32_t v = mtu;
        RtnlRequest req;
        int r;

        request_init(&req, RTM_SETLINK, ifindex);
        r = request_add_attr(&req, IFLA_MTU, &v, sizeof(v));
        if (r < 0)
                return r;
        return transact(fd, &req, NULL);
}

int rtnl_link_set_master(int fd, int ifindex, int master) {
        uint32_t v = (uint32_t) master;
        RtnlRequest req;
        int r;

        request_init(&req, RTM_SETLINK, ifindex);
        r = request_add_attr(&req, IFLA_MASTER, &v, sizeof(v));
        if (r < 0)
                return r;
        return transact(fd, &req, NULL);
}

int rtnl_link_set_up(int fd, int ifindex) {
        RtnlRequest req;

        request_init(&req, RTM_SETLINK, ifindex);
        req.ifi.ifi_flags = IFF_UP;
        req.ifi.ifi_change = IFF_UP;
        return transact(fd, &req, NULL);
}
