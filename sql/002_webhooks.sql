-- Lets several dispatchers share the outbox (two supervisors started by mistake, or a restart
-- while the old process still finishes): a dispatcher claims due rows by writing its own token
-- and a lease end. Others skip the row until the lease ends, so a crashed dispatcher's rows come
-- back by themselves, and a dispatcher whose lease ran out cannot mark a row it no longer owns.
ALTER TABLE webhook_outbox
  ADD COLUMN claim_token CHAR(36) NULL AFTER next_attempt_at,
  ADD COLUMN claimed_until DATETIME(3) NULL AFTER claim_token;
