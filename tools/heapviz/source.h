/* Where heapviz gets a snapshot: a live process (process_vm_readv), a core
 * dump (ELF PT_LOAD segments), or a JSON file written earlier. */
#ifndef HEAPVIZ_SOURCE_H
#define HEAPVIZ_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How often a live snapshot is taken before the last one is reported
 * even though it is partial or was read with a lock held. */
#define LIVE_READ_ATTEMPTS 8

struct live_read {
    bool no_stop;    /* read the target while it runs */
    bool use_signal; /* stop it with SIGSTOP/SIGCONT, not ptrace */
    /* results */
    int attempts;    /* walks made */
    int stops;       /* times it was stopped for them */
    bool consistent; /* read stopped, outside every critical section */
    bool reaped;     /* heapviz, its parent, collected its exit ... */
    int reaped_status; /* ... with this wait status */
    bool stop_failed;  /* it could not be stopped: read while it ran */
};

/* Walks the pmalloc heap of process pid and returns the snapshot text
 * (malloc'd, NUL-terminated); NULL with a one-line reason in err.  The
 * process is stopped for each read (unless lr->no_stop) and read again,
 * up to LIVE_READ_ATTEMPTS times, while the snapshot comes out partial,
 * with problems, or with a lock held.  The snapshot gets a "capture"
 * member saying how it was read. */
char *snapshot_pid(pid_t pid, struct live_read *lr, char *err, size_t errlen);

/* The same from a core dump and the executable that produced it. */
char *snapshot_core(const char *core, const char *exe, char *err, size_t errlen);

/* ELF helpers (elf.c). */
/* Value of symbol name in the ELF file at path (dynamic symbols first,
 * then the static symbol table); *is_dyn: the file is ET_DYN, so the
 * value is relative to where it was loaded, *first_vaddr: the lowest
 * PT_LOAD address (page aligned).  0 on success, -1 if absent. */
int elf_symbol(const char *path, const char *name, uint64_t *value, int *is_dyn, uint64_t *first_vaddr);

struct core_seg {
    uint64_t vaddr, memsz, filesz, offset;
};
struct core_file {
    uint64_t start, end, pgoff;
    char *path;
};
struct core_info {
    int fd;
    struct core_seg *segs;
    size_t nsegs;
    struct core_file *files;
    size_t nfiles;
    long pid;
};
/* Reads a core's program headers and NT_FILE / NT_PRSTATUS notes. */
int core_open(const char *path, struct core_info *ci, char *err, size_t errlen);
void core_close(struct core_info *ci);
int core_read(struct core_info *ci, uint64_t addr, void *dst, size_t len);

#endif
