/*
 * LD_PRELOAD shim of the power-cut test (PowerCutTests.cs): records every change a process makes to the files
 * under $POWERCUT_ROOT, and every request to make changes durable, in the order they happen, to $POWERCUT_RECORD.
 * The test replays the record to build the file system as a power cut at any point would leave it.
 *
 * Calls are hooked at their libc entry points (.NET's libSystem.Native and SQLite's libe_sqlite3 call those), and
 * through dlsym too: a [LibraryImport("libc")] resolves its function with dlsym on libc's own handle, which the
 * dynamic linker answers from libc itself, past any preloaded library.
 *
 * Record: a header {u32 op, u32 path length, u32 second path length, u32 flags, i64 offset, i64 length}, then
 * the path, the second path and, for a write, its bytes. Each hooked call on a watched file runs under one lock
 * together with its record, so the record's order is the order the kernel saw.
 *
 * Build: gcc -shared -fPIC -O2 -o powercut.so powercut_shim.c -ldl -lpthread
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { OP_CREATE = 1, OP_WRITE, OP_TRUNCATE, OP_FSYNC, OP_SYNCALL, OP_RENAME, OP_UNLINK, OP_MKDIR, OP_MARK,
       OP_RMDIR, OP_UNSUPPORTED };

struct header { uint32_t op, path_length, path2_length, flags; int64_t offset, length; };

#define MAX_FDS 65536
static char *fd_paths[MAX_FDS];
static int fd_append[MAX_FDS];
static char root[4096], parent[4096], mark[4096];
static size_t root_length;
static int record_fd = -1;
static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

static void *(*real_dlsym)(void *, const char *);
#define REAL(name) static __typeof__(name) *real_##name; \
    if (!real_##name) real_##name = (__typeof__(name) *)find_real(#name)

static void *find_real(const char *name)
{
    if (!real_dlsym) {
        real_dlsym = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
        if (!real_dlsym) real_dlsym = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
        if (!real_dlsym) real_dlsym = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.17");
    }
    return real_dlsym(RTLD_NEXT, name);
}

__attribute__((constructor)) static void start(void)
{
    const char *r = getenv("POWERCUT_ROOT"), *rec = getenv("POWERCUT_RECORD"), *m = getenv("POWERCUT_MARK");
    if (!r || !rec) return;
    snprintf(root, sizeof root, "%s", r);
    root_length = strlen(root);
    snprintf(parent, sizeof parent, "%s", r);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) *slash = 0;
    if (m) snprintf(mark, sizeof mark, "%s", m);
    REAL(open);
    record_fd = real_open(rec, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

static int watched(const char *path)
{
    if (record_fd < 0 || !path) return 0;
    if (strcmp(path, parent) == 0) return 1;
    return strncmp(path, root, root_length) == 0 && (path[root_length] == 0 || path[root_length] == '/');
}

/* An absolute form of path (relative to dirfd when that is a tracked folder); caller frees. */
static char *absolute(int dirfd, const char *path)
{
    if (!path) return NULL;
    char *out = malloc(8192);
    if (path[0] == '/') snprintf(out, 8192, "%s", path);
    else if (dirfd == AT_FDCWD || dirfd < 0) {
        char cwd[4096];
        if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
        snprintf(out, 8192, "%s/%s", cwd, path);
    } else if (dirfd < MAX_FDS && fd_paths[dirfd]) snprintf(out, 8192, "%s/%s", fd_paths[dirfd], path);
    else snprintf(out, 8192, "?/%s", path);
    return out;
}

static void emit(uint32_t op, const char *path, const char *path2, uint32_t flags, int64_t offset,
                 const struct iovec *data, int count, int64_t length)
{
    REAL(write);
    struct header h = { op, path ? (uint32_t)strlen(path) : 0, path2 ? (uint32_t)strlen(path2) : 0, flags,
                        offset, length };
    /* One buffer, one write: the record never interleaves with itself even if a hook nests. */
    size_t total = sizeof h + h.path_length + h.path2_length + (data ? (size_t)length : 0);
    char *buffer = malloc(total), *p = buffer;
    memcpy(p, &h, sizeof h); p += sizeof h;
    if (path) { memcpy(p, path, h.path_length); p += h.path_length; }
    if (path2) { memcpy(p, path2, h.path2_length); p += h.path2_length; }
    int64_t left = length;
    for (int i = 0; data && i < count && left > 0; i++) {
        size_t n = data[i].iov_len < (size_t)left ? data[i].iov_len : (size_t)left;
        memcpy(p, data[i].iov_base, n); p += n; left -= (int64_t)n;
    }
    size_t done = 0;
    while (done < total) {
        ssize_t n = real_write(record_fd, buffer + done, total - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) abort(); /* a lost record would make the replay lie */
        done += (size_t)n;
    }
    free(buffer);
}

