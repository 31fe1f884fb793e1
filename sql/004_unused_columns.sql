-- Columns nothing reads: the pairing code itself (the API hands it to the operator once; keeping
-- it only kept a secret at rest) and its expiry, and the lease columns of the first schema (the
-- multi-node work adds the lease it needs, with its fencing epoch, when it lands).
ALTER TABLE instances
  DROP COLUMN pairing_code,
  DROP COLUMN pairing_code_expires_at,
  DROP COLUMN owner_node,
  DROP COLUMN lease_until;
