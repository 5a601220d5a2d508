import Foundation
import HTTPTypes
public import Hummingbird
public import Logging
public import SignoffCrypto
import SignoffLedger
public import SignoffService

/// `signoff witness serve`: a C2SP tlog-witness v1 witness an organisation, or its auditor, runs itself. It follows
/// the logs whose keys it is given, cosigns a checkpoint only when it is consistent with the latest one it cosigned
/// for that log, and keeps that latest checkpoint in an SQLite file of its own, moved by compare-and-set.
public struct WitnessConfiguration: Sendable {
    /// The witness's name and key: its cosignatures are `— NAME …` lines (C2SP tlog-cosignature v1).
    public let name: String
    public let key: Ed25519.SigningKey
    /// The logs it follows: each log's checkpoint key (the key's name is the log's origin).
    public let logs: [NoteVerifierKey]
    public var host = "127.0.0.1"
    public var port = 8081
    /// Where `add-checkpoint` is served: `<prefix>/add-checkpoint`.
    public var prefix = ""
    /// The listening port, once bound (port 0 picks one).
    public let listening = ListeningPort()
    /// The clock, POSIX seconds (a test sets it).
    public var now: @Sendable () -> UInt64 = { UInt64(max(0, Date().timeIntervalSince1970)) }

    public init(name: String, key: Ed25519.SigningKey, logs: [NoteVerifierKey]) throws(CryptoError) {
        try NoteVerifierKey.validate(name: name)
        self.name = name
        self.key = key
        self.logs = logs
    }

    /// The witness's verifier key, which logs and auditors configure: `NAME+KEYID+BASE64(0x04 ‖ key)`.
    public var cosignerKey: CosignerKey { try! CosignerKey(name: name, publicKey: key.publicKey) }
}

/// The router of a witness: `POST <prefix>/add-checkpoint`, and `/healthz`.
public func buildWitnessRouter(store: some WitnessStore, configuration: WitnessConfiguration) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.get("/healthz") { _, _ in "ok\n" }
    router.post("\(configuration.prefix)/add-checkpoint") { request, context -> Response in
        let body = try await request.body.collect(upTo: Witness.maximumBodyBytes)
        guard let text = String(validating: body.readableBytesView, as: UTF8.self) else {
            return witnessAnswer(.badRequest, "the body is not UTF-8\n")
        }
        let submitted: Witness.AddCheckpoint
        do { submitted = try Witness.AddCheckpoint(parsing: text) } catch { return witnessAnswer(.badRequest, "\((error as? LedgerError)?.message ?? "malformed body")\n") }
        let origin = submitted.checkpoint.origin
        for _ in 0..<3 {
            let latest = try await store.latest(origin: origin)
            switch Witness.check(submitted, trusted: configuration.logs, latest: latest) {
            case .failure(let refusal):
                // A refusal on a known log with a valid signature may be evidence of a fork: kept in the log, with the note.
                if case .splitView = refusal {
                    context.logger.critical(
                        "witness: split view refused", metadata: ["origin": .string(origin), "reason": .string(refusal.description), "note": .string(submitted.note.serialized)])
                } else if case .inconsistent = refusal {
                    context.logger.critical(
                        "witness: inconsistent checkpoint refused", metadata: ["origin": .string(origin), "reason": .string(refusal.description), "note": .string(submitted.note.serialized)])
                } else {
                    context.logger.notice("witness: refused", metadata: ["origin": .string(origin), "status": .stringConvertible(refusal.status), "reason": .string(refusal.description)])
                }
                switch refusal {
                case .conflict(let size, _), .splitView(let size, _): return witnessAnswer(.conflict, "\(size)\n", type: "text/x.tlog.size")
                default: break
                }
                return witnessAnswer(HTTPResponse.Status(code: refusal.status), "\(refusal.description)\n")
            case .success(let checkpoint):
                let time = configuration.now()
                // Stored before answering, by compare-and-set on the old size: a request that lost the race asks again.
                guard try await store.advance(from: submitted.oldSize, to: checkpoint, note: submitted.note.serialized, at: Int64(time) * 1000) else { continue }
                let line = try Cosignature.sign(checkpointText: submitted.note.text, time: time, name: configuration.name, key: configuration.key).line
                context.logger.info("witness: cosigned", metadata: ["origin": .string(origin), "size": .stringConvertible(checkpoint.size)])
                return witnessAnswer(.ok, line)
            }
        }
        let size = try await store.latest(origin: origin)?.size ?? 0
        return witnessAnswer(.conflict, "\(size)\n", type: "text/x.tlog.size")
    }
    // Only POST: another method on the path is 405, not the 404 that means "a log this witness does not follow".
    for method in [HTTPRequest.Method.get, .head, .put, .delete, .patch] {
        router.on("\(configuration.prefix)/add-checkpoint", method: method) { _, _ -> Response in
            var answer = witnessAnswer(.methodNotAllowed, "add-checkpoint takes POST\n")
            answer.headers[.allow] = "POST"
            return answer
        }
    }
    return router
}

func witnessAnswer(_ status: HTTPResponse.Status, _ body: String, type: String = "text/plain; charset=utf-8") -> Response {
    Response(status: status, headers: [.contentType: type, .xContentTypeOptions: "nosniff"], body: .init(byteBuffer: ByteBuffer(string: body)))
}

/// The witness as an application to run.
public func buildWitnessApplication(store: some WitnessStore, configuration: WitnessConfiguration, logger: Logger) -> some ApplicationProtocol {
    Application(
        router: buildWitnessRouter(store: store, configuration: configuration),
        // A connection that stops sending is closed after 30 s: unfinished requests cannot pile up.
        server: .http1(configuration: .init(idleTimeout: .seconds(30))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "signoff-witness"),
        onServerRunning: { channel in configuration.listening.set(channel.localAddress?.port) },
        logger: logger)
}
