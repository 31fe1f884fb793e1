import express, { type Express } from 'express';
import type { Pool } from '../db/pool.js';
import { healthzRouter } from './routes/healthz.js';

export interface AppDeps {
  pool: Pool;
}

export function createApp({ pool }: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(healthzRouter(pool));
  return app;
}
