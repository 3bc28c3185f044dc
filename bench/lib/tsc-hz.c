/* Prints the TSC frequency in Hz, measured against CLOCK_MONOTONIC_RAW over
 * about 0.3 s (median of three 0.1 s windows).  Used by bench/e2e.sh to turn
 * packets per second into cycles per packet.  Build: cc -O2 -o tsc-hz tsc-hz.c */
#include <stdio.h>
#include <stdint.h>
#include <time.h>
#include <x86intrin.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC_RAW, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(void) {
  double hz[3];
  for (int i = 0; i < 3; i++) {
    struct timespec d = {0, 100000000};
    double t0 = now();
    uint64_t c0 = __rdtsc();
    nanosleep(&d, NULL);
    double t1 = now();
    uint64_t c1 = __rdtsc();
    hz[i] = (double)(c1 - c0) / (t1 - t0);
  }
  double a = hz[0], b = hz[1], c = hz[2], m;
  if ((a <= b && b <= c) || (c <= b && b <= a)) m = b;
  else if ((b <= a && a <= c) || (c <= a && a <= b)) m = a;
  else m = c;
  printf("%.0f\n", m);
  return 0;
}
