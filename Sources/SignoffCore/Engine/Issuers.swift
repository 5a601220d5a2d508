internal import Foundation
public import SignoffCrypto
internal import Yams

/// What an OpenID Connect issuer is trusted for: signing people in (the console's single sign-on), vouching for
/// pipelines (CI jobs presenting their own ID tokens instead of stored service tokens), or both.
public enum IssuerUse: String, Hashable, Sendable, Codable, CaseIterable {
    case people
    case pipelines
}

/// The ID-token claim that names a person: its value is the Signoff user name (for `email`, the part before `@`, and
/// only at the issuer's `email_domain`, with `email_verified` not false).
public enum PersonClaim: String, Hashable, Sendable, Codable, CaseIterable {
    case sub
    case email
    case preferredUsername = "preferred_username"
}

/// One rule of a pipeline issuer: an ID token whose claims all match `claims` acts as `service_account` with `scopes`
/// (the scopes of a service token). A value matches exactly, or — ending in `*` — by the prefix before it.
public struct PipelineRule: Hashable, Sendable, Codable {
    public let claims: [String: String]
    public let serviceAccount: String
    /// Sorted.
    public let scopes: [String]

    public init(claims: [String: String], serviceAccount: String, scopes: [String]) {
        self.claims = claims
        self.serviceAccount = serviceAccount
        self.scopes = scopes.sorted()
    }

    enum CodingKeys: String, CodingKey {
        case claims, scopes
        case serviceAccount = "service_account"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            claims: try c.decode([String: String].self, forKey: .claims), serviceAccount: try c.decode(String.self, forKey: .serviceAccount),
            scopes: try c.decode([String].self, forKey: .scopes))
    }

    /// Whether every claim the rule names is present, a string, and matches.
    public func matches(_ presented: [String: String]) -> Bool {
        claims.allSatisfy { name, pattern in
            guard let value = presented[name] else { return false }
            if pattern.hasSuffix("*") { return value.hasPrefix(pattern.dropLast()) }
            return value == pattern
        }
    }
}

/// An OpenID Connect issuer as administrators trust it (a signed administrative change, `issuer.trust`). Secrets —
/// the console's client secret — are server configuration, never here.
public struct IssuerSpec: Hashable, Sendable, Codable {
    /// Signoff's name for it (`corp-sso`, `github`): a name.
    public let name: String
    /// The issuer identifier, exactly as its ID tokens' `iss` and its discovery document say.
    public let url: String
    /// The `aud` its ID tokens must name: the console's client ID for people, the audience pipelines ask for.
    public let audience: String
    /// Sorted, each once.
    public let uses: [IssuerUse]
    /// For `people`: the claim naming the user.
    public let personClaim: PersonClaim?
    /// For `person_claim: email`: the only domain whose addresses name users.
    public let emailDomain: String?
    /// For `pipelines`: the rules, first match wins.
    public let pipelines: [PipelineRule]

    public init(
        name: String, url: String, audience: String, uses: [IssuerUse], personClaim: PersonClaim? = nil, emailDomain: String? = nil,
        pipelines: [PipelineRule] = []
    ) {
        self.name = name
        self.url = url
        self.audience = audience
        self.uses = Array(Set(uses)).sorted { $0.rawValue < $1.rawValue }
        self.personClaim = personClaim
        self.emailDomain = emailDomain
        self.pipelines = pipelines
    }

