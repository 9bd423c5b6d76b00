/**
 * Which model a video or image file gets when the user names none. Files are not realtime, so a
 * larger generator of the same translation (`<id>-hq`, e.g. horse2zebra-hq) is the better default
 * where it is installed; live sessions keep the realtime default.
 */
export function defaultFileModel(liveDefault: string | null, installed: readonly string[]): string | null {
  if (liveDefault === null) return null;
  const hq = `${liveDefault}-hq`;
  return installed.includes(hq) ? hq : liveDefault;
}
