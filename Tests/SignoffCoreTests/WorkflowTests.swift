import Foundation
import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

struct BrokenWorkflow: Sendable, CustomTestStringConvertible {
    let file: String
    let source: String
    let line: Int
    let column: Int
    let fragment: String
    var testDescription: String { file }

    /// Files under Tests/testdata/workflows/broken, each starting with `# expect: LINE:COLUMN message fragment`.
    static func corpus() throws -> [BrokenWorkflow] {
        let directory = TestSupport.projectRoot.appendingPathComponent("Tests/testdata/workflows/broken")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        return try files.map { name in
            let source = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            let header = source.prefix { $0 != "\n" }
            guard header.hasPrefix("# expect: ") else { throw TestSupportError("\(name) has no '# expect: LINE:COL fragment' line") }
            let rest = header.dropFirst("# expect: ".count)
            let position = rest.prefix { $0 != " " }.split(separator: ":")
            return BrokenWorkflow(
                file: name, source: source, line: Int(position[0])!, column: Int(position[1])!,
                fragment: String(rest.drop { $0 != " " }.dropFirst()))
        }
    }
}

@Suite("Workflow language")
struct WorkflowTests {
    static func shipped(_ name: String) throws -> String {
        try String(contentsOf: TestSupport.projectRoot.appendingPathComponent("workflows/\(name).yaml"), encoding: .utf8)
    }

    @Test("Every shipped workflow parses", arguments: ["standard", "regulated"])
    func shippedWorkflowsParse(_ name: String) throws {
        let workflow = try WorkflowParser.parse(Self.shipped(name), file: "\(name).yaml")
        #expect(workflow.name == name)
        #expect(workflow.stages.first?.name == "requested")
        #expect(workflow.stages.last?.name == "deployed")
    }

    @Test("The regulated workflow has the five default stages and its rules")
    func regulatedShape() throws {
        let w = try WorkflowParser.parse(Self.shipped("regulated"), file: "regulated.yaml")
        #expect(w.stages.map(\.name) == ["requested", "tested", "shared-objects", "compliance-reviewed", "approved", "deployed"])
        #expect(w.path(labels: [:], emergency: false).map(\.name) == ["requested", "tested", "compliance-reviewed", "approved", "deployed"])
        #expect(w.path(labels: ["touches": ["plugins"]], emergency: false).map(\.name) == w.stages.map(\.name))
        #expect(w.path(labels: ["touches": ["plugins"]], emergency: true).map(\.name) == ["requested", "tested", "approved", "deployed"])
        #expect(w.stage(named: "compliance-reviewed")?.gate.approvals.map { "\($0.role.value)=\($0.count)" } == ["compliance=1"])
        let approved = try #require(w.stage(named: "approved")?.gate)
        #expect(approved.approvals.map { "\($0.role.value)=\($0.count)" } == ["approvers=2"])
        #expect(approved.notDecidersOf.map(\.value) == ["compliance-reviewed"])
        #expect(approved.signaturesRequired && approved.expirySeconds == 72 * 3600)
        #expect(w.stage(named: "deployed")?.gate.window?.timeZone == "Europe/Paris")
        let within: Int64? = w.emergency?.retrospective.withinSeconds
        #expect(within == 86_400)
        #expect(w.emergency?.outsideWindow == true)
        #expect(w.requestExpirySeconds == Int64(30 * 86_400))
        #expect(w.stage(named: "tested")?.gate.evidence.first?.maxAgeSeconds == Int64(7 * 86_400))
        #expect(w.roles == ["approvers", "ci", "compliance", "deployers", "platform", "requesters"])
    }

    @Test("Every shipped workflow validates against schema/workflow.schema.json (Python jsonschema)")
    func jsonSchema() async throws {
        let files = ["standard", "regulated"].map { TestSupport.projectRoot.appendingPathComponent("workflows/\($0).yaml").path }
        let result = try await TestSupport.runPython(
            "workflow_schema.py", [TestSupport.projectRoot.appendingPathComponent("schema/workflow.schema.json").path] + files)
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("2 valid"))
    }

    @Test("The broken-workflow corpus has at least 20 files")
    func corpusSize() throws {
        #expect(try BrokenWorkflow.corpus().count >= 20)
    }

    @Test("Each broken workflow is refused with the right line, column and reason", arguments: try BrokenWorkflow.corpus())
    func broken(_ file: BrokenWorkflow) {
        do {
            _ = try WorkflowParser.parse(file.source, file: file.file)
            Issue.record("\(file.file) was accepted")
        } catch {
            #expect("\(error.line):\(error.column)" == "\(file.line):\(file.column)", "\(error)")
            #expect(error.message.contains(file.fragment), "\(error)")
            #expect(error.description.hasPrefix("\(file.file):\(error.line):\(error.column): "))
        }
    }

    @Test("Durations", arguments: [("90s", 90), ("30m", 1800), ("72h", 259_200), ("7d", 604_800)] as [(String, Int64)])
    func durations(_ text: String, _ seconds: Int64) {
        #expect(WorkflowParser.seconds(ofDuration: text) == seconds)
    }

    @Test("Bad durations are refused", arguments: ["0h", "-1h", "h", "72", "72 h", "1w", ""])
    func badDurations(_ text: String) {
        #expect(WorkflowParser.seconds(ofDuration: text) == nil)
    }
}