    enum CodingKeys: String, CodingKey {
        case name, url, audience, uses, pipelines
        case personClaim = "person_claim"
        case emailDomain = "email_domain"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try c.decode(String.self, forKey: .name), url: try c.decode(String.self, forKey: .url),
            audience: try c.decode(String.self, forKey: .audience), uses: try c.decode([IssuerUse].self, forKey: .uses),
            personClaim: try c.decodeIfPresent(PersonClaim.self, forKey: .personClaim), emailDomain: try c.decodeIfPresent(String.self, forKey: .emailDomain),
            pipelines: try c.decodeIfPresent([PipelineRule].self, forKey: .pipelines) ?? [])
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(url, forKey: .url)
        try c.encode(audience, forKey: .audience)
        try c.encode(uses, forKey: .uses)
        try c.encodeIfPresent(personClaim, forKey: .personClaim)
        try c.encodeIfPresent(emailDomain, forKey: .emailDomain)
        if !pipelines.isEmpty { try c.encode(pipelines, forKey: .pipelines) }
    }

    /// Why the claims name no user, or the user they name. (Whether that user exists and is enabled is the caller's.)
    public func person(from claims: [String: String]) -> Result<String, IdentityRejection> {
        guard uses.contains(.people), let personClaim else { return .failure(.init("issuer \(name) is not trusted to sign people in")) }
        guard let value = claims[personClaim.rawValue] else { return .failure(.init("the ID token has no \(personClaim.rawValue) claim")) }
        var name = value
        if personClaim == .email {
            guard claims["email_verified"] != "false", claims["email_verified"] != "0" else { return .failure(.init("the ID token's email is not verified")) }
            let parts = value.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, let domain = emailDomain, parts[1].lowercased() == domain.lowercased() else {
                return .failure(.init("the ID token's email is not at \(emailDomain ?? "the issuer's domain")"))
            }
            name = String(parts[0])
        }
        guard Engine.isValidName(name) else { return .failure(.init("the ID token's \(personClaim.rawValue) names no possible Signoff user")) }
        return .success(name)
    }

    /// The first rule whose claims match, or why none does.
    public func pipelineRule(for claims: [String: String]) -> Result<PipelineRule, IdentityRejection> {
        guard uses.contains(.pipelines) else { return .failure(.init("issuer \(name) is not trusted to vouch for pipelines")) }
        guard let rule = pipelines.first(where: { $0.matches(claims) }) else {
            // What the token said of the claims the rules read, so that a fork or a wrong branch is seen at once.
            let names = Set(pipelines.flatMap(\.claims.keys)).sorted()
            let said = names.map { name in
                "\(name)=" + (claims[name].map { $0.utf8.count <= 100 && $0.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) ? $0 : "(not shown)" } ?? "(absent)")
            }
            return .failure(.init("the ID token's claims (\(said.joined(separator: ", "))) match none of issuer \(name)'s pipeline rules"))
        }
        return .success(rule)
    }
}

/// Why an ID token is not accepted, in words safe to show its presenter (never the token).
public struct IdentityRejection: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// An issuer administrators trust, as the state holds it.
public struct TrustedIssuer: Hashable, Sendable, Codable {
    public let spec: IssuerSpec
    public let trustedBy: String
    public let trustedAt: Int64

    enum CodingKeys: String, CodingKey {
        case spec
        case trustedBy = "trusted_by"
        case trustedAt = "trusted_at"
    }
}

extension BundleSource {
    /// What a CI platform's verified ID-token claims say of the run: GitHub Actions (`repository`, `run_id`, `sha`,
    /// `ref`, `actor`) or GitLab CI (`project_path`, `pipeline_id`, `sha`, `ref`, `user_login`). `verified_by` names the
    /// trusted issuer; fields a claim does not give stay nil. Values that would not pass ``problems()`` are left out.
    public static func fromClaims(_ claims: [String: String], issuer: IssuerSpec) -> BundleSource {
        var source = BundleSource()
        source.verifiedBy = issuer.name
        let base = issuer.url.hasSuffix("/") ? String(issuer.url.dropLast()) : issuer.url
        if let repository = claims["repository"], let run = claims["run_id"] {
            source.system = "github-actions"
            // GitHub's issuer is token.actions.githubusercontent.com, its runs on github.com; GitHub Enterprise Server's is
            // https://HOST/_services/token. Another issuer with GitHub-shaped claims gets no links: where its runs are is
            // not known.
            let server: String? =
                base == "https://token.actions.githubusercontent.com" ? "https://github.com"
                : base.hasSuffix("/_services/token") ? String(base.dropLast("/_services/token".count)) : nil
            if let server {
                source.runURL = "\(server)/\(repository)/actions/runs/\(run)"
                if let sha = claims["sha"] { source.commitURL = "\(server)/\(repository)/commit/\(sha)" }
            }
            source.triggeredBy = claims["actor"]
        } else if let project = claims["project_path"], let pipeline = claims["pipeline_id"] {
            source.system = "gitlab"
            source.runURL = "\(base)/\(project)/-/pipelines/\(pipeline)"
            if let sha = claims["sha"] { source.commitURL = "\(base)/\(project)/-/commit/\(sha)" }
            source.triggeredBy = claims["user_login"]
        }
        source.commit = claims["sha"]
        source.ref = claims["ref"]
        // Keep what is valid; a claim the source's rules refuse is left out rather than trusted in another shape.
        for name in Self.fieldNames {
            var one = BundleSource()
            _ = one.set(name, source.value(of: name))
            if !one.problems().isEmpty { _ = source.set(name, nil) }
        }
        return source
    }

