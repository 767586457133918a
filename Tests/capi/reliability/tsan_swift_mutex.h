/* ThreadSanitizer annotations of Swift's Mutex slow paths (tsan_swift_mutex.c); `make tsan` only. */
#ifndef SEQ_TSAN_SWIFT_MUTEX_H
#define SEQ_TSAN_SWIFT_MUTEX_H

/* Looks up the Swift runtime's functions that tsan_swift_mutex.c wraps; aborts with a message when
   one is missing. Returns 1. */
int tsan_swift_mutex_check(void);

/* How many contended lock and unlock calls went through the wrappers so far. */
int tsan_swift_mutex_slow_calls(void);

#endif
