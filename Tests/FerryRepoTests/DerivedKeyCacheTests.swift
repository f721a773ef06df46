import Testing

@testable import FerryRepo

/// Opening a repository again derives its key-encryption key once per process: the cache hands
/// back the same scrypt result for the same password, salt and parameters, and derives anew
/// when any of them differs.
@Suite struct DerivedKeyCacheTests {
    let scrypt = Scrypt(n: 1 << 10, r: 8, p: 1)

    @Test func theSameInputsAreDerivedOnce() throws {
        let cache = DerivedKeyCache(capacity: 4)
        let password = Array("correct horse".utf8)
        let salt = [UInt8](repeating: 7, count: 32)
        let derive = { self.scrypt.deriveKey(password: password, salt: salt) }
        let first = try #require(cache.key(password: password, salt: salt, scrypt: scrypt, derive: derive))
        let second = try #require(cache.key(password: password, salt: salt, scrypt: scrypt, derive: derive))
        #expect(first == second && first == scrypt.deriveKey(password: password, salt: salt))
        #expect(cache.derivations == 1)

        let otherSalt = [UInt8](repeating: 8, count: 32)
        let salted = cache.key(password: password, salt: otherSalt, scrypt: scrypt) {
            self.scrypt.deriveKey(password: password, salt: otherSalt)
        }
        let otherPassword = Array("wrong horse".utf8)
        let other = cache.key(password: otherPassword, salt: salt, scrypt: scrypt) {
            self.scrypt.deriveKey(password: otherPassword, salt: salt)
        }
        #expect(cache.derivations == 3)
        #expect(salted != first && other != first && salted != other)
    }

    @Test func theOldestEntryMakesRoom() {
        let cache = DerivedKeyCache(capacity: 2)
        let salt = [UInt8](repeating: 1, count: 16)
        for name in ["a", "b", "c", "a"] {
            _ = cache.key(password: Array(name.utf8), salt: salt, scrypt: scrypt) { [UInt8](repeating: 0, count: 32) }
        }
        // a, b, c derived; c dropped a, so a is derived again.
        #expect(cache.derivations == 4)
    }
}
