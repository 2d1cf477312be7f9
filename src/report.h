/* The report PMALLOC_STATS asks for at exit (report.c). */
#ifndef PMALLOC_REPORT_H
#define PMALLOC_REPORT_H

#include <stdbool.h>

/* The report, as text or as one JSON object, to fd (write(2) only). */
void pm_report_print(int fd, bool json);
/* The report at exit, once, if PMALLOC_STATS asked for it. */
void pm_report_at_exit(void);

#endif
