#if SEQCORE_AVX512 || SEQCORE_FMA256
import _Builtin_intrinsics.intel
#endif

/// Activations over whole rows: the gate nonlinearities of every cell go through these.
/// `Float` runs 16 lanes at a time with the rational approximation below; other scalars, and the
/// tests' reference, use the scalar libm functions.
extension Kernels {
    /// x ← σ(x) for `count` elements; for Float, accurate in absolute terms only (`VectorMath.sigmoid`).
    @inline(__always)
    public static func sigmoid<S: SeqScalar>(_ x: UnsafeMutablePointer<S>, count: Int) {
        if S.self == Float.self {
            VectorMath.apply(UnsafeMutableRawPointer(x).assumingMemoryBound(to: Float.self), count, VectorMath.sigmoid)
        } else {
            for i in 0 ..< count { x[i] = sigmoid(x[i]) }
        }
    }

    /// x ← tanh(x) for `count` elements.
    @inline(__always)
    public static func tanh<S: SeqScalar>(_ x: UnsafeMutablePointer<S>, count: Int) {
        if S.self == Float.self {
            VectorMath.apply(UnsafeMutableRawPointer(x).assumingMemoryBound(to: Float.self), count, VectorMath.tanh)
        } else {
            for i in 0 ..< count { x[i] = S.tanh(x[i]) }
        }
    }

    /// y ← tanh(x) for `count` elements (x unchanged).
    @inline(__always)
    public static func tanh<S: SeqScalar>(_ x: UnsafePointer<S>, into y: UnsafeMutablePointer<S>, count: Int) {
        y.update(from: x, count: count)
        tanh(y, count: count)
    }
}

/// σ and tanh on SIMD16<Float>: tanh to 3e-7 relative, σ to 2e-7 absolute.
enum VectorMath {
    typealias V = SIMD16<Float>

    /// a·b + c rounded once. Swift neither contracts a * b + c nor reliably vectorizes the generic
    /// SIMD `addingProduct` (in the gate passes it came out as 16 scalar FMAs), so the build calls
    /// the instruction's intrinsic: one 512-bit FMA with AVX-512, two 256-bit ones with AVX2 + FMA
    /// (where a * b + c had been a multiply and an add per half).
    @_transparent
    static func fma(_ a: V, _ b: V, _ c: V) -> V {
        #if SEQCORE_AVX512
        return _mm512_fmadd_ps(a, b, c)
        #elseif SEQCORE_FMA256
        return V(lowHalf: _mm256_fmadd_ps(a.lowHalf, b.lowHalf, c.lowHalf),
                 highHalf: _mm256_fmadd_ps(a.highHalf, b.highHalf, c.highHalf))
        #else
        return a * b + c
        #endif
    }

    @_transparent
    static func fma(_ a: V, _ b: V, _ c: Float) -> V { fma(a, b, V(repeating: c)) }

    /// σ(x) = 1 / (1 + e^(−x)) = ½ + ½·tanh(x/2): the rational tanh below is cheaper than e^x and a
    /// division. Accurate to 2e-7 absolute, not relative: below x = −16 (tanh's clamp) it stays at
    /// about 9e-8 (σ(−30) ≈ 9e-14), above 16 at 1 − 6e-8. That is all a gate needs; the model's
    /// output probabilities, whose small values a log-likelihood may read, use the scalar form
    /// (`OutputKind.activate`).
    @_transparent
    static func sigmoid(_ x: V) -> V { fma(tanh(0.5 * x), V(repeating: 0.5), 0.5) }

