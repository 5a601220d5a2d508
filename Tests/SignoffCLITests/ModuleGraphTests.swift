import Foundation
import SignoffTestSupport
import Testing

/// The package's modules as its files say: the targets of `Package.swift` with their declared dependencies and paths,
/// and the modules each target's Swift files import.
struct ModuleGraph {
    struct Target {
        let name: String
        /// The module names it declares: its targets by name and the products of other packages (`.product(name:)`).
        let declared: Set<String>
        /// Relative to the package root.
        let path: String
        let excluded: [String]
        /// Imported module → the files (relative to the package root) that import it.
        var imports: [String: [String]] = [:]
    }

    /// Modules of the toolchain and the platform, which no target declares.
    static let platformModules: Set<String> = [
        "Foundation", "FoundationEssentials", "FoundationNetworking", "Glibc", "Musl", "Darwin", "Dispatch", "Synchronization", "Testing", "XCTest",
    ]

    let root: URL
    let manifest: String
    let targets: [Target]

    init(root: URL) throws {
        self.root = root
        manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        var targets = try Self.targets(in: manifest)
        for index in targets.indices { targets[index].imports = try Self.imports(of: targets[index], root: root) }
        self.targets = targets
    }

    /// Every module name the manifest can resolve: its own targets and the products it names.
    var packageModules: Set<String> { Set(targets.map(\.name)).union(targets.flatMap(\.declared)) }

    func target(_ name: String) -> Target? { targets.first { $0.name == name } }

    // MARK: Package.swift

