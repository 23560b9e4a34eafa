-- planner workspace schema, version 2: the office's accounts (issue 14). The same table is created in a
-- GeoPackage workspace when its first account is added (planner/io/store.py).

CREATE TABLE planner_users (
    username      text    PRIMARY KEY,
    display_name  text    NOT NULL DEFAULT '',
    role          text    NOT NULL,
    password_hash text    NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    text    NOT NULL,
    updated_at    text    NOT NULL
);
