-- +goose Up
-- Background jobs. A worker claims a job with FOR UPDATE SKIP LOCKED and holds a lease on it
-- (locked_by, locked_until) that it renews with every batch; a job whose lease ran out (its
-- worker died) is claimed again by any instance and goes on where it stopped.
CREATE TABLE jobs (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('DELETE_ALL_CONTACTS')),
    status       text NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    total        integer NOT NULL DEFAULT 0,
    processed    integer NOT NULL DEFAULT 0,
    error        text,
    created_by   uuid REFERENCES members ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at   timestamptz,
    finished_at  timestamptz,
    locked_by    text,
    locked_until timestamptz,
    attempts     integer NOT NULL DEFAULT 0
);
-- One delete-all job at a time per workspace.
CREATE UNIQUE INDEX jobs_one_delete_all ON jobs (workspace_id)
    WHERE kind = 'DELETE_ALL_CONTACTS' AND status IN ('QUEUED', 'RUNNING');
-- The jobs workers look for.
CREATE INDEX jobs_pending ON jobs (created_at, id) WHERE status IN ('QUEUED', 'RUNNING');

-- What a job still has to process: for DELETE_ALL_CONTACTS, the ids of the contacts the
-- workspace had when the job was created (contacts created later are not deleted). A batch
-- removes its items in the transaction that processes them.
CREATE TABLE job_items (
    job_id  uuid NOT NULL REFERENCES jobs ON DELETE CASCADE,
    item_id uuid NOT NULL,
    PRIMARY KEY (job_id, item_id)
);

-- +goose Down
DROP TABLE job_items, jobs;
