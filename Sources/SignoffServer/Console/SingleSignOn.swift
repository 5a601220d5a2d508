import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SignoffCore
import SignoffCrypto
import SignoffIdentity
import SignoffService

/// The console's single sign-on: OpenID Connect's authorization code flow with PKCE, `state` and `nonce`, against the
/// issuer `signoff serve --sso-issuer` names (trusted for people by a signed change, its audience the client ID).
///
/// Nothing secret is stored: the database keeps only the SHA-256 of each login's `state` (single use, 10 minutes,
/// ``CoordinationStore/insertLogin(stateHash:issuer:expiresAt:forgetBefore:)``, shared by every instance); the browser
/// keeps, in an HttpOnly cookie scoped to `/console/sso`, a random secret from which the PKCE verifier and the nonce are
/// derived (HMAC-SHA256). A callback needs both: a state another browser started, or a code without its verifier, fails.
/// The mapped claim names a user who must exist and be enabled; signing in never enrols a key — deciding still needs
/// the person's own key, which the setup page makes.
struct SingleSignOn {
    let handlers: Handlers
    let console: ConsoleController

    static let cookieName = "signoff_sso"
    static let loginLifetimeMilliseconds: Int64 = 600_000
    static let routes = ["GET /console/sso/start", "GET /console/sso/callback"]

    /// What the console needs of the configured issuer, or why single sign-on is not available.
    func issuer() async throws -> Result<(spec: IssuerSpec, metadata: IssuerMetadata, trustedAt: Int64), IdentityRejection> {
        guard let sso = handlers.configuration.singleSignOn else { return .failure(.init("single sign-on is not configured on this server")) }
        let state = try await handlers.service.directory()
        guard let trusted = state.issuers[sso.issuer], trusted.spec.uses.contains(.people) else {
            return .failure(.init("issuer \(sso.issuer) is not trusted for people (an administrator trusts it with a signed change: signoff issuer trust)"))
        }
        guard trusted.spec.audience == sso.clientID else {
            return .failure(.init("issuer \(sso.issuer) is trusted for audience \(trusted.spec.audience), not this server's client ID"))
        }
        do { return .success((trusted.spec, try await handlers.identity.metadata(of: trusted.spec), trusted.trustedAt)) } catch { return .failure(error) }
    }

    /// Where the provider sends the browser back.
    var redirectURI: String {
        let configuration = handlers.configuration
        let origin = configuration.publicURL ?? "http://\(configuration.host):\(configuration.listening.port ?? configuration.port)"
        return origin + "/console/sso/callback"
    }

