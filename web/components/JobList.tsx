import type { JobInfo } from '../lib/contract';

interface JobListProps {
  jobs: JobInfo[];
  currentId: string | null;
  modelTitle(id: string): string;
  onView(id: string): void;
  onCancel(id: string): void;
}

export function JobList({ jobs, currentId, modelTitle, onView, onCancel }: JobListProps) {
  return (
    <section className="job-list-panel" aria-label="Past jobs">
      <h2 className="section-title">Jobs</h2>
      {jobs.length === 0 ? <p className="muted">No jobs yet.</p> : null}
      <ul className="job-list" data-testid="job-list">
        {jobs.map((job) => {
          const active = job.state === 'queued' || job.state === 'running';
          const percent = job.framesTotal > 0 ? Math.floor((job.framesDone / job.framesTotal) * 100) : 0;
          return (
            <li key={job.id} className={`job-row${job.id === currentId ? ' job-row-current' : ''}`} data-job-id={job.id}>
              <div className="job-row-main">
                <span className="job-name">{job.inputName}</span>
                <span className="job-meta">
                  {modelTitle(job.modelId)} · {new Date(job.createdAt).toLocaleString()}
                  {job.state === 'failed' && job.error ? ` · ${job.error.message}` : ''}
                </span>
              </div>
              <span className={`status job-state-${job.state}`} data-state={job.state}>
                {job.state === 'running' ? `running ${percent} %` : job.state}
              </span>
              <div className="buttons">
                <button type="button" className="button button-secondary" onClick={() => onView(job.id)}>
                  View
                </button>
                <button type="button" className="button button-ghost" onClick={() => onCancel(job.id)}>
                  {active ? 'Cancel' : 'Delete'}
                </button>
              </div>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
