-- The catalog: one row per Personalize resource, its describe fields in `spec` (JSON text).
CREATE SEQUENCE resource_id_seq START 1;

CREATE TABLE resources (
    id BIGINT NOT NULL,
    arn VARCHAR NOT NULL,
    resource_type VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    parent_arn VARCHAR,
    status VARCHAR,
    failure_reason VARCHAR,
    created_at DOUBLE NOT NULL,
    updated_at DOUBLE NOT NULL,
    spec VARCHAR NOT NULL
);

CREATE TABLE tags (
    resource_arn VARCHAR NOT NULL,
    tag_key VARCHAR NOT NULL,
    tag_value VARCHAR NOT NULL
);

-- External string ids to dense integer ids, per dataset group and entity ('USER' or 'ITEM').
CREATE TABLE id_map (
    dataset_group_id BIGINT NOT NULL,
    entity VARCHAR NOT NULL,
    external_id VARCHAR NOT NULL,
    dense_id INTEGER NOT NULL
);
