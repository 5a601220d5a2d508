#!/usr/bin/env python3
"""Independent verifier for Signoff audit exports, format `signoff-audit-export/7`.

Written from the specification only (schema/audit-export.md, schema/ledger.md, schema/key-file.md,
schema/vocabulary.md), with the Python standard library and PyNaCl.

    python3 verify_export.py EXPORT_DIR LEDGER_PUB

Exit 0 and one line "OK: ..." when the export verifies; exit 1 and one line "FAILED: <reason>" when it does not;
exit 2 on a usage error. The checks follow the spec's "Verifying" section, in its order:

 1. checkpoint (signed note by the trusted key)      5. manifest signature
 2. manifest read (envelope, format, filter, files)  6. file set, digests, manifest fields
 3. entries (sequence, decoding, full-vs-stub,       7. keys.jsonl, decisions.csv, administration.csv rebuilt
    Merkle root)                                        byte for byte
 4. signatures and bindings (key history, signed decisions, retrospective/delegation envelopes, administrative
    approvals, header project/environment)

entries.jsonl is read once, line by line; steps 3 and 4 run in the same pass, but a step-4 failure is only reported
once the whole of step 3 (including the Merkle root) has passed, so that the first failure in the spec's order is the
one reported. The Merkle root is computed with a stack of complete subtrees (O(log n) memory); decisions.csv and
administration.csv are compared with the rebuilt rows as they are produced.
"""

import base64
import hashlib
import json
import os
import re
import stat
import struct
import sys
import unicodedata

try:
    from nacl.signing import VerifyKey
except Exception:  # pragma: no cover - reported at run time
    VerifyKey = None


class Failure(Exception):
    """A verification failure; its message is the reason."""


def fail(msg):
    raise Failure(msg)


# ---------------------------------------------------------------------------------------------------------------------
# Constants from the spec

EXPORT_FORMAT = "signoff-audit-export/7"
MANIFEST_PAYLOAD_TYPE = "application/vnd.signoff.export-manifest.v1+json"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
DECISION_TYPES = {
    "https://signoff.dev/decision/v3": 3,
    "https://signoff.dev/decision/v2": 2,
    "https://signoff.dev/decision/v1": 1,
}

REQUEST_KINDS = frozenset([
    "request.filed", "evidence.attached", "decision.recorded", "stage.entered", "request.rejected",
    "request.withdrawn", "request.revised", "deployment.started", "deployment.recorded", "retrospective.recorded", "request.expired",
])
# Administrative, yet stubs in an export of one project: a subscription's URL is a secret ("Which entries are in full").
SUBSCRIPTION_KINDS = frozenset(["webhook.added", "webhook.removed"])
# Every kind the "Events" section names (for these the payload must be a JSON object).
KNOWN_KINDS = REQUEST_KINDS | frozenset([
    "ledger.initialized", "principal.added", "key.enrolled", "key.revoked", "group.created", "group.member-removed",
    "project.updated", "principal.disabled", "principal.enabled", "admin.quorum-set", "token.issued",
    "group.member-added", "workflow.applied", "project.created", "freeze.added", "freeze.lifted",
    "delegation.granted", "delegation.revoked", "token.revoked", "webhook.added", "webhook.removed",
    "issuer.trusted", "issuer.distrusted", "directory.connected", "directory.disconnected", "group.linked", "freeze.exempted",
])

EXPORT_FILES = ("SUMMARY.md", "administration.csv", "checkpoint.txt", "decisions.csv", "entries.jsonl",
                "keys.jsonl", "requests.md")
MANIFEST_NAME = "MANIFEST.json"

FULL_KEYS = ["actor", "entry", "environment", "kind", "project", "sequence", "time"]
STUB_KEYS = ["actor", "environment", "kind", "payload_digest", "project", "sequence", "time"]
MANIFEST_KEYS = ["checkpoint_root", "checkpoint_size", "documents", "files", "filter", "format", "full_entries",
                 "ledger_verifier_key", "origin", "stubs"]
FILTER_KEYS = ["environment", "project", "since", "until"]

DECISIONS_HEADER = ("time,request,project,environment,stage,decision,actor,on_behalf_of,key_id,signature_valid,"
                    "bundle_digest,comment")
ADMIN_HEADER = "time,sequence,kind,actor,subject,signers,signature_valid"

MAX_MS = 253402300799999          # 9999-12-31T23:59:59.999Z
MAX_PAYLOAD = 16 * 1024 * 1024     # 16 MiB
MAX_NOTE_TEXT = 1024 * 1024        # 1 MiB
MAX_NOTE_SIGS = 100

_HEX64 = re.compile(r"[0-9a-f]{64}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_KEYIDHEX = re.compile(r"[0-9a-f]{8}")
_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{3})Z")
_RFC3339 = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
                      r"([Zz]|[+-][0-9]{2}:[0-9]{2})")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


# ---------------------------------------------------------------------------------------------------------------------
# Encodings

def sha256(b):
    return hashlib.sha256(b).digest()


def b64decode_strict(s, what):
    """RFC 4648 section 4, standard alphabet with padding; must re-encode to itself."""
    if not isinstance(s, str):
        fail(f"{what}: not a base64 string")
    if not _B64.fullmatch(s):
        fail(f"{what}: not canonical base64")
    raw = base64.b64decode(s.encode("ascii"), validate=True)
    if base64.b64encode(raw).decode("ascii") != s:
        fail(f"{what}: non-canonical base64")
    return raw


def b64encode(b):
    return base64.b64encode(b).decode("ascii")


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def days_in_month(y, m):
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return 30 if m in (4, 6, 9, 11) else 31


# The canonical form has a four-digit year: 0000-01-01T00:00:00.000Z ... 9999-12-31T23:59:59.999Z.
MIN_CANONICAL_MS = days_from_civil(0, 1, 1) * 86400000


