import Foundation
import SignoffCore
public import SignoffCrypto
public import SignoffLedger
public import SignoffService

/// The suite every storage backend runs, as each FluentKit driver runs one shared suite: appends and reads, proofs,
/// checkpoints, tamper detection, the unit of work's atomicity under an injected failure, the replay constraint,
/// ordering and times. A backend's test target makes ``Backend``s (a fresh, empty storage each, on a clock the suite
/// drives) and runs every ``Check``; SQLite does today (`Tests/SignoffStoreTests/ConformanceTests.swift`), PostgreSQL
/// will. Each check throws ``ConformanceFailure`` naming what the backend got wrong.
public struct StorageConformance: Sendable {
    /// The checkpoint policy a backend under test is made with (milestones every 16 entries, so that small ledgers
    /// have some).
    public static let policy = CheckpointPolicy(everyEntries: 1000, everySeconds: 3600, milestoneEvery: 16)

    /// One storage under test: empty, with its ledger key, made with ``StorageConformance/policy``, on `clock`.
    public struct Backend: Sendable {
        public let storage: SignoffStorage
        /// The clock the storage reads (milliseconds since the epoch); the suite moves it.
        public let clock: TestClock
        /// Changes the stored data behind the storage's back, as someone with access to the database would.
        public let tamper: @Sendable (Tamper) async throws -> Void
        /// Removes what the backend made (a file, a database).
        public let remove: @Sendable () async -> Void

        public init(storage: SignoffStorage, clock: TestClock, tamper: @escaping @Sendable (Tamper) async throws -> Void, remove: @escaping @Sendable () async -> Void) {
            self.storage = storage
            self.clock = clock
            self.tamper = tamper
            self.remove = remove
        }
    }

    /// What a tamper changes; each must be detected by ``LedgerStore/verifyAll(trustedKey:allowUncoveredTail:progress:)``.
    public enum Tamper: Sendable, CaseIterable {
        /// An entry's stored bytes changed (one payload byte).
        case entryBytes(sequence: UInt64)
        /// An entry row deleted.
        case entryDeleted(sequence: UInt64)
        /// The newest checkpoint deleted.
        case newestCheckpointDeleted

        public static var allCases: [Tamper] { [.entryBytes(sequence: 3), .entryDeleted(sequence: 5), .newestCheckpointDeleted] }
    }

    public enum Check: String, Sendable, CaseIterable {
        case appendAndRead, groupCommit, proofs, checkpoints, tamperDetection, unitOfWorkAtomicity, replayConstraint, orderingAndTimes, identityState, directoryResources, chatHandles
    }

    public let make: @Sendable () async throws -> Backend

    public init(make: @escaping @Sendable () async throws -> Backend) { self.make = make }

    /// Runs one check on a fresh backend, which it removes after.
    public func run(_ check: Check) async throws {
        let backend = try await make()
        do {
            try await run(check, on: backend)
        } catch {
            await backend.remove()
            throw error
        }
        await backend.remove()
    }

    private func run(_ check: Check, on backend: Backend) async throws {
        try expect(backend.storage.checkpointPolicy == Self.policy, "make the backend with StorageConformance.policy")
        switch check {
        case .appendAndRead: try await appendAndRead(backend)
        case .groupCommit: try await groupCommit(backend)
        case .proofs: try await proofs(backend)
        case .checkpoints: try await checkpoints(backend)
        case .tamperDetection: try await tamperDetection()
        case .unitOfWorkAtomicity: try await unitOfWorkAtomicity(backend)
        case .replayConstraint: try await replayConstraint(backend)
        case .orderingAndTimes: try await orderingAndTimes(backend)
        case .identityState: try await identityState(backend)
        case .directoryResources: try await directoryResources(backend)
        case .chatHandles: try await chatHandles(backend)
        }
    }

    // MARK: Checks

