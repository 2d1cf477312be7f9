/* The leak report (PMALLOC_PROF_LEAKS=1): at exit, the stacks of the
 * sampled blocks still live, largest first, written with write(2).
 * Frames are printed as file+address, the address as the file's own
 * (link-time) one, which nm, addr2line or heapviz sites on the at-exit
 * snapshot turn into names: reading symbol tables here would mean opening
 * and mapping files at exit, inside the allocator. */
#include "config.h"

#include <link.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "options.h"
#include "prof.h"
#include "prof_leaks.h"

#define LEAK_STACKS_SHOWN 20

/* Per stack of the table: estimated live bytes and blocks. */
static uint64_t live_bytes[1u << 14], live_blocks[1u << 14];

struct frame_place {
    uint64_t addr;
    const char *file;
    uint64_t file_addr;
};

static int find_place(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct frame_place *f = data;
    for (unsigned i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uint64_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && f->addr >= lo && f->addr < lo + ph->p_memsz) {
            f->file = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : "[program]";
            f->file_addr = f->addr - info->dlpi_addr;
            return 1;
        }
    }
    return 0;
}

static void hex(struct pm_buf *b, uint64_t v)
{
    char t[19];
    int n = 0;
    do {
        t[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    pm_buf_str(b, "0x");
    while (n--) {
        char c[2] = {t[n], 0};
        pm_buf_str(b, c);
    }
}

static void print_stack(int fd, const struct pm_prof_stack *s, uint64_t bytes, uint64_t blocks)
{
    struct pm_buf b = {.len = 0};
    pm_buf_str(&b, "pmalloc: ");
    pm_buf_dec(&b, bytes);
    pm_buf_str(&b, " bytes in ");
    pm_buf_dec(&b, blocks);
    pm_buf_str(&b, " blocks (");
    pm_buf_dec(&b, s->samples);
    pm_buf_str(&b, " samples) allocated at:");
    pm_buf_end_line(&b);
    pm_buf_flush(&b, fd);
    for (uint32_t i = 0; i < s->nframes && i < PM_PROF_FRAMES; i++) {
        struct frame_place f = {.addr = s->frames[i], .file = NULL};
        dl_iterate_phdr(find_place, &f);
        pm_buf_str(&b, "pmalloc:     ");
        hex(&b, f.addr);
        if (f.file) {
            pm_buf_str(&b, " ");
            pm_buf_str(&b, f.file);
            pm_buf_str(&b, "+");
            hex(&b, f.file_addr);
        }
        pm_buf_end_line(&b);
        pm_buf_flush(&b, fd);
    }
}

void pm_prof_leaks_at_exit(void)
{
    static int done;
    if (!pm_opt.prof_leaks || !pm_prof_on || __atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
        return;
    int fd = STDERR_FILENO;
    const struct pm_prof_stack *stacks = (const struct pm_prof_stack *)(uintptr_t)pm_prof_header.stacks;
    const struct pm_prof_live *live = (const struct pm_prof_live *)(uintptr_t)pm_prof_header.live;
    uint32_t cap = pm_prof_header.stacks_cap < (1u << 14) ? pm_prof_header.stacks_cap : (1u << 14);
    uint64_t total = 0, total_blocks = 0, samples = 0;
    pm_prof_lock_all();
    for (uint32_t i = 0; i < pm_prof_header.live_cap; i++) {
        if (live[i].chunk == 0 || live[i].stack >= cap)
            continue;
        uint64_t blocks = live[i].size ? (live[i].weight + live[i].size / 2) / live[i].size : 1;
        live_bytes[live[i].stack] += live[i].weight;
        live_blocks[live[i].stack] += blocks;
        total += live[i].weight;
        total_blocks += blocks;
        samples++;
    }
    struct pm_buf b = {.len = 0};
    pm_buf_str(&b, "pmalloc: leak report: about ");
    pm_buf_dec(&b, total);
    pm_buf_str(&b, " bytes in ");
    pm_buf_dec(&b, total_blocks);
    pm_buf_str(&b, " blocks still live at exit (from ");
    pm_buf_dec(&b, samples);
    pm_buf_str(&b, " samples; one in about ");
    pm_buf_dec(&b, pm_prof_header.period);
    pm_buf_str(&b, " bytes)");
    pm_buf_end_line(&b);
    pm_buf_flush(&b, fd);
    for (int shown = 0; shown < LEAK_STACKS_SHOWN; shown++) {
        uint32_t best = cap;
        for (uint32_t i = 0; i < cap; i++)
            if (live_bytes[i] != 0 && (best == cap || live_bytes[i] > live_bytes[best]))
                best = i;
        if (best == cap)
            break;
        print_stack(fd, &stacks[best], live_bytes[best], live_blocks[best]);
        live_bytes[best] = 0;
    }
    pm_prof_unlock_all(false);
}

__attribute__((destructor)) static void leak_report_destructor(void) { pm_prof_leaks_at_exit(); }
