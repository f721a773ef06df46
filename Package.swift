// swift-tools-version: 6.1
import PackageDescription

// Ferry: one executable (`ferry`), a layered set of library modules, and C system libraries.
// Layering (arrows point at what a module may import):
//   ferry -> FerryCoordinator -> FerryAPI -> FerryKube, FerryRepo
//         -> FerryAgent -> FerryAPI, FerryMover (never discovery or resource capture)
//         -> FerryMover -> FerryVolume, FerryCSI, FerryRepo -> FerryBlob -> FerryHTTP -> CCurl
// Nothing imports "up". Test support lives in test targets (and `ferry-testkube`), never in `ferry`.
let package = Package(
    name: "Ferry",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ferry", targets: ["ferry"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        // FerryKubeTestServer only: it serves TLS, as real clients send credentials only over TLS.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // FerryCSI only (CSI SnapshotMetadata over gRPC); generated code is committed, no build plugin.
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.0"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.14.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
    ],
    targets: [
        // MARK: C system libraries (pkg-config names the package to install when one is missing)
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "CLZ4", pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(
            name: "CFuse", pkgConfig: "fuse3",
            providers: [.apt(["libfuse3-dev"])]),
        .target(
            name: "CSystemShims",
            dependencies: []),

        // MARK: Libraries
        .target(
            name: "FerrySystem",
            dependencies: ["CSystemShims"]),
        .target(
            name: "FerryHTTP",
            dependencies: ["CCurl"]),
        .target(
            name: "FerryDigest",
            dependencies: ["COpenSSL"]),
        .target(
            name: "FerryBlob",
            dependencies: ["FerrySystem", "FerryHTTP", "FerryDigest"]),
        .target(
            name: "FerryRepo",
            dependencies: ["FerryBlob", "FerryDigest", "FerrySystem", "CLZ4", "CZstd", "COpenSSL"]),
        .target(
            name: "FerryVolume",
            dependencies: ["FerrySystem", "CZlib", "CZstd"]),
        .target(
            name: "FerryCSI",
            dependencies: [
                "FerryVolume",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Proto"]),
        .target(
            name: "FerryMover",
            dependencies: ["FerryRepo", "FerryVolume", "FerryBlob", "FerrySystem", "FerryCSI"]),
        .target(
            name: "FerryMount",
            dependencies: ["FerryRepo", "FerryBlob", "FerrySystem", "FerryKube", "CFuse"]),
        .target(
            name: "FerryKube",
            dependencies: [
                "FerrySystem", "FerryHTTP",
                .product(name: "Yams", package: "Yams"),
            ]),
        .target(
            name: "FerryApps",
            dependencies: ["FerryKube", "CZlib"]),
        .target(
            name: "FerryResources",
            dependencies: ["FerryAPI", "FerryApps", "FerryKube", "FerryRepo"]),
        // The ferry.dev kinds as typed values, their client, Targets → repositories.
        .target(
            name: "FerryAPI",
            dependencies: ["FerryKube", "FerryRepo", "FerryBlob"]),
        .target(
            name: "FerryMetrics",
            dependencies: [
                "FerryAPI",
                "FerryKube",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        // The control plane: discovery → work units → one committed snapshot; restores; schedules.
        .target(
            name: "FerryCoordinator",
            dependencies: ["FerryAPI", "FerryMetrics", "FerryResources", "FerryApps", "FerryKube", "FerryRepo", "FerryCSI"]),
        // The node data plane: VolumeTransfers carried out by the agent on their node.
        .target(
            name: "FerryAgent",
            dependencies: ["FerryAPI", "FerryMetrics", "FerryMover", "FerryVolume", "FerryRepo", "FerryKube", "FerryCSI"]),

        // MARK: Test support that is not a test target (never a dependency of `ferry`)
        .target(
            name: "FerryKubeTestServer",
            dependencies: [
                "FerryKube", "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ]),
        // The controllers and kubelets of a cluster in a box (ferry-testkube --nodes, scripts/e2e.sh).
        .target(name: "FerryKubeControllers", dependencies: ["FerryKube"]),
        .executableTarget(
            name: "ferry-testkube",
            dependencies: [
                "FerryKubeTestServer", "FerryKubeControllers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // MARK: The executable
        .executableTarget(
            name: "ferry",
            dependencies: [
                "FerryMover", "FerryRepo", "FerryBlob", "FerryVolume", "FerryApps", "FerryKube", "FerryCSI", "FerryResources",
                "FerryAPI", "FerryMetrics", "FerryCoordinator", "FerryAgent", "FerryMount",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),

        // MARK: Benchmark tools (not part of the shipped image)
        .executableTarget(
            name: "ferry-synthetic-repo",
            dependencies: ["FerryRepo", "FerryBlob"],
            path: "Benchmarks/SyntheticRepository"),
        .executableTarget(
            name: "ferry-agent-units",
            dependencies: ["FerryRepo", "FerryBlob"],
            path: "Benchmarks/AgentUnits"),
        .executableTarget(
            name: "ferry-s3-bench",
            dependencies: ["FerryBlob", "FerryHTTP"],
            path: "Benchmarks/S3Throughput"),

        // MARK: Tests
        .target(
            name: "FerryTestSupport",
            dependencies: [
                "FerryRepo", "FerryBlob", "FerryVolume",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/FerryTestSupport"),
        .testTarget(
            name: "FerryRepoTests",
            dependencies: ["FerryRepo", "FerryBlob", "FerryTestSupport", "FerryBlobTestSupport"]),
        .testTarget(
            name: "FerryVolumeTests",
            dependencies: ["FerryVolume", "FerryMover", "FerryRepo", "FerryQEMUTestSupport", "FerryTestSupport"]),
        .testTarget(
            name: "FerryMoverTests",
            dependencies: ["FerryMover", "FerryRepo", "FerryBlob", "FerryVolume", "FerryTestSupport", "FerryBlobTestSupport"]),
        .target(
            name: "FerryQEMUTestSupport",
            dependencies: ["FerryVolume", "FerryTestSupport"],
            path: "Tests/FerryQEMUTestSupport"),
        .target(
            name: "FerryCSITestSupport",
            dependencies: [
                "FerryCSI", "FerryVolume", "FerryTestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            ],
            path: "Tests/FerryCSITestSupport"),
        .testTarget(
            name: "FerryCSITests",
            dependencies: [
                "FerryCSI", "FerryVolume", "FerryQEMUTestSupport", "FerryTestSupport", "FerryCSITestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
            ]),
        .target(
            name: "FerryS3TestSupport",
            dependencies: ["FerrySystem", "FerryTestSupport"],
            path: "Tests/FerryS3TestSupport"),
        .target(
            name: "FerryBlobTestSupport",
            dependencies: ["FerryBlob"],
            path: "Tests/FerryBlobTestSupport"),
        .testTarget(
            name: "FerryBlobTests",
            dependencies: ["FerryBlob", "FerryBlobTestSupport", "FerryS3TestSupport", "FerryTestSupport"]),
        .testTarget(
            name: "FerryHTTPTests",
            dependencies: ["FerryHTTP", "FerryS3TestSupport", "FerryTestSupport"]),
        .testTarget(
            name: "FerryS3Tests",
            dependencies: ["FerryBlob", "FerryBlobTestSupport", "FerryDigest", "FerryHTTP", "FerryS3TestSupport", "FerryTestSupport"]),
        .testTarget(
            name: "FerryS3EndToEndTests",
            dependencies: ["FerryBlob", "FerryTestSupport", "FerryS3TestSupport"]),
        .testTarget(
            name: "FerryKubeTests",
            dependencies: ["FerryKube", "FerryKubeTestServer", "FerryS3TestSupport", "FerryTestSupport"]),
        .testTarget(
            name: "FerryKubeTestServerTests",
            dependencies: ["FerryKubeTestServer", "FerryKube", "FerryKubeTestSupport", "FerryTestSupport"]),
        .testTarget(
            name: "FerryAPITests",
            dependencies: ["FerryAPI", "FerryKube", "FerryRepo"]),
        .target(
            name: "FerryKubeTestSupport",
            dependencies: ["FerryKube", "FerryKubeTestServer", "FerryTestSupport"],
            path: "Tests/FerryKubeTestSupport"),
        .testTarget(
            name: "FerryAppsTests",
            dependencies: [
                "FerryApps", "FerryAPI", "FerryBlob", "FerryKube", "FerryRepo", "FerryResources", "FerryKubeTestServer",
                "FerryKubeTestSupport", "FerryTestSupport",
            ]),
        .testTarget(
            name: "FerryClusterTests",
            dependencies: [
                // The `ferry` executable too: InProcessFerry runs its coordinator and agent commands in-process.
                "ferry", "FerryAPI", "FerryCoordinator", "FerryAgent", "FerryMetrics", "FerryMover", "FerryRepo", "FerryBlob", "FerryKube",
                "FerryKubeTestServer", "FerryKubeTestSupport", "FerryTestSupport", "FerryQEMUTestSupport", "FerryCSITestSupport",
                "FerryS3TestSupport", "FerryKubeControllers",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
            ]),
        .testTarget(
            name: "FerryMountTests",
            dependencies: ["FerryMount", "FerryRepo", "FerryBlob", "FerryKube", "FerryTestSupport", "FerryS3TestSupport"]),
        .testTarget(
            name: "FerryCLITests",
            dependencies: ["FerryTestSupport", "FerryQEMUTestSupport", "FerryRepo", "FerryBlob"]),
    ]
)
