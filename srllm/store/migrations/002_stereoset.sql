-- 002: StereoSet intrasentence figures (LMS, SS, ICAT) per evaluation, model and domain.
-- One evaluation is a run_label; "overall" is a domain row. The *_ci_* bounds are srllm's
-- bootstrap extra (NULL when none was asked for). fingerprint holds the model (adapter hash),
-- the data file (path, SHA-256), the start token, library versions and the bootstrap settings.
CREATE TABLE stereoset_results (
    run_label    VARCHAR NOT NULL,
    model        VARCHAR NOT NULL,
    domain       VARCHAR NOT NULL,
    n_items      INTEGER NOT NULL,
    n_terms      INTEGER NOT NULL,
    lms          DOUBLE NOT NULL,
    ss           DOUBLE NOT NULL,
    icat         DOUBLE NOT NULL,
    lms_ci_low   DOUBLE,
    lms_ci_high  DOUBLE,
    ss_ci_low    DOUBLE,
    ss_ci_high   DOUBLE,
    icat_ci_low  DOUBLE,
    icat_ci_high DOUBLE,
    data_sha256  VARCHAR,
    git_commit   VARCHAR,
    seconds      DOUBLE,
    created_at   TIMESTAMP NOT NULL,
    fingerprint  JSON,
    PRIMARY KEY (run_label, model, domain)
);