    static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        String(Base64.encode(Array(bytes)).compactMap { c -> Character? in
            switch c {
            case "+": "-"
            case "/": "_"
            case "=": nil
            default: c
            }
        })
    }

    /// The PKCE verifier and the nonce of a login: derived from the browser's secret and the state, never stored.
    static func derived(secret: [UInt8], state: String) -> (verifier: String, nonce: String) {
        (
            base64URL(HMACSHA256.authenticate(Array("signoff-sso-pkce-v1\n\(state)".utf8), key: secret)),
            base64URL(HMACSHA256.authenticate(Array("signoff-sso-nonce-v1\n\(state)".utf8), key: secret))
        )
    }

    func ssoCookie(_ value: String, maxAge: Int) -> String {
        let secure = handlers.configuration.publicURL?.hasPrefix("https://") == true ? "; Secure" : ""
        // Lax: the provider's redirect back is a top-level navigation from another site.
        return "\(Self.cookieName)=\(value); Path=/console/sso; HttpOnly; SameSite=Lax; Max-Age=\(maxAge)\(secure)"
    }

    static func cookie(_ name: String, from request: Request) -> String? {
        guard let header = request.headers[.cookie] else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2, pair[0] == name, !pair[1].isEmpty { return pair[1] }
        }
        return nil
    }

    /// The refusal page. A failed callback counts toward the address's failed logins; a start that cannot begin (single
    /// sign-on not set up) does not.
    func refused(_ reason: String, context: SignoffRequestContext, status: HTTPResponse.Status = .badRequest, failedSignIn: Bool = true) async -> Response {
        context.logger.notice("single sign-on refused", metadata: ["reason": .string(reason)])
        if failedSignIn { try? await handlers.failuresPerAddress.record(context.clientAddress ?? "unknown") }
        // The sign-in's cookie stays: a refused callback (a forged state, say) must not end the sign-in under way in this browser.
        return console.page(
            ErrorPage(
                chrome: PageChrome("Sign-in refused"),
                message: "Sign-in refused: \(reason). Start again from the login page (/login), or ask an administrator if it repeats."),
            status: status)
    }

    func routes(into router: Router<SignoffRequestContext>) {
        let sso = self
        let h = handlers
        router.get("/console/sso/start") { _, context -> Response in
            // Each start writes a row: as many per address as login challenges.
            let address = context.clientAddress ?? "unknown"
            if let wait = try await h.challengesPerAddress.retryAfter(address) {
                throw Problem.tooManyRequests("too many sign-ins started from this address; try again in \(wait) s", retryAfter: wait)
            }
            try await h.challengesPerAddress.record(address)
            let found: (spec: IssuerSpec, metadata: IssuerMetadata, trustedAt: Int64)
            switch try await sso.issuer() {
            case .failure(let refusal): return await sso.refused(refusal.description, context: context, status: .notFound, failedSignIn: false)
            case .success(let issuer): found = issuer
            }
            guard let endpoint = found.metadata.authorization_endpoint, var url = URLComponents(string: endpoint), found.metadata.token_endpoint != nil else {
                return await sso.refused(
                    "issuer \(found.spec.name) announces no authorization or token endpoint", context: context, status: .badGateway, failedSignIn: false)
            }
            let secret = SecureRandom.bytes(32)
            let state = Self.base64URL(SecureRandom.bytes(32))
            let (verifier, nonce) = Self.derived(secret: secret, state: state)
            let now = h.service.now
            try await h.service.storage.coordination.insertLogin(
                stateHash: SHA256Digest.hash(Array(state.utf8)), issuer: found.spec.name, expiresAt: now + Self.loginLifetimeMilliseconds,
                forgetBefore: now)
            url.queryItems = (url.queryItems ?? []) + [
                URLQueryItem(name: "response_type", value: "code"), URLQueryItem(name: "client_id", value: found.spec.audience),
                URLQueryItem(name: "redirect_uri", value: sso.redirectURI), URLQueryItem(name: "scope", value: "openid email profile"),
                URLQueryItem(name: "state", value: state), URLQueryItem(name: "nonce", value: nonce),
                URLQueryItem(name: "code_challenge", value: Self.base64URL(SHA256Digest.hash(Array(verifier.utf8)).bytes)),
                URLQueryItem(name: "code_challenge_method", value: "S256"),
            ]
            guard let location = url.string else {
                return await sso.refused("the authorization URL could not be made", context: context, status: .badGateway, failedSignIn: false)
            }
            var response = console.redirect(location)
            response.headers.append(HTTPField(name: .setCookie, value: sso.ssoCookie(Self.base64URL(secret), maxAge: Int(Self.loginLifetimeMilliseconds / 1000))))
            context.logger.info("single sign-on started", metadata: ["issuer": .string(found.spec.name)])
            return response
        }
        router.get("/console/sso/callback") { request, context -> Response in
            let address = context.clientAddress ?? "unknown"
            if let wait = try await h.failuresPerAddress.retryAfter(address) {
                throw Problem.tooManyRequests("too many failed sign-ins; try again in \(wait) s", retryAfter: wait)
            }
            let query = request.uri.queryParameters
            if let error = query["error"] {
                let shown = String(error.prefix(100).filter { $0.isASCII && ($0.isLetter || $0.isNumber || "_-. ".contains($0)) })
                return await sso.refused("the identity provider answered \(shown)", context: context)
            }
            guard let code = query["code"].map(String.init), let state = query["state"].map(String.init), !code.isEmpty, !state.isEmpty else {
                return await sso.refused("the provider's answer has no code or state", context: context)
            }
            guard let cookie = Self.cookie(Self.cookieName, from: request), let secret = Base64.decodeLenient(
                cookie.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")), secret.count == 32
            else {
                return await sso.refused("this sign-in was not started in this browser (or took longer than 10 minutes)", context: context)
            }
            guard let issuerName = try await h.service.storage.coordination.consumeLogin(stateHash: SHA256Digest.hash(Array(state.utf8)), now: h.service.now) else {
                return await sso.refused("the sign-in's state is unknown, used or expired", context: context)
            }
            let found: (spec: IssuerSpec, metadata: IssuerMetadata, trustedAt: Int64)
            switch try await sso.issuer() {
            case .failure(let refusal): return await sso.refused(refusal.description, context: context)
            case .success(let issuer): found = issuer
            }
            guard found.spec.name == issuerName, let tokenEndpoint = found.metadata.token_endpoint.flatMap(URL.init(string:)) else {
                return await sso.refused("the sign-in was started with another issuer", context: context)
            }
            let (verifier, nonce) = Self.derived(secret: secret, state: state)
            let configuration = h.configuration.singleSignOn
            var fields = [
                ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", sso.redirectURI), ("code_verifier", verifier),
            ]
            var basic: (user: String, password: String)?
            if let secret = configuration?.clientSecret {
                basic = (found.spec.audience, secret)
            } else {
                fields.append(("client_id", found.spec.audience))
            }
            let answer: (status: Int, body: [UInt8])
            do { answer = try await URLSessionFetcher().postForm(tokenEndpoint, fields: fields, basicAuth: basic) } catch {
                return await sso.refused("the identity provider's token endpoint did not answer", context: context, status: .badGateway)
            }
            struct TokenAnswer: Decodable { let id_token: String? }
            guard answer.status == 200, let idToken = (try? JSONDecoder().decode(TokenAnswer.self, from: Data(answer.body)))?.id_token else {
                return await sso.refused("the identity provider refused the code (used before, expired, or not this sign-in's)", context: context)
            }
            let verified: VerifiedIDToken
            do { verified = try await h.identity.verify(idToken, use: .people, issuers: [found.spec], nonce: nonce) } catch {
                return await sso.refused(String(describing: error), context: context)
            }
            let name: String
            switch found.spec.person(from: verified.claims) {
            case .failure(let refusal): return await sso.refused(refusal.description, context: context)
            case .success(let person): name = person
            }
            let directory = try await h.service.directory()
            guard let person = directory.principals[name], person.kind == .user else {
                return await sso.refused("\(name) is not a Signoff user (an administrator adds people; signing in adds nobody)", context: context, status: .forbidden)
            }
            guard !person.disabled else { return await sso.refused("\(name) is disabled in Signoff", context: context, status: .forbidden) }
            let issued = try await h.auth.issueToken(
                for: name, kind: .session, scopes: [], lifetimeMilliseconds: h.configuration.sessionLifetimeMilliseconds,
                keyFingerprint: TokenRecord.singleSignOnMarker(issuer: found.spec.name, trustedAt: found.trustedAt))
            context.logger.info("single sign-on", metadata: ["user": .string(name), "token_id": .string(issued.record.id), "issuer": .string(found.spec.name)])
            // A page of this origin moves on (a SameSite=Strict cookie is not sent on the provider's cross-site redirect
            // chain): to the setup of this browser's key when it has none for the person, else to the inbox.
            let hasKey = person.keys.contains { $0.counts(signedAt: h.service.now) }
            var response = console.page(SignedInPage(signedIn: name, issuer: found.spec.name, next: hasKey ? "/inbox" : "/setup?user=\(name)", hasKey: hasKey))
            response.headers.append(HTTPField(name: .setCookie, value: console.cookie(issued.token, maxAge: Int(h.configuration.sessionLifetimeMilliseconds / 1000))))
            response.headers.append(HTTPField(name: .setCookie, value: sso.ssoCookie("", maxAge: 0)))
            return response
        }
    }
}
