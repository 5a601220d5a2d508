/// Placeholder until schema/openapi.yaml is embedded.
enum OpenAPISpec {
    static let yaml = "openapi: 3.1.0\n"
}
