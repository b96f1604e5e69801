#!/bin/sh
# Tests the VS Code TextMate grammar (editors/vscode/syntaxes/nnt.tmLanguage.json)
# against the annotated recipes in editors/vscode/tests/ with vscode-tmgrammar-test,
# installed from npm into a temporary directory (nothing is installed globally).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
version=0.1.3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm install --silent --no-audit --no-fund --prefix "$tmp" "vscode-tmgrammar-test@$version" >/dev/null
cd "$root/editors/vscode"
"$tmp/node_modules/.bin/vscode-tmgrammar-test" -g syntaxes/nnt.tmLanguage.json "tests/*.nnt"
