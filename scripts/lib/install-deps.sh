# Sourced by the quick start and the test entry: installs the locked dependencies when they are
# missing or older than the lockfile. Puppeteer must never download a browser: Debian's Chromium
# (scripts/ensure-chromium.sh) is used instead.
export PUPPETEER_SKIP_DOWNLOAD=1
# `npm install` rather than `npm ci`: npm 11.19 writes lockfiles without the other platforms'
# optional packages (rollup's, esbuild's) and then refuses them in `npm ci` as "out of sync".
# With the lockfile present, `npm install` installs exactly the locked versions.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "» installing dependencies (npm install from package-lock.json)" >&2
  npm install --no-audit --no-fund --loglevel=error >&2
fi
