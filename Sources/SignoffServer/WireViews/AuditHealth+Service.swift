import SignoffAPI
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffService

// Built here, where the service is: the wire contract (SignoffAPI) knows nothing of the service.
extension AuditHealth {
    /// The ledger's health now: the newest checkpoint checked again against the stored tree, and this process's
    /// newest full verification.
    static func current(_ service: SignoffService) async throws -> AuditHealth {
        let ledger = service.ledger
        let now = service.now
        let size = try await ledger.size()
        var checks: [Check] = []
        var view: CheckpointView?
        // What cannot be read is a failed check to show, never an error: this answer exists for a ledger in trouble.
        let signed: SignedCheckpoint?
        do { signed = try await ledger.latestCheckpoint() } catch {
            signed = nil
            checks.append(Check(check: checkNames[0], passed: false, detail: "the newest checkpoint cannot be read: \(error)"))
        }
        if let signed {
            let cp = signed.checkpoint
            // Its signature, verified again with the ledger's key.
            do {
                _ = try SignedCheckpoint(verifying: signed.serialized, with: ledger.verifierKey)
                checks.append(Check(check: checkNames[0], passed: true, detail: "signed by \(ledger.verifierKey.name) (key ID \(ledger.verifierKey.keyIDHex))"))
            } catch {
                checks.append(Check(check: checkNames[0], passed: false, detail: "\(error)"))
            }
            // Its root, recomputed from the stored tree at its size, which the ledger must reach.
            if cp.size > size {
                checks.append(Check(check: checkNames[1], passed: false, detail: "the checkpoint covers \(cp.size) entries but the ledger has only \(size): entries were removed; run `signoff audit verify --db` and restore the database from a backup"))
            } else {
                do {
                    let root = try await ledger.rootHash(size: cp.size)
                    checks.append(
                        root == cp.rootHash
                            ? Check(check: checkNames[1], passed: true, detail: "the stored tree's root at size \(cp.size) is the checkpoint's")
                            : Check(check: checkNames[1], passed: false, detail: "the stored tree's root at size \(cp.size) is \(root), the checkpoint says \(cp.rootHash)"))
                } catch {
                    checks.append(Check(check: checkNames[1], passed: false, detail: "the stored tree's root at size \(cp.size) cannot be computed: \(error)"))
                }
            }
            // The times of the entries on either side of the checkpoint's edge; an entry that cannot be read is a failure to show, not to throw.
            func time(_ sequence: UInt64) async -> Int64? {
                do { return try await ledger.entry(at: sequence).timeMilliseconds } catch {
                    checks.append(Check(check: "entry-readable", passed: false, detail: "entry \(sequence) cannot be read: \(error)"))
                    return nil
                }
            }
            let newest = cp.size > 0 && cp.size <= size ? await time(cp.size - 1) : nil
            let oldestUncovered = size > cp.size ? await time(cp.size) : nil
            view = CheckpointView(
                size: cp.size, root: cp.rootHash.description, covers_until: newest.map(Timestamps.rfc3339),
                covers_until_age_seconds: newest.map { max(0, (now - $0) / 1000) }, uncovered_entries: size > cp.size ? size - cp.size : 0,
                oldest_uncovered_age_seconds: oldestUncovered.map { max(0, (now - $0) / 1000) } ?? 0, note: signed.serialized)
        } else if checks.isEmpty, size > 0 {
            // `signoff init` signs the first checkpoint: a ledger with entries and none has lost it.
            for name in checkNames { checks.append(Check(check: name, passed: false, detail: "the ledger has \(size) entries and no signed checkpoint")) }
        }
        // Each witness the ledger submits to: a fork alarm is a failed check; being behind or unreachable is said, not failed.
        for witness in service.witnesses.snapshot() {
            let detail: String =
                if let alarm = witness.alarm {
                    "fork alarm: \(alarm)"
                } else if let size = witness.cosignedSize {
                    "cosigned size \(size)\(witness.cosignedAt.map { " at " + Timestamps.rfc3339($0) } ?? "")\(witness.lastError.map { "; the newest attempt failed: " + $0 } ?? "")"
                } else {
                    "nothing cosigned yet\(witness.lastError.map { ": " + $0 } ?? "")"
                }
            checks.append(Check(check: "witness:" + witness.name, passed: witness.alarm == nil, detail: detail))
        }
        let run = await service.latestVerification()
        let verification = run.map {
            VerificationView(
                started_at: Timestamps.rfc3339($0.startedAt), finished_at: Timestamps.rfc3339($0.finishedAt),
                seconds: Double($0.finishedAt - $0.startedAt) / 1000, entries: $0.entries, checkpoints: $0.checkpoints, passed: $0.passed, failure: $0.failure)
        }
        return AuditHealth(
            origin: ledger.origin, ledger_verifier_key: ledger.verifierKey.description, ledger_size: size, checkpoint: view, checks: checks,
            last_verification: verification, verification_running: service.verification.isRunning)
    }
}
