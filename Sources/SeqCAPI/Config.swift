// MARK: - Configuration
//
// The seq_config handle: a key/value store checked against the table in ConfigKeys.swift. It is also
// the template for every handle kind: a final class conforming to `HandleValue`, created with
// `Handles.create`, reached with `Handles.value`, freed with `Handles.release`.

import SeqCore
import Synchronization

/// The object behind a `seq_config *`. Its own lock makes concurrent calls on one handle safe, which
/// costs nothing that matters on this cold path and removes a way for C callers to crash the process.
final class ConfigStore: HandleValue {
    static let handleKind = HandleKind.config

    private let values = Mutex<[String: ConfigValue]>([:])

    /// Checks `value` against `name`'s key and stores it.
    func set(_ name: String, _ value: ConfigValue) throws {
        let key = try ConfigKey.named(name)
        try key.domain.check(value, key: name)
        values.withLock { $0[name] = value }
    }

    /// The value of `name`: the one set, else the default; `SEQ_ERR_NOT_FOUND` for a required key
    /// never set; `SEQ_ERR_INVALID_ARGUMENT` when the key's type is not `type`.
    func get(_ name: String, as type: ConfigValueType) throws -> ConfigValue {
        let key = try ConfigKey.named(name)
        guard key.domain.type == type else {
            let held = key.domain.type
            throw SeqError.invalid("key", expected: "\(type.name) key for seq_config_get_\(type.cSuffix)",
                                   got: "\"\(name)\", which holds \(held.name) (read it with seq_config_get_\(held.cSuffix))")
        }
        guard let value = values.withLock({ $0[name] }) ?? key.defaultValue else {
            throw SeqError(.notFound, "argument 'key': key \"\(name)\" has not been set and has no default")
        }
        return value
    }

    /// Forgets `name`'s value, so that it reads as its default (or as unset) again.
    func unset(_ name: String) throws {
        _ = try ConfigKey.named(name)
        _ = values.withLock { $0.removeValue(forKey: name) }
    }

    /// The keys set explicitly, without defaults: what a model keeps, saves and gives back, so
    /// that "set" and "left at its default" stay distinguishable.
    func explicitValues() -> [String: ConfigValue] {
        values.withLock { $0 }
    }

    /// Replaces every value at once (a model's configuration read back, or a model file's).
    /// The values are not checked again: they come from a config that was.
    func replaceAll(_ new: [String: ConfigValue]) {
        values.withLock { $0 = new }
    }

}

/// Creates an empty configuration: every key unset, reading back as its default.
///
/// - Parameter out: receives the new handle; set to NULL on failure. Must not be NULL.
/// - Returns: `SEQ_OK`, or `SEQ_ERR_NULL_POINTER` when `out` is NULL.
/// - Ownership: the caller owns the handle and frees it with `seq_config_free`.
/// - Thread safety: safe to call from any thread.
@c public func seq_config_create(_ out: UnsafeMutablePointer<SeqConfigHandle?>?) -> SeqStatus {
    guarded {
        let out = try Handles.clearOut(out, argument: "out")
        out.pointee = Handles.create(ConfigStore())
    }
}

/// Frees a configuration. Models created from it do not depend on it, so it may be freed right
/// after use.
///
/// - Parameter config: the handle to free. NULL is a no-op. A pointer that is not a live
///   `seq_config` (already freed, another kind of handle) is left alone and the reason is stored
///   for `seq_last_error()`.
/// - Thread safety: safe to call from any thread, but the handle must not be used after or while
///   it is freed.
@c public func seq_config_free(_ config: SeqConfigHandle?) {
    Handles.release(config, as: ConfigStore.self, argument: "config")
}

/// Sets an integer key, e.g. `seq_config_set_int(cfg, "hidden_size", 128)`.
///
/// - Parameters:
///   - config: a live `seq_config`.
///   - key: NUL-terminated key name; see `seq_config` for the keys and their ranges.
///   - value: the value; checked against the key's range.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER` (config or key NULL); `SEQ_ERR_WRONG_HANDLE`;
///   `SEQ_ERR_NOT_FOUND` (unknown key); `SEQ_ERR_INVALID_ARGUMENT` (the key is not an integer key,
///   or the value is out of range). On failure the config is unchanged.
/// - Thread safety: safe to call from any thread, also concurrently on the same handle.
@c public func seq_config_set_int(_ config: SeqConfigHandle?, _ key: UnsafePointer<CChar>?, _ value: Int64) -> SeqStatus {
    guarded {
        let store = try Handles.value(config, as: ConfigStore.self, argument: "config")
        try store.set(Arg.string(key, "key"), .int(value))
    }
}

/// Sets a float key, e.g. `seq_config_set_float(cfg, "dropout", 0.2)`.
///
/// - Parameters:
///   - config: a live `seq_config`.
///   - key: NUL-terminated key name; see `seq_config` for the keys and their ranges.
///   - value: the value; must be finite and in the key's range.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER` (config or key NULL); `SEQ_ERR_WRONG_HANDLE`;
///   `SEQ_ERR_NOT_FOUND` (unknown key); `SEQ_ERR_INVALID_ARGUMENT` (the key is not a float key, or
///   the value is NaN, infinite or out of range). On failure the config is unchanged.
/// - Thread safety: safe to call from any thread, also concurrently on the same handle.
@c public func seq_config_set_float(_ config: SeqConfigHandle?, _ key: UnsafePointer<CChar>?, _ value: Double) -> SeqStatus {
    guarded {
        let store = try Handles.value(config, as: ConfigStore.self, argument: "config")
        try store.set(Arg.string(key, "key"), .float(value))
    }
}

