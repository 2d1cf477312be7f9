/* The report PMALLOC_STATS asks for at exit (report.c). */
#ifndef PMALLOC_REPORT_H
#define PMALLOC_REPORT_H

#include <stdbool.h>

/* The report at exit, once, if PMALLOC_STATS asked for it. */
void pm_report_at_exit(void);

#endif
