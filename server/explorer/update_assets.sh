#!/usr/bin/env bash
# Rebuilds the explorer's bundles in ./assets from src/explorer.js and the npm registry.
#
# Only maintainers need this (it needs node/npm); the Go build just embeds the committed
# files. Bump the versions below, run it, run the explorer's browser test
# (go test ./server/explorer/browsertest/), and update assets/LICENSES.md if anything changed.
#
# GraphiQL 5 ships ES modules only (no UMD bundle) and edits with Monaco, whose language
# services run in web workers. esbuild bundles src/explorer.js with GraphiQL, React and the
# graphql-ws client into one classic script (explorer.bundle.js, its styles with the fonts
# inlined as data: URLs in explorer.bundle.css), and each Monaco worker into a script of its
# own: the page loads nothing from another host.
set -euo pipefail

GRAPHIQL_VERSION=5.4.0
TOOLKIT_VERSION=0.12.1
GRAPHQL_WS_VERSION=6.4.2
GRAPHQL_VERSION=16.15.0
REACT_VERSION=19.3.1
ESBUILD_VERSION=0.28.2

here="$(cd "$(dirname "$0")" && pwd)"
out="$here/assets"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent \
	"graphiql@$GRAPHIQL_VERSION" "@graphiql/toolkit@$TOOLKIT_VERSION" "graphql-ws@$GRAPHQL_WS_VERSION" \
	"graphql@$GRAPHQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_VERSION" "esbuild@$ESBUILD_VERSION"
cp "$here/src/explorer.js" entry.js

esbuild=node_modules/.bin/esbuild
common=(--bundle --minify --format=iife --target=es2020 --legal-comments=eof --log-level=warning
	"--define:process.env.NODE_ENV=\"production\"")
"$esbuild" entry.js "${common[@]}" --loader:.ttf=dataurl --loader:.woff=dataurl --loader:.woff2=dataurl \
	--outfile="$out/explorer.bundle.js"
"$esbuild" node_modules/monaco-editor/esm/vs/editor/editor.worker.js "${common[@]}" --outfile="$out/editor.worker.js"
"$esbuild" node_modules/monaco-editor/esm/vs/language/json/json.worker.js "${common[@]}" --outfile="$out/json.worker.js"
"$esbuild" node_modules/monaco-graphql/esm/graphql.worker.js "${common[@]}" --outfile="$out/graphql.worker.js"

ls -l "$out"
