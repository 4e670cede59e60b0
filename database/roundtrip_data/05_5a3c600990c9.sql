-- Rows loaded by `dbci roundtrip` once revision 05 is applied: every later revision's upgrade
-- then downgrade must leave them as they were (the type change in 09, the rename in 10, the
-- backfill in 12, the enum swap in 14).
INSERT INTO persistence_schema."CollectionCanonical" (id, created_at) VALUES
    ('00000000-0000-4000-8000-000000000001', '2024-05-01T12:00:00Z'),
    ('00000000-0000-4000-8000-000000000002', '2024-05-02T12:00:00Z');

INSERT INTO persistence_schema."CollectionVersion"
    (id, collection_id, owner, metadata, created_at) VALUES
    ('00000000-0000-4000-8000-000000000011', '00000000-0000-4000-8000-000000000001',
     'curator-a', '{"name": "Tabula Sapiens", "description": "All organs"}',
     '2024-05-01T12:00:00Z'),
    ('00000000-0000-4000-8000-000000000012', '00000000-0000-4000-8000-000000000002',
     'curator-b', '{"description": "no name yet"}', '2024-05-02T12:00:00Z');

INSERT INTO persistence_schema."DatasetCanonical" (id, collection_id) VALUES
    ('00000000-0000-4000-8000-000000000021', '00000000-0000-4000-8000-000000000001');

INSERT INTO persistence_schema."DatasetVersion"
    (id, dataset_id, collection_id, metadata, created_at) VALUES
    ('00000000-0000-4000-8000-000000000031', '00000000-0000-4000-8000-000000000021',
     '00000000-0000-4000-8000-000000000001', '{"title": "Lung"}', '2024-05-01T12:00:00Z');

INSERT INTO persistence_schema."DatasetArtifact" (id, type, uri, created_at) VALUES
    ('00000000-0000-4000-8000-000000000041', 'h5ad', 's3://corpora-data/lung/local.h5ad',
     '2024-05-01T12:00:00Z');

INSERT INTO persistence_schema."DatasetVersionToArtifact" (dataset_version_id, artifact_id) VALUES
    ('00000000-0000-4000-8000-000000000031', '00000000-0000-4000-8000-000000000041');
