import CCurl

#if canImport(Glibc)
    import Glibc
#endif

/// Turns curl's result codes into `HTTPError`s with messages a user can act on.
enum CurlErrors {
    static func map(_ code: CURLcode, transfer: CurlTransfer, easy: EasyHandle) -> HTTPError {
        let url = transfer.redactedURL
        switch transfer.localFailure {
        case let .tooLarge(limit): return .responseTooLarge(url: url, limit: limit)
        case let .bodySource(reason): return .bodySourceFailed(url: url, detail: reason)
        case nil: break
        }
        let buffered = easy.errorMessage
        let message = buffered.isEmpty ? String(cString: curl_easy_strerror(code)) : buffered
        let osError = Int32(easy.info(CURLINFO_OS_ERRNO))
        switch code {
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
            return .invalidRequest("\(url): \(message)")
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .couldNotResolve(host: host(of: url), url: url)
        case CURLE_COULDNT_CONNECT:
            if osError == ECONNREFUSED { return .connectionRefused(url: url) }
            return .connectionFailed(url: url, detail: message)
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut(url: url, detail: message)
        case CURLE_PEER_FAILED_VERIFICATION:
            return .tlsVerificationFailed(url: url, detail: message)
        case CURLE_SSL_CONNECT_ERROR:
            return .tlsHandshakeFailed(url: url, detail: message)
        case CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CIPHER, CURLE_SSL_ENGINE_NOTFOUND,
            CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ENGINE_INITFAILED:
            return .tlsConfiguration(detail: message)
        case CURLE_GOT_NOTHING:
            return .connectionReset(url: url, detail: "the server closed the connection without sending a response")
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR:
            if osError == ECONNRESET { return .connectionReset(url: url, detail: "connection reset by peer") }
            return .connectionReset(url: url, detail: message)
        case CURLE_PARTIAL_FILE:
            return .truncatedResponse(url: url, detail: message)
        case CURLE_SEND_FAIL_REWIND:
            return .connectionReset(url: url, detail: "the connection broke and the streamed body could not be sent again")
        case CURLE_ABORTED_BY_CALLBACK, CURLE_WRITE_ERROR, CURLE_READ_ERROR:
            if transfer.cancelRequested.load(ordering: .sequentiallyConsistent) { return .cancelled(url: url) }
            return .transport(url: url, code: Int(code.rawValue), detail: message)
        default:
            return .transport(url: url, code: Int(code.rawValue), detail: message)
        }
    }

    static func host(of url: String) -> String {
        guard let scheme = url.firstRange(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = rest[..<end]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return String(authority[...close])
        }
        if let colon = authority.lastIndex(of: ":") { return String(authority[..<colon]) }
        return String(authority)
    }
}
