/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The little of rtnetlink machina-tap needs, on a plain NETLINK_ROUTE socket: look a link up by
 * name, set its MTU, its master and IFF_UP. Requests are synchronous and acknowledged; errors
 * are the kernel's -errno. */

#include <stdbool.h>

typedef struct RtnlLink {
        int ifindex;
        unsigned mtu;
        int master;             /* ifindex of the master (bridge), 0 if none */
        unsigned flags;         /* IFF_* */
        char kind[32];          /* IFLA_INFO_KIND ("bridge", "tun", …), "" if the link has none */
} RtnlLink;

int rtnl_open(int *ret_fd);
/* -ENODEV when no link has that name. */
int rtnl_link_get(int fd, const char *ifname, RtnlLink *ret);
int rtnl_link_set_mtu(int fd, int ifindex, unsigned mtu);
int rtnl_link_set_master(int fd, int ifindex, int master);
int rtnl_link_set_up(int fd, int ifindex);

/* What the kernel accepts as an interface name (dev_valid_name()), minus '%' (a template for
 * TUNSETIFF): 1..15 bytes, not "." or "..", no '/', ':' or whitespace. */
bool ifname_is_valid(const char *s);
