"""DSSE interoperability with securesystemslib, an implementation nobody on this project wrote.

  dsse_interop.py verify PUBKEY_HEX KEYID  < envelope.json   exit 0 if valid, 1 if refused
  dsse_interop.py sign                                        prints {"envelope", "public_key", "keyid"}
"""
import json
import sys

from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey


def verify(public_hex: str, keyid: str) -> int:
    envelope = Envelope.from_dict(json.loads(sys.stdin.buffer.read()))
    key = SSlibKey(keyid, "ed25519", "ed25519", {"public": public_hex})
    try:
        accepted = envelope.verify([key], 1)
    except Exception as error:  # securesystemslib raises VerificationError
        print(f"refused: {error}")
        return 1
    print(f"verified by {sorted(accepted)}")
    return 0


def sign() -> int:
    signer = CryptoSigner.generate_ed25519()
    payload = json.dumps({"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "b.zip", "digest": {"sha256": "00" * 32}}]}).encode()
    envelope = Envelope(payload, "application/vnd.in-toto+json", {})
    envelope.sign(signer)
    print(json.dumps({
        "envelope": json.dumps(envelope.to_dict()),
        "public_key": signer.public_key.keyval["public"],
        "keyid": signer.public_key.keyid,
    }))
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "verify":
        sys.exit(verify(sys.argv[2], sys.argv[3]))
    sys.exit(sign())
