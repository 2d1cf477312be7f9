/* Text output that never allocates: fixed buffers and write(2). */
#ifndef PMALLOC_LOG_H
#define PMALLOC_LOG_H

#include <stddef.h>
#include <stdint.h>

struct pm_buf {
    char text[512];
    size_t len;
};

void pm_buf_str(struct pm_buf *b, const char *s);
void pm_buf_dec(struct pm_buf *b, uint64_t v);
void pm_buf_pad_dec(struct pm_buf *b, uint64_t v, unsigned width);
void pm_buf_hex(struct pm_buf *b, uintptr_t v);
/* Writes the buffer to fd (retrying short writes) and empties it. */
void pm_buf_flush(struct pm_buf *b, int fd);
void pm_write_str(int fd, const char *s);

#endif
