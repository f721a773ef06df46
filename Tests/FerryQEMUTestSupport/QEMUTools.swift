import FerryTestSupport
import FerryVolume
import Foundation

/// Runs the real QEMU tools (`qemu-img`, `qemu-io` from Debian's qemu-utils) for tests that build
/// images with them and compare Ferry's reading against theirs.
public enum QEMUTools {
    /// Whether qemu-img and qemu-io are installed. Under `CI=true` tests run regardless (and fail
    /// loudly when the tools are missing), elsewhere they are skipped with this as the reason.
    public static let available: Bool = ["qemu-img", "qemu-io"].allSatisfy { tool in
        ["/usr/bin", "/usr/local/bin", "/bin"].contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
    }

    /// The condition for `.enabled(if:)` on tests that need the tools.
    public static var shouldRun: Bool { available || ProcessInfo.processInfo.environment["CI"] == "true" }

    /// `qemu-img ARGS` in `directory`.
    @discardableResult
    public static func img(_ arguments: String..., in directory: String) throws -> String {
        try ChildProcess.run(["qemu-img"] + arguments, in: directory)
    }

    /// `qemu-io -f FORMAT -c CMD... IMAGE` in `directory` (opens the image read-write, so enabled
    /// persistent bitmaps record the writes). qemu-io reports some failures only in its output.
    @discardableResult
    public static func io(_ image: String, format: String = "qcow2", _ commands: [String], in directory: String) throws -> String {
        let command = ["qemu-io", "-f", format] + commands.flatMap { ["-c", $0] } + [image]
        let out = try ChildProcess.run(command, in: directory)
        if out.contains("Pattern verification failed") || out.contains("failed:") {
            throw ChildProcess.Failed(command: command, result: .init(status: 0, stdout: out, stderr: ""))
        }
        return out
    }

    /// The guest-visible disk of `image` as qemu-img converts it to raw.
    public static func convertToRaw(_ image: String, in directory: String) throws -> [UInt8] {
        let target = "\(directory)/.reference-\(UUID().uuidString).raw"
        defer { try? FileManager.default.removeItem(atPath: target) }
        try ChildProcess.run(["qemu-img", "convert", "-O", "raw", image, target], in: directory)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: target)))
    }

    /// `qemu-img info --output=json` decoded.
    public static func info(_ image: String, in directory: String) throws -> [String: Any] {
        let out = try ChildProcess.run(["qemu-img", "info", "--output=json", "-U", image], in: directory)
        return try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any] ?? [:]
    }
}

extension BlockSource {
    /// The whole disk, read in `chunk`-byte pieces.
    public func readAll(chunk: Int = 1 << 20) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Int(size))
        try bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = min(chunk, buffer.count - offset)
                try read(at: Int64(offset), into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + n)]))
                offset += n
            }
        }
        return bytes
    }
}

/// A deterministic pseudo-random generator (SplitMix64) for seeded tests.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Byte comparisons that stay fast in debug builds (element-wise `==` on large arrays does not).
public enum Bytes {
    public static func same(_ a: some RandomAccessCollection<UInt8>, _ b: some RandomAccessCollection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        guard a.count > 0 else { return true }
        return a.withContiguousStorageIfAvailable { pa in
            b.withContiguousStorageIfAvailable { pb in memcmp(pa.baseAddress!, pb.baseAddress!, a.count) == 0 }
        }.flatMap { $0 } ?? a.elementsEqual(b)
    }

    public static func isZero(_ a: some RandomAccessCollection<UInt8>) -> Bool {
        a.withContiguousStorageIfAvailable { buffer in
            guard let base = buffer.baseAddress, buffer.count > 0 else { return true }
            return base[0] == 0 && memcmp(base, base + 1, buffer.count - 1) == 0
        } ?? a.allSatisfy { $0 == 0 }
    }
}

/// A real `qemu-io` process holding an image open (read-write, or read-only with `readOnly`),
/// as a running VM would: it keeps QEMU's OFD locks until `release()`.
public final class QEMUHolder: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()

    /// Starts qemu-io on `image` and returns once it has answered a read, so the image is open.
    public init(_ image: String, format: String = "qcow2", readOnly: Bool = false, in directory: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["qemu-io", "-f", format] + (readOnly ? ["-r"] : []) + [image]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data("read 0 512\n".utf8))
        var seen = ""
        while !seen.contains("bytes at offset 0") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty {
                throw ChildProcess.Failed(command: ["qemu-io", image], result: .init(status: -1, stdout: seen, stderr: ""))
            }
            seen += String(decoding: chunk, as: UTF8.self)
        }
    }

    /// Closes qemu-io's input, so it closes the image and exits; waits for that.
    public func release() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    /// Kills qemu-io with SIGKILL, as a crashing VM would die: it stores nothing on the way out.
    public func crash() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? input.fileHandleForWriting.close()
    }

    /// Sends one qemu-io command and waits for its answer.
    public func command(_ line: String, until marker: String) throws {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
        var seen = ""
        while !seen.contains(marker) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { throw ChildProcess.Failed(command: ["qemu-io", line], result: .init(status: -1, stdout: seen, stderr: "")) }
            seen += String(decoding: chunk, as: UTF8.self)
        }
    }

    deinit { if process.isRunning { release() } }
}

/// The filesystem's timestamp clock, which ticks coarsely (a few milliseconds): tests that need a
/// file modified strictly after another wait for the clock itself, not for a guessed delay.
public enum FileClock {
    public static func modificationTime(_ path: String) throws -> Date {
        try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date ?? .distantPast
    }

    /// Rewrites `probe` until its modification time is later than that of `path`.
    public static func waitUntilAfter(_ path: String, probe: String) throws {
        let reference = try modificationTime(path)
        var rounds = 0
        repeat {
            try Data([UInt8(rounds & 0xFF)]).write(to: URL(fileURLWithPath: probe))
            rounds += 1
            precondition(rounds < 10_000_000, "the filesystem clock does not advance")
        } while try modificationTime(probe) <= reference
    }
}
