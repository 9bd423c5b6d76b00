#!/usr/bin/env node
/**
 * Runs training/ code with a Python that can `import torch`:
 *   node scripts/python.mjs training/train.py --dataset horse2zebra ...
 *   node scripts/python.mjs -m pytest -q training/tests
 * Tries $CYCLESTREAM_PYTHON, then `python3` on PATH, then /usr/bin/python3 (Debian's python3-torch
 * lives there while PATH may hold another interpreter). stdio is inherited and the exit code (or
 * signal) is passed on.
 */
import { spawn, spawnSync } from 'node:child_process';

const candidates = [process.env.CYCLESTREAM_PYTHON, 'python3', '/usr/bin/python3'].filter(
  (c, i, all) => c && all.indexOf(c) === i,
);

function hasTorch(python) {
  const r = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 120_000 });
  return r.status === 0;
}

const python = candidates.find(hasTorch);
if (!python) {
  console.error(
    [
      `No Python that can \`import torch\` was found (tried: ${candidates.join(', ')}).`,
      'On Debian/Ubuntu install PyTorch and friends with:',
      '  sudo apt-get install python3-torch python3-torchvision python3-onnx libopenblas0-openmp python3-opencv python3-pytest python3-tqdm',
      'or point CYCLESTREAM_PYTHON at an interpreter that has torch, onnx, opencv-python, pillow, numpy and tqdm.',
    ].join('\n'),
  );
  process.exit(127);
}

const child = spawn(python, process.argv.slice(2), { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => child.kill(sig));
}
child.on('error', (err) => {
  console.error(`cannot start ${python}: ${err.message}`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code ?? 1);
  }
});
