/**
 * The only place that reads the environment and the command line. Everything else takes a
 * `Config` (or a slice of it) as a parameter, so tests build their own without touching
 * process.env. The keys are in config-schema.ts, their sources in config-keys.ts and their
 * defaults in config-defaults.ts; `loadConfig` is the one entry point.
 */
import type { Provider } from './contract/index.js';
import { ConfigError } from './shared/errors.js';
import { configSchema, type ConfigValues } from './config-schema.js';
import { defaultConfig } from './config-defaults.js';
import { KEYS, flagOf, type KeySpec } from './config-keys.js';

export { defaultConfig };
export type { Provider };

export type Config = Readonly<ConfigValues>;

export const CONFIG_HELP = KEYS.map((k) => `  ${flagOf(k.env).padEnd(30)} env ${k.env}`).join('\n');

/**
 * Builds the config from defaults, then the environment, then CLI flags (`--port 3001` or
 * `--port=3001`), then `overrides`. Any bad value throws a ConfigError naming the key.
 */
export function loadConfig(
  opts: { env?: Record<string, string | undefined>; argv?: readonly string[]; root?: string; overrides?: Partial<ConfigValues> } = {},
): Config {
  const env: Record<string, string | undefined> = opts.env ?? {};
  const argv = opts.argv ?? [];
  const raw: Record<string, unknown> = { ...defaultConfig(opts.root) };
  const apply = (spec: KeySpec, value: string, source: string) => {
    try {
      raw[spec.key] = spec.parse(value);
    } catch (err) {
      throw new ConfigError(source, (err as Error).message);
    }
  };
  for (const spec of KEYS) {
    const v = env[spec.env];
    if (v !== undefined && v !== '') apply(spec, v, spec.env);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(arg, 'unexpected argument');
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const spec = KEYS.find((k) => flagOf(k.env) === flag);
    if (!spec) throw new ConfigError(flag, 'unknown flag');
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined) throw new ConfigError(flag, 'missing value');
    apply(spec, value, flag);
  }
  Object.assign(raw, opts.overrides ?? {});
  const res = configSchema.safeParse(raw);
  if (!res.success) {
    const issue = res.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    const spec = KEYS.find((k) => k.key === key);
    throw new ConfigError(spec ? spec.env : key, issue.message);
  }
  const cfg = res.data;
  if (cfg.jobConcurrency === 0 && !cfg.redisUrl) throw new ConfigError('JOB_CONCURRENCY', 'must be at least 1 without REDIS_URL: no node would run the jobs');
  if (cfg.browserMinBitrateKbps > cfg.browserStartBitrateKbps || cfg.browserStartBitrateKbps > cfg.browserMaxBitrateKbps) {
    throw new ConfigError('BROWSER_START_BITRATE_KBPS', 'browser bitrates must satisfy min <= start <= max');
  }
  // zod hands back its own copies, so this freezes nothing the caller passed in overrides.
  freezeNested(cfg);
  return Object.freeze({ ...cfg, publicUrl: cfg.publicUrl.replace(/\/+$/, ''), providers: Object.freeze([...cfg.providers]) as Provider[] });
}

/** Freezes every object and array inside `value` (not `value` itself), however deep. */
function freezeNested(value: object): void {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object' && !Object.isFrozen(child)) {
      freezeNested(child);
      Object.freeze(child);
    }
  }
}
