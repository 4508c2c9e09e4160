// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "postmark-bridge",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "postmark-bridge", targets: ["postmark-bridge"]),
        .library(name: "PostmarkBridge", targets: ["PostmarkBridge"]),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        .target(
            name: "PostmarkBridge",
            dependencies: ["CLibPQ"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "postmark-bridge",
            dependencies: ["PostmarkBridge"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "PostmarkBridgeTests",
            dependencies: ["PostmarkBridge"],
            resources: [.copy("Fixtures")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
