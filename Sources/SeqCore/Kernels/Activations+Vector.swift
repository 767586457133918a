#if SEQCORE_AVX512 || SEQCORE_FMA256
import _Builtin_intrinsics.intel
#endif

/// Activations over whole rows: the gate nonlinearities of every cell go through these.
/// `Float` runs 16 lanes at a time with the polynomial approximations below; other scalars, and the
/// tests' reference, use the scalar libm functions.
extension Kernels {
    /// x ← σ(x) for `count` elements.
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

/// exp, σ and tanh on SIMD16<Float>, to about 2 ulp over the whole range.
enum VectorMath {
    typealias V = SIMD16<Float>

    /// e^x: x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6 polynomial (Cephes' coefficients for
    /// expf), 2^n built in the exponent bits. Inputs are clamped to ±88 so 2^n never overflows;
    /// e^(−88) ≈ 6e−39 stands in for smaller results, harmless in σ and tanh.
    @_transparent
    static func exp(_ x: V) -> V {
        // Clamp, round and convert with plain lane-wise selects and bit operations: the generic
        // SIMD conversions and `rounded(_:)` of the standard library are not inlined and cost more
        // than the whole polynomial.
        var x = x.replacing(with: 88, where: x .> 88)
        x = x.replacing(with: -88, where: x .< -88)
        // Adding 1.5·2^23 rounds to the nearest integer (ties to even) and leaves it in the low
        // mantissa bits, so n comes out both as a float and as an integer.
        let magic: Float = 12_582_912
        let shifted = fma(x, V(repeating: 1.442_695_04), V(repeating: magic))
        let n = shifted - magic
        let ni = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- Int32(bitPattern: magic.bitPattern)
        // r = x − n·ln2, with ln2 split in two so the product is exact.
        var r = x.addingProduct(n, V(repeating: -0.693_359_375))
        r = r.addingProduct(n, V(repeating: 2.121_944_40e-4))
        // Horner steps as fused multiply–adds (`fma`): a separate multiply and add were most of a
        // gate pass's instructions.
        var p = V(repeating: 1.987_569_150e-4)
        p = fma(p, r, 1.398_199_950_7e-3)
        p = fma(p, r, 8.333_451_907_3e-3)
        p = fma(p, r, 4.166_579_589_4e-2)
        p = fma(p, r, 1.666_666_545_9e-1)
        p = fma(p, r, 5.000_000_120_1e-1)
        let er = fma(p * r, r, r) + 1
        let bits = (ni &+ 127) &<< 23
        return er * unsafeBitCast(bits, to: V.self)
    }

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

    /// σ(x) = 1 / (1 + e^(−x))
    @_transparent
    static func sigmoid(_ x: V) -> V { 1 / (1 + exp(-x)) }

    /// tanh: an odd polynomial for |x| < 0.625 (Cephes' tanhf), where 1 − 2/(e^(2|x|) + 1) would
    /// cancel; that formula, with the sign restored, elsewhere.
    @_transparent
    static func tanh(_ x: V) -> V {
        let bits = unsafeBitCast(x, to: SIMD16<UInt32>.self)
        let ax = unsafeBitCast(bits & 0x7FFF_FFFF, to: V.self)
        let z = x * x
        var p = V(repeating: -5.704_988_727_45e-3)
        p = fma(p, z, 2.063_908_879_54e-2)
        p = fma(p, z, -5.373_971_555_31e-2)
        p = fma(p, z, 1.333_144_220_36e-1)
        p = fma(p, z, -3.333_328_194_22e-1)
        let poly = fma(x * z, p, x)
        let large = 1 - 2 / (exp(2 * ax) + 1)
        let signed = unsafeBitCast(unsafeBitCast(large, to: SIMD16<UInt32>.self) | (bits & 0x8000_0000), to: V.self)
        return signed.replacing(with: poly, where: ax .< 0.625)
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
