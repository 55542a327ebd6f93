-- A hub's event log has an identity (docs/protocol.md, "History"): a replaced log numbers its
-- rows from 1 again under a new one, so rows are keyed by (site, log, seq). '' is the log of
-- hubs older than log identities (and every row written before this migration).
ALTER TABLE history ADD COLUMN log text NOT NULL DEFAULT '';
ALTER TABLE history DROP CONSTRAINT history_pkey;
ALTER TABLE history ADD PRIMARY KEY (site, log, seq);
ALTER TABLE history DROP CONSTRAINT history_site_kind_id_key;
ALTER TABLE history ADD CONSTRAINT history_site_log_kind_id_key UNIQUE (site, log, kind, id);

-- Every log of every site and how far it is written; sites keeps the current one.
CREATE TABLE site_logs (
    site text NOT NULL,
    log text NOT NULL,
    upto bigint NOT NULL DEFAULT 0,          -- every row of that log up to here is in history
    head bigint NOT NULL DEFAULT 0,
    first_heard timestamptz NOT NULL DEFAULT now(),
    heard_at timestamptz,
    PRIMARY KEY (site, log)
);
INSERT INTO site_logs (site, log, upto, head, heard_at)
    SELECT site, '', upto, head, heard_at FROM sites;
ALTER TABLE sites ADD COLUMN log text NOT NULL DEFAULT '';     -- the hub's current log
