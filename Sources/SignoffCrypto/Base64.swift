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

    /// Standard or URL-safe alphabet, with or without padding. (Byte by byte: the string replacements this used
    /// to make were a sixth of an audit export's time.)
    public static func decodeLenient(_ text: some StringProtocol) -> [UInt8]? {
        var bytes = Array(text.utf8)
        var standard = false, urlSafe = false
        for i in bytes.indices {
            switch bytes[i] {
            case 0x2B, 0x2F: standard = true  // + /
            case 0x2D: urlSafe = true; bytes[i] = 0x2B  // - → +
            case 0x5F: urlSafe = true; bytes[i] = 0x2F  // _ → /
            default: break
            }
        }
        if standard && urlSafe { return nil }
        let remainder = bytes.count % 4
        if remainder == 1 { return nil }
        if remainder > 0 && bytes.last != 0x3D { bytes += Array(repeating: 0x3D, count: 4 - remainder) }
        guard let data = Data(base64Encoded: Data(bytes)) else { return nil }
        return [UInt8](data)
    }
}