    /// People's chat handles: set, replaced, one kept while the other is forgotten, forgotten when empty.
    func chatHandles(_ backend: Backend) async throws {
        let coordination = backend.storage.coordination
        try expect(try await coordination.chatHandles().isEmpty, "no handles at first")
        try await coordination.setChatHandles(ChatHandles(slack: "U024BE7LH", teams: "kim@example.com"), of: "kim", by: "kim", at: 1)
        try await coordination.setChatHandles(ChatHandles(slack: "W0123ABCD"), of: "lee", by: "ada", at: 2)
        try expect(try await coordination.chatHandles() == ["kim": ChatHandles(slack: "U024BE7LH", teams: "kim@example.com"), "lee": ChatHandles(slack: "W0123ABCD")], "both kept")
        try await coordination.setChatHandles(ChatHandles(teams: "kim@example.com"), of: "kim", by: "ada", at: 3)
        try expect(try await coordination.chatHandles()["kim"] == ChatHandles(teams: "kim@example.com"), "replaced: Slack forgotten, Teams kept")
        try await coordination.setChatHandles(ChatHandles(), of: "lee", by: "lee", at: 4)
        try expect(try await coordination.chatHandles()["lee"] == nil, "empty handles are forgotten")
    }

    static func draft(_ n: Int) -> EntryDraft {
        EntryDraft(kind: "conformance.event", actor: "actor\(n % 5)", payload: Array("{\"n\":\(n)}".utf8))
    }

    @discardableResult
    static func fill(_ backend: Backend, _ count: Int, batch: Int = 7) async throws -> [LedgerEntry] {
        var entries: [LedgerEntry] = []
        var n = 0
        while n < count {
            let k = min(batch, count - n)
            entries += try await backend.storage.ledger.append((n..<n + k).map(draft))
            n += k
        }
        return entries
    }

    func appendAndRead(_ backend: Backend) async throws {
        let ledger = backend.storage.ledger
        try expect(try await ledger.size() == 0, "a new ledger is empty")
        let appended = try await Self.fill(backend, 40)
        try expect(appended.map(\.sequence) == Array(0..<40), "appends are numbered from 0 without gaps: \(appended.map(\.sequence))")
        try expect(try await ledger.size() == 40, "size after 40 appends")
        for entry in appended {
            let read = try await ledger.entry(at: entry.sequence)
            try expect(read == entry, "entry \(entry.sequence) reads back as appended")
        }
        let page = try await ledger.entries(from: 10, limit: 5)
        try expect(page == Array(appended[10..<15]), "a page of entries from 10, limit 5")
        try expect(try await ledger.entries(from: 38, limit: 10).count == 2, "a page at the end is short")
        var refused = false
        do { _ = try await ledger.entry(at: 40) } catch { refused = true }
        try expect(refused, "reading past the end is refused")
    }

    /// ``LedgerWriter`` over the backend (on its writer thread where it has one, ``SynchronousLedgerAppends``): concurrent
    /// appends numbered without gaps in fewer transactions than appends, each caller handed its own entry, a bad draft
    /// failing alone, the chain whole.
    func groupCommit(_ backend: Backend) async throws {
        let writer = LedgerWriter(store: backend.storage.ledger)
        let appended = try await withThrowingTaskGroup(of: (Int, Result<LedgerEntry, any Error>).self) { group in
            for n in 0..<300 {
                // Every 50th draft is refused by the ledger (an empty kind): it fails alone, whatever round it lands in.
                let draft = n % 50 == 49 ? EntryDraft(kind: "", actor: "actor", payload: []) : Self.draft(n)
                group.addTask {
                    do { return (n, .success(try await writer.append(draft))) } catch { return (n, .failure(error)) }
                }
            }
            return try await group.reduce(into: [Int: Result<LedgerEntry, any Error>]()) { $0[$1.0] = $1.1 }
        }
        let refused = appended.filter { if case .failure = $0.value { true } else { false } }.keys.sorted()
        try expect(refused == Array(stride(from: 49, to: 300, by: 50)), "exactly the bad drafts are refused: \(refused)")
        var sequences: [UInt64] = []
        for (n, result) in appended {
            guard case .success(let entry) = result else { continue }
            try expect(entry.payload == Self.draft(n).payload && entry.actor == Self.draft(n).actor, "caller \(n) got another caller's entry")
            sequences.append(entry.sequence)
        }
        try expect(sequences.sorted() == Array(0..<294), "294 appends numbered 0…293 without gaps or repeats")
        try expect(writer.transactions < 300, "concurrent appends share transactions (\(writer.transactions) for 300)")
        try expect(try await backend.storage.ledger.size() == 294, "the refused drafts left nothing")
        let read = try await backend.storage.ledger.entries(from: 0, limit: 300)
        for entry in read { try expect(appended.values.contains { (try? $0.get()) == entry }, "entry \(entry.sequence) reads back as appended") }
        _ = try await LogPublisher(ledger: backend.storage.ledger, signer: backend.storage.signer, policy: Self.policy).publish(force: true)
        let report = try await backend.storage.ledger.verifyAll(trustedKey: backend.storage.ledger.verifierKey, allowUncoveredTail: false, progress: nil)
        try expect(report.isValid && report.entries == 294, "the chain verifies: \(report.failure?.message ?? "") (\(report.entries) entries)")
    }

