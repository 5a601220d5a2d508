public import Foundation
#if canImport(FoundationNetworking)
internal import FoundationNetworking
#endif
internal import JWTKit
public import SignoffCore
public import SignoffCrypto
public import SignoffService

/// An ID token that passed every check: its issuer as trusted, its claims (strings; numbers and booleans written as
/// JSON writes them), and when it expires.
public struct VerifiedIDToken: Sendable, Hashable {
    public let issuer: IssuerSpec
    public let claims: [String: String]
    /// Milliseconds since the Unix epoch.
    public let expiresAt: Int64
}

/// What an issuer's discovery document says that the verifier and the console use.
public struct IssuerMetadata: Sendable, Hashable, Decodable {
    public let issuer: String
    public let jwks_uri: String
    public let authorization_endpoint: String?
    public let token_endpoint: String?
    public let end_session_endpoint: String?
    public let id_token_signing_alg_values_supported: [String]?
}

/// Fetches a document over HTTP(S): the verifier's only I/O besides its cache (tests give their own).
public protocol IdentityFetching: Sendable {
    /// The body of a 200 answer to GET `url` (at most 1 MiB), or an error naming what went wrong.
    func get(_ url: URL) async throws -> [UInt8]
    /// The body and status of a form POST (the token endpoint), with optional basic authentication.
    func postForm(_ url: URL, fields: [(String, String)], basicAuth: (user: String, password: String)?) async throws -> (status: Int, body: [UInt8])
}

