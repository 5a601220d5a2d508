public import Foundation
public import SignoffCore

/// The SCIM 2.0 service's pure part (RFC 7643, RFC 7644): resources as JSON objects, filters, PATCH operations, the
/// discovery documents, and what a change of a resource means to the ledger (``DirectoryChange``). The server keeps
/// storage and HTTP; everything that decides is here and tested without them. See `schema/directory.md`.
public enum SCIM {
    public static let userSchema = "urn:ietf:params:scim:schemas:core:2.0:User"
    public static let groupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
    public static let errorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"
    public static let listSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    public static let patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    public static let searchSchema = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
    public static let mediaType = "application/scim+json"
    /// At most this many resources in one answer (`filter.maxResults`).
    public static let maximumResults = 200

    /// A JSON object as JSONSerialization reads and writes it.
    public typealias Object = [String: Any]

    /// A SCIM error (RFC 7644 §3.12): its HTTP status, `scimType` where the RFC gives one, and what was wrong.
    public struct Failure: Error, Sendable {
        public let status: Int
        public let scimType: String?
        public let detail: String

        public init(_ status: Int, _ scimType: String?, _ detail: String) {
            self.status = status
            self.scimType = scimType
            self.detail = detail
        }

        public var body: Object {
            var object: Object = ["schemas": [SCIM.errorSchema], "status": String(status), "detail": detail]
            if let scimType { object["scimType"] = scimType }
            return object
        }

        public static func invalidValue(_ detail: String) -> Failure { Failure(400, "invalidValue", detail) }
        public static func invalidSyntax(_ detail: String) -> Failure { Failure(400, "invalidSyntax", detail) }
        public static func invalidFilter(_ detail: String) -> Failure { Failure(400, "invalidFilter", detail) }
        public static func invalidPath(_ detail: String) -> Failure { Failure(400, "invalidPath", detail) }
        public static func mutability(_ detail: String) -> Failure { Failure(400, "mutability", detail) }
        public static func notFound(_ detail: String) -> Failure { Failure(404, nil, detail) }
        public static func notImplemented(_ detail: String) -> Failure { Failure(501, nil, detail) }

        /// The engine's refusal as a SCIM error: a permission is 403, a name already taken 409 uniqueness, something
        /// unknown 404, bad input 400.
        public init(_ refusal: Refusal) {
            let rule = refusal.rule
            if rule == RefusalRule.inputDuplicate.name {
                self.init(409, "uniqueness", refusal.message)
            } else if rule == RefusalRule.inputUnknown.name {
                self.init(404, nil, refusal.message)
            } else if rule == RefusalRule.inputName.name || rule == RefusalRule.inputText.name {
                self.init(400, "invalidValue", refusal.message)
            } else {
                let status = RefusalRule.all.first { $0.name == rule }?.category.httpStatus ?? 400
                self.init(status == 422 ? 400 : status, nil, "refused (\(rule)): \(refusal.message)")
            }
        }
    }

    public enum Kind: String, Sendable, CaseIterable {
        case user = "User", group = "Group"

        public var endpoint: String { self == .user ? "/Users" : "/Groups" }
        public var schema: String { self == .user ? SCIM.userSchema : SCIM.groupSchema }
        /// The attribute holding the resource's Signoff name (immutable: it is its id).
        public var nameAttribute: String { self == .user ? "userName" : "displayName" }
        /// The attributes kept beside the ledger, as written (the rest are the ledger's).
        /// (`active` is kept only to say whether it was assigned: whether the user is enabled is the ledger's.)
        public var keptAttributes: [String] { self == .user ? ["displayName", "emails", "externalId", "active"] : ["externalId"] }
        /// Every attribute a client may write, in their canonical spelling.
        public var attributes: [String] {
            self == .user ? ["userName", "displayName", "active", "emails", "externalId"] : ["displayName", "members", "externalId"]
        }
        public var multiValued: Set<String> { self == .user ? ["emails"] : ["members"] }

