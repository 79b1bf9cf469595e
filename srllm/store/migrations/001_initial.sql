-- 001: the tidy tables of DESIGN.md. "grp" holds the demographic group ("group" is reserved).
CREATE TABLE runs (
    run_id          VARCHAR PRIMARY KEY,
    run_name        VARCHAR NOT NULL UNIQUE,
    created_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    status          VARCHAR NOT NULL,          -- running | finished | failed | interrupted
    prompt_source   VARCHAR NOT NULL,
    prompt_set_hash VARCHAR NOT NULL,
    n_prompts       INTEGER NOT NULL,
    config          JSON NOT NULL,              -- RunConfig as JSON
    models          JSON NOT NULL,              -- [{name, fingerprint}]
    git_commit      VARCHAR,
    versions        JSON,                       -- library versions
    seed            INTEGER,
    note            VARCHAR
);
CREATE TABLE prompts (
    run_id      VARCHAR NOT NULL,
    prompt_id   VARCHAR NOT NULL,
    template_id VARCHAR NOT NULL,
    axis        VARCHAR,
    grp         VARCHAR NOT NULL,
    name        VARCHAR,
    kind        VARCHAR,
    prompt      VARCHAR NOT NULL,
    PRIMARY KEY (run_id, prompt_id)
);
CREATE TABLE generations (
    generation_id VARCHAR PRIMARY KEY,
    run_id        VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    prompt_id     VARCHAR NOT NULL,
    sample_idx    INTEGER NOT NULL,
    response      VARCHAR,
    n_tokens      INTEGER,
    seconds       DOUBLE,
    error         VARCHAR,
    created_at    TIMESTAMP NOT NULL,
    UNIQUE (run_id, model, prompt_id, sample_idx)
);
CREATE TABLE scores (
    generation_id VARCHAR NOT NULL,
    scorer        VARCHAR NOT NULL,
    version       VARCHAR NOT NULL,
    value         DOUBLE,
    label         VARCHAR,
    created_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (generation_id, scorer, version)
);
CREATE TABLE labels (
    generation_id VARCHAR NOT NULL,
    annotator     VARCHAR NOT NULL,
    category      VARCHAR NOT NULL,
    note          VARCHAR,
    created_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (generation_id, annotator)
);
CREATE INDEX generations_run ON generations (run_id, model);
