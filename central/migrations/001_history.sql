-- The hubs' history, one row per row of a hub's event log, in the order of that log.
CREATE TABLE sites (
    site text PRIMARY KEY,
    upto bigint NOT NULL DEFAULT 0,          -- every row of the hub's log up to here is in history
    head bigint NOT NULL DEFAULT 0,          -- the hub's newest row, as it last said
    heard_at timestamptz                     -- when the centre last heard from the hub
);

CREATE TABLE history (
    site text NOT NULL,
    seq bigint NOT NULL,                     -- the row's number in the hub's log
    prev bigint NOT NULL,
    id text NOT NULL,                        -- the logged message's id
    kind text NOT NULL CHECK (kind IN ('ticket', 'command', 'rating', 'day')),
    at timestamptz NOT NULL,
    counter text,
    body jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    arrival bigint GENERATED ALWAYS AS IDENTITY,   -- the order rows were written in
    PRIMARY KEY (site, seq),
    UNIQUE (site, kind, id)
);

CREATE TABLE device_status (
    site text NOT NULL,
    role text NOT NULL,
    device text NOT NULL,
    state text NOT NULL,
    at timestamptz,
    health jsonb NOT NULL DEFAULT '{}',
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, role, device)
);
