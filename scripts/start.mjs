#!/usr/bin/env node
// `npm start`: builds the web app when its build is missing or older than its sources, then
// runs the server. Arguments after `npm start --` go to the server (e.g. `--port 3001`).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWeb, webBuildStale } from './web-build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

if (process.env.WEB !== 'false' && webBuildStale(root)) {
  console.log('[cyclestream] building the web app (first start only; about a minute on 2 cores)…');
  const status = buildWeb(root);
  if (status !== 0) {
    console.error('[cyclestream] the web build failed; see the output above');
    process.exit(status);
  }
}

const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'server', 'main.ts'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1', ...process.env },
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
