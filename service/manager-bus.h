/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.machina.Manager at /org/machina, plus ObjectManager and the machine objects below it. */

#include "manager.h"

int manager_bus_register(Manager *m);