    /// tanh(x) ≈ x·P(x²)/Q(x²), P and Q of degree 4, on |x| ≤ 8; beyond, tanh rounds to within
    /// 2.3e-7 of ±1 and x is clamped to ±8. No exp: the former form (an odd polynomial near 0 and
    /// 1 − 2/(e^(2|x|) + 1) elsewhere, both computed for every lane) cost three times the
    /// instructions. Coefficients: a minimax fit of the relative error on [0, 8] made for seqcore
    /// (scripts/fit_tanh.py), rounded to Float one by one, each rounding followed by a refit of the
    /// rest. Evaluated in Float with fused multiply–adds, the relative error stays below 3e-7 (5 ulp
    /// at most, 0.8 on average); NaN stays NaN.
    @_transparent
    static func tanh(_ x: V) -> V {
        var x = x.replacing(with: 8, where: x .> 8)
        x = x.replacing(with: -8, where: x .< -8)
        let z = x * x
        var p = V(repeating: 1.528_612e-8)
        p = fma(p, z, 2.193_718_9e-5)
        p = fma(p, z, 3.574_288e-3)
        p = fma(p, z, 0.134_468)
        p = fma(p, z, 1)
        var q = V(repeating: 8.545_926e-7)
        q = fma(q, z, 3.415_615_6e-4)
        q = fma(q, z, 2.617_479_1e-2)
        q = fma(q, z, 0.467_801_3)
        q = fma(q, z, 1)
        return x * p / q
    }

    /// The last `h mod 16` units of a row in the gate kernels: they go through zero-padded 16-wide
    /// copies, so every unit sees the same arithmetic as in a full chunk. `body` gets `vectors` × 16
    /// zeroed floats, into which it `gather`s its operands and from which it `scatter`s its results.
    @inline(__always)
    static func paddedTail(vectors: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: vectors * 16) { buffer in
            let b = buffer.baseAddress!
            b.initialize(repeating: 0, count: vectors * 16)
            body(b)
        }
    }

    /// `blocks` runs of `count` floats, `stride` apart in `source`, into runs 16 apart in `tail`.
    @inline(__always)
    static func gather(_ source: UnsafePointer<Float>, blocks: Int = 1, stride: Int = 0, count: Int,
                       into tail: UnsafeMutablePointer<Float>) {
        for g in 0 ..< blocks { (tail + 16 * g).update(from: source + g * stride, count: count) }
    }

    /// `blocks` runs of `count` floats, 16 apart in `tail`, into runs `stride` apart in `dest`.
    @inline(__always)
    static func scatter(_ tail: UnsafePointer<Float>, blocks: Int = 1, count: Int, into dest: UnsafeMutablePointer<Float>,
                        stride: Int = 0) {
        for g in 0 ..< blocks { (dest + g * stride).update(from: tail + 16 * g, count: count) }
    }

    /// 16 floats from / to memory (unaligned), for the fused gate passes of the cells.
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    @inline(__always)
    static func load(_ p: UnsafeMutablePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }

    /// Applies `f` 16 lanes at a time; the tail goes through one padded vector, so every element
    /// sees the same arithmetic.
    @inline(__always)
    static func apply(_ x: UnsafeMutablePointer<Float>, _ count: Int, _ f: (V) -> V) {
        var i = 0
        let raw = UnsafeMutableRawPointer(x)
        while i + 16 <= count {
            raw.storeBytes(of: f(raw.loadUnaligned(fromByteOffset: i * 4, as: V.self)), toByteOffset: i * 4, as: V.self)
            i += 16
        }
        if i < count {
            var tail = V(repeating: 0)
            for j in 0 ..< count - i { tail[j] = x[i + j] }
            tail = f(tail)
            for j in 0 ..< count - i { x[i + j] = tail[j] }
        }
    }
}

// The Float view of a generic pointer, for the SIMD paths taken when S == Float.
extension UnsafeMutablePointer where Pointee: SeqScalar {
    @inline(__always)
    var float: UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(self).assumingMemoryBound(to: Float.self) }
}

extension UnsafePointer where Pointee: SeqScalar {
    @inline(__always)
    var float: UnsafePointer<Float> { UnsafeRawPointer(self).assumingMemoryBound(to: Float.self) }
}
