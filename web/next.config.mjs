import path from 'node:path';
import { fileURLToPath } from 'node:url';

// web/ has no package.json or node_modules of its own: next, react and socket.io-client
// resolve from the repository root, so Turbopack's root must be the repository root.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  turbopack: { root: repoRoot },
  outputFileTracingRoot: repoRoot,
  typescript: { ignoreBuildErrors: false, tsconfigPath: 'tsconfig.json' },
};

export default nextConfig;
