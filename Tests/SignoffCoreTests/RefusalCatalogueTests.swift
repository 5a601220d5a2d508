import Foundation
@testable import SignoffCore
import SignoffTestSupport
import Testing

@Suite("Refusal catalogue")
struct RefusalCatalogueTests {
    /// `schema/refusals.md` as the catalogue gives it: what API clients and auditors read.
    static func markdown() -> String {
        var s = """
            # Refusals

            Every "no" Signoff gives names one rule of this catalogue: the engine's refusals (`refused (RULE): …` on the CLI's \
            standard error, `rule` in the API's RFC 9457 problem details) and the API's own (`token.scope`). A rule's name is \
            stable; its category decides the HTTP status and the CLI's exit code. This file is checked against the catalogue \
            in `Sources/SignoffCore/Refusals/RefusalRule.swift` by `RefusalCatalogueTests` (run it with \
            `SIGNOFF_UPDATE_SCHEMA=1` to rewrite this file after changing the catalogue).

            ## Categories

            | category | HTTP status | exit code | meaning |
            |---|---|---|---|

            """
        let meanings: [RefusalRule.Category: String] = [
            .permission: "the caller may not do this",
            .notFound: "something named does not exist",
            .invalidInput: "the input is malformed or incomplete",
            .signature: "a signature is missing, invalid, or not over this exact thing",
            .conflict: "the current state does not allow it",
            .gate: "the gate does not allow this deployment now",
            .internal: "the stored state is inconsistent; verify the database",
        ]
        for category in RefusalRule.Category.allCases {
            s += "| `\(category.rawValue)` | \(category.httpStatus) | \(category.exitCode) | \(meanings[category]!) |\n"
        }
        s += "\n## Rules\n\n| rule | category | description |\n|---|---|---|\n"
        for rule in RefusalRule.all {
            s += "| `\(rule.name)` | `\(rule.category.rawValue)` | \(rule.summary) |\n"
        }
        return s
    }

    @Test("schema/refusals.md lists exactly the catalogue's rules, with their categories, statuses and exit codes")
    func specMatchesCatalogue() throws {
        let url = TestSupport.projectRoot.appendingPathComponent("schema/refusals.md")
        let expected = Self.markdown()
        if ProcessInfo.processInfo.environment["SIGNOFF_UPDATE_SCHEMA"] == "1" {
            try Data(expected.utf8).write(to: url)
        }
        let actual = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        #expect(actual == expected, "schema/refusals.md differs from the catalogue; run the test with SIGNOFF_UPDATE_SCHEMA=1 to rewrite it")
    }

    @Test("Rule names are unique, lowercase dotted, and every one is found by its name")
    func namesAreStable() {
        #expect(Set(RefusalRule.all.map(\.name)).count == RefusalRule.all.count)
        for rule in RefusalRule.all {
            #expect(rule.name.range(of: "^[a-z]+(\\.[a-z-]+)?$", options: .regularExpression) != nil, "\(rule.name)")
            #expect(RefusalRule.named(rule.name) == rule)
            #expect(!rule.summary.isEmpty)
        }
        #expect(RefusalRule.named("no.such-rule") == nil)
    }

    /// The engine can only name catalogued rules (``Refusal`` takes a ``RefusalRule``); the one dynamic path is a failed
    /// gate condition, `gate.<condition>`. Every condition the policy evaluates must have its catalogue entry, or a
    /// gate refusal would fall back to `internal`.
    @Test("Every rule of the catalogue is shown refusing by some test (named in the tests), but the internal error")
    func everyRuleIsTested() throws {
        let tests = TestSupport.projectRoot.appendingPathComponent("Tests")
        var text = ""
        for case let path as String in FileManager.default.enumerator(atPath: tests.path)! where path.hasSuffix(".swift") && !path.hasSuffix("RefusalCatalogueTests.swift") {
            text += try String(contentsOf: tests.appendingPathComponent(path), encoding: .utf8)
        }
        for rule in RefusalRule.all where rule != .internalError {
            #expect(text.contains("\"\(rule.name)\"") || text.contains("(\(rule.name))"), "no test names the refusal \(rule.name)")
        }
    }

    @Test("Every gate condition the policy can fail has its own gate rule in the catalogue")
    func gateConditionsAreCatalogued() throws {
        let source = try String(
            contentsOf: TestSupport.projectRoot.appendingPathComponent("Sources/SignoffCore/Engine/Policy.swift"), encoding: .utf8)
        let regex = try NSRegularExpression(pattern: #"rule: "([a-z-]+)""#)
        let names = Set(regex.matches(in: source, range: NSRange(source.startIndex..., in: source)).map {
            String(source[Range($0.range(at: 1), in: source)!])
        })
        #expect(names.count >= 5, "found the policy's conditions: \(names.sorted())")
        for name in names {
            #expect(RefusalRule.named("gate." + name) != nil, "the policy's condition \(name) has no gate.\(name) rule in the catalogue")
            #expect(RefusalRule.gate(condition: name) != .internalError)
        }
        #expect(RefusalRule.gate(condition: "made-up") == .internalError)
    }

    /// Every `Refusal(.name, …)` and `rule: .name` in the sources names a catalogue entry by its Swift name: the
    /// compiler checks that; this checks that no refusal is built from a string the catalogue does not know.
    @Test("No source builds a refusal or a problem's rule from a free string")
    func noFreeStringRules() throws {
        let sources = TestSupport.projectRoot.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)!.compactMap { $0 as? URL }.filter {
            $0.pathExtension == "swift"
        }
        #expect(files.count > 20)
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(!text.contains("Refusal(\""), "\(file.lastPathComponent) builds a Refusal from a string")
            #expect(!text.contains("rule: \"") || file.lastPathComponent == "Policy.swift", "\(file.lastPathComponent) names a rule by a string")
        }
    }

    @Test("Categories decide HTTP status and exit code: permission 403/2, not found 404/64, invalid input 422/64, signature 422/2, conflict and gate 409/2")
    func categoryMapping() {
        #expect(RefusalRule.adminRequired.category.httpStatus == 403 && RefusalRule.adminRequired.category.exitCode == 2)
        #expect(RefusalRule.requestUnknown.category.httpStatus == 404 && RefusalRule.requestUnknown.category.exitCode == 64)
        #expect(RefusalRule.inputName.category.httpStatus == 422 && RefusalRule.inputName.category.exitCode == 64)
        #expect(RefusalRule.signatureRequired.category.httpStatus == 422 && RefusalRule.signatureRequired.category.exitCode == 2)
        #expect(RefusalRule.decisionDuplicate.category.httpStatus == 409 && RefusalRule.gateWindow.category.exitCode == 2)
    }
}
