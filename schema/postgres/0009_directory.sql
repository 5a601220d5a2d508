-- Connected directories' SCIM attributes: as schema/sqlite/ 0013.

CREATE TABLE directory_resource (
    directory   TEXT COLLATE "C" NOT NULL,
    type        TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    attributes  TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    modified_ms BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    PRIMARY KEY (directory, type, id)
);
