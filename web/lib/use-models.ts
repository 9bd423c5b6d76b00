'use client';

import { useCallback, useEffect, useState } from 'react';
import { fetchHealth, fetchModels } from './api';
import { ClientError, toClientError } from './client-error';
import type { ModelSummary } from './contract';
import type { SocketState } from './use-socket';

export type ModelsState =
  | { kind: 'loading' }
  | { kind: 'ready'; models: ModelSummary[] }
  | { kind: 'failed'; error: ClientError };

/**
 * The model list for a picker: loaded on mount, selection defaulting to the server's default
 * model, and loaded again by itself when the server comes (back) up after a failed load.
 */
export function useModels(socketState: SocketState, purpose: 'live' | 'file' = 'live') {
  const [modelsState, setModelsState] = useState<ModelsState>({ kind: 'loading' });
  const [selectedId, setSelectedId] = useState('');

  const reload = useCallback(async (signal?: AbortSignal) => {
    setModelsState({ kind: 'loading' });
    try {
      const [list, health] = await Promise.all([fetchModels(signal), fetchHealth(signal).catch(() => null)]);
      if (signal?.aborted) return;
      setModelsState({ kind: 'ready', models: list });
      setSelectedId((current) => {
        if (current && list.some((m) => m.id === current)) return current;
        // Files are not realtime: they default to the larger model of the same translation where there is one.
        const preferred = purpose === 'file' ? (health?.defaultFileModel ?? health?.defaultModel) : health?.defaultModel;
        return preferred && list.some((m) => m.id === preferred) ? preferred : (list[0]?.id ?? '');
      });
    } catch (err) {
      if (!signal?.aborted) setModelsState({ kind: 'failed', error: toClientError(err) });
    }
  }, [purpose]);

  useEffect(() => {
    const ctrl = new AbortController();
    void reload(ctrl.signal);
    return () => ctrl.abort();
  }, [reload]);

  useEffect(() => {
    if (socketState === 'connected' && modelsState.kind === 'failed') void reload();
  }, [socketState, modelsState.kind, reload]);

  const models = modelsState.kind === 'ready' ? modelsState.models : null;
  return { modelsState, models, selectedId, setSelectedId, reload };
}
