/* bench/spawn.c: run one command and print "<wall_ns> <maxrss_kib> <exit>" on stdout.
 *
 *   spawn OUTFILE CMD [ARG]...     (environment passed through; stdin = /dev/null,
 *                                   stdout + stderr of CMD -> OUTFILE)
 *
 * Why a C helper: Linux carries the pre-exec address space's RSS high-water mark into
 * the child's ru_maxrss (exec_mmap -> setmax_mm_hiwater_rss). A child forked or vforked
 * by Python therefore reports at least Python's ~20 MiB, whatever it runs. This helper is
 * a few hundred KiB, it fork()s (the child's mm holds only the helper's few copied pages),
 * and wait4() returns that one child's own peak RSS. Wall time is CLOCK_MONOTONIC around
 * fork + wait4, so it includes exec and the dynamic loader, as a shell would see it.
 * Built by bench/run with `cc -O2 -static` (plain `cc -O2` if static libc is missing).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: spawn OUTFILE CMD [ARG]...\n");
        return 2;
    }
    int out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || null < 0) {
        perror("spawn: open");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("spawn: fork");
        return 2;
    }
    if (pid == 0) {
        dup2(null, 0);
        dup2(out, 1);
        dup2(out, 2);
        execv(argv[2], argv + 2);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("spawn: wait4");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    printf("%lld %ld %d\n", ns, ru.ru_maxrss, code);
    return 0;
}
