-- Per-instance API keys: a key sees and acts on its own instance only. Only the SHA-256 of the
-- key is kept (a key is 32 random bytes: no salt or slow hash needed), looked up by its unique
-- index. Removing an instance removes its keys (the journal deletes them in the removal's
-- transaction; the foreign key makes sure nothing is left behind).
CREATE TABLE api_keys (
  id VARCHAR(32) NOT NULL,
  instance_id VARCHAR(64) NOT NULL,
  key_hash CHAR(64) NOT NULL,
  label VARCHAR(100) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  last_used_at DATETIME(3) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY api_keys_hash (key_hash),
  KEY api_keys_instance (instance_id),
  CONSTRAINT api_keys_instance_fk FOREIGN KEY (instance_id) REFERENCES instances (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
