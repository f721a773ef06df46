import FerryTestSupport
import Foundation
import Testing

@Suite("Key slots")
struct KeyTests {
    func slots(_ cli: CLIFixture, password: String) async throws -> [[String: Any]] {
        let result = try await FerryProcess(password: password).run(["key", "list", "--repo", cli.repo, "--json"])
        #expect(result.succeeded, "\(result)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
    }

    @Test func addChangeAndRemovePasswords() async throws {
        let cli = try await CLIFixture(password: "first")
        defer { cli.remove() }
        let image = cli.dir.file("disk.img")
        try ImageFile.create(image, size: 1 << 20)
        try ImageFile.write(image, at: 0, Array("data".utf8))
        _ = try await cli.backup(image)

        let add = try await FerryProcess(password: "first", extra: ["FERRY_NEW_PASSWORD": "second"]).run(["key", "add", "--repo", cli.repo])
        #expect(add.succeeded, "\(add)")
        #expect(try await slots(cli, password: "second").count == 2)
        #expect(try await FerryProcess(password: "second").run(["snapshots", "--repo", cli.repo]).succeeded)

        // The slot in use cannot be removed; the other one can.
        let listed = try await slots(cli, password: "first")
        let current = try #require(listed.first { $0["current"] as? Bool == true }?["id"] as? String)
        let other = try #require(listed.first { $0["current"] as? Bool == false }?["id"] as? String)
        let refuse = try await FerryProcess(password: "first").run(["key", "remove", "--repo", cli.repo, String(current.prefix(8))])
        #expect(refuse.status == 1)
        #expect(refuse.stderr.contains("in use"))
        #expect(try await FerryProcess(password: "first").run(["key", "remove", "--repo", cli.repo, String(other.prefix(8))]).succeeded)
        let removed = try await FerryProcess(password: "second").run(["snapshots", "--repo", cli.repo])
        #expect(removed.status == 1)
        #expect(removed.stderr.contains("wrong password"))

        // passwd replaces the slot in use: the old password stops working, data stays readable.
        let passwd = try await FerryProcess(password: "first", extra: ["FERRY_NEW_PASSWORD": "third"]).run([
            "key", "passwd", "--repo", cli.repo,
        ])
        #expect(passwd.succeeded, "\(passwd)")
        #expect(try await FerryProcess(password: "first").run(["snapshots", "--repo", cli.repo]).status == 1)
        let third = FerryProcess(password: "third")
        #expect(try await third.run(["restore", "latest", cli.dir.file("out.img"), "--repo", cli.repo]).succeeded)
        #expect(try ImageFile.identical(image, cli.dir.file("out.img")))

        // The last slot cannot be removed.
        let only = try #require(try await slots(cli, password: "third").first?["id"] as? String)
        let last = try await third.run(["key", "remove", "--repo", cli.repo, only])
        #expect(last.status == 1)
        #expect(last.stderr.contains("last key slot"))
    }

    @Test func rawKeyFromTheEnvironment() async throws {
        let cli = try await CLIFixture(password: "pw")
        defer { cli.remove() }
        let keyFile = cli.dir.file("raw.key")
        let key = Data(try ImageFile.urandom(32)).base64EncodedString()
        try key.write(toFile: keyFile, atomically: true, encoding: .utf8)
        #expect(try await cli.ferry.run(["key", "add", "--repo", cli.repo, "--new-key-file", keyFile]).succeeded)
        let byKey = FerryProcess(password: nil, extra: ["FERRY_KEY": key])
        #expect(try await byKey.run(["snapshots", "--repo", cli.repo]).succeeded)
        let listed = try await byKey.run(["key", "list", "--repo", cli.repo])
        #expect(listed.stdout.contains("raw key"))
        let wrongKey = FerryProcess(password: nil, extra: ["FERRY_KEY": Data(try ImageFile.urandom(32)).base64EncodedString()])
        let refused = try await wrongKey.run(["snapshots", "--repo", cli.repo])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("wrong password"))
        let malformed = try await FerryProcess(password: nil, extra: ["FERRY_KEY": "c2hvcnQ="]).run(["snapshots", "--repo", cli.repo])
        #expect(malformed.status == 1)
        #expect(malformed.stderr.contains("32 bytes"))
    }
}
