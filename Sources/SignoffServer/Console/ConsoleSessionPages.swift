import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SignoffAPI
import SignoffCore
import SignoffCrypto
import SignoffIdentity
import SignoffLedger
import SignoffService

/// The console's way in and out: its static files, the login page, setting up a browser key, the cookie login and logout.
struct ConsoleSessionPages {
    let console: ConsoleController

    func routes(into router: Router<SignoffRequestContext>) {
        let h = console.handlers
        let console = console
        router.get("/static/{file}") { _, context -> Response in
            guard let file = context.parameters.get("file"), let asset = console.assets[file] else { return Response(status: .notFound, headers: ConsoleController.headers("text/plain")) }
            var headers = ConsoleController.headers(asset.type)
            headers[.cacheControl] = "no-cache"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
        }
        router.get("/") { request, _ -> Response in
            try await console.session(request) == nil ? console.redirect("/login") : console.redirect("/inbox")
        }
        router.get("/login") { request, _ -> Response in
            // Single sign-on, when configured: a link to start it, and after a logout the provider's own sign-out.
            guard let sso = h.configuration.singleSignOn else { return console.page(LoginPage(ssoIssuer: nil, endSession: nil)) }
            var endSession: String?
            if request.uri.queryParameters["signed-out"] != nil, case .success(let found)? = try? await SingleSignOn(handlers: h, console: console).issuer() {
                endSession = found.metadata.end_session_endpoint.flatMap { BundleSource.isLink($0) ? $0 : nil }
            }
            return console.page(LoginPage(ssoIssuer: nonEmpty(sso.issuer), endSession: endSession))
        }
        router.get("/setup") { request, _ -> Response in
            let user = request.uri.queryParameters["user"].map(String.init).flatMap { Engine.isValidName($0) ? $0 : nil }
            return console.page(SetupPage(setupUser: user))
        }
        SingleSignOn(handlers: h, console: console).routes(into: router)
        // Logging in: the challenge the browser's key signed (as for `/v1/auth/token`), answered with a cookie.
        router.post("/console/login") { request, context -> Response in
            try console.requireSameOrigin(request)
            let body = try await request.decode(as: TokenRequest.self, context: context)
            let issued = try await h.login(body, context: context)
            var headers = ConsoleController.headers("application/json")
            headers[.setCookie] = console.cookie(issued.token, maxAge: Int(h.configuration.sessionLifetimeMilliseconds / 1000))
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{\"user\":\"\(issued.record.principal)\"}")))
        }
        // Logging out revokes the session, not only the cookie.
        router.post("/console/logout") { request, context -> Response in
            if let (record, token) = try await console.session(request) {
                try console.requireSameOrigin(request)
                try await console.requireCSRF(request, token: token, context: context)
                _ = try await h.auth.revoke(tokenID: record.id)
                context.logger.info("console logout", metadata: ["user": .string(record.principal), "token_id": .string(record.id)])
            }
            var response = console.redirect("/login?signed-out")
            response.headers[.setCookie] = console.cookie("", maxAge: 0)
            return response
        }
    }

}
