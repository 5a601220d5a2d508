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
            let query = RequestQuery(project: q.get("project"), state: q.get("state"), waitingFor: q.get("waiting_for"))
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
                description: b.description ?? "", labels: b.labels ?? [:], emergencyReason: b.emergency_reason)
            return try h.json(try await h.run(command, context), status: .created)
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
            return try h.json(ExplanationView(explanation, awaitingCaller: Policy.awaiting(request, principal: caller, state: state)))
        }
        routes.get("/requests/{id}/gate") { httpRequest, context -> Response in
            let (request, state) = try await h.readable(try h.parameter("id", context), context, action: "gate")
            guard let environment = httpRequest.uri.queryParameters.get("environment"), let text = httpRequest.uri.queryParameters.get("digest") else {
                throw Problem.badRequest("gate needs ?environment=ENV&digest=sha256:HEX")
            }
            // Echoed in the answer's reasons: a name, never text that could forge lines in a CI log.
            guard Engine.isValidName(environment) else { throw Problem.badRequest("environment must be an environment name (a-z 0-9 . _ -)") }
            let digest = try h.digest(text, field: "digest")
            return try h.json(GateResponse(request: request, environment: environment, digest: digest, state: state, now: h.service.now))
        }
        routes.post("/requests/{id}/evidence") { httpRequest, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context, action: "evidence")
            let b = try await httpRequest.decode(as: EvidenceBody.self, context: context)
            let command = Command.attachEvidence(
                request: request.id, kind: b.kind, status: b.status, digest: try h.digest(b.digest, field: "digest"), tests: b.tests)
            return try h.json(try await h.run(command, context))
        }
        routes.post("/requests/{id}/decisions") { httpRequest, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context, action: "decide")
            let b = try await httpRequest.decode(as: DecisionBody.self, context: context)
            let command = Command.decide(
                request: request.id, stage: b.stage, decision: b.decision, comment: b.comment ?? "", envelope: b.envelope, onBehalfOf: b.on_behalf_of)
            return try h.json(try await h.run(command, context))
        }
        routes.post("/requests/{id}/revisions") { httpRequest, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context, action: "request")
            let b = try await httpRequest.decode(as: RevisionBody.self, context: context)
            let command = Command.revise(request: request.id, bundle: b.bundle, digest: try h.digest(b.digest, field: "digest"))
            return try h.json(try await h.run(command, context))
        }
        routes.post("/requests/{id}/withdraw") { httpRequest, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context, action: "request")
            let b = try await httpRequest.decode(as: WithdrawBody.self, context: context)
            return try h.json(try await h.run(.withdraw(request: request.id, reason: b.reason ?? ""), context))
        }
        routes.post("/requests/{id}/deployments") { httpRequest, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context, action: "deploy")
            let b = try await httpRequest.decode(as: DeploymentBody.self, context: context)
            return try h.json(try await h.run(.recordDeployment(request: request.id, outcome: b.outcome, note: b.note ?? ""), context))
        }
        routes.post("/requests/{id}/retrospective") { httpRequest, context -> Response in
            let (request, _) = try await h.readable(try h.parameter("id", context), context)
            let b = try await httpRequest.decode(as: RetrospectiveBody.self, context: context)
            return try h.json(try await h.run(.recordRetrospective(request: request.id, comment: b.comment, envelope: b.envelope), context))
        }
        return routes
    }
}