        /// The canonical spelling of `name` (attribute names are case-insensitive), if it is one of ours.
        public func canonical(_ name: String) -> String? {
            let bare = name.hasPrefix(schema + ":") ? String(name.dropFirst(schema.count + 1)) : name
            return (attributes + ["id", "meta", "schemas"]).first { $0.caseInsensitiveCompare(bare) == .orderedSame }
        }
    }

    // MARK: Resources

    /// A resource as the ledger and the kept attributes make it: what GET answers.
    public static func render(
        kind: Kind, id: String, active: Bool, members: [String], kept: Object, created: Int64, modified: Int64, version: Int64, base: String
    ) -> Object {
        var object: Object = ["schemas": [kind.schema], "id": id]
        for name in kind.keptAttributes { if let value = kept[name] { object[name] = value } }
        switch kind {
        case .user:
            object["userName"] = id
            // Enabled or not is the ledger's; an active the directory removed (unassigned) is left out while enabled.
            object["active"] = kept["active"] != nil || !active ? active : nil
        case .group:
            object["displayName"] = id
            object["members"] = members.map { ["value": $0, "$ref": base + "/Users/" + $0] as Object }
        }
        object["meta"] = [
            "resourceType": kind.rawValue, "created": Timestamps.rfc3339(created), "lastModified": Timestamps.rfc3339(modified),
            "location": base + kind.endpoint + "/" + id, "version": "W/\"\(version)\"",
        ] as Object
        return object
    }

    /// The writable attributes of a resource body (POST, PUT), in canonical spelling, checked: the name is a Signoff
    /// name, `active` a boolean, the multi-valued attributes arrays of objects, members naming users by `value`.
    public static func writable(_ body: Object, kind: Kind) throws -> Object {
        var out: Object = [:]
        for (key, value) in body where key != "schemas" && key != "id" && key != "meta" {
            guard let name = kind.canonical(key) else {
                // Attributes of schemas we do not serve are ignored, as RFC 7644 §3.3 allows for unknown extensions.
                continue
            }
            if value is NSNull { continue }
            out[name] = value
        }
        guard let name = out[kind.nameAttribute] as? String else { throw Failure.invalidValue("\(kind.nameAttribute) is required") }
        guard Engine.isValidName(name) else {
            throw Failure.invalidValue(
                "\(kind.nameAttribute) \"\(name.prefix(80))\" must be a Signoff name: 1–63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        try check(out, kind: kind)
        return out
    }

    static func check(_ object: Object, kind: Kind) throws {
        if let active = object["active"], !isBoolean(active) {
            throw Failure.invalidValue("active must be true or false")
        }
        for name in kind.multiValued {
            guard let value = object[name] else { continue }
            guard let items = value as? [Any], items.allSatisfy({ $0 is Object }) else { throw Failure.invalidValue("\(name) must be an array of objects") }
            if name == "members" {
                for item in items {
                    guard let member = (item as? Object)?["value"] as? String else { throw Failure.invalidValue("each member needs a value (the user's id)") }
                    guard Engine.isValidName(member) else { throw Failure.invalidValue("member \(member.prefix(80)) is not a user's id") }
                }
            }
        }
        for name in ["displayName", "externalId"] where kind.attributes.contains(name) {
            guard let value = object[name] else { continue }
            guard let text = value as? String else { throw Failure.invalidValue("\(name) must be a string") }
            try checkLine(text, name)
        }
        if let emails = object["emails"] as? [Any] {
            guard emails.count <= maximumEmails else { throw Failure.invalidValue("at most \(maximumEmails) emails") }
            for case let email as Object in emails {
                for (key, value) in email {
                    if let text = value as? String { try checkLine(text, "emails.\(key)") }
                }
            }
        }
    }

    /// Kept attributes are short single lines: at most this many bytes, no control or invisible format character.
    public static let maximumAttributeBytes = 256
    public static let maximumEmails = 10

    static func checkLine(_ text: String, _ name: String) throws {
        guard text.utf8.count <= maximumAttributeBytes else { throw Failure.invalidValue("\(name) is at most \(maximumAttributeBytes) bytes") }
        if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format }) {
            throw Failure.invalidValue("\(name) holds a control or invisible character")
        }
    }

