public import SignoffCrypto
internal import Foundation

/// The witness side of C2SP `tlog-witness` v1, without I/O: an `add-checkpoint` body read, and the checks the spec
/// asks of a witness, in its order, against the latest checkpoint the witness cosigned for the log. Storage (which
/// must compare and set the size atomically) and HTTP are the caller's.
public enum Witness {
    /// The most consistency proof lines a client may send.
    public static let maximumProofLines = 63
    /// The most bytes of an `add-checkpoint` body a witness reads.
    public static let maximumBodyBytes = 64 * 1024

    /// A parsed `add-checkpoint` body: `old N`, the consistency proof's hashes in base64, a blank line, and the signed
    /// checkpoint note.
    public struct AddCheckpoint: Hashable, Sendable {
        public let oldSize: UInt64
        public let proof: [SHA256Digest]
        public let note: SignedNote
        public let checkpoint: Checkpoint

        public init(oldSize: UInt64, proof: [SHA256Digest], note: SignedNote) throws(LedgerError) {
            self.oldSize = oldSize
            self.proof = proof
            self.note = note
            checkpoint = try Checkpoint(parsing: note.text)
            // Sizes are stored and compared as signed 64-bit integers (SQLite's, PostgreSQL's): larger ones are refused.
            guard oldSize <= UInt64(Int64.max), checkpoint.size <= UInt64(Int64.max) else {
                throw LedgerError(.invalidRequest, "a tree size must be below 2^63")
            }
        }

        /// The request body as a client sends it.
        public var body: String {
            "old \(oldSize)\n" + proof.map { Base64.encode($0.bytes) + "\n" }.joined() + "\n" + note.serialized
        }

        /// Reads a body; anything malformed is a `LedgerError` (a witness answers 400).
        public init(parsing body: String) throws(LedgerError) {
            guard body.utf8.count <= Witness.maximumBodyBytes else { throw LedgerError(.invalidRequest, "the body is larger than 64 KiB") }
            guard let blank = body.range(of: "\n\n") else {
                throw LedgerError(.invalidRequest, "the body is the old size line, the proof lines, a blank line, then the checkpoint")
            }
            let head = body[..<blank.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
            guard let first = head.first, first.hasPrefix("old ") else { throw LedgerError(.invalidRequest, "the body starts with \"old SIZE\"") }
            let sizeText = first.dropFirst(4)
            guard !sizeText.isEmpty, sizeText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), sizeText == "0" || !sizeText.hasPrefix("0"),
                let oldSize = UInt64(sizeText)
            else { throw LedgerError(.invalidRequest, "the old size \"\(sizeText.prefix(40))\" is not a decimal number without leading zeroes") }
            let lines = head.dropFirst()
            guard lines.count <= Witness.maximumProofLines else {
                throw LedgerError(.invalidRequest, "more than \(Witness.maximumProofLines) consistency proof lines")
            }
            var proof: [SHA256Digest] = []
            for line in lines {
                guard let bytes = Base64.decodeStandard(line), bytes.count == SHA256Digest.byteCount else {
                    throw LedgerError(.invalidRequest, "a consistency proof line is not base64 of a 32-byte hash")
                }
                proof.append(try! SHA256Digest(bytes: bytes))
            }
            try self.init(oldSize: oldSize, proof: proof, note: try SignedNote(parsing: String(body[blank.upperBound...])))
        }
    }

    /// The latest checkpoint a witness cosigned for a log.
    public struct Latest: Hashable, Sendable {
        public let size: UInt64
        public let rootHash: SHA256Digest

        public init(size: UInt64, rootHash: SHA256Digest) {
            self.size = size
            self.rootHash = rootHash
        }
    }

