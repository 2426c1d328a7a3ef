-- 0001_init.sql - the first schema of the amortd store.
--
-- sessions: one row per adaptation session: the model it runs on, its
--   counters and its current state (float32 little-endian, 4 bytes each).
-- batches: one row per refinement step applied to a session, with the
--   mini-batch's rows (x: rows*dim float32, y: rows float32 or NULL for
--   generative models), the batch loss before and after the step, and the
--   request's seq (-1 when the request carried none).
--
-- store.c applies this file inside one transaction together with
-- PRAGMA user_version = 1.  A released migration is never edited: changes
-- go into a new file (0002_...).  Every table is STRICT; the CHECKs keep
-- out data no code path may write (negative counters, blobs whose length
-- does not match their shape, names longer than the structs that hold
-- them), so a bug shows up as a failed write instead of a bad row.
-- Lengths of names are counted in bytes (CAST AS BLOB): the C structs
-- hold bytes.

CREATE TABLE sessions (
	id TEXT NOT NULL PRIMARY KEY
		CONSTRAINT session_id_format
		CHECK (length(CAST(id AS BLOB)) BETWEEN 1 AND 32
		       AND id NOT GLOB '*[^0-9A-Za-z_-]*'),
	model TEXT NOT NULL
		CONSTRAINT session_model_length
		CHECK (length(CAST(model AS BLOB)) BETWEEN 1 AND 63),
	model_checksum TEXT NOT NULL
		CONSTRAINT session_checksum_length
		CHECK (length(CAST(model_checksum AS BLOB)) <= 8),
	regime TEXT NOT NULL
		CONSTRAINT session_regime_length
		CHECK (length(CAST(regime AS BLOB)) BETWEEN 1 AND 15),
	step INTEGER NOT NULL CONSTRAINT session_step CHECK (step >= 0),
	rows INTEGER NOT NULL CONSTRAINT session_rows CHECK (rows >= 0),
	next_seq INTEGER NOT NULL
		CONSTRAINT session_next_seq CHECK (next_seq >= 0),
	dim INTEGER NOT NULL CONSTRAINT session_dim CHECK (dim >= 0),
	state BLOB NOT NULL
		CONSTRAINT session_state_floats CHECK (length(state) % 4 = 0),
	options TEXT
		CONSTRAINT session_options_json
		CHECK (options IS NULL OR json_valid(options)),
	created REAL NOT NULL,
	updated REAL NOT NULL
) STRICT;

CREATE TABLE batches (
	session TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	step INTEGER NOT NULL CONSTRAINT batch_step CHECK (step >= 1),
	seq INTEGER NOT NULL CONSTRAINT batch_seq CHECK (seq >= -1),
	rows INTEGER NOT NULL CONSTRAINT batch_rows CHECK (rows >= 1),
	dim INTEGER NOT NULL CONSTRAINT batch_dim CHECK (dim >= 1),
	x BLOB NOT NULL
		CONSTRAINT batch_x_shape CHECK (length(x) = rows * dim * 4),
	y BLOB
		CONSTRAINT batch_y_shape
		CHECK (y IS NULL OR length(y) = rows * 4),
	loss_before REAL NOT NULL,
	loss_after REAL NOT NULL,
	time REAL NOT NULL,
	PRIMARY KEY (session, step)
) STRICT;

-- A retried request is recognised by its seq: store_seq_result looks up
-- the steps one seq applied.
CREATE INDEX batches_session_seq ON batches (session, seq);
