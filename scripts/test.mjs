#!/usr/bin/env node
// `npm test`: type-check, the Node test suites (unit and browser end-to-end), then the
// training tests. Every part runs even when an earlier one fails, and the exit code is non-zero
// if any failed.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const node = process.execPath;
const only = process.argv[2];

// Node 20's test runner takes no globs, so the files are listed here.
function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === '.artifacts' || e.name === 'fixtures' ? [] : testFiles(p);
    return e.name.endsWith('.test.ts') ? [path.relative(root, p)] : [];
  });
}

const steps = [
  { name: 'typecheck', cmd: node, args: [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit'] },
  { name: 'web build', cmd: node, args: [path.join(root, 'node_modules', 'next', 'dist', 'bin', 'next'), 'build', 'web'] },
  {
    name: 'node tests',
    cmd: node,
    args: ['--import', 'tsx', '--test', '--test-concurrency=1', ...testFiles(path.join(root, 'test')).sort()],
  },
  { name: 'training tests', cmd: node, args: [path.join(root, 'scripts', 'python.mjs'), '-m', 'pytest', '-q', 'training/tests'] },
];

const results = [];
for (const step of steps) {
  if (only && step.name !== only) continue;
  console.log(`\n=== ${step.name}`);
  const t0 = Date.now();
  const r = spawnSync(step.cmd, step.args, { cwd: root, stdio: 'inherit', env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' } });
  results.push({ name: step.name, ok: r.status === 0, s: ((Date.now() - t0) / 1000).toFixed(0) });
}
console.log('\n=== summary');
for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.s} s)`);
const failed = results.filter((r) => !r.ok).length;
console.log(`steps: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
