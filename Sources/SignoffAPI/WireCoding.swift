public import Foundation

/// How the API's JSON is written and read, on both sides of the wire: keys sorted, `/` unescaped, field names
/// snake_case (spelled out in the types, since a key strategy would also rename DSSE's `payloadType`), times RFC 3339
/// UTC strings and hashes `sha256:<hex>` (`schema/vocabulary.md`).
public enum WireCoding {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func encode(_ value: some Encodable, pretty: Bool = false) throws -> Data { try encoder(pretty: pretty).encode(value) }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T { try JSONDecoder().decode(type, from: data) }

    /// A path segment, percent-encoded (a `/` inside a name must not become a path separator).
    public static func pathSegment(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#&=+"))) ?? segment
    }

    /// A query string from its parameters, leaving out those without a value.
    public static func query(_ parameters: [(String, String?)]) -> String {
        let parts = parameters.compactMap { key, value in value.map { "\(key)=\(pathSegment($0))" } }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }
}
