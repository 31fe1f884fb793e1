# Sourced by the quick start and the test entry: installs the locked dependencies when they are
# missing or older than the lockfile, with `npm ci` (exactly the lockfile, or a clear refusal).
# tests/unit/build/lockfile.test.ts keeps the lockfile one npm ci accepts on any platform.
# Puppeteer must never download a browser: Debian's Chromium (scripts/ensure-chromium.sh) is used instead.
export PUPPETEER_SKIP_DOWNLOAD=1
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "» installing dependencies (npm ci from package-lock.json)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
