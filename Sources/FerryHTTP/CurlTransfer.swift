import CCurl
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One request in flight: its curl easy handle's callbacks land here.
///
/// Everything except `cancelRequested`, the upload pipe and the response stream is touched only
/// by the engine thread that runs the transfer, which is why the class is `@unchecked Sendable`.
final class CurlTransfer: @unchecked Sendable {
    enum Delivery {
        /// `send`: the whole response at the end.
        case buffered(CheckedContinuation<Result<HTTPResponse, HTTPError>, Never>)
        /// `stream`: the head as soon as it arrives, then the body through the stream.
        case streaming(ResponseStream)
    }

    /// Why a callback stopped the transfer, which curl reports only as "aborted".
    enum LocalFailure {
        case tooLarge(Int)
        case bodySource(String)
    }

    let request: HTTPRequest
    let redactedURL: String
    /// Set once, before the transfer is submitted.
    var delivery: Delivery?
    let cancelRequested = Atomic<Bool>(false)

    // Engine-thread state.
    var easy: EasyHandle?
    var status = 0
    var headers = HTTPHeaders()
    var headComplete = false
    var body: [UInt8] = []
    var bodyLimit: Int
    var reservedBody = false
    var localFailure: LocalFailure?
    var finished = false
    var uploadBytes: ArraySlice<UInt8>
    var uploadOffset = 0
    let uploadPipe: UploadPipe?
    var producer: Task<Void, Never>?

    init(request: HTTPRequest, bodyLimit: Int, uploadPipe: UploadPipe?) {
        self.request = request
        self.redactedURL = request.redactedURL
        self.bodyLimit = bodyLimit
        self.uploadPipe = uploadPipe
        if case let .bytes(bytes) = request.body.storage {
            uploadBytes = bytes
        } else {
            uploadBytes = []
        }
    }

    // MARK: - Callbacks (engine thread)

    /// A header line, including the status line and the blank line that ends a block.
    func receiveHeader(_ line: UnsafeRawBufferPointer) {
        var end = line.count
        while end > 0 && (line[end - 1] == 0x0A || line[end - 1] == 0x0D) { end -= 1 }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: line[..<end]), as: UTF8.self)
        if text.hasPrefix("HTTP/") {
            // A new response block (after 100 Continue, or the first one).
            let parts = text.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            headers = HTTPHeaders()
            return
        }
        if text.isEmpty {
            if status >= 200 && !headComplete {
                headComplete = true
                if case let .streaming(stream)? = delivery {
                    stream.deliverHead(status: status, headers: headers)
                }
            }
            return
        }
        guard let colon = text.firstIndex(of: ":") else { return }
        let name = String(text[..<colon])
        let value = text[text.index(after: colon)...].trimmingSpaces()
        headers.add(name, value)
    }

    /// Body bytes. Returns how many were taken; anything else makes curl fail the transfer.
    func receiveBody(_ chunk: UnsafeRawBufferPointer, handle: UnsafeMutableRawPointer) -> Int {
        switch delivery {
        case nil:
            return 0
        case .buffered?:
            if !reservedBody {
                reservedBody = true
                var length: curl_off_t = -1
                if ferry_curl_easy_getinfo_off(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK,
                    length > 0, length <= bodyLimit
                {
                    body.reserveCapacity(Int(length))
                }
            }
            if body.count + chunk.count > bodyLimit {
                localFailure = .tooLarge(bodyLimit)
                return 0
            }
            body.append(contentsOf: chunk)
            return chunk.count
        case let .streaming(stream)?:
            if !headComplete {
                headComplete = true
                stream.deliverHead(status: status, headers: headers)
            }
            if stream.offer(chunk) { return chunk.count }
            return Int(bitPattern: UInt(ferry_curl_writefunc_pause()))
        }
    }

    /// Fills `buffer` with the next request body bytes.
    func sendBody(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        if let pipe = uploadPipe {
            switch pipe.read(into: buffer) {
            case let .bytes(count): return count
            case .paused: return Int(bitPattern: UInt(ferry_curl_readfunc_pause()))
            case let .failed(reason):
                localFailure = .bodySource(reason)
                return Int(bitPattern: UInt(ferry_curl_readfunc_abort()))
            }
        }
        let remaining = uploadBytes.count - uploadOffset
        let count = min(remaining, buffer.count)
        if count > 0 {
            uploadBytes.withUnsafeBytes { source in
                buffer.baseAddress!.copyMemory(from: source.baseAddress! + uploadOffset, byteCount: count)
            }
            uploadOffset += count
        }
        return count
    }

    /// Rewinds the request body (curl resends it on a fresh connection when a reused one died).
    func seekBody(to offset: Int64, origin: Int32) -> Int32 {
        guard uploadPipe == nil, origin == SEEK_SET, offset >= 0, offset <= uploadBytes.count else {
            return 2 // CURL_SEEKFUNC_CANTSEEK
        }
        uploadOffset = Int(offset)
        return 0 // CURL_SEEKFUNC_OK
    }

    // MARK: - Completion (engine thread)

    func complete(_ result: Result<Void, HTTPError>) {
        guard !finished else { return }
        finished = true
        producer?.cancel()
        uploadPipe?.close()
        switch delivery {
        case nil:
            break
        case let .buffered(continuation)?:
            continuation.resume(returning: result.map { HTTPResponse(status: status, headers: headers, body: body) })
            body = []
        case let .streaming(stream)?:
            switch result {
            case .success:
                if !headComplete {
                    headComplete = true
                    stream.deliverHead(status: status, headers: headers)
                }
                stream.finish(nil)
            case let .failure(error):
                stream.finish(error)
            }
        }
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        var slice = self
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}

/// The C callbacks curl calls; `userdata` is the transfer.
enum CurlCallbacks {
    static let header: ferry_curl_data_callback = { pointer, size, count, userdata in
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
        let length = size * count
        transfer.receiveHeader(UnsafeRawBufferPointer(start: pointer, count: length))
        return length
    }

    static let write: ferry_curl_data_callback = { pointer, size, count, userdata in
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
        guard let handle = transfer.easy?.handle else { return 0 }
        return transfer.receiveBody(UnsafeRawBufferPointer(start: pointer, count: size * count), handle: handle)
    }

    static let read: ferry_curl_data_callback = { pointer, size, count, userdata in
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
        return transfer.sendBody(into: UnsafeMutableRawBufferPointer(start: pointer, count: size * count))
    }

    static let seek: ferry_curl_seek_callback = { userdata, offset, origin in
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
        return transfer.seekBody(to: Int64(offset), origin: origin)
    }
}
