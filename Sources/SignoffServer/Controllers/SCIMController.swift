import Foundation
import Hummingbird
import Logging
import NIOCore
import SignoffAPI
import SignoffCore
import SignoffService

/// The SCIM 2.0 service a connected directory provisions through (`/scim/v2`, RFC 7644; `schema/directory.md`). It
/// authenticates with the directory's own token only (`signoff directory connect`), and every change it makes is a
/// ``DirectoryChange`` the engine checks and records as entries whose actor is `directory:NAME`, with the resource's kept
/// attributes written in the same unit of work. What it decides is ``SCIM`` (pure); here are HTTP and storage.
struct SCIMController {
    let handlers: Handlers

    func routes(into router: Router<SignoffRequestContext>) {
        let group = router.group("/scim/v2")
        group.get("/ServiceProviderConfig") { request, context in
            try await respond(request, context) { _, base in (200, SCIM.serviceProviderConfig(base: base)) }
        }
        group.get("/ResourceTypes") { request, context in
            try await respond(request, context) { _, base in (200, Self.list(SCIM.resourceTypes(base: base), total: 2, start: 1)) }
        }
        group.get("/ResourceTypes/{id}") { request, context in
            try await respond(request, context) { _, base in
                let id = context.parameters.get("id") ?? ""
                guard let found = SCIM.resourceTypes(base: base).first(where: { $0["id"] as? String == id }) else { throw SCIM.Failure.notFound("no resource type \(id.prefix(60))") }
                return (200, found)
            }
        }
        group.get("/Schemas") { request, context in
            try await respond(request, context) { _, base in (200, Self.list(SCIM.schemas(base: base), total: 2, start: 1)) }
        }
        group.get("/Schemas/{id}") { request, context in
            try await respond(request, context) { _, base in
                let id = context.parameters.get("id")?.removingPercentEncoding ?? ""
                guard let found = SCIM.schemas(base: base).first(where: { $0["id"] as? String == id }) else { throw SCIM.Failure.notFound("no schema \(id.prefix(100))") }
                return (200, found)
            }
        }
        for kind in SCIM.Kind.allCases {
            let path = kind.endpoint
            group.get(RouterPath(stringLiteral: path)) { request, context in
                try await respond(request, context) { directory, base in
                    let query = Self.query(request)
                    return (200, try await search(
                        kind, directory: directory, base: base, filter: query["filter"], startIndex: query["startIndex"],
                        count: query["count"], attributes: query["attributes"],
                        excluded: query["excludedAttributes"], sortBy: query["sortBy"]))
                }
            }
            group.post(RouterPath(stringLiteral: path + "/.search")) { request, context in
                try await respond(request, context) { directory, base in
                    let body = try await Self.body(request, context)
                    func text(_ key: String) -> String? {
                        if let list = body[key] as? [String] { return list.joined(separator: ",") }
                        if let number = body[key] as? Int { return String(number) }
                        return body[key] as? String
                    }
                    return (200, try await search(
                        kind, directory: directory, base: base, filter: text("filter"), startIndex: text("startIndex"), count: text("count"),
                        attributes: text("attributes"), excluded: text("excludedAttributes"), sortBy: text("sortBy")))
                }
            }
            group.post(RouterPath(stringLiteral: path)) { request, context in
                try await respond(request, context) { directory, base in
                    let body = try SCIM.writable(try await Self.body(request, context), kind: kind)
                    return (201, try await create(kind, body: body, directory: directory, base: base))
                }
            }
            group.get(RouterPath(stringLiteral: path + "/{id}")) { request, context in
                try await respond(request, context) { directory, base in
                    let id = try Self.id(context)
                    let (resource, state) = try await load(kind, id: id, directory: directory)
                    let query = Self.query(request)
                    return (200, SCIM.select(
                        render(kind, resource: resource, state: state, base: base), attributes: Self.names(query["attributes"]),
                        excluded: Self.names(query["excludedAttributes"]), kind: kind))
                }
            }
            group.put(RouterPath(stringLiteral: path + "/{id}")) { request, context in
                try await respond(request, context) { directory, base in
                    let id = try Self.id(context)
                    let body = try SCIM.writable(try await Self.body(request, context), kind: kind)
                    guard body[kind.nameAttribute] as? String == id else { throw SCIM.Failure.mutability("\(kind.nameAttribute) is the resource's id and cannot change") }
                    return (200, try await replace(kind, id: id, directory: directory, base: base) { _ in body })
                }
            }
            group.patch(RouterPath(stringLiteral: path + "/{id}")) { request, context in
                try await respond(request, context) { directory, base in
                    let id = try Self.id(context)
                    let body = try await Self.body(request, context)
                    guard (body["schemas"] as? [String])?.contains(SCIM.patchSchema) == true else {
                        throw SCIM.Failure.invalidSyntax("a PATCH body names the schema \(SCIM.patchSchema)")
                    }
                    return (200, try await replace(kind, id: id, directory: directory, base: base) { current in try SCIM.patch(current, with: body, kind: kind) })
                }
            }
            group.delete(RouterPath(stringLiteral: path + "/{id}")) { request, context in
                try await respond(request, context) { directory, _ in
                    let id = try Self.id(context)
                    let (resource, state) = try await load(kind, id: id, directory: directory, writing: true)
                    let current = writable(kind, resource: resource, state: state)
                    // A user is disabled (never deleted from the ledger: their name is not given to anyone else); a group is
                    // emptied and stays linked to the directory (a later POST of its name adopts it again).
                    var after = current
                    if kind == .user { after["active"] = false } else { after["members"] = [] }
                    let change = SCIM.change(kind: kind, id: id, before: current, after: after, existsInLedger: true)
                    try await record(change, directory: directory, write: .delete(directory: directory, kind: storageKind(kind), id: id))
                    return (204, nil)
                }
            }
        }
        // Discovery documents are read-only: every other method is 405.
        for path in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"] {
            for method in [HTTPRequest.Method.post, .put, .patch, .delete] {
                group.on(RouterPath(stringLiteral: path), method: method) { request, context in
                    try await respond(request, context) { _, _ in throw SCIM.Failure(405, nil, "\(path.dropFirst()) is read-only") }
                }
            }
        }
        // Searching several resource types at once is not supported (RFC 7644 §3.4.3: 501).
        group.post("/.search") { request, context in
            try await respond(request, context) { _, _ in throw SCIM.Failure.notImplemented("search one resource type at a time: POST /Users/.search or /Groups/.search") }
        }
        // What this service does not do, said as RFC 7644 says (501), and every other path a SCIM 404.
        for path in ["/Bulk", "/Me"] {
            group.on(RouterPath(stringLiteral: path), method: .post) { request, context in
                try await respond(request, context) { _, _ in throw SCIM.Failure.notImplemented("\(path.dropFirst()) is not supported (see /ServiceProviderConfig)") }
            }
            group.get(RouterPath(stringLiteral: path)) { request, context in
                try await respond(request, context) { _, _ in throw SCIM.Failure.notImplemented("\(path.dropFirst()) is not supported (see /ServiceProviderConfig)") }
            }
        }
        group.get("**") { request, context in
            try await respond(request, context) { _, _ in throw SCIM.Failure.notFound("no such SCIM endpoint") }
        }
    }

    // MARK: Answers

    /// Authenticates the directory, runs `body`, and answers in SCIM JSON (errors as SCIM Error bodies).
    func respond(
        _ request: Request, _ context: SignoffRequestContext, _ body: (String, String) async throws -> (Int, SCIM.Object?)
    ) async throws -> Response {
        do {
            let directory = try await authenticate(request, context)
            let base = baseURL(request)
            let (status, object) = try await body(directory, base)
            var headers: HTTPFields = [.contentType: SCIM.mediaType]
            if status == 201, let location = (object?["meta"] as? SCIM.Object)?["location"] as? String { headers[.location] = location }
            guard let object else { return Response(status: .init(code: status)) }
            return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: SCIM.encode(object))))
        } catch let failure as SCIM.Failure {
            var headers: HTTPFields = [.contentType: SCIM.mediaType]
            if failure.status == 401 { headers[.wwwAuthenticate] = "Bearer realm=\"signoff-scim\"" }
            return Response(status: .init(code: failure.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: SCIM.encode(failure.body))))
        } catch let error as HTTPError where error.status == .contentTooLarge {
            let failure = SCIM.Failure(413, "tooLarge", "the body is over \(Self.maximumBody / 1024) KiB")
            return Response(status: .contentTooLarge, headers: [.contentType: SCIM.mediaType], body: .init(byteBuffer: ByteBuffer(string: SCIM.encode(failure.body))))
        } catch is NIOTooManyBytesError {
            let failure = SCIM.Failure(413, "tooLarge", "the body is over \(Self.maximumBody / 1024) KiB")
            return Response(status: .contentTooLarge, headers: [.contentType: SCIM.mediaType], body: .init(byteBuffer: ByteBuffer(string: SCIM.encode(failure.body))))
        } catch {
            context.logger.error("SCIM request failed", metadata: ["error": .string(String(describing: error).prefix(300).description)])
            let failure = SCIM.Failure(500, nil, "the server could not complete this request; nothing was half recorded")
            return Response(status: .internalServerError, headers: [.contentType: SCIM.mediaType], body: .init(byteBuffer: ByteBuffer(string: SCIM.encode(failure.body))))
        }
    }

    /// The connected directory the bearer token is the current token of; every other token (a person's session, a
    /// service token, a disconnected directory's) is refused.
    func authenticate(_ request: Request, _ context: SignoffRequestContext) async throws -> String {
        let refused = SCIM.Failure(401, nil, "this service takes a connected directory's token (signoff directory connect)")
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else { throw refused }
        let token = String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
        guard let record = try await handlers.auth.validate(token: token), let name = ConnectedDirectory.name(ofActor: record.principal) else { throw refused }
        guard try await handlers.service.directory().directories[name]?.tokenID == record.id else { throw refused }
        context.identity.set(principal: record.principal, tokenID: record.id)
        return name
    }

    func baseURL(_ request: Request) -> String {
        if let configured = handlers.configuration.publicURL {
            return (configured.hasSuffix("/") ? String(configured.dropLast()) : configured) + "/scim/v2"
        }
        let host = request.head.authority ?? "\(handlers.configuration.host):\(handlers.configuration.port)"
        return "http://\(host)/scim/v2"
    }

    static func body(_ request: Request, _ context: SignoffRequestContext) async throws -> SCIM.Object {
        let buffer = try await request.body.collect(upTo: maximumBody)
        guard let object = (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? SCIM.Object else {
            throw SCIM.Failure.invalidSyntax("the body must be a JSON object")
        }
        return object
    }

    /// A request body is at most this big (what the server reads of any body).
    static let maximumBody = 960 * 1024

    static func id(_ context: SignoffRequestContext) throws -> String {
        guard let id = context.parameters.get("id")?.removingPercentEncoding, Engine.isValidName(id) else { throw SCIM.Failure.notFound("no such resource") }
        return id
    }

    /// The query's parameters, `+` read as a space (HTML form encoding, which SCIM clients built on httpx or
    /// `urlencode` send), then percent-decoded.
    static func query(_ request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for pair in (request.uri.query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            guard let name = parts.first, !name.isEmpty else { continue }
            out[name] = parts.count == 2 ? parts[1] : ""
        }
        return out
    }

    static func names(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func list(_ resources: [SCIM.Object], total: Int, start: Int) -> SCIM.Object {
        ["schemas": [SCIM.listSchema], "totalResults": total, "startIndex": start, "itemsPerPage": resources.count, "Resources": resources]
    }

    func storageKind(_ kind: SCIM.Kind) -> DirectoryResource.Kind { kind == .user ? .user : .group }

    // MARK: Resources

    /// The kept resource `id` of `kind` and the directory state: a resource this directory does not keep is not found.
    /// A change to a user or group Signoff has but this directory did not provision (or link) is refused as what it
    /// is (403, the directory's reach); reading one is 404, as for anything outside the directory's view.
    func load(_ kind: SCIM.Kind, id: String, directory: String, writing: Bool = false) async throws -> (DirectoryResource, SignoffState) {
        let state = try await handlers.service.directory()
        let kept = try await handlers.service.storage.coordination.directoryResource(directory: directory, kind: storageKind(kind), id: id)
        // A group unlinked from this directory (or handed to another) is no longer its to read or change.
        let stillOurs = kind == .user || state.groups[id]?.directory == directory
        guard let resource = kept, stillOurs else {
            let exists = kind == .user ? state.principals[id] != nil : state.groups[id] != nil
            if writing, exists {
                handlers.metrics.refusal(RefusalRule.directoryReach.name)
                throw SCIM.Failure(
                    403, nil,
                    kind == .user
                        ? "refused (directory.reach): \(id) was not provisioned by this directory; a directory changes only the users it added"
                        : "refused (directory.reach): group \(id) is not this directory's: an administrator links it with a signed change (signoff group link \(id) --directory \(directory)), then POST it to adopt it")
            }
            throw SCIM.Failure.notFound("no \(kind.rawValue) \(id) provisioned by this directory")
        }
        return (resource, state)
    }

    func render(_ kind: SCIM.Kind, resource: DirectoryResource, state: SignoffState, base: String) -> SCIM.Object {
        SCIM.render(
            kind: kind, id: resource.id, active: state.principals[resource.id]?.disabled != true, members: (state.groups[resource.id]?.members ?? []).sorted(),
            kept: SCIM.decode(resource.attributes), created: resource.createdAt, modified: resource.modifiedAt, version: resource.version, base: base)
    }

    /// The writable attributes as they stand: the kept ones and the ledger's.
    func writable(_ kind: SCIM.Kind, resource: DirectoryResource, state: SignoffState) -> SCIM.Object {
        var object = SCIM.decode(resource.attributes)
        object[kind.nameAttribute] = resource.id
        switch kind {
        case .user: object["active"] = state.principals[resource.id]?.disabled != true
        case .group: object["members"] = (state.groups[resource.id]?.members ?? []).sorted().map { ["value": $0] as SCIM.Object }
        }
        return object
    }

    func create(_ kind: SCIM.Kind, body: SCIM.Object, directory: String, base: String) async throws -> SCIM.Object {
        guard let id = body[kind.nameAttribute] as? String else { throw SCIM.Failure.invalidValue("\(kind.nameAttribute) is required") }
        let coordination = handlers.service.storage.coordination
        if try await coordination.directoryResource(directory: directory, kind: storageKind(kind), id: id) != nil {
            throw SCIM.Failure(409, "uniqueness", "\(kind.rawValue) \(id) already exists")
        }
        let state = try await handlers.service.directory()
        var before: SCIM.Object?
        var exists = false
        switch kind {
        case .user:
            if state.principals[id] != nil || state.groups[id] != nil {
                throw SCIM.Failure(409, "uniqueness", "\(id) already exists in Signoff (a name is never given to anyone else)")
            }
        case .group:
            if let group = state.groups[id] {
                // A group an administrator linked to this directory (or one it emptied and deleted) is adopted.
                guard group.directory == directory else {
                    throw SCIM.Failure(
                        409, "uniqueness",
                        "group \(id) already exists and is not linked to this directory: an administrator links it with a signed change (signoff group link \(id) --directory \(directory))")
                }
                before = ["members": group.members.map { ["value": $0] as SCIM.Object }]
                exists = true
            } else if state.principals[id] != nil {
                throw SCIM.Failure(409, "uniqueness", "\(id) is already a user's name")
            }
        }
        let now = handlers.service.now
        let resource = DirectoryResource(
            directory: directory, kind: storageKind(kind), id: id, attributes: SCIM.kept(body, kind: kind), createdAt: now, modifiedAt: now, version: 1)
        let change = SCIM.change(kind: kind, id: id, before: before, after: body, existsInLedger: exists)
        try await record(change, directory: directory, write: .put(resource))
        return render(kind, resource: resource, state: try await handlers.service.directory(), base: base)
    }

    func replace(_ kind: SCIM.Kind, id: String, directory: String, base: String, _ update: (SCIM.Object) throws -> SCIM.Object) async throws -> SCIM.Object {
        let (resource, state) = try await load(kind, id: id, directory: directory, writing: true)
        let current = writable(kind, resource: resource, state: state)
        let after = try update(current)
        // An unassigned active leaves the user enabled (SCIM.change reads a missing active as true).
        let change = SCIM.change(kind: kind, id: id, before: current, after: after, existsInLedger: true)
        var updated = resource
        updated.attributes = SCIM.kept(after, kind: kind)
        updated.modifiedAt = handlers.service.now
        updated.version += 1
        try await record(change, directory: directory, write: .put(updated))
        return render(kind, resource: updated, state: try await handlers.service.directory(), base: base)
    }

    /// Records the directory's change with the resource's write in one unit of work (the write alone when the ledger
    /// does not change).
    func record(_ change: DirectoryChange, directory: String, write: DirectoryResourceWrite) async throws {
        let service = handlers.service
        guard !change.isEmpty else {
            try await service.storage.unitOfWork.write { tx in try tx.writeDirectoryResource(write) }
            return
        }
        switch try await service.execute(.directoryChange(change), as: ConnectedDirectory.actor(directory), directoryResource: write) {
        case .success: return
        case .failure(let refusal):
            handlers.metrics.refusal(refusal.rule)
            throw SCIM.Failure(refusal)
        }
    }

    func search(
        _ kind: SCIM.Kind, directory: String, base: String, filter: String?, startIndex: String?, count: String?, attributes: String?, excluded: String?,
        sortBy: String?
    ) async throws -> SCIM.Object {
        if sortBy != nil { throw SCIM.Failure.notImplemented("sorting is not supported (see /ServiceProviderConfig)") }
        let parsed = try filter.map { try SCIM.Filter($0, kind: kind) }
        let start = max(1, Int(startIndex ?? "1") ?? 1)
        let wanted = min(SCIM.maximumResults, max(0, Int(count ?? "") ?? SCIM.maximumResults))
        let state = try await handlers.service.directory()
        let coordination = handlers.service.storage.coordination
        // What an identity provider asks before every create (`userName eq "x"`): the one row by its id, not every row.
        let candidates: [DirectoryResource]
        if let name = parsed?.clauses.first(where: { $0.path == [kind.nameAttribute] })?.value {
            candidates = try await coordination.directoryResource(directory: directory, kind: storageKind(kind), id: name).map { [$0] } ?? []
        } else {
            candidates = try await coordination.directoryResources(directory: directory, kind: storageKind(kind))
        }
        let all = candidates
            .filter { kind == .user || state.groups[$0.id]?.directory == directory }
            .map { render(kind, resource: $0, state: state, base: base) }
            .filter { parsed?.matches($0) ?? true }
        let page = Array(all.dropFirst(start - 1).prefix(wanted))
            .map { SCIM.select($0, attributes: Self.names(attributes), excluded: Self.names(excluded), kind: kind) }
        return Self.list(page, total: all.count, start: start)
    }
}
