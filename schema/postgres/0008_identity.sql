-- OpenID Connect logins under way and trusted issuers' keys: as schema/sqlite/ 0012.

CREATE TABLE sso_login (
    state_hash BYTEA PRIMARY KEY,
    issuer     TEXT COLLATE "C" NOT NULL,
    expires_ms BIGINT NOT NULL,
    used_ms    BIGINT
);
CREATE INDEX sso_login_expires ON sso_login (expires_ms);

CREATE TABLE jwks_cache (
    issuer     TEXT COLLATE "C" PRIMARY KEY,
    jwks       TEXT NOT NULL,
    fetched_ms BIGINT NOT NULL
);
