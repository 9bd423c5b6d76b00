/**
 * Section "reference": the CycleGAN paper's ResNet-9 generator (random weights; speed does not
 * depend on them) at the model section's sizes, and how many times slower it is than the
 * default model (and one model of each other architecture benched). All run in inference
 * workers (the server's default), interleaved run by run, so each ratio compares runs taken
 * side by side.
 */
import { defaultModel, hostFor, onePerArchitecture, round, sizeName, standInModel, table, type BenchOptions } from './common.js';
import { modelsToBench, timeTogether, type ModelTiming } from './model.js';

export async function benchReference(opts: BenchOptions): Promise<{ result: Record<string, unknown>; text: string }> {
  const ref = await standInModel('resnet9', opts.log);
  if ('error' in ref) {
    const note = `skipped: ${ref.error} (needs a Python with torch; see scripts/python.mjs)`;
    return { result: { skipped: note }, text: `== reference: ResNet-9\n  ${note}` };
  }
  const def = await defaultModel(opts);
  const { models } = await modelsToBench(opts);
  // One model per architecture (default first): models that share one run at the same speed.
  const compare = onePerArchitecture([...('error' in def ? [] : [def]), ...models]);
  const defId = 'error' in def ? null : def.id;

  const hosts = [ref, ...compare].map((m) => hostFor(opts, 'worker', m.dir));
  const refTimes: ModelTiming[] = [];
  const ratios: Record<string, Record<string, number>> = {};
  const rows: (string | number)[][] = [['HxW', 'resnet9 ms', ...compare.map((m) => `resnet9 / ${m.id}${m.id === defId ? ' (default)' : ''}`)]];
  try {
    const entries = [];
    for (const [i, m] of [ref, ...compare].entries()) entries.push({ gen: await hosts[i].loadModel(m.id), model: m.id, mode: 'worker' as const });
    for (const size of opts.sizes) {
      opts.log(`reference ${ref.id} ${sizeName(size)} with ${compare.map((m) => m.id).join(', ') || 'nothing to compare'}`);
      const [r, ...others] = await timeTogether(opts, entries, size);
      refTimes.push(r);
      const row: (string | number)[] = [sizeName(size), r.msPerFrame];
      for (const t of others) {
        const ratio = round(r.msPerFrame / t.msPerFrame, 1);
        (ratios[t.model] ??= {})[sizeName(size)] = ratio;
        row.push(ratio);
      }
      rows.push(row);
    }
  } finally {
    await Promise.all(hosts.map((h) => h.close()));
  }
  const text = [
    `== reference: ${ref.label}, ${(ref.manifest!.macsAt256 / 1e9).toFixed(1)} G MACs at 256x256 (worker, median ms; ratios from interleaved runs)`,
    ...('error' in def ? [`  note: no default model to compare with (${def.error})`] : []),
    table(rows),
  ].join('\n');
  return {
    result: {
      model: ref.id,
      macsAt256: ref.manifest?.macsAt256,
      params: ref.manifest?.params,
      timings: refTimes,
      defaultModel: defId,
      /** resnet9_ms / default_ms per size, the figure the performance target is stated in. */
      resnet9_over_default: defId ? ratios[defId] : null,
      /** resnet9_ms / model_ms for every model the model section covers. */
      resnet9_over: ratios,
    },
    text,
  };
}
