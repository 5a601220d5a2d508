import Foundation
import Hummingbird
import Logging
import SignoffAPI
import SignoffAudit
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffService

/// The ledger's key, its newest checkpoint, and audit exports (streamed as a tar archive).
struct AuditController {
    let handlers: Handlers

    var routes: RouteCollection<SignoffRequestContext> {
        let routes = RouteCollection(context: SignoffRequestContext.self)
        let h = handlers
        routes.get("/ledger-key") { _, _ -> Response in
            h.text(h.ledger.verifierKey.description + "\n")
        }
        routes.get("/checkpoint") { _, _ -> Response in
            guard let checkpoint = try await h.ledger.latestCheckpoint() else { throw Problem.notFound("the ledger has no signed checkpoint yet") }
            return h.text(checkpoint.serialized)
        }
        // The ledger's health: the newest checkpoint, checks of it made now, the newest full verification.
        routes.get("/audit/health") { _, _ -> Response in
            try h.json(try await AuditHealth.current(h.service))
        }
        routes.get("/audit/export") { request, context -> Response in
            let state = try await h.service.state()
            let caller = try h.principal(context)
            let query = request.uri.queryParameters
            let project = query.get("project")
            let everything = state.principals[caller]?.isAdministrator == true || state.isMember(caller, of: Access.auditorsGroup)
            guard everything || (project.map { Access.mayRead(project: $0, principal: caller, state: state) } ?? false) else {
                throw Problem.forbidden(
                    project == nil
                        ? "exporting every project needs an administrator or a member of auditors; name a project you may read (project=, or --project)"
                        : "you may not read project \(project!)")
            }
            if let project {
                try h.requireScope("read", project: project, context)
            } else if context.token?.kind == .service {
                throw Problem.forbidden("a service token exports one project at a time", rule: .tokenScope)
            }
            func time(_ key: String) throws -> Int64? {
                guard let text = query.get(key) else { return nil }
                guard let ms = Timestamps.milliseconds(rfc3339: text) else { throw Problem.badRequest("\(key) must be an RFC 3339 time") }
                return ms
            }
            let filter = AuditExportFilter(project: project, environment: query.get("environment"), since: try time("since"), until: try time("until"))
            if let problem = filter.problem() { throw Problem.badRequest(problem) }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("signoff-export-\(UUID().uuidString)")
            // Cut the export against a checkpoint that covers everything appended so far, cosigned by the witnesses
            // (`--witness-policy`) that answer: an export carries what they cosigned, for `audit verify --policy`.
            try await h.service.signCheckpoint()
            if !h.configuration.witnesses.isEmpty {
                _ = try await WitnessClient(
                    ledger: h.service.ledger, endpoints: h.configuration.witnesses, transport: URLSessionWitnessTransport.shared, board: h.service.witnesses
                ).submitNewest()
            }
            let documents: Bool
            switch query.get("documents") {
            case nil, "false": documents = false
            case "true": documents = true
            default: throw Problem.badRequest("documents is true or false")
            }
            _ = try await h.service.exportAudit(filter: filter, documents: documents, to: directory)
            let files = (FileManager.default.enumerator(atPath: directory.path)?.compactMap { $0 as? String } ?? []).filter {
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path, isDirectory: &isDirectory) && !isDirectory.boolValue
            }.sorted()
            // Streamed: one file at a time, then the folder is removed.
            let body = ResponseBody { writer in
                defer { try? FileManager.default.removeItem(at: directory) }
                for file in files {
                    let data = try Data(contentsOf: directory.appendingPathComponent(file))
                    try await writer.write(ByteBuffer(bytes: Tar.header(path: file, size: data.count)))
                    try await writer.write(ByteBuffer(bytes: data))
                    try await writer.write(ByteBuffer(bytes: Tar.padding(size: data.count)))
                }
                try await writer.write(ByteBuffer(bytes: Tar.end))
                try await writer.finish(nil)
            }
            // The project in the file name only when it is a project's name (an administrator may name any string).
            let named = project.flatMap { p in state.projects[p] != nil && p.utf8.allSatisfy { $0 < 0x80 && $0 != 0x22 && $0 != 0x5C } ? p : nil }
            let name = "signoff-audit\(named.map { "-" + $0 } ?? "").tar"
            return Response(status: .ok, headers: [.contentType: "application/x-tar", .contentDisposition: "attachment; filename=\"\(name)\""], body: body)
        }
        return routes
    }
}
