// swift-tools-version:6.1
import PackageDescription
import Foundation

// Kernels are built for the host CPU by default (AVX-512 or AVX2, whichever it has): a from-source build, as DESIGN §5
// explains. SEQCORE_MARCH picks another target (any clang -march value); SEQCORE_PORTABLE=1 means
// x86-64-v3 (AVX2 + FMA: every x86-64 since 2013-2015, and what valgrind can run).
// The GEMM register tile follows the target's register file: SEQCORE_AVX512 selects the 32-register
// kernel, otherwise the 16-register AVX2 one (GEMM+Float.swift).
let environment = Context.environment
let march = environment["SEQCORE_MARCH"] ?? (environment["SEQCORE_PORTABLE"] == "1" ? "x86-64-v3" : "native")
let targetHasAVX512: Bool = {
    switch march {
    case "native":
        // The manifest runs on the build machine, so "native" is this machine's /proc/cpuinfo.
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return flags.contains(" avx512f ") && flags.contains(" avx512vl ")
    case "x86-64-v4", "skylake-avx512", "icelake-server", "sapphirerapids", "znver4", "znver5":
        return true
    default:
        return false
    }
}()
// Without AVX-512, the gate nonlinearities call the 256-bit FMA instruction when the target has
// it (Swift neither contracts a * b + c nor lowers SIMD16's addingProduct to it there); a target
// without FMA (e.g. -march=x86-64) keeps a separate multiply and add.
let targetHasFMA256: Bool = {
    if targetHasAVX512 { return false }  // the AVX-512 kernels have their own FMA
    switch march {
    case "native":
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return flags.contains(" fma ") && flags.contains(" avx2 ")
    case "x86-64-v3", "haswell", "broadwell", "skylake", "alderlake", "znver1", "znver2", "znver3":
        return true
    default:
        return false
    }
}()
let nativeFlags: [SwiftSetting] =
    [.unsafeFlags(["-Xcc", "-march=\(march)"])] + (targetHasAVX512 ? [.define("SEQCORE_AVX512")] : [])
        + (targetHasFMA256 ? [.define("SEQCORE_FMA256")] : [])

let package = Package(
    name: "seqcore",
    products: [
        // The Swift library.
        .library(name: "SeqCore", targets: ["SeqCore"]),
        // The C ABI as libseqcore.so. Named differently from the executable: SwiftPM silently
        // drops one of two products that share a name (DESIGN §5).
        .library(name: "seqcore", type: .dynamic, targets: ["SeqCAPI"]),
        .executable(name: "seqcore-cli", targets: ["seqcore-cli"]),
        .executable(name: "seqcore-bench", targets: ["seqcore-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // What Swift cannot say itself (a prefetch hint, for the GEMM's next sliver and seqcore-bench's
        // read probe), as static inline C: no code of its own.
        .target(name: "CSeqSupport"),
        // The engine: kernels, cells, layers, models, training, persistence. No Foundation.
        .target(
            name: "SeqCore",
            dependencies: ["CSeqSupport"],
            swiftSettings: nativeFlags + [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
        ),
        // The C ABI: thin @c functions that validate, convert and catch.
        .target(
            name: "SeqCAPI",
            dependencies: ["SeqCore"],
            swiftSettings: nativeFlags
        ),
        .executableTarget(
            name: "seqcore-cli",
            dependencies: [
                "SeqCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: nativeFlags
        ),
        // Timings for bench/compare.py (JSON lines); no tests, no assertions.
        .executableTarget(
            name: "seqcore-bench",
            dependencies: ["SeqCore", "CSeqSupport"],
            swiftSettings: nativeFlags
        ),
        .testTarget(
            name: "SeqCoreTests",
            dependencies: ["SeqCore"],
            swiftSettings: nativeFlags
        ),
    ],
    swiftLanguageModes: [.v5]
)
