// swift-tools-version:6.1
import PackageDescription

// Kernels are built for the host CPU (AVX-512 here): a from-source build, as DESIGN §5 explains.
// SEQCORE_PORTABLE=1 drops -march=native for a binary that runs on any x86-64.
let nativeFlags: [SwiftSetting] =
    Context.environment["SEQCORE_PORTABLE"] == "1" ? [] : [.unsafeFlags(["-Xcc", "-march=native"])]

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
        // The engine: kernels, cells, layers, models, training, persistence. No Foundation.
        .target(
            name: "SeqCore",
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
            dependencies: ["SeqCore"],
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