static const char *tracked(int fd) { return fd >= 0 && fd < MAX_FDS ? fd_paths[fd] : NULL; }

/* ---- opening and closing ------------------------------------------------------------------------------ */

/* Every hook: a call on something not watched goes straight through; a watched one runs under the lock, and
 * its record is written before the lock is released, with errno as the call left it. */

static void mark_if_asked(const char *full)
{
    if (!mark[0] || !full || strcmp(full, mark) != 0) return;
    pthread_mutex_lock(&lock);
    emit(OP_MARK, full, NULL, 0, 0, NULL, 0, 0);
    pthread_mutex_unlock(&lock);
}

static int open_done(char *full, int flags, int existed, int fd)
{
    int saved = errno;
    if (fd >= 0) {
        if ((flags & O_CREAT) && !existed) emit(OP_CREATE, full, NULL, (uint32_t)flags, 0, NULL, 0, 0);
        else if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY)
            emit(OP_TRUNCATE, full, NULL, 0, 0, NULL, 0, 0);
        if (fd < MAX_FDS) {
            free(fd_paths[fd]);
            fd_paths[fd] = full;
            fd_append[fd] = (flags & O_APPEND) != 0;
            full = NULL;
        }
    }
    pthread_mutex_unlock(&lock);
    free(full);
    errno = saved;
    return fd;
}

