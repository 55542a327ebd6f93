-- The report figures of docs/report.md over the hubs' history (central/report.py).
-- report_tickets: each site's tickets as its own caller records them (the history replayed
-- through the caller's engine); report_days and report_months: per site and service day or
-- month, what a province report of many communes reads (a year of 200 communes: 2,400 month
-- rows, not 10 M tickets). The waits are kept exactly (sorted, in ms) so that the median and
-- p90 are the hub's; the months' bins say where in them a rank lies.
CREATE TABLE report_position (
    site text PRIMARY KEY,
    upto bigint NOT NULL DEFAULT 0           -- history rows up to here are in report_tickets
);

CREATE TABLE report_tickets (
    site text NOT NULL,
    id text NOT NULL,
    day date NOT NULL,                       -- the ticket's service day
    service text NOT NULL,
    counter text,                            -- the counter that called it last; NULL: never called
    outcome smallint NOT NULL,               -- index into caller/figures.py OUTCOMES
    hour smallint NOT NULL,                  -- local hour of issue
    priority boolean NOT NULL,
    wait_ms bigint,                          -- issued -> first call, as SQLite's julianday counts ms
    service_ms bigint,                       -- first call -> done, for served tickets
    rating smallint,                         -- the accepted rating, 1 = best
    reason text,                             -- its reason (web pages)
    PRIMARY KEY (site, id)
);
CREATE INDEX report_tickets_by_day ON report_tickets (site, day);

CREATE TABLE report_days (
    site text NOT NULL,
    day date NOT NULL,
    outcomes integer[] NOT NULL,             -- tickets per outcome, in OUTCOMES order
    ratings integer[] NOT NULL,              -- tickets per rating level 1, 2, ...
    waits bytea NOT NULL,                    -- the day's waits in ms, sorted, 8 bytes big-endian each (int8send)
    PRIMARY KEY (site, day)
);

CREATE TABLE report_months (
    site text NOT NULL,
    month date NOT NULL,                     -- its first day
    outcomes integer[] NOT NULL,
    ratings integer[] NOT NULL,
    bins bytea NOT NULL,                     -- (bin, count) pairs, int4 big-endian each, by bin:
                                             -- bin = floor(wait_ms / 30000), only bins with waits
    waits bytea NOT NULL,                    -- the month's waits in ms, sorted, int8 big-endian each
    PRIMARY KEY (site, month)
);
-- Uncompressed out of line: a report reads a slice of a month's waits (one bin), not all.
ALTER TABLE report_months ALTER COLUMN waits SET STORAGE EXTERNAL;
