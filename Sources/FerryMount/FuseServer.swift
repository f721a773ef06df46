import CFuse
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Serves a `MountTree` to the kernel through FUSE (libfuse 3's low-level API).
///
/// The session loop runs on a thread of its own and never waits: a request whose answer is in
/// memory (a cached directory, a read whose chunks are cached) is answered on that thread; any
/// other starts a task that reads the repository and replies when done (libfuse allows replies
/// from any thread). Nothing blocks Swift's cooperative pool.
///
/// As root, the server opens the FUSE device itself and mounts with mount(2) (so a missing or
/// wrong device is reported as such); otherwise libfuse mounts through fusermount3.
public final class FuseServer: @unchecked Sendable {
    public struct Options: Sendable {
        public var mountpoint: String
        /// The FUSE device (root only; fusermount3 always opens /dev/fuse).
        public var device: String
        /// Let other users (and a QEMU running as another user) read the mount.
        public var allowOther: Bool

        public init(mountpoint: String, device: String = "/dev/fuse", allowOther: Bool = false) {
            self.mountpoint = mountpoint
            self.device = device
            self.allowOther = allowOther
        }
    }

    public let tree: MountTree
    public let options: Options
    let log: MountLog
    /// How long the kernel may cache names and attributes: the tree never changes while mounted.
    static let timeout = 86_400.0

    private struct Session: @unchecked Sendable {
        var pointer: OpaquePointer
    }

    private struct State {
        var session: Session?
        /// Mounted by our own mount(2) (root) rather than by fusermount3.
        var ownMount = false
        var loopThread: pthread_t?
        var loopEnded = false
        var stopping = false
        /// Requests answered by tasks that have not replied yet.
        var inFlight = 0
        var destroyed = false
    }

    private let state = Mutex(State())
    private let zeros: UnsafeMutableRawBufferPointer
    private let uid = getuid()
    private let gid = getgid()

    public init(tree: MountTree, options: Options, log: MountLog) {
        self.tree = tree
        self.options = options
        self.log = log
        zeros = .allocate(byteCount: 1 << 20, alignment: 4096)
        zeros.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        zeros.deallocate()
    }

    // MARK: - Mounting

    /// Mounts the file system (read-only) at the mount point.
    public func mount() throws {
        var info = stat()
        guard stat(options.mountpoint, &info) == 0 else {
            throw MountError.badMountpoint(path: options.mountpoint, detail: String(cString: strerror(errno)))
        }
        guard info.st_mode & 0o170000 == 0o040000 else {
            throw MountError.badMountpoint(path: options.mountpoint, detail: "not a directory")
        }
        let root = geteuid() == 0
        var mountOptions = "ro,default_permissions,fsname=ferry,subtype=ferry"
        if options.allowOther { mountOptions += ",allow_other" }
        guard let session = newSession(root ? ["ferry"] : ["ferry", "-o", mountOptions]) else {
            throw MountError.session("libfuse refused the session options")
        }
        if root {
            let fd = try openDevice()
            var data = "fd=\(fd),rootmode=40000,user_id=\(uid),group_id=\(gid),default_permissions"
            if options.allowOther { data += ",allow_other" }
            let flags = UInt(MS_RDONLY) | UInt(MS_NOSUID) | UInt(MS_NODEV)
            guard data.withCString({ Glibc.mount("ferry", options.mountpoint, "fuse.ferry", flags, $0) }) == 0 else {
                let error = errno
                close(fd)
                fuse_session_destroy(session)
                var detail = String(cString: strerror(error))
                if error == EINVAL { detail += " (is \(options.device) the FUSE device?)" }
                throw MountError.mountFailed(mountpoint: options.mountpoint, detail: detail)
            }
            guard fuse_session_mount(session, "/dev/fd/\(fd)") == 0 else {
                _ = umount2(options.mountpoint, Int32(MNT_DETACH))
                close(fd)
                fuse_session_destroy(session)
                throw MountError.session("libfuse did not accept the FUSE connection")
            }
            state.withLock {
                $0.session = Session(pointer: session)
                $0.ownMount = true
            }
        } else {
            guard fuse_session_mount(session, options.mountpoint) == 0 else {
                fuse_session_destroy(session)
                throw MountError.mountFailed(
                    mountpoint: options.mountpoint,
                    detail: "fusermount3 could not mount it (as a user other than root the mount point must be yours and fuse3 installed)")
            }
            state.withLock { $0.session = Session(pointer: session) }
        }
    }

    private func openDevice() throws -> Int32 {
        let path = options.device
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        if fd >= 0 { return fd }
        let error = errno
        switch error {
        case ENOENT, ENOTDIR:
            throw MountError.deviceMissing(path: path)
        case ENODEV, ENXIO:
            throw MountError.devicePermission(path: path, detail: "the kernel has no FUSE driver behind it (modprobe fuse)")
        default:
            throw MountError.devicePermission(path: path, detail: String(cString: strerror(error)))
        }
    }

    private func newSession(_ arguments: [String]) -> OpaquePointer? {
        var argv = arguments.map { strdup($0) }
        defer { argv.forEach { free($0) } }
        return argv.withUnsafeMutableBufferPointer { buffer in
            var args = fuse_args(argc: Int32(buffer.count), argv: buffer.baseAddress, allocated: 0)
            var ops = Self.operations
            return fuse_session_new(&args, &ops, MemoryLayout<fuse_lowlevel_ops>.size, Unmanaged.passUnretained(self).toOpaque())
        }
    }

    // MARK: - Running and stopping

    /// Runs the session loop on its own thread until the file system is unmounted (by `stop`,
    /// `umount` or `fusermount3 -u`), then releases the session.
    public func run() async {
        guard let session = state.withLock({ $0.session }) else { return }
        _ = ferry_fuse_install_wakeup(SIGUSR1)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                // This thread inherits the starting thread's signal mask, which Swift's executor
                // threads keep full: the wake-up signal must get through.
                _ = ferry_fuse_unblock(SIGUSR1)
                state.withLock { $0.loopThread = pthread_self() }
                fuse_session_loop(session.pointer)
                state.withLock { $0.loopEnded = true }
                finish(session)
                continuation.resume()
            }
            thread.start()
        }
    }

    /// Unmounts: a plain unmount when nothing uses the mount (the loop then ends by itself);
    /// otherwise the session is told to exit and the mount is detached, and whatever still holds
    /// a file open gets errors from then on.
    public func stop() {
        let (session, ownMount, alreadyStopping) = state.withLock { state in
            defer { state.stopping = true }
            return (state.session, state.ownMount, state.stopping)
        }
        guard let session, !alreadyStopping else { return }
        if ownMount {
            if umount2(options.mountpoint, 0) == 0 { return }
            if errno == EBUSY {
                log.write("\(options.mountpoint) is busy (a loop device or an open file); detaching it: whatever still uses it gets errors")
            }
        }
        fuse_session_exit(session.pointer)
        if ownMount { _ = umount2(options.mountpoint, Int32(MNT_DETACH)) }
        // The loop thread may be blocked reading the device: a signal without SA_RESTART makes
        // that read return EINTR, and the loop sees the exit flag. Repeated until it has ended,
        // since the signal can arrive just before the read starts.
        Thread.detachNewThread { [self] in
            while true {
                let (thread, ended) = state.withLock { ($0.loopThread, $0.loopEnded) }
                if ended { return }
                if let thread { _ = pthread_kill(thread, SIGUSR1) }
                usleep(20_000)
            }
        }
    }

    private func finish(_ session: Session) {
        let ownMount = state.withLock { $0.ownMount }
        if !ownMount { fuse_session_unmount(session.pointer) }
        // Tasks still answering requests hold pointers into the session: wait for them (a
        // store read that never returns is not waited for beyond 10 s; the process is ending).
        for _ in 0..<1000 {
            if state.withLock({ $0.inFlight == 0 }) { break }
            usleep(10_000)
        }
        let release = state.withLock { state -> Bool in
            guard state.inFlight == 0 else { return false }
            state.destroyed = true
            return true
        }
        if release { fuse_session_destroy(session.pointer) }
    }

    // MARK: - Answering requests

    struct Request: @unchecked Sendable {
        let raw: fuse_req_t?
    }

    /// Answers `request` from a task (the loop thread moves on at once).
    func answerLater(_ req: fuse_req_t?, _ body: @escaping @Sendable (Request) async throws -> Void) {
        let request = Request(raw: req)
        guard
            state.withLock({ state -> Bool in
                guard !state.destroyed else { return false }
                state.inFlight += 1
                return true
            })
        else { return }
        Task {
            do {
                try await body(request)
            } catch {
                fuse_reply_err(request.raw, Self.errorNumber(for: error))
            }
            state.withLock { $0.inFlight -= 1 }
        }
    }

    static func errorNumber(for error: any Error) -> Int32 {
        if let error = error as? POSIXError { return error.code.rawValue }
        return EIO
    }

    func attributes(_ node: MountNode) -> stat {
        var attributes = stat()
        attributes.st_ino = UInt(node.ino)
        attributes.st_uid = uid
        attributes.st_gid = gid
        attributes.st_blksize = 4096
        let time = node.time.timeIntervalSince1970
        let spec = timespec(tv_sec: Int(time.rounded(.down)), tv_nsec: Int((time - time.rounded(.down)) * 1e9))
        attributes.st_mtim = spec
        attributes.st_ctim = spec
        attributes.st_atim = spec
        switch node.content {
        case .directory:
            attributes.st_mode = 0o040555
            attributes.st_nlink = 2
        case .volume(let reader):
            attributes.st_mode = 0o100444
            attributes.st_nlink = 1
            attributes.st_size = Int(reader.size)
            attributes.st_blocks = Int((reader.allocatedEstimate + 511) / 512)
            attributes.st_blksize = Int(reader.volume.blockSize)
        case .file(let bytes):
            attributes.st_mode = 0o100444
            attributes.st_nlink = 1
            attributes.st_size = bytes.count
            attributes.st_blocks = (bytes.count + 511) / 512
        case .symlink(let target):
            attributes.st_mode = 0o120777
            attributes.st_nlink = 1
            attributes.st_size = target.utf8.count
        }
        return attributes
    }

    func replyEntry(_ req: fuse_req_t?, _ node: MountNode?) {
        var entry = fuse_entry_param()
        if let node {
            entry.ino = node.ino
            entry.attr = attributes(node)
            entry.attr_timeout = Self.timeout
        }
        // ino 0: the kernel caches the name's absence (the tree does not change).
        entry.entry_timeout = Self.timeout
        fuse_reply_entry(req, &entry)
    }

    func replyData(_ req: fuse_req_t?, _ data: VolumeData) {
        var vectors: [iovec] = []
        vectors.reserveCapacity(data.pieces.count + 1)
        for piece in data.pieces {
            switch piece {
            case .chunk(let chunk, let range):
                let base = UnsafeMutableRawPointer(mutating: chunk.bytes.baseAddress! + range.lowerBound)
                vectors.append(iovec(iov_base: base, iov_len: range.count))
            case .zeros(var count):
                while count > 0 {
                    let n = min(count, zeros.count)
                    vectors.append(iovec(iov_base: zeros.baseAddress!, iov_len: n))
                    count -= n
                }
            }
        }
        withExtendedLifetime(data) {
            _ = fuse_reply_iov(req, vectors, Int32(vectors.count))
        }
    }

    func replyDirectory(_ req: fuse_req_t?, _ node: MountNode, _ directory: MountDirectory, size: Int, offset: Int) {
        var listing: [(name: String, ino: UInt64, mode: mode_t)] = [(".", node.ino, 0o040000), ("..", node.parent, 0o040000)]
        for (name, child) in directory.entries { listing.append((name, child.ino, attributes(child).st_mode & 0o170000)) }
        var buffer = [CChar](repeating: 0, count: max(size, 1))
        var used = 0
        buffer.withUnsafeMutableBufferPointer { out in
            for index in max(0, offset)..<listing.count {
                var entry = stat()
                entry.st_ino = UInt(listing[index].ino)
                entry.st_mode = listing[index].mode
                let needed = fuse_add_direntry(req, out.baseAddress! + used, size - used, listing[index].name, &entry, off_t(index + 1))
                if needed > size - used { break }
                used += needed
            }
        }
        fuse_reply_buf(req, buffer, used)
    }
}
