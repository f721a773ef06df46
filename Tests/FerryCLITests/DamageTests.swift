import FerryTestSupport
import Foundation
import Testing

/// Damaged repository objects: check names them; restoring an affected snapshot fails clearly;
/// an unaffected snapshot still restores.
@Suite("Damaged repositories")
struct DamageTests {
    /// Two snapshots of unrelated images; returns the fixture, the images and what each backup added.
    func twoSnapshots() async throws -> (cli: CLIFixture, a: String, b: String, snapA: String, snapB: String, objectsA: Set<String>) {
        let cli = try await CLIFixture()
        var random = DeterministicBytes(seed: 31)
        let a = cli.dir.file("a.img")
        let b = cli.dir.file("b.img")
        for image in [a, b] {
            try ImageFile.create(image, size: 6 << 20)
            try ImageFile.write(image, at: 0, random.bytes(3 << 20))
            try ImageFile.write(image, at: 4 << 20, random.text(1 << 20))
        }
        let before = Set(cli.objects("packs") + cli.objects("index") + cli.objects("snapshots"))
        let snapA = try await cli.backup(a).string("snapshot")
        let after = Set(cli.objects("packs") + cli.objects("index") + cli.objects("snapshots"))
        let snapB = try await cli.backup(b).string("snapshot")
        return (cli, a, b, snapA, snapB, after.subtracting(before))
    }

    func largest(_ names: some Sequence<String>, in cli: CLIFixture) throws -> String {
        try names.max { try size(cli.dir.file("repo/" + $0)) < size(cli.dir.file("repo/" + $1)) }!
    }

    func size(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }

    func flipByte(_ path: String, at offset: Int) throws {
        var bytes = try ImageFile.read(path)
        bytes[offset] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    func expectUnaffectedRestores(_ setup: (cli: CLIFixture, a: String, b: String, snapA: String, snapB: String, objectsA: Set<String>))
        async throws
    {
        let target = setup.cli.dir.file("b-restored.img")
        let result = try await setup.cli.restore(setup.snapB, to: target)
        #expect(result.succeeded, "\(result)")
        #expect(try ImageFile.identical(setup.b, target))
    }

    @Test func flippedByteInAPack() async throws {
        let setup = try await twoSnapshots()
        defer { setup.cli.remove() }
        let pack = try largest(setup.objectsA.filter { $0.hasPrefix("packs/") }, in: setup.cli)
        let path = setup.cli.dir.file("repo/" + pack)
        try flipByte(path, at: try size(path) / 2)

        let check = try await setup.cli.check(["--read-data"])
        #expect(check.status == 1)
        #expect(check.stderr.contains(pack), "\(check.stderr)")
        let restore = try await setup.cli.restore(setup.snapA, to: setup.cli.dir.file("a-restored.img"))
        #expect(restore.status == 1)
        #expect(restore.stderr.contains("does not match its id") && restore.stderr.contains(pack), "\(restore.stderr)")
        try await expectUnaffectedRestores(setup)
    }

    @Test func truncatedPack() async throws {
        let setup = try await twoSnapshots()
        defer { setup.cli.remove() }
        let pack = try largest(setup.objectsA.filter { $0.hasPrefix("packs/") }, in: setup.cli)
        let path = setup.cli.dir.file("repo/" + pack)
        try FileHandle(forWritingTo: URL(fileURLWithPath: path)).truncate(atOffset: UInt64(try size(path) / 2))

        let check = try await setup.cli.check() // found without reading data
        #expect(check.status == 1)
        #expect(check.stderr.contains(pack), "\(check.stderr)")
        let restore = try await setup.cli.restore(setup.snapA, to: setup.cli.dir.file("a-restored.img"))
        #expect(restore.status == 1)
        #expect(restore.stderr.contains(pack), "\(restore.stderr)")
        try await expectUnaffectedRestores(setup)
    }

    @Test func flippedByteInAnIndexObject() async throws {
        let setup = try await twoSnapshots()
        defer { setup.cli.remove() }
        let index = try #require(setup.objectsA.first { $0.hasPrefix("index/") })
        let path = setup.cli.dir.file("repo/" + index)
        try flipByte(path, at: try size(path) - 20)

        let check = try await setup.cli.check()
        #expect(check.status == 1)
        #expect(check.stderr.contains(index), "\(check.stderr)")
        // (The local index cache, filled before the damage, would still find the chunks.)
        let restore = try await setup.cli.restore(setup.snapA, to: setup.cli.dir.file("a-restored.img"), ["--no-cache"])
        #expect(restore.status == 1)
        #expect(restore.stderr.contains("not in the repository"), "\(restore.stderr)")
        try await expectUnaffectedRestores(setup)
    }

    @Test func flippedByteInAManifest() async throws {
        let setup = try await twoSnapshots()
        defer { setup.cli.remove() }
        let manifest = "snapshots/" + setup.snapA
        let path = setup.cli.dir.file("repo/" + manifest)
        try flipByte(path, at: try size(path) - 5)

        let check = try await setup.cli.check()
        #expect(check.status == 1)
        #expect(check.stderr.contains(manifest), "\(check.stderr)")
        let restore = try await setup.cli.restore(setup.snapA, to: setup.cli.dir.file("a-restored.img"))
        #expect(restore.status == 1)
        #expect(restore.stderr.contains(manifest), "\(restore.stderr)")
        try await expectUnaffectedRestores(setup)
        let list = try await setup.cli.run(["snapshots", "--repo", setup.cli.repo])
        #expect(list.succeeded)
        #expect(list.stderr.contains(manifest))
        #expect(list.stdout.contains(String(setup.snapB.prefix(8))))
    }
}
