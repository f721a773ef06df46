import Synchronization

/// The scrypt results this process has computed, so that opening the same repository again
/// (an agent opens its Target's repository for every work unit; a thousand small volumes are a
/// thousand opens) does not stretch the same password with the same salt again: scrypt costs
/// about a tenth of a second of CPU and 32 MiB per derivation by design. Keyed by a SHA-256 of
/// the inputs (the password itself is not kept); at most `capacity` entries, the oldest dropped
/// first. The derived keys only unwrap key slots, whose master keys an open repository holds in
/// memory anyway.
final class DerivedKeyCache: Sendable {
    static let shared = DerivedKeyCache(capacity: 16)

    private struct State {
        var keys: [ChunkID: [UInt8]] = [:]
        var order: [ChunkID] = []
        var derivations = 0
    }

    private let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// How many times `derive` ran (cache misses), for tests.
    var derivations: Int { state.withLock { $0.derivations } }

    /// The cached key for these inputs, else `derive()`'s result (cached unless nil).
    func key(password: [UInt8], salt: [UInt8], scrypt: Scrypt, derive: () -> [UInt8]?) -> [UInt8]? {
        var input = Array("ferry/scrypt/\(scrypt.n)/\(scrypt.r)/\(scrypt.p)/\(salt.count)/".utf8)
        input += salt
        input += password
        let name = Digest.sha256(input)
        if let cached = state.withLock({ $0.keys[name] }) { return cached }
        guard let key = derive() else { return nil }
        state.withLock { state in
            state.derivations += 1
            guard state.keys.updateValue(key, forKey: name) == nil else { return }
            state.order.append(name)
            if state.order.count > capacity { state.keys[state.order.removeFirst()] = nil }
        }
        return key
    }
}
