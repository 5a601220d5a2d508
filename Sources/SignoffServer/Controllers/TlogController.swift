import Foundation
import HTTPTypes
import Hummingbird
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffService

/// The ledger as a C2SP tlog-tiles log, read-only, for standard tlog clients and monitors: `/tlog/checkpoint` (the
/// newest checkpoint with its cosignatures), `/tlog/tile/<L>/<N>[.p/<W>]` (the stored subtree hashes) and
/// `/tlog/tile/entries/<N>[.p/<W>]` (each entry's record: for a version-2 entry its header with the payload's digest —
/// its stub, which every reader of any project may see in an export too; a version-1 entry's record is the whole
/// entry, so a bundle holding one is for administrators and auditors only). Only what the newest checkpoint covers is
/// served, so every tile is immutable. Behind a token, like the rest of the API.
struct TlogController {
    let handlers: Handlers

    /// Tiles never change once served: cached for a year, by the client only (they sit behind a token).
    static let immutable = "private, max-age=31536000, immutable"

    func routes(into router: Router<SignoffRequestContext>, middleware: some RouterMiddleware<SignoffRequestContext>) {
        let h = handlers
        let group = router.group("/tlog").add(middleware: middleware).add(middleware: ServiceTokenScopes())
        group.get("/checkpoint") { _, _ -> Response in
            guard let checkpoint = try await h.ledger.latestCheckpoint() else { throw Problem.notFound("the ledger has no signed checkpoint yet") }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "private, max-age=5", .xContentTypeOptions: "nosniff"],
                body: .init(byteBuffer: ByteBuffer(string: checkpoint.serialized)))
        }
        group.get("/tile/**") { _, context -> Response in
            guard let tile = TlogTiles.parse(context.parameters.getCatchAll()) else {
                throw Problem.notFound("not a tile path of C2SP tlog-tiles: tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>], N as x001/x234/067")
            }
            let covered = try await h.ledger.latestCheckpoint()?.checkpoint.size ?? 0
            guard let needed = tile.requiredSize, needed <= covered, let first = tile.firstNode else {
                throw Problem.notFound("\(tile.path) is beyond the newest checkpoint (size \(covered))")
            }
            let bytes: [UInt8]
            if let level = tile.level {
                bytes = try await h.ledger.subtreeHashes(level: 8 * level, from: first, count: tile.width).flatMap(\.bytes)
            } else {
                let entries = try await h.ledger.entries(from: first, limit: tile.width)
                guard entries.count == tile.width else { throw Problem.notFound("\(tile.path): the ledger lacks entries it should hold") }
                if entries.contains(where: { $0.version == 1 }) {
                    // A version-1 record is the whole entry, payload included: only for those who may read everything.
                    let state = try await h.service.state()
                    let principal = try h.principal(context)
                    let everything = context.token?.kind == .session
                        && (state.principals[principal]?.isAdministrator == true || state.isMember(principal, of: Access.auditorsGroup))
                    guard everything else {
                        throw Problem.forbidden("\(tile.path) holds version-1 entries, which are whole entries (schema/ledger.md §1): for administrators and auditors only")
                    }
                }
                guard let bundle = TlogTiles.bundle(entries.map(\.record)) else {
                    throw Problem.forbidden("\(tile.path) holds an entry of 65,536 bytes or more, which an entry bundle cannot carry")
                }
                bytes = bundle
            }
            return Response(
                status: .ok, headers: [.contentType: "application/octet-stream", .cacheControl: Self.immutable, .xContentTypeOptions: "nosniff"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }
}
