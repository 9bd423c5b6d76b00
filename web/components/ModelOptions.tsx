'use client';

import type { ModelSummary } from '../lib/contract';

/** The <option>s of a model picker, with a placeholder while the list is loading, failed or empty. */
export function ModelOptions(props: { models: ModelSummary[] | null; failed: boolean }) {
  const { models } = props;
  return (
    <>
      {!models ? <option value="">{props.failed ? 'Models unavailable' : 'Loading models…'}</option> : null}
      {models && models.length === 0 ? <option value="">No models installed</option> : null}
      {models?.map((m) => (
        <option key={m.id} value={m.id}>
          {m.title}
        </option>
      ))}
    </>
  );
}