/// Sets a string key, e.g. `seq_config_set_string(cfg, "cell", "lstm")`.
///
/// - Parameters:
///   - config: a live `seq_config`.
///   - key: NUL-terminated key name; see `seq_config` for the keys and their values.
///   - value: NUL-terminated UTF-8 value, one of the words the key accepts. Copied: the caller
///     keeps ownership.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER` (config, key or value NULL); `SEQ_ERR_WRONG_HANDLE`;
///   `SEQ_ERR_NOT_FOUND` (unknown key); `SEQ_ERR_INVALID_ARGUMENT` (the key is not a string key, or
///   the value is not one it accepts). On failure the config is unchanged.
/// - Thread safety: safe to call from any thread, also concurrently on the same handle.
@c public func seq_config_set_string(_ config: SeqConfigHandle?, _ key: UnsafePointer<CChar>?,
                                     _ value: UnsafePointer<CChar>?) -> SeqStatus {
    guarded {
        let store = try Handles.value(config, as: ConfigStore.self, argument: "config")
        try store.set(Arg.string(key, "key"), .string(Arg.string(value, "value")))
    }
}

/// Removes a key's value: it reads as its default again, or as unset when it has none (e.g. to
/// go back from "gru_variant" set to a cell that has no variants).
///
/// - Parameters:
///   - config: a live `seq_config`.
///   - key: NUL-terminated key name.
/// - Returns: `SEQ_OK` (also when the key was not set); `SEQ_ERR_NULL_POINTER`;
///   `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_NOT_FOUND` (unknown key).
/// - Thread safety: safe to call from any thread, also concurrently on the same handle.
@c public func seq_config_unset(_ config: SeqConfigHandle?, _ key: UnsafePointer<CChar>?) -> SeqStatus {
    guarded {
        let store = try Handles.value(config, as: ConfigStore.self, argument: "config")
        try store.unset(Arg.string(key, "key"))
    }
}

/// Reads an integer key: the value set, else the key's default.
///
/// - Parameters:
///   - config: a live `seq_config`.
///   - key: NUL-terminated key name.
///   - out: receives the value; untouched on failure. Must not be NULL.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_NOT_FOUND` (unknown
///   key, or a required key never set); `SEQ_ERR_INVALID_ARGUMENT` (not an integer key).
/// - Thread safety: safe to call from any thread, also concurrently on the same handle.
@c public func seq_config_get_int(_ config: SeqConfigHandle?, _ key: UnsafePointer<CChar>?,
                                  _ out: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let store = try Handles.value(config, as: ConfigStore.self, argument: "config")
        let name = try Arg.string(key, "key")
        let out = try Arg.pointer(out, "out")
        if case .int(let v) = try store.get(name, as: .int) { out.pointee = v }
    }
}

/// Reads a float key: the value set, else the key's default.
///
/// - Parameters:
///   - config: a live `seq_config`.
///   - key: NUL-terminated key name.
///   - out: receives the value; untouched on failure. Must not be NULL.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_NOT_FOUND` (unknown
///   key, or a required key never set); `SEQ_ERR_INVALID_ARGUMENT` (not a float key).
/// - Thread safety: safe to call from any thread, also concurrently on the same handle.
@c public func seq_config_get_float(_ config: SeqConfigHandle?, _ key: UnsafePointer<CChar>?,
                                    _ out: UnsafeMutablePointer<Double>?) -> SeqStatus {
    guarded {
        let store = try Handles.value(config, as: ConfigStore.self, argument: "config")
        let name = try Arg.string(key, "key")
        let out = try Arg.pointer(out, "out")
        if case .float(let v) = try store.get(name, as: .float) { out.pointee = v }
    }
}

/// Reads a string key into a caller's buffer: the value set, else the key's default.
///
/// To size the buffer, call with `buffer` NULL and `capacity` 0: `length` receives the length, and
/// `length + 1` bytes are enough.
///
/// - Parameters:
///   - config: a live `seq_config`.
///   - key: NUL-terminated key name.
///   - buffer: receives the value and a terminating NUL; may be NULL only when `capacity` is 0.
///   - capacity: size of `buffer` in bytes, including room for the NUL.
///   - length: if not NULL, receives the value's length in bytes without the NUL, also when the
///     buffer is too small.
/// - Returns: `SEQ_OK`; `SEQ_ERR_BUFFER_TOO_SMALL` (`capacity` < length + 1; the buffer is
///   untouched); `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_NOT_FOUND` (unknown key, or
///   a required key never set); `SEQ_ERR_INVALID_ARGUMENT` (not a string key, negative capacity).
/// - Thread safety: safe to call from any thread, also concurrently on the same handle.
@c public func seq_config_get_string(_ config: SeqConfigHandle?, _ key: UnsafePointer<CChar>?,
                                     _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                                     _ length: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let store = try Handles.value(config, as: ConfigStore.self, argument: "config")
        let name = try Arg.string(key, "key")
        if case .string(let s) = try store.get(name, as: .string) {
            try Arg.writeString(s, to: buffer, capacity: capacity, length: length, bufferName: "buffer")
        }
    }
}