/// One OpenID Connect ID-token verifier for people (the console's single sign-on) and pipelines (CI jobs' own ID tokens):
/// discovery, the issuer's key set fetched, cached (here and in the ``CoordinationStore``, for every instance) and
/// fetched again once when a token names a key it does not hold; RS256, ES256 or EdDSA as the issuer announces them;
/// `iss`, `aud`, `exp`, `nbf`, `iat` with a small skew, and `nonce` where one was sent. The JWT itself is jwt-kit's.
public actor IDTokenVerifier {
    /// The algorithms accepted, when the issuer announces them (no `none`, no HMAC: an issuer's public keys only).
    public static let acceptedAlgorithms: Set<String> = ["RS256", "ES256", "EdDSA"]
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    public static let skewMilliseconds: Int64 = 60_000
    /// A key set is fetched again after this long, and no sooner than ``refetchInterval`` for an unknown key ID.
    public static let keySetLifetime: Int64 = 3_600_000
    public static let refetchInterval: Int64 = 10_000
    /// Longest token accepted.
    public static let maximumTokenBytes = 16_384

    let fetcher: any IdentityFetching
    let store: (any CoordinationStore)?
    let clock: @Sendable () -> Int64
    private var metadata: [String: (IssuerMetadata, fetchedAt: Int64)] = [:]
    private var keySets: [String: (jwks: JWKS, fetchedAt: Int64)] = [:]
    /// When a token's unknown key last made this instance fetch an issuer's set again.
    private var lastRefetch: [String: Int64] = [:]

    public init(fetcher: any IdentityFetching = URLSessionFetcher(), store: (any CoordinationStore)?, clock: @escaping @Sendable () -> Int64) {
        self.fetcher = fetcher
        self.store = store
        self.clock = clock
    }

    // MARK: Discovery and keys

    /// The issuer's discovery document (`/.well-known/openid-configuration`), whose `issuer` must be exactly its URL.
    public func metadata(of issuer: IssuerSpec) async throws(IdentityRejection) -> IssuerMetadata {
        let now = clock()
        if let (known, at) = metadata[issuer.url], now - at < Self.keySetLifetime { return known }
        let base = issuer.url.hasSuffix("/") ? String(issuer.url.dropLast()) : issuer.url
        guard let url = URL(string: base + "/.well-known/openid-configuration") else { throw IdentityRejection("issuer \(issuer.name)'s URL is not a URL") }
        let body: [UInt8]
        do { body = try await fetcher.get(url) } catch {
            throw IdentityRejection("issuer \(issuer.name)'s discovery document could not be fetched from \(url.absoluteString) (\(Self.said(error)))")
        }
        guard let document = try? JSONDecoder().decode(IssuerMetadata.self, from: Data(body)) else {
            throw IdentityRejection("issuer \(issuer.name)'s discovery document is not an OpenID Provider's metadata")
        }
        guard document.issuer == issuer.url else {
            throw IdentityRejection("issuer \(issuer.name)'s discovery document names issuer \(Self.shown(document.issuer)), not \(issuer.url)")
        }
        metadata[issuer.url] = (document, now)
        return document
    }

    /// The issuer's key set: from memory, else the shared cache, else fetched; `refresh` fetches again (rate-limited).
    func keySet(of issuer: IssuerSpec, jwksURI: String, refresh: Bool) async throws(IdentityRejection) -> JWKS {
        let now = clock()
        if !refresh, let (set, at) = keySets[issuer.url], now - at < Self.keySetLifetime { return set }
        if !refresh, let store, let cached = try? await store.cachedKeySet(issuer: issuer.url), now - cached.fetchedAt < Self.keySetLifetime,
            let set = Self.signingKeys(Array(cached.jwks.utf8))
        {
            keySets[issuer.url] = (set, cached.fetchedAt)
            return set
        }
        if refresh, let set = keySets[issuer.url]?.jwks {
            // Tokens naming unknown keys must not make this server fetch on every request: once per interval.
            if let last = lastRefetch[issuer.url], now - last < Self.refetchInterval { return set }
            lastRefetch[issuer.url] = now
        }
        guard let url = URL(string: jwksURI), url.scheme == "https" || (url.scheme == "http" && issuer.url.hasPrefix("http://")) else {
            throw IdentityRejection("issuer \(issuer.name)'s jwks_uri is not an https URL")
        }
        let body: [UInt8]
        do { body = try await fetcher.get(url) } catch {
            throw IdentityRejection("issuer \(issuer.name)'s key set could not be fetched from \(url.absoluteString) (\(Self.said(error)))")
        }
        guard let set = Self.signingKeys(body) else { throw IdentityRejection("issuer \(issuer.name)'s key set is not a JWKS") }
        keySets[issuer.url] = (set, now)
        try? await store?.storeKeySet(issuer: issuer.url, jwks: String(decoding: body, as: UTF8.self), fetchedAt: now)
        return set
    }

    // MARK: Verification

    /// Verifies `token` for `use` against the issuers administrators trust (`issuers`): the issuer is found by the
    /// token's `iss`, and must be trusted for `use`. `nonce`: the value the console sent (people); nil for pipelines.
    public func verify(_ token: String, use: IssuerUse, issuers: some Collection<IssuerSpec>, nonce: String? = nil) async throws(IdentityRejection)
        -> VerifiedIDToken
    {
        guard token.utf8.count <= Self.maximumTokenBytes else { throw IdentityRejection("the ID token is longer than \(Self.maximumTokenBytes) bytes") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Self.base64URL(parts[0]), let payloadBytes = Self.base64URL(parts[1]),
            let header = try? JSONDecoder().decode([String: ClaimValue].self, from: Data(headerBytes)),
            let unverified = try? JSONDecoder().decode([String: ClaimValue].self, from: Data(payloadBytes))
        else { throw IdentityRejection("the ID token is not a JWT") }
        guard StrictJSON.duplicateKey(in: payloadBytes) == nil, StrictJSON.duplicateKey(in: headerBytes) == nil else {
            throw IdentityRejection("the ID token repeats a key in its header or claims")
        }
        guard let iss = unverified["iss"]?.text else { throw IdentityRejection("the ID token has no iss") }
        guard let issuer = issuers.first(where: { $0.url == iss }) else {
            throw IdentityRejection("issuer \(Self.shown(iss)) is not trusted (trusting an issuer is a signed change: signoff issuer trust)")
        }
        guard issuer.uses.contains(use) else { throw IdentityRejection("issuer \(issuer.name) is not trusted for \(use.rawValue)") }
        guard let alg = header["alg"]?.text, Self.acceptedAlgorithms.contains(alg) else {
            throw IdentityRejection("the ID token's algorithm is not one of \(Self.acceptedAlgorithms.sorted().joined(separator: ", "))")
        }
        let meta = try await metadata(of: issuer)
        guard (meta.id_token_signing_alg_values_supported ?? ["RS256"]).contains(alg) else {
            throw IdentityRejection("issuer \(issuer.name) does not announce \(alg) for its ID tokens")
        }
        // A token names its key (`kid`); one that names none is accepted only from an issuer whose set holds exactly one
        // signing key (OpenID Connect Core 10.1).
        let kid = header["kid"]?.text
        func find(_ set: JWKS) -> JWK? {
            let signing = set.keys
            guard let kid else { return signing.count == 1 ? signing[0] : nil }
            return signing.first { $0.keyIdentifier?.string == kid }
        }
        var set = try await keySet(of: issuer, jwksURI: meta.jwks_uri, refresh: false)
        if find(set) == nil {
            // A key rotated in since the set was fetched: fetch it again, once.
            set = try await keySet(of: issuer, jwksURI: meta.jwks_uri, refresh: true)
        }
        guard var jwk = find(set) else {
            throw IdentityRejection(
                kid.map { "the ID token is signed by a key (\(Self.shown($0))) not in issuer \(issuer.name)'s key set" }
                    ?? "the ID token names no key (kid), and issuer \(issuer.name)'s key set holds more than one")
        }
        if jwk.keyIdentifier == nil { jwk.keyIdentifier = JWKIdentifier(string: kid ?? "only") }
        if let keyAlgorithm = jwk.algorithm, keyAlgorithm.rawValue != alg {
            throw IdentityRejection("the ID token's algorithm \(alg) is not its key's (\(keyAlgorithm.rawValue))")
        }
        let keys = JWTKeyCollection()
        do {
            try await keys.add(jwk: jwk, isDefault: true)
            _ = try await keys.verify(token, as: SignatureOnly.self)
        } catch {
            throw IdentityRejection("the ID token's signature does not verify with issuer \(issuer.name)'s key \(kid ?? "(its only key)")")
        }
        return try check(unverified, issuer: issuer, nonce: nonce)
    }

    /// The registered claims' rules, on claims whose signature verified.
    func check(_ claims: [String: ClaimValue], issuer: IssuerSpec, nonce: String?) throws(IdentityRejection) -> VerifiedIDToken {
        let now = clock()
        func milliseconds(_ name: String) throws(IdentityRejection) -> Int64? {
            guard let value = claims[name] else { return nil }
            guard case .number(let seconds) = value, seconds.isFinite, abs(seconds) < 1e11 else {
                throw IdentityRejection("the ID token's \(name) is not a number of seconds")
            }
            return Int64(seconds * 1000)
        }
        guard claims["iss"]?.text == issuer.url else { throw IdentityRejection("the ID token's iss is not \(issuer.url)") }
        let audiences: [String] =
            switch claims["aud"] {
            case .string(let one)?: [one]
            case .strings(let many)?: many
            default: []
            }
        guard audiences.contains(issuer.audience) else {
            throw IdentityRejection(
                "the ID token is not for audience \(issuer.audience) (its aud: \(audiences.isEmpty ? "none" : audiences.prefix(3).map(Self.shown).joined(separator: ", ")))")
        }
        // OpenID Connect Core §3.1.3.7: a token for several audiences says to whom it was issued (azp), which must be this
        // client — else a token issued to another client that also lists this one would sign in here.
        if audiences.count > 1, claims["azp"]?.text != issuer.audience {
            throw IdentityRejection(
                "the ID token is for several audiences and was issued (azp) to \(claims["azp"]?.text.map(Self.shown) ?? "no one named"), not \(issuer.audience)")
        }
        guard let exp = try milliseconds("exp") else { throw IdentityRejection("the ID token has no exp") }
        guard exp + Self.skewMilliseconds > now else { throw IdentityRejection("the ID token has expired") }
        if let nbf = try milliseconds("nbf"), nbf - Self.skewMilliseconds > now { throw IdentityRejection("the ID token is not valid yet (nbf)") }
        guard let iat = try milliseconds("iat") else { throw IdentityRejection("the ID token has no iat") }
        guard iat - Self.skewMilliseconds <= now else { throw IdentityRejection("the ID token is issued in the future (iat)") }
        guard exp - iat <= Self.maximumLifetimeMilliseconds else { throw IdentityRejection("the ID token is valid for more than 24 hours (exp − iat)") }
        if let nonce {
            guard claims["nonce"]?.text == nonce else { throw IdentityRejection("the ID token's nonce is not the one this login sent") }
        }
        var flat: [String: String] = [:]
        for (name, value) in claims {
            switch value {
            case .string(let text): flat[name] = text
            case .bool(let flag): flat[name] = flag ? "true" : "false"
            case .number(let number): flat[name] = number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
            case .strings, .other: continue
            }
        }
        return VerifiedIDToken(issuer: issuer, claims: flat, expiresAt: exp)
    }

    /// The keys of a JWKS document that may verify signatures: those not marked `"use": "enc"` (an encryption key is not
    /// a signing key), public halves only.
    static func signingKeys(_ body: [UInt8]) -> JWKS? {
        struct Marks: Decodable {
            struct Key: Decodable { let use: String? }
            let keys: [Key]
        }
        guard let set = try? JSONDecoder().decode(JWKS.self, from: Data(body)), let marks = try? JSONDecoder().decode(Marks.self, from: Data(body)),
            marks.keys.count == set.keys.count
        else { return nil }
        return JWKS(keys: zip(set.keys, marks.keys).filter { $0.1.use != "enc" && $0.0.privateExponent == nil }.map(\.0))
    }

    /// The longest life an accepted ID token may have (`exp` − `iat`): CI platforms' last minutes or a job's hours.
    public static let maximumLifetimeMilliseconds: Int64 = 24 * 3_600_000

    /// A value the token's sender chose, as a refusal may quote it: printable ASCII, at most 100 characters (a log line
    /// or a problem document never carries their control characters or their essays).
    static func shown(_ text: String) -> String {
        guard text.utf8.count <= 100, text.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else { return "(a value not shown)" }
        return text
    }

    /// A fetch's failure in a few words: the HTTP status or size the fetcher reports, or that nothing answered.
    static func said(_ error: any Error) -> String {
        if let failure = error as? URLSessionFetcher.FetchError { return failure.description }
        if let failure = error as? URLError { return "no answer: URL error \(failure.code.rawValue)" }
        return "no answer"
    }

    static func base64URL(_ text: Substring) -> [UInt8]? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        return Base64.decodeStandard(standard)
    }
}

