#!/usr/bin/env node
// `npx cyclestream …`: registers tsx in this process (resolved beside this file, so it works
// from any working directory) and runs the TypeScript CLI in scripts/cli/main.ts.
import { register } from 'tsx/esm/api';

register();
const { run } = await import(new URL('./cli/main.ts', import.meta.url).href);
process.exitCode = await run(process.argv.slice(2));