    /// Whether a decoded JSON value is `true` or `false` (JSONSerialization's numbers also cast to Bool).
    public static func isBoolean(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    /// The member ids of a group's writable attributes.
    public static func members(of object: Object) -> [String] {
        var seen = Set<String>()
        return ((object["members"] as? [Any]) ?? []).compactMap { ($0 as? Object)?["value"] as? String }.filter { seen.insert($0).inserted }
    }

    /// The kept attributes of a resource's writable attributes, as stored JSON.
    public static func kept(_ object: Object, kind: Kind) -> String {
        var kept: Object = [:]
        for name in kind.keptAttributes { if let value = object[name] { kept[name] = value } }
        return encode(kept)
    }

    public static func encode(_ object: Object) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8), as: UTF8.self)
    }

    public static func decode(_ text: String) -> Object { ((try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? Object) ?? [:] }

    // MARK: Changes

    /// What replacing a resource's writable attributes `before` (nil: it does not exist yet) by `after` changes in the
    /// ledger, for the directory: the user or group added, members added and removed, a user enabled or disabled.
    public static func change(kind: Kind, id: String, before: Object?, after: Object?, existsInLedger: Bool) -> DirectoryChange {
        var change = DirectoryChange()
        switch kind {
        case .user:
            if before == nil && !existsInLedger { change.addUsers = [id] }
            let was = before.map { ($0["active"] as? Bool) ?? true } ?? true
            let now = after.map { ($0["active"] as? Bool) ?? true } ?? false
            if was && !now { change.disable = [id] }
            if !was && now { change.enable = [id] }
        case .group:
            if before == nil && !existsInLedger { change.createGroups = [id] }
            let old = Set(before.map(members) ?? [])
            let new = after.map(members) ?? []
            change.removeMembers = old.subtracting(new).sorted().map { GroupMembership(group: id, member: $0) }
            change.addMembers = new.filter { !old.contains($0) }.map { GroupMembership(group: id, member: $0) }
        }
        return change
    }

    // MARK: Filters

    /// A filter of `attribute eq value` comparisons joined by `and` (RFC 7644 §3.4.2.2, the part a directory's
    /// provisioning uses). Attribute names are case-insensitive; string values compare exactly (`userName` and the group's
    /// name, Signoff names, are lowercase). Anything else is refused as invalidFilter, never guessed.
    public struct Filter: Sendable {
        public struct Clause: Sendable {
            public let path: [String]
            public let value: String
        }
        public let clauses: [Clause]

        /// A filter is at most this many bytes and `and`s this many comparisons: a provisioning client asks for one user
        /// or group at a time; a longer one is refused before it is read (parsing is not free).
        public static let maximumBytes = 1024
        public static let maximumClauses = 8

        public init(_ text: String, kind: Kind) throws {
            guard text.utf8.count <= Self.maximumBytes else { throw Failure.invalidFilter("a filter is at most \(Self.maximumBytes) bytes") }
            var clauses: [Clause] = []
            var rest = Substring(text.trimmingCharacters(in: .whitespaces))
            while true {
                guard let space = rest.firstIndex(of: " ") else { throw Failure.invalidFilter("expected ATTRIBUTE eq VALUE in \(text.prefix(100))") }
                let attribute = String(rest[..<space])
                rest = rest[space...].drop { $0 == " " }
                guard rest.lowercased().hasPrefix("eq ") else {
                    throw Failure.invalidFilter("only the eq operator (joined by and) is supported; \(text.prefix(100)) is not")
                }
                rest = rest.dropFirst(3).drop { $0 == " " }
                let value: String
                if rest.first == "\"" {
                    var result = ""
                    var index = rest.index(after: rest.startIndex)
                    var closed = false
                    while index < rest.endIndex {
                        let character = rest[index]
                        if character == "\\" {
                            index = rest.index(after: index)
                            guard index < rest.endIndex else { break }
                            result.append(rest[index])
                        } else if character == "\"" {
                            closed = true
                            break
                        } else {
                            result.append(character)
                        }
                        index = rest.index(after: index)
                    }
                    guard closed else { throw Failure.invalidFilter("an unterminated string in \(text.prefix(100))") }
                    value = result
                    rest = rest[rest.index(after: index)...]
                } else {
                    let end = rest.firstIndex(of: " ") ?? rest.endIndex
                    let token = rest[..<end].lowercased()
                    guard token == "true" || token == "false" else { throw Failure.invalidFilter("a value must be a quoted string, true or false") }
                    value = token
                    rest = rest[end...]
                }
                let parts = attribute.split(separator: ".").map(String.init)
                guard let first = parts.first, let name = kind.canonical(first), parts.count <= 2 else {
                    throw Failure.invalidFilter("\(attribute.prefix(60)) is not an attribute of \(kind.rawValue)")
                }
                clauses.append(Clause(path: [name] + parts.dropFirst().map { $0.lowercased() }, value: value))
                guard clauses.count <= Self.maximumClauses else { throw Failure.invalidFilter("a filter joins at most \(Self.maximumClauses) comparisons") }
                rest = rest.drop { $0 == " " }
                if rest.isEmpty { break }
                guard rest.lowercased().hasPrefix("and ") else { throw Failure.invalidFilter("only and joins comparisons; \(text.prefix(100)) is not supported") }
                rest = rest.dropFirst(4).drop { $0 == " " }
            }
            self.clauses = clauses
        }

        /// Whether a rendered resource matches.
        public func matches(_ resource: Object) -> Bool {
            clauses.allSatisfy { clause in
                let top = resource[clause.path[0]]
                if clause.path.count == 1 { return Self.equals(top, clause.value) }
                let items = (top as? [Any]) ?? [top as Any]
                return items.contains { item in
                    guard let object = item as? Object else { return false }
                    let key = object.keys.first { $0.lowercased() == clause.path[1] }
                    return key.map { Self.equals(object[$0], clause.value) } ?? false
                }
            }
        }

        static func equals(_ value: Any?, _ expected: String) -> Bool {
            if let value, SCIM.isBoolean(value), let bool = value as? Bool { return String(bool) == expected }
            if let string = value as? String { return string == expected }
            return false
        }
    }

    // MARK: PATCH

    /// Applies a PatchOp body (RFC 7644 §3.5.2) to a resource's writable attributes. Paths: an attribute of ours, or
    /// `members[value eq "ID"]` / `emails[ATTR eq "V"]` (a value filter selecting items of a multi-valued attribute).
    public static func patch(_ object: Object, with body: Object, kind: Kind) throws -> Object {
        guard let operations = body["Operations"] as? [Any], !operations.isEmpty else {
            throw Failure.invalidSyntax("a PATCH body has Operations: a non-empty array")
        }
        var result = object
        for case let operation as Object in operations {
            guard let op = (operation["op"] as? String)?.lowercased(), ["add", "replace", "remove"].contains(op) else {
                throw Failure.invalidSyntax("op must be add, replace or remove")
            }
            let value = operation["value"]
            guard let path = operation["path"] as? String, !path.isEmpty else {
                // No path: the value is an object of attributes to add or replace.
                guard op != "remove" else { throw Failure(400, "noTarget", "remove needs a path") }
                guard let attributes = value as? Object else { throw Failure.invalidValue("without a path, the value is an object of attributes") }
                for (key, item) in attributes {
                    guard let name = kind.canonical(key), kind.attributes.contains(name) else { continue }
                    try apply(op, name: name, filter: nil, value: item, to: &result, kind: kind)
                }
                continue
            }
            let (name, filter) = try parsePath(path, kind: kind)
            try apply(op, name: name, filter: filter, value: value, to: &result, kind: kind)
        }
        try check(result, kind: kind)
        return result
    }

    static func parsePath(_ path: String, kind: Kind) throws -> (String, Filter?) {
        if let open = path.firstIndex(of: "["), path.hasSuffix("]") {
            let attribute = String(path[..<open])
            guard let name = kind.canonical(attribute), kind.multiValued.contains(name) else {
                throw Failure.invalidPath("\(attribute.prefix(60)) is not a multi-valued attribute of \(kind.rawValue)")
            }
            let inner = String(path[path.index(after: open)..<path.index(before: path.endIndex)])
            // A value filter's attributes are the item's own: read them as a path under this attribute.
            let filter = try Filter(inner.split(separator: " ", maxSplits: 1).map(String.init).enumerated().map { $0 == 0 ? name + "." + $1 : $1 }.joined(separator: " "), kind: kind)
            return (name, filter)
        }
        let parts = path.split(separator: ".").map(String.init)
        guard parts.count == 1, let name = kind.canonical(parts[0]), kind.attributes.contains(name) else {
            throw Failure.invalidPath("\(path.prefix(60)) is not a path this service writes (one of \(kind.attributes.joined(separator: ", ")))")
        }
        return (name, nil)
    }

    static func apply(_ op: String, name: String, filter: Filter?, value: Any?, to object: inout Object, kind: Kind) throws {
        if name == kind.nameAttribute {
            guard op != "remove", let new = value as? String, new == object[name] as? String else {
                throw Failure.mutability("\(name) is the resource's Signoff name and cannot change")
            }
            return
        }
        let multi = kind.multiValued.contains(name)
        if let filter {
            let items = (object[name] as? [Any]) ?? []
            let matching = { (item: Any) in filter.matches([name: [item]]) }
            switch op {
            case "remove": object[name] = items.filter { !matching($0) }
            default:
                guard let patch = value as? Object else { throw Failure.invalidValue("the value for \(name)[…] is an object") }
                object[name] = items.map { item -> Any in
                    guard matching(item), var existing = item as? Object else { return item }
                    for (k, v) in patch { existing[k] = v }
                    return existing
                }
            }
            return
        }
        switch op {
        case "remove":
            object[name] = nil
        case "add" where multi:
            let new = (value as? [Any]) ?? (value.map { [$0] } ?? [])
            var items = (object[name] as? [Any]) ?? []
            for item in new {
                if name == "members", let id = (item as? Object)?["value"] as? String, members(of: [name: items]).contains(id) { continue }
                items.append(item)
            }
            object[name] = items
        default:
            if value == nil || value is NSNull { object[name] = nil } else { object[name] = multi && !(value is [Any]) ? [value!] : value }
        }
    }

    // MARK: Attribute selection

    /// A rendered resource with only `attributes` (plus `id` and `schemas`, always returned), or without
    /// `excludedAttributes` (RFC 7644 §3.4.2.5). A sub-attribute (`emails.value`) keeps that part of each item.
    public static func select(_ resource: Object, attributes: [String], excluded: [String], kind: Kind) -> Object {
        func split(_ list: [String]) -> [(String, String?)] {
            list.compactMap { path in
                let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
                guard let name = kind.canonical(parts[0]) else { return nil }
                return (name, parts.count == 2 ? parts[1] : nil)
            }
        }
        var out = resource
        if !attributes.isEmpty {
            let wanted = split(attributes)
            out = ["schemas": resource["schemas"] as Any, "id": resource["id"] as Any]
            for (name, sub) in wanted {
                guard let value = resource[name] else { continue }
                if let sub, let items = value as? [Any] {
                    out[name] = items.compactMap { item -> Any? in
                        guard let object = item as? Object, let key = object.keys.first(where: { $0.caseInsensitiveCompare(sub) == .orderedSame }) else { return nil }
                        return [key: object[key] as Any] as Object
                    }
                } else {
                    out[name] = value
                }
            }
        }
        for (name, sub) in split(excluded) where name != "id" && name != "schemas" {
            if sub == nil { out[name] = nil }
        }
        return out
    }
}

