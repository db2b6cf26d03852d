/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-util.h"

const sd_bus_error_map machina_bus_errors[] = {
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SUCH_MACHINE, ENXIO),
        SD_BUS_ERROR_MAP(BUS_ERROR_MACHINE_EXISTS, EEXIST),
        SD_BUS_ERROR_MAP(BUS_ERROR_INVALID_CONFIG, EINVAL),
        SD_BUS_ERROR_MAP(BUS_ERROR_ALREADY_RUNNING, EALREADY),
        SD_BUS_ERROR_MAP(BUS_ERROR_NOT_RUNNING, ESRCH),
        SD_BUS_ERROR_MAP(BUS_ERROR_BUSY, EBUSY),
        SD_BUS_ERROR_MAP(BUS_ERROR_TIMEOUT, ETIMEDOUT),
        SD_BUS_ERROR_MAP(BUS_ERROR_QMP_UNAVAILABLE, ENOTCONN),
        SD_BUS_ERROR_MAP(BUS_ERROR_JOB_FAILED, EIO),
        SD_BUS_ERROR_MAP(BUS_ERROR_LIMITS_EXCEEDED, E2BIG),
        SD_BUS_ERROR_MAP_END
};

int bus_message_get_sender_uid(sd_bus_message *m, uid_t *ret) {
        _cleanup_bus_creds_ sd_bus_creds *creds = NULL;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;
        *ret = uid;
        return 0;
}
