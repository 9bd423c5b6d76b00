'use client';

import type { ModelGroup, ModelSummary } from '../lib/contract';

/** The picker's sections, in order; the Record makes a new group in the contract a type error here. */
const GROUP_LABELS: Record<ModelGroup, string> = {
  animals: 'Animals',
  seasons: 'Seasons',
  painters: 'Painters',
  other: 'Other',
};

/** The labelled model picker of the live and the upload page, with a one-line hint under it. */
export function ModelPicker(props: {
  models: ModelSummary[] | null;
  failed: boolean;
  modelId: string;
  disabled: boolean;
  onChange: (modelId: string) => void;
  hint: string;
  className?: string;
}) {
  const { models } = props;
  return (
    <div className={props.className ?? 'control'}>
      <label htmlFor="model-select">Model</label>
      <select
        id="model-select"
        data-testid="model-select"
        value={props.modelId}
        disabled={!models || models.length === 0 || props.disabled}
        onChange={(e) => props.onChange(e.target.value)}
      >
        <ModelOptions models={models} failed={props.failed} />
      </select>
      <span className="control-hint">{props.hint || '\u00a0'}</span>
    </div>
  );
}

/**
 * The <option>s of a model picker, in <optgroup>s by kind (Animals, Seasons, Painters, Other),
 * with a placeholder while the list is loading, failed or empty.
 */
function ModelOptions(props: { models: ModelSummary[] | null; failed: boolean }) {
  const { models } = props;
  const groups = (Object.keys(GROUP_LABELS) as ModelGroup[])
    .map((group) => ({ group, members: (models ?? []).filter((m) => m.group === group) }))
    .filter((g) => g.members.length > 0);
  return (
    <>
      {!models ? <option value="">{props.failed ? 'Models unavailable' : 'Loading models…'}</option> : null}
      {models && models.length === 0 ? <option value="">No models installed</option> : null}
      {groups.map(({ group, members }) => (
        <optgroup key={group} label={GROUP_LABELS[group]} data-testid={`model-group-${group}`}>
          {members.map((m) => (
            <option key={m.id} value={m.id} title={m.summary}>
              {m.title}
            </option>
          ))}
        </optgroup>
      ))}
    </>
  );
}
