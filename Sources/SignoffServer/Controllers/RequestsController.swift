import Foundation
import Hummingbird
import Logging
import SignoffAPI
import SignoffAudit
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffService

/// Deployment requests: filing, reading, explaining, the gate, evidence, decisions, revisions and deployments.
struct RequestsController {
    let handlers: Handlers

    var routes: RouteCollection<SignoffRequestContext> {
        let routes = RouteCollection(context: SignoffRequestContext.self)
        let h = handlers
        routes.get("/requests") { request, context -> Response in
            let state = try await h.service.state()
            let caller = try h.principal(context)
            let q = request.uri.queryParameters
            var olderThan: Int64?
            if let text = q.get("older_than") {
                guard let seconds = WorkflowParser.seconds(ofDuration: text) else { throw Problem.badRequest("older_than must be a duration such as 90s, 30m, 24h or 7d") }
                olderThan = seconds
            }
            let query = RequestQuery(
                project: q.get("project"), environment: q.get("environment"), state: q.get("state"), requester: q.get("requester"),
                olderThanSeconds: olderThan, waitingFor: q.get("waiting_for"))
            if let problem = query.problem(in: state) { throw Problem.badRequest(problem) }
            // Someone else's inbox is theirs: administrators and auditors may look (to chase what is stuck), nobody else.
            if let person = query.waitingFor, person != caller,
                context.token?.kind != .session || !(state.principals[caller]?.isAdministrator == true || state.isMember(caller, of: Access.auditorsGroup))
            {
                throw Problem.forbidden("waiting_for names someone else: only administrators and auditors may see another person's inbox", rule: .adminRequired)
            }
            let rows = query.select(from: state, now: h.service.now) { r in
                Access.mayRead(project: r.project, principal: caller, state: state, now: h.service.now)
                    && (context.token?.kind != .service || (try? h.requireScope("read", project: r.project, context)) != nil)
            }
            return try h.json(RequestList(requests: rows))
        }
        routes.post("/requests") { request, context -> Response in
            let b = try await request.decode(as: FileRequestBody.self, context: context)
            try h.requireScope("request", project: b.project, context)
            let command = Command.fileRequest(
                project: b.project, environment: b.environment, bundle: b.bundle, digest: try h.digest(b.digest, field: "digest"),
                description: b.description ?? "", labels: b.labels ?? [:], emergencyReason: b.emergency_reason, source: try h.source(b.source, context))
            // One open request per project, environment and digest unless a new one is asked for (`reuse: false`); a
            // re-run after changes were requested revises the filer's request for the bundle.
            if b.reuse != false {
                switch GateLookup.carryOn(command, caller: try h.principal(context), in: try await h.service.state(), now: h.service.now) {
                case .reuse(let reused)?: return try h.json(RecordedResponse(reusing: reused.id))
                case .revise(let revised)?: return try await h.respond(.revise(request: revised.id, bundle: b.bundle, digest: try h.digest(b.digest, field: "digest"), source: try h.source(b.source, context)), context)
                case nil: break
                }
            }
            return try await h.respond(command, context, status: .created)
        }
        routes.get("/requests/{id}") { _, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context)
            return try h.json(RequestView(request))
        }
        routes.get("/requests/{id}/explain") { _, context -> Response in
            let (request, state) = try await h.readable(try h.parameter("id", context), context)
            guard let explanation = Engine.explain(request.id, state: state, now: h.service.now) else {
                throw Problem.refused(.internalError, "the workflow of \(request.id) is missing")
            }
            let caller = try h.principal(context)
            return try h.json(ExplanationView(
                explanation, awaitingCaller: Policy.awaiting(request, principal: caller, state: state),
                awaitingFor: Policy.awaiting(request, delegate: caller, state: state, now: h.service.now)))
        }
        routes.get("/requests/{id}/gate") { httpRequest, context -> Response in
            let id = try h.parameter("id", context)
            // Read once for the authorization and the first answer; a long poll reads again after each change.
            var first: (DeploymentRequest, SignoffState)? = try await h.readable(id, context, action: "gate")
            let q = httpRequest.uri.queryParameters
            guard let environment = q.get("environment"), let text = q.get("digest") else {
                throw Problem.badRequest("gate needs ?environment=ENV&digest=sha256:HEX")
            }
            // Echoed in the answer's reasons: a name, never text that could forge lines in a CI log.
            guard Engine.isValidName(environment) else { throw Problem.badRequest("environment must be an environment name (a-z 0-9 . _ -)") }
            let digest = try h.digest(text, field: "digest")
            let answer = try await h.gate(wait: try h.waitParameter(q.get("wait")), context) {
                let read: (DeploymentRequest, SignoffState)
                if let pending = first { read = pending } else { read = try await h.readable(id, context, action: "gate") }
                first = nil
                return GateResponse(request: read.0, environment: environment, digest: digest, state: read.1, now: h.service.now)
            }
            return try h.json(answer)
        }
        // CI knows the project, the environment and the bundle's digest, not the request's id.
        routes.get("/gate") { httpRequest, context -> Response in
            let q = httpRequest.uri.queryParameters
            guard let project = q.get("project"), let environment = q.get("environment"), let text = q.get("digest") else {
                throw Problem.badRequest("gate needs ?project=P&environment=ENV&digest=sha256:HEX (or /v1/requests/{id}/gate)")
            }
            guard Engine.isValidName(project), Engine.isValidName(environment) else {
                throw Problem.badRequest("project and environment must be names (a-z 0-9 . _ -)")
            }
            let digest = try h.digest(text, field: "digest")
            let wait = try h.waitParameter(q.get("wait"))
            let caller = try h.principal(context)
            let initial = try await h.service.state()
            guard Access.mayRead(project: project, principal: caller, state: initial, now: h.service.now),
                context.token?.kind != .service || context.token.map({ Access.scopes($0.scopes, concern: project) }) == true
            else { throw Problem.notFound("no project \(project) that you may read") }
            try h.requireScope("gate", project: project, context)
            // Found once; then the same request is followed, so that its rejection ends the wait.
            let id: String
            switch GateLookup.find(project: project, environment: environment, digest: digest, in: initial) {
            case .success(let request): id = request.id
            case .failure(.none(let message)): throw Problem.notFound(message)
            case .failure(.several(let message)): throw Problem.conflict(message)
            }
            let answer = try await h.gate(wait: wait, context) {
                let (request, state) = try await h.readable(id, context, action: "gate")
                return GateResponse(request: request, environment: environment, digest: digest, state: state, now: h.service.now)
            }
            return try h.json(answer)
        }
        routes.get("/deployments") { httpRequest, context -> Response in
            let q = httpRequest.uri.queryParameters
            let (state, all) = try await h.views.inventory(h.service)
            let caller = try h.principal(context)
            let rows = all.filter { row in
                (q.get("project").map { $0 == row.project } ?? true) && (q.get("environment").map { $0 == row.environment } ?? true)
                    && Access.mayRead(project: row.project, principal: caller, state: state, now: h.service.now)
                    && (context.token?.kind != .service || (try? h.requireScope("read", project: row.project, context)) != nil)
            }
            return try h.json(ItemList(rows))
        }
        routes.get("/inbox") { _, context -> Response in
            let caller = try h.principal(context)
            // Everything the caller may read waits in their inbox; a service token sees the projects its scopes name.
            let items = try await h.views.inbox(for: caller, h.service).1.filter { item in
                context.token?.kind != .service || (try? h.requireScope("read", project: item.project, context)) != nil
            }
            return try h.json(ItemList(items))
        }
        routes.post("/requests/{id}/evidence") { httpRequest, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context, action: "evidence")
            let b = try await httpRequest.decode(as: EvidenceBody.self, context: context)
            let command = Command.attachEvidence(
                request: request.id, kind: b.kind, status: b.status, digest: try h.digest(b.digest, field: "digest"), tests: b.tests, labels: b.labels ?? [:], source: try h.source(b.source, context))
            return try await h.respond(command, context)
        }
        // Evidence documents: the bytes behind an evidence digest of the request, content-addressed.
        routes.put("/requests/{id}/evidence-documents/{digest}") { httpRequest, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context, action: "evidence")
            let digest = try h.digest(try h.parameter("digest", context), field: "digest")
            guard request.evidence.contains(where: { $0.digest == digest }) else {
                throw Problem.notFound("\(request.id) has no evidence with digest \(digest): attach it first (POST /v1/requests/\(request.id)/evidence)")
            }
            // Who attached the evidence uploads its document (or an administrator): a reader cannot pick what approvers see.
            let caller = try h.principal(context)
            let state = try await h.service.state()
            guard request.evidence.contains(where: { $0.digest == digest && $0.attachedBy == caller }) || state.principals[caller]?.isAdministrator == true else {
                throw Problem.forbidden("only who attached this evidence (or an administrator) uploads its document", rule: .evidenceAttachedBy)
            }
            let type = (httpRequest.headers[.contentType] ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard EvidenceDocument.mediaTypes.contains(type) else {
                throw Problem(.unsupportedMediaType, type: "unsupported-media-type", title: "Unsupported media type",
                    detail: "an evidence document is one of \(EvidenceDocument.mediaTypes.joined(separator: ", "))")
            }
            let body = try await httpRequest.body.collect(upTo: h.configuration.evidenceMaximumBytes)
            let bytes = [UInt8](body.readableBytesView)
            guard SHA256Digest.hash(bytes) == digest else {
                throw Problem.refused(.inputDigest, "the document's SHA-256 is \(SHA256Digest.hash(bytes)), not \(digest)")
            }
            if let stored = try await h.service.evidence.get(digest, project: request.project) {
                guard stored.mediaType == type else { throw Problem.conflict("this document is already stored as \(stored.mediaType)") }
                return try h.json(["digest": digest.description, "media_type": stored.mediaType, "size": String(stored.content.count)])
            }
            _ = try await h.service.evidence.put(
                EvidenceDocument(project: request.project, digest: digest, mediaType: type, content: bytes, uploadedBy: caller, uploadedAt: h.service.now))
            return try h.json(["digest": digest.description, "media_type": type, "size": String(bytes.count)], status: .created)
        }
        routes.get("/requests/{id}/evidence-documents/{digest}") { _, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context)
            let digest = try h.digest(try h.parameter("digest", context), field: "digest")
            guard request.evidence.contains(where: { $0.digest == digest }), let document = try await h.service.evidence.get(digest, project: request.project) else {
                throw Problem.notFound("no evidence document \(digest) of \(request.id)")
            }
            return Handlers.document(document)
        }
        routes.post("/requests/{id}/decisions") { httpRequest, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context, action: "decide")
            let b = try await httpRequest.decode(as: DecisionBody.self, context: context)
            let command = Command.decide(
                request: request.id, stage: b.stage, decision: b.decision, comment: b.comment ?? "", envelope: b.envelope, onBehalfOf: b.on_behalf_of)
            return try await h.respond(command, context)
        }
        routes.post("/requests/{id}/revisions") { httpRequest, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context, action: "request")
            let b = try await httpRequest.decode(as: RevisionBody.self, context: context)
            let command = Command.revise(request: request.id, bundle: b.bundle, digest: try h.digest(b.digest, field: "digest"), source: try h.source(b.source, context))
            return try await h.respond(command, context)
        }
        routes.post("/requests/{id}/withdraw") { httpRequest, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context, action: "request")
            let b = try await httpRequest.decode(as: WithdrawBody.self, context: context)
            return try await h.respond(.withdraw(request: request.id, reason: b.reason ?? "", approval: b.approval), context)
        }
        routes.post("/requests/{id}/deployments") { httpRequest, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context, action: "deploy")
            let b = try await httpRequest.decode(as: DeploymentBody.self, context: context)
            return try await h.respond(.recordDeployment(request: request.id, outcome: b.outcome, note: b.note ?? ""), context)
        }
        routes.post("/requests/{id}/deployments/start") { httpRequest, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context, action: "deploy")
            let b = try await httpRequest.decode(as: DeploymentStartBody.self, context: context)
            return try await h.respond(.startDeployment(request: request.id, note: b.note ?? ""), context)
        }
        routes.post("/requests/{id}/deployments/finish") { httpRequest, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context, action: "deploy")
            let b = try await httpRequest.decode(as: DeploymentBody.self, context: context)
            return try await h.respond(.finishDeployment(request: request.id, outcome: b.outcome, note: b.note ?? ""), context)
        }
        routes.post("/requests/{id}/retrospective") { httpRequest, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context)
            let b = try await httpRequest.decode(as: RetrospectiveBody.self, context: context)
            return try await h.respond(.recordRetrospective(request: request.id, comment: b.comment, envelope: b.envelope), context)
        }
        return routes
    }
}
