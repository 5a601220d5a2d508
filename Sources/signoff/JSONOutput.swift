import Foundation

/// A small JSON value for `--json` output with stable key order.
indirect enum JSONOutput: CustomStringConvertible {
    case string(String), int(Int), bool(Bool), null
    case array([JSONOutput])
    case object([String: JSONOutput])

    var foundationValue: Any {
        switch self {
        case .string(let s): s
        case .int(let i): i
        case .bool(let b): b
        case .null: NSNull()
        case .array(let a): a.map(\.foundationValue)
        case .object(let o): o.mapValues(\.foundationValue)
        }
    }

    var description: String {
        let data = try! JSONSerialization.data(withJSONObject: foundationValue, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        return String(decoding: data, as: UTF8.self)
    }
}
