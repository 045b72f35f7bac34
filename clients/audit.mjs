// Runs graphql-http's GraphQL-over-HTTP server audits against the URL given as the first
// argument and prints one line per audit. Exits 1 when a MUST or SHOULD audit fails (MAY
// audits are reported, never required).
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs http://host:port/graphql');
  process.exit(2);
}

const results = await auditServer({ url });
let failed = 0;
for (const r of results) {
  const required = !r.name.startsWith('MAY');
  if (r.status === 'ok') {
    console.log(`ok    ${r.id} ${r.name}`);
    continue;
  }
  if (required) failed++;
  let detail = r.reason;
  if (r.response) {
    const body = await r.response.text().catch(() => '');
    detail += ` [${r.response.status} ${r.response.headers.get('content-type')}] ${body.slice(0, 300)}`;
  }
  console.log(`${required ? 'FAIL' : 'may  '}  ${r.id} ${r.name}: ${detail}`);
}
console.log(`${results.length} audits, ${failed} MUST/SHOULD failed`);
process.exit(failed ? 1 : 0);
