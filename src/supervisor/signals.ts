/**
 * The signals that start a graceful shutdown, and why the others are not here:
 * - SIGINT: Ctrl+C in a terminal, and what `pm2 stop` sends first.
 * - SIGTERM: systemd, docker stop, kill.
 * - SIGBREAK: Ctrl+Break on Windows; harmless to listen for elsewhere.
 * Not handled: SIGHUP (left to its default so a closed terminal still ends a foreground run the
 * usual way; under PM2 there is no terminal), SIGUSR1 (Node's inspector), SIGUSR2 (often used by
 * tooling for reloads), SIGKILL/SIGSTOP (cannot be caught: the next boot reaps what they leave).
 */
export const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGBREAK'] as const;

/** The message PM2 sends over IPC instead of a signal on Windows and with `shutdown_with_message`. */
export const PM2_SHUTDOWN_MESSAGE = 'shutdown';
