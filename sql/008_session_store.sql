-- SESSION_STORE=mysql: the last backup of each instance's WhatsApp session, so that a worker whose
-- profile folder is gone (another node, a wiped disk) restores it without a QR. The backup is the
-- zip whatsapp-web.js's RemoteAuth makes of the profile (deflated IndexedDB and Local Storage),
-- stored as is in chunks of at most 1 MiB (src/db/blob-chunks.ts). One row per instance: a new
-- backup replaces the previous one in one transaction with its chunks, so a reader sees the old
-- backup or the new one, never a mix. sha256 is checked on every restore. Deleting the instance
-- deletes its backup; logout deletes it explicitly.
CREATE TABLE session_backups (
  instance_id VARCHAR(64) NOT NULL,
  size INT UNSIGNED NOT NULL,
  sha256 CHAR(64) NOT NULL,
  saved_at DATETIME(3) NOT NULL,
  -- the host name of the supervisor that stored it (diagnostics; no lease meaning)
  saved_by VARCHAR(255) NOT NULL,
  saves INT UNSIGNED NOT NULL DEFAULT 1,
  PRIMARY KEY (instance_id),
  CONSTRAINT session_backups_instance_fk FOREIGN KEY (instance_id) REFERENCES instances (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE session_backup_chunks (
  instance_id VARCHAR(64) NOT NULL,
  chunk_no INT UNSIGNED NOT NULL,
  data MEDIUMBLOB NOT NULL,
  PRIMARY KEY (instance_id, chunk_no),
  CONSTRAINT session_backup_chunks_backup_fk FOREIGN KEY (instance_id) REFERENCES session_backups (instance_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
