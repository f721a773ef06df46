import FerryDigest
import FerryHTTP
import Foundation
import Testing

@testable import FerryBlob

/// The pieces of the S3 store that need no server: signing, XML, endpoints, retry timing.
@Suite struct S3UnitTests {
    /// The "GET Object" example of AWS's Signature Version 4 documentation for S3.
    @Test func signatureMatchesAWSExample() {
        let signer = S3Signer(region: "us-east-1")
        var headers: HTTPHeaders = ["Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9"]
        let time = 1_369_353_600 // 2013-05-24T00:00:00Z
        signer.sign(
            method: "GET", path: "/test.txt", query: [], headers: &headers, payloadHash: S3Signer.emptyPayloadHash,
            credentials: S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            time: time)
        #expect(headers["x-amz-date"] == "20130524T000000Z")
        #expect(
            headers["Authorization"]
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
        #expect(headers["x-amz-security-token"] == nil)
    }

    @Test func queryAndPathEncoding() {
        #expect(
            S3Signer.canonicalQuery([("prefix", "a b/c"), ("list-type", "2"), ("delete", "")]) == "delete=&list-type=2&prefix=a%20b%2Fc")
        #expect(S3Signer.uriEncode("packs/ab/x y+z~", keepSlash: true) == "packs/ab/x%20y%2Bz~")
        #expect(S3Signer.uriEncode("ü", keepSlash: true) == "%C3%BC")
        #expect(S3Store.percentDecode("a%20b%2Fc%C3%BC") == "a b/cü")
    }

    @Test func digests() {
        #expect(ByteText.hex(Hash.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(ByteText.hex(Hash.md5(Array("abc".utf8))) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(ByteText.hex(Hash.sha256([UInt8]())) == S3Signer.emptyPayloadHash)
        for count in 0..<7 {
            let bytes = (0..<count).map { UInt8($0 * 37 + 1) }
            #expect(ByteText.base64(bytes) == Data(bytes).base64EncodedString())
        }
    }

    @Test func xmlResponses() throws {
        let list = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><IsTruncated>true</IsTruncated>
            <Contents><Key>a&amp;b&lt;c&#x41;&#66;</Key><Size>12</Size></Contents>\
            <Contents><Key><![CDATA[x<y]]></Key><Size>0</Size></Contents>
            <NextContinuationToken>tok/+=</NextContinuationToken><!-- comment --><Empty/></ListBucketResult>
            """
        let document = try S3XML.parse(Array(list.utf8))
        #expect(document.name == "ListBucketResult")
        #expect(document.all("Contents").map { $0.text("Key") } == ["a&b<cAB", "x<y"])
        #expect(document.text("NextContinuationToken") == "tok/+=")
        #expect(document.child("Empty") != nil)
        #expect(throws: S3XML.ParseError.self) { _ = try S3XML.parse(Array("<a><b></a>".utf8)) }
        #expect(throws: S3XML.ParseError.self) { _ = try S3XML.parse(Array("<a>&bogus;</a>".utf8)) }
        #expect(throws: S3XML.ParseError.self) { _ = try S3XML.parse(Array("no xml".utf8)) }
        #expect(S3XML.escape("a<&>\"'") == "a&lt;&amp;&gt;&quot;&apos;")

        let error = S3ErrorResponse(
            HTTPResponse(status: 503, body: Array("<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>".utf8)))
        #expect(error.isRetryable)
        #expect(error.summary == "SlowDown: Reduce your rate (HTTP 503)")
        #expect(!S3ErrorResponse(HTTPResponse(status: 403, body: Array("<Error><Code>AccessDenied</Code></Error>".utf8))).isRetryable)
        #expect(
            S3ErrorResponse(HTTPResponse(status: 400, body: Array("<Error><Code>ExpiredToken</Code></Error>".utf8))).isExpiredCredentials)
        #expect(S3ErrorResponse(HTTPResponse(status: 404)).code == "NotFound")
    }

    @Test func endpoints() throws {
        let aws = try S3Endpoint(configuration: S3Configuration(bucket: "my-bucket", region: "eu-west-1"))
        #expect(aws.virtualHosted)
        #expect(aws.hostHeader == "my-bucket.s3.eu-west-1.amazonaws.com")
        #expect(aws.url(path: aws.path(key: "p/k"), query: "") == "https://my-bucket.s3.eu-west-1.amazonaws.com/p/k")
        let dotted = try S3Endpoint(configuration: S3Configuration(bucket: "my.bucket", region: "eu-west-1"))
        #expect(!dotted.virtualHosted)
        #expect(dotted.path(key: nil) == "/my.bucket")
        let custom = try S3Endpoint(configuration: S3Configuration(bucket: "b12", endpoint: "http://127.0.0.1:8333/"))
        #expect(!custom.virtualHosted)
        #expect(custom.hostHeader == "127.0.0.1:8333")
        #expect(custom.url(path: custom.path(key: "k"), query: "x=1") == "http://127.0.0.1:8333/b12/k?x=1")
        let defaultPort = try S3Endpoint(
            configuration: S3Configuration(bucket: "b12", endpoint: "https://minio.example:443", addressing: .virtualHosted))
        #expect(defaultPort.hostHeader == "b12.minio.example")
        for endpoint in ["127.0.0.1:8333", "ftp://h", "http://h/path", "http://h:99999", "http://user@h"] {
            #expect(throws: ObjectStoreError.self) { _ = try S3Endpoint(configuration: S3Configuration(bucket: "b12", endpoint: endpoint)) }
        }
        for bucket in ["ab", "Upper", "-lead", "a..b", "under_score", String(repeating: "a", count: 64)] {
            #expect(throws: ObjectStoreError.self) { _ = try S3Endpoint(configuration: S3Configuration(bucket: bucket)) }
        }
        #expect(throws: ObjectStoreError.self) {
            _ = try S3Endpoint(configuration: S3Configuration(bucket: "a.b", endpoint: "https://h", addressing: .virtualHosted))
        }
        #expect(S3Configuration(bucket: "b", prefix: "repo/").location == "s3://b/repo")
        #expect(S3Configuration(bucket: "b").location == "s3://b")
    }

    @Test func backoffGrowsAndIsCapped() {
        let policy = S3RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        for attempt in 1...10 {
            let limit = min(1000, 100 << (attempt - 1))
            for _ in 0..<50 {
                let delay = policy.delay(afterAttempt: attempt)
                #expect(delay >= .zero && delay <= .milliseconds(limit))
            }
        }
    }

    @Test func integrityChecks() {
        let body = Array("payload".utf8)
        var headers = HTTPHeaders()
        headers.add("x-amz-checksum-sha256", ByteText.base64(Hash.sha256(body)))
        #expect(S3Store.integrityProblem(HTTPResponse(status: 200, headers: headers, body: body)) == nil)
        #expect(S3Store.integrityProblem(HTTPResponse(status: 200, headers: headers, body: Array("paylaod".utf8))) != nil)
        let etag: HTTPHeaders = ["ETag": "\"\(ByteText.hex(Hash.md5(body)))\""]
        #expect(S3Store.integrityProblem(HTTPResponse(status: 200, headers: etag, body: body)) == nil)
        #expect(S3Store.integrityProblem(HTTPResponse(status: 200, headers: etag, body: Array("xayload".utf8)))?.contains("MD5") == true)
        // Multipart ETags and composite checksums say nothing about the whole body.
        let multipart: HTTPHeaders = ["ETag": "\"0123456789abcdef0123456789abcdef-3\"", "x-amz-checksum-sha256": "abc=-3"]
        #expect(S3Store.integrityProblem(HTTPResponse(status: 200, headers: multipart, body: body)) == nil)
    }

    @Test func credentialChainErrorsNameTheProblem() throws {
        let client = try HTTPClient()
        func resolve(_ environment: [String: String], profile: String? = nil) throws -> any S3CredentialsProvider {
            try S3CredentialsChain.resolve(profile: profile, region: "us-east-1", environment: environment, client: client, store: "s3://b")
        }
        let keys = try resolve([
            "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t", "AWS_ROLE_ARN": "arn:x",
            "AWS_WEB_IDENTITY_TOKEN_FILE": "/f",
        ])
        #expect(keys is StaticCredentialsProvider)
        #expect((keys as? StaticCredentialsProvider)?.fixed.sessionToken == "t")
        let web = try resolve(["AWS_ROLE_ARN": "arn:x", "AWS_WEB_IDENTITY_TOKEN_FILE": "/f", "AWS_REGION": "eu-west-1"])
        #expect((web as? WebIdentityCredentialsProvider)?.endpoint == "https://sts.us-east-1.amazonaws.com/")
        func message(_ environment: [String: String]) -> String {
            do {
                _ = try resolve(environment)
                return ""
            } catch {
                return "\(error)"
            }
        }
        #expect(message(["AWS_SECRET_ACCESS_KEY": "s", "HOME": "/nonexistent"]).contains("AWS_ACCESS_KEY_ID is not"))
        #expect(message(["AWS_ROLE_ARN": "arn:x", "HOME": "/nonexistent"]).contains("AWS_WEB_IDENTITY_TOKEN_FILE is not"))
        #expect(message(["HOME": "/nonexistent"]).contains("no S3 credentials found"))
        #expect(S3Credentials(accessKeyID: "AKID", secretAccessKey: "very-secret").description.contains("very-secret") == false)
    }
}
