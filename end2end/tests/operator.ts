// What an operator does on the server itself, outside the web pages: the server binary's
// commands, and (tests only) a direct edit of the database.
import { execFileSync } from "node:child_process";

function e2eEnv() {
  const bin = process.env.MAST_E2E_SERVER_BIN;
  const url = process.env.MAST_E2E_DATABASE_URL;
  if (!bin || !url) throw new Error("MAST_E2E_SERVER_BIN and MAST_E2E_DATABASE_URL are set by `make test`");
  return { bin, url };
}

/** `server admin grant`, as an operator runs it on the server. */
export function grantAdmin(email: string) {
  const { bin, url } = e2eEnv();
  execFileSync(bin, ["admin", "grant", email], { env: { ...process.env, DATABASE_URL: url } });
}

/** One SQL statement on the server's database (sqlite3 or psql), for states no page can reach. */
export function runSql(sql: string) {
  const { url } = e2eEnv();
  if (url.startsWith("postgres")) {
    execFileSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-c", sql]);
  } else {
    execFileSync("sqlite3", [url.replace(/^sqlite:\/\//, "").replace(/\?.*$/, ""), sql]);
  }
}
