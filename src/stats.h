/* The statistics behind malloc_stats (stats.c). */
#ifndef PMALLOC_STATS_H
#define PMALLOC_STATS_H


/* malloc_stats's report, written to fd with write(2) only. */
void pm_stats_print(int fd);


#endif
