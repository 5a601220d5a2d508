-- The projection as a rowid table (its key unique, as before). In a WITHOUT ROWID table a row longer than about 1,000
-- bytes (4 KiB pages) keeps only its first ~490 bytes in its leaf and spills the rest to an overflow page of its own, so
-- a request's document (about 1,200 bytes once it has two decisions) took a whole extra page, written again at every
-- change; a rowid table keeps rows of up to about 4,000 bytes in the leaf, several to a page. Same columns, same rows.
CREATE TABLE projection_rowid (
    key      TEXT PRIMARY KEY NOT NULL,   -- e.g. 'request/REQ-7', 'principal/alice'
    document TEXT NOT NULL                -- canonical JSON (sorted keys)
);
INSERT INTO projection_rowid (key, document) SELECT key, document FROM projection ORDER BY key;
DROP TABLE projection;
ALTER TABLE projection_rowid RENAME TO projection;
