/* The abort path of every integrity check. */
#include "config.h"

#include "corrupt.h"

#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "options.h"

void pm_corruption(const char *check, const void *addr)
{
    if (pm_opt.check_action & 1)
        pm_log_at(STDERR_FILENO, "pmalloc: ", check, addr);
    abort();
}
