#ifndef FERRY_SYS_H
#define FERRY_SYS_H
#include <sys/types.h>

/// fallocate(2), which glibc declares only under _GNU_SOURCE.
int ferry_fallocate(int fd, int mode, off_t offset, off_t length);

/// sync_file_range(2) with SYNC_FILE_RANGE_WRITE: starts writeback of a range without waiting.
int ferry_start_writeback(int fd, off_t offset, off_t length);
#endif
