import CFuse
import FerrySystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The low-level operations libfuse calls: each finds the server through the request's user
/// data and answers at once from memory, or from a task when the repository must be read.
extension FuseServer {
    static func server(_ req: fuse_req_t?) -> FuseServer {
        Unmanaged<FuseServer>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue()
    }

    static let operations: fuse_lowlevel_ops = {
        var ops = fuse_lowlevel_ops()
        ops.`init` = { _, conn in
            // More read-ahead requests in flight at once: they are answered from tasks.
            conn?.pointee.max_background = 64
            conn?.pointee.congestion_threshold = 48
        }
        ops.lookup = { req, parent, name in server(req).lookup(req, parent: parent, name: String(cString: name!)) }
        ops.getattr = { req, ino, _ in server(req).getattr(req, ino: ino) }
        ops.readlink = { req, ino in server(req).readlink(req, ino: ino) }
        ops.open = { req, ino, fi in server(req).open(req, ino: ino, fi: fi) }
        ops.read = { req, ino, size, offset, _ in server(req).read(req, ino: ino, size: size, offset: offset) }
        ops.opendir = { req, ino, fi in server(req).opendir(req, ino: ino, fi: fi) }
        ops.readdir = { req, ino, size, offset, _ in server(req).readdir(req, ino: ino, size: size, offset: offset) }
        ops.lseek = { req, ino, offset, whence, _ in server(req).lseek(req, ino: ino, offset: offset, whence: whence) }
        return ops
    }()

    func lookup(_ req: fuse_req_t?, parent: fuse_ino_t, name: String) {
        guard let directory = tree.node(parent), directory.isDirectory else {
            fuse_reply_err(req, ENOTDIR)
            return
        }
        if let loaded = tree.directoryIfLoaded(directory) {
            replyEntry(req, loaded.node(named: name))
            return
        }
        answerLater(req) { [self] request in
            let loaded = try await loadDirectory(directory)
            replyEntry(request.raw, loaded.node(named: name))
        }
    }

    func getattr(_ req: fuse_req_t?, ino: fuse_ino_t) {
        guard let node = tree.node(ino) else {
            fuse_reply_err(req, ENOENT)
            return
        }
        var attributes = attributes(node)
        fuse_reply_attr(req, &attributes, Self.timeout)
    }

    func readlink(_ req: fuse_req_t?, ino: fuse_ino_t) {
        guard let node = tree.node(ino), case .symlink(let target) = node.content else {
            fuse_reply_err(req, EINVAL)
            return
        }
        fuse_reply_readlink(req, target)
    }

    func open(_ req: fuse_req_t?, ino: fuse_ino_t, fi: UnsafeMutablePointer<fuse_file_info>?) {
        guard let node = tree.node(ino) else {
            fuse_reply_err(req, ENOENT)
            return
        }
        if node.isDirectory {
            fuse_reply_err(req, EISDIR)
            return
        }
        guard ferry_fuse_open_flags(fi) & O_ACCMODE == O_RDONLY else {
            fuse_reply_err(req, EROFS)
            return
        }
        // The content never changes: the kernel may keep what it cached across opens.
        ferry_fuse_set_keep_cache(fi)
        fuse_reply_open(req, fi)
    }

    func read(_ req: fuse_req_t?, ino: fuse_ino_t, size: Int, offset: off_t) {
        guard let node = tree.node(ino) else {
            fuse_reply_err(req, ENOENT)
            return
        }
        switch node.content {
        case .volume(let reader):
            if let data = reader.readIfCached(at: Int64(offset), count: size) {
                replyData(req, data)
                return
            }
            answerLater(req) { [self] request in
                do {
                    replyData(request.raw, try await reader.read(at: Int64(offset), count: size))
                } catch {
                    log.write("read of \(size) bytes at \(offset) of \(reader.volume.name) failed with EIO: \(error)")
                    throw error
                }
            }
        case .file(let bytes):
            let start = min(bytes.count, Int(max(0, offset)))
            let end = min(bytes.count, start + size)
            bytes.withUnsafeBytes { raw in
                _ = fuse_reply_buf(req, raw.baseAddress.map { $0.assumingMemoryBound(to: CChar.self) + start }, end - start)
            }
        case .directory:
            fuse_reply_err(req, EISDIR)
        case .symlink:
            fuse_reply_err(req, EINVAL)
        }
    }

    func opendir(_ req: fuse_req_t?, ino: fuse_ino_t, fi: UnsafeMutablePointer<fuse_file_info>?) {
        guard let node = tree.node(ino), node.isDirectory else {
            fuse_reply_err(req, ENOTDIR)
            return
        }
        ferry_fuse_set_keep_cache(fi)
        fuse_reply_open(req, fi)
    }

    func readdir(_ req: fuse_req_t?, ino: fuse_ino_t, size: Int, offset: off_t) {
        guard let node = tree.node(ino), node.isDirectory else {
            fuse_reply_err(req, ENOTDIR)
            return
        }
        if let loaded = tree.directoryIfLoaded(node) {
            replyDirectory(req, node, loaded, size: size, offset: Int(offset))
            return
        }
        answerLater(req) { [self] request in
            replyDirectory(request.raw, node, try await loadDirectory(node), size: size, offset: Int(offset))
        }
    }

    func lseek(_ req: fuse_req_t?, ino: fuse_ino_t, offset: off_t, whence: Int32) {
        guard let node = tree.node(ino) else {
            fuse_reply_err(req, ENOENT)
            return
        }
        guard whence == LinuxConstant.seekData || whence == LinuxConstant.seekHole else {
            fuse_reply_err(req, EINVAL)
            return
        }
        switch node.content {
        case .volume(let reader):
            answerLater(req) { request in
                if let found = try await reader.seek(from: Int64(offset), data: whence == LinuxConstant.seekData) {
                    fuse_reply_lseek(request.raw, off_t(found))
                } else {
                    fuse_reply_err(request.raw, ENXIO)
                }
            }
        case .file(let bytes):
            let size = off_t(bytes.count)
            if offset < 0 || offset >= size {
                fuse_reply_err(req, ENXIO)
            } else {
                fuse_reply_lseek(req, whence == LinuxConstant.seekData ? offset : size)
            }
        default:
            fuse_reply_err(req, EINVAL)
        }
    }

    /// A lazy directory's entries, logging why they could not be read.
    private func loadDirectory(_ node: MountNode) async throws -> MountDirectory {
        do {
            return try await tree.directory(node)
        } catch {
            log.write("cannot read a directory of the mount: \(error)")
            throw error
        }
    }
}
