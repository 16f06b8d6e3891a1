/* The monotonic clock every unit measures time with (pure C: the HTTP unit's deadlines and
 * core.monotonic_ms read the same one). */
#ifndef COZE_CLOCK_H
#define COZE_CLOCK_H

/* Milliseconds from a monotonic clock. */
long long coze_now_ms(void);
/* The same clock with microseconds (a frame budget of 1-2 ms needs them). */
double coze_now_ms_frac(void);

#endif
