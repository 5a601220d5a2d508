public import Hummingbird
public import SignoffStore

/// The request context: who is calling, once the bearer token has been checked.
public struct SignoffRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``BearerAuthentication`` for every route that needs a token.
    public var token: TokenRecord?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.token = nil
    }

    /// Bodies are small JSON documents (a workflow file is the largest); anything bigger is refused with 413.
    public var maxUploadSize: Int { 1 << 20 }
}