    /// The targets of the manifest, in the form it is written in: `.target(`, `.executableTarget(`, `.testTarget(` or
    /// `.systemLibrary(` each with `name:`, optional `dependencies: [...]` (names and `.product(name:package:)`),
    /// `path:` and `exclude:`.
    static func targets(in manifest: String) throws -> [Target] {
        let kinds = #/\.(target|executableTarget|testTarget|systemLibrary)\(/#
        let starts = manifest.matches(of: kinds)
        var found: [Target] = []
        for (index, start) in starts.enumerated() {
            let end = index + 1 < starts.count ? starts[index + 1].range.lowerBound : manifest.endIndex
            let chunk = String(manifest[start.range.upperBound..<end])
            guard let name = chunk.firstMatch(of: #/name:\s*"([^"]+)"/#)?.1 else {
                throw TestSupportError("Package.swift: a .\(start.1)( without a name: the test's reading of the manifest needs mending")
            }
            let dependencies = bracketed(after: "dependencies:", in: chunk) ?? ""
            // In the dependency list every string is a module name except a product's package.
            let names = dependencies.split(separator: "\n").map { $0.components(separatedBy: "//")[0] }
                .joined(separator: "\n").replacing(#/package:\s*"[^"]*"/#, with: "")
            let declared = Set(names.matches(of: #/"([^"]+)"/#).map { String($0.1) })
            let folder = start.1 == "testTarget" ? "Tests" : "Sources"
            let path = chunk.firstMatch(of: #/\bpath:\s*"([^"]+)"/#).map { String($0.1) } ?? "\(folder)/\(name)"
            let excluded = (bracketed(after: "exclude:", in: chunk) ?? "").matches(of: #/"([^"]+)"/#).map { String($0.1) }
            found.append(Target(name: String(name), declared: declared, path: path, excluded: excluded))
        }
        return found
    }

    /// The text between the `[` that follows `label` and its matching `]`.
    static func bracketed(after label: String, in text: String) -> Substring? {
        guard let labelRange = text.range(of: label), let open = text[labelRange.upperBound...].firstIndex(of: "[") else { return nil }
        var depth = 0
        for index in text[open...].indices {
            if text[index] == "[" { depth += 1 }
            if text[index] == "]" {
                depth -= 1
                if depth == 0 { return text[text.index(after: open)..<index] }
            }
        }
        return nil
    }

    // MARK: Import lines

    /// `import M`, with any attributes (`@testable`, `@_spi(X)`), access level and kind (`import struct M.T`).
    static var importLine: Regex<(Substring, Substring)> { #/^\s*(?:@[A-Za-z_]+(?:\([^)]*\))?\s+)*(?:(?:public|package|internal|fileprivate|private)\s+)?import\s+(?:(?:typealias|struct|class|enum|protocol|actor|let|var|func)\s+)?([A-Za-z_][A-Za-z0-9_]*)/# }

    /// The modules `text` imports, outside multi-line string literals (a test's Python script says `import os` too).
    static func imports(inSwift text: String) -> [String] {
        var modules: [String] = []
        var inString = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if !inString, let match = line.firstMatch(of: importLine) { modules.append(String(match.1)) }
            if line.ranges(of: "\"\"\"").count % 2 == 1 { inString.toggle() }
        }
        return modules
    }

    static func imports(of target: Target, root: URL) throws -> [String: [String]] {
        let folder = root.appendingPathComponent(target.path)
        guard let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else {
            throw TestSupportError("\(target.path), the folder of target \(target.name), cannot be read")
        }
        var found: [String: [String]] = [:]
        for case let file as URL in files where file.pathExtension == "swift" {
            let relative = String(file.path.dropFirst(folder.path.count + 1))
            if target.excluded.contains(where: { relative.hasPrefix($0 + "/") || relative == $0 }) { continue }
            for module in imports(inSwift: try String(contentsOf: file, encoding: .utf8)) { found[module, default: []].append("\(target.path)/\(relative)") }
        }
        return found
    }

    // MARK: README

    /// The block after README's `<!-- module graph` comment: `MODULE ──▶ IMPORTED IMPORTED …` per line, in order.
    static func readmeGraph(_ readme: String) throws -> [(module: String, imports: [String])] {
        guard let marker = readme.range(of: "<!-- module graph"),
            let open = readme.range(of: "```\n", range: marker.upperBound..<readme.endIndex),
            let close = readme.range(of: "\n```", range: open.upperBound..<readme.endIndex)
        else { throw TestSupportError("README.md has no code block after a `<!-- module graph` comment") }
        return readme[open.upperBound..<close.lowerBound].split(separator: "\n").map { line in
            let sides = line.components(separatedBy: "──▶")
            let words = { (side: String) in side.split(whereSeparator: \.isWhitespace).map(String.init) }
            return (words(sides[0]).joined(separator: " "), sides.count > 1 ? words(sides[1...].joined(separator: " ")) : [])
        }
    }

    /// `A → B` for every import of one of this package's `Sources/` modules by another.
    func sourceEdges() -> Set<String> {
        let sources = targets.filter { $0.path.hasPrefix("Sources/") }
        let names = Set(sources.map(\.name))
        return Set(sources.flatMap { target in target.imports.keys.filter(names.contains).map { "\(target.name) → \($0)" } })
    }
}

/// README's module graph and `Package.swift`, each checked against the `import` lines: the graph shows every import
/// of one module of `Sources/` by another and nothing else; every target declares exactly what its files import.
@Suite("Module graph: README and Package.swift against the import lines")
struct ModuleGraphTests {
    static let graph = Result { try ModuleGraph(root: TestSupport.projectRoot) }

    @Test("The manifest is read whole: every folder of Swift sources is a target's")
    func everyFolderIsATarget() throws {
        let graph = try Self.graph.get()
        #expect(graph.targets.count >= 17)
        let paths = Set(graph.targets.map(\.path))
        for folder in ["Sources", "Tests", "Benchmarks"] {
            let url = TestSupport.projectRoot.appendingPathComponent(folder)
            for child in try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() {
                let files = FileManager.default.enumerator(atPath: url.appendingPathComponent(child).path)?.compactMap { $0 as? String } ?? []
                guard files.contains(where: { $0.hasSuffix(".swift") || $0.hasSuffix(".modulemap") }) else { continue }
                #expect(paths.contains("\(folder)/\(child)"), "\(folder)/\(child) holds Swift sources but no target of Package.swift has that path")
            }
        }
        // The reading itself refuses: an import inside a multi-line string is text, an attribute or a kind is not the module.
        #expect(ModuleGraph.imports(inSwift: "@testable import A\n@_spi(Bench) public import B\nimport struct C.D\nlet s = \"\"\"\n    import os\n    \"\"\"\n// import E") == ["A", "B", "C"])
    }

    @Test("README's graph is the import lines of Sources/, every arrow pointing down the list")
    func readmeGraphIsTheImports() throws {
        let graph = try Self.graph.get()
        let readme = try String(contentsOf: TestSupport.projectRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = try ModuleGraph.readmeGraph(readme)
        let sources = Set(graph.targets.filter { $0.path.hasPrefix("Sources/") }.map(\.name))
        let shown = lines.map(\.module)
        #expect(Set(shown) == sources && shown.count == sources.count, "README's graph names each module of Sources/ once: only in README \(Set(shown).subtracting(sources).sorted()), missing \(sources.subtracting(shown).sorted())")
        let claimed = Set(lines.flatMap { line in line.imports.map { "\(line.module) → \($0)" } })
        let actual = graph.sourceEdges()
        let onlyClaimed = claimed.subtracting(actual).sorted()
        let onlyActual = actual.subtracting(claimed).sorted()
        let witnesses = onlyActual.map { edge -> String in
            let parts = edge.components(separatedBy: " → ")
            return "\(edge) (\(graph.target(parts[0])?.imports[parts[1]]?.sorted().first ?? "?"))"
        }
        #expect(
            onlyClaimed.isEmpty && onlyActual.isEmpty,
            "README.md's module graph differs from the import lines of Sources/. In README, imported by no file: \(onlyClaimed). Imported, missing from README: \(witnesses).")
        // Nothing points back up: every module a line names is on a later line.
        for (position, line) in lines.enumerated() {
            for imported in line.imports where !shown[(position + 1)...].contains(imported) {
                Issue.record("README's module graph: \(line.module) ──▶ \(imported) points up or sideways; list \(imported) below \(line.module)")
            }
        }
        // What the prose beside it says.
        let grdb = graph.targets.filter { $0.path.hasPrefix("Sources/") && $0.imports["GRDB"] != nil }.map(\.name)
        #expect(grdb == ["SignoffStore"], "only SignoffStore imports GRDB, as README says; imported by \(grdb)")
        #expect(graph.target("SignoffAPI")?.imports["SignoffService"] == nil, "the wire contract imports nothing of the service")
    }

    @Test("Every target of Package.swift declares exactly the modules its files import")
    func declaredIsImported() throws {
        let graph = try Self.graph.get()
        let known = graph.packageModules
        for target in graph.targets where !target.path.hasPrefix("Sources/CSodium") {
            let imported = Set(target.imports.keys).subtracting(ModuleGraph.platformModules)
            for unused in target.declared.subtracting(imported).sorted() {
                Issue.record("Package.swift: \(target.name) declares \(unused), which no file of \(target.path) imports; remove it")
            }
            for undeclared in imported.subtracting(target.declared).sorted() {
                let file = target.imports[undeclared]?.sorted().first ?? "?"
                Issue.record(
                    known.contains(undeclared)
                        ? "Package.swift: \(target.name) does not declare \(undeclared), which \(file) imports; add it to its dependencies"
                        : "\(file) imports \(undeclared), which is neither a target nor a product Package.swift names nor a platform module")
            }
        }
        #expect(!graph.manifest.contains("resources:"), "files ship with the binary one way: generated Swift by scripts/embed-schema.py (README, architecture), not module resources")
    }
}
