/**
 * Process entry: reads config once, starts the app, and shuts down cleanly on signals.
 */
import { pino } from 'pino';
import { loadConfig, CONFIG_HELP } from './config.js';
import { createApp } from './app.js';
import { ConfigError, installCrashGuard, installPolyfills } from './shared/index.js';
import { setFfmpegLogLevel } from './codec/index.js';

installPolyfills();
// libx264 and libvpx print statistics for every encoder they close; keep the log for real problems.
setFfmpegLogLevel('error');

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(`cyclestream server\n\nEvery setting can be given as an environment variable or a flag:\n${CONFIG_HELP}`);
  process.exit(0);
}

let config;
try {
  config = loadConfig({ env: process.env, argv });
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`cyclestream: ${err.message}`);
    process.exit(2);
  }
  throw err;
}

const logger = pino({ level: config.logLevel, base: { app: 'cyclestream' } });
const app = await createApp(config, logger);
const { url } = await app.listen();
logger.info({ url, backendChain: config.providers, models: config.modelsDir }, `cyclestream ready on ${url}`);

let stopping = false;
const stop = (signal: string, exitCode = 0) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const force = setTimeout(() => process.exit(1), 5000);
  force.unref();
  app.close().then(
    () => process.exit(exitCode),
    (err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
// Errors nobody caught close the session they came from, not the server (server/shared/crash-guard.ts).
installCrashGuard(process, { logger, owners: app.owners, onFatal: (reason) => stop(`fatal: ${reason}`, 1) });
process.on('SIGTERM', () => stop('SIGTERM'));