// MARK: Discovery (RFC 7643 §5–§7)

extension SCIM {
    static func attribute(
        _ name: String, _ type: String, multiValued: Bool = false, required: Bool = false, mutability: String = "readWrite", uniqueness: String = "none",
        caseExact: Bool = false, description: String, sub: [Object]? = nil, canonical: [String]? = nil, referenceTypes: [String]? = nil
    ) -> Object {
        var object: Object = [
            "name": name, "type": type, "multiValued": multiValued, "required": required, "caseExact": caseExact, "mutability": mutability,
            "returned": "default", "uniqueness": uniqueness, "description": description,
        ]
        if let sub { object["subAttributes"] = sub }
        if let canonical { object["canonicalValues"] = canonical }
        if let referenceTypes { object["referenceTypes"] = referenceTypes }
        return object
    }

    /// `/Schemas`: the User and Group attributes this service keeps (RFC 7643 §4, the part it serves).
    public static func schemas(base: String) -> [Object] {
        let user: Object = [
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": userSchema, "name": "User", "description": "A person Signoff knows",
            "attributes": [
                attribute("userName", "string", required: true, mutability: "immutable", uniqueness: "server", caseExact: true,
                    description: "The user's Signoff name: 1–63 of a-z 0-9 . _ -; also the resource's id"),
                attribute("displayName", "string", description: "The name shown for the user"),
                attribute("active", "boolean", description: "false disables the user (sessions and tokens end at once)"),
                attribute("emails", "complex", multiValued: true, description: "E-mail addresses", sub: [
                    attribute("value", "string", description: "The address"),
                    attribute("type", "string", description: "work, home or other", canonical: ["work", "home", "other"]),
                    attribute("primary", "boolean", description: "The preferred address"),
                ]),
            ],
            "meta": ["resourceType": "Schema", "location": base + "/Schemas/" + userSchema] as Object,
        ]
        let group: Object = [
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": groupSchema, "name": "Group", "description": "A group of users",
            "attributes": [
                attribute("displayName", "string", required: true, mutability: "immutable", uniqueness: "server", caseExact: true,
                    description: "The group's Signoff name: 1–63 of a-z 0-9 . _ -; also the resource's id"),
                attribute("members", "complex", multiValued: true, description: "The group's members: users this directory provisioned", sub: [
                    attribute("value", "string", mutability: "immutable", description: "The member's id"),
                    attribute("$ref", "reference", mutability: "immutable", description: "The member's URI", referenceTypes: ["User"]),
                ]),
            ],
            "meta": ["resourceType": "Schema", "location": base + "/Schemas/" + groupSchema] as Object,
        ]
        return [user, group]
    }

