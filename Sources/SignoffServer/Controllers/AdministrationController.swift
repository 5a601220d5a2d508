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
            return try h.json(try await h.run(.addUser(name: body.name, administrator: body.administrator ?? false, key: key), context))
        }
        routes.post("/users/{name}/keys") { request, context -> Response in
            let body = try await request.decode(as: KeyBody.self, context: context)
            let key = try h.verifierKey(body.verifier_key, field: "verifier_key")
            return try h.json(try await h.run(.enrollKey(principal: try h.parameter("name", context), key: key, approval: body.approval), context))
        }
        routes.delete("/users/{name}/keys/{fingerprint}") { _, context -> Response in
            try h.json(try await h.run(.revokeKey(principal: try h.parameter("name", context), fingerprint: try h.parameter("fingerprint", context)), context))
        }
        routes.post("/service-accounts") { request, context -> Response in
            let body = try await request.decode(as: PrincipalBody.self, context: context)
            let key = try body.verifier_key.map { try h.verifierKey($0, field: "verifier_key") }
            return try h.json(try await h.run(.addServiceAccount(name: body.name, key: key), context))
        }
        routes.post("/groups") { request, context -> Response in
            let body = try await request.decode(as: GroupBody.self, context: context)
            return try h.json(try await h.run(.createGroup(name: body.name), context))
        }
        routes.post("/groups/{name}/members") { request, context -> Response in
            let body = try await request.decode(as: MemberBody.self, context: context)
            return try h.json(try await h.run(.addMember(group: try h.parameter("name", context), member: body.member, approval: body.approval), context))
        }
        routes.post("/workflows") { request, context -> Response in
            let body = try await request.decode(as: WorkflowBody.self, context: context)
            return try h.json(try await h.run(.applyWorkflow(source: body.source, file: body.file ?? "workflow.yaml"), context))
        }
        routes.get("/workflows/{name}") { _, context -> Response in
            let name = try h.parameter("name", context)
            guard let workflow = WorkflowResponse(name: name, state: try await h.service.state()) else {
                throw Problem.notFound("no workflow \(name) is applied")
            }
            return try h.json(workflow)
        }
        routes.post("/projects") { request, context -> Response in
            let b = try await request.decode(as: ProjectBody.self, context: context)
            let spec = ProjectSpec(
                key: b.key, regulated: b.regulated ?? false, environments: b.environments, requesters: b.requesters, deployers: b.deployers ?? [:])
            return try h.json(try await h.run(.createProject(spec, approval: b.approval), context))
        }
        return routes
    }
}
