// Runs SQL statements against a MySQL/MariaDB server with mysql2, for scripts/ensure-mysql.sh on
// machines that have no mariadb/mysql client. Plain .mjs (not TypeScript) so it runs with bare node
// before anything is built.
//
// Usage: MYSQL_QUERY_URL=mysql://user:pass@host:port/db node scripts/lib/mysql-query.mjs [SQL...]
// The URL comes through the environment so the password never shows in `ps`. It connects without
// selecting the URL's database (the caller may be about to create it), runs each statement in turn
// and exits 0, or prints the driver's error on stderr and exits 1. No statement = login check only.
import mysql from 'mysql2/promise';

const CONNECT_TIMEOUT_MS = 5_000;

function connectionOptions(text) {
  const url = new URL(text);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    connectTimeout: CONNECT_TIMEOUT_MS,
  };
}

async function main() {
  const url = process.env.MYSQL_QUERY_URL;
  if (!url) throw new Error('MYSQL_QUERY_URL is not set');
  const connection = await mysql.createConnection(connectionOptions(url));
  try {
    for (const sql of process.argv.slice(2)) await connection.query(sql);
  } finally {
    connection.destroy();
  }
}

main().catch((error) => {
  const code = error && typeof error === 'object' && 'code' in error ? `${error.code}: ` : '';
  process.stderr.write(`${code}${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
