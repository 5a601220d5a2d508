import Foundation
import Hummingbird
import Logging
import SignoffAPI
import SignoffAudit
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffService

/// Users, keys, service accounts, groups, workflows and projects. The engine checks that the caller may.
struct AdministrationController {
    let handlers: Handlers

    var routes: RouteCollection<SignoffRequestContext> {
        let routes = RouteCollection(context: SignoffRequestContext.self)
        let h = handlers
        routes.post("/users") { request, context -> Response in
            let body = try await request.decode(as: PrincipalBody.self, context: context)
            let key = try body.verifier_key.map { try h.verifierKey($0, field: "verifier_key") }
            return try await h.respond(.addUser(name: body.name, administrator: body.administrator ?? false, key: key, approval: body.approval), context)
        }
        routes.post("/users/{name}/keys") { request, context -> Response in
            let body = try await request.decode(as: KeyBody.self, context: context)
            let key = try h.verifierKey(body.verifier_key, field: "verifier_key")
            let name = try h.parameter("name", context)
            if let proof = body.proof {
                // Self-enrolment: only for oneself, in one's own session (a service token never adds keys).
                guard body.approval == nil else { throw Problem.badRequest("a key is enrolled with an administrators' approval or its owner's proof, not both") }
                guard name == (try h.principal(context)), context.token?.kind == .session else {
                    throw Problem.forbidden("a person adds only their own keys, logged in with their key", rule: .adminRequired)
                }
                return try await h.respond(.enrollOwnKey(key: key, proof: proof), context)
            }
            return try await h.respond(.enrollKey(principal: name, key: key, approval: body.approval), context)
        }
        routes.post("/users/{name}/keys/{fingerprint}/revoke") { request, context -> Response in
            let body = try await request.decode(as: RevokeKeyBody.self, context: context)
            let since = try body.compromised_since.map { text in
                guard let ms = Timestamps.milliseconds(rfc3339: text) else { throw Problem.badRequest("compromised_since must be an RFC 3339 time") }
                return ms
            }
            let command = Command.revokeKey(
                principal: try h.parameter("name", context), fingerprint: try h.parameter("fingerprint", context), compromisedSince: since, approval: body.approval)
            return try await h.respond(command, context)
        }
        routes.post("/service-accounts") { request, context -> Response in
            let body = try await request.decode(as: PrincipalBody.self, context: context)
            let key = try body.verifier_key.map { try h.verifierKey($0, field: "verifier_key") }
            return try await h.respond(.addServiceAccount(name: body.name, key: key, approval: body.approval), context)
        }
        routes.post("/principals/{name}/disable") { request, context -> Response in
            let body = try await request.decode(as: ApprovalBody.self, context: context)
            return try await h.respond(.disablePrincipal(name: try h.parameter("name", context), approval: body.approval), context, strict: try Handlers.strict(request))
        }
        routes.post("/principals/{name}/enable") { request, context -> Response in
            let body = try await request.decode(as: ApprovalBody.self, context: context)
            return try await h.respond(.enablePrincipal(name: try h.parameter("name", context), approval: body.approval), context)
        }
        routes.post("/groups") { request, context -> Response in
            let body = try await request.decode(as: GroupBody.self, context: context)
            return try await h.respond(.createGroup(name: body.name, approval: body.approval), context)
        }
        routes.post("/groups/{name}/members") { request, context -> Response in
            let body = try await request.decode(as: MemberBody.self, context: context)
            return try await h.respond(.addMember(group: try h.parameter("name", context), member: body.member, approval: body.approval), context)
        }
        routes.post("/groups/{name}/members/remove") { request, context -> Response in
            let body = try await request.decode(as: MemberBody.self, context: context)
            return try await h.respond(
                .removeMember(group: try h.parameter("name", context), member: body.member, approval: body.approval), context, strict: try Handlers.strict(request))
        }
        routes.post("/workflows") { request, context -> Response in
            let body = try await request.decode(as: WorkflowBody.self, context: context)
            return try await h.respond(.applyWorkflow(source: body.source, file: body.file ?? "workflow.yaml", approval: body.approval), context)
        }
        routes.post("/projects") { request, context -> Response in
            let body = try await request.decode(as: ProjectBody.self, context: context)
            return try await h.respond(.createProject(body.spec, approval: body.approval), context, strict: try Handlers.strict(request))
        }
        routes.post("/projects/{key}") { request, context -> Response in
            let body = try await request.decode(as: ProjectBody.self, context: context)
            guard body.key == (try h.parameter("key", context)) else { throw Problem.badRequest("the body's key must be the project in the path") }
            return try await h.respond(.updateProject(body.spec, approval: body.approval), context, strict: try Handlers.strict(request))
        }
        routes.post("/freezes") { request, context -> Response in
            let body = try await request.decode(as: FreezeBody.self, context: context)
            guard let from = Timestamps.milliseconds(rfc3339: body.from), let until = Timestamps.milliseconds(rfc3339: body.until) else {
                throw Problem.badRequest("from and until must be RFC 3339 times")
            }
            let spec = FreezeSpec(environment: body.environment, project: body.project, from: from, until: until, reason: body.reason)
            return try await h.respond(.addFreeze(spec, approval: body.approval), context, status: .created)
        }
        // OpenID Connect issuers: trusting one is a signed administrative change (issuer.trust); the list is public to
        // every session (it says who may sign people in and which jobs act as which service account, never a secret).
        routes.post("/issuers") { request, context -> Response in
            let body = try await request.decode(as: IssuerBody.self, context: context)
            return try await h.respond(.trustIssuer(body.issuer, approval: body.approval), context, status: .created)
        }
        routes.post("/issuers/{name}/distrust") { request, context -> Response in
            let body = try await request.decode(as: ApprovalBody.self, context: context)
            return try await h.respond(.distrustIssuer(name: try h.parameter("name", context), approval: body.approval), context)
        }
        // Connected directories (SCIM): connecting is signed in every ledger and answers with the directory's token once.
        routes.post("/directories") { request, context -> Response in
            let body = try await request.decode(as: DirectoryBody.self, context: context)
            guard let token = context.token, token.kind == .session, !token.isKeyless else {
                throw Problem.forbidden("a directory is connected by an administrator logged in with their key", rule: .adminRequired)
            }
            let minted = h.auth.mintDirectoryToken(for: body.name)
            let id = minted.record.id
            _ = try await h.run(.connectDirectory(name: body.name, tokenID: id, approval: body.approval), context, storing: minted) { _ in
                Handlers.secretShownOnce(
                    "directory \(body.name) was connected by the first call with this Idempotency-Key, and its token is shown once: disconnect it and connect it again")
            }
            context.logger.info("directory connected", metadata: ["directory": .string(body.name), "issued_token_id": .string(id)])
            return try h.json(TokenResponse(token: minted.token, token_id: id, expires_at: Timestamps.rfc3339(minted.record.expiresAt)), status: .created)
        }
        routes.get("/directories") { _, context -> Response in
            let state = try await h.directoryReader(context)
            return try h.json(ItemList(state.directories.values.sorted { $0.name < $1.name }.map { DirectoryView($0, state: state) }))
        }
        routes.post("/directories/{name}/disconnect") { request, context -> Response in
            let body = try await request.decode(as: ApprovalBody.self, context: context)
            return try await h.respond(.disconnectDirectory(name: try h.parameter("name", context), approval: body.approval), context)
        }
        routes.post("/groups/{name}/directory") { request, context -> Response in
            let body = try await request.decode(as: GroupLinkBody.self, context: context)
            return try await h.respond(.linkGroup(group: try h.parameter("name", context), directory: body.directory, approval: body.approval), context)
        }
        // Which repository and branch act as which service account is a map of what to take over: administrators and
        // auditors only, as the other rules are (red team: any user listed them).
        routes.get("/issuers") { _, context -> Response in
            let state = try await h.directoryReader(context)
            return try h.json(ItemList(state.issuers.values.sorted { $0.spec.name < $1.spec.name }.map(IssuerView.init)))
        }
        routes.post("/freezes/{id}/exemptions") { request, context -> Response in
            let body = try await request.decode(as: FreezeExemptionBody.self, context: context)
            return try await h.respond(.exemptFromFreeze(id: try h.parameter("id", context), request: body.request, reason: body.reason, approval: body.approval), context)
        }
        routes.post("/freezes/{id}/lift") { request, context -> Response in
            let body = try await request.decode(as: ApprovalBody.self, context: context)
            return try await h.respond(.liftFreeze(id: try h.parameter("id", context), approval: body.approval), context)
        }
        // Freezes bind everyone: any session sees those of every project it may read, and the organisation-wide ones.
        routes.get("/freezes") { _, context -> Response in
            let state = try await h.service.state()
            let caller = try h.principal(context)
            let now = h.service.now
            let visible = Directory.freezes(in: state, now: now).filter { f in
                f.project.map { Access.mayRead(project: $0, principal: caller, state: state, now: now) } ?? true
            }
            return try h.json(ItemList(visible))
        }
        routes.post("/delegations") { request, context -> Response in
            let body = try await request.decode(as: DelegationBody.self, context: context)
            guard context.token?.kind == .session else { throw Problem.forbidden("a person delegates, with their own session", rule: .delegationInvalid) }
            guard let from = Timestamps.milliseconds(rfc3339: body.from), let until = Timestamps.milliseconds(rfc3339: body.until) else {
                throw Problem.badRequest("from and until must be RFC 3339 times")
            }
            let spec = DelegationSpec(delegate: body.delegate, start: from, end: until, project: body.project, role: body.role)
            return try await h.respond(.delegate(spec, envelope: body.envelope), context, status: .created)
        }
        routes.post("/delegations/{id}/revoke") { request, context -> Response in
            let body = try await request.decodeOptional(as: ApprovalBody.self, context: context)
            return try await h.respond(.revokeDelegation(id: try h.parameter("id", context), approval: body?.approval), context)
        }
        // A person sees the delegations they gave or received; administrators and auditors see all.
        routes.get("/delegations") { _, context -> Response in
            let state = try await h.service.state()
            let caller = try h.principal(context)
            let everything = state.principals[caller]?.isAdministrator == true || state.isMember(caller, of: Access.auditorsGroup)
            let visible = Directory.delegations(in: state, now: h.service.now).filter { everything || $0.from == caller || $0.delegate == caller }
            return try h.json(ItemList(visible))
        }
        routes.post("/admin-quorum") { request, context -> Response in
            let body = try await request.decode(as: QuorumBody.self, context: context)
            return try await h.respond(.setAdminQuorum(body.quorum, approval: body.approval), context)
        }

        // Who exists and what the rules are: administrators and auditors (the `auditors` group); a user sees themself.
        // Chat handles: the person's own (in their session) or, for an administrator, anyone's. Not in the ledger.
        routes.put("/users/{name}/chat") { request, context -> Response in
            let body = try await request.decode(as: ChatHandlesBody.self, context: context)
            let name = try h.parameter("name", context)
            // Another person's handles only from a session a key obtained (``ChatHandles/refusal(principal:actor:keyless:state:)``).
            let keyless = context.token?.isKeyless == true
            switch try await h.service.setChatHandles(ChatHandles(slack: body.slack, teams: body.teams), of: name, as: try h.principal(context), keyless: keyless) {
            case .success(let handles): return try h.json(ChatHandlesView(principal: name, handles))
            case .failure(let refusal): throw Problem.refused(refusal)
            }
        }
        routes.get("/users/{name}/chat") { _, context -> Response in
            let name = try h.parameter("name", context)
            switch try await h.service.chatHandles(of: name, as: try h.principal(context)) {
            case .success(let handles): return try h.json(ChatHandlesView(principal: name, handles))
            case .failure(let refusal): throw Problem.refused(refusal)
            }
        }
        routes.get("/users") { _, context -> Response in
            let state = try await h.directoryReader(context)
            return try h.json(ItemList(Directory.principals(.user, in: state)))
        }
        routes.get("/service-accounts") { _, context -> Response in
            let state = try await h.directoryReader(context)
            return try h.json(ItemList(Directory.principals(.serviceAccount, in: state)))
        }
        routes.get("/principals/{name}") { _, context -> Response in
            let name = try h.parameter("name", context)
            let state = try await h.directoryReader(context, allowing: name)
            guard let principal = state.principals[name] else { throw Problem.notFound("no user or service account \(name)") }
            return try h.json(PrincipalView(principal, state: state))
        }
        routes.get("/groups") { _, context -> Response in
            let state = try await h.directoryReader(context)
            return try h.json(ItemList(Directory.groups(in: state)))
        }
        routes.get("/groups/{name}") { _, context -> Response in
            let state = try await h.directoryReader(context)
            let name = try h.parameter("name", context)
            guard let group = Directory.group(name, in: state) else { throw Problem.notFound("no group \(name)") }
            return try h.json(group)
        }
        routes.get("/projects") { _, context -> Response in
            let state = try await h.directoryReader(context)
            return try h.json(ItemList(Directory.projects(in: state)))
        }
        // A project's definition: for administrators and auditors, and for whoever may read its requests (its roles'
        // holders, its administrators among them).
        routes.get("/projects/{key}") { _, context -> Response in
            let key = try h.parameter("key", context)
            let state = try await h.service.state()
            let caller = try h.principal(context)
            guard context.token?.kind == .session, Access.mayRead(project: key, principal: caller, state: state, now: h.service.now) else {
                throw Problem.forbidden("only administrators, auditors and the holders of \(key)'s roles may read its definition", rule: .adminRequired)
            }
            guard let project = state.projects[key] else { throw Problem.notFound("no project \(key)") }
            return try h.json(ProjectView(project))
        }
        // The access review (who can act on each duty now, at a time, what was done in a period): administrators,
        // auditors and the project's administrators; JSON, or CSV with `format=csv`.
        routes.get("/projects/{key}/access-review") { request, context -> Response in
            let key = try h.parameter("key", context)
            let review = try await h.accessReview(project: key, query: request, context)
            if request.uri.queryParameters["format"] == "csv" {
                return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: review.csv)))
            }
            return try h.json(review)
        }
        routes.get("/workflows") { _, context -> Response in
            let state = try await h.directoryReader(context)
            return try h.json(ItemList(Directory.workflows(in: state)))
        }
        routes.get("/workflows/{name}") { _, context -> Response in
            let name = try h.parameter("name", context)
            guard let workflow = WorkflowResponse(name: name, state: try await h.service.state()) else {
                throw Problem.notFound("no workflow \(name) is applied")
            }
            return try h.json(workflow)
        }
        return routes
    }
}
