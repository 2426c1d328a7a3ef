-- 0002_query_sets.sql - the implicit regime: query sets, and steps whose
-- batch losses were not computed.
--
-- query_sets: at most one per session (sessions of implicit models only):
--   the query rows as the model sees them (x: n rows of `width` float32,
--   the model's row width, already projected and standardized, zero-padded),
--   their query states (qs: n * qstate float32) and the session step they
--   are current at.  The step a set is current at moves with its session:
--   every commit of steps refines the set in the same transaction, so
--   step always equals the session's step (store.c checks it).  Deleting
--   the session deletes its set.
-- batches.losses: 1 when loss_before and loss_after are the step's batch
--   losses, 0 when they were not computed (an implicit session's losses
--   come from replaying its history, and past a configured cost they are
--   skipped: both are then stored as 0 and shown as null).  Rows written
--   before this migration are 1.
--
-- store.c applies this file inside one transaction together with
-- PRAGMA user_version = 2.  Released: never edited (0003_... for changes).

CREATE TABLE query_sets (
	session TEXT NOT NULL PRIMARY KEY
		REFERENCES sessions(id) ON DELETE CASCADE,
	n INTEGER NOT NULL CONSTRAINT query_set_n CHECK (n >= 1),
	width INTEGER NOT NULL CONSTRAINT query_set_width CHECK (width >= 1),
	qstate INTEGER NOT NULL
		CONSTRAINT query_set_qstate CHECK (qstate >= 1),
	step INTEGER NOT NULL CONSTRAINT query_set_step CHECK (step >= 0),
	x BLOB NOT NULL
		CONSTRAINT query_set_x_shape CHECK (length(x) = n * width * 4),
	qs BLOB NOT NULL
		CONSTRAINT query_set_qs_shape CHECK (length(qs) = n * qstate * 4),
	created REAL NOT NULL,
	updated REAL NOT NULL
) STRICT;

ALTER TABLE batches ADD COLUMN losses INTEGER NOT NULL DEFAULT 1
	CONSTRAINT batch_losses CHECK (losses IN (0, 1));
