-- OpenID Connect (schema/identity.md): the console's single sign-on logins under way, and each trusted issuer's signing
-- keys as last fetched. Shared by every instance on the database.

-- A login under way: only the SHA-256 of its `state` (the browser carries the state and, in an HttpOnly cookie, the
-- secret from which the PKCE verifier and the nonce are derived; neither is stored). Single use, for 10 minutes.
CREATE TABLE sso_login (
    state_hash BLOB PRIMARY KEY,      -- SHA-256 of the state parameter
    issuer     TEXT NOT NULL,         -- the trusted issuer's name
    expires_ms INTEGER NOT NULL,
    used_ms    INTEGER                -- set when the callback consumed it
) WITHOUT ROWID;
CREATE INDEX sso_login_expires ON sso_login (expires_ms);

-- An issuer's JSON Web Key Set, as fetched from its discovery document's jwks_uri (public keys only).
CREATE TABLE jwks_cache (
    issuer     TEXT PRIMARY KEY,      -- the issuer identifier (its URL)
    jwks       TEXT NOT NULL,         -- the JWKS document as served
    fetched_ms INTEGER NOT NULL
) WITHOUT ROWID;
