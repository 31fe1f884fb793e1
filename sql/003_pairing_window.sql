-- Pairing-code requests are limited per instance per window; the window starts with its first request.
ALTER TABLE instances ADD COLUMN pairing_window_started_at DATETIME(3) NULL AFTER pairing_code_attempts;
