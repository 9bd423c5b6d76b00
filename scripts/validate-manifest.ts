/**
 * Validates model manifests with the server's own schema, so training/ and the server
 * cannot drift apart. Usage: node --import tsx scripts/validate-manifest.ts models/*.json
 * Exit 0 when all are valid; 1 and one line per bad file otherwise.
 */
import { readManifest } from '../server/inference/manifest.js';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: validate-manifest <manifest.json>...');
  process.exit(2);
}
let bad = 0;
for (const file of files) {
  try {
    const m = await readManifest(file);
    console.log(`ok ${file} (${m.id})`);
  } catch (err) {
    bad++;
    console.error(`invalid ${(err as Error).message}`);
  }
}
process.exit(bad ? 1 : 0);
