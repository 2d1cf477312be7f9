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
/* Ends the line with a newline, which stays even when the text filled
 * the buffer. */
void pm_buf_end_line(struct pm_buf *b);
/* Writes the buffer to fd (retrying short writes) and empties it. */
void pm_buf_flush(struct pm_buf *b, int fd);
void pm_write_str(int fd, const char *s);
/* Writes all of [data, data+len) to fd, retrying short writes and EINTR;
 * 0, or -1 with errno set. */
int pm_write_all(int fd, const char *data, size_t len);
/* The same as an emitter's flush callback: ctx points to the fd. */
int pm_flush_to_fd(void *ctx, const char *data, size_t len);
/* One line "PREFIXwhat at 0xADDR", in one write: the form of every
 * message that names a place in the heap. */
void pm_log_at(int fd, const char *prefix, const char *what, const void *addr);

#endif