/// A claim's JSON value, as far as the verifier reads it.
enum ClaimValue: Decodable, Hashable {
    case string(String)
    case bool(Bool)
    case number(Double)
    case strings([String])
    case other

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(String.self) {
            self = .string(v)
        } else if let v = try? c.decode(Bool.self) {
            self = .bool(v)
        } else if let v = try? c.decode(Double.self) {
            self = .number(v)
        } else if let v = try? c.decode([String].self) {
            self = .strings(v)
        } else {
            self = .other
        }
    }

    var text: String? { if case .string(let s) = self { s } else { nil } }
}

/// jwt-kit checks the signature; the claims are checked by ``IDTokenVerifier/check(_:issuer:nonce:)`` on its own clock.
struct SignatureOnly: JWTPayload {
    init(from decoder: any Decoder) throws {}
    func encode(to encoder: any Encoder) throws {}
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// HTTP through Foundation's URLSession: no redirects, a 10-second timeout, at most 1 MiB.
public struct URLSessionFetcher: IdentityFetching {
    private final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
            completionHandler: @escaping (URLRequest?) -> Void
        ) { completionHandler(nil) }
    }
    private static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 10
        return URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }()

    public init() {}

    struct FetchError: Error, CustomStringConvertible {
        let description: String
    }

    public func get(_ url: URL) async throws -> [UInt8] {
        var request = URLRequest(url: url)
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        let (data, response) = try await Self.session.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else { throw FetchError(description: "HTTP \(status) from \(url.absoluteString)") }
        guard data.count <= 1 << 20 else { throw FetchError(description: "more than 1 MiB from \(url.absoluteString)") }
        return [UInt8](data)
    }

    public func postForm(_ url: URL, fields: [(String, String)], basicAuth: (user: String, password: String)?) async throws -> (status: Int, body: [UInt8]) {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let basicAuth {
            let credentials = Self.formEncode(basicAuth.user) + ":" + Self.formEncode(basicAuth.password)
            request.setValue("Basic " + Base64.encode(Array(credentials.utf8)), forHTTPHeaderField: "Authorization")
        }
        request.httpBody = Data(fields.map { Self.formEncode($0.0) + "=" + Self.formEncode($0.1) }.joined(separator: "&").utf8)
        let (data, response) = try await Self.session.data(for: request)
        guard data.count <= 1 << 20 else { throw FetchError(description: "more than 1 MiB from \(url.absoluteString)") }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, [UInt8](data))
    }

    /// application/x-www-form-urlencoded (RFC 6749 §2.3.1 for client credentials too): unreserved characters kept.
    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
