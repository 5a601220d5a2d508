public import SignoffCrypto

// What the writer encodes for every signed decision — the request's projection document and the decision's events —
// written member by member (``CanonicalJSONWritable``), keys in UTF-8 byte order: the same bytes as their `Encodable`
// forms, which the tests check (`EngineFixture`: every event and touched document of every test world;
// `CanonicalDocumentsTests`: every optional field set, hostile text). A field added to one of these types must be added
// here too, or those tests fail.

extension DeploymentRequest: CanonicalJSONWritable {
    public func writeCanonicalJSON(to out: inout [UInt8]) {
        var o = CanonicalJSON.ObjectWriter(&out)
        o.string("bundle", bundle, &out)
        o.array("decisions", decisions, &out)
        o.value("deploymentInProgress", ifPresent: deploymentInProgress, &out)
        o.array("deployments", deployments, &out)
        o.string("description", description, &out)
        o.stringLists("detectedLabels", detectedLabels, &out)
        o.value("digest", digest, &out)
        o.array("earlierRevisions", earlierRevisions, &out)
        o.value("emergency", ifPresent: emergency, &out)
        o.string("environment", environment, &out)
        o.array("evidence", evidence, &out)
        o.strings("exemptedFrom", ifPresent: exemptedFrom, &out)
        o.integer("filedAt", filedAt, &out)
        o.array("history", history, &out)
        o.string("id", id, &out)
        o.stringLists("labels", labels, &out)
        o.string("project", project, &out)
        o.string("requester", requester, &out)
        o.bool("retrospectiveDone", retrospectiveDone, &out)
        o.integer("retrospectiveDue", ifPresent: retrospectiveDue, &out)
        o.integer("revision", revision, &out)
        o.value("source", ifPresent: source, &out)
        o.string("stage", stage, &out)
        o.string("status", status.rawValue, &out)
        o.value("workflowDigest", workflowDigest, &out)
        o.end(&out)
    }
}

extension DeploymentRequest.Emergency: CanonicalJSONWritable {
    public func writeCanonicalJSON(to out: inout [UInt8]) {
        var o = CanonicalJSON.ObjectWriter(&out)
        o.string("reason", reason, &out)
        o.end(&out)
    }
}

extension Decision: CanonicalJSONWritable {
    public func writeCanonicalJSON(to out: inout [UInt8]) {
        var o = CanonicalJSON.ObjectWriter(&out)
        o.integer("at", at, &out)
        o.string("by", by, &out)
        o.string("comment", comment, &out)
        o.string("decision", decision.rawValue, &out)
        o.string("keyFingerprint", ifPresent: keyFingerprint, &out)
        o.string("onBehalfOf", ifPresent: onBehalfOf, &out)
        o.integer("revision", revision, &out)
        o.string("stage", stage, &out)
        o.value("statementDigest", ifPresent: statementDigest, &out)
        o.end(&out)
    }
}

extension Evidence: CanonicalJSONWritable {
    public func writeCanonicalJSON(to out: inout [UInt8]) {
        var o = CanonicalJSON.ObjectWriter(&out)
        o.integer("at", at, &out)
        o.string("attachedBy", attachedBy, &out)
        o.value("digest", digest, &out)
        o.string("kind", kind, &out)
        o.stringLists("labels", ifPresent: labels, &out)
        o.integer("revision", revision, &out)
        o.value("source", ifPresent: source, &out)
        o.string("status", status.rawValue, &out)
        o.value("tests", ifPresent: tests, &out)
        o.end(&out)
    }
}

extension TestCounts: CanonicalJSONWritable {
    public func writeCanonicalJSON(to out: inout [UInt8]) {
        var o = CanonicalJSON.ObjectWriter(&out)
        o.integer("errors", errors, &out)
        o.integer("failures", failures, &out)
        o.integer("skipped", skipped, &out)
        o.integer("tests", tests, &out)
        o.end(&out)
    }
}

extension BundleSource: CanonicalJSONWritable {
    public func writeCanonicalJSON(to out: inout [UInt8]) {
        var o = CanonicalJSON.ObjectWriter(&out)
        o.string("bundle_id", ifPresent: bundleID, &out)
        o.string("change_url", ifPresent: changeURL, &out)
        o.string("commit", ifPresent: commit, &out)
        o.string("commit_url", ifPresent: commitURL, &out)
        o.string("ref", ifPresent: ref, &out)
        o.string("run_url", ifPresent: runURL, &out)
        o.string("system", ifPresent: system, &out)
        o.string("triggered_by", ifPresent: triggeredBy, &out)
        o.string("verified_by", ifPresent: verifiedBy, &out)
        o.end(&out)
    }
}

extension StageEntry: CanonicalJSONWritable {
    public func writeCanonicalJSON(to out: inout [UInt8]) {
        var o = CanonicalJSON.ObjectWriter(&out)
        o.integer("at", at, &out)
        o.integer("revision", revision, &out)
        o.string("stage", stage, &out)
        o.end(&out)
    }
}

extension Deployment: CanonicalJSONWritable {
    public func writeCanonicalJSON(to out: inout [UInt8]) {
        var o = CanonicalJSON.ObjectWriter(&out)
        o.integer("at", at, &out)
        o.string("by", by, &out)
        o.string("note", note, &out)
        o.string("outcome", outcome.rawValue, &out)
        o.integer("revision", revision, &out)
        o.end(&out)
    }
}

extension DeploymentStart: CanonicalJSONWritable {
    public func writeCanonicalJSON(to out: inout [UInt8]) {
        var o = CanonicalJSON.ObjectWriter(&out)
        o.integer("at", at, &out)
        o.string("by", by, &out)
        o.string("note", note, &out)
        o.integer("revision", revision, &out)
        o.end(&out)
    }
}

extension EarlierRevision: CanonicalJSONWritable {
    public func writeCanonicalJSON(to out: inout [UInt8]) {
        var o = CanonicalJSON.ObjectWriter(&out)
        o.string("bundle", bundle, &out)
        o.value("digest", digest, &out)
        o.integer("replacedAt", replacedAt, &out)
        o.string("replacedBy", replacedBy, &out)
        o.integer("revision", revision, &out)
        o.end(&out)
    }
}

extension Event.DecisionRecorded: CanonicalJSONWritable {
    public func writeCanonicalJSON(to out: inout [UInt8]) {
        var o = CanonicalJSON.ObjectWriter(&out)
        o.value("bundle_digest", bundleDigest, &out)
        o.string("comment", comment, &out)
        o.string("decision", decision.rawValue, &out)
        o.value("envelope", ifPresent: envelope, &out)
        // Written as a digest (`sha256:` and the hex), read either way (`Event.DecisionRecorded.encode(to:)`).
        o.string("key_fingerprint", ifPresent: keyFingerprint.map { "sha256:" + $0 }, &out)
        o.string("on_behalf_of", ifPresent: onBehalfOf, &out)
        o.string("request", request, &out)
        o.integer("revision", revision, &out)
        o.string("stage", stage, &out)
        o.value("statement_digest", ifPresent: statementDigest, &out)
        o.end(&out)
    }
}

extension Event.StageEntered: CanonicalJSONWritable {
    public func writeCanonicalJSON(to out: inout [UInt8]) {
        var o = CanonicalJSON.ObjectWriter(&out)
        o.string("request", request, &out)
        o.integer("revision", revision, &out)
        o.string("stage", stage, &out)
        o.end(&out)
    }
}
