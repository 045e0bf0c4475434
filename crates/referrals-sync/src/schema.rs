//! The mirror's schema, versioned with `PRAGMA user_version`: migration `n` (1-based) takes a
//! database from version `n - 1` to `n`. `docs/sync.md` documents every table; a change to a
//! shipped migration is a new migration, never an edit.

/// `PRAGMA application_id` of a mirror ("RFRL"), so that a foreign database is told apart.
pub const APPLICATION_ID: i32 = 0x5246_524C;

/// The migrations, in order. `SCHEMA_VERSION` is their count.
pub const MIGRATIONS: &[&str] = &[
    // 1: the mirror, the journal, sync state, the run in progress, consumers, extensions.
    r#"
CREATE TABLE referrals (
    id                TEXT PRIMARY KEY,
    etag              TEXT,
    status            TEXT,
    substatus         TEXT,
    type              TEXT,
    qualification     TEXT,
    direction         TEXT,
    name              TEXT,
    customer_name     TEXT,
    customer_country  TEXT,
    deal_value        REAL,
    currency          TEXT,
    created_date_time TEXT,
    updated_date_time TEXT,
    raw_json          TEXT NOT NULL,
    first_seen_at     TEXT NOT NULL,
    last_seen_at      TEXT NOT NULL,
    removed_at        TEXT
);
CREATE INDEX referrals_by_status ON referrals (status);

CREATE TABLE changes (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    referral_id       TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('created', 'updated', 'removed')),
    etag              TEXT,
    updated_date_time TEXT,
    recorded_at       TEXT NOT NULL
);

CREATE TABLE sync_state (
    singleton            INTEGER PRIMARY KEY CHECK (singleton = 1),
    watermark            TEXT,
    last_full_started_at TEXT,
    last_completed_at    TEXT,
    last_run_kind        TEXT
);
INSERT INTO sync_state (singleton) VALUES (1);

CREATE TABLE sync_run (
    singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
    kind           TEXT NOT NULL CHECK (kind IN ('full', 'incremental')),
    reason         TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    since          TEXT,
    checkpoint     TEXT NOT NULL,
    newest_updated TEXT,
    pages          INTEGER NOT NULL DEFAULT 0,
    created        INTEGER NOT NULL DEFAULT 0,
    updated        INTEGER NOT NULL DEFAULT 0,
    unchanged      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE consumers (
    name             TEXT PRIMARY KEY,
    acknowledged_seq INTEGER NOT NULL,
    updated_at       TEXT NOT NULL
);

CREATE TABLE extensions (
    name    TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
"#,
    // 2: `last_seen_at` moves to a narrow table of its own, with a digest of the stored JSON.
    // Every full run moves it for every referral; in the wide row (next to kilobytes of JSON)
    // that rewrote the whole table each time, even when nothing had changed, and telling
    // "unchanged" read the whole stored JSON back. Keyed by the `referrals` rowid, not the id:
    // rows then follow the order referrals were first listed in, which a later listing
    // repeats, so a page's updates land on one or two pages of the table instead of a hundred
    // scattered ones (which a random key such as the id gives: every transaction rewrote most
    // of the table). The digests of version-1 rows are not known (SQL cannot compute them):
    // each is filled in when its referral is next received.
    r#"
CREATE TABLE referral_seen (
    referral_rowid INTEGER PRIMARY KEY,
    last_seen_at   TEXT NOT NULL,
    json_sha256    BLOB
);
INSERT INTO referral_seen (referral_rowid, last_seen_at)
    SELECT rowid, last_seen_at FROM referrals ORDER BY rowid;
-- The digest describes the stored JSON whoever writes the row: one changed or removed by
-- hand can no longer pass for unchanged.
CREATE TRIGGER referral_seen_changed AFTER UPDATE OF id, raw_json, removed_at ON referrals
BEGIN
    UPDATE referral_seen SET json_sha256 = NULL WHERE referral_rowid = old.rowid;
END;
CREATE TRIGGER referral_seen_deleted AFTER DELETE ON referrals
BEGIN
    DELETE FROM referral_seen WHERE referral_rowid = old.rowid;
END;
ALTER TABLE referrals DROP COLUMN last_seen_at;
"#,
    // 3: the API the mirror belongs to, recorded by its first sync (`Mirror::claim_api`), so
    // that another API's referrals (another account's, the demo simulator's) are never merged
    // into it. Empty in a mirror upgraded from an earlier version: its next sync records it.
    r#"
CREATE TABLE mirror_api (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    base_url    TEXT NOT NULL,
    account     TEXT,
    recorded_at TEXT NOT NULL
);
"#,
    // 4: referrals received but not decodable (a field of another type than the API
    // documents), kept as received until a version that decodes replaces them, so that one
    // bad referral neither stops a sync nor is lost. `id` is NULL for an item without a string
    // id (several may be). While rows remain, a completed run's watermark does not pass the
    // oldest `updated_date_time` among them (`plan::held_watermark`).
    r#"
CREATE TABLE quarantine (
    id                TEXT UNIQUE,
    updated_date_time TEXT,
    page              INTEGER NOT NULL,
    item_index        INTEGER NOT NULL,
    raw_json          TEXT NOT NULL,
    error             TEXT NOT NULL,
    first_seen_at     TEXT NOT NULL,
    last_seen_at      TEXT NOT NULL
);
"#,
    // 5: the outbox of batch creation (`referrals_sync::batch`): one row per
    // `externalReferenceId` a batch meant to create, written before its request is sent (state
    // `intent`) and after its answer (`created` with the id, or `refused` with the reason), so
    // that a run killed between the two is resolved by the next one from the mirror, never by
    // sending again. No index on the referrals' `externalReferenceId`: a batch looks its ids up
    // in one pass, and a sync (which runs far more often) pays nothing for it.
    r#"
CREATE TABLE create_intents (
    external_reference_id TEXT PRIMARY KEY,
    state                 TEXT NOT NULL CHECK (state IN ('intent', 'created', 'refused')),
    referral_id           TEXT,
    error                 TEXT,
    intended_at           TEXT NOT NULL,
    resolved_at           TEXT
);
"#,
    // 6: the mirror's identity, a random UUID (version 4) made once, when the file reaches this
    // version: what is derived from the journal for the world outside (a push's
    // `Idempotency-Key`, the identity and a sequence number) is then unique per mirror file,
    // while sequence numbers alone repeat across files. SQLite makes it, so an upgraded mirror
    // gets one in the same transaction as the rest of its upgrade.
    r#"
CREATE TABLE mirror_identity (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    id         TEXT NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO mirror_identity (singleton, id, created_at) VALUES (
    1,
    lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
        || substr(lower(hex(randomblob(2))), 2) || '-'
        || substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-'
        || lower(hex(randomblob(6))),
    strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
);
"#,
];

/// The schema version this crate writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
