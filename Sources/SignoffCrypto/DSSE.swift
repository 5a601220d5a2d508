internal import Foundation

/// Dead Simple Signing Envelope (secure-systems-lab/dsse, protocol v1.0).
public enum DSSE {
    /// The payload type of an in-toto Statement.
    public static let inTotoPayloadType = "application/vnd.in-toto+json"

    /// Pre-Authentication Encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths as
    /// ASCII decimal byte counts. This — never the JSON — is what gets signed.
    public static func pae(payloadType: String, payload: [UInt8]) -> [UInt8] {
        let type = Array(payloadType.utf8)
        var out = Array("DSSEv1 \(type.count) ".utf8)
        out.append(contentsOf: type)
        out.append(contentsOf: Array(" \(payload.count) ".utf8))
        out.append(contentsOf: payload)
        return out
    }

    /// Signs `payload` and returns a one-signature envelope whose `keyid` is the key's fingerprint.
    public static func sign(payload: [UInt8], payloadType: String, with key: Ed25519.SigningKey) -> DSSEEnvelope {
        var envelope = DSSEEnvelope(payloadType: payloadType, payload: payload, signatures: [])
        envelope.addSignature(with: key)
        return envelope
    }
}

/// A key a verifier trusts, with the `keyid` signatures name it by.
public struct DSSETrustedKey: Hashable, Sendable {
    public let keyID: String
    public let publicKey: Ed25519.PublicKey

    public init(keyID: String, publicKey: Ed25519.PublicKey) {
        self.keyID = keyID
        self.publicKey = publicKey
    }

    /// Named by the key's fingerprint, as envelopes signed by Signoff do.
    public init(publicKey: Ed25519.PublicKey) {
        self.init(keyID: publicKey.keyFingerprint, publicKey: publicKey)
    }
}

/// A DSSE envelope. `payload` holds the exact bytes that were signed; they are never re-serialised.
public struct DSSEEnvelope: Hashable, Sendable, Codable {
    /// The most signatures Signoff accepts on one envelope (a decision has one; an administrators' quorum at most 4):
    /// more are refused before any signature is checked, so that an envelope cannot make a verifier do unbounded work.
    public static let maximumSignatures = 4

    public struct Signature: Hashable, Sendable, Codable {
        /// Optional in the spec; empty when absent.
        public var keyid: String
        public var sig: [UInt8]

        public init(keyid: String, sig: [UInt8]) {
            self.keyid = keyid
            self.sig = sig
        }

        enum CodingKeys: String, CodingKey { case keyid, sig }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            keyid = try c.decodeIfPresent(String.self, forKey: .keyid) ?? ""
            let text = try c.decode(String.self, forKey: .sig)
            guard let bytes = Base64.decodeLenient(text) else {
                throw DecodingError.dataCorruptedError(forKey: .sig, in: c, debugDescription: "sig is not base64")
            }
            sig = bytes
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(keyid, forKey: .keyid)
            try c.encode(Base64.encode(sig), forKey: .sig)
        }
    }

    public var payloadType: String
    public var payload: [UInt8]
    public var signatures: [Signature]

    public init(payloadType: String, payload: [UInt8], signatures: [Signature]) {
        self.payloadType = payloadType
        self.payload = payload
        self.signatures = signatures
    }

    enum CodingKeys: String, CodingKey { case payload, payloadType, signatures }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        payloadType = try c.decode(String.self, forKey: .payloadType)
        let text = try c.decode(String.self, forKey: .payload)
        guard let bytes = Base64.decodeLenient(text) else {
            throw DecodingError.dataCorruptedError(forKey: .payload, in: c, debugDescription: "payload is not base64")
        }
        payload = bytes
        signatures = try c.decode([Signature].self, forKey: .signatures)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Base64.encode(payload), forKey: .payload)
        try c.encode(payloadType, forKey: .payloadType)
        try c.encode(signatures, forKey: .signatures)
    }

    /// The PAE bytes a signature covers.
    public var signedBytes: [UInt8] { DSSE.pae(payloadType: payloadType, payload: payload) }

    /// Adds a signature by `key`, named by its fingerprint.
    public mutating func addSignature(with key: Ed25519.SigningKey) {
        signatures.append(Signature(keyid: key.publicKey.keyFingerprint, sig: key.signature(for: signedBytes)))
    }

    /// Verifies against `trustedKeys`: a signature counts when its `keyid` names a trusted key (or, when it
    /// has no `keyid`, any trusted key) and the Ed25519 signature over the PAE is valid. Each trusted key counts
    /// once, however many signatures it made. Returns the keys that signed; throws if fewer than `threshold`.
    @discardableResult
    public func verify(trustedKeys: [DSSETrustedKey], threshold: Int = 1) throws(CryptoError) -> [DSSETrustedKey] {
        guard threshold >= 1 else {
            throw CryptoError(.thresholdNotMet, "a verification threshold must be at least 1 (got \(threshold))")
        }
        guard !signatures.isEmpty else { throw CryptoError(.envelopeMalformed, "the envelope has no signatures") }
        let message = signedBytes
        var accepted: [DSSETrustedKey] = []
        for signature in signatures {
            // Signoff names keys `sha256:<hex>`; envelopes of format 1 named them by the bare hex. Both name the same key.
            let keyid = Ed25519.PublicKey.fingerprintHex(signature.keyid)
            let candidates = signature.keyid.isEmpty ? trustedKeys : trustedKeys.filter { Ed25519.PublicKey.fingerprintHex($0.keyID) == keyid }
            for key in candidates where !accepted.contains(key) && key.publicKey.isValidSignature(signature.sig, for: message) {
                accepted.append(key)
                break
            }
        }
        guard accepted.count >= threshold else {
            throw CryptoError(
                .thresholdNotMet,
                accepted.isEmpty
                    ? "no signature on the envelope is valid for a trusted key"
                    : "only \(accepted.count) of the \(threshold) required distinct trusted keys signed the envelope"
            )
        }
        return accepted
    }

    /// Canonical JSON of the envelope (sorted keys, standard base64).
    public func jsonBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return [UInt8](try! encoder.encode(self))  // encoding strings and arrays cannot fail
    }

    /// Parses an envelope from JSON; base64 may be standard or URL-safe.
    public init(json: [UInt8]) throws(CryptoError) {
        do {
            self = try JSONDecoder().decode(DSSEEnvelope.self, from: Data(json))
        } catch {
            throw CryptoError(.envelopeMalformed, "not a DSSE envelope: \(Self.describe(error))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _): "missing field \"\(key.stringValue)\""
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case .dataCorrupted(let context):
            context.codingPath.isEmpty ? "invalid JSON" : "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default: "invalid JSON"
        }
    }
}
