// Opaque handles: how a Swift object is lent to C.
//
// A handle is the address of a `HandleBox` retained once on the C caller's behalf
// (`Unmanaged.passRetained`); `*_free` gives that reference back. Each box carries the tag of its
// kind, and every handle that is alive is listed in one registry. A call first looks the pointer
// up in the registry and only then touches the box, so NULL, a freed handle, a pointer seqcore never
// made, and a handle of another kind are all reported (SEQ_ERR_NULL_POINTER / SEQ_ERR_WRONG_HANDLE)
// instead of being dereferenced. Best effort only in one case: once a freed handle's address is
// reused by a new handle of the same kind, the stale pointer reaches the new object.
//
// The registry is one lock and one hash lookup per call (tens of nanoseconds), small next to any
// model call; in exchange no invalid pointer is ever read.
//
// To add a kind: a case in `HandleKind`, a `public typealias Seq<Name>Handle = OpaquePointer` with
// its doc comment (the generator turns it into `typedef struct seq_<name> seq_<name>;`), and a
// conformance of the Swift object to `HandleValue`.

import Synchronization

/// The kinds of handle. The raw value is the tag stored in each box (four ASCII letters, so it is
/// recognisable in a debugger's memory dump).
enum HandleKind: UInt32, Sendable {
    case config = 0x4746_4E43  // "CNFG" in memory (little-endian)
    case model = 0x4C44_4F4D  // "MODL"
    case stream = 0x4D52_5453  // "STRM"
    case dataset = 0x5445_5344  // "DSET"

    /// The C type name, for messages.
    var cName: String {
        switch self {
        case .config: return "seq_config"
        case .model: return "seq_model"
        case .stream: return "seq_stream"
        case .dataset: return "seq_dataset"
        }
    }
}

/// A Swift value that can be lent to C as a handle of one kind.
protocol HandleValue {
    static var handleKind: HandleKind { get }
}

/// The object a handle points at: the kind tag, then the value. Non-generic base so the tag can be
/// read before the value's type is known.
class AnyHandleBox {
    let kind: HandleKind
    init(kind: HandleKind) { self.kind = kind }
}

final class HandleBox<Value: HandleValue>: AnyHandleBox {
    /// Immutable: a handle's value is a reference type (or an immutable value) that synchronises
    /// its own mutation, because C may call from several threads at once.
    let value: Value

    init(_ value: Value) {
        self.value = value
        super.init(kind: Value.handleKind)
    }
}

/// The live handles, as `registryKey`s. A set, not a map: the kind lives in the box itself.
private let liveHandles = Mutex<Set<UInt>>([])

/// A handle's address complemented: the registry must not look like a reference to the box, or
/// leak checkers (valgrind in `make capi-test`) would count a handle the caller never freed as
/// still reachable instead of lost.
@inline(__always)
private func registryKey(_ raw: UnsafeRawPointer) -> UInt {
    ~UInt(bitPattern: raw)
}

enum Handles {
    /// Lends `value` to C: the returned pointer holds one reference until `release` is called.
    static func create<Value: HandleValue>(_ value: Value) -> OpaquePointer {
        let raw = Unmanaged.passRetained(HandleBox(value) as AnyHandleBox).toOpaque()
        _ = liveHandles.withLock { $0.insert(registryKey(raw)) }
        return OpaquePointer(raw)
    }

    /// The value behind a handle argument named `argument`, after checking that it is a live handle
    /// of `Value`'s kind. A class value stays alive for as long as the caller holds the result,
    /// even if another thread frees the handle meanwhile.
    static func value<Value: HandleValue>(_ handle: OpaquePointer?, as type: Value.Type = Value.self,
                                          argument: String) throws -> Value {
        let box = try lookUp(handle, kind: Value.handleKind, argument: argument)
        guard let typed = box as? HandleBox<Value> else {
            // Two Swift types claiming one HandleKind: a bug in SeqCAPI, not in the caller.
            throw ABIError(status: .internal,
                           message: "argument '\(argument)': \(box.kind.cName) handle holds an unexpected type")
        }
        return typed.value
    }

    /// Gives back the C caller's reference (the `*_free` functions). NULL is a no-op; a pointer that
    /// is not a live handle of this kind is left alone and reported through `seq_last_error`, since
    /// freeing it could corrupt memory.
    static func release<Value: HandleValue>(_ handle: OpaquePointer?, as type: Value.Type,
                                            function: StaticString = #function, argument: String) {
        guard let handle else { return }
        let raw = UnsafeRawPointer(handle)
        let key = registryKey(raw)
        let removed: Bool = liveHandles.withLock { live in
            guard live.contains(key),
                  Unmanaged<AnyHandleBox>.fromOpaque(raw).takeUnretainedValue().kind == Value.handleKind
            else { return false }
            live.remove(key)
            return true
        }
        if removed {
            // Outside the lock: the box's deinit may run here and may itself free handles.
            Unmanaged<AnyHandleBox>.fromOpaque(raw).release()
        } else {
            do {
                _ = try lookUp(handle, kind: Value.handleKind, argument: argument)
            } catch {
                _ = record(error, function: function)
            }
        }
    }

    /// Finds a live handle of `kind` and returns its box with a strong reference taken under the
    /// registry's lock, which `release` also holds while unlisting: the box cannot be deallocated
    /// between the look-up and the caller's use.
    private static func lookUp(_ handle: OpaquePointer?, kind: HandleKind, argument: String) throws -> AnyHandleBox {
        guard let handle else { throw ABIError.nullPointer(argument) }
        let raw = UnsafeRawPointer(handle)
        let box: AnyHandleBox? = liveHandles.withLock { live in
            guard live.contains(registryKey(raw)) else { return nil }
            return Unmanaged<AnyHandleBox>.fromOpaque(raw).takeUnretainedValue()
        }
        guard let box else {
            throw ABIError(status: .wrongHandle,
                           message: "argument '\(argument)': expected a live \(kind.cName) handle, got \(raw), "
                               + "which is not a live seqcore handle (already freed, or never created by seqcore)")
        }
        guard box.kind == kind else {
            throw ABIError(status: .wrongHandle,
                           message: "argument '\(argument)': expected a \(kind.cName) handle, got a \(box.kind.cName) handle")
        }
        return box
    }

    /// Writes a new handle through an out-pointer argument, after validating it, and sets it to
    /// NULL first so that a caller who ignores the status never holds a stale pointer.
    static func clearOut(_ out: UnsafeMutablePointer<OpaquePointer?>?, argument: String) throws
        -> UnsafeMutablePointer<OpaquePointer?> {
        guard let out else { throw ABIError.nullPointer(argument) }
        out.pointee = nil
        return out
    }
}
