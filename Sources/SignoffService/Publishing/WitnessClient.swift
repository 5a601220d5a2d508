public import SignoffLedger
public import SignoffCrypto
internal import Synchronization

/// Sends an `add-checkpoint` request: the HTTP edge, which the server provides (tests give their own).
public protocol WitnessTransport: Sendable {
    /// POSTs `body` to `url`; the answer's status, `Content-Type` and body (the transport reads at most 64 KiB of it).
    func post(_ url: String, body: String) async throws -> (status: Int, contentType: String?, body: String)
}

/// A witness the ledger submits its checkpoints to: a policy's witness with a URL (its submission prefix).
public struct WitnessEndpoint: Sendable, Equatable {
    public let name: String
    public let key: CosignerKey
    /// The submission prefix; requests go to `<url>/add-checkpoint`.
    public let url: String

    public init(name: String, key: CosignerKey, url: String) {
        self.name = name
        self.key = key
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
    }
}

/// What this process knows of one witness: the newest size it cosigned for us, the last failure, and — sticky until
/// the process restarts — a fork alarm: the witness refused our checkpoint as inconsistent with one it cosigned before.
public struct WitnessStatus: Sendable, Equatable {
    public let name: String
    public let url: String
    /// The newest checkpoint size the witness cosigned for this ledger (as far as this process saw), and when.
    public var cosignedSize: UInt64?
    public var cosignedAt: Int64?
    /// The size the witness last said it holds (its 409's body), which the next request starts from.
    public var witnessSize: UInt64?
    /// Why the newest attempt failed (unreachable, misconfigured); nil after a success.
    public var lastError: String?
    /// A fork alarm: what the witness refused, and why it means the ledger shown to it is not the one it saw.
    public var alarm: String?
}

/// The witnesses' statuses, shared by the submitting task and the readers (`/readyz`, `GET /v1/audit/health`, metrics).
public final class WitnessStatusBoard: Sendable {
    private let statuses = Mutex<[String: WitnessStatus]>([:])

    public init() {}

    /// Every witness's status, by name.
    public func snapshot() -> [WitnessStatus] { statuses.withLock { $0.values.sorted { $0.name < $1.name } } }

    /// Whether any witness raised a fork alarm.
    public var alarms: [WitnessStatus] { snapshot().filter { $0.alarm != nil } }

    /// Lists `endpoints` (before their first submission, with nothing known yet).
    public func register(_ endpoints: [WitnessEndpoint]) {
        statuses.withLock { all in
            for endpoint in endpoints where all[endpoint.name] == nil { all[endpoint.name] = WitnessStatus(name: endpoint.name, url: endpoint.url) }
        }
    }

    func update(_ endpoint: WitnessEndpoint, _ change: (inout WitnessStatus) -> Void) {
        statuses.withLock { all in
            var status = all[endpoint.name] ?? WitnessStatus(name: endpoint.name, url: endpoint.url)
            change(&status)
            all[endpoint.name] = status
        }
    }

    func status(of endpoint: WitnessEndpoint) -> WitnessStatus? { statuses.withLock { $0[endpoint.name] } }
}

/// The client side of C2SP tlog-witness v1: submits the ledger's newest checkpoint to each witness whose cosignature
/// it lacks, with a consistency proof from the size the witness last cosigned, and stores the cosignatures with the
/// checkpoint (``LedgerStore/addCosignatures(_:size:)``). A 409 that names a smaller size is answered again from
/// there; a witness that says it cosigned a larger tree, another root at our size, or an inconsistent proof raises a
/// fork alarm — error log, `/readyz` degraded, a failed check in the ledger's health — and is not retried over it.
public struct WitnessClient: Sendable {
    public let ledger: any LedgerStore
    public let endpoints: [WitnessEndpoint]
    public let transport: any WitnessTransport
    public let board: WitnessStatusBoard

    public init(ledger: any LedgerStore, endpoints: [WitnessEndpoint], transport: any WitnessTransport, board: WitnessStatusBoard) {
        self.ledger = ledger
        self.endpoints = endpoints
        self.transport = transport
        self.board = board
    }

    /// What a submission came to, for the caller's log.
    public enum Outcome: Sendable, Equatable {
        case cosigned(size: UInt64)
        case alreadyCosigned
        case failed(String)
        case alarm(String)
    }

