// C strings across the boundary: reading the caller's, writing into the caller's buffers, and
// strings the library hands out for the life of the process.

import Glibc
import SeqCore

/// A NUL-terminated copy of `s` that is never freed: for strings the header documents as static
/// (version, status descriptions). Made once per string by a global initialiser.
func permanentCString(_ s: String) -> UnsafePointer<CChar> {
    let bytes = Array(s.utf8)
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
    for (i, b) in bytes.enumerated() { p[i] = CChar(bitPattern: b) }
    p[bytes.count] = 0
    return UnsafePointer(p)
}

extension Arg {
    /// Reads a caller's NUL-terminated UTF-8 string.
    /// Throws `SEQ_ERR_NULL_POINTER` for NULL and `SEQ_ERR_INVALID_ARGUMENT` for invalid UTF-8
    /// (a string that is not NUL-terminated is the caller's bug and cannot be detected).
    static func string(_ p: UnsafePointer<CChar>?, _ name: String) throws -> String {
        guard let p else { throw ABIError.nullPointer(name) }
        guard let s = String(validatingCString: p) else {
            throw SeqError.invalid(name, expected: "a NUL-terminated UTF-8 string",
                                          got: "\(strlen(p)) bytes that are not valid UTF-8")
        }
        return s
    }

    /// Copies `s` and a terminating NUL into a caller's buffer of `capacity` bytes.
    ///
    /// The convention of every string output: `length` (optional) receives the string's length in
    /// bytes without the NUL, whether or not it fit, so a caller can pass `buffer = NULL,
    /// capacity = 0` to learn the size, allocate `length + 1` bytes and call again. A non-NULL
    /// buffer that is too small fails with `SEQ_ERR_BUFFER_TOO_SMALL` and is left untouched.
    static func writeString(_ s: String, to buffer: UnsafeMutablePointer<CChar>?, capacity: Int64,
                            length: UnsafeMutablePointer<Int64>?, bufferName: String) throws {
        let bytes = Array(s.utf8)
        length?.pointee = Int64(bytes.count)
        if buffer == nil && capacity == 0 { return }  // the size query: only `length` was asked for
        guard let buffer else { throw ABIError.nullPointer(bufferName) }
        try Arg.capacity(capacity, "capacity", needed: bytes.count + 1, buffer: bufferName, unit: "bytes")
        for (i, b) in bytes.enumerated() { buffer[i] = CChar(bitPattern: b) }
        buffer[bytes.count] = 0
    }
}
