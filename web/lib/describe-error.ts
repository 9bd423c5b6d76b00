import type { ClientError } from './client-error';

/** Words for a person: what went wrong and what to do about it. */
export function describeError(err: ClientError): { title: string; detail: string } {
  const titles: Partial<Record<ClientError['code'], string>> = {
    MEDIA_INVALID: 'That file cannot be used',
    MEDIA_UNSUPPORTED: 'That kind of file is not supported',
    NO_VIDEO: 'There is no video in that file',
    UNSUPPORTED_CODEC: 'That video format is not supported',
    FRAME_TOO_LARGE: 'The picture is too large',
    UPLOAD_TOO_LARGE: 'The file is too big',
    MODEL_NOT_FOUND: 'That model is not installed',
    MODEL_ID_INVALID: 'That model name is not valid',
    MODEL_LOAD_FAILED: 'The model could not be loaded',
    BAD_REQUEST: 'The request was refused',
    SERVER_UNREACHABLE: 'The server cannot be reached',
    JOB_NOT_FOUND: 'That job no longer exists',
    JOB_ABANDONED: 'The job was given up',
    VIDEO_TOO_LONG: 'The video is too long',
    RATE_LIMITED: 'You have too many jobs waiting',
    SERVER_BUSY: 'The server is busy',
    STORE_FAILED: 'The server could not save the job',
    CODEC_ERROR: 'The video could not be processed',
    INFERENCE_ERROR: 'The model failed on this video',
  };
  return { title: titles[err.code] ?? 'Something went wrong', detail: err.message };
}