    /// Submits the newest stored checkpoint to every witness at once (those that already cosigned it are skipped), so
    /// that an unreachable witness costs one timeout, not one per witness; the outcomes in the order of `endpoints`.
    /// (Each cosignature is added in a transaction of its own that reads the stored note again: none is lost.)
    public func submitNewest() async throws -> [(WitnessEndpoint, Outcome)] {
        guard let newest = try await ledger.latestCheckpoint() else { return [] }
        let outcomes = await withTaskGroup(of: (Int, Outcome).self) { group in
            for (index, endpoint) in endpoints.enumerated() {
                group.addTask { (index, await submit(newest, to: endpoint)) }
            }
            var outcomes: [Outcome?] = Array(repeating: nil, count: endpoints.count)
            for await (index, outcome) in group { outcomes[index] = outcome }
            return outcomes
        }
        return zip(endpoints, outcomes).map { ($0, $1!) }
    }

    /// Submits `signed` to `endpoint`: at most three requests (the first from the size last known, the others from the
    /// size a 409 names).
    public func submit(_ signed: SignedCheckpoint, to endpoint: WitnessEndpoint) async -> Outcome {
        let checkpoint = signed.checkpoint
        if (try? Cosignature.verifiedTime(of: signed.note, by: endpoint.key)) != nil { return .alreadyCosigned }
        if let alarm = board.status(of: endpoint)?.alarm { return .alarm(alarm) }
        var old = min(board.status(of: endpoint).flatMap { $0.witnessSize ?? $0.cosignedSize } ?? 0, checkpoint.size)
        var sentFrom: Set<UInt64> = []
        for _ in 0..<3 {
            sentFrom.insert(old)
            let answer: (status: Int, contentType: String?, body: String)
            do {
                let proof = old == 0 || old == checkpoint.size ? [] : try await ledger.consistencyProof(from: old, to: checkpoint.size)
                let body = try Witness.AddCheckpoint(oldSize: old, proof: proof, note: signed.note).body
                answer = try await transport.post(endpoint.url + "/add-checkpoint", body: body)
            } catch {
                return fail(endpoint, "\(endpoint.url) cannot be reached: \(error)")
            }
            switch answer.status {
            case 200:
                let lines: [SignedNote.Signature]
                do {
                    let returned = try SignedNote(parsing: signed.note.text + "\n" + answer.body)
                    guard try Cosignature.verifiedTime(of: returned, by: endpoint.key) != nil else {
                        return fail(endpoint, "the witness answered 200 without a cosignature by its key \(endpoint.key.keyIDHex)")
                    }
                    lines = returned.signatures.filter { $0.name == endpoint.key.name && $0.keyID == endpoint.key.keyID }
                } catch {
                    return fail(endpoint, "the witness's cosignature does not verify: \(error)")
                }
                do { _ = try await ledger.addCosignatures(lines, size: checkpoint.size) } catch {
                    return fail(endpoint, "the cosignature could not be stored: \(error)")
                }
                board.update(endpoint) {
                    $0.cosignedSize = checkpoint.size
                    $0.cosignedAt = ledger.now
                    $0.witnessSize = checkpoint.size
                    $0.lastError = nil
                }
                return .cosigned(size: checkpoint.size)
            case 409 where answer.contentType?.lowercased().hasPrefix("text/x.tlog.size") == true:
                let text = answer.body.hasSuffix("\n") ? String(answer.body.dropLast()) : answer.body
                guard let size = UInt64(text), text == String(size) else { return fail(endpoint, "the witness's 409 does not hold a size: \(answer.body.prefix(40))") }
                board.update(endpoint) { $0.witnessSize = size }
                if size > checkpoint.size {
                    return raise(
                        endpoint,
                        "the witness cosigned a tree of \(size) entries; this ledger's newest checkpoint has \(checkpoint.size): entries it saw are gone (a restore from an old backup, or a fork)")
                }
                if sentFrom.contains(size) {
                    // Asked from the size it holds, and still a conflict: it holds another root at that size.
                    return raise(endpoint, "the witness holds another root at size \(size) than this ledger: a split view")
                }
                old = size
            case 422:
                return raise(
                    endpoint,
                    "the witness refused the consistency proof from size \(old) to \(checkpoint.size): this ledger does not extend the tree it cosigned (a fork): \(answer.body.prefix(200))")
            default:
                return fail(endpoint, "the witness answered \(answer.status): \(answer.body.prefix(200))")
            }
        }
        return fail(endpoint, "the witness kept answering 409")
    }

    private func fail(_ endpoint: WitnessEndpoint, _ reason: String) -> Outcome {
        board.update(endpoint) { $0.lastError = reason }
        return .failed(reason)
    }

    private func raise(_ endpoint: WitnessEndpoint, _ reason: String) -> Outcome {
        board.update(endpoint) {
            $0.alarm = reason
            $0.lastError = reason
        }
        return .alarm(reason)
    }
}
