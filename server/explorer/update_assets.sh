#!/usr/bin/env bash
# Rebuilds the vendored GraphiQL assets in ./assets from the npm registry.
#
# Only maintainers need this (it needs node/npm); the Go build just embeds the
# committed files. Bump the versions below, run it, check the page renders
# (see the package doc), and update assets/LICENSES.md if anything changed.
#
# graphiql 3.x publishes its UMD bundle as "graphiql.min.js" but the file is an
# unminified webpack development build (~3.5 MB), so it is minified here with
# esbuild (license comments kept at the end of the file). React's UMD
# production builds are copied verbatim.
set -euo pipefail

GRAPHIQL_VERSION=3.8.3
REACT_VERSION=18.3.1
ESBUILD_VERSION=0.24.2

here="$(cd "$(dirname "$0")" && pwd)"
out="$here/assets"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent \
	"graphiql@$GRAPHIQL_VERSION" \
	"react@$REACT_VERSION" \
	"react-dom@$REACT_VERSION" \
	"esbuild@$ESBUILD_VERSION"

esbuild=node_modules/.bin/esbuild
"$esbuild" node_modules/graphiql/graphiql.min.js --minify --legal-comments=eof \
	--log-level=warning --outfile="$out/graphiql.min.js"
"$esbuild" node_modules/graphiql/graphiql.min.css --minify --legal-comments=eof \
	--log-level=warning --outfile="$out/graphiql.min.css"
cp node_modules/react/umd/react.production.min.js "$out/"
cp node_modules/react-dom/umd/react-dom.production.min.js "$out/"

ls -l "$out"
