// MARK: - Version
//
// The one place the version is written. scripts/gen-header.py copies these four constants into the
// header's SEQ_VERSION_* and SEQ_ABI_VERSION macros, and the Makefile reads them (through the
// script) for the library's file name, soname and pkg-config file. Each must stay a plain
// `let name: Int32 = <digits>` line for the script to find it.

/// Release version, MAJOR.MINOR.PATCH.
let seqVersionMajor: Int32 = 0
let seqVersionMinor: Int32 = 1
let seqVersionPatch: Int32 = 0

/// Version of the binary interface: the N of the soname libseqcore.so.N. Raised whenever a change
/// would break a program compiled against an older header (a removed or changed function, a
/// renumbered code); adding functions or codes keeps it.
let seqABIVersion: Int32 = 0

private let versionString = permanentCString("\(seqVersionMajor).\(seqVersionMinor).\(seqVersionPatch)")

/// The library's version as "MAJOR.MINOR.PATCH", e.g. "0.1.0".
///
/// Compare with `SEQ_VERSION_STRING` to detect a program running against another build than the
/// header it was compiled with.
///
/// - Returns: a static NUL-terminated string, never NULL; do not free it.
/// - Thread safety: safe to call from any thread.
@c public func seq_version() -> UnsafePointer<CChar> {
    versionString
}

/// The library's version as one number, MAJOR * 10000 + MINOR * 100 + PATCH (0.1.0 is 100), the
/// value of `SEQ_VERSION_NUMBER` in the header it was built with.
///
/// - Returns: the version number.
/// - Thread safety: safe to call from any thread.
@c public func seq_version_number() -> Int32 {
    seqVersionMajor * 10000 + seqVersionMinor * 100 + seqVersionPatch
}

/// The version of the binary interface (the N in libseqcore.so.N), the value of `SEQ_ABI_VERSION`
/// in the header it was built with. A program compiled against a header whose `SEQ_ABI_VERSION`
/// differs must not use this library.
///
/// - Returns: the ABI version.
/// - Thread safety: safe to call from any thread.
@c public func seq_abi_version() -> Int32 {
    seqABIVersion
}