def ms_to_time(ms):
    """Milliseconds since the epoch as the canonical `YYYY-MM-DDTHH:MM:SS.mmmZ`."""
    if not isinstance(ms, int) or isinstance(ms, bool) or not MIN_CANONICAL_MS <= ms <= MAX_MS:
        fail(f"time {ms!r} ms cannot be written as YYYY-MM-DDTHH:MM:SS.mmmZ")
    days, rem = divmod(ms, 86400000)
    y, mo, d = civil_from_days(days)
    secs, milli = divmod(rem, 1000)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (y, mo, d, secs // 3600, secs // 60 % 60, secs % 60, milli)


def _civil_ms(y, mo, d, h, mi, se):
    """Whole-second milliseconds of a date and time of day, or None if it is not a valid one."""
    if not (1 <= mo <= 12 and 1 <= d <= days_in_month(y, mo) and h <= 23 and mi <= 59 and se <= 59):
        return None
    return ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + se * 1000


def time_to_ms(s, what, lo=0, hi=MAX_MS):
    """A canonical time `YYYY-MM-DDTHH:MM:SS.mmmZ`, which must convert back to itself."""
    if not isinstance(s, str):
        fail(f"{what}: not a time string")
    m = _TIME.fullmatch(s)
    if not m:
        fail(f"{what}: {s!r} is not a time of the form YYYY-MM-DDTHH:MM:SS.mmmZ")
    y, mo, d, h, mi, se, frac = (int(g) for g in m.groups())
    base = _civil_ms(y, mo, d, h, mi, se)
    if base is None:
        fail(f"{what}: {s!r} is not a valid time")
    ms = base + frac
    if not lo <= ms <= hi or ms_to_time(ms) != s:
        fail(f"{what}: {s!r} is not a canonical time")
    return ms


def rfc3339_to_ms(s, what):
    """Any RFC 3339 date-time (section 5.6: `T`/`t`, `Z`/`z` or a `+HH:MM`/`-HH:MM` offset, which is applied; any
    number of fraction digits, of which the first three give the milliseconds and the rest are dropped: truncated,
    not rounded), as a whole number of milliseconds since the epoch."""
    if not isinstance(s, str):
        fail(f"{what}: not an RFC 3339 time")
    m = _RFC3339.fullmatch(s)
    if not m:
        fail(f"{what}: {s!r} is not an RFC 3339 time")
    y, mo, d, h, mi, se = (int(g) for g in m.groups()[:6])
    frac, off = m.group(7), m.group(8)
    base = _civil_ms(y, mo, d, h, mi, se)
    if base is None:
        fail(f"{what}: {s!r} is not a valid time")
    offset_min = 0
    if off not in ("Z", "z"):
        oh, om = int(off[1:3]), int(off[4:6])
        if oh > 23 or om > 59:
            fail(f"{what}: {s!r} has an invalid offset")
        offset_min = (oh * 60 + om) * (1 if off[0] == "+" else -1)
    milli = int((frac[1:] + "000")[:3]) if frac else 0
    return base + milli - offset_min * 60000


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _esc(m):
    c = m.group(0)
    return _ESCAPES.get(c) or "\\u%04x" % ord(c)


def cj_string(s):
    return '"' + _NEEDS_ESCAPE.sub(_esc, s) + '"'


def cj(v):
    """Compact JSON (audit-export.md "Conventions")."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return cj_string(v)
    if isinstance(v, list):
        return "[" + ",".join(cj(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v.keys(), key=lambda k: utf8(k, "JSON key"))
        return "{" + ",".join(cj_string(k) + ":" + cj(v[k]) for k in keys) + "}"
    fail(f"value {v!r} cannot be written as compact JSON (only integers are allowed)")


def utf8(s, what="text"):
    """UTF-8 bytes of a string from JSON (a lone surrogate escape is refused)."""
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        fail(f"{what}: contains a lone surrogate (not UTF-8 text)")


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _pairs_no_dups(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"duplicate key {k!r}")
        d[k] = v
    return d


def parse_json(b, what, allow_duplicates=False):
    """Strict JSON: UTF-8, no NaN/Infinity, and (by default) no duplicate keys."""
    try:
        s = b.decode("utf-8") if isinstance(b, (bytes, bytearray)) else b
        if allow_duplicates:
            return json.loads(s, parse_constant=_reject_constant)
        return json.loads(s, parse_constant=_reject_constant, object_pairs_hook=_pairs_no_dups)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        fail(f"{what}: not valid JSON ({e})")


def _check_text(v, what):
    """Every string (and key) of a parsed JSON value is UTF-8 text: an escaped surrogate that is not half of a pair is
    refused (RFC 8259 section 8.2)."""
    if isinstance(v, str):
        utf8(v, what)
    elif isinstance(v, list):
        for x in v:
            _check_text(x, what)
    elif isinstance(v, dict):
        for k, x in v.items():
            utf8(k, what)
            _check_text(x, what)


def parse_payload(b, what):
    """An entry's payload: strict JSON (no key twice), its strings UTF-8 text."""
    v = parse_json(b, what)
    _check_text(v, what)
    return v


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def norm_digest(d):
    """A digest of an event, `sha256:<hex>` (in both payload formats; only fingerprints were ever bare hex), as the
    bare hex; None for anything else."""
    if not isinstance(d, str) or not _DIGEST.fullmatch(d):
        return None
    return d[len("sha256:"):]


def norm_fp(fp):
    """A key fingerprint `sha256:<hex>` or bare hex, as bare hex (None if neither)."""
    if not isinstance(fp, str):
        return None
    if fp.startswith("sha256:"):
        fp = fp[len("sha256:"):]
    return fp if _HEX64.fullmatch(fp) else None


# ---------------------------------------------------------------------------------------------------------------------
# Keys (key-file.md) and signatures

def valid_key_name(name):
    if not isinstance(name, str) or name == "" or "+" in name:
        return False
    for ch in name:
        if ch.isspace() or unicodedata.category(ch) == "Cc":
            return False
    return True


class Key:
    def __init__(self, line, name, keyid, pub):
        self.line = line          # the verifier key text
        self.name = name
        self.keyid = keyid        # 4 bytes
        self.pub = pub            # 32 bytes
        self.fp_hex = hashlib.sha256(pub).hexdigest()

    @property
    def fingerprint(self):
        return "sha256:" + self.fp_hex


def parse_verifier_key(line, what):
    """`NAME+KEYIDHEX+BASE64(0x01 || PUBLIC_KEY)`; raises Failure if it does not parse."""
    if not isinstance(line, str):
        fail(f"{what}: not a verifier key string")
    parts = line.split("+", 2)
    if len(parts) != 3:
        fail(f"{what}: not of the form NAME+KEYIDHEX+BASE64")
    name, keyidhex, b64 = parts
    if not valid_key_name(name):
        fail(f"{what}: invalid key name")
    if not _KEYIDHEX.fullmatch(keyidhex):
        fail(f"{what}: key ID is not 8 lowercase hex digits")
    raw = b64decode_strict(b64, what)
    if len(raw) != 33 or raw[0] != 0x01:
        fail(f"{what}: not an Ed25519 key (0x01 and 32 bytes)")
    pub = raw[1:]
    keyid = sha256(utf8(name, what) + b"\n\x01" + pub)[:4]
    if keyid.hex() != keyidhex:
        fail(f"{what}: key ID does not match the key")
    return Key(line, name, keyid, pub)


def parse_key_file(data):
    """A public key file: one line, with or without one final LF, nothing else."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        fail("LEDGER.pub: not UTF-8")
    if text.startswith("\ufeff"):
        fail("LEDGER.pub: byte order mark")
    if text.endswith("\n"):
        text = text[:-1]
    if "\n" in text or "\r" in text:
        fail("LEDGER.pub: more than one line (or a CR)")
    if text == "":
        fail("LEDGER.pub: empty")
    if text != text.strip():
        fail("LEDGER.pub: leading or trailing white space")
    return parse_verifier_key(text, "LEDGER.pub")


def ed25519_ok(pub, msg, sig):
    if not isinstance(sig, (bytes, bytearray)) or len(sig) != 64:
        return False
    try:
        VerifyKey(bytes(pub)).verify(bytes(msg), bytes(sig))
        return True
    except Exception:
        return False


def pae(payload_type, payload):
    t = utf8(payload_type, "payloadType")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


class Envelope:
    def __init__(self, payload_type, payload, signatures):
        self.payload_type = payload_type
        self.payload = payload
        self.signatures = signatures   # list of (keyid str, sig bytes)

    def pae(self):
        return pae(self.payload_type, self.payload)


def parse_envelope(obj, what):
    if not isinstance(obj, dict):
        fail(f"{what}: not a DSSE envelope")
    ptype = obj.get("payloadType")
    if not isinstance(ptype, str):
        fail(f"{what}: no payloadType")
    payload = b64decode_strict(obj.get("payload"), f"{what}: payload")
    sigs_obj = obj.get("signatures")
    sigs = []
    if not isinstance(sigs_obj, list):
        fail(f"{what}: signatures is not a list")
    for n, s in enumerate(sigs_obj):
        if not isinstance(s, dict) or not isinstance(s.get("keyid"), str):
            fail(f"{what}: signature {n} has no keyid")
        sigs.append((s["keyid"], b64decode_strict(s.get("sig"), f"{what}: signature {n}")))
    return Envelope(ptype, payload, sigs)


# ---------------------------------------------------------------------------------------------------------------------
# Step 1: the checkpoint (ledger.md section 4)

def verify_checkpoint(data, key):
    what = "checkpoint.txt"
    if len(data) > MAX_NOTE_TEXT:
        fail(f"{what}: a note larger than 1 MiB")
    try:
        note = data.decode("utf-8")
    except UnicodeDecodeError:
        fail(f"{what}: not UTF-8")
    for ch in note:
        if (ord(ch) < 0x20 and ch != "\n") or ch == "\x7f":
            fail(f"{what}: control character (0x00-0x1F other than LF, or 0x7F) in the note")
    split = note.rfind("\n\n")
    if split < 0:
        fail(f"{what}: malformed note (no blank line before the signatures)")
    text = note[:split + 1]
    sig_part = note[split + 2:]
    if not sig_part.endswith("\n"):
        fail(f"{what}: malformed note (no signature lines, or no final newline)")
    lines = sig_part[:-1].split("\n")
    if len(lines) > MAX_NOTE_SIGS:
        fail(f"{what}: more than {MAX_NOTE_SIGS} signature lines")
    parsed = []
    for line in lines:
        if not line.startswith("\u2014 "):
            fail(f"{what}: malformed signature line {line!r}")
        rest = line[2:]
        sp = rest.find(" ")
        if sp < 0:
            fail(f"{what}: malformed signature line {line!r}")
        name, b64 = rest[:sp], rest[sp + 1:]
        if not valid_key_name(name):
            fail(f"{what}: invalid key name in signature line {line!r}")
        if b64 == "":
            fail(f"{what}: empty signature in line {line!r}")
        blob = b64decode_strict(b64, f"{what}: signature of {name}")
        if len(blob) < 5:
            fail(f"{what}: signature blob shorter than 5 bytes")
        parsed.append((name, blob))
    text_bytes = text.encode("utf-8")
    trusted = 0
    for name, blob in parsed:
        if name != key.name or blob[:4] != key.keyid:
            continue   # another key (a witness, a rotated key): ignored
        trusted += 1
        if not ed25519_ok(key.pub, text_bytes, blob[4:]):
            fail(f"{what}: a signature by the ledger key {key.name} does not verify")
    if trusted == 0:
        fail(f"{what}: not signed by the ledger key {key.name}+{key.keyid.hex()}")
    tl = text.split("\n")
    if len(tl) != 4 or tl[3] != "":
        fail(f"{what}: the checkpoint text is not exactly origin, size and root lines")
    origin, size_s, root_s = tl[0], tl[1], tl[2]
    if origin != key.name:
        fail(f"{what}: origin {origin!r} is not the ledger key's name {key.name!r}")
    if not _DECIMAL.fullmatch(size_s) or len(size_s) > 20 or int(size_s) >= 2 ** 63:
        fail(f"{what}: invalid tree size {size_s!r}")
    root = b64decode_strict(root_s, f"{what}: root hash")
    if len(root) != 32:
        fail(f"{what}: the root hash is not 32 bytes")
    return int(size_s), root, parsed, text_bytes


# ---------------------------------------------------------------------------------------------------------------------
# Step 1, with a witness policy: C2SP tlog-policy (c2sp.org/tlog-policy) and tlog-cosignature v1
# (c2sp.org/tlog-cosignature), written from those specs.

class Policy:
    def __init__(self):
        self.logs = []            # (name bytes, keyid, pub)
        self.witnesses = []       # (name bytes, keyid, pub), in the file's order
        self.defined = {}         # name bytes -> rule: ("witness", name) | ("group", name, k, [rules])
        self.quorum = None        # ("none",) or a rule


def _policy_vkey(field, sig_type, what):
    parts = field.split(b"+", 2)
    if len(parts) != 3 or not re.fullmatch(rb"[0-9a-f]{8}", parts[1]) or parts[0] == b"":
        fail(f"{what}: not a verifier key NAME+KEYIDHEX+BASE64")
    raw = b64decode_strict(parts[2].decode("ascii", "replace"), what)
    if len(raw) != 33 or raw[0] != sig_type:
        fail(f"{what}: not a key of signature type 0x{sig_type:02x} with 32 bytes")
    keyid = sha256(parts[0] + b"\n" + raw[:1] + raw[1:])[:4]
    if keyid.hex().encode() != parts[1]:
        fail(f"{what}: key ID does not match the key")
    return parts[0], keyid, raw[1:]


def parse_policy(data):
    for b in data:
        if b not in (0x09, 0x0A) and (b < 0x20 or b == 0x7F):
            fail(f"policy: control character 0x{b:02x}")
    policy, used, pubs = Policy(), set(), set()
    for number, raw in enumerate(data.split(b"\n"), 1):
        what = f"policy line {number}"
        fields = [f for f in re.split(rb"[ \t]+", raw) if f]
        if not fields or fields[0].startswith(b"#"):
            continue
        kind = fields[0]
        if kind == b"log":
            if len(fields) not in (2, 3):
                fail(f"{what}: log <vkey> [<url>]")
            name, keyid, pub = _policy_vkey(fields[1], 0x01, what)
            if pub in pubs:
                fail(f"{what}: a public key listed twice")
            pubs.add(pub)
            policy.logs.append((name, keyid, pub))
        elif kind == b"witness":
            if len(fields) not in (3, 4):
                fail(f"{what}: witness <name> <vkey> [<url>]")
            name = fields[1]
            if name == b"none" or name in policy.defined:
                fail(f"{what}: name defined twice (or none)")
            wname, keyid, pub = _policy_vkey(fields[2], 0x04, what)
            if pub in pubs:
                fail(f"{what}: a public key listed twice")
            pubs.add(pub)
            policy.witnesses.append((name, wname, keyid, pub))
            policy.defined[name] = ("witness", name)
        elif kind == b"group":
            if len(fields) < 4:
                fail(f"{what}: group <name> all|any|<k> <member>...")
            name = fields[1]
            if name == b"none" or name in policy.defined:
                fail(f"{what}: name defined twice (or none)")
            members = []
            for m in fields[3:]:
                if m not in policy.defined:
                    fail(f"{what}: member not defined above")
                if m in used:
                    fail(f"{what}: a name is a member only once")
                used.add(m)
                members.append(policy.defined[m])
            t = fields[2]
            if t == b"all":
                k = len(members)
            elif t == b"any":
                k = 1
            elif re.fullmatch(rb"[1-9][0-9]*", t) and 1 <= int(t) <= len(members):
                k = int(t)
            else:
                fail(f"{what}: bad threshold")
            policy.defined[name] = ("group", name, k, members)
        elif kind == b"quorum":
            if len(fields) != 2 or policy.quorum is not None:
                fail(f"{what}: exactly one quorum <name>")
            if fields[1] == b"none":
                policy.quorum = ("none",)
            elif fields[1] in policy.defined:
                policy.quorum = policy.defined[fields[1]]
            else:
                fail(f"{what}: quorum names nothing defined above")
        else:
            fail(f"{what}: unknown keyword")
    if policy.quorum is None:
        fail("policy: no quorum line")
    return policy


def check_policy(policy, key, parsed, text_bytes):
    """The checkpoint's cosignatures against the policy's quorum; returns the names of the witnesses that cosigned."""
    if policy.logs and not any(p == key.pub and n == key.name.encode() for n, _, p in policy.logs):
        fail("checkpoint.txt: the policy lists logs, and the trusted ledger key is not among them")
    witnessed = []
    for name, wname, keyid, pub in policy.witnesses:
        lines = [blob for n, blob in parsed if n.encode("utf-8") == wname and blob[:4] == keyid]
        for blob in lines:
            if len(blob) != 4 + 8 + 64:
                fail(f"checkpoint.txt: the cosignature of {wname.decode('utf-8', 'replace')} is not a time and a signature")
            t = int.from_bytes(blob[4:12], "big")
            if t >= 2 ** 63 or not ed25519_ok(pub, b"cosignature/v1\ntime %d\n" % t + text_bytes, blob[12:]):
                fail(f"checkpoint.txt: a cosignature of {wname.decode('utf-8', 'replace')} does not verify")
        if lines:
            witnessed.append(name)

    def met(rule):
        if rule[0] == "none":
            return True
        if rule[0] == "witness":
            return rule[1] in witnessed
        return sum(1 for m in rule[3] if met(m)) >= rule[2]
    if not met(policy.quorum):
        fail("checkpoint.txt: the policy's quorum is not met (cosigned by: "
             + (", ".join(n.decode("utf-8", "replace") for n in witnessed) or "no witness of the policy") + ")")
    return witnessed


# ---------------------------------------------------------------------------------------------------------------------
# Step 2: the manifest, read

def read_manifest(data):
    what = MANIFEST_NAME
    if not data.endswith(b"\n") or data.endswith(b"\n\n"):
        fail(f"{what}: must be a DSSE envelope followed by one newline")
    obj = parse_json(data[:-1], what)
    if not isinstance(obj, dict):
        fail(f"{what}: not a DSSE envelope")
    # Exactly a DSSE envelope: keys payload, payloadType, signatures; each signature's keys keyid, sig. (Whether
    # it is signed, and by whom, is step 5.)
    if sorted(obj.keys()) != ["payload", "payloadType", "signatures"]:
        fail(f"{what}: the envelope must have exactly the keys payload, payloadType and signatures "
             f"(has {sorted(obj.keys())})")
    if not isinstance(obj["payloadType"], str):
        fail(f"{what}: payloadType is not a string")
    if not isinstance(obj["signatures"], list):
        fail(f"{what}: signatures is not a list")
    for n, sg in enumerate(obj["signatures"]):
        if not isinstance(sg, dict) or sorted(sg.keys()) != ["keyid", "sig"]:
            fail(f"{what}: signature {n} must be an object with exactly the keys keyid and sig")
        if not isinstance(sg["keyid"], str) or not isinstance(sg["sig"], str):
            fail(f"{what}: signature {n}: keyid and sig must be strings")
    if utf8(cj(obj), what) != data[:-1]:
        fail(f"{what}: the envelope is not compact JSON")
    payload = b64decode_strict(obj["payload"], f"{what}: payload")
    # Signatures stay undecoded (keyid, base64 sig) until step 5.
    env = Envelope(obj["payloadType"], payload, [(sg["keyid"], sg["sig"]) for sg in obj["signatures"]])
    if env.payload_type != MANIFEST_PAYLOAD_TYPE:
        fail(f"{what}: payloadType is {env.payload_type!r}, not {MANIFEST_PAYLOAD_TYPE}")
    manifest = parse_json(env.payload, f"{what}: payload")
    if not isinstance(manifest, dict):
        fail(f"{what}: the manifest is not a JSON object")
    if manifest.get("format") != EXPORT_FORMAT:
        fail(f"{what}: format is {manifest.get('format')!r}, not {EXPORT_FORMAT} (export again from the ledger)")
    flt = manifest.get("filter")
    if not isinstance(flt, dict):
        fail(f"{what}: no filter object")
    if not isinstance(manifest.get("files"), dict):
        fail(f"{what}: no files object")
    if not isinstance(manifest.get("documents"), bool):
        fail(f"{what}: documents is not true or false")
    if sorted(flt.keys()) != FILTER_KEYS:
        fail(f"{what}: the filter must have exactly the keys {FILTER_KEYS}")
    for k in FILTER_KEYS:
        if flt[k] is not None and not isinstance(flt[k], str):
            fail(f"{what}: filter {k} is neither a string nor null")
    since, until = (None if flt[k] is None else time_to_ms(flt[k], f"{what}: filter {k}", lo=MIN_CANONICAL_MS)
                    for k in ("since", "until"))
    return obj, env, manifest, (flt["project"], flt["environment"], since, until)


# ---------------------------------------------------------------------------------------------------------------------
# Step 3: entries

def read_u(b, pos, n, what):
    if pos + n > len(b):
        fail(f"{what}: truncated")
    return int.from_bytes(b[pos:pos + n], "big"), pos + n


def read_str(b, pos, what, field, min_len):
    n, pos = read_u(b, pos, 2, what)
    if pos + n > len(b):
        fail(f"{what}: truncated {field}")
    if n < min_len:
        fail(f"{what}: empty {field}")
    try:
        s = bytes(b[pos:pos + n]).decode("utf-8")
    except UnicodeDecodeError:
        fail(f"{what}: {field} is not UTF-8")
    return s, pos + n


def decode_entry(b, what):
    """ledger.md section 1. Returns (version, seq, ms, kind, project, env, actor, payload, record)."""
    if len(b) < 1:
        fail(f"{what}: empty entry")
    version = b[0]
    if version not in (1, 2):
        fail(f"{what}: unknown encoding version {version}")
    pos = 1
    seq, pos = read_u(b, pos, 8, what)
    t, pos = read_u(b, pos, 8, what)
    if t >= 2 ** 63:
        t -= 2 ** 64
    # Version 2: 0 <= time <= 253402300799999; version 1: any i64 (ledger.md section 1).
    if version == 2 and not 0 <= t <= MAX_MS:
        fail(f"{what}: time {t} out of range")
    kind, pos = read_str(b, pos, what, "kind", 1)
    project = environment = ""
    digest = None
    if version == 2:
        project, pos = read_str(b, pos, what, "project", 0)
        environment, pos = read_str(b, pos, what, "environment", 0)
    actor, pos = read_str(b, pos, what, "actor", 1)
    if version == 2:
        if pos + 32 > len(b):
            fail(f"{what}: truncated payload digest")
        digest = bytes(b[pos:pos + 32])
        pos += 32
        record = bytes(b[:pos])
    plen, pos = read_u(b, pos, 4, what)
    if plen > MAX_PAYLOAD:
        fail(f"{what}: payload larger than 16 MiB")
    if pos + plen > len(b):
        fail(f"{what}: truncated payload")
    if pos + plen != len(b):
        fail(f"{what}: trailing bytes after the payload")
    payload = bytes(b[pos:pos + plen])
    if version == 2:
        if sha256(payload) != digest:
            fail(f"{what}: the payload's SHA-256 is not the entry's payload digest")
    else:
        record = bytes(b)
    return version, seq, t, kind, project, environment, actor, payload, record


def u16str(s, what, field, min_len):
    raw = utf8(s, f"{what}: {field}")
    if not min_len <= len(raw) <= 65535:
        fail(f"{what}: {field} must be {min_len}-65535 bytes")
    return struct.pack(">H", len(raw)) + raw


class MerkleStack:
    """RFC 6962 Merkle tree hash over a stream of leaf hashes, keeping only the complete subtrees' roots."""

    def __init__(self):
        self.stack = []   # list of (hash, size), sizes strictly decreasing powers of two

    def push(self, leaf):
        h, size = leaf, 1
        while self.stack and self.stack[-1][1] == size:
            left, _ = self.stack.pop()
            h = sha256(b"\x01" + left + h)
            size *= 2
        self.stack.append((h, size))

    def root(self):
        if not self.stack:
            return sha256(b"")
        h = self.stack[-1][0]
        for left, _ in reversed(self.stack[:-1]):
            h = sha256(b"\x01" + left + h)
        return h


# ---------------------------------------------------------------------------------------------------------------------
# CSV (audit-export.md "decisions.csv")

_CSV_QUOTE = re.compile(r'[,;\t"\r\n]')


def csv_field(s):
    if s and s[0] in "=+-@\t\r":
        s = "'" + s
    if _CSV_QUOTE.search(s):
        s = '"' + s.replace('"', '""') + '"'
    return s


def csv_row(fields):
    return utf8(",".join(csv_field(f) for f in fields) + "\r\n", "CSV row")


class StreamCompare:
    """Compares bytes produced row by row with a file's bytes, remembering the first difference."""

    def __init__(self, path, name):
        self.name = name
        self.rows = 0
        self.mismatch = None
        try:
            self.f = open(path, "rb")
        except OSError:
            self.f = None
            self.mismatch = f"{name}: cannot be read"

    def feed(self, row):
        self.rows += 1
        if self.mismatch is not None:
            return
        got = self.f.read(len(row))
        if got != row:
            self.mismatch = (f"{name_row(self.name, self.rows)} differs from the row rebuilt from the entries: "
                             f"expected {row.decode('utf-8', 'replace')!r}")

    def finish(self):
        if self.mismatch is None:
            extra = self.f.read(1)
            if extra:
                self.mismatch = f"{self.name}: has more rows than rebuilt from the entries ({self.rows})"
        if self.f is not None:
            self.f.close()
        return self.mismatch


def name_row(name, n):
    return f"{name} row {n}" if n > 1 else f"{name} header row"


# ---------------------------------------------------------------------------------------------------------------------
# Step 4: key history, signed statements, bindings

def field(ev, snake, camel=None):
    """An event field by its payload-format-2 name, or its payload-format-1 name."""
    if snake in ev:
        return ev[snake]
    if camel is not None and camel in ev:
        return ev[camel]
    return None


class KeyRecord:
    def __init__(self, key, principal, verifier_key, ms, seq):
        self.key = key
        self.principal = principal
        self.verifier_key = verifier_key
        self.enrolled_ms = ms
        self.enrolled_seq = seq
        self.revoked_ms = None
        self.revoked_seq = None
        self.compromised_since = None
        self.self_enrolled = False
        self.trusted = False

    def valid_at(self, t):
        return self.enrolled_ms <= t and (self.revoked_ms is None or t < self.revoked_ms)

    def line(self):
        record = {
            "compromised_since": self.compromised_since,
            "enrolled_at": ms_to_time(self.enrolled_ms),
            "enrolled_sequence": self.enrolled_seq,
            "key_fingerprint": self.key.fingerprint,
            "principal": self.principal,
            "revoked_at": ms_to_time(self.revoked_ms) if self.revoked_ms is not None else None,
            "revoked_sequence": self.revoked_seq,
            "verifier_key": self.verifier_key,
        }
        if self.self_enrolled:
            record["self_enrolled"] = True
        return cj(record) + "\n"


def need_str(v, what):
    if not isinstance(v, str):
        fail(f"{what} is not a string")
    return v


def admin_subject(kind, ev, actor):
    """administration.csv's subject: what the change is about, from the payload (audit-export.md); "" when a field it
    names is missing or not a string."""
    def text(obj, key):
        value = obj.get(key) if isinstance(obj, dict) else None
        return value if isinstance(value, str) else None

    def both(a, b, fmt):
        return fmt.format(a, b) if a is not None and b is not None else None

    made = None
    if kind == "ledger.initialized":
        made = text(ev, "origin")
    elif kind in ("principal.added", "group.created", "issuer.distrusted", "directory.connected", "directory.disconnected"):
        made = text(ev, "name")
    elif kind in ("key.enrolled", "key.revoked", "principal.disabled", "principal.enabled"):
        made = text(ev, "principal")
    elif kind == "group.member-added":
        made = both(text(ev, "member"), text(ev, "group"), "{} joins {}")
    elif kind == "group.member-removed":
        made = both(text(ev, "member"), text(ev, "group"), "{} leaves {}")
    elif kind == "group.linked":
        group = text(ev, "group")
        if group is not None:
            directory = text(ev, "directory")
            made = f"{group} linked to {directory}" if directory is not None else f"{group} unlinked"
    elif kind in ("project.created", "project.updated"):
        project = ev.get("project")
        key = text(project, "key")
        if key is not None:
            made = key + (" (regulated)" if project.get("regulated") is True else "")
            roles = project.get("roles")
            if isinstance(roles, dict):
                for role in sorted(roles, key=lambda r: r.encode("utf-8")):
                    groups = roles[role] if isinstance(roles[role], list) else []
                    made += f" {role}=" + "|".join(g for g in groups if isinstance(g, str))
    elif kind == "admin.quorum-set":
        quorum = ev.get("quorum")
        if isinstance(quorum, int) and not isinstance(quorum, bool):
            made = f"quorum {quorum}"
    elif kind in ("token.issued", "token.revoked"):
        made = both(text(ev, "principal"), text(ev, "token_id"), "{} token {}")
    elif kind == "workflow.applied":
        made = both(text(ev, "name"), text(ev, "digest"), "{} {}")
    elif kind == "freeze.added":
        freeze = ev.get("freeze")
        if text(ev, "id") is not None and text(freeze, "environment") is not None:
            project = text(freeze, "project")
            made = f"{ev['id']} {freeze['environment']} of {project if project is not None else 'every project'}"
    elif kind in ("freeze.lifted", "webhook.added", "webhook.removed", "delegation.revoked"):
        made = text(ev, "id")
    elif kind == "freeze.exempted":
        made = both(text(ev, "id"), text(ev, "request"), "{} lets {} through")
    elif kind == "issuer.trusted":
        made = text(ev.get("issuer"), "name")
    elif kind == "delegation.granted":
        delegate = text(ev.get("delegation"), "delegate")
        made = f"{actor} to {delegate}" if delegate is not None else None
    return made if made is not None else ""


# ---------------------------------------------------------------------------------------------------------------------
# Administrative authority (audit-export.md, "Administrative authority")

ADMIN_KINDS = frozenset([
    "principal.added", "key.enrolled", "key.revoked", "principal.disabled", "principal.enabled", "group.created",
    "group.member-added", "group.member-removed", "workflow.applied", "project.created", "project.updated",
    "admin.quorum-set", "token.issued", "token.revoked", "delegation.revoked", "request.withdrawn", "freeze.added",
    "freeze.lifted", "freeze.exempted", "webhook.added", "webhook.removed", "issuer.trusted", "issuer.distrusted",
    "directory.connected", "directory.disconnected", "group.linked",
])
APPROVAL_PAYLOAD_TYPE = "application/vnd.signoff.admin-approval.v2+json"
MAX_APPROVAL_SIGNATURES = 4


def same_json(a, b):
    """The spec's "the same JSON": same type; strings of the same code points; integers of the same value (a number
    with a fraction or exponent is the same as nothing); arrays in order; objects with the same keys and values."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if a is None or b is None:
        return a is None and b is None
    if is_int(a) or is_int(b):
        return is_int(a) and is_int(b) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b)
                and all(same_json(a[k], b[k]) for k in a))
    return False


def _s(v):
    return v if isinstance(v, str) else None


def _obj(v):
    return v if isinstance(v, dict) else {}


def expected_change(kind, ev):
    """The change an approval of this entry states (audit-export.md, "The approved change")."""
    change = {}

    def copy(src, name=None):
        if ev.get(src) is not None:
            change[name or src] = ev[src]

    if kind == "principal.added":
        if ev.get("kind") == "service-account":
            action = "service-account.add"
        else:
            action = "user.add"
            copy("administrator")
        copy("name", "principal")
        copy("verifier_key")
    elif kind == "key.enrolled":
        action = "key.enroll"; copy("principal"); copy("verifier_key")
    elif kind == "key.revoked":
        action = "key.revoke"
        copy("principal")
        fp = _s(ev.get("key_fingerprint"))
        if fp is not None:
            change["key_fingerprint"] = "sha256:" + (fp[len("sha256:"):] if fp.startswith("sha256:") else fp)
        copy("compromised_since")
    elif kind == "principal.disabled":
        action = "principal.disable"; copy("principal")
    elif kind == "principal.enabled":
        action = "principal.enable"; copy("principal")
    elif kind == "group.created":
        action = "group.create"; copy("name", "group")
    elif kind == "group.member-added":
        action = "group.add-member"; copy("group"); copy("member")
    elif kind == "group.member-removed":
        action = "group.remove-member"; copy("group"); copy("member")
    elif kind == "workflow.applied":
        action = "workflow.apply"; copy("digest", "workflow_digest")
    elif kind == "project.created":
        action = "project.create"; copy("project")
    elif kind == "project.updated":
        action = "project.update"; copy("project")
    elif kind == "admin.quorum-set":
        action = "admin.quorum"; copy("quorum")
    elif kind == "token.issued":
        action = "token.issue"; copy("principal"); copy("scopes"); copy("lifetime_hours")
    elif kind == "token.revoked":
        action = "token.revoke"; copy("token_id")
    elif kind == "delegation.revoked":
        action = "delegation.revoke"; copy("id", "delegation_id")
    elif kind == "request.withdrawn":
        action = "request.withdraw"; copy("request"); copy("reason")
    elif kind == "freeze.added":
        action = "freeze.add"; copy("freeze")
    elif kind == "freeze.lifted":
        action = "freeze.lift"; copy("id", "freeze_id")
    elif kind == "freeze.exempted":
        action = "freeze.exempt"; copy("id", "freeze_id"); copy("request"); copy("reason")
    elif kind == "webhook.added":
        action = "webhook.add"; copy("webhook")
    elif kind == "webhook.removed":
        action = "webhook.remove"; copy("id", "webhook_id")
    elif kind == "issuer.trusted":
        action = "issuer.trust"; copy("issuer")
    elif kind == "issuer.distrusted":
        action = "issuer.distrust"; copy("name", "issuer_name")
    elif kind == "directory.connected":
        action = "directory.connect"; copy("name", "directory")
    elif kind == "directory.disconnected":
        action = "directory.disconnect"; copy("name", "directory")
    elif kind == "group.linked":
        copy("group")
        if _s(ev.get("directory")) is not None:
            action = "group.link"; copy("directory")
        else:
            action = "group.unlink"
    else:
        return None
    change["action"] = action
    return change


class Authority:
    """Who had authority over administration so far, from the entries in full (every administrative entry is)."""

    def __init__(self):
        self.checked = False          # payload format 2
        self.principals = {}          # name -> {"admin", "disabled", "added_by", "disabled_by"}
        self.groups = {}              # name -> set of members
        self.group_directory = {}     # group -> the directory that keeps it
        self.projects = {}            # key -> {"regulated", "environments", "roles"}
        self.quorum = 1
        self.freezes = {}             # id -> (project or None, environment)
        self.webhooks = {}            # id -> project or None
        self.delegations = {}         # id -> (from, project or None)
        self.directories = set()
        self.used = set()
        self.continuing = None        # (approval object, ms, seq, principal, since)

    def is_admin(self, name):
        p = self.principals.get(name)
        return p is not None and p["admin"]

    def enabled(self, name):
        p = self.principals.get(name)
        return p is not None and not p["disabled"]

    def regulated(self):
        return any(p["regulated"] for p in self.projects.values())

    def bound(self, project):
        return {g for groups in project["roles"].values() for g in groups}

    def relied_on_group(self, group):
        return any(p["regulated"] and group in self.bound(p) for p in self.projects.values())

    def relied_on(self, principal):
        return self.is_admin(principal) or any(principal in m and self.relied_on_group(g) for g, m in self.groups.items())

    def covers_regulated(self, environment, project):
        if project is not None:
            p = self.projects.get(project)
            return p is not None and p["regulated"]
        return any(p["regulated"] and environment is not None and environment in p["environments"]
                   for p in self.projects.values())

    def project_of(self, kind, ev):
        if kind in ("group.member-added", "group.member-removed"):
            group = _s(ev.get("group"))
            if group is None or group == "auditors":
                return None
            binding = [k for k, p in self.projects.items() if group in self.bound(p)]
            if len(binding) != 1 or group in self.projects[binding[0]]["roles"].get("project-admins", []):
                return None
            return binding[0]
        if kind == "freeze.added":
            return _s(_obj(ev.get("freeze")).get("project"))
        if kind in ("freeze.lifted", "freeze.exempted"):
            f = self.freezes.get(_s(ev.get("id")))
            return f[0] if f else None
        if kind == "webhook.added":
            w = _obj(ev.get("webhook"))
            if w.get("allow_private") is True:
                return None
            return _s(w.get("project"))
        if kind == "webhook.removed":
            return self.webhooks.get(_s(ev.get("id")))
        if kind == "delegation.revoked":
            d = self.delegations.get(_s(ev.get("id")))
            return d[1] if d else None
        return None

    def eligible(self, kind, ev):
        names = {n for n, p in self.principals.items() if p["admin"] and not p["disabled"]}
        project = self.project_of(kind, ev)
        if project is not None and project in self.projects:
            for g in self.projects[project]["roles"].get("project-admins", []):
                names |= {m for m in self.groups.get(g, set()) if self.enabled(m)}
        return names

    def quorum_applies(self, kind, ev):
        text = lambda k: _s(ev.get(k))
        if kind == "principal.added":
            return ev.get("kind") != "service-account" and ev.get("administrator") is True
        if kind in ("key.enrolled", "principal.enabled", "token.issued"):
            return text("principal") is not None and self.relied_on(text("principal"))
        if kind == "key.revoked":
            return (text("principal") is not None and self.is_admin(text("principal"))) or ev.get("compromised_since") is not None
        if kind == "principal.disabled":
            return text("principal") is not None and self.is_admin(text("principal"))
        if kind == "group.member-added":
            g = text("group")
            return g is not None and (g == "auditors" or self.relied_on_group(g))
        if kind == "workflow.applied":
            name = text("name")
            return name is not None and any(p["regulated"] and name in p["environments"].values() for p in self.projects.values())
        if kind == "project.created":
            return _obj(ev.get("project")).get("regulated") is True
        if kind == "project.updated":
            project = _obj(ev.get("project"))
            key = _s(project.get("key"))
            return project.get("regulated") is True or (key in self.projects and self.projects[key]["regulated"])
        if kind in ("admin.quorum-set", "issuer.trusted", "directory.connected"):
            return True
        if kind == "freeze.added":
            f = _obj(ev.get("freeze"))
            return self.covers_regulated(_s(f.get("environment")), _s(f.get("project")))
        if kind in ("freeze.lifted", "freeze.exempted"):
            f = self.freezes.get(text("id"))
            return f is not None and self.covers_regulated(f[1], f[0])
        if kind == "webhook.added":
            project = _s(_obj(ev.get("webhook")).get("project"))
            return True if project is None else (project in self.projects and self.projects[project]["regulated"])
        if kind == "webhook.removed":
            if text("id") not in self.webhooks:
                return False
            project = self.webhooks[text("id")]
            return True if project is None else (project in self.projects and self.projects[project]["regulated"])
        if kind == "group.linked":
            return text("directory") is not None and text("group") is not None and self.relied_on_group(text("group"))
        return False

    def trusts_key(self, kind, actor, approval):
        return approval is not None or (kind == "principal.added" and actor == "system" and not self.principals)

    def directory_check(self, kind, directory, ev, approval, what):
        if directory not in self.directories:
            fail(f"{what} is made by directory {directory}, which is not connected")
        if approval is not None:
            fail(f"{what} is a directory's change and carries an approval")
        text = lambda k: _s(ev.get(k))
        p = self.principals.get(text("principal")) if text("principal") is not None else None
        if kind == "principal.added":
            ok = ev.get("administrator") is not True and ev.get("verifier_key") is None and text("directory") == directory
        elif kind == "principal.disabled":
            ok = p is not None and p["added_by"] == directory and not p["admin"] and text("principal") not in self.groups.get("auditors", set())
        elif kind == "principal.enabled":
            ok = not self.regulated() and p is not None and p["added_by"] == directory and p["disabled_by"] == directory
        elif kind == "group.created":
            ok = text("directory") == directory
        elif kind == "group.member-added":
            m = self.principals.get(text("member")) if text("member") is not None else None
            ok = self.group_directory.get(text("group")) == directory and m is not None and m["added_by"] == directory
        elif kind == "group.member-removed":
            ok = text("group") is not None and self.group_directory.get(text("group")) == directory
        else:
            ok = False
        if not ok:
            fail(f"{what} is made by directory {directory}, beyond what a connected directory may do")

    def check(self, seq, kind, actor, ms, ev, approval, keys, last_key):
        """Step 4's administrative authority for one entry in full, before it changes the state."""
        if not self.checked or kind not in ADMIN_KINDS or (kind == "key.enrolled" and ev.get("proof") is not None):
            return
        what = f"entry {seq} ({kind})"
        prev = self.continuing
        if (approval is not None and prev is not None and cj(prev[0]) == cj(approval) and prev[1] == ms and prev[2] + 1 == seq
                and self.continues(prev, kind, ev, last_key)):
            self.continuing = (approval, ms, seq, prev[3], prev[4])
            return
        self.continuing = None
        if actor.startswith("directory:"):
            self.directory_check(kind, actor[len("directory:"):], ev, approval, what)
            return
        if actor == "system":
            if kind != "principal.added" or self.principals or approval is not None:
                fail(f"{what} is made by system, which only adds the first administrator of a ledger")
            return
        principal = _s(ev.get("principal"))
        compromised = kind == "key.revoked" and ev.get("compromised_since") is not None
        own_key = kind == "key.revoked" and principal == actor and not self.is_admin(actor)
        if approval is None:
            if kind == "request.withdrawn" or (own_key and not compromised):
                return
            if kind == "delegation.revoked":
                d = self.delegations.get(_s(ev.get("id")))
                if d is not None and d[0] == actor:
                    return
            creates_regulated = kind in ("project.created", "project.updated") and _obj(ev.get("project")).get("regulated") is True
            if kind in ("issuer.trusted", "directory.connected"):
                fail(f"{what} carries no approval: trusting an issuer or connecting a directory is always signed")
            if compromised:
                fail(f"{what} marks a key compromised without an approval: that is always signed")
            if self.regulated() or creates_regulated:
                fail(f"{what} carries no approval, but the ledger has a regulated project")
            return
        env = parse_envelope(approval, f"{what}: approval")
        if env.payload_type != APPROVAL_PAYLOAD_TYPE:
            fail(f"{what}: the approval's payloadType is {env.payload_type!r}, not {APPROVAL_PAYLOAD_TYPE}")
        if not 1 <= len(env.signatures) <= MAX_APPROVAL_SIGNATURES:
            fail(f"{what}: the approval carries {len(env.signatures)} signatures (1 to {MAX_APPROVAL_SIGNATURES})")
        try:
            statement = parse_json(env.payload, f"{what}: approval")
        except Failure:
            fail(f"{what}: the approval is not of exactly the change recorded")
        expected = expected_change(kind, ev)
        if (not isinstance(statement, dict) or sorted(statement) != ["change", "time"] or expected is None
                or not same_json(statement["change"], expected)):
            fail(f"{what}: the approval is not of exactly the change recorded")
        try:
            t = rfc3339_to_ms(statement["time"], f"{what}: the approval's time")
        except Failure:
            t = None
        if t is None or not ms - 600000 <= t <= ms + 60000:
            fail(f"{what}: the approval's time is not within 10 minutes before (or 1 minute after) the entry's")
        digest = hashlib.sha256(env.payload).digest()
        if digest in self.used:
            fail(f"{what}: the approval was already used for an earlier change")
        msg = env.pae()
        if own_key:
            revoked = norm_fp(ev.get("key_fingerprint"))
            for keyid, sig in env.signatures:
                rec = last_key(norm_fp(keyid), actor)
                if rec is None or not rec.valid_at(ms) or not ed25519_ok(rec.key.pub, msg, sig):
                    fail(f"{what}: a signature of {actor}'s own revocation does not verify with a key {actor} had then")
                if compromised and norm_fp(keyid) == revoked:
                    fail(f"{what}: marks a key compromised with a signature by that very key")
        else:
            eligible = self.eligible(kind, ev)
            signers = set()
            for keyid, sig in env.signatures:
                rec = last_key(norm_fp(keyid))
                if rec is None or not rec.valid_at(ms) or not ed25519_ok(rec.key.pub, msg, sig):
                    fail(f"{what}: the approval does not verify with keys its signers had enrolled at the time")
                if rec.principal not in eligible:
                    fail(f"{what}: approved by {rec.principal}, who was not an enabled administrator (or an "
                         f"administrator of the change's project) at the time")
                if not rec.trusted:
                    fail(f"{what}: approved with a key of {rec.principal} that administrators did not enrol")
                signers.add(rec.principal)
            if actor not in signers:
                fail(f"{what}: made by {actor}, who did not sign its approval")
            if self.quorum_applies(kind, ev):
                able = sum(1 for n in eligible if any(k.principal == n and k.trusted and k.valid_at(ms) for k in keys))
                needed = max(1, min(self.quorum, able))
                if len(signers) < needed:
                    fail(f"{what}: needs {needed} administrators' signatures (admin_quorum {self.quorum}); it has {len(signers)}")
        self.used.add(digest)
        if compromised and principal is not None:
            self.continuing = (approval, ms, seq, principal, rfc3339_to_ms(ev["compromised_since"], f"{what}: compromised_since"))

    def continues(self, prev, kind, ev, last_key):
        """What marking prev's principal's key compromised since prev's time takes back with it: a key of theirs
        self-enrolled at or after that time, revoked as compromised since its enrolment, or a delegation they granted."""
        if kind == "key.revoked":
            if ev.get("principal") != prev[3]:
                return False
            rec = last_key(norm_fp(ev.get("key_fingerprint")), prev[3])
            return (rec is not None and rec.self_enrolled and rec.enrolled_ms >= prev[4]
                    and ev.get("compromised_since") == ms_to_time(rec.enrolled_ms))
        if kind == "delegation.revoked":
            d = self.delegations.get(_s(ev.get("id")))
            return d is not None and d[0] == prev[3]
        return False

    def apply(self, kind, actor, ev):
        text = lambda k: _s(ev.get(k))
        directory = actor[len("directory:"):] if actor.startswith("directory:") else None
        if kind == "ledger.initialized":
            self.checked = ev.get("format") == "signoff-ledger/2"
        elif kind == "principal.added" and text("name") is not None:
            self.principals[text("name")] = {"admin": ev.get("administrator") is True and ev.get("kind") != "service-account", "disabled": False,
                                             "added_by": directory, "disabled_by": None}
        elif kind == "principal.disabled" and text("principal") in self.principals:
            self.principals[text("principal")].update(disabled=True, disabled_by=directory)
        elif kind == "principal.enabled" and text("principal") in self.principals:
            self.principals[text("principal")].update(disabled=False, disabled_by=None)
        elif kind == "group.created" and text("name") is not None:
            self.groups[text("name")] = set()
            if directory is not None:
                self.group_directory[text("name")] = directory
        elif kind == "group.member-added" and text("group") is not None and text("member") is not None:
            self.groups.setdefault(text("group"), set()).add(text("member"))
        elif kind == "group.member-removed" and text("group") in self.groups and text("member") is not None:
            self.groups[text("group")].discard(text("member"))
        elif kind == "group.linked" and text("group") is not None:
            if text("directory") is not None:
                self.group_directory[text("group")] = text("directory")
            else:
                self.group_directory.pop(text("group"), None)
        elif kind in ("project.created", "project.updated"):
            project = _obj(ev.get("project"))
            key = _s(project.get("key"))
            if key is None:
                return
            envs = {k: v for k, v in _obj(project.get("environments")).items() if isinstance(v, str)}
            roles = {}
            if project.get("roles") is not None:
                for k, v in _obj(project.get("roles")).items():
                    roles[k] = [g for g in (v if isinstance(v, list) else []) if isinstance(g, str)]
            else:
                req = project.get("requesters")
                roles["requesters"] = [g for g in (req if isinstance(req, list) else []) if isinstance(g, str)]
                for k, v in _obj(project.get("deployers")).items():
                    roles["deployers@" + k] = [g for g in (v if isinstance(v, list) else []) if isinstance(g, str)]
            self.projects[key] = {"regulated": project.get("regulated") is True, "environments": envs, "roles": roles}
        elif kind == "admin.quorum-set" and is_int(ev.get("quorum")) and -2**63 <= ev["quorum"] < 2**63:
            self.quorum = ev["quorum"]
        elif kind == "freeze.added" and text("id") is not None and isinstance(ev.get("freeze"), dict):
            f = ev["freeze"]
            self.freezes[text("id")] = (_s(f.get("project")), _s(f.get("environment")) or "")
        elif kind == "webhook.added" and text("id") is not None:
            self.webhooks[text("id")] = _s(_obj(ev.get("webhook")).get("project"))
        elif kind == "delegation.granted" and text("id") is not None:
            self.delegations[text("id")] = (actor, _s(_obj(ev.get("delegation")).get("project")))
        elif kind == "directory.connected" and text("name") is not None:
            self.directories.add(text("name"))
        elif kind == "directory.disconnected" and text("name") is not None:
            self.directories.discard(text("name"))


class Bindings:
    def __init__(self, export_dir):
        self.keys = []
        self.authority = Authority()
        self.origin = None          # set by verify(): the checkpoint's origin and the trusted key's line
        self.ledger_key = None
        self.filings = {}   # request id -> dict
        self.regulated_seen = False   # an earlier entry created or updated a project as regulated
        self.decisions = StreamCompare(os.path.join(export_dir, "decisions.csv"), "decisions.csv")
        self.admin = StreamCompare(os.path.join(export_dir, "administration.csv"), "administration.csv")
        self.decisions.feed((DECISIONS_HEADER + "\r\n").encode("utf-8"))
        self.admin.feed((ADMIN_HEADER + "\r\n").encode("utf-8"))

    # -- key lookups
    def last_key(self, fp_hex, principal=None):
        if fp_hex is None:
            return None
        for rec in reversed(self.keys):
            if rec.key.fp_hex == fp_hex and (principal is None or rec.principal == principal):
                return rec
        return None

    # -- one full entry
    def entry(self, seq, version, ms, kind, project, environment, actor, payload):
        what = f"entry {seq} ({kind})"
        ev = None
        try:
            ev = parse_payload(payload, f"{what}: payload")
        except Failure:
            if kind in KNOWN_KINDS:
                raise
        if not isinstance(ev, dict):
            if kind in KNOWN_KINDS:
                fail(f"{what}: the payload is not a JSON object")
            ev = {}
        about_request = kind in REQUEST_KINDS

        # Entry 0 begins the ledger and names the key the export is verified with.
        if (seq == 0) != (kind == "ledger.initialized"):
            fail(f"{what}: entry 0 must be the ledger's ledger.initialized, and no other entry is one")
        if kind == "ledger.initialized":
            if ev.get("origin") != self.origin:
                fail(f"{what}: names another origin than the checkpoint's")
            if field(ev, "ledger_verifier_key", "ledger_key") != self.ledger_key:
                fail(f"{what}: names another ledger key than the trusted one")

        # Administrative authority, against the state before this entry.
        approval = ev.get("approval") if (not about_request or kind == "request.withdrawn") else None
        if kind in KNOWN_KINDS:
            self.authority.check(seq, kind, actor, ms, ev, approval, self.keys, self.last_key)

        # Headers (step 4; version-2 entries in full only): a request.filed's project and environment are its
        # event's; another entry about a request whose request.filed is in full (an earlier entry; the latest filing
        # of that id) has that filing's; an entry whose kind is not one of a request's life has both empty.
        if version == 2:
            if kind == "request.filed":
                if (project, environment) != (ev.get("project"), ev.get("environment")):
                    fail(f"{what}: header project/environment {project!r}/{environment!r} are not the event's "
                         f"project/environment {ev.get('project')!r}/{ev.get('environment')!r}")
            elif about_request:
                rid = ev.get("request")
                filing = self.filings.get(rid) if isinstance(rid, str) else None
                if filing is not None and (project, environment) != (filing["project"], filing["environment"]):
                    fail(f"{what}: header project/environment {project!r}/{environment!r} are not those of "
                         f"{rid}'s request.filed ({filing['project']!r}/{filing['environment']!r})")
            elif not about_request and (project != "" or environment != ""):
                fail(f"{what}: an entry not about a request must have empty project and environment")

        if kind == "request.filed":
            rid = need_str(ev.get("id"), f"{what}: id")
            if version == 2:
                fproject, fenv = project, environment
            else:
                fproject = ev.get("project") if isinstance(ev.get("project"), str) else ""
                fenv = ev.get("environment") if isinstance(ev.get("environment"), str) else ""
            self.filings[rid] = {
                "project": fproject, "environment": fenv,
                "bundle": ev.get("bundle"), "digest": ev.get("digest"), "revision": 1,
                "workflow_digest": field(ev, "workflow_digest", "workflowDigest"),
                "labels": ev.get("labels") if ev.get("labels") is not None else {},
                "emergency": ev.get("emergency_reason") is not None,
            }
        elif kind == "request.revised":
            rid = ev.get("request")
            filing = self.filings.get(rid) if isinstance(rid, str) else None
            if filing is not None:
                filing["bundle"] = ev.get("bundle")
                filing["digest"] = ev.get("digest")
                filing["revision"] = ev.get("revision")
        elif kind == "decision.recorded":
            self.decision(seq, version, ms, project, environment, actor, ev, what)
        elif kind == "retrospective.recorded":
            if ev.get("envelope") is not None:
                self.actor_envelope(ms, actor, ev["envelope"], f"{what}: envelope")

        elif kind == "request.withdrawn" and ev.get("approval") is not None:
            # An administrator withdrew another person's request: their approval is checked like any other.
            self.approval(ms, ev["approval"], f"{what}: approval")

        if not about_request:
            signers, valid = "", ("unsigned" if self.regulated_seen else "unsigned-before-regulated")
            if ev.get("approval") is not None:
                signers, valid = self.approval(ms, ev["approval"], f"{what}: approval")
            elif kind == "delegation.granted" and ev.get("envelope") is not None:
                # A delegation is signed by who gives it (the entry's actor); a signature that does not verify fails.
                self.actor_envelope(ms, actor, ev["envelope"], f"{what}: envelope")
                signers, valid = actor, "yes"
            self.admin.feed(csv_row([ms_to_time(ms), str(seq), kind, actor, admin_subject(kind, ev, actor), signers, valid]))
            if kind in ("project.created", "project.updated") and isinstance(ev.get("project"), dict) and ev["project"].get("regulated") is True:
                self.regulated_seen = True
            if kind == "key.enrolled" and ev.get("proof") is not None:
                self.enrolment_proof(ms, actor, ev, f"{what}: proof")
            trusted = self.authority.trusts_key(kind, actor, ev.get("approval")) and ev.get("proof") is None
            count = len(self.keys)
            self.apply_keys(seq, ms, kind, ev, what)
            if len(self.keys) > count:
                self.keys[-1].trusted = trusted
            if kind == "key.enrolled" and ev.get("proof") is not None and self.keys and self.keys[-1].enrolled_seq == seq:
                self.keys[-1].self_enrolled = True
        if kind in KNOWN_KINDS:
            self.authority.apply(kind, actor, ev)

    def apply_keys(self, seq, ms, kind, ev, what):
        if kind in ("principal.added", "key.enrolled"):
            vk = field(ev, "verifier_key", "verifierKey")
            principal = ev.get("name") if kind == "principal.added" else ev.get("principal")
            if vk is None or not isinstance(principal, str):
                return
            try:
                key = parse_verifier_key(vk, what)
            except Failure:
                return    # a value that does not parse adds no key
            self.keys.append(KeyRecord(key, principal, vk, ms, seq))
        elif kind == "key.revoked":
            if ev.get("compromised_since") is not None:
                time_to_ms(ev.get("compromised_since"), f"{what}: compromised_since")
            principal = ev.get("principal")
            fp = norm_fp(field(ev, "key_fingerprint", "fingerprint"))
            if fp is None:
                return
            for rec in self.keys:
                if rec.principal == principal and rec.key.fp_hex == fp and rec.revoked_ms is None:
                    rec.revoked_ms = ms
                    rec.revoked_seq = seq
                    cs = ev.get("compromised_since")
                    if cs is not None:
                        # Only the canonical form YYYY-MM-DDTHH:MM:SS.mmmZ (as the engine writes it).
                        cs = ms_to_time(time_to_ms(cs, f"{what}: compromised_since"))
                    rec.compromised_since = cs
                    break

    def approval(self, ms, obj, what):
        env = parse_envelope(obj, what)
        if not env.signatures:
            fail(f"{what}: has no signature")
        msg = env.pae()
        signers = []
        for keyid, sig in env.signatures:
            rec = self.last_key(norm_fp(keyid))
            if rec is None:
                fail(f"{what}: signature by {keyid} is not by an enrolled key")
            if not rec.valid_at(ms):
                fail(f"{what}: the key {keyid} of {rec.principal} is not valid at the entry's time")
            if not ed25519_ok(rec.key.pub, msg, sig):
                fail(f"{what}: the signature by {rec.principal} ({keyid}) does not verify")
            signers.append(rec.principal)
        return " ".join(signers), "yes"

    def enrolment_proof(self, ms, actor, ev, what):
        # A self-enrolment: the key's own principal, over exactly this key, signed with the keys they had before it.
        env = parse_envelope(ev["proof"], what)
        if actor != ev.get("principal") or env.payload_type != "application/vnd.signoff.key-enrolment.v1+json":
            fail(f"{what}: not the principal's own key-enrolment statement")
        statement = parse_json(env.payload, f"{what}: the statement")
        if not isinstance(statement, dict) or statement.get("principal") != ev.get("principal") or statement.get("verifier_key") != field(ev, "verifier_key", "verifierKey"):
            fail(f"{what}: the statement is not of exactly this key")
        if not isinstance(statement.get("time"), str):
            fail(f"{what}: the statement has no time")
        t = rfc3339_to_ms(statement["time"], f"{what}: the statement's time")
        if not ms - 600000 <= t <= ms + 60000:
            fail(f"{what}: the statement's time is not within 10 minutes before (or 1 minute after) the entry's")
        self.actor_envelope(ms, actor, ev["proof"], what)

    def actor_envelope(self, ms, actor, obj, what):
        env = parse_envelope(obj, what)
        if not env.signatures:
            fail(f"{what}: has no signature")
        msg = env.pae()
        for keyid, sig in env.signatures:
            rec = self.last_key(norm_fp(keyid), actor)
            if rec is None:
                fail(f"{what}: signature by {keyid} is not by a key of {actor}")
            if not rec.valid_at(ms):
                fail(f"{what}: the key {keyid} of {actor} is not valid at the entry's time")
            if not ed25519_ok(rec.key.pub, msg, sig):
                fail(f"{what}: the signature by {actor} ({keyid}) does not verify")

    def decision(self, seq, version, ms, project, environment, actor, ev, what):
        request = need_str(ev.get("request"), f"{what}: request")
        stage = need_str(ev.get("stage"), f"{what}: stage")
        decision = need_str(ev.get("decision"), f"{what}: decision")
        comment = need_str(ev.get("comment"), f"{what}: comment")
        bundle_digest = need_str(field(ev, "bundle_digest", "bundleDigest"), f"{what}: bundle_digest")
        on_behalf_of = ev.get("on_behalf_of")
        if on_behalf_of is not None:
            need_str(on_behalf_of, f"{what}: on_behalf_of")
        filing = self.filings.get(request)
        if version == 1:
            project, environment = (filing["project"], filing["environment"]) if filing else ("", "")
        key_fp = field(ev, "key_fingerprint", "keyFingerprint")
        envelope = ev.get("envelope")
        key_id = ""
        if envelope is None:
            if key_fp is not None or field(ev, "statement_digest", "statementDigest") is not None:
                fail(f"{what}: names a key or statement digest but carries no envelope")
            valid = "unsigned"
        else:
            rec = self.last_key(norm_fp(key_fp), actor)
            if rec is not None:
                key_id = rec.key.keyid.hex()
            self.signed_decision(version, ms, project, environment, actor, ev, envelope, filing, rec, what)
            valid = "yes"
        self.decisions.feed(csv_row([ms_to_time(ms), request, project, environment, stage, decision, actor,
                                     on_behalf_of or "", key_id, valid, bundle_digest, comment]))

    def signed_decision(self, version, ms, project, environment, actor, ev, envelope, filing, rec, what):
        what = f"{what}: signed decision"
        env = parse_envelope(envelope, f"{what} envelope")
        # 1
        if env.payload_type != INTOTO_PAYLOAD_TYPE:
            fail(f"{what}: payloadType is {env.payload_type!r}, not {INTOTO_PAYLOAD_TYPE}")
        # 2
        sd = field(ev, "statement_digest", "statementDigest")
        if sd is not None and norm_digest(sd) != hashlib.sha256(env.payload).hexdigest():
            fail(f"{what}: statement_digest is not the SHA-256 of the envelope's payload")
        # 3
        key_fp = field(ev, "key_fingerprint", "keyFingerprint")
        fp_hex = norm_fp(key_fp)
        if rec is None:
            fail(f"{what}: key_fingerprint {key_fp!r} names no key of {actor}")
        if not rec.valid_at(ms):
            fail(f"{what}: the key {key_fp} of {actor} is not valid at the entry's time")
        # 4
        msg = env.pae()
        if len(env.signatures) != 1:
            fail(f"{what}: the envelope carries {len(env.signatures)} signatures, not exactly one")
        if not any(norm_fp(k) == fp_hex and ed25519_ok(rec.key.pub, msg, s) for k, s in env.signatures):
            fail(f"{what}: no signature by {key_fp} verifies")
        # 5
        st = parse_json(env.payload, f"{what}: statement")
        if not isinstance(st, dict):
            fail(f"{what}: the statement is not a JSON object")
        pred, subject = st.get("predicate"), st.get("subject")
        if not isinstance(pred, dict) or not isinstance(subject, list):
            fail(f"{what}: the statement has no predicate object or subject array")
        if st.get("_type") != STATEMENT_TYPE:
            fail(f"{what}: _type is {st.get('_type')!r}")
        pv = DECISION_TYPES.get(st.get("predicateType")) if isinstance(st.get("predicateType"), str) else None
        if pv is None:
            fail(f"{what}: predicateType {st.get('predicateType')!r} is not a Signoff decision")
        # 6
        if len(subject) != 1 or not isinstance(subject[0], dict):
            fail(f"{what}: subject must have exactly one element")
        sub = subject[0]
        digest = sub.get("digest")
        bundle_digest = field(ev, "bundle_digest", "bundleDigest")
        bd_hex = norm_digest(bundle_digest)
        if not isinstance(digest, dict) or digest.get("sha256") != bd_hex:
            fail(f"{what}: the subject's digest is not the event's bundle_digest")
        # 7
        for f in ("request", "stage", "decision"):
            if pred.get(f) != ev.get(f):
                fail(f"{what}: the statement's {f} {pred.get(f)!r} is not the event's {ev.get(f)!r}")
        if not is_int(pred.get("revision")) or not is_int(ev.get("revision")) or \
                pred.get("revision") != ev.get("revision"):
            fail(f"{what}: the statement's revision {pred.get('revision')!r} is not the event's "
                 f"{ev.get('revision')!r}")
        if version == 2 or filing is not None:
            if pred.get("project") != project or pred.get("environment") != environment:
                fail(f"{what}: the statement's project/environment {pred.get('project')!r}/"
                     f"{pred.get('environment')!r} are not {project!r}/{environment!r}")
        if pv >= 2:
            if pred.get("actor") != actor:
                fail(f"{what}: the statement's actor {pred.get('actor')!r} is not the entry's actor {actor!r}")
        elif "approver" in pred and pred.get("approver") != actor:
            fail(f"{what}: the statement's approver {pred.get('approver')!r} is not the entry's actor {actor!r}")
        # 8
        if pv == 3 and pred.get("on_behalf_of") != ev.get("on_behalf_of"):
            fail(f"{what}: the statement's on_behalf_of {pred.get('on_behalf_of')!r} is not the event's "
                 f"{ev.get('on_behalf_of')!r}")
        # 9
        if filing is not None:
            if ev.get("revision") != filing["revision"]:
                fail(f"{what}: revision {ev.get('revision')!r} is not the request's current revision "
                     f"{filing['revision']!r}")
            if norm_digest(bundle_digest) is None or norm_digest(bundle_digest) != norm_digest(filing["digest"]):
                fail(f"{what}: bundle_digest is not the request's current digest")
            if sub.get("name") != filing["bundle"]:
                fail(f"{what}: the subject's name {sub.get('name')!r} is not the request's bundle "
                     f"{filing['bundle']!r}")
            wd = filing["workflow_digest"]
            wd_full = wd if not isinstance(wd, str) or wd.startswith("sha256:") else "sha256:" + wd
            if pv == 1:
                wd_pred = field(pred, "workflow_digest", "workflowDigest")
                ok = isinstance(wd_full, str) and wd_pred in (wd_full, wd_full[len("sha256:"):])
            else:
                ok = pred.get("workflow_digest") == wd_full
            if not ok:
                fail(f"{what}: the statement's workflow_digest is not the request's")
            if pv == 3:
                if "labels" not in pred or cj(pred.get("labels")) != cj(filing["labels"]):
                    fail(f"{what}: the statement's labels are not the request's")
                if pred.get("emergency") is not filing["emergency"]:
                    fail(f"{what}: the statement's emergency flag is not the request's")
        # 10
        t = rfc3339_to_ms(pred.get("time"), f"{what}: the statement's time")
        if not ms - 600000 <= t <= ms + 60000:
            fail(f"{what}: the statement's time {pred.get('time')} is not within 10 minutes before / 1 minute "
                 f"after the entry's time {ms_to_time(ms)}")

    def keys_jsonl(self):
        return utf8("".join(rec.line() for rec in self.keys), "keys.jsonl")


# ---------------------------------------------------------------------------------------------------------------------
# The verification

def read_file(export_dir, name, limit=None):
    path = os.path.join(export_dir, name)
    if not os.path.isfile(path):
        fail(f"{name}: missing")
    with open(path, "rb") as f:
        data = f.read() if limit is None else f.read(limit + 1)
    if limit is not None and len(data) > limit:
        fail(f"{name}: too large")
    return data


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
    return "sha256:" + h.hexdigest()


MAX_SMALL_FILE = 1 << 20      # MANIFEST.json and checkpoint.txt (audit-export.md, "Verifying", step 0)
MAX_ENTRY_LINE = 32 << 20     # a line of entries.jsonl


DOCUMENTS = "documents"
MAX_DOCUMENT = 64 << 20       # an evidence document (audit-export.md, "documents/")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def check_folder(export_dir):
    """Step 0: exactly the eight files, each a regular file (lstat: no symbolic link), nothing else of any kind —
    except an optional folder `documents` of at least one regular file named by 64 lowercase hex digits, each at
    most 64 MiB. Returns the documents' names."""
    try:
        names = os.listdir(os.fsencode(export_dir))
    except OSError as e:
        fail(f"cannot list the export folder: {e}")
    expected = {n.encode("utf-8") for n in list(EXPORT_FILES) + [MANIFEST_NAME]}
    documents = []
    for raw in sorted(names):
        st = os.lstat(os.path.join(os.fsencode(export_dir), raw))
        if raw == DOCUMENTS.encode():
            if not stat.S_ISDIR(st.st_mode):
                fail(f"{DOCUMENTS}: not a folder")
            folder = os.path.join(os.fsencode(export_dir), raw)
            inside = os.listdir(folder)
            if not inside:
                fail(f"{DOCUMENTS}/: empty")
            for doc in sorted(inside):
                try:
                    text = doc.decode("utf-8")
                except UnicodeDecodeError:
                    fail(f"{DOCUMENTS}/: an entry whose name is not UTF-8: {doc!r}")
                if not _HEX64.fullmatch(text):
                    fail(f"{DOCUMENTS}/{text!r}: not named by 64 lowercase hex digits")
                dst = os.lstat(os.path.join(folder, doc))
                if not stat.S_ISREG(dst.st_mode):
                    fail(f"{DOCUMENTS}/{text}: not a regular file")
                if dst.st_size > MAX_DOCUMENT:
                    fail(f"{DOCUMENTS}/{text}: larger than 64 MiB")
                documents.append(text)
            continue
        if raw not in expected:
            fail(f"an entry that is not part of the export: {raw!r}")
        if not stat.S_ISREG(st.st_mode):
            fail(f"{raw.decode()}: not a regular file")
    for name in sorted(expected):
        if name not in names:
            fail(f"{name.decode()}: missing")
    return documents


STEP = [0]   # the step being checked: a failure is reported as "step N: ..."


def verify(export_dir, key_data, policy=None):
    STEP[0] = 0
    key = parse_key_file(key_data)

    # 0. The folder.
    documents = check_folder(export_dir)
    evidence_digests = set()

    # 1. Checkpoint.
    STEP[0] = 1
    n_size, root, parsed_sigs, text_bytes = verify_checkpoint(read_file(export_dir, "checkpoint.txt", MAX_SMALL_FILE), key)
    witnessed = check_policy(policy, key, parsed_sigs, text_bytes) if policy is not None else None

    # 2. Manifest, read.
    STEP[0] = 2
    env_obj, env, manifest, (f_project, f_env, f_since, f_until) = read_manifest(
        read_file(export_dir, MANIFEST_NAME, MAX_SMALL_FILE))

    def selected(project, environment, ms):
        return ((f_project is None or project == f_project) and (f_env is None or environment == f_env)
                and (f_since is None or f_since <= ms) and (f_until is None or ms < f_until))

    def in_full(version, kind, project, environment, ms):
        # "Which entries are in full": a webhook subscription's entry only in an export of every project.
        if version == 1:
            return True
        if kind in SUBSCRIPTION_KINDS:
            return f_project is None
        return kind not in REQUEST_KINDS or selected(project, environment, ms)

    # 3. Entries (and 4., deferred).
    STEP[0] = 3
    entries_path = os.path.join(export_dir, "entries.jsonl")
    if not os.path.isfile(entries_path):
        fail("entries.jsonl: missing")
    tree = MerkleStack()
    bindings = Bindings(export_dir)
    bindings.origin, bindings.ledger_key = key.name, key.line
    step4_failure = None
    full_count = stub_count = 0
    prev_ms = None
    i = 0
    with open(entries_path, "rb") as f:
        while True:
            raw = f.readline(MAX_ENTRY_LINE + 2)
            if not raw:
                break
            if len(raw) > MAX_ENTRY_LINE + 1:
                fail(f"entries.jsonl: line {i + 1} is longer than 32 MiB")
            if not raw.endswith(b"\n"):
                fail(f"entries.jsonl: line {i + 1} does not end with a newline")
            if i >= n_size:
                fail(f"entries.jsonl: more than the checkpoint's {n_size} lines")
            line = raw[:-1]
            where = f"entries.jsonl line {i + 1}"
            obj = parse_json(line, where)
            if not isinstance(obj, dict):
                fail(f"{where}: not a JSON object")
            seq = obj.get("sequence")
            if not is_int(seq):
                fail(f"{where}: no integer sequence")
            if seq > i:
                fail(f"entries.jsonl: entry {i} is missing (line {i + 1} has sequence {seq})")
            if seq < i:
                fail(f"entries.jsonl: entry {seq} is out of order or duplicated (at line {i + 1})")
            what = f"entries.jsonl: entry {seq}"
            keys = list(obj.keys())
            if keys == FULL_KEYS:
                is_full = True
            elif keys == STUB_KEYS:
                is_full = False
            else:
                fail(f"{what}: the line's keys are neither those of a full entry nor of a stub")
            for k in ("actor", "environment", "kind", "project"):
                if not isinstance(obj[k], str):
                    fail(f"{what}: {k} is not a string")
            if utf8(cj(obj), what) != line:
                fail(f"{what}: the line is not compact JSON")
            kind = obj["kind"]
            if is_full:
                raw_entry = b64decode_strict(obj["entry"], f"{what}: entry")
                version, eseq, ms, ekind, eproject, eenv, eactor, payload, record = decode_entry(raw_entry, what)
                if eseq != seq:
                    fail(f"{what}: the entry's sequence is {eseq}")
                try:
                    etime = ms_to_time(ms)
                except Failure as e:
                    fail(f"{what}: {e}")
                if etime != obj["time"]:
                    fail(f"{what}: time {obj['time']!r} is not the entry's {etime}")
                if (ekind, eproject, eenv, eactor) != (kind, obj["project"], obj["environment"], obj["actor"]):
                    fail(f"{what}: kind, project, environment or actor differ from the entry's header")
                required = in_full(version, kind, eproject, eenv, ms)
                if not required:
                    fail(f"{what} is in full but outside the filter (it must be a stub)")
                full_count += 1
                leaf = sha256(b"\x00" + record)
                if kind == "evidence.attached":
                    try:
                        ev = json.loads(payload)
                        d = field(ev, "digest") if isinstance(ev, dict) else None
                        if isinstance(d, str):
                            evidence_digests.add(d)
                    except ValueError:
                        pass  # step 4 names what is wrong with it
                if step4_failure is None:
                    try:
                        bindings.entry(seq, version, ms, kind, eproject, eenv, eactor, payload)
                    except Failure as e:
                        step4_failure = str(e)
                    except Exception as e:  # hostile input: never a traceback
                        step4_failure = f"entry {seq}: {type(e).__name__}: {e}"
            else:
                digest = obj["payload_digest"]
                if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
                    fail(f"{what}: payload_digest is not sha256:<64 lowercase hex>")
                ms = time_to_ms(obj["time"], f"{what}: time")
                if seq >= 2 ** 64:
                    fail(f"{what}: sequence out of range")
                record = (b"\x02" + struct.pack(">Q", seq) + struct.pack(">q", ms)
                          + u16str(kind, what, "kind", 1) + u16str(obj["project"], what, "project", 0)
                          + u16str(obj["environment"], what, "environment", 0)
                          + u16str(obj["actor"], what, "actor", 1) + bytes.fromhex(digest[7:]))
                if kind in SUBSCRIPTION_KINDS:
                    if f_project is None:
                        fail(f"{what} must be in full: a webhook's entry in an export of every project (got a stub)")
                elif kind not in REQUEST_KINDS:
                    fail(f"{what} must be in full: {kind} is not a kind of a request's life (got a stub)")
                elif selected(obj["project"], obj["environment"], ms):
                    fail(f"{what} must be in full: the filter selects it (got a stub)")
                if seq == 0 and step4_failure is None:
                    step4_failure = f"{what}: entry 0 must be the ledger's ledger.initialized (got a stub)"
                stub_count += 1
                leaf = sha256(b"\x00" + record)
            if prev_ms is not None and ms < prev_ms:
                fail(f"{what}: its time is earlier than entry {seq - 1}'s (entry times never decrease)")
            prev_ms = ms
            tree.push(leaf)
            i += 1
    if i < n_size:
        fail(f"entries.jsonl: entry {i} is missing (the file ends after {i} lines; the checkpoint's size is {n_size})")
    if tree.root() != root:
        fail(f"entries.jsonl: the Merkle root of the {n_size} entries is not the checkpoint's root")

    # 4. Signatures and bindings.
    STEP[0] = 4
    if step4_failure is not None:
        fail(step4_failure)
    for doc in documents:
        if "sha256:" + doc not in evidence_digests:
            fail(f"{DOCUMENTS}/{doc}: not the document of any evidence.attached entry in full")

    # 5. Manifest, signed: exactly one signature, keyid exactly `sha256:` + the ledger key's fingerprint, verifying.
    STEP[0] = 5
    if not env.signatures:
        fail(f"{MANIFEST_NAME}: the manifest is not signed")
    if len(env.signatures) != 1:
        fail(f"{MANIFEST_NAME}: the envelope carries {len(env.signatures)} signatures, not exactly one "
             f"(the ledger key's)")
    keyid, sig_b64 = env.signatures[0]
    if keyid != key.fingerprint:
        fail(f"{MANIFEST_NAME}: signed by another key ({keyid}), not the ledger key {key.fingerprint}")
    sig = b64decode_strict(sig_b64, f"{MANIFEST_NAME}: signature")
    if not ed25519_ok(key.pub, env.pae(), sig):
        fail(f"{MANIFEST_NAME}: the ledger key's signature does not verify")

    # 6. Files.
    STEP[0] = 6
    if documents and manifest["documents"] is not True:
        fail(f"{DOCUMENTS}/: the export holds evidence documents, but the manifest says they were not asked for")
    try:
        present = sorted(os.listdir(export_dir))
    except OSError as e:
        fail(f"cannot list the export folder: {e}")
    files = manifest["files"]
    expected = sorted(list(EXPORT_FILES) + [MANIFEST_NAME])
    document_paths = [f"{DOCUMENTS}/{d}" for d in documents]
    if sorted(files.keys()) != sorted(list(EXPORT_FILES) + document_paths):
        fail(f"{MANIFEST_NAME}: files must name exactly {', '.join(EXPORT_FILES)} and the export's evidence documents")
    for name in present:
        if name == DOCUMENTS and documents:
            continue
        if name not in expected:
            fail(f"unexpected file in the export: {name!r}")
    for name in expected:
        if name not in present:
            fail(f"{name}: missing")
        if not os.path.isfile(os.path.join(export_dir, name)):
            fail(f"{name}: not a regular file")
    found = {}
    for path in document_paths:
        want = files[path]
        found[path] = file_digest(os.path.join(export_dir, path))
        if found[path] != want:
            fail(f"{path}: its SHA-256 is not the one the manifest gives")
        if found[path] != "sha256:" + path[len(DOCUMENTS) + 1:]:
            fail(f"{path}: its SHA-256 is not the digest its name gives")
    for name in sorted(EXPORT_FILES, key=lambda s: s.encode("utf-8")):
        want = files[name]
        if not isinstance(want, str) or not _DIGEST.fullmatch(want):
            fail(f"{MANIFEST_NAME}: the digest of {name} is not sha256:<hex>")
        found[name] = file_digest(os.path.join(export_dir, name))
        if found[name] != want:
            fail(f"{name}: its SHA-256 is not the one the manifest gives")
    # The payload must be byte for byte the compact JSON of the manifest built from what steps 1-3 found.
    built = {
        "checkpoint_root": "sha256:" + root.hex(),
        "checkpoint_size": n_size,
        "documents": manifest["documents"],
        "files": found,
        "filter": manifest["filter"],
        "format": EXPORT_FORMAT,
        "full_entries": full_count,
        "ledger_verifier_key": key.line,
        "origin": key.name,
        "stubs": stub_count,
    }
    if utf8(cj(built), MANIFEST_NAME) != env.payload:
        if sorted(manifest.keys()) != sorted(MANIFEST_KEYS):
            fail(f"{MANIFEST_NAME}: the manifest must have exactly the fields {MANIFEST_KEYS}")
        for name in MANIFEST_KEYS:
            got, value = manifest[name], built[name]
            if type(got) is not type(value) or cj(got) != cj(value):
                fail(f"{MANIFEST_NAME}: {name} is {got!r}, not {value!r}")
        fail(f"{MANIFEST_NAME}: the manifest is not the compact JSON of the manifest built from the export")

    # 7. Rebuilt files.
    STEP[0] = 7
    keys_data = read_file(export_dir, "keys.jsonl")
    rebuilt = bindings.keys_jsonl()
    if keys_data != rebuilt:
        a, b = keys_data.split(b"\n"), rebuilt.split(b"\n")
        n = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        fail(f"keys.jsonl: line {n + 1} differs from the key history rebuilt from the entries")
    for cmp in (bindings.decisions, bindings.admin):
        mismatch = cmp.finish()
        if mismatch:
            fail(mismatch)

    return (f"OK: {export_dir}: checkpoint {key.name} size {n_size}, {full_count} entries in full, "
            f"{stub_count} stubs, {len(bindings.keys)} keys, {bindings.decisions.rows - 1} decisions; "
            f"every file as signed by the ledger key"
            + ("" if witnessed is None else "; cosigned by " + (", ".join(w.decode("utf-8", "replace") for w in witnessed) or "none")
               + " as the policy's quorum asks"))


def _clean(msg):
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]", " ", msg)


