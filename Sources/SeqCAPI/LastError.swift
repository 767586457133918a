// MARK: - Errors
//
// One message per OS thread, like errno: a failing call stores the reason in the calling thread's
// slot, a successful call leaves it alone (so success costs nothing). The slot is a pthread key,
// not a Swift facility, because the callers' threads are C threads Swift never created, and
// Foundation's Thread is not allowed here (DESIGN §3).

import Glibc
import SeqCore

/// The key of the per-thread slot. Its value is a malloc'd NUL-terminated message owned by the
/// slot; the key's destructor frees it when the thread exits. nil only if the process ran out of
/// pthread keys, in which case messages are dropped (status codes still work).
private let lastErrorKey: pthread_key_t? = {
    var key = pthread_key_t()
    guard pthread_key_create(&key, { free($0) }) == 0 else { return nil }
    return key
}()

private let emptyCString = permanentCString("")

/// Replaces the calling thread's message. Never fails: out of memory leaves the slot empty.
func recordLastError(_ message: String) {
    guard let key = lastErrorKey else { return }
    let copy = message.withCString { strdup($0) }
    let old = pthread_getspecific(key)
    guard pthread_setspecific(key, copy) == 0 else {
        free(copy)
        return
    }
    free(old)
}

/// Runs the body of a C entry point and turns any error it throws into a status code, storing the
/// message (prefixed with the C function's name) in the calling thread's slot.
///
/// Every fallible `@c` function is `guarded { ... }`: the body validates its arguments with `Arg`,
/// calls the engine, writes its outputs, and throws `SeqError` or `ABIError` on failure. What no
/// `catch` can stop is a trap (array index out of range, integer overflow, force-unwrap of nil):
/// code reachable from the ABI must not contain one for any caller input.
@inline(__always)
func guarded(_ function: StaticString = #function, _ body: () throws -> Void) -> SeqStatus {
    do {
        try body()
        return Status.ok.rawValue
    } catch {
        return record(error, function: function)
    }
}

/// The failure path of `guarded`, kept out of line so the success path stays small.
@inline(never)
func record(_ error: any Error, function: StaticString) -> SeqStatus {
    let status: Status
    let message: String
    switch error {
    case let e as SeqError:
        (status, message) = (Status(e.kind), e.message)
    case let e as ABIError:
        (status, message) = (e.status, e.message)
    default:
        (status, message) = (.internal, "unexpected error: \(error) (a bug in seqcore; please report it)")
    }
    recordLastError("\(cFunctionName(function)): \(message)")
    return status.rawValue
}

/// `#function` of a `@c` function is its Swift name, `seq_config_create(_:)`; C knows it as
/// `seq_config_create`.
func cFunctionName(_ function: StaticString) -> Substring {
    let name = "\(function)"
    return name.prefix { $0 != "(" }
}

/// The message of the most recent failed call on the calling thread, e.g.
/// "seq_config_set_int: argument 'hidden_size': expected a positive integer, got 0".
///
/// Calls that succeed leave the message alone, so read it right after a call returned a code other
/// than `SEQ_OK`.
///
/// - Returns: a NUL-terminated UTF-8 string, never NULL ("" when no call on this thread has failed).
///   Owned by the library: valid until the next failing call on the same thread or the thread's
///   exit. Copy it to keep it; do not free it.
/// - Thread safety: safe to call from any thread; each thread sees only its own message.
@c public func seq_last_error() -> UnsafePointer<CChar> {
    guard let key = lastErrorKey, let message = pthread_getspecific(key) else { return emptyCString }
    return UnsafePointer(message.assumingMemoryBound(to: CChar.self))
}
