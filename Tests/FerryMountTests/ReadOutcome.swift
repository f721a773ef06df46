import Foundation

/// What a pread loop got: the bytes, or the errno it failed with.
enum ReadOutcome: Equatable {
    case bytes([UInt8])
    case failed(Int32)
}

/// Reads `count` bytes at `offset` of a file with pread.
func readFile(_ path: String, at offset: Int64, count: Int) -> ReadOutcome {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return .failed(errno) }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: count)
    var done = 0
    while done < count {
        let n = buffer.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
        if n < 0 { return .failed(errno) }
        if n == 0 { break }
        done += n
    }
    return .bytes(Array(buffer[0..<done]))
}

/// lseek's whence values for holes (Linux; missing from the Glibc overlay without _GNU_SOURCE).
let seekData: Int32 = 3
let seekHole: Int32 = 4
