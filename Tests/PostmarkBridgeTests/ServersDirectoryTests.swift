import Foundation
import Synchronization
import Testing

@testable import PostmarkBridge

/// Keeps saved settings in memory, as the PostgreSQL store keeps them in a table.
final class MemorySettingsStore: ServerSettingsStore {
    let saved = Mutex<[MailServerSettings]>([])
    let failing = Mutex(false)

    struct Failure: Error {}

    func saveServers(_ servers: [MailServerSettings]) throws {
        if failing.withLock({ $0 }) { throw Failure() }
        saved.withLock { $0 = servers }
    }

    func loadServers() throws -> [MailServerSettings] {
        if failing.withLock({ $0 }) { throw Failure() }
        return saved.withLock { $0 }
    }
}

@Suite struct ServersFileTests {
    static func parse(_ text: String) throws(ServersFileError) -> [MailServerSettings] {
        try ServersFile.parse(Array(text.utf8), file: "/etc/bridge/servers.json")
    }

    @Test func parsesDesignsFormat() throws {
        let servers = try Self.parse(
            #"""
            [
              {"id": 1, "tokens": ["s3cret-new", "s3cret-old"], "name": "Main", "postmark_server_id": 23},
              {"id": 2, "tokens": [{"token": "s3cret-b", "valid_until": "2030-01-01T00:00:00Z"}, "s3cret-c"],
               "postmark_server_id": "77", "message_stream": "broadcast"}
            ]
            """#
        )
        #expect(servers.count == 2)
        #expect(servers[0].id == 1)
        #expect(servers[0].name == "Main")
        #expect(servers[0].tokens == [WebhookToken(value: "s3cret-new"), WebhookToken(value: "s3cret-old")])
        #expect(servers[0].postmarkServerID == "23")
        #expect(servers[0].messageStream == "outbound")
        #expect(servers[1].tokens[0].validUntil == PostmarkTimestamp.parse("2030-01-01T00:00:00Z"))
        #expect(servers[1].postmarkServerID == "77")
        #expect(servers[1].messageStream == "broadcast")
    }

    @Test func emptyArrayIsNoServers() throws {
        #expect(try Self.parse("[]").isEmpty)
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        var text: String
        var entry: Int?
        var field: String?
        var testDescription: String { text }
    }

    static let bad: [Bad] = [
        Bad(text: "", entry: nil, field: nil),
        Bad(text: #"{"id": 1, "tokens": ["s3cret"]}"#, entry: nil, field: nil),
        Bad(text: #"[1]"#, entry: 0, field: nil),
        Bad(text: #"[{"tokens": ["s3cret"]}]"#, entry: 0, field: "id"),
        Bad(text: #"[{"id": 0, "tokens": ["s3cret"]}]"#, entry: 0, field: "id"),
        Bad(text: #"[{"id": -3, "tokens": ["s3cret"]}]"#, entry: 0, field: "id"),
        Bad(text: #"[{"id": "1", "tokens": ["s3cret"]}]"#, entry: 0, field: "id"),
        Bad(text: #"[{"id": 1.5, "tokens": ["s3cret"]}]"#, entry: 0, field: "id"),
        Bad(text: #"[{"id": 1, "tokens": ["s3cret"]}, {"id": 2}]"#, entry: 1, field: "tokens"),
        Bad(text: #"[{"id": 1, "tokens": []}]"#, entry: 0, field: "tokens"),
        Bad(text: #"[{"id": 1, "tokens": "s3cret"}]"#, entry: 0, field: "tokens"),
        Bad(text: #"[{"id": 1, "tokens": ["s3cret", ""]}]"#, entry: 0, field: "tokens[1]"),
        Bad(text: #"[{"id": 1, "tokens": ["s3cret", 5]}]"#, entry: 0, field: "tokens[1]"),
        Bad(
            text: #"[{"id": 1, "tokens": [{"token": "s3cret", "valid_until": "soon"}]}]"#, entry: 0,
            field: "tokens[0]"),
        Bad(text: #"[{"id": 1, "tokens": [{"token": "s3cret", "valid_until": 5}]}]"#, entry: 0, field: "tokens[0]"),
        Bad(text: #"[{"id": 1, "tokens": [{"value": "s3cret"}]}]"#, entry: 0, field: "tokens[0]"),
        Bad(text: #"[{"id": 1, "tokens": [{"token": "s3cret", "extra": 1}]}]"#, entry: 0, field: "tokens[0]"),
        Bad(text: #"[{"id": 1, "token": ["s3cret"]}]"#, entry: 0, field: "token"),
        Bad(text: #"[{"id": 1, "tokens": ["s3cret"], "name": 3}]"#, entry: 0, field: "name"),
        Bad(
            text: #"[{"id": 1, "tokens": ["s3cret"], "postmark_server_id": true}]"#, entry: 0,
            field: "postmark_server_id"),
        Bad(text: #"[{"id": 1, "tokens": ["s3cret"]}, {"id": 1, "tokens": ["s3cret-2"]}]"#, entry: 1, field: "id"),
    ]

    @Test("names the entry and field at fault, never the token", arguments: bad)
    func refuses(bad: Bad) {
        do {
            _ = try Self.parse(bad.text)
            Issue.record("accepted an invalid file")
        } catch {
            #expect(error.file == "/etc/bridge/servers.json")
            #expect(error.entry == bad.entry)
            #expect(error.field == bad.field)
            #expect(error.description.hasPrefix("servers file /etc/bridge/servers.json"))
            #expect(!error.description.contains("s3cret"))
        }
    }

    @Test func loadsAFileAndReportsAMissingOne() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("servers-\(UUID().uuidString).json")
        try Data(#"[{"id": 4, "tokens": ["t"]}]"#.utf8).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }

        #expect(try ServersFile.load(path: path.path).map(\.id) == [4])
        #expect(throws: ServersFileError(file: "/nonexistent/servers.json", problem: "does not exist")) {
            try ServersFile.load(path: "/nonexistent/servers.json")
        }
    }
}

@Suite struct ServersDirectoryTests {
    static func server(_ id: Int, _ token: String, name: String = "") -> MailServerSettings {
        MailServerSettings(id: id, name: name, tokens: [WebhookToken(value: token)])
    }

    @Test func fileEntriesWinOverSyncedOnes() throws {
        let directory = ServerDirectory(fileServers: [Self.server(1, "file-token", name: "file")])
        try directory.replace(with: [Self.server(1, "synced-token", name: "synced"), Self.server(2, "other")])

        #expect(directory.settings(for: 1)?.name == "file")
        #expect(directory.settings(for: 2)?.tokens.first?.value == "other")
        #expect(directory.settings(for: 3) == nil)
        #expect(directory.servers.map(\.id) == [1, 2])
        #expect(directory.servers.first?.name == "file")
        #expect(directory.fileServerIDs == [1])
    }

    @Test func replaceDropsServersNoLongerSynced() throws {
        let directory = ServerDirectory()
        try directory.replace(with: [Self.server(1, "a"), Self.server(2, "b")])
        try directory.replace(with: [Self.server(2, "c")])
        #expect(directory.settings(for: 1) == nil)
        #expect(directory.settings(for: 2)?.tokens.first?.value == "c")
    }

    @Test func syncedSettingsSurviveARestartThroughTheStore() throws {
        let store = MemorySettingsStore()
        try ServerDirectory(store: store).replace(with: [Self.server(7, "t7")])

        let restarted = ServerDirectory(store: store)
        #expect(restarted.settings(for: 7) == nil)
        #expect(try restarted.loadFromStore() == 1)
        #expect(restarted.settings(for: 7)?.tokens == [WebhookToken(value: "t7")])
    }

    @Test func replaceUpdatesMemoryEvenWhenPersistingFails() {
        let store = MemorySettingsStore()
        store.failing.withLock { $0 = true }
        let directory = ServerDirectory(store: store)
        #expect(throws: MemorySettingsStore.Failure.self) { try directory.replace(with: [Self.server(3, "t")]) }
        #expect(directory.settings(for: 3) != nil)
        #expect(throws: MemorySettingsStore.Failure.self) { try directory.loadFromStore() }
        #expect(directory.settings(for: 3) != nil)
    }

    @Test func settingsRoundTripThroughCodable() throws {
        let original = MailServerSettings(
            id: 5,
            name: "n",
            tokens: [WebhookToken(value: "a"), WebhookToken(value: "b", validUntil: Date(timeIntervalSince1970: 9))],
            postmarkServerID: "23"
        )
        let decoded = try JSONDecoder().decode(MailServerSettings.self, from: JSONEncoder().encode(original))
        #expect(decoded == original)
    }

    @Test func unrecognisedSignalIsRateLimited() {
        let clock = Mutex(Date(timeIntervalSince1970: 1_000))
        let calls = Mutex(0)
        let directory = ServerDirectory(
            unrecognisedSignalInterval: 30,
            clock: { clock.withLock { $0 } },
            onUnrecognised: { calls.withLock { $0 += 1 } }
        )
        func advance(_ seconds: TimeInterval) { clock.withLock { $0 = $0.addingTimeInterval(seconds) } }

        #expect(directory.noteUnrecognised())
        #expect(!directory.noteUnrecognised())
        advance(29)
        #expect(!directory.noteUnrecognised())
        advance(1)
        #expect(directory.noteUnrecognised())
        advance(-3_600)
        #expect(directory.noteUnrecognised())
        #expect(calls.withLock { $0 } == 3)
    }

    @Test func unrecognisedSignalWithoutHandlerDoesNothing() {
        let calls = Mutex(0)
        let directory = ServerDirectory()
        #expect(!directory.noteUnrecognised())
        directory.setUnrecognisedHandler { calls.withLock { $0 += 1 } }
        #expect(directory.noteUnrecognised())
        #expect(calls.withLock { $0 } == 1)
    }

    @Test func handlerMayReadTheDirectory() throws {
        let seen = Mutex<Int?>(nil)
        let directory = ServerDirectory()
        try directory.replace(with: [Self.server(1, "t")])
        directory.setUnrecognisedHandler { [directory] in seen.withLock { $0 = directory.servers.count } }
        directory.noteUnrecognised()
        #expect(seen.withLock { $0 } == 1)
    }

    @Test func concurrentReadersSeeWholeReplacements() async throws {
        let directory = ServerDirectory()
        try directory.replace(with: [Self.server(1, "a0"), Self.server(2, "b0")])
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for round in 1...500 {
                    try? directory.replace(with: [Self.server(1, "a\(round)"), Self.server(2, "b\(round)")])
                }
                return true
            }
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<500 {
                        let servers = directory.servers
                        guard servers.count == 2,
                            servers[0].tokens[0].value.dropFirst() == servers[1].tokens[0].value.dropFirst()
                        else { return false }
                    }
                    return true
                }
            }
            for await consistent in group { #expect(consistent) }
        }
    }
}
