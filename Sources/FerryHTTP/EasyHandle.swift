import CCurl

/// A curl easy handle with the memory its options point at. Handles are reused across transfers
/// (reset in between) by the engine thread that owns them.
final class EasyHandle {
    let handle: UnsafeMutableRawPointer
    /// curl writes a human-readable error here (CURLOPT_ERRORBUFFER).
    let errorBuffer: UnsafeMutablePointer<CChar>
    /// Request headers of the current transfer.
    var headerList: UnsafeMutablePointer<curl_slist>?

    init?() {
        guard let handle = curl_easy_init() else { return nil }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(handle)
        if let headerList { curl_slist_free_all(headerList) }
        errorBuffer.deallocate()
    }

    /// Clears every option and the previous transfer's header list.
    func reset() {
        curl_easy_reset(handle)
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
        errorBuffer[0] = 0
    }

    var errorMessage: String {
        String(cString: errorBuffer)
    }

    func set(_ option: CURLoption, _ value: Int) throws(HTTPError) {
        try check(ferry_curl_easy_setopt_long(handle, option, value), option)
    }

    func set(_ option: CURLoption, _ value: Bool) throws(HTTPError) {
        try set(option, value ? 1 : 0)
    }

    func set(_ option: CURLoption, offset value: Int64) throws(HTTPError) {
        try check(ferry_curl_easy_setopt_off(handle, option, curl_off_t(value)), option)
    }

    func set(_ option: CURLoption, _ value: String) throws(HTTPError) {
        // curl copies string options.
        try check(value.withCString { ferry_curl_easy_setopt_string(handle, option, $0) }, option)
    }

    func set(_ option: CURLoption, pointer value: UnsafeMutableRawPointer?) throws(HTTPError) {
        try check(ferry_curl_easy_setopt_pointer(handle, option, value), option)
    }

    func set(_ option: CURLoption, list value: UnsafeMutablePointer<curl_slist>?) throws(HTTPError) {
        try check(ferry_curl_easy_setopt_slist(handle, option, value), option)
    }

    func set(_ option: CURLoption, blob value: [UInt8]) throws(HTTPError) {
        try check(value.withUnsafeBytes { ferry_curl_easy_setopt_blob(handle, option, $0.baseAddress, $0.count) }, option)
    }

    func set(_ option: CURLoption, callback value: ferry_curl_data_callback) throws(HTTPError) {
        try check(ferry_curl_easy_setopt_data_callback(handle, option, value), option)
    }

    private func check(_ code: CURLcode, _ option: CURLoption) throws(HTTPError) {
        guard code == CURLE_OK else {
            let reason = String(cString: curl_easy_strerror(code))
            if code == CURLE_UNKNOWN_OPTION || code == CURLE_NOT_BUILT_IN {
                throw HTTPError.invalidRequest("this libcurl does not support option \(option.rawValue): \(reason)")
            }
            throw HTTPError.invalidRequest("setting curl option \(option.rawValue) failed: \(reason)")
        }
    }

    func info(_ item: CURLINFO) -> Int {
        var value = 0
        _ = ferry_curl_easy_getinfo_long(handle, item, &value)
        return value
    }
}

extension EasyHandle {
    /// The server verification and client identity of `tls` (every transfer's, and a WebSocket's).
    func apply(_ tls: HTTPTLSConfiguration) throws(HTTPError) {
        if tls.insecureSkipVerify {
            try set(CURLOPT_SSL_VERIFYPEER, false)
            try set(CURLOPT_SSL_VERIFYHOST, 0)
        }
        switch tls.certificateAuthorities {
        case let .file(path): try set(CURLOPT_CAINFO, path)
        case let .data(bytes): try set(CURLOPT_CAINFO_BLOB, blob: bytes)
        case nil: break
        }
        switch tls.clientCertificate {
        case let .file(path): try set(CURLOPT_SSLCERT, path)
        case let .data(bytes): try set(CURLOPT_SSLCERT_BLOB, blob: bytes)
        case nil: break
        }
        if tls.clientCertificate != nil { try set(CURLOPT_SSLCERTTYPE, "PEM") }
        switch tls.clientKey {
        case let .file(path): try set(CURLOPT_SSLKEY, path)
        case let .data(bytes): try set(CURLOPT_SSLKEY_BLOB, blob: bytes)
        case nil: break
        }
        if tls.clientKey != nil { try set(CURLOPT_SSLKEYTYPE, "PEM") }
    }
}
