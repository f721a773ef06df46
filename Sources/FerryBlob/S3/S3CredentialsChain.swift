import FerryHTTP
import Foundation

/// Finds credentials the way AWS tools do, first match wins:
///
/// 1. a profile named explicitly (`--s3-profile`) in the shared files;
/// 2. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
/// 3. web identity: `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE` through STS;
/// 4. the profile `AWS_PROFILE` (or `default`) in `AWS_SHARED_CREDENTIALS_FILE`
///    (`~/.aws/credentials`) or `AWS_CONFIG_FILE` (`~/.aws/config`), keys or web identity.
public enum S3CredentialsChain {
    public static func resolve(
        profile explicitProfile: String?, region: String, environment: [String: String], client: HTTPClient, store: String
    ) throws -> any S3CredentialsProvider {
        let files = S3SharedConfig(environment: environment)
        if let explicitProfile {
            guard
                let provider = try files.provider(
                    profile: explicitProfile, region: region, environment: environment, client: client, store: store)
            else {
                throw ObjectStoreError.accessDenied(
                    store: store, detail: "profile \"\(explicitProfile)\" not found in \(files.credentialsPath) or \(files.configPath)")
            }
            return provider
        }

        let keyID = environment["AWS_ACCESS_KEY_ID"].flatMap(nonEmpty)
        let secret = environment["AWS_SECRET_ACCESS_KEY"].flatMap(nonEmpty)
        switch (keyID, secret) {
        case let (keyID?, secret?):
            return StaticCredentialsProvider(
                S3Credentials(
                    accessKeyID: keyID, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"].flatMap(nonEmpty)),
                source: "environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        case (.some, nil):
            throw ObjectStoreError.accessDenied(store: store, detail: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        case (nil, .some):
            throw ObjectStoreError.accessDenied(store: store, detail: "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
        case (nil, nil):
            break
        }

        let roleARN = environment["AWS_ROLE_ARN"].flatMap(nonEmpty)
        let tokenFile = environment["AWS_WEB_IDENTITY_TOKEN_FILE"].flatMap(nonEmpty)
        switch (roleARN, tokenFile) {
        case let (roleARN?, tokenFile?):
            return WebIdentityCredentialsProvider(
                roleARN: roleARN, tokenFile: tokenFile, sessionName: environment["AWS_ROLE_SESSION_NAME"].flatMap(nonEmpty),
                endpoint: stsEndpoint(region: region, environment: environment), client: client)
        case (.some, nil):
            throw ObjectStoreError.accessDenied(store: store, detail: "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not")
        case (nil, .some):
            throw ObjectStoreError.accessDenied(store: store, detail: "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not")
        case (nil, nil):
            break
        }

        let profile = environment["AWS_PROFILE"].flatMap(nonEmpty) ?? "default"
        if let provider = try files.provider(profile: profile, region: region, environment: environment, client: client, store: store) {
            return provider
        }
        throw ObjectStoreError.accessDenied(
            store: store,
            detail: "no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_ROLE_ARN and "
                + "AWS_WEB_IDENTITY_TOKEN_FILE, or put profile \"\(profile)\" in \(files.credentialsPath)")
    }

    /// `AWS_ENDPOINT_URL_STS`, else the regional STS endpoint.
    static func stsEndpoint(region: String, environment: [String: String]) -> String {
        if let url = environment["AWS_ENDPOINT_URL_STS"].flatMap(nonEmpty) { return url }
        return "https://sts.\(region).amazonaws.com/"
    }

    static func nonEmpty(_ text: String) -> String? {
        let trimmed = text.trimmingWhitespace()
        return trimmed.isEmpty ? nil : trimmed
    }
}

/// The shared AWS files: `~/.aws/credentials` (sections `[name]`) and `~/.aws/config`
/// (sections `[profile name]`, and `[default]`).
struct S3SharedConfig {
    let credentialsPath: String
    let configPath: String
    private let credentials: [String: [String: String]]
    private let config: [String: [String: String]]

    init(environment: [String: String]) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        credentialsPath = environment["AWS_SHARED_CREDENTIALS_FILE"].flatMap(S3CredentialsChain.nonEmpty) ?? "\(home)/.aws/credentials"
        configPath = environment["AWS_CONFIG_FILE"].flatMap(S3CredentialsChain.nonEmpty) ?? "\(home)/.aws/config"
        credentials = Self.parseINI(at: credentialsPath)
        config = Self.parseINI(at: configPath)
    }

    /// The settings of `profile`, credentials file first, then config file.
    func settings(profile: String) -> [String: String]? {
        let fromConfig = config[profile == "default" ? "default" : "profile \(profile)"] ?? config[profile]
        let fromCredentials = credentials[profile]
        if fromConfig == nil && fromCredentials == nil { return nil }
        return (fromConfig ?? [:]).merging(fromCredentials ?? [:]) { _, credential in credential }
    }

    func region(profile: String) -> String? {
        settings(profile: profile)?["region"].flatMap(S3CredentialsChain.nonEmpty)
    }

    func provider(profile: String, region: String, environment: [String: String], client: HTTPClient, store: String) throws -> (
        any S3CredentialsProvider
    )? {
        guard let settings = settings(profile: profile) else { return nil }
        if let keyID = settings["aws_access_key_id"].flatMap(S3CredentialsChain.nonEmpty) {
            guard let secret = settings["aws_secret_access_key"].flatMap(S3CredentialsChain.nonEmpty) else {
                throw ObjectStoreError.accessDenied(
                    store: store, detail: "profile \"\(profile)\" has aws_access_key_id but no aws_secret_access_key")
            }
            return StaticCredentialsProvider(
                S3Credentials(
                    accessKeyID: keyID, secretAccessKey: secret,
                    sessionToken: settings["aws_session_token"].flatMap(S3CredentialsChain.nonEmpty)),
                source: "profile \"\(profile)\" in \(credentialsPath)")
        }
        if let roleARN = settings["role_arn"].flatMap(S3CredentialsChain.nonEmpty),
            let tokenFile = settings["web_identity_token_file"].flatMap(S3CredentialsChain.nonEmpty)
        {
            return WebIdentityCredentialsProvider(
                roleARN: roleARN, tokenFile: tokenFile, sessionName: settings["role_session_name"],
                endpoint: S3CredentialsChain.stsEndpoint(region: region, environment: environment), client: client)
        }
        throw ObjectStoreError.accessDenied(
            store: store, detail: "profile \"\(profile)\" has neither aws_access_key_id nor role_arn with web_identity_token_file")
    }

    static func parseINI(at path: String) -> [String: [String: String]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = String(rawLine).trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                let name = String(line.dropFirst().dropLast()).trimmingWhitespace()
                current = name
                if sections[name] == nil { sections[name] = [:] }
                continue
            }
            guard let section = current, let equals = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<equals]).trimmingWhitespace().lowercased()
            let value = String(line[line.index(after: equals)...]).trimmingWhitespace()
            sections[section]?[key] = value
        }
        return sections
    }
}
