-- The durable queue of messages to send. A message is accepted only once its row is committed, and
-- it is handed to WhatsApp under wa_id, an id derived from its own id (src/messages/client-id.ts),
-- so after any crash the chat can be searched for it before a retry: never sent twice blindly.
-- seq is the queue order; id is the public id. Two requests with one Idempotency-Key of the same
-- instance find the first row (the unique key; NULL keys never collide), and request_hash tells
-- a true retry from a different request reusing the key. state is a VARCHAR, not an ENUM: the
-- states live in src/messages/outbound-state.ts, and a new one must not need an ALTER of a big table.
CREATE TABLE outbound_messages (
  seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  id CHAR(36) NOT NULL,
  instance_id VARCHAR(64) NOT NULL,
  idempotency_key VARCHAR(255) NULL,
  request_hash CHAR(64) NOT NULL,
  chat_id VARCHAR(128) NOT NULL,
  kind ENUM('text','media') NOT NULL,
  body MEDIUMTEXT NULL,
  reply_to VARCHAR(200) NULL,
  media_mimetype VARCHAR(127) NULL,
  media_filename VARCHAR(255) NULL,
  media_size INT UNSIGNED NULL,
  media_sha256 CHAR(64) NULL,
  state VARCHAR(16) NOT NULL DEFAULT 'queued',
  reason VARCHAR(255) NULL,
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  lookups INT UNSIGNED NOT NULL DEFAULT 0,
  wa_id VARCHAR(32) NOT NULL,
  wa_message_id VARCHAR(200) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  sending_at DATETIME(3) NULL,
  sent_at DATETIME(3) NULL,
  delivered_at DATETIME(3) NULL,
  read_at DATETIME(3) NULL,
  expires_at DATETIME(3) NOT NULL,
  PRIMARY KEY (seq),
  UNIQUE KEY outbound_messages_id (id),
  UNIQUE KEY outbound_messages_idempotency (instance_id, idempotency_key),
  -- the head of an instance's queue, its waiting count, a listing filtered by state
  KEY outbound_messages_queue (instance_id, state, seq),
  -- an instance's listing, newest first
  KEY outbound_messages_listing (instance_id, seq),
  -- receipts and lookups name the message by its WhatsApp id
  KEY outbound_messages_wa (instance_id, wa_message_id),
  CONSTRAINT outbound_messages_instance_fk FOREIGN KEY (instance_id) REFERENCES instances (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The bytes of a media message, in chunks of at most 1 MiB (src/db/blob-chunks.ts): a 16 MiB file
-- never needs a 16 MiB packet, and max_allowed_packet may be small on a user's server. Dropped
-- once the message no longer needs them.
CREATE TABLE outbound_media (
  message_seq BIGINT UNSIGNED NOT NULL,
  chunk_no INT UNSIGNED NOT NULL,
  data MEDIUMBLOB NOT NULL,
  PRIMARY KEY (message_seq, chunk_no),
  CONSTRAINT outbound_media_message_fk FOREIGN KEY (message_seq) REFERENCES outbound_messages (seq) ON DELETE CASCADE
) ENGINE=InnoDB;

-- Messages the instance received (and the phone's own sends), recorded before their webhook is
-- queued. WhatsApp Web may hand one message over more than once: the unique key makes the second
-- delivery a no-op, so a receiver gets each message once.
CREATE TABLE inbound_messages (
  seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  instance_id VARCHAR(64) NOT NULL,
  wa_message_id VARCHAR(200) NOT NULL,
  chat_id VARCHAR(128) NOT NULL,
  from_id VARCHAR(128) NOT NULL,
  to_id VARCHAR(128) NOT NULL,
  from_me TINYINT(1) NOT NULL,
  type VARCHAR(32) NOT NULL,
  body MEDIUMTEXT NULL,
  wa_timestamp BIGINT NULL,
  has_media TINYINT(1) NOT NULL DEFAULT 0,
  quoted_id VARCHAR(200) NULL,
  received_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (seq),
  UNIQUE KEY inbound_messages_wa (instance_id, wa_message_id),
  KEY inbound_messages_listing (instance_id, seq),
  CONSTRAINT inbound_messages_instance_fk FOREIGN KEY (instance_id) REFERENCES instances (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
