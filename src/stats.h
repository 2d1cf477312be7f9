/* Reports (stats.c): the statistics behind malloc_stats, and the report
 * PMALLOC_STATS asks for at exit. */
#ifndef PMALLOC_STATS_H
#define PMALLOC_STATS_H

/* malloc_stats's report, written to fd with write(2) only. */
void pm_stats_print(int fd);
/* The report at exit, once, if PMALLOC_STATS asked for it. */
void pm_stats_at_exit(void);

#endif
