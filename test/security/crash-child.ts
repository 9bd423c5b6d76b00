/**
 * A server process for crash-safety.test.ts, wired like server/main.ts (createApp, then the
 * crash guard on the real process), with one fault: the VP8 decoder raises an error that no
 * chain catches, `uncaught-exception` (thrown from a timer) or `unhandled-rejection` (a promise
 * nobody awaits), after five frames. Prints "URL <url>", then pino's JSON lines, on stdout.
 */
import { pino } from 'pino';
import { startTestApp } from '../helpers/app.js';
import { FFMPEG_CODECS } from '../../server/session/index.js';
import { installCrashGuard } from '../../server/shared/index.js';

const mode = process.argv[2];
if (mode !== 'uncaught-exception' && mode !== 'unhandled-rejection') throw new Error(`unknown mode ${mode}`);

const srv = await startTestApp(
  {},
  {
    codecs: {
      ...FFMPEG_CODECS,
      createDecoder(options) {
        const decoder = FFMPEG_CODECS.createDecoder(options);
        if (options.codec !== 'vp8') return decoder;
        let n = 0;
        return {
          ...decoder,
          decode: (...args: Parameters<typeof decoder.decode>) => {
            if (++n === 5) {
              if (mode === 'uncaught-exception') {
                setTimeout(() => {
                  throw new Error('injected: thrown from a timer no chain awaits');
                });
              } else void Promise.reject(new Error('injected: a promise nobody awaits'));
            }
            return decoder.decode(...args);
          },
        };
      },
    },
  },
);
const logger = pino({ level: 'error' });
installCrashGuard(process, {
  logger,
  owners: srv.app.owners,
  onFatal: () => void srv.close().then(() => process.exit(1)),
});
process.once('SIGTERM', () => void srv.close().then(() => process.exit(0)));
process.stdout.write(`URL ${srv.url}\n`);
