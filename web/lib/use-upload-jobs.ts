'use client';

import { useCallback, useEffect, useMemo, useState } from 'react';
import { toClientError, type ClientError } from './client-error';
import type { JobInfo, JobProgress } from './contract';
import { ACTIVE_STATES } from './job-format';
import { forgetJobTokens, loadJobTokens, saveJobToken } from './job-tokens';
import { cancelJob, fetchJob, fetchJobs } from './jobs-api';
import type { LiveSocket } from './socket-request';
import type { SocketState } from './use-socket';

/** While the socket is down, running jobs are polled instead. */
const POLL_MS = 2000;

/**
 * This browser's file jobs, kept current by the socket's job events (or by polling while it
 * is down), and the one the page shows.
 */
export function useUploadJobs(socket: LiveSocket | null, socketState: SocketState, onError: (err: ClientError) => void) {
  const [jobs, setJobs] = useState<Map<string, JobInfo>>(new Map());
  const [currentId, setCurrentId] = useState<string | null>(null);

  const mergeJob = useCallback((job: JobInfo) => {
    if (job.state === 'deleted') forgetJobTokens([job.id]);
    setJobs((prev) => {
      const next = new Map(prev);
      if (job.state === 'deleted') next.delete(job.id);
      else next.set(job.id, job);
      return next;
    });
  }, []);

  const mergeProgress = useCallback((p: JobProgress) => {
    setJobs((prev) => {
      const job = prev.get(p.id);
      // A late progress event must not undo a state the job has already left.
      if (!job || !ACTIVE_STATES.has(job.state)) return prev;
      const next = new Map(prev);
      next.set(p.id, { ...job, ...p });
      return next;
    });
  }, []);

  // This browser's jobs are the ones whose tokens it kept; tokens of jobs the server no longer has are dropped.
  const loadJobs = useCallback(
    async (signal?: AbortSignal) => {
      try {
        const tokens = loadJobTokens();
        const list = await fetchJobs([...tokens.values()], signal);
        if (signal?.aborted) return;
        const present = new Set(list.map((j) => j.id));
        forgetJobTokens([...tokens.keys()].filter((id) => !present.has(id)));
        setJobs(new Map(list.map((j) => [j.id, j])));
      } catch (err) {
        if (!signal?.aborted) onError(toClientError(err));
      }
    },
    [onError],
  );

  /** Joins a job's event room on the socket; the ack brings the job as it is now. */
  const watchJob = useCallback(
    (id: string, token: string) => {
      socket?.emit('job:watch', { id, token }, (res) => {
        if (res.ok) mergeJob(res.job);
      });
    },
    [socket, mergeJob],
  );

  useEffect(() => {
    const ctrl = new AbortController();
    void loadJobs(ctrl.signal);
    return () => ctrl.abort();
  }, [loadJobs]);

  useEffect(() => {
    if (!socket) return;
    const onUpdate = (job: JobInfo) => mergeJob(job);
    const onProgress = (p: JobProgress) => mergeProgress(p);
    // Events missed while disconnected: the list is read again, and every job watched again, on each (re)connect.
    const onConnect = () => {
      void loadJobs();
      for (const [id, token] of loadJobTokens()) watchJob(id, token);
    };
    if (socket.connected) onConnect();
    socket.on('job:update', onUpdate);
    socket.on('job:progress', onProgress);
    socket.on('connect', onConnect);
    return () => {
      socket.off('job:update', onUpdate);
      socket.off('job:progress', onProgress);
      socket.off('connect', onConnect);
    };
  }, [socket, mergeJob, mergeProgress, loadJobs, watchJob]);

  const activeIds = useMemo(() => [...jobs.values()].filter((j) => ACTIVE_STATES.has(j.state)).map((j) => j.id), [jobs]);
  useEffect(() => {
    if (socketState === 'connected' || activeIds.length === 0) return;
    const timer = setInterval(() => {
      const tokens = loadJobTokens();
      for (const id of activeIds) {
        const token = tokens.get(id);
        if (token) fetchJob(id, token).then(mergeJob, () => undefined);
      }
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [socketState, activeIds, mergeJob]);

  /** A job the upload just created: its token kept, its events watched, and it shown. */
  const addJob = (job: JobInfo, token: string) => {
    saveJobToken(job.id, token);
    watchJob(job.id, token);
    // The socket may already have said "running": the upload's answer must not set it back to "queued".
    setJobs((prev) => (prev.has(job.id) ? prev : new Map(prev).set(job.id, job)));
    setCurrentId(job.id);
  };

  const cancel = async (id: string) => {
    const token = loadJobTokens().get(id);
    if (!token) return;
    try {
      const job = await cancelJob(id, token);
      if (job) mergeJob(job);
      else {
        mergeJob({ ...jobs.get(id)!, state: 'deleted' });
        if (currentId === id) setCurrentId(null);
      }
    } catch (err) {
      onError(toClientError(err));
    }
  };

  return { jobs, currentId, setCurrentId, addJob, cancel };
}