    /// Why a witness does not cosign, with the HTTP status the spec gives it.
    public enum Refusal: Error, Hashable, Sendable, CustomStringConvertible {
        /// 404: no trusted key for the checkpoint's origin.
        case unknownLog(String)
        /// 403: none of the note's signatures verifies against a key the witness trusts for the origin.
        case notSigned(String)
        /// 400: the body is malformed, or the old size exceeds the checkpoint's, or a proof from size 0 is not empty.
        case badRequest(String)
        /// 409: the old size is not the latest cosigned size (`latest` is it): a client that asks from another size
        /// (a stale one, or 0 to learn the witness's) resends from `latest`.
        case conflict(latest: UInt64, String)
        /// 409 too: the old size is the latest cosigned size and so is the checkpoint's, with another root — a split
        /// view, evidence that the log shows two histories.
        case splitView(latest: UInt64, String)
        /// 422: the consistency proof does not verify — the log is not an extension of what the witness saw.
        case inconsistent(String)

        public var status: Int {
            switch self {
            case .unknownLog: 404
            case .notSigned: 403
            case .badRequest: 400
            case .conflict, .splitView: 409
            case .inconsistent: 422
            }
        }

        public var description: String {
            switch self {
            case .unknownLog(let s), .notSigned(let s), .badRequest(let s), .conflict(_, let s), .splitView(_, let s), .inconsistent(let s): s
            }
        }
    }

    /// The checks of `add-checkpoint`, in the spec's order: the origin is a log the witness follows (`trusted` keys
    /// for it), a trusted key signed the note, the old size is at most the new one, it is the latest cosigned size
    /// (`latest`, nil before the first), equal sizes have equal roots, and the proof shows the new tree extends the
    /// latest. Returns the checkpoint to cosign — which the caller stores with a compare-and-set on `request.oldSize`.
    public static func check(_ request: AddCheckpoint, trusted: [NoteVerifierKey], latest: Latest?) -> Result<Checkpoint, Refusal> {
        let checkpoint = request.checkpoint
        let keys = trusted.filter { $0.name == checkpoint.origin }
        guard !keys.isEmpty else { return .failure(.unknownLog("this witness does not follow the log \(checkpoint.origin)")) }
        guard !request.note.verifiedSignatures(by: keys).isEmpty else {
            return .failure(.notSigned("no signature on the checkpoint verifies against a key this witness trusts for \(checkpoint.origin)"))
        }
        guard request.oldSize <= checkpoint.size else {
            return .failure(.badRequest("the old size \(request.oldSize) is larger than the checkpoint's size \(checkpoint.size)"))
        }
        let latestSize = latest?.size ?? 0
        guard request.oldSize == latestSize else {
            return .failure(.conflict(latest: latestSize, "the latest checkpoint this witness cosigned for \(checkpoint.origin) has size \(latestSize), not \(request.oldSize)"))
        }
        // The empty tree has one root, SHA-256 of nothing (RFC 6962): any other is no tree at all.
        guard checkpoint.size > 0 || checkpoint.rootHash == Merkle.emptyRoot else {
            return .failure(.badRequest("a checkpoint of size 0 has the root of the empty tree, SHA-256 of nothing"))
        }
        if request.oldSize == checkpoint.size, let latest {
            // The same size again (0 included): the same root, or two histories.
            guard latest.rootHash == checkpoint.rootHash else {
                return .failure(.splitView(latest: latest.size, "a checkpoint of size \(checkpoint.size) with another root than the one this witness cosigned: a split view of \(checkpoint.origin)"))
            }
            guard request.proof.isEmpty else { return .failure(.inconsistent("equal sizes take an empty consistency proof")) }
            return .success(checkpoint)
        }
        if request.oldSize == 0 {
            guard request.proof.isEmpty else { return .failure(.badRequest("a consistency proof from size 0 must be empty")) }
            return .success(checkpoint)
        }
        guard let latest else { return .failure(.conflict(latest: 0, "this witness has cosigned nothing for \(checkpoint.origin)")) }
        do {
            try MerkleVerifier.verifyConsistency(
                oldSize: latest.size, newSize: checkpoint.size, proof: request.proof.map(\.bytes), oldRoot: latest.rootHash.bytes,
                newRoot: checkpoint.rootHash.bytes)
        } catch {
            return .failure(.inconsistent("the checkpoint of size \(checkpoint.size) is not consistent with the one of size \(latest.size) this witness cosigned: \(error.message)"))
        }
        return .success(checkpoint)
    }
}
