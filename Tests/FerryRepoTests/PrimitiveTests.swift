import FerryTestSupport
import Foundation
import Testing

@testable import FerryRepo

@Suite("Format primitives")
struct PrimitiveTests {
    @Test func chunkIDHexRoundTripAndOrder() throws {
        var random = DeterministicBytes(seed: 1)
        let a = ChunkID(random.bytes(32))
        let b = ChunkID(random.bytes(32))
        #expect(ChunkID(hex: a.hex) == a)
        #expect(ChunkID(hex: a.hex.uppercased()) == a)
        #expect(ChunkID(hex: "xyz") == nil)
        #expect(ChunkID(hex: String(repeating: "g", count: 64)) == nil)
        #expect((a < b) == (a.bytes.lexicographicallyPrecedes(b.bytes)))
        #expect(a.short.count == 8)
    }

    @Test func sha256MatchesKnownVector() {
        // FIPS 180-2 test vector for "abc".
        #expect(Digest.sha256(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func hmacMatchesRFC4231Vector() {
        // RFC 4231 test case 2.
        let id = Digest.hmacSHA256(key: Array("Jefe".utf8), Array("what do ya want for nothing?".utf8))
        #expect(id.hex == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func keyedIDsDifferFromPlainHashes() {
        let data = Array("the same block".utf8)
        let keyed = ChunkHasher(key: Array(repeating: 7, count: 32)).id(of: data)
        let other = ChunkHasher(key: Array(repeating: 8, count: 32)).id(of: data)
        #expect(keyed != Digest.sha256(data))
        #expect(keyed != other)
        #expect(ChunkHasher(key: nil).id(of: data) == Digest.sha256(data))
    }

    @Test func aesGCMRejectsTamperingAndWrongContext() throws {
        let cipher = AESGCM(key: SecureRandom.bytes(32))
        let plain = Array("secret block contents".utf8)
        let sealed = cipher.seal(plain, aad: [1, 2, 3])
        #expect(sealed.count == plain.count + AESGCM.overhead)
        #expect(cipher.open(sealed, aad: [1, 2, 3]) == plain)
        #expect(cipher.open(sealed, aad: [1, 2, 4]) == nil)
        for position in [0, 12, sealed.count - 1] {
            var damaged = sealed
            damaged[position] ^= 0x40
            #expect(cipher.open(damaged, aad: [1, 2, 3]) == nil)
        }
        #expect(AESGCM(key: SecureRandom.bytes(32)).open(sealed, aad: [1, 2, 3]) == nil)
        #expect(cipher.open(Array(sealed.prefix(10)), aad: [1, 2, 3]) == nil)
        // Two seals of the same plaintext differ (random nonces).
        #expect(cipher.seal(plain, aad: []) != cipher.seal(plain, aad: []))
    }

