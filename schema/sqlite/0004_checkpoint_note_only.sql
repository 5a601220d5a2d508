-- A checkpoint row keeps only what its signature covers: the tree size (which must equal the note's) and the signed
-- note. The root hash is read from the note; the signing time is not kept, since nothing signed vouches for it and
-- `signoff audit verify --db` could not detect a change to it. The time rule for checkpoints uses the time of the
-- oldest entry not yet covered, which the hash chain does cover.

CREATE TABLE checkpoint_note_only (
    tree_size INTEGER PRIMARY KEY NOT NULL,
    note      TEXT NOT NULL             -- the C2SP signed note, exactly as signed
);
INSERT INTO checkpoint_note_only (tree_size, note) SELECT tree_size, note FROM checkpoint;
DROP TABLE checkpoint;
ALTER TABLE checkpoint_note_only RENAME TO checkpoint;
