/// An error from ``SignoffCrypto``: what was wrong, and what to do about it.
///
/// The ``Code`` can grow without breaking callers, as in swift-certificates.
public struct CryptoError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: Hashable, Sendable {
            case libraryUnavailable, invalidLength, invalidEncoding, invalidKeyName
            case badSignature, notAKeyFile, unsupportedVersion, truncated, corrupted
            case wrongPassphrase, weakParameters, emptyPassphrase, fileIO
            case envelopeMalformed, thresholdNotMet
        }
        let base: Base
        public static let libraryUnavailable = Code(base: .libraryUnavailable)
        public static let invalidLength = Code(base: .invalidLength)
        public static let invalidEncoding = Code(base: .invalidEncoding)
        public static let invalidKeyName = Code(base: .invalidKeyName)
        public static let badSignature = Code(base: .badSignature)
        public static let notAKeyFile = Code(base: .notAKeyFile)
        public static let unsupportedVersion = Code(base: .unsupportedVersion)
        public static let truncated = Code(base: .truncated)
        public static let corrupted = Code(base: .corrupted)
        public static let wrongPassphrase = Code(base: .wrongPassphrase)
        public static let weakParameters = Code(base: .weakParameters)
        public static let emptyPassphrase = Code(base: .emptyPassphrase)
        public static let fileIO = Code(base: .fileIO)
        public static let envelopeMalformed = Code(base: .envelopeMalformed)
        public static let thresholdNotMet = Code(base: .thresholdNotMet)
        public var description: String { "\(base)" }
    }

    public let code: Code
    /// A sentence for a person: what was wrong and what to do next. Never contains secret material.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
