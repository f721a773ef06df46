#ifndef FERRY_SYS_H
#define FERRY_SYS_H
#include <sys/types.h>

/// fallocate(2), which glibc declares only under _GNU_SOURCE.
int ferry_fallocate(int fd, int mode, off_t offset, off_t length);
#endif