static mode_t mode_of(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

#define OPEN_HOOK(real_call, dirfd, path, flags) \
    do { \
        char *full = absolute(dirfd, path); \
        mark_if_asked(full); \
        if (!watched(full)) { free(full); return real_call; } \
        pthread_mutex_lock(&lock); \
        int existed = access(full, F_OK) == 0; \
        int fd = real_call; \
        return open_done(full, flags, existed, fd); \
    } while (0)

int open(const char *path, int flags, ...)
{
    va_list ap; va_start(ap, flags); mode_t mode = mode_of(flags, ap); va_end(ap);
    REAL(open);
    OPEN_HOOK(real_open(path, flags, mode), AT_FDCWD, path, flags);
}

int open64(const char *path, int flags, ...)
{
    va_list ap; va_start(ap, flags); mode_t mode = mode_of(flags, ap); va_end(ap);
    REAL(open64);
    OPEN_HOOK(real_open64(path, flags, mode), AT_FDCWD, path, flags);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap; va_start(ap, flags); mode_t mode = mode_of(flags, ap); va_end(ap);
    REAL(openat);
    OPEN_HOOK(real_openat(dirfd, path, flags, mode), dirfd, path, flags);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap; va_start(ap, flags); mode_t mode = mode_of(flags, ap); va_end(ap);
    REAL(openat64);
    OPEN_HOOK(real_openat64(dirfd, path, flags, mode), dirfd, path, flags);
}

int __open_2(const char *path, int flags)
{
    REAL(open);
    OPEN_HOOK(real_open(path, flags), AT_FDCWD, path, flags);
}

int __open64_2(const char *path, int flags)
{
    REAL(open64);
    OPEN_HOOK(real_open64(path, flags), AT_FDCWD, path, flags);
}

int creat(const char *path, mode_t mode)
{
    REAL(open);
    OPEN_HOOK(real_open(path, O_CREAT | O_WRONLY | O_TRUNC, mode), AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC);
}

int close(int fd)
{
    REAL(close);
    if (!tracked(fd)) return real_close(fd);
    pthread_mutex_lock(&lock);
    free(fd_paths[fd]);
    fd_paths[fd] = NULL;
    int result = real_close(fd);
    pthread_mutex_unlock(&lock);
    return result;
}

/* ---- writing ------------------------------------------------------------------------------------------ */

static ssize_t write_done(int fd, off_t before, int positioned, const struct iovec *iov, int count, ssize_t n)
{
    int saved = errno;
    if (n > 0) {
        /* With O_APPEND the data went to the end: the descriptor's offset is now just past it. */
        off_t offset = positioned ? before : fd_append[fd] ? lseek(fd, 0, SEEK_CUR) - n : before;
        emit(OP_WRITE, fd_paths[fd], NULL, 0, offset, iov, count, n);
    }
    pthread_mutex_unlock(&lock);
    errno = saved;
    return n;
}

#define WRITE_HOOK(real_call, fd, at, iov, count) \
    do { \
        if (!tracked(fd)) return real_call; \
        pthread_mutex_lock(&lock); \
        off_t before = (at) >= 0 ? (off_t)(at) : lseek(fd, 0, SEEK_CUR); \
        ssize_t n = real_call; \
        return write_done(fd, before, (at) >= 0, iov, count, n); \
    } while (0)

ssize_t write(int fd, const void *buffer, size_t count)
{
    REAL(write);
    struct iovec one = { (void *)buffer, count };
    WRITE_HOOK(real_write(fd, buffer, count), fd, -1, &one, 1);
}

ssize_t pwrite(int fd, const void *buffer, size_t count, off_t offset)
{
    REAL(pwrite);
    struct iovec one = { (void *)buffer, count };
    WRITE_HOOK(real_pwrite(fd, buffer, count, offset), fd, offset, &one, 1);
}

ssize_t pwrite64(int fd, const void *buffer, size_t count, off64_t offset)
{
    REAL(pwrite64);
    struct iovec one = { (void *)buffer, count };
    WRITE_HOOK(real_pwrite64(fd, buffer, count, offset), fd, offset, &one, 1);
}

ssize_t writev(int fd, const struct iovec *iov, int count)
{
    REAL(writev);
    WRITE_HOOK(real_writev(fd, iov, count), fd, -1, iov, count);
}

ssize_t pwritev(int fd, const struct iovec *iov, int count, off_t offset)
{
    REAL(pwritev);
    WRITE_HOOK(real_pwritev(fd, iov, count, offset), fd, offset, iov, count);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int count, off64_t offset)
{
    REAL(pwritev64);
    WRITE_HOOK(real_pwritev64(fd, iov, count, offset), fd, offset, iov, count);
}

/* A call that succeeded (returned 0) on a tracked descriptor gets one record. */
static int fd_call_done(int fd, int result, uint32_t op, int64_t offset)
{
    int saved = errno;
    if (result == 0) emit(op, fd_paths[fd], NULL, 0, offset, NULL, 0, 0);
    pthread_mutex_unlock(&lock);
    errno = saved;
    return result;
}

#define FD_HOOK(real_call, fd, op, offset) \
    do { \
        if (!tracked(fd)) return real_call; \
        pthread_mutex_lock(&lock); \
        int result = real_call; \
        return fd_call_done(fd, result, op, offset); \
    } while (0)

int ftruncate(int fd, off_t length)
{
    REAL(ftruncate);
    FD_HOOK(real_ftruncate(fd, length), fd, OP_TRUNCATE, length);
}

int ftruncate64(int fd, off64_t length)
{
    REAL(ftruncate64);
    FD_HOOK(real_ftruncate64(fd, length), fd, OP_TRUNCATE, length);
}

/* Calls the replay does not model: recorded so that the test fails instead of passing on a partial picture. */
static void unsupported(int fd, const char *what)
{
    if (!tracked(fd)) return;
    pthread_mutex_lock(&lock);
    emit(OP_UNSUPPORTED, fd_paths[fd], what, 0, 0, NULL, 0, 0);
    pthread_mutex_unlock(&lock);
}

int fallocate(int fd, int mode, off_t offset, off_t length)
{
    REAL(fallocate);
    unsupported(fd, "fallocate");
    return real_fallocate(fd, mode, offset, length);
}

int posix_fallocate(int fd, off_t offset, off_t length)
{
    REAL(posix_fallocate);
    unsupported(fd, "posix_fallocate");
    return real_posix_fallocate(fd, offset, length);
}

ssize_t copy_file_range(int in, off64_t *in_offset, int out, off64_t *out_offset, size_t length,
                        unsigned int flags)
{
    REAL(copy_file_range);
    unsupported(out, "copy_file_range");
    return real_copy_file_range(in, in_offset, out, out_offset, length, flags);
}

/* ---- making durable ----------------------------------------------------------------------------------- */

int fsync(int fd)
{
    REAL(fsync);
    FD_HOOK(real_fsync(fd), fd, OP_FSYNC, 0);
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    FD_HOOK(real_fdatasync(fd), fd, OP_FSYNC, 0);
}

static void sync_all(void)
{
    if (record_fd < 0) return;
    pthread_mutex_lock(&lock);
    emit(OP_SYNCALL, NULL, NULL, 0, 0, NULL, 0, 0);
    pthread_mutex_unlock(&lock);
}

int syncfs(int fd)
{
    REAL(syncfs);
    /* Any descriptor on the workspace's file system counts: the test keeps the workspace on one. */
    int result = real_syncfs(fd);
    int saved = errno;
    if (result == 0) sync_all();
    errno = saved;
    return result;
}

void sync(void)
{
    REAL(sync);
    real_sync();
    sync_all();
}

/* ---- names -------------------------------------------------------------------------------------------- */

static int name_done(uint32_t op, char *full, char *full2, int result)
{
    int saved = errno;
    if (result == 0) emit(op, full, full2, 0, 0, NULL, 0, 0);
    pthread_mutex_unlock(&lock);
    free(full); free(full2);
    errno = saved;
    return result;
}

#define NAME_HOOK(real_call, op, dirfd, path, dirfd2, path2) \
    do { \
        char *full = absolute(dirfd, path), *full2 = absolute(dirfd2, path2); \
        if (!watched(full) && !watched(full2)) { free(full); free(full2); return real_call; } \
        pthread_mutex_lock(&lock); \
        int result = real_call; \
        return name_done(op, full, full2, result); \
    } while (0)

int rename(const char *from, const char *to)
{
    REAL(rename);
    NAME_HOOK(real_rename(from, to), OP_RENAME, AT_FDCWD, from, AT_FDCWD, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
    REAL(renameat);
    NAME_HOOK(real_renameat(fromfd, from, tofd, to), OP_RENAME, fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned int flags)
{
    REAL(renameat2);
    NAME_HOOK(real_renameat2(fromfd, from, tofd, to, flags), OP_RENAME, fromfd, from, tofd, to);
}

int unlink(const char *path)
{
    REAL(unlink);
    NAME_HOOK(real_unlink(path), OP_UNLINK, AT_FDCWD, path, AT_FDCWD, NULL);
}

int unlinkat(int dirfd, const char *path, int flags)
{
    REAL(unlinkat);
    NAME_HOOK(real_unlinkat(dirfd, path, flags), flags & AT_REMOVEDIR ? OP_RMDIR : OP_UNLINK, dirfd, path,
              AT_FDCWD, NULL);
}

int rmdir(const char *path)
{
    REAL(rmdir);
    NAME_HOOK(real_rmdir(path), OP_RMDIR, AT_FDCWD, path, AT_FDCWD, NULL);
}

int mkdir(const char *path, mode_t mode)
{
    REAL(mkdir);
    NAME_HOOK(real_mkdir(path, mode), OP_MKDIR, AT_FDCWD, path, AT_FDCWD, NULL);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
    REAL(mkdirat);
    NAME_HOOK(real_mkdirat(dirfd, path, mode), OP_MKDIR, dirfd, path, AT_FDCWD, NULL);
}

/* ---- lookups by name ---------------------------------------------------------------------------------- */

static const struct { const char *name; void *hook; } hooks[] = {
    { "open", (void *)open }, { "open64", (void *)open64 }, { "openat", (void *)openat },
    { "openat64", (void *)openat64 }, { "close", (void *)close }, { "write", (void *)write },
    { "pwrite", (void *)pwrite }, { "pwrite64", (void *)pwrite64 }, { "writev", (void *)writev },
    { "pwritev", (void *)pwritev }, { "pwritev64", (void *)pwritev64 }, { "ftruncate", (void *)ftruncate },
    { "ftruncate64", (void *)ftruncate64 }, { "fsync", (void *)fsync }, { "fdatasync", (void *)fdatasync },
    { "syncfs", (void *)syncfs }, { "sync", (void *)sync }, { "rename", (void *)rename },
    { "renameat", (void *)renameat }, { "renameat2", (void *)renameat2 }, { "unlink", (void *)unlink },
    { "unlinkat", (void *)unlinkat }, { "rmdir", (void *)rmdir }, { "mkdir", (void *)mkdir },
    { "mkdirat", (void *)mkdirat }, { "fallocate", (void *)fallocate },
    { "posix_fallocate", (void *)posix_fallocate }, { "copy_file_range", (void *)copy_file_range },
    { NULL, NULL },
};

void *dlsym(void *handle, const char *name)
{
    if (!real_dlsym) find_real("dlsym");
    void *found = real_dlsym(handle, name);
    if (!found || handle == RTLD_NEXT) return found;
    for (int i = 0; hooks[i].name; i++)
        /* Only libc's own function is replaced, by the hook of the same name. */
        if (strcmp(name, hooks[i].name) == 0) return found == find_real(name) ? hooks[i].hook : found;
    return found;
}
