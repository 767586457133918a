/*
 * Linked into the ThreadSanitizer programs of `make tsan` only (never into the library or a user's
 * program): teaches ThreadSanitizer the happens-before edges of Swift's `Synchronization.Mutex`,
 * which SeqCAPI uses for its handle registry, configs, datasets and the per-model and per-stream
 * locks.
 *
 * Why it is needed. On Linux a Mutex is a 32-bit word locked with a compare-and-swap, falling back
 * to `_MutexHandle._lockSlow` / `_unlockSlow` when contended. The fast paths are inlined into
 * libseqcore and instrumented (an acquiring/releasing atomic on the word, which TSan understands);
 * the slow paths live in the Swift runtime's libswiftSynchronization.so, which is not built with
 * TSan: `_lockSlow` spins on the word with plain `lock cmpxchg` and then sleeps in
 * futex(FUTEX_LOCK_PI), where the kernel hands the lock over. TSan sees neither, so every contended
 * acquisition lacks its edge from the previous release, and TSan reports the data the mutex
 * protects as racing (e.g. the registry's Set in Handles.swift under concurrent create/free).
 *
 * What this does. `make tsan` links the library against the Swift runtime's shared libraries
 * (not -static-stdlib), so libseqcore calls the two slow paths through the PLT; the definitions
 * below interpose them, call the runtime's own functions, and annotate the lock word exactly as
 * the inlined fast paths do: __tsan_acquire after the lock is obtained, __tsan_release before it
 * is handed on. No report is suppressed; an access that is not under the lock is still reported.
 *
 * The ABI: both are Swift methods of `_MutexHandle` (mangled names below), with `self` (the
 * address of the lock word) in the Swift context register (r13 on x86-64, clang's swift_context)
 * and `_lockSlow`'s argument, the caller's thread id, in the first integer register.
 * test_concurrency.c fails the run if the symbols cannot be found, so a runtime that renames them
 * cannot silently bring the false reports back.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tsan_swift_mutex.h"

void __tsan_acquire(void *address);
void __tsan_release(void *address);

#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"
#define TRY_LOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"

typedef __attribute__((swiftcall)) void (*lock_slow_fn)(uint32_t thread_id, void *word __attribute__((swift_context)));
typedef __attribute__((swiftcall)) void (*unlock_slow_fn)(void *word __attribute__((swift_context)));
typedef __attribute__((swiftcall)) _Bool (*try_lock_slow_fn)(void *word __attribute__((swift_context)));

/* The runtime's functions, looked up once; atomics so that the lazy look-up is not itself a race. */
static void *real_function(void **slot, const char *name) {
    void *function = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (function == NULL) {
        function = dlsym(RTLD_NEXT, name);
        if (function == NULL) {
            fprintf(stderr, "tsan_swift_mutex: %s not found in the Swift runtime\n", name);
            abort();
        }
        __atomic_store_n(slot, function, __ATOMIC_RELEASE);
    }
    return function;
}

static void *real_lock_slow, *real_unlock_slow, *real_try_lock_slow;
static int interposed_calls;

__attribute__((swiftcall)) void mutex_lock_slow(uint32_t thread_id, void *word __attribute__((swift_context)))
    __asm__(LOCK_SLOW);
__attribute__((swiftcall)) void mutex_lock_slow(uint32_t thread_id, void *word __attribute__((swift_context))) {
    ((lock_slow_fn)real_function(&real_lock_slow, LOCK_SLOW))(thread_id, word);
    __atomic_fetch_add(&interposed_calls, 1, __ATOMIC_RELAXED);
    __tsan_acquire(word);
}

__attribute__((swiftcall)) void mutex_unlock_slow(void *word __attribute__((swift_context))) __asm__(UNLOCK_SLOW);
__attribute__((swiftcall)) void mutex_unlock_slow(void *word __attribute__((swift_context))) {
    __tsan_release(word);
    __atomic_fetch_add(&interposed_calls, 1, __ATOMIC_RELAXED);
    ((unlock_slow_fn)real_function(&real_unlock_slow, UNLOCK_SLOW))(word);
}

__attribute__((swiftcall)) _Bool mutex_try_lock_slow(void *word __attribute__((swift_context))) __asm__(TRY_LOCK_SLOW);
__attribute__((swiftcall)) _Bool mutex_try_lock_slow(void *word __attribute__((swift_context))) {
    _Bool locked = ((try_lock_slow_fn)real_function(&real_try_lock_slow, TRY_LOCK_SLOW))(word);
    __atomic_fetch_add(&interposed_calls, 1, __ATOMIC_RELAXED);
    if (locked) __tsan_acquire(word);
    return locked;
}

int tsan_swift_mutex_check(void) {
    /* Resolves every symbol now, so a renamed runtime function fails at start-up, not mid-run. */
    real_function(&real_lock_slow, LOCK_SLOW);
    real_function(&real_unlock_slow, UNLOCK_SLOW);
    real_function(&real_try_lock_slow, TRY_LOCK_SLOW);
    return 1;
}

int tsan_swift_mutex_slow_calls(void) { return __atomic_load_n(&interposed_calls, __ATOMIC_RELAXED); }
