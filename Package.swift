// swift-tools-version:6.1
import PackageDescription

/// One settings array for every target, as Hummingbird does.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "signoff",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "signoff", targets: ["signoff"]),
        .library(name: "SignoffCrypto", targets: ["SignoffCrypto"]),
        .library(name: "SignoffLedger", targets: ["SignoffLedger"]),
        .library(name: "SignoffCore", targets: ["SignoffCore"]),
        .library(name: "SignoffAudit", targets: ["SignoffAudit"]),
        .library(name: "SignoffService", targets: ["SignoffService"]),
        .library(name: "SignoffAPI", targets: ["SignoffAPI"]),
        .library(name: "SignoffStore", targets: ["SignoffStore"]),
        .library(name: "SignoffPostgres", targets: ["SignoffPostgres"]),
        .library(name: "SignoffIdentity", targets: ["SignoffIdentity"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // SHA-256 with the x86-64 SHA extensions where the processor has them (libsodium's is portable C only). No
        // unsafe flags: a package that uses SignoffAudit (an auditor's verifier) must be able to depend on this one.
        .target(name: "CSHA256"),
        .target(
            name: "SignoffCrypto",
            dependencies: ["CSodium", "CSHA256"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SignoffLedger",
            dependencies: ["SignoffCrypto"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SignoffCore",
            dependencies: ["SignoffCrypto", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // The offline export verifier: no database, no network (an auditor's tool links only this and below).
        .target(
            name: "SignoffAudit",
            dependencies: ["SignoffCrypto", "SignoffLedger", "SignoffCore"],
            swiftSettings: swiftSettings
        ),
        // The engine over storage protocols; backends conform (SQLite in SignoffStore, PostgreSQL next).
        .target(
            name: "SignoffService",
            dependencies: ["SignoffCrypto", "SignoffLedger", "SignoffCore", "SignoffAudit"],
            swiftSettings: swiftSettings
        ),
        // The wire contract: request and response types the server and the CLI's client share. It stands on the domain,
        // never on the service (the views of the service's records are built in SignoffServer).
        .target(
            name: "SignoffAPI",
            dependencies: ["SignoffCrypto", "SignoffLedger", "SignoffCore"],
            swiftSettings: swiftSettings
        ),
        // The only module that imports GRDB.
        .target(
            name: "SignoffStore",
            dependencies: [
                "SignoffCrypto",
                "SignoffLedger",
                "SignoffCore",
                "SignoffAudit",
                "SignoffService",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The only module that imports PostgresNIO: the same protocols as SignoffStore, on PostgreSQL.
        .target(
            name: "SignoffPostgres",
            dependencies: [
                "SignoffCrypto",
                "SignoffLedger",
                "SignoffCore",
                "SignoffService",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // OpenID Connect: the one ID-token verifier (people's single sign-on, pipelines' own ID tokens). The only module
        // that imports JWTKit.
        .target(
            name: "SignoffIdentity",
            dependencies: [
                "SignoffCore", "SignoffCrypto", "SignoffService",
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SignoffServer",
            dependencies: [
                "SignoffCore", "SignoffCrypto", "SignoffLedger", "SignoffAudit", "SignoffService", "SignoffAPI", "SignoffIdentity",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            // The web console's templates, script and style sheet: the sources of Console/ConsoleFiles.swift, which
            // scripts/embed-schema.py generates from them (compiled in, as the SQL and the spec are; README says why).
            exclude: ["Console/templates", "Console/static"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "signoff",
            dependencies: [
                "SignoffServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                "SignoffCore",
                "SignoffCrypto",
                "SignoffLedger",
                "SignoffAudit",
                "SignoffService",
                "SignoffAPI",
                "SignoffStore",
                "SignoffPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "signoff-bench",
            dependencies: [
                "SignoffCrypto", "SignoffLedger", "SignoffStore", "SignoffPostgres", "SignoffCore", "SignoffServer", "SignoffService", "SignoffAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // The raw-PostgreSQL baseline of the PostgreSQL figures.
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The raw-SQLite baseline the ledger's figures are compared with.
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/signoff-bench",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SignoffTestSupport",
            path: "Tests/SignoffTestSupport",
            swiftSettings: swiftSettings
        ),
        // The storage conformance suite every backend runs (SQLite now, PostgreSQL next).
        .target(
            name: "SignoffStorageConformance",
            dependencies: ["SignoffService", "SignoffCore", "SignoffLedger", "SignoffCrypto"],
            path: "Tests/SignoffStorageConformance",
            swiftSettings: swiftSettings
        ),
        // The storage backends the engine and server suites run on, parameterised: SQLite and PostgreSQL (issue 26).
        .target(
            name: "SignoffTestBackends",
            dependencies: [
                "SignoffStore", "SignoffPostgres", "SignoffService", "SignoffLedger", "SignoffCrypto", "SignoffTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/SignoffTestBackends",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SignoffCryptoTests",
            dependencies: ["SignoffCrypto", "SignoffTestSupport", "CSodium"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SignoffLedgerTests",
            dependencies: ["SignoffLedger", "SignoffCrypto", "SignoffTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SignoffCoreTests",
            dependencies: ["SignoffCore", "SignoffCrypto", "SignoffLedger", "SignoffAudit", "SignoffService", "SignoffAPI", "SignoffTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SignoffStoreTests",
            dependencies: [
                "SignoffStore", "SignoffService", "SignoffAudit", "SignoffCore", "SignoffLedger", "SignoffCrypto", "SignoffTestSupport",
                "SignoffStorageConformance", "SignoffTestBackends",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SignoffPostgresTests",
            dependencies: [
                "SignoffPostgres", "SignoffService", "SignoffLedger", "SignoffCrypto", "SignoffStorageConformance", "SignoffTestBackends",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SignoffServerTests",
            dependencies: [
                "SignoffServer", "SignoffStore", "SignoffService", "SignoffAPI", "SignoffAudit", "SignoffCore", "SignoffLedger", "SignoffCrypto",
                "SignoffTestSupport", "SignoffTestBackends", "SignoffIdentity",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SignoffCLITests",
            dependencies: [
                "SignoffCrypto", "SignoffCore", "SignoffLedger", "SignoffStore", "SignoffPostgres", "SignoffService", "SignoffAudit", "SignoffTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
