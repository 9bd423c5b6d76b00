/** True when web/.next is missing or older than web/ or the socket events it imports. */
export function webBuildStale(root: string): boolean;
/** Runs `next build web` and returns its exit status; `output: 'stderr'` keeps stdout clean. */
export function buildWeb(root: string, options?: { output?: 'inherit' | 'stderr' }): number;
