// PM2: one app, the supervisor. Workers are its child processes (their memory is watched by the
// supervisor's memory loop, not by PM2). `npx pm2 start ecosystem.config.cjs --env production`.
module.exports = {
  apps: [
    {
      name: 'wa-fleet',
      script: 'dist/src/main.js',
      cwd: __dirname,
      exec_mode: 'fork',
      instances: 1,
      // The supervisor sends 'ready' once the API listens; PM2 marks it online only then.
      wait_ready: true,
      listen_timeout: 60000,
      // Above SHUTDOWN_TIMEOUT_MS (25 s by default) so the graceful path always finishes first.
      kill_timeout: 30000,
      // Applies to the supervisor process alone.
      max_memory_restart: '512M',
      autorestart: true,
      max_restarts: 50,
      exp_backoff_restart_delay: 1000,
      out_file: './data/logs/wa-fleet.out.log',
      error_file: './data/logs/wa-fleet.err.log',
      merge_logs: true,
      time: false,
      env: {
        NODE_ENV: 'development',
      },
      env_production: {
        NODE_ENV: 'production',
        LOG_FORMAT: 'json',
      },
    },
  ],
};