    func proofs(_ backend: Backend) async throws {
        let ledger = backend.storage.ledger
        let appended = try await Self.fill(backend, 77, batch: 11)
        let leaves = appended.map(\.leafHash)
        for size in [1, 2, 3, 16, 17, 64, 77] as [UInt64] {
            let root = try await ledger.rootHash(size: size)
            try expect(root == Merkle.rootHash(leaves: Array(leaves[0..<Int(size)])), "the root of the first \(size) entries is RFC 6962's")
            for index in [0, size / 2, size - 1] {
                let proof = try await ledger.inclusionProof(index: index, size: size)
                try MerkleVerifier.verifyInclusion(
                    leafHash: leaves[Int(index)].bytes, index: index, size: size, proof: proof.map(\.bytes), root: root.bytes)
            }
        }
        // Complete subtrees, as tlog-tiles serves them: level 0 is the leaves; level L index I covers I·2^L ..< (I+1)·2^L.
        try expect(try await ledger.subtreeHashes(level: 0, from: 10, count: 5) == Array(leaves[10..<15]), "level-0 subtrees are the leaf hashes")
        for (level, index, count) in [(1, 0, 38), (3, 2, 5), (4, 0, 4), (6, 0, 1)] as [(Int, UInt64, Int)] {
            let hashes = try await ledger.subtreeHashes(level: level, from: index, count: count)
            let expected = (0..<count).map { i in
                let first = (Int(index) + i) << level
                return Merkle.rootHash(leaves: Array(leaves[first..<(first + (1 << level))]))
            }
            try expect(hashes == expected, "the \(count) subtrees of level \(level) from \(index) are RFC 6962's")
        }
        for (old, new) in [(1, 77), (16, 17), (33, 64), (64, 77)] as [(UInt64, UInt64)] {
            let proof = try await ledger.consistencyProof(from: old, to: new)
            try MerkleVerifier.verifyConsistency(
                oldSize: old, newSize: new, proof: proof.map(\.bytes), oldRoot: try await ledger.rootHash(size: old).bytes,
                newRoot: try await ledger.rootHash(size: new).bytes)
        }
    }

