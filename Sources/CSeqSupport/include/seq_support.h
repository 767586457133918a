// What Swift cannot say itself, for SeqCore's kernels. Header-only: every function is static inline,
// so it compiles into its caller and this target's library holds no code.
#ifndef SEQ_SUPPORT_H
#define SEQ_SUPPORT_H

// A hint to fetch the 64-byte line at `address` into L2 (x86 `prefetcht1`; a read, locality 2):
// no load, no fault (an address past the end of the data is harmless), no effect on any value.
// Swift has no prefetch, and the C intrinsic `_mm_prefetch` is a macro the importer skips. A C
// function rather than LLVM's intrinsic bound from Swift by name: under -sanitize=thread Swift emits
// its calls as `invoke`s, which LLVM refuses for an intrinsic (the compiler aborted); a call to a C
// function is an ordinary call in any build, and inlines to the one instruction.
static inline void seq_prefetch_l2(const void *address) {
    __builtin_prefetch(address, 0, 2);
}

#endif
