public import Hummingbird
internal import HTTPTypes
import Foundation
internal import NIOCore
internal import Synchronization
import SignoffCrypto
public import SignoffService
public import SignoffIdentity

/// The request context: who is calling, once the bearer token has been checked.
public struct SignoffRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``BearerAuthentication`` for every route that needs a token.
    public var token: TokenRecord?
    /// For a pipeline authenticated by its own ID token: the verified token (its issuer and claims).
    public var pipeline: VerifiedIDToken?
    /// Who the request turned out to be from, shared with the access log that wraps the whole request.
    public let identity = RequestIdentity()
    /// The peer's address (IP), for per-address limits; nil when the transport has none.
    public let remoteAddress: String?
    /// The client's address: the peer's, or what a trusted proxy says in `X-Forwarded-For` (``ClientAddress``); set by
    /// the access log, the outermost middleware, for the login limits and the log.
    public var clientAddress: String?
    /// The connection, to end it after a refusal that must not hold it (a long poll over its cap).
    let channel: any Channel
    /// A mutating call's `Idempotency-Key` not seen before, set by ``IdempotencyKeys`` for the handler to record with
    /// the command's entries.
    public var idempotency: IdempotencyClaim?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.token = nil
        self.pipeline = nil
        self.idempotency = nil
        self.remoteAddress = source.channel.remoteAddress?.ipAddress
        self.clientAddress = remoteAddress
        self.channel = source.channel
    }

    /// Closes the connection once this response is written: its input is shut now, so Hummingbird finds no next request
    /// after the response and closes the connection (as it does for a cancelled request). The response says
    /// `Connection: close`.
    func closeConnectionAfterResponse() {
        channel.close(mode: .input, promise: nil)
    }

    /// Bodies are small JSON documents (a workflow file is the largest); anything bigger is refused with 413.
    public var maxUploadSize: Int { 1 << 20 }

    public var requestDecoder: UTF8JSONRequestDecoder { UTF8JSONRequestDecoder() }
}

/// JSON bodies as RFC 8259 requires them: UTF-8 text, refused with 400 otherwise (Foundation's decoder would
/// otherwise accept some invalid byte sequences).
public struct UTF8JSONRequestDecoder: RequestDecoder {
    public func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        guard String(validating: body.readableBytesView, as: UTF8.self) != nil else {
            throw Problem.badRequest("the request body is not UTF-8 text")
        }
        // Parsers disagree on a repeated key (Swift keeps the first, Python and Go the last): refuse rather than guess.
        if let key = StrictJSON.duplicateKey(in: body.readableBytesView) {
            throw Problem.badRequest("the request body has the key \"\(key.prefix(40))\" twice in one object")
        }
        return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }
}

/// The principal and token of a request, filled in by authentication and read by the access log (which wraps the
/// request and so cannot see the context authentication hands on). Never the token itself.
public final class RequestIdentity: Sendable {
    private let state = Mutex<(principal: String?, tokenID: String?)>((nil, nil))

    public init() {}

    func set(principal: String, tokenID: String?) { state.withLock { $0 = (principal, tokenID) } }
    var principal: String? { state.withLock { $0.principal } }
    var tokenID: String? { state.withLock { $0.tokenID } }
}

extension Request {
    /// The JSON body as `T`, or nil when the request has none (an empty body: endpoints whose body is optional).
    func decodeOptional<T: Decodable>(as type: T.Type, context: SignoffRequestContext) async throws -> T? {
        var request = self
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        guard body.readableBytes > 0 else { return nil }
        return try await request.decode(as: type, context: context)
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xForwardedProto = Self("X-Forwarded-Proto")!
}
