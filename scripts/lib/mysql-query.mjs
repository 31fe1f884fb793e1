// Runs SQL statements against a MySQL/MariaDB server with mysql2, for scripts/ensure-mysql.sh on
// machines that have no mariadb/mysql client. Plain .mjs (not TypeScript) so it runs with bare node
// before anything is built.
//
// Usage: MYSQL_QUERY_URL=mysql://user:pass@host:port/db node scripts/lib/mysql-query.mjs [SQL...]
// The URL comes through the environment so the password never shows in `ps`. It connects without
// selecting the URL's database (the caller may be about to create it), runs each statement in turn
// and exits 0, or prints the driver's error on stderr and exits 1. No statement = login check only.
//
// MYSQL_QUERY_SOCKET=/path/to.sock connects through that Unix socket instead of the URL's host and
// port (the URL then only names the user). MYSQL_QUERY_STDIN=1 reads the statements from stdin, as
// one script of `;`-separated statements, so SQL holding a password never shows in `ps` either.
// Rows of results are printed on stdout, one a line, columns separated by tabs.
import mysql from 'mysql2/promise';

const CONNECT_TIMEOUT_MS = 5_000;

function connectionOptions(text, socketPath) {
  const url = new URL(text);
  const login = {
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    connectTimeout: CONNECT_TIMEOUT_MS,
    multipleStatements: true,
  };
  if (socketPath) return { ...login, socketPath };
  return { ...login, host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port ? Number(url.port) : 3306 };
}

async function readStdin() {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text;
}

function printRows(result) {
  if (!Array.isArray(result)) return;
  // A multi-statement script gives one result per statement.
  if (result.length > 0 && Array.isArray(result[0])) return result.forEach(printRows);
  for (const row of result) {
    if (row && typeof row === 'object' && !('affectedRows' in row)) {
      process.stdout.write(`${Object.values(row).map((v) => (v === null ? 'NULL' : String(v))).join('\t')}\n`);
    }
  }
}

async function main() {
  const url = process.env.MYSQL_QUERY_URL;
  if (!url) throw new Error('MYSQL_QUERY_URL is not set');
  const statements = process.env.MYSQL_QUERY_STDIN === '1' ? [await readStdin()] : process.argv.slice(2);
  const connection = await mysql.createConnection(connectionOptions(url, process.env.MYSQL_QUERY_SOCKET));
  try {
    for (const sql of statements) {
      if (!sql.trim()) continue;
      const [result] = await connection.query(sql);
      printRows(result);
    }
  } finally {
    connection.destroy();
  }
}

main().catch((error) => {
  const code = error && typeof error === 'object' && 'code' in error ? `${error.code}: ` : '';
  process.stderr.write(`${code}${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
