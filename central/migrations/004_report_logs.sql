-- The report's position is kept per log of a site (003: a replaced caller.db is a new log whose
-- rows are numbered from 1 again): each log is replayed through its own engine, as the hub's
-- caller started afresh with the new log.
ALTER TABLE report_position ADD COLUMN log text NOT NULL DEFAULT '';
ALTER TABLE report_position DROP CONSTRAINT report_position_pkey;
ALTER TABLE report_position ADD PRIMARY KEY (site, log);