    /// The fields an ID token's claims speak for: with a verified source they come from the token only (a declared one
    /// is dropped), so that `verified_by` covers exactly them; `change_url` and `bundle_id` stay the caller's word.
    public static let verifiableFieldNames = ["system", "run_url", "commit", "commit_url", "ref", "triggered_by"]

    /// The declared source with the verified one over it: the fields a token speaks for are the token's (a ref written
    /// `main` by the CI's variables is `refs/heads/main` in its claims; a declared one the claims lack is dropped), but a
    /// declared commit must be the token's (refused otherwise: the pipeline declares one build while its ID token says
    /// another).
    public func merged(withVerified verified: BundleSource) -> Result<BundleSource, IdentityRejection> {
        var out = self
        for name in Self.verifiableFieldNames {
            let proven = verified.value(of: name)
            if name == "commit", let declared = value(of: name), declared != proven {
                return .failure(.init("the declared source's commit (\(declared)) is not what the ID token says (\(proven ?? "none"))"))
            }
            _ = out.set(name, proven)
        }
        out.verifiedBy = verified.verifiedBy
        return .success(out)
    }
}

extension Engine {
    /// An issuer URL: https, or http to a loopback address only (a local provider, a test); no credentials, query or
    /// fragment.
    static func validIssuerURL(_ text: String) throws {
        guard text.utf8.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty,
            url.user == nil, url.password == nil, url.query == nil, url.fragment == nil, BundleSource.isLink(text)
        else {
            throw Refusal(.inputText, "the issuer URL must be an absolute https:// URL of at most 2048 bytes, without credentials, query or fragment")
        }
        let loopback = PrivateNetwork.range(ofHost: host).map { $0.contains("loopback") } ?? false
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw Refusal(.inputText, "an issuer URL must be https:// (plain http only to a loopback address, for a local provider)")
        }
    }

    static func trustIssuer(_ spec: IssuerSpec, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        guard isValidName(spec.name) else { throw Refusal(.inputText, "an issuer's name is a name (1–63 of a-z 0-9 . _ -)") }
        try validIssuerURL(spec.url)
        guard !spec.audience.isEmpty, spec.audience.utf8.count <= 255 else { throw Refusal(.inputText, "the audience must be 1–255 bytes") }
        try validLine(spec.audience, what: "the audience")
        func bare(_ url: String) -> String { url.hasSuffix("/") ? String(url.dropLast()).lowercased() : url.lowercased() }
        if let other = state.issuers.values.first(where: { bare($0.spec.url) == bare(spec.url) && $0.spec.name != spec.name }) {
            throw Refusal(.inputDuplicate, "\(spec.url) is already trusted as \(other.spec.name): change that one (trust it again under its name)")
        }
        guard !spec.uses.isEmpty else { throw Refusal(.inputText, "an issuer is trusted for people, pipelines or both") }
        if spec.uses.contains(.people) {
            guard let claim = spec.personClaim else { throw Refusal(.inputText, "an issuer trusted for people needs person_claim (sub, email or preferred_username)") }
            if claim == .email {
                guard let domain = spec.emailDomain, !domain.isEmpty, domain.utf8.count <= 253,
                    domain.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") })
                else {
                    throw Refusal(.inputText, "person_claim email needs email_domain: only that domain's addresses name users (the part before @)")
                }
            } else if spec.emailDomain != nil {
                throw Refusal(.inputText, "email_domain applies only to person_claim email")
            }
        } else if spec.personClaim != nil || spec.emailDomain != nil {
            throw Refusal(.inputText, "person_claim and email_domain apply only to an issuer trusted for people")
        }
        if spec.uses.contains(.pipelines) {
            guard !spec.pipelines.isEmpty else { throw Refusal(.inputText, "an issuer trusted for pipelines needs at least one pipeline rule") }
        } else if !spec.pipelines.isEmpty {
            throw Refusal(.inputText, "pipeline rules apply only to an issuer trusted for pipelines")
        }
        guard spec.pipelines.count <= 100 else { throw Refusal(.inputText, "at most 100 pipeline rules") }
        for rule in spec.pipelines {
            // A rule with no claim, or only wildcards, would let every job of the provider in (every repository of github.com).
            guard !rule.claims.isEmpty, rule.claims.values.contains(where: { !$0.hasSuffix("*") }) else {
                throw Refusal(.inputText, "a pipeline rule names at least one claim matched exactly (the repository or project path), not only prefixes")
            }
            for (name, value) in rule.claims {
                guard !name.isEmpty, name.utf8.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                    throw Refusal(.inputText, "a claim's name is 1–64 ASCII letters, digits or _")
                }
                guard !["iss", "aud", "exp", "nbf", "iat", "nonce", "jti"].contains(name) else {
                    throw Refusal(.inputText, "claim \(name) is checked by the verifier itself; a rule matches the job's claims (repository, ref, environment, …)")
                }
                guard !value.isEmpty, value != "*", value.utf8.count <= 255, value.dropLast().allSatisfy({ $0 != "*" }) else {
                    throw Refusal(.inputText, "claim \(name): a value is matched exactly, or by a prefix ending in one final * (not * alone)")
                }
                try validLine(value, what: "claim \(name)")
                // `acme/churn-model*` would let `acme/churn-model-evil` in: a repository or project path is matched
                // whole, or as all of an owner's (`acme/*`).
                if ["repository", "project_path", "namespace_path", "repository_owner"].contains(name), value.hasSuffix("*"), !value.hasSuffix("/*") {
                    throw Refusal(.inputText, "claim \(name): a prefix must end at a path segment (OWNER/*), else acme/x* would also match acme/x-evil")
                }
            }
            guard let account = state.principals[rule.serviceAccount], account.kind == .serviceAccount else {
                throw Refusal(.inputUnknown, "no service account \(rule.serviceAccount)")
            }
            try validScopes(rule.scopes, state: state)
        }
        return [.issuerTrusted(.init(issuer: spec, approval: approval))]
    }

    static func distrustIssuer(name: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        guard state.issuers[name] != nil else { throw Refusal(.inputUnknown, "no trusted issuer \(name); `signoff issuer list` shows them") }
        return [.issuerDistrusted(.init(name: name, approval: approval))]
    }
}