    @Test func lz4RoundTripAndIncompressibleData() throws {
        var random = DeterministicBytes(seed: 2)
        let text = random.text(1 << 20)
        var compressed = [UInt8](repeating: 0, count: Codec.lz4Bound(text.count))
        let n = try #require(text.withUnsafeBytes { t in compressed.withUnsafeMutableBytes { Codec.lz4Compress(t, into: $0) } })
        #expect(n < text.count / 2)
        var back = [UInt8](repeating: 0, count: text.count)
        #expect(
            compressed.withUnsafeBytes { c in
                back.withUnsafeMutableBytes { Codec.lz4Decompress(UnsafeRawBufferPointer(rebasing: c[..<n]), into: $0) }
            })
        #expect(back == text)
        // A wrong expected size is an error, not a partial result.
        var short = [UInt8](repeating: 0, count: text.count - 1)
        #expect(
            !compressed.withUnsafeBytes { c in
                short.withUnsafeMutableBytes { Codec.lz4Decompress(UnsafeRawBufferPointer(rebasing: c[..<n]), into: $0) }
            })
        let noise = random.bytes(1 << 16)
        #expect(noise.withUnsafeBytes { t in compressed.withUnsafeMutableBytes { Codec.lz4Compress(t, into: $0) } } == nil)
    }

    @Test func zstdRoundTripIncompressibleAndMalformedFrames() throws {
        var random = DeterministicBytes(seed: 3)
        let text = random.text(1 << 20)
        let context = ZstdContext()
        var compressed = [UInt8](repeating: 0, count: Codec.zstdBound(text.count))
        let n = try #require(
            text.withUnsafeBytes { t in compressed.withUnsafeMutableBytes { Codec.zstdCompress(t, into: $0, level: 1, context: context) } })
        var lz4 = [UInt8](repeating: 0, count: Codec.lz4Bound(text.count))
        let m = try #require(text.withUnsafeBytes { t in lz4.withUnsafeMutableBytes { Codec.lz4Compress(t, into: $0) } })
        #expect(n < m)
        func decode(_ bytes: ArraySlice<UInt8>, size: Int) -> [UInt8]? {
            var out = [UInt8](repeating: 0, count: size)
            let ok = bytes.withUnsafeBytes { c in out.withUnsafeMutableBytes { Codec.zstdDecompress(c, into: $0) } }
            return ok ? out : nil
        }
        #expect(decode(compressed[..<n], size: text.count) == text)
        // The context is reused: a second chunk through it decodes as well.
        let other = random.text(300_000)
        let k = try #require(
            other.withUnsafeBytes { t in compressed.withUnsafeMutableBytes { Codec.zstdCompress(t, into: $0, level: 3, context: context) } }
        )
        #expect(decode(compressed[..<k], size: other.count) == other)
        // A wrong size, a truncated frame and trailing bytes are errors, not partial results.
        #expect(decode(compressed[..<k], size: other.count - 1) == nil)
        #expect(decode(compressed[..<(k - 1)], size: other.count) == nil)
        #expect(decode(compressed[..<k] + [0, 0, 0, 0], size: other.count) == nil)
        #expect(decode([1, 2, 3, 4, 5, 6, 7, 8], size: 8) == nil)
        let noise = random.bytes(1 << 16)
        #expect(
            noise.withUnsafeBytes { t in compressed.withUnsafeMutableBytes { Codec.zstdCompress(t, into: $0, level: 1, context: context) } }
                == nil)
    }

    @Test func compressionSettings() {
        #expect(Compression("lz4") == .lz4)
        #expect(Compression("zstd") == .zstd(level: 1))
        #expect(Compression("zstd:19") == .zstd(level: 19))
        #expect(Compression("zstd:-7") == .zstd(level: -7))
        #expect(Compression("zstd:0") == nil)
        #expect(Compression("zstd:20") == nil)
        #expect(Compression("gzip") == nil)
        #expect(Compression("zstd:3")?.description == "zstd:3")
        #expect(Compression.zstd(level: 1).description == "zstd")
    }

    @Test func blockSizeParsing() {
        #expect(BlockSize.parse("1M") == 1 << 20)
        #expect(BlockSize.parse("64KiB") == 64 << 10)
        #expect(BlockSize.parse("512k") == 512 << 10)
        #expect(BlockSize.parse("65536") == 65536)
        #expect(BlockSize.parse("x") == nil)
        #expect(BlockSize.parse("-1M") == nil)
        #expect(BlockSize.isValid(1 << 20))
        #expect(!BlockSize.isValid(3 << 20))
        #expect(!BlockSize.isValid(16 << 20))
        #expect(!BlockSize.isValid(32 << 10))
    }

    @Test func byteReaderNeverTrapsOnShortInput() {
        var reader = ByteReader([1, 2, 3])
        #expect(throws: ByteReader.Truncated.self) { try reader.u32() }
        #expect(throws: ByteReader.Truncated.self) { try reader.raw(-1) }
        #expect(throws: ByteReader.Truncated.self) { try reader.id() }
    }
}
