internal import Foundation

/// Base64 as the standards we follow use it: standard alphabet with padding on output;
/// on input, standard or URL-safe alphabet, padded or not (DSSE allows both).
public enum Base64 {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
    }

    /// Strict standard base64 with padding (checkpoints and signed notes require exactly this).
    public static func decodeStandard(_ text: some StringProtocol) -> [UInt8]? {
        guard let data = Data(base64Encoded: String(text)) else { return nil }
        let bytes = [UInt8](data)
        // Refuse non-canonical encodings (e.g. non-zero padding bits): re-encoding must give the input back.
        guard encode(bytes) == String(text) else { return nil }
        return bytes
    }

    /// Standard or URL-safe alphabet, with or without padding.
    public static func decodeLenient(_ text: some StringProtocol) -> [UInt8]? {
        var s = String(text)
        let hasStandard = s.contains("+") || s.contains("/")
        let hasURLSafe = s.contains("-") || s.contains("_")
        if hasStandard && hasURLSafe { return nil }
        s = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let remainder = s.count % 4
        if remainder == 1 { return nil }
        if remainder > 0 && !s.hasSuffix("=") { s += String(repeating: "=", count: 4 - remainder) }
        guard let data = Data(base64Encoded: s) else { return nil }
        return [UInt8](data)
    }
}
