#!/usr/bin/env bash
# CI: the generated bus contract (docs/contract) is what the code generates, and its AsyncAPI
# document passes the official AsyncAPI parser (@asyncapi/parser, from the npm registry,
# installed into target/asyncapi-node) with no error diagnostic. See docs/contract/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== contract: checked-in copies current (govshare contract check)"
cargo run --quiet --bin govshare -- contract check

PARSER_VERSION=3.6.6
NODE_DIR=target/asyncapi-node
installed=$(node -p "try { require('./$NODE_DIR/node_modules/@asyncapi/parser/package.json').version } catch { '' }")
if [ "$installed" != "$PARSER_VERSION" ]; then
    echo "== contract: installing @asyncapi/parser@$PARSER_VERSION into $NODE_DIR"
    mkdir -p "$NODE_DIR"
    echo '{"name": "govshare-asyncapi-check", "private": true}' >"$NODE_DIR/package.json"
    npm install --prefix "$NODE_DIR" --no-audit --no-fund --ignore-scripts --save-exact \
        "@asyncapi/parser@$PARSER_VERSION" >/dev/null
fi

echo "== contract: docs/contract/asyncapi.yaml through @asyncapi/parser@$PARSER_VERSION"
node --input-type=module - "$NODE_DIR" docs/contract/asyncapi.yaml <<'EOF'
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createRequire } from 'node:module';

const [modules, file] = process.argv.slice(2);
const require = createRequire(resolve(modules, 'package.json'));
const { Parser, DiagnosticSeverity } = require('@asyncapi/parser');

const { document, diagnostics } = await new Parser().parse(readFileSync(file, 'utf8'), { source: resolve(file) });
const names = ['error', 'warning', 'information', 'hint'];
for (const d of diagnostics) {
  console.log(`  ${names[d.severity] ?? d.severity} ${d.code}: ${d.message} at ${d.path.join('/')}`);
}
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
if (!document || errors.length > 0) {
  console.error(`${file}: ${errors.length} error(s): not a valid AsyncAPI document`);
  process.exit(1);
}
const c = document.components();
console.log(`${file}: valid AsyncAPI ${document.version()}: ${document.channels().length} channels, ` +
  `${document.operations().length} operations, ${c.messages().length} messages, ${c.schemas().length} schemas`);
EOF