extension IssuerSpec {
    /// An issuer file (YAML, or JSON, which is YAML): the fields of ``IssuerSpec`` as written in JSON, nothing else — an
    /// unknown key is refused, not ignored (a misspelt `pipelines` would trust an issuer for nothing, or for more).
    public static func parse(_ text: String, file: String) throws -> IssuerSpec {
        let node: Any?
        do { node = try Yams.load(yaml: text) } catch { throw Refusal(.inputText, "\(file) is not YAML: \(error)") }
        guard let top = node as? [String: Any] else { throw Refusal(.inputText, "\(file) must be a mapping of an issuer's fields") }
        let known: Set<String> = ["name", "url", "audience", "uses", "person_claim", "email_domain", "pipelines"]
        if let unknown = top.keys.sorted().first(where: { !known.contains($0) }) {
            throw Refusal(.inputText, "\(file): unknown field \(unknown) (fields: \(known.sorted().joined(separator: ", ")))")
        }
        for (index, rule) in ((top["pipelines"] as? [Any]) ?? []).enumerated() {
            guard let rule = rule as? [String: Any] else { throw Refusal(.inputText, "\(file): pipelines[\(index)] must be a mapping") }
            if let unknown = rule.keys.sorted().first(where: { !["claims", "service_account", "scopes"].contains($0) }) {
                throw Refusal(.inputText, "\(file): pipelines[\(index)] has the unknown field \(unknown) (fields: claims, service_account, scopes)")
            }
        }
        do {
            return try YAMLDecoder().decode(IssuerSpec.self, from: text)
        } catch {
            throw Refusal(.inputText, "\(file) is not an issuer: \(error)")
        }
    }
}
