-- The instances wa-fleet supervises, what each should do (enabled) and what it does (connection_status).
CREATE TABLE instances (
  id VARCHAR(64) NOT NULL,
  enabled TINYINT(1) NOT NULL DEFAULT 1,
  connection_status ENUM('INITIALIZING','LOADING','QR_REQUIRED','CONNECTED','DISCONNECTED','RECONNECTING','AUTH_FAILURE')
    NOT NULL DEFAULT 'DISCONNECTED',
  status_reason VARCHAR(255) NULL,
  status_changed_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  health ENUM('healthy','disconnected','degraded','stuck','zombie','corrupted','not_found')
    NOT NULL DEFAULT 'disconnected',
  health_reason VARCHAR(255) NULL,
  reconnect_attempts INT UNSIGNED NOT NULL DEFAULT 0,
  last_connected_at DATETIME(3) NULL,
  last_error TEXT NULL,
  wid VARCHAR(64) NULL,
  push_name VARCHAR(255) NULL,
  webhook_url VARCHAR(2048) NULL,
  pairing_code VARCHAR(16) NULL,
  pairing_code_expires_at DATETIME(3) NULL,
  pairing_code_attempts INT UNSIGNED NOT NULL DEFAULT 0,
  owner_node VARCHAR(255) NULL,
  lease_until DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY instances_enabled (enabled, connection_status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Append-only audit log: every transition and action. seq is contiguous per instance, so a gap
-- means a lost event. No foreign key: the log outlives a deleted instance.
CREATE TABLE instance_events (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  instance_id VARCHAR(64) NOT NULL,
  seq INT UNSIGNED NOT NULL,
  occurred_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  category VARCHAR(16) NOT NULL,
  type VARCHAR(64) NOT NULL,
  from_status VARCHAR(16) NULL,
  to_status VARCHAR(16) NULL,
  reason VARCHAR(255) NULL,
  severity ENUM('HIGH','MEDIUM','LOW') NULL,
  data JSON NULL,
  PRIMARY KEY (id),
  UNIQUE KEY instance_events_seq (instance_id, seq),
  KEY instance_events_time (occurred_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The durable queue of notifications: written in the same transaction as the change that
-- caused them, delivered (and retried) afterwards.
CREATE TABLE webhook_outbox (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  event_id CHAR(36) NOT NULL,
  instance_id VARCHAR(64) NULL,
  event VARCHAR(64) NOT NULL,
  severity ENUM('HIGH','MEDIUM','LOW') NOT NULL,
  url VARCHAR(2048) NOT NULL,
  payload JSON NOT NULL,
  status ENUM('pending','delivered','dead') NOT NULL DEFAULT 'pending',
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  next_attempt_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  last_error VARCHAR(1024) NULL,
  last_status_code SMALLINT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  delivered_at DATETIME(3) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY webhook_outbox_event_url (event_id, url(255)),
  KEY webhook_outbox_due (status, next_attempt_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
