// Argument checks for the C boundary. Everything a C caller passes is checked here before the
// engine sees it: pointers for NULL, sizes for sign, overflow and limits, float buffers for NaN and
// infinity, output buffers for capacity. Each check throws an error whose message names the C
// argument, what was expected and what came, e.g.
// "argument 'hidden_size': expected a positive integer, got 0".
//
// Sizes cross the ABI as int64_t (never size_t): a negative value from a C caller's arithmetic bug
// is then visible and reported instead of arriving as a huge unsigned number.

import SeqCore

enum Arg {
    // MARK: Pointers

    /// A required input pointer.
    static func pointer<T>(_ p: UnsafePointer<T>?, _ name: String) throws -> UnsafePointer<T> {
        guard let p else { throw ABIError.nullPointer(name) }
        return p
    }

    /// A required output pointer.
    static func pointer<T>(_ p: UnsafeMutablePointer<T>?, _ name: String) throws -> UnsafeMutablePointer<T> {
        guard let p else { throw ABIError.nullPointer(name) }
        return p
    }

    // MARK: Sizes

    /// A dimension or count that must be at least 1 and at most `Limits.maxElements`.
    static func positive(_ value: Int64, _ name: String) throws -> Int {
        guard value > 0 else { throw SeqError.invalid(name, expected: "a positive integer", got: value) }
        return try withinLimit(value, name)
    }

    /// A count that may be 0 (e.g. an empty batch) and at most `Limits.maxElements`.
    static func nonNegative(_ value: Int64, _ name: String) throws -> Int {
        guard value >= 0 else { throw SeqError.invalid(name, expected: "a non-negative integer", got: value) }
        return try withinLimit(value, name)
    }

    private static func withinLimit(_ value: Int64, _ name: String) throws -> Int {
        // Int is 64-bit on every platform seqcore builds for, so the conversion is exact; the limit
        // keeps later products of sizes far from overflow.
        guard value <= Int64(Limits.maxElements) else {
            throw SeqError(.resourceLimit,
                           "argument '\(name)': expected at most \(Limits.maxElements), got \(value)")
        }
        return Int(value)
    }

    /// The element count of a buffer described by several dimensions, each checked with
    /// `positive` (or `nonNegative` when `allowZero`); the product must not overflow nor exceed
    /// `Limits.maxElements`. `buffer` names the buffer in the message, e.g.
    /// `try Arg.elementCount(of: "input", ("batch", b), ("steps", t), ("input_size", i))`.
    static func elementCount(of buffer: String, allowZero: Bool = false,
                             _ dimensions: (name: String, value: Int64)...) throws -> Int {
        var total = 1
        for (name, value) in dimensions {
            let size = allowZero ? try nonNegative(value, name) : try positive(value, name)
            let (product, overflow) = total.multipliedReportingOverflow(by: size)
            guard !overflow, product <= Limits.maxElements else {
                let formula = dimensions.map { $0.name }.joined(separator: " * ")
                let values = dimensions.map { "\($0.value)" }.joined(separator: " * ")
                throw SeqError(.resourceLimit,
                               "argument '\(buffer)': \(formula) = \(values) elements, more than the limit of \(Limits.maxElements)")
            }
            total = product
        }
        return total
    }

    /// Checks an output buffer's capacity argument (named `capacityName`, counted in `unit`):
    /// negative is `SEQ_ERR_INVALID_ARGUMENT`; less than `needed` is `SEQ_ERR_BUFFER_TOO_SMALL`, with
    /// both numbers in the message so the caller can size the buffer.
    static func capacity(_ capacity: Int64, _ capacityName: String, needed: Int, buffer: String,
                         unit: String = "elements") throws {
        guard capacity >= 0 else {
            throw SeqError.invalid(capacityName, expected: "a non-negative number of \(unit)", got: capacity)
        }
        guard capacity >= Int64(needed) else {
            throw ABIError.bufferTooSmall(buffer, capacity: capacity, needed: needed, unit: unit)
        }
    }

    // MARK: Values

    /// A buffer of `count` floats that must all be finite; the message gives the first bad element.
    static func finite<F: BinaryFloatingPoint>(_ p: UnsafePointer<F>, count: Int, _ name: String) throws {
        if F.self == Float.self && allFinite(UnsafeRawPointer(p), count: count) { return }
        for (i, v) in UnsafeBufferPointer(start: p, count: count).enumerated() where !v.isFinite {
            throw SeqError.invalid(name, expected: "finite values", got: "\(v) at element \(i)")
        }
    }

    /// Whether `count` floats are all finite, at SIMD speed (the element-by-element loop was 1.4%
    /// of a medium layer's call through Python): x·0 is 0 for every finite x and NaN for ±∞ and
    /// NaN, so independent sums of it stay 0 exactly when every value is finite.
    private static func allFinite(_ p: UnsafeRawPointer, count: Int) -> Bool {
        typealias V = SIMD16<Float>
        var s0 = V(), s1 = V(), i = 0
        while i + 32 <= count {
            s0 += p.loadUnaligned(fromByteOffset: i * 4, as: V.self) * 0
            s1 += p.loadUnaligned(fromByteOffset: i * 4 + 64, as: V.self) * 0
            i += 32
        }
        var tail: Float = 0
        while i < count {
            tail += p.load(fromByteOffset: i * 4, as: Float.self) * 0
            i += 1
        }
        return s0 == V() && s1 == V() && tail == 0
    }

    /// One finite number.
    static func finite(_ value: Double, _ name: String) throws {
        guard value.isFinite else { throw SeqError.invalid(name, expected: "a finite number", got: value) }
    }
}
