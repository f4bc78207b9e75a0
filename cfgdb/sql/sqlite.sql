-- Engage Configuration Database: the subset engage-cfgdb reads, for SQLite.
-- Public facts and our own design are told apart table by table in cfgdb/SCHEMA.md.
-- Like the real Config DB there are no foreign keys (Configuration Server enforces integrity),
-- and a DBID is unique only within its object type.

CREATE TABLE cfg_tenant (
    dbid                INTEGER      NOT NULL PRIMARY KEY,
    name                TEXT NOT NULL
);

CREATE TABLE cfg_switch (
    dbid                INTEGER      NOT NULL PRIMARY KEY,
    tenant_dbid         INTEGER      NOT NULL,
    phys_switch_dbid    INTEGER,
    type                INTEGER,
    name                TEXT NOT NULL,
    link_type           INTEGER,
    state               INTEGER      NOT NULL DEFAULT 1
);

CREATE TABLE cfg_person (
    dbid                INTEGER      NOT NULL PRIMARY KEY,
    tenant_dbid         INTEGER      NOT NULL,
    first_name          TEXT,
    last_name           TEXT,
    user_name           TEXT NOT NULL,
    employee_id         TEXT,
    email_address       TEXT,
    is_agent            INTEGER      NOT NULL DEFAULT 1,
    state               INTEGER      NOT NULL DEFAULT 1,
    capacity_dbid       INTEGER
);

CREATE TABLE cfg_skill (
    dbid                INTEGER      NOT NULL PRIMARY KEY,
    tenant_dbid         INTEGER      NOT NULL,
    name                TEXT NOT NULL,
    state               INTEGER      NOT NULL DEFAULT 1
);

CREATE TABLE cfg_skill_level (
    person_dbid         INTEGER      NOT NULL,
    skill_dbid          INTEGER      NOT NULL,
    level_              INTEGER      NOT NULL,
    PRIMARY KEY (person_dbid, skill_dbid)
);

CREATE TABLE cfg_agent_login (
    dbid                INTEGER      NOT NULL PRIMARY KEY,
    tenant_dbid         INTEGER      NOT NULL,
    switch_dbid         INTEGER      NOT NULL,
    login_code          TEXT NOT NULL,
    state               INTEGER      NOT NULL DEFAULT 1
);

CREATE TABLE cfg_login_info (
    person_dbid         INTEGER      NOT NULL,
    agent_login_dbid    INTEGER      NOT NULL,
    wrapup_time         INTEGER,
    PRIMARY KEY (person_dbid, agent_login_dbid)
);

CREATE TABLE cfg_group (
    dbid                INTEGER      NOT NULL PRIMARY KEY,
    tenant_dbid         INTEGER      NOT NULL,
    name                TEXT NOT NULL,
    group_type          INTEGER      NOT NULL DEFAULT 1,
    state               INTEGER      NOT NULL DEFAULT 1
);

CREATE TABLE cfg_agent_group (
    group_dbid          INTEGER      NOT NULL,
    agent_dbid          INTEGER      NOT NULL,
    PRIMARY KEY (group_dbid, agent_dbid)
);

CREATE TABLE cfg_dn (
    dbid                INTEGER      NOT NULL PRIMARY KEY,
    switch_dbid         INTEGER      NOT NULL,
    type                INTEGER      NOT NULL,
    number_             TEXT NOT NULL,
    state               INTEGER      NOT NULL DEFAULT 1
);

CREATE TABLE cfg_flex_prop (
    dbid                INTEGER      NOT NULL PRIMARY KEY,
    object_dbid         INTEGER      NOT NULL,
    object_type         INTEGER      NOT NULL,
    parent_dbid         INTEGER,
    prop_type           INTEGER,
    prop_name           TEXT NOT NULL,
    prop_value          TEXT
);
CREATE INDEX cfg_flex_prop_owner ON cfg_flex_prop (object_type, object_dbid);

-- Our design from here on (not public): see SCHEMA.md.

CREATE TABLE cfg_transaction (
    dbid                INTEGER      NOT NULL PRIMARY KEY,
    tenant_dbid         INTEGER      NOT NULL,
    name                TEXT NOT NULL,
    state               INTEGER      NOT NULL DEFAULT 1
);

CREATE TABLE cfg_folder (
    dbid                INTEGER      NOT NULL PRIMARY KEY,
    tenant_dbid         INTEGER,
    name                TEXT NOT NULL,
    type                INTEGER      NOT NULL,
    parent_type         INTEGER,
    parent_dbid         INTEGER,
    state               INTEGER      NOT NULL DEFAULT 1
);

CREATE TABLE cfg_folder_object (
    folder_dbid         INTEGER      NOT NULL,
    object_type         INTEGER      NOT NULL,
    object_dbid         INTEGER      NOT NULL,
    PRIMARY KEY (object_type, object_dbid)
);

CREATE TABLE cfg_enumerator (
    dbid                INTEGER      NOT NULL PRIMARY KEY,
    tenant_dbid         INTEGER      NOT NULL,
    name                TEXT NOT NULL,
    display_name        TEXT,
    type                INTEGER      NOT NULL,
    state               INTEGER      NOT NULL DEFAULT 1
);

CREATE TABLE cfg_enum_value (
    dbid                INTEGER      NOT NULL PRIMARY KEY,
    tenant_dbid         INTEGER      NOT NULL,
    enumerator_dbid     INTEGER      NOT NULL,
    name                TEXT NOT NULL,
    display_name        TEXT,
    is_default          INTEGER      NOT NULL DEFAULT 1,
    state               INTEGER      NOT NULL DEFAULT 1
);

CREATE TABLE cfg_hist_log (
    id                  INTEGER      NOT NULL PRIMARY KEY,
    object_type         INTEGER      NOT NULL,
    object_dbid         INTEGER      NOT NULL,
    operation           INTEGER      NOT NULL,
    change_time         INTEGER      NOT NULL
);
CREATE INDEX cfg_hist_log_object ON cfg_hist_log (object_type, object_dbid);
