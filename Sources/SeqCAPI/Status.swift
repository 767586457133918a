// MARK: - Status codes
//
// Every fallible C entry point returns a `SeqStatus`. The C header gets the codes as constants of an
// enum emitted by scripts/gen-header.py from `Status` below, while the return type stays a
// fixed-width `int32_t`: the size of a C enum is the compiler's choice, and a `@c enum` does not
// compile as C++ (DESIGN §5), so no enum type ever crosses the ABI.

import SeqCore

/// A status code: `SEQ_OK` (0) on success, otherwise one of the `SEQ_ERR_*` codes.
/// Returned by every function that can fail; `seq_last_error()` then gives the reason in words.
public typealias SeqStatus = Int32

// One C constant per case (scripts/gen-header.py): `ok` becomes `SEQ_OK`, `fooBar` becomes
// `SEQ_ERR_FOO_BAR`. The values are ABI: never renumber a case, only append. Cases 1–7 carry the raw
// values of `SeqError.Kind`, so an engine error keeps its number in C.

/// The values of `seq_status`. Compare a status with these names, never with literal numbers; a
/// newer library may return codes this header does not list, which `seq_status_string` names.
enum Status: SeqStatus, CaseIterable {
    /// Success.
    case ok = 0
    /// An argument had the wrong value, size or shape, or a value was of the wrong type.
    case invalidArgument = 1
    /// A file could not be opened, read, written or renamed.
    case io = 2
    /// A file or byte buffer is not a valid seqcore/safetensors file.
    case format = 3
    /// A loss or gradient became NaN or infinite.
    case numeric = 4
    /// A request would exceed a size or memory limit, or sizes overflow when multiplied.
    case resourceLimit = 5
    /// The object is not in a state that allows the call (e.g. backward before forward).
    case state = 6
    /// A name (configuration key, parameter) is unknown, or a required value was never set.
    case notFound = 7
    /// A required pointer argument was NULL.
    case nullPointer = 8
    /// A handle argument is not a live handle of the expected kind (wrong kind, freed, or garbage).
    case wrongHandle = 9
    /// An output buffer is smaller than the result; the message gives the size needed.
    case bufferTooSmall = 10
    /// A bug in seqcore: an unexpected failure. Please report it with the message.
    case `internal` = 11

    /// Maps an engine error kind onto its status code; exhaustive, so a new `SeqError.Kind` fails
    /// to compile here until it has a code.
    init(_ kind: SeqError.Kind) {
        switch kind {
        case .invalidArgument: self = .invalidArgument
        case .io: self = .io
        case .format: self = .format
        case .numeric: self = .numeric
        case .resourceLimit: self = .resourceLimit
        case .state: self = .state
        case .notFound: self = .notFound
        }
    }

    /// Short English description, the text of `seq_status_string`.
    var summary: String {
        switch self {
        case .ok: return "success"
        case .invalidArgument: return "invalid argument"
        case .io: return "input/output error"
        case .format: return "invalid file format"
        case .numeric: return "numeric error (NaN or infinity)"
        case .resourceLimit: return "resource limit exceeded"
        case .state: return "call not allowed in the object's current state"
        case .notFound: return "not found"
        case .nullPointer: return "NULL pointer argument"
        case .wrongHandle: return "wrong or invalid handle"
        case .bufferTooSmall: return "output buffer too small"
        case .internal: return "internal error"
        }
    }
}

/// Failures that only the C boundary can have (NULL pointers, bad handles, short buffers): the
/// engine's `SeqError.Kind` has no case for them because the engine never sees raw pointers.
/// `guarded` turns either error type into a status code and a message.
struct ABIError: Error {
    let status: Status
    let message: String

    /// `argument 'name': expected a non-NULL pointer, got NULL`
    static func nullPointer(_ argument: String) -> ABIError {
        ABIError(status: .nullPointer, message: "argument '\(argument)': expected a non-NULL pointer, got NULL")
    }

    /// `argument 'name': buffer too small: capacity N, needed M`
    static func bufferTooSmall(_ argument: String, capacity: Int64, needed: Int, unit: String) -> ABIError {
        ABIError(status: .bufferTooSmall,
                 message: "argument '\(argument)': buffer too small: capacity \(capacity) \(unit), needed \(needed) \(unit)")
    }
}

/// The strings of `seq_status_string`, made once and never freed, so the pointers handed to C
/// stay valid for the life of the process.
private let statusStrings: [SeqStatus: UnsafePointer<CChar>] = Dictionary(
    uniqueKeysWithValues: Status.allCases.map { ($0.rawValue, permanentCString($0.summary)) })
private let unknownStatusString = permanentCString("unknown status code")

/// Describes a status code in a few words, e.g. `seq_status_string(SEQ_ERR_NULL_POINTER)` is
/// "NULL pointer argument". Use `seq_last_error()` for the reason of a particular failure.
///
/// - Parameter code: any value; codes this version does not know give "unknown status code".
/// - Returns: a static NUL-terminated string, never NULL; do not free it.
/// - Thread safety: safe to call from any thread.
@c public func seq_status_string(_ code: SeqStatus) -> UnsafePointer<CChar> {
    statusStrings[code] ?? unknownStatusString
}
