-- A webhook secret per instance (signs what goes to its own webhook_url; NULL for URLs set before
-- this migration, which stay signed with WEBHOOK_SECRET until the secret is rotated), and who set
-- the URL: one set with an instance's own key is checked against private addresses again when
-- each delivery connects.
ALTER TABLE instances
  ADD COLUMN webhook_url_scope ENUM('admin','instance') NOT NULL DEFAULT 'admin' AFTER webhook_url,
  ADD COLUMN webhook_secret VARCHAR(128) NULL AFTER webhook_url_scope;
-- Which secret signs an outbox row at send time (global: WEBHOOK_SECRET; instance: the instance's
-- current webhook_secret), whether its URL is checked at connect time, and the secret pinned for
-- rows still pending when their instance's URL changed or the instance was removed.
ALTER TABLE webhook_outbox
  ADD COLUMN signer ENUM('global','instance') NOT NULL DEFAULT 'global' AFTER url,
  ADD COLUMN url_scope ENUM('admin','instance') NOT NULL DEFAULT 'admin' AFTER signer,
  ADD COLUMN pinned_secret VARCHAR(128) NULL AFTER url_scope;
