#ifndef FERRY_CFUSE_SHIM_H
#define FERRY_CFUSE_SHIM_H

// libfuse 3 low-level API (Debian: libfuse3-dev). 3.5 is the oldest API level Ferry needs:
// lseek (SEEK_DATA/SEEK_HOLE) and fuse_set_log_func are there.
#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <fuse_log.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/uio.h>

// fuse_file_info's flags are C bit-fields; these set them without relying on how Swift imports them.
static inline void ferry_fuse_set_keep_cache(struct fuse_file_info *fi) { fi->keep_cache = 1; }
static inline void ferry_fuse_set_direct_io(struct fuse_file_info *fi) { fi->direct_io = 1; }
static inline int ferry_fuse_open_flags(const struct fuse_file_info *fi) { return fi->flags; }

static void ferry_fuse_wakeup_handler(int signo) { (void)signo; }

// Installs a handler that does nothing for `signo`, without SA_RESTART, so that delivering the
// signal to the thread blocked in read(/dev/fuse) makes that read fail with EINTR and the session
// loop look at its exit flag.
static inline int ferry_fuse_install_wakeup(int signo) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = ferry_fuse_wakeup_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    return sigaction(signo, &action, NULL);
}

// Unblocks `signo` in the calling thread (threads started from Swift's executors inherit a
// mask that blocks every signal).
static inline int ferry_fuse_unblock(int signo) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    return pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

// Serves allocations of `bytes` and more with mmap, so that a freed chunk buffer goes back to
// the system at once instead of staying in one of glibc's per-thread heaps.
static inline int ferry_mmap_threshold(int bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes);
}

#endif