    /// `/ResourceTypes`.
    public static func resourceTypes(base: String) -> [Object] {
        Kind.allCases.map { kind in
            [
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": kind.rawValue, "name": kind.rawValue,
                "endpoint": kind.endpoint, "description": kind == .user ? "Users" : "Groups", "schema": kind.schema,
                "meta": ["resourceType": "ResourceType", "location": base + "/ResourceTypes/" + kind.rawValue] as Object,
            ] as Object
        }
    }

    /// `/ServiceProviderConfig`: PATCH and filtering supported; bulk, sorting, ETags and password changes not.
    public static func serviceProviderConfig(base: String) -> Object {
        [
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://signoff.dev/schema/directory.md",
            "patch": ["supported": true] as Object,
            "bulk": ["supported": false, "maxOperations": 0, "maxPayloadSize": 0] as Object,
            "filter": ["supported": true, "maxResults": maximumResults] as Object,
            "changePassword": ["supported": false] as Object,
            "sort": ["supported": false] as Object,
            "etag": ["supported": false] as Object,
            "authenticationSchemes": [
                [
                    "type": "oauthbearertoken", "name": "Directory token",
                    "description": "The bearer token `signoff directory connect` wrote (a connected directory's own)", "primary": true,
                ] as Object
            ],
            "meta": ["resourceType": "ServiceProviderConfig", "location": base + "/ServiceProviderConfig"] as Object,
        ]
    }
}
