/// A value that writes its canonical JSON itself, member by member, without the `Encodable` machinery: for the few
/// types encoded for every signed decision (a request's projection document and the events of a decision), where
/// building ``CanonicalJSON``'s tree, sorting each object's keys and the coding containers' dynamic calls were a sixth of
/// the process's CPU time (`BENCHMARKS.md`, issue 24).
///
/// A conformance must write exactly the bytes of its `Encodable` form (``CanonicalJSON/foundationEncode(_:)``): the
/// tests hold every conformance to Foundation's encoder on every event and document of the engine's test worlds, and on
/// values with every optional field set and hostile text. ``CanonicalJSON/encode(_:)`` uses it whenever a value has one.
public protocol CanonicalJSONWritable: Encodable {
    func writeCanonicalJSON(to out: inout [UInt8])
}

extension CanonicalJSON {
    /// The canonical JSON of a writable value.
    public static func encode(writable value: some CanonicalJSONWritable) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        value.writeCanonicalJSON(to: &out)
        return out
    }

    /// Writes one JSON object, member by member, in the order called — which must be the keys' UTF-8 byte order, as
    /// canonical JSON has it (checked in debug builds, where the tests run). Optional members left out when nil, as
    /// `encodeIfPresent` does.
    // Inlinable, so that the calls specialize in the conforming types' module (unspecialized, the generic members made
    // the runtime instantiate metadata for every array written).
    public struct ObjectWriter {
        @usableFromInline var members = 0
        #if DEBUG
            @usableFromInline var previous: [UInt8] = []
        #endif

        /// Opens the object.
        @inlinable public init(_ out: inout [UInt8]) { out.append(UInt8(ascii: "{")) }

        /// Closes the object.
        @inlinable public func end(_ out: inout [UInt8]) { out.append(UInt8(ascii: "}")) }

        /// Writes `"key":` (after a comma unless first). Keys are Swift literals of plain ASCII: written as they are.
        @inlinable public mutating func key(_ key: StaticString, _ out: inout [UInt8]) {
            key.withUTF8Buffer { name in
                #if DEBUG
                    precondition(members == 0 || previous.lexicographicallyPrecedes(name), "canonical JSON keys out of order at \(key)")
                    previous = Array(name)
                #endif
                if members > 0 { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: name)
                out.append(UInt8(ascii: "\""))
                out.append(UInt8(ascii: ":"))
            }
            members += 1
        }

        @inlinable public mutating func string(_ key: StaticString, _ value: String, _ out: inout [UInt8]) {
            self.key(key, &out)
            CanonicalJSON.write(value, to: &out)
        }

        @inlinable public mutating func string(_ key: StaticString, ifPresent value: String?, _ out: inout [UInt8]) {
            guard let value else { return }
            string(key, value, &out)
        }

        @inlinable public mutating func integer(_ key: StaticString, _ value: some BinaryInteger, _ out: inout [UInt8]) {
            self.key(key, &out)
            CanonicalJSON.writeInteger(value, to: &out)
        }

        @inlinable public mutating func integer(_ key: StaticString, ifPresent value: (some BinaryInteger)?, _ out: inout [UInt8]) {
            guard let value else { return }
            integer(key, value, &out)
        }

        @inlinable public mutating func bool(_ key: StaticString, _ value: Bool, _ out: inout [UInt8]) {
            self.key(key, &out)
            out.append(contentsOf: value ? [0x74, 0x72, 0x75, 0x65] : [0x66, 0x61, 0x6C, 0x73, 0x65])  // true, false
        }

        @inlinable public mutating func value(_ key: StaticString, _ value: some CanonicalJSONWritable, _ out: inout [UInt8]) {
            self.key(key, &out)
            value.writeCanonicalJSON(to: &out)
        }

        @inlinable public mutating func value(_ key: StaticString, ifPresent value: (some CanonicalJSONWritable)?, _ out: inout [UInt8]) {
            guard let value else { return }
            self.value(key, value, &out)
        }

        @inlinable public mutating func array(_ key: StaticString, _ values: [some CanonicalJSONWritable], _ out: inout [UInt8]) {
            self.key(key, &out)
            out.append(UInt8(ascii: "["))
            for index in values.indices {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                values[index].writeCanonicalJSON(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }

        @inlinable public mutating func strings(_ key: StaticString, _ values: [String], _ out: inout [UInt8]) {
            self.key(key, &out)
            CanonicalJSON.writeStrings(values, to: &out)
        }

        @inlinable public mutating func strings(_ key: StaticString, ifPresent values: [String]?, _ out: inout [UInt8]) {
            guard let values else { return }
            strings(key, values, &out)
        }

        /// A dictionary of string lists (labels): an object, its keys in UTF-8 byte order.
        @inlinable public mutating func stringLists(_ key: StaticString, _ values: [String: [String]], _ out: inout [UInt8]) {
            self.key(key, &out)
            out.append(UInt8(ascii: "{"))
            let names = values.keys.sorted(by: CanonicalJSON.keyPrecedes)
            for index in names.indices {
                let name = names[index]
                if index > 0 { out.append(UInt8(ascii: ",")) }
                CanonicalJSON.write(name, to: &out)
                out.append(UInt8(ascii: ":"))
                CanonicalJSON.writeStrings(values[name]!, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }

        @inlinable public mutating func stringLists(_ key: StaticString, ifPresent values: [String: [String]]?, _ out: inout [UInt8]) {
            guard let values else { return }
            stringLists(key, values, &out)
        }
    }

    /// A JSON array of strings.
    @usableFromInline static func writeStrings(_ values: [String], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for index in values.indices {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            write(values[index], to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// An integer in decimal, as Foundation writes it.
    @inlinable static func writeInteger(_ value: some BinaryInteger, to out: inout [UInt8]) {
        out.append(contentsOf: String(value).utf8)
    }
}

extension DSSEEnvelope: CanonicalJSONWritable {
    public func writeCanonicalJSON(to out: inout [UInt8]) {
        var object = CanonicalJSON.ObjectWriter(&out)
        object.string("payload", Base64.encode(payload), &out)
        object.string("payloadType", payloadType, &out)
        object.array("signatures", signatures, &out)
        object.end(&out)
    }
}

extension DSSEEnvelope.Signature: CanonicalJSONWritable {
    public func writeCanonicalJSON(to out: inout [UInt8]) {
        var object = CanonicalJSON.ObjectWriter(&out)
        object.string("keyid", keyid, &out)
        object.string("sig", Base64.encode(sig), &out)
        object.end(&out)
    }
}

extension SHA256Digest: CanonicalJSONWritable {
    public func writeCanonicalJSON(to out: inout [UInt8]) { CanonicalJSON.write(description, to: &out) }
}
