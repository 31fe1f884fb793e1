-- CLUSTER=on: several supervisors (nodes) share this database. Each instance is leased to at most
-- one node: owner_node holds it until lease_until (a released lease keeps owner_node, naming the
-- last holder, with lease_until NULL) (the database's clock, NOW(3), never a node's),
-- and every claim raises lease_epoch. A node's own writes for an instance (status, events,
-- webhooks, messages) check, in their transaction, that owner_node and lease_epoch are still the
-- ones it holds (src/supervisor/journal.ts): a node that lost the lease changes nothing.
-- With CLUSTER=off the columns stay NULL/0 and nothing reads them.
ALTER TABLE instances
  ADD COLUMN owner_node VARCHAR(64) NULL,
  ADD COLUMN lease_until DATETIME(3) NULL,
  ADD COLUMN lease_epoch BIGINT UNSIGNED NOT NULL DEFAULT 0,
  ADD INDEX idx_instances_owner (owner_node, lease_until);

-- The node that recorded each audit event (NODE_ID; rows from before this migration have none).
ALTER TABLE instance_events ADD COLUMN node VARCHAR(64) NULL;

-- One row per node that ever ran. heartbeat_at is renewed with its leases; a node whose heartbeat
-- is older than its lease TTL is dead, and the first survivor to see it marks it `down` (that one
-- announces node.down). incarnation is the running process's random token: a second process
-- started with the same NODE_ID takes the row over and the first one stops (it sees the token change).
CREATE TABLE nodes (
  id VARCHAR(64) NOT NULL,
  url VARCHAR(255) NOT NULL,
  incarnation CHAR(32) NOT NULL,
  state ENUM('up', 'draining', 'down', 'stopped') NOT NULL,
  max_instances INT UNSIGNED NOT NULL,
  lease_ttl_ms INT UNSIGNED NOT NULL,
  version VARCHAR(64) NOT NULL,
  started_at DATETIME(3) NOT NULL,
  heartbeat_at DATETIME(3) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
