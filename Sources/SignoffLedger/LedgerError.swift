/// An error from the ledger: what was wrong and what to do next.
public struct LedgerError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public static let invalidEntry = Code(name: "invalidEntry")
        /// A version-2 entry whose payload is not the one its header's digest (and so its leaf hash) covers.
        public static let payloadAltered = Code(name: "payloadAltered")
        public static let invalidProof = Code(name: "invalidProof")
        public static let invalidRequest = Code(name: "invalidRequest")
        public static let malformedNote = Code(name: "malformedNote")
        public static let malformedCheckpoint = Code(name: "malformedCheckpoint")
        public static let noValidSignature = Code(name: "noValidSignature")
        public static let inconsistent = Code(name: "inconsistent")
        public static let storage = Code(name: "storage")
        public var description: String { name }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
