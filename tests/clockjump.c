/* A wall-clock jump for ONE process, as an NTP step or a hand-set clock makes it: LD_PRELOAD this
 * and write an offset in seconds ("86400", "-7200.5") to the file named by $CLOCKJUMP_FILE; from
 * then on CLOCK_REALTIME (clock_gettime, gettimeofday, time) reads that much off, while
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME go on untouched, exactly as in a real clock step.
 *
 * Why not libfaketime: with FAKETIME_DONT_FAKE_MONOTONIC=1 (needed, a real jump leaves the
 * monotonic clock alone) its clock_nanosleep wrapper makes Python 3.11's time.sleep fail with
 * EINVAL (0.9.10, Debian bookworm); without it the monotonic clock jumps too, which no real clock
 * step does.
 *
 * Built by tests/test_faults.py with `cc -shared -fPIC -O2 -o clockjump.so clockjump.c -ldl`. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static clock_gettime_fn real_clock_gettime;
static volatile double offset_s;          /* benign race: a double written by one thread at a time */
static volatile double next_read_at = -1; /* CLOCK_MONOTONIC seconds: re-read the file after this */

static void refresh_offset(void) {
    struct timespec now;
    real_clock_gettime(CLOCK_MONOTONIC, &now);
    double t = now.tv_sec + now.tv_nsec / 1e9;
    if (t < next_read_at) return;
    next_read_at = t + 0.05;
    const char *path = getenv("CLOCKJUMP_FILE");
    if (!path) return;
    FILE *f = fopen(path, "r");
    if (!f) return;
    double value;
    if (fscanf(f, "%lf", &value) == 1) offset_s = value;
    fclose(f);
}

static void shift(struct timespec *ts) {
    refresh_offset();
    long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + (long long)(offset_s * 1e9);
    ts->tv_sec = ns / 1000000000LL;
    ts->tv_nsec = ns % 1000000000LL;
    if (ts->tv_nsec < 0) { ts->tv_nsec += 1000000000LL; ts->tv_sec -= 1; }
}

__attribute__((constructor)) static void init(void) {
    real_clock_gettime = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    int rc = real_clock_gettime(clock, ts);
    if (rc == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)) shift(ts);
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz) {
    (void)tz;
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    struct timeval *volatile out = tv; /* glibc declares tv nonnull; callers still pass NULL */
    if (rc == 0 && out) { out->tv_sec = ts.tv_sec; out->tv_usec = ts.tv_nsec / 1000; }
    return rc;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}
