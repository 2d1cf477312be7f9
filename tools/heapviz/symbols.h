/* Names for the return addresses of a snapshot's allocation profile,
 * from the ELF symbol tables of the files its "modules" member lists. */
#ifndef HEAPVIZ_SYMBOLS_H
#define HEAPVIZ_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

struct symbolizer;

/* Reads the modules of snap (files that cannot be read give addresses
 * as module+offset). */
struct symbolizer *sym_open(const struct jval *snap);
void sym_close(struct symbolizer *s);
/* The function holding return address addr ("main", "f+0x1c" when
 * with_offset), else "module+0xOFF", else "0xADDR". */
void sym_name(struct symbolizer *s, uint64_t addr, int with_offset, char *out, size_t len);

#endif