def _out(line):
    sys.stdout.buffer.write((_clean(line) + "\n").encode("utf-8", "backslashreplace"))
    sys.stdout.flush()


def _verify_one(export_dir, key_data, policy_data=None):
    """(exit status, the line to print) for one export: 0 verified, 1 refused."""
    try:
        STEP[0] = 1
        policy = parse_policy(policy_data) if policy_data is not None else None
        return 0, verify(export_dir, key_data, policy)
    except Failure as e:
        return 1, f"FAILED: step {STEP[0]}: {e}"
    except Exception as e:  # hostile input must never produce a traceback
        return 1, f"FAILED: step {STEP[0]}: unexpected error while verifying: {type(e).__name__}: {e}"


def main(argv):
    # verify_export.py --batch LEDGER_PUB: export folders on standard input, one per line; for each, one line on
    # standard output: the exit status it would have alone (0 or 1), a tab, and its report line. One process for many
    # exports (a campaign of hundreds), the same verdicts as one process each.
    # verify_export.py --policy POLICY EXPORT_DIR LEDGER_PUB: the checkpoint must also carry the cosignatures the
    # witness policy's quorum asks (C2SP tlog-policy).
    policy_data = None
    if len(argv) == 5 and argv[1] == "--policy":
        try:
            with open(argv[2], "rb") as f:
                policy_data = f.read(1 << 20)
        except OSError as e:
            sys.stderr.write(f"verify_export.py: {argv[2]}: {e}\n")
            return 2
        argv = argv[:1] + argv[3:]
    batch = len(argv) == 3 and argv[1] == "--batch"
    if len(argv) != 3:
        sys.stderr.write("usage: verify_export.py [--policy POLICY] EXPORT_DIR LEDGER_PUB | verify_export.py --batch LEDGER_PUB < FOLDERS\n")
        return 2
    key_path = argv[2]
    if not batch and not os.path.isdir(argv[1]):
        sys.stderr.write(f"verify_export.py: {argv[1]}: not a directory\n")
        return 2
    try:
        with open(key_path, "rb") as f:
            key_data = f.read(64 * 1024)
    except OSError as e:
        sys.stderr.write(f"verify_export.py: {key_path}: {e}\n")
        return 2
    if VerifyKey is None:
        sys.stderr.write("verify_export.py: PyNaCl is required (pip install pynacl)\n")
        return 2
    if batch:
        for line in sys.stdin.read().splitlines():
            if not line:
                continue
            if not os.path.isdir(line):
                sys.stdout.write(f"2\t{_clean(line)}: not a directory\n")
                continue
            status, report = _verify_one(line, key_data)
            sys.stdout.buffer.write(f"{status}\t{_clean(report)}\n".encode("utf-8", "backslashreplace"))
        sys.stdout.flush()
        return 0
    status, report = _verify_one(argv[1], key_data, policy_data)
    _out(report)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
