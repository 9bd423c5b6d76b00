/**
 * Headless Debian Chromium for the end-to-end tests, with an optional fake camera playing a
 * y4m clip. playwright-core never downloads a browser; /usr/bin/chromium comes from apt.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export async function launchChromium(opts: { fakeCameraY4m?: string } = {}): Promise<Browser> {
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--allow-loopback-in-peer-connection',
    '--autoplay-policy=no-user-gesture-required',
  ];
  if (opts.fakeCameraY4m) {
    args.push('--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${opts.fakeCameraY4m}`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args, headless: true });
}