    func checkpoints(_ backend: Backend) async throws {
        let storage = backend.storage
        guard let signer = storage.signer else { throw ConformanceFailure("the conformance backend must come with its ledger key") }
        let publisher = LogPublisher(ledger: storage.ledger, signer: signer, policy: Self.policy)
        try await Self.fill(backend, 40)
        let first = try await publisher.publish()
        try expect(first?.checkpoint.size == 40, "a checkpoint of all 40 entries")
        try expect(try await storage.ledger.checkpointSizes() == [16, 32, 40], "the newest and the milestones 16 and 32 are kept")
        try await Self.fill(backend, 10)
        // An older checkpoint arriving after a newer one (another publisher) is dropped; a non-milestone is replaced.
        let stale = try signer.sign(try Checkpoint(origin: storage.ledger.origin, size: 39, rootHash: try await storage.ledger.rootHash(size: 39)))
        try await storage.ledger.storeCheckpoints([stale], milestoneEvery: 16)
        try expect(try await storage.ledger.checkpointSizes() == [16, 32, 40], "a checkpoint older than the newest is not stored")
        try await publisher.publish()
        try expect(try await storage.ledger.checkpointSizes() == [16, 32, 48, 50], "the new newest, and the milestone it passed; 40 is gone")
        // A checkpoint that is not the stored tree's is refused.
        let forged = try signer.sign(try Checkpoint(origin: storage.ledger.origin, size: 50, rootHash: SHA256Digest.hash("not the root")))
        var refused = false
        do { try await storage.ledger.storeCheckpoints([forged], milestoneEvery: 16) } catch { refused = true }
        try expect(refused, "a checkpoint whose root is not the stored tree's is refused")
        // Witnesses' cosignatures kept with the newest checkpoint: its text and the ledger's signature unchanged, a line
        // already there kept once, a size no longer stored refused.
        let witness = Ed25519.SigningKey()
        guard let newest = try await storage.ledger.latestCheckpoint() else { throw ConformanceFailure("no checkpoint stored") }
        let line = try Cosignature.sign(checkpointText: newest.note.text, time: 1_780_000_000, name: "witness.test/w1", key: witness)
        try expect(try await storage.ledger.addCosignatures([line], size: 50), "cosignatures added to the checkpoint of size 50")
        try expect(try await storage.ledger.addCosignatures([line], size: 50), "the same line again")
        guard let cosigned = try await storage.ledger.latestCheckpoint() else { throw ConformanceFailure("the checkpoint is gone") }
        let cosigner = try CosignerKey(name: "witness.test/w1", publicKey: witness.publicKey)
        try expect(
            cosigned.note.text == newest.note.text && cosigned.note.signatures.count == newest.note.signatures.count + 1
                && (try Cosignature.verifiedTime(of: cosigned.note, by: cosigner)) == 1_780_000_000
                && cosigned.note.verifiedSignatures(by: [storage.ledger.verifierKey]) == [storage.ledger.verifierKey],
            "the checkpoint carries the ledger's signature and one cosignature")
        try expect(!(try await storage.ledger.addCosignatures([line], size: 40)), "no checkpoint of size 40 is stored any more")
        let report = try await storage.ledger.verifyAll(trustedKey: storage.ledger.verifierKey, allowUncoveredTail: false, progress: nil)
        try expect(report.failure == nil && report.entries == 50, "the ledger verifies: \(report.failure?.message ?? "")")
    }

    func tamperDetection() async throws {
        for tamper in Tamper.allCases {
            let backend = try await make()
            do {
                try await tamperDetection(backend, tamper)
            } catch {
                await backend.remove()
                throw error
            }
            await backend.remove()
        }
    }

    private func tamperDetection(_ backend: Backend, _ tamper: Tamper) async throws {
        try await Self.fill(backend, 20)
        let service = SignoffService(storage: backend.storage)
        try await service.signCheckpoint()
        let key = backend.storage.ledger.verifierKey
        let before = try await backend.storage.ledger.verifyAll(trustedKey: key, allowUncoveredTail: false, progress: nil)
        try expect(before.failure == nil, "the untouched ledger verifies")
        try await backend.tamper(tamper)
        let after = try await backend.storage.ledger.verifyAll(trustedKey: key, allowUncoveredTail: false, progress: nil)
        try expect(after.failure != nil, "\(tamper) is detected")
    }

    struct Injected: Error {}

    func unitOfWorkAtomicity(_ backend: Backend) async throws {
        let storage = backend.storage
        try await Self.fill(backend, 3)
        let token = TokenRecord(id: "tok_conformance", principal: "someone", kind: .service, scopes: ["read"], expiresAt: backend.clock.value + 3_600_000)
        let message = OutboxMessage(id: "msg_conformance", subscription: "WH-1", type: "request.filed", notification: Array("{}".utf8), createdAt: backend.clock.value)
        let statement = SHA256Digest.hash("conformance statement")
        let document = EvidenceDocument(
            project: "p", digest: SHA256Digest.hash("doc"), mediaType: "text/plain", content: Array("doc".utf8), uploadedBy: "someone", uploadedAt: backend.clock.value)
        var failed = false
        do {
            try await storage.unitOfWork.write { tx in
                _ = try tx.append([Self.draft(100), Self.draft(101)])
                try tx.writeDocuments(["meta/conformance": "{}"])
                try tx.recordStatements([statement], until: tx.now + 60_000)
                try tx.enqueue([message])
                try tx.insertToken(token, tokenHash: SHA256Digest.hash("token"))
                _ = try tx.putEvidence(document)
                throw Injected()
            }
        } catch is Injected { failed = true }
        try expect(failed, "the injected failure reaches the caller")
        try expect(try await storage.ledger.size() == 3, "no entry of the failed unit")
        try expect(try await storage.auth.token(id: token.id) == nil, "no token of the failed unit")
        try expect(try await storage.webhooks.delivery(message.id) == nil, "no message of the failed unit")
        try expect(try await storage.evidence.get(document.digest, project: "p") == nil, "no evidence document of the failed unit")
        let used = try await storage.unitOfWork.write { tx in try tx.usedStatements(among: [statement]) }
        try expect(used.isEmpty, "no used statement of the failed unit")
        try expect(try await storage.projection.read(requests: .none, directoryUnlessVersion: nil).directory?["meta/conformance"] == nil, "no document")
        // The same unit without the failure: all of it.
        try await storage.unitOfWork.write { tx in
            _ = try tx.append([Self.draft(100), Self.draft(101)])
            try tx.recordStatements([statement], until: tx.now + 60_000)
            try tx.enqueue([message])
            try tx.insertToken(token, tokenHash: SHA256Digest.hash("token"))
            _ = try tx.putEvidence(document)
        }
        try expect(try await storage.ledger.size() == 5, "the unit's entries")
        try expect(try await storage.auth.token(id: token.id) != nil, "its token")
        try expect(try await storage.webhooks.delivery(message.id) != nil, "its message")
        try expect(try await storage.evidence.get(document.digest, project: "p")?.content == document.content, "its document")
    }

