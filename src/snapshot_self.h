/* Snapshots of the running process (snapshot_self.c): the in-process source
 * of the heap walker, and the snapshot PMALLOC_SNAPSHOT_AT_EXIT asks for.
 * The exported pmalloc_snapshot (api_control.c) starts the allocator and
 * calls pm_snapshot_write. */
#ifndef PMALLOC_SNAPSHOT_SELF_H
#define PMALLOC_SNAPSHOT_SELF_H

/* Writes a JSON snapshot of this process's heap to fd; 0, or -1 with
 * errno set. */
int pm_snapshot_write(int fd);
/* Writes the at-exit snapshot, once, if the option names a file. */
void pm_snapshot_at_exit(void);

#endif
