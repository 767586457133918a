import Synchronization

/// The one error type of seqcore.
///
/// Every failure reachable from caller input is thrown as a `SeqError`; nothing traps.
/// `description` is the sentence shown to users of the C ABI (`seq_last_error`), Python and the CLI:
/// it names the argument, what was expected and what came.
public struct SeqError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Broad class of the failure; the C ABI maps each kind to one status code.
    public enum Kind: Int32, Sendable {
        /// An argument had the wrong value, size or shape.
        case invalidArgument = 1
        /// A file could not be opened, read, written or renamed.
        case io = 2
        /// A file or byte buffer is not a valid seqcore/safetensors file.
        case format = 3
        /// A loss or gradient became NaN or infinite.
        case numeric = 4
        /// A request would exceed a size or memory limit.
        case resourceLimit = 5
        /// The object is not in a state that allows the call (e.g. backward before forward).
        case state = 6
        /// A name (parameter, option) is unknown.
        case notFound = 7
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// `argument 'name': expected E, got G`
    public static func invalid(_ argument: String, expected: String, got: Any) -> SeqError {
        SeqError(.invalidArgument, "argument '\(argument)': expected \(expected), got \(got)")
    }
}

/// Checks used at every public boundary. They throw instead of trapping. Names are autoclosures:
/// the messages are formatted only when a check fails (these run at every streaming step).
@usableFromInline
enum Check {
    @inlinable
    static func positive(_ value: Int, _ name: @autoclosure () -> String) throws {
        if value <= 0 { throw SeqError.invalid(name(), expected: "a positive integer", got: value) }
    }

    @inlinable
    static func nonNegative(_ value: Int, _ name: @autoclosure () -> String) throws {
        if value < 0 { throw SeqError.invalid(name(), expected: "a non-negative integer", got: value) }
    }

    @inlinable
    static func count(_ actual: Int, _ expected: Int, _ name: @autoclosure () -> String, shape: @autoclosure () -> String) throws {
        if actual != expected {
            throw SeqError.invalid(name(), expected: "\(expected) elements (\(shape()))", got: "\(actual)")
        }
    }

    /// Product of sizes, throwing on overflow or on more than `limit` elements.
    @inlinable
    static func product(_ sizes: [Int], _ name: @autoclosure () -> String, limit: Int = Limits.maxElements) throws -> Int {
        var total = 1
        for s in sizes {
            if s < 0 { throw SeqError.invalid(name(), expected: "non-negative sizes", got: sizes) }
            let (p, overflow) = total.multipliedReportingOverflow(by: s)
            if overflow || p > limit {
                throw SeqError(.resourceLimit,
                    "argument '\(name())': sizes \(sizes) need more than \(limit) elements (the limit)")
            }
            total = p
        }
        return total
    }
}

/// Hard limits checked before any allocation, so absurd sizes fail with an error instead of an
/// out-of-memory kill.
public enum Limits {
    /// Largest element count of any one buffer seqcore allocates (2^31: 8 GiB of Float).
    public static let maxElements = 1 << 31

    static let cap = Atomic<Int>(8 << 30)

    /// Most bytes one forward or backward pass may allocate (default 8 GiB). A call whose estimate
    /// exceeds it fails with a `.resourceLimit` error before allocating. Thread-safe.
    public static var memoryCapBytes: Int {
        get { cap.load(ordering: .relaxed) }
        set { cap.store(max(0, newValue), ordering: .relaxed) }
    }

    /// Throws when `count` scalars of `bytesPerScalar` bytes (overflow-checked) exceed the cap.
    static func checkMemory(_ counts: [Int], bytesPerScalar: Int, _ what: @autoclosure () -> String) throws {
        var total = 0
        for c in counts {
            let (bytes, o1) = c.multipliedReportingOverflow(by: bytesPerScalar)
            let (sum, o2) = total.addingReportingOverflow(bytes)
            if c < 0 || o1 || o2 { throw SeqError(.resourceLimit, "\(what()): the sizes overflow a 64-bit byte count") }
            total = sum
        }
        if total > memoryCapBytes {
            throw SeqError(.resourceLimit, "\(what()): needs about \(total >> 20) MiB, over the memory cap of \(memoryCapBytes >> 20) MiB (Limits.memoryCapBytes)")
        }
    }
}