    /// Single sign-on logins under way (single use, until they expire) and issuers' key sets (the newest fetch kept):
    /// what every instance on the database shares.
    func identityState(_ backend: Backend) async throws {
        let store = backend.storage.coordination
        let now = backend.clock.value
        let state = SHA256Digest.hash("state-1")
        try await store.insertLogin(stateHash: state, issuer: "corp", expiresAt: now + 600_000, forgetBefore: now - 3_600_000)
        try expect(try await store.consumeLogin(stateHash: SHA256Digest.hash("state-2"), now: now) == nil, "an unknown state is refused")
        try expect(try await store.consumeLogin(stateHash: state, now: now) == "corp", "a login's state names its issuer once")
        try expect(try await store.consumeLogin(stateHash: state, now: now) == nil, "and never twice")
        let late = SHA256Digest.hash("state-3")
        try await store.insertLogin(stateHash: late, issuer: "corp", expiresAt: now + 600_000, forgetBefore: now - 3_600_000)
        try expect(try await store.consumeLogin(stateHash: late, now: now + 600_001) == nil, "nor after it expires")
        try expect(try await store.cachedKeySet(issuer: "https://idp.example") == nil, "no key set before a fetch")
        try await store.storeKeySet(issuer: "https://idp.example", jwks: #"{"keys":[1]}"#, fetchedAt: now)
        try await store.storeKeySet(issuer: "https://idp.example", jwks: #"{"keys":[0]}"#, fetchedAt: now - 1)
        let kept = try await store.cachedKeySet(issuer: "https://idp.example")
        try expect(kept?.jwks == #"{"keys":[1]}"# && kept?.fetchedAt == now, "the newest fetch is kept, not an older one written after it")
    }

    /// A connected directory's SCIM resources commit with the entries of their change, or not at all; read back by id and
    /// listed in id order, per directory and kind; deleted.
    func directoryResources(_ backend: Backend) async throws {
        let storage = backend.storage
        let now = backend.clock.value
        @Sendable func resource(_ id: String, _ attributes: String, version: Int64 = 1) -> DirectoryResource {
            DirectoryResource(directory: "corp", kind: .user, id: id, attributes: attributes, createdAt: now, modifiedAt: now, version: version)
        }
        struct Injected: Error {}
        do {
            try await storage.unitOfWork.write { tx in
                _ = try tx.append([Self.draft(0)])
                try tx.writeDirectoryResource(.put(resource("kim", #"{"displayName":"Kim"}"#)))
                throw Injected()
            }
        } catch is Injected {}
        try expect(try await storage.coordination.directoryResource(directory: "corp", kind: .user, id: "kim") == nil, "a rolled-back unit keeps no resource")
        try expect(try await storage.ledger.size() == 0, "nor its entry")
        try await storage.unitOfWork.write { tx in
            _ = try tx.append([Self.draft(0)])
            try tx.writeDirectoryResource(.put(resource("kim", #"{"displayName":"Kim"}"#)))
            try tx.writeDirectoryResource(.put(resource("jo", "{}")))
            try expect(try tx.directoryResource(directory: "corp", kind: .user, id: "kim")?.attributes == #"{"displayName":"Kim"}"#, "read inside the unit")
        }
        try await storage.unitOfWork.write { tx in try tx.writeDirectoryResource(.put(resource("kim", #"{"displayName":"Kim Lee"}"#, version: 2))) }
        let kim = try await storage.coordination.directoryResource(directory: "corp", kind: .user, id: "kim")
        try expect(kim?.attributes == #"{"displayName":"Kim Lee"}"# && kim?.version == 2, "a put replaces the attributes and version: \(String(describing: kim))")
        try expect(try await storage.coordination.directoryResources(directory: "corp", kind: .user).map(\.id) == ["jo", "kim"], "listed by id")
        try expect(try await storage.coordination.directoryResources(directory: "other", kind: .user).isEmpty, "per directory")
        try expect(try await storage.coordination.directoryResources(directory: "corp", kind: .group).isEmpty, "per kind")
        try await storage.unitOfWork.write { tx in try tx.writeDirectoryResource(.delete(directory: "corp", kind: .user, id: "jo")) }
        try expect(try await storage.coordination.directoryResources(directory: "corp", kind: .user).map(\.id) == ["kim"], "deleted")
    }

    func replayConstraint(_ backend: Backend) async throws {
        let storage = backend.storage
        let statement = SHA256Digest.hash("used once")
        try await storage.unitOfWork.write { tx in
            _ = try tx.append([Self.draft(0)])
            try tx.recordStatements([statement], until: tx.now + DecisionStatement.replayWindowMilliseconds)
        }
        var refused = false
        do {
            try await storage.unitOfWork.write { tx in
                _ = try tx.append([Self.draft(1)])
                try tx.recordStatements([statement], until: tx.now + DecisionStatement.replayWindowMilliseconds)
            }
        } catch { refused = true }
        try expect(refused, "a statement recorded twice fails the second unit")
        try expect(try await storage.ledger.size() == 1, "and nothing of it is kept")
        try expect(try await storage.unitOfWork.write { tx in try tx.usedStatements(among: [statement]) } == [statement], "the statement reads as used")
        // Past its window it is forgotten at the next recording.
        backend.clock.advance(milliseconds: DecisionStatement.replayWindowMilliseconds + 1)
        try await storage.unitOfWork.write { tx in
            _ = try tx.append([Self.draft(2)])
            try tx.recordStatements([SHA256Digest.hash("another")], until: tx.now + DecisionStatement.replayWindowMilliseconds)
        }
        try expect(try await storage.unitOfWork.write { tx in try tx.usedStatements(among: [statement]) }.isEmpty, "forgotten after its window")
    }

    func orderingAndTimes(_ backend: Backend) async throws {
        let storage = backend.storage
        // Units one after another, then the clock goes back an hour, then concurrent units: every entry numbered once,
        // in commit order, and no time earlier than the newest entry's.
        for n in 0..<6 { _ = try await storage.unitOfWork.write { tx in try tx.append([Self.draft(n), Self.draft(n + 100)]) } }
        let before = try await storage.ledger.entry(at: 11).timeMilliseconds
        backend.clock.advance(milliseconds: -3_600_000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 6..<24 {
                group.addTask { _ = try await storage.unitOfWork.write { tx in try tx.append([Self.draft(n), Self.draft(n + 100)]) } }
            }
            try await group.waitForAll()
        }
        let entries = try await storage.ledger.entries(from: 0, limit: 100)
        try expect(entries.map(\.sequence) == Array(0..<48), "48 entries numbered 0…47")
        let times = entries.map(\.timeMilliseconds)
        try expect(times == times.sorted(), "entry times never decrease: \(times)")
        try expect(times[12...].allSatisfy { $0 == before }, "after the clock went back, entries keep the newest entry's time")
        let nows = try await storage.unitOfWork.write { tx in tx.now }
        try expect(nows >= times.last!, "a unit's time is never before the newest entry's")
    }

    func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw ConformanceFailure(message()) }
    }
}

/// What a backend got wrong.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A clock a test moves by hand (milliseconds since the epoch).
public final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var milliseconds: Int64

    public init(_ start: Int64 = 1_790_000_000_000) { milliseconds = start }

    public var value: Int64 { lock.withLock { milliseconds } }
    public func advance(milliseconds delta: Int64) { lock.withLock { milliseconds += delta } }
}
