public import SignoffCore

extension SignoffService {
    /// Sets `principal`'s chat handles as `actor` (the person, or an administrator), after ``ChatHandles/refusal(principal:actor:state:)``;
    /// empty handles forget them. Kept beside the ledger (``CoordinationStore``), read when messages are rendered.
    public func setChatHandles(_ handles: ChatHandles, of principal: String, as actor: String, keyless: Bool = false) async throws -> Result<ChatHandles, Refusal> {
        if let refusal = handles.refusal(principal: principal, actor: actor, keyless: keyless, state: try await state()) { return .failure(refusal) }
        try await storage.coordination.setChatHandles(handles, of: principal, by: actor, at: now)
        return .success(handles)
    }

    /// Everyone's chat handles: what messages mention people by (read when a message is rendered, so that a handle set
    /// after an event still reaches its messages).
    public func allChatHandles() async throws -> [String: ChatHandles] { try await storage.coordination.chatHandles() }

    /// `principal`'s chat handles, for themself or an administrator.
    public func chatHandles(of principal: String, as actor: String) async throws -> Result<ChatHandles, Refusal> {
        if let refusal = ChatHandles().refusal(principal: principal, actor: actor, state: try await state()) { return .failure(refusal) }
        return .success(try await storage.coordination.chatHandles()[principal] ?? ChatHandles())
    }
}
