-- planner workspace schema, version 1: the same tables as a GeoPackage workspace
-- (planner/io/store.py), plus a one-current-version constraint and the writer table.
-- Runs with search_path set to the workspace schema (planner/io/migrations/__init__.py).

CREATE TABLE planner_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE planner_layers (
    kind        text    NOT NULL,
    name        text    NOT NULL,
    version     integer NOT NULL,
    table_name  text    NOT NULL UNIQUE,
    created_at  text    NOT NULL,
    "user"      text    NOT NULL,
    n_rows      bigint  NOT NULL,
    is_current  boolean NOT NULL DEFAULT false,
    source_file text,
    sha256      text,
    meta        text    NOT NULL DEFAULT '{}',
    PRIMARY KEY (kind, name, version)
);
-- at most one current version per layer
CREATE UNIQUE INDEX planner_layers_one_current ON planner_layers (kind, name) WHERE is_current;

CREATE TABLE planner_docs (
    kind       text    NOT NULL,
    name       text    NOT NULL,
    version    integer NOT NULL,
    created_at text    NOT NULL,
    "user"     text    NOT NULL,
    sha256     text    NOT NULL,
    payload    text    NOT NULL,
    PRIMARY KEY (kind, name, version)
);

CREATE TABLE planner_audit (
    id          bigserial PRIMARY KEY,
    ts          text NOT NULL,
    "user"      text NOT NULL,
    action      text NOT NULL,
    kind        text,
    name        text,
    version     integer,
    source_file text,
    sha256      text,
    n_rows      bigint,
    detail      text
);

-- who holds the workspace's writer lock (one row per server process holding it; see PostgisStore.write_lock)
CREATE TABLE planner_writer (
    pid   integer PRIMARY KEY,
    info  text NOT NULL
);
