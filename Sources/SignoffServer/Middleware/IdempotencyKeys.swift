public import Hummingbird
internal import HTTPTypes
import Foundation
internal import NIOCore
internal import Synchronization
import SignoffCore
import SignoffCrypto
import SignoffLedger
public import SignoffService

/// A mutating call's `Idempotency-Key` (IETF draft-ietf-httpapi-idempotency-key-header) that no earlier call of the
/// principal used: a command's handler records it with the command's entries (``Handlers/run(_:_:storing:status:answer:)``);
/// for a call that records none, the middleware keeps the answer once the handler succeeded.
public final class IdempotencyClaim: Sendable {
    let principal: String
    let key: String
    let fingerprint: SHA256Digest
    private let taken = Mutex(false)

    init(principal: String, key: String, fingerprint: SHA256Digest) {
        self.principal = principal
        self.key = key
        self.fingerprint = fingerprint
    }

    /// The call as the unit of work records it, with the answer made from its entries. Marks the claim as recorded
    /// there (by the command's success), so that the middleware does not keep the answer again.
    func call(answer: @escaping @Sendable ([LedgerEntry]) throws -> IdempotentAnswer) -> IdempotentCall {
        taken.withLock { $0 = true }
        return IdempotentCall(principal: principal, key: key, fingerprint: fingerprint, answer: answer)
    }

    var recordedWithEntries: Bool { taken.withLock { $0 } }
}

/// `Idempotency-Key` on every mutating call behind a token (POST, PUT, PATCH, DELETE): the first call's answer is kept
/// for 24 hours per principal and key, in the database every instance shares; the same key with the same method, path
/// and body answers it again (`Idempotent-Replayed: true`) and changes nothing; with another call, 422; while the first
/// is being recorded, 409. Only successful answers are kept: a refused call changed nothing, and is decided again.
struct IdempotencyKeys: RouterMiddleware {
    typealias Context = SignoffRequestContext
    let service: SignoffService
    /// The largest body read to fingerprint the call (an evidence document's limit, at least 1 MiB).
    let maximumBody: Int

    static let header = HTTPField.Name("Idempotency-Key")!
    static let replayed = HTTPField.Name("Idempotent-Replayed")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard [.post, .put, .patch, .delete].contains(request.method), let value = request.headers[Self.header] else {
            return try await next(request, context)
        }
        guard let key = IdempotencyRecord.key(fromHeader: value) else {
            throw Problem.badRequest("Idempotency-Key must be 1 to 255 visible ASCII characters without quotes or backslashes (a UUID, say), optionally in double quotes")
        }
        guard let principal = context.token?.principal else { return try await next(request, context) }
        var request = request
        let body = try await request.collectBody(upTo: maximumBody)
        let fingerprint = IdempotencyRecord.fingerprint(method: request.method.rawValue, target: request.uri.description, body: Self.comparable(body, request.headers))
        if let record = try await service.storage.coordination.idempotencyRecord(principal: principal, key: key, now: service.now) {
            guard record.fingerprint == fingerprint else {
                let rule = RefusalRule.idempotencyKeyReused
                throw Problem(
                    .unprocessableContent, type: "refused", title: "Invalid",
                    detail: "Idempotency-Key \(key) was used for another call (another method, path or body) in the last 24 hours: use a new key for a new call",
                    rule: rule.name)
            }
            return Self.replay(record.answer)
        }
        let claim = IdempotencyClaim(principal: principal, key: key, fingerprint: fingerprint)
        var context = context
        context.idempotency = claim
        let response = try await next(request, context)
        guard !claim.recordedWithEntries, (200..<300).contains(Int(response.status.code)) else { return response }
        // A call that recorded no entries (an upload, a redelivery): its answer kept now, unless a call of the same
        // moment kept one first — then that one is the answer.
        let collector = BodyCollector()
        try await response.body.write(collector)
        let answer = IdempotentAnswer(status: Int(response.status.code), mediaType: response.headers[.contentType] ?? "application/octet-stream", body: collector.bytes)
        let record = IdempotencyRecord(principal: principal, key: key, fingerprint: fingerprint, createdAt: service.now, answer: answer)
        if try await service.storage.coordination.insertIdempotencyRecord(record) {
            var kept = response
            kept.body = .init(byteBuffer: ByteBuffer(bytes: answer.body))
            return kept
        }
        if let first = try await service.storage.coordination.idempotencyRecord(principal: principal, key: key, now: service.now), first.fingerprint == fingerprint {
            return Self.replay(first.answer)
        }
        throw Problem.refused(.idempotencyInUse, "another call with Idempotency-Key \(key) was recorded at the same moment")
    }

    /// The body as calls are compared: a JSON body with its object keys sorted (a client re-encoding the same
    /// document on a retry makes the same call), any other body as its bytes.
    static func comparable(_ body: ByteBuffer, _ headers: HTTPFields) -> [UInt8] {
        let bytes = Array(body.readableBytesView)
        guard headers[.contentType]?.lowercased().hasPrefix("application/json") == true,
            let value = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]),
            let sorted = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
        else { return bytes }
        return Array(sorted)
    }

    static func replay(_ answer: IdempotentAnswer) -> Response {
        Response(
            status: HTTPResponse.Status(code: answer.status),
            headers: [.contentType: answer.mediaType, .xContentTypeOptions: "nosniff", replayed: "true"],
            body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}

/// Collects a response body written to it.
private final class BodyCollector: ResponseBodyWriter, @unchecked Sendable {
    private(set) var bytes: [UInt8] = []

    func write(_ buffer: ByteBuffer) async throws { bytes += buffer.readableBytesView }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
