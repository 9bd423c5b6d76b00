/**
 * The container allow-list by first bytes (server/codec/formats.ts): what is accepted, what is
 * named and refused, and what is not media at all. The hostile files end to end are in
 * test/security/ffmpeg-input.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { sniffBytes, storedContentType } from '../../../server/codec/index.js';
import { CLIPS } from '../jobs/helpers.js';

const box = (type: string, body: Buffer) => {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length + 8);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
};
const kindOf = (b: Buffer) => {
  const s = sniffBytes(b);
  return s.kind === 'video' || s.kind === 'image' ? `${s.kind}:${s.info.container}` : s.kind === 'refused' ? `refused:${s.what}` : 'unknown';
};

test('real clips: MP4, WebM, and QuickTime by brand', () => {
  assert.equal(kindOf(readFileSync(CLIPS.h264).subarray(0, 4096)), 'video:mp4');
  assert.equal(kindOf(readFileSync(CLIPS.vp9).subarray(0, 4096)), 'video:webm');
  assert.equal(kindOf(box('ftyp', Buffer.from('qt  \0\0\0\0qt  '))), 'video:mov');
  assert.equal(kindOf(Buffer.concat([box('moov', Buffer.alloc(16)), Buffer.alloc(8)])), 'video:mov', 'QuickTime without ftyp');
  const ebml = (docType: string) => Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x80 | docType.length]), Buffer.from(docType)]);
  assert.equal(kindOf(ebml('matroska')), 'video:matroska');
  assert.match(kindOf(ebml('evil')), /^refused:an EBML file of type "evil"/);
});

test('images by their bytes', async () => {
  const img = sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } });
  assert.equal(kindOf(await img.clone().jpeg().toBuffer()), 'image:jpeg');
  assert.equal(kindOf(await img.clone().png().toBuffer()), 'image:png');
  assert.equal(kindOf(await img.clone().webp().toBuffer()), 'image:webp');
  assert.match(kindOf(await img.clone().gif().toBuffer()), /^refused:.*gif/i, 'named by FFmpeg, refused');
});

test('reference formats are named and refused; text and nothing are not media', () => {
  assert.equal(kindOf(Buffer.from('#EXTM3U\n#EXTINF:1,\n/etc/passwd\n')), 'refused:an HLS/M3U playlist');
  assert.equal(kindOf(Buffer.from('\xEF\xBB\xBF#EXTM3U\n', 'latin1')), 'refused:an HLS/M3U playlist', 'with a UTF-8 BOM');
  assert.equal(kindOf(Buffer.from("ffconcat version 1.0\nfile 'a.mp4'\n")), 'refused:an FFmpeg concat script');
  assert.equal(kindOf(Buffer.from('v=0\no=- 0 0 IN IP4 1.2.3.4\nc=IN IP4 1.2.3.4\nm=video 5004 RTP/AVP 96\n')), 'refused:an SDP session description');
  assert.match(kindOf(Buffer.from('<?xml version="1.0"?><MPD/>')), /^refused:an XML document/);
  assert.match(kindOf(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')), /^refused:an XML document/);
  assert.equal(kindOf(Buffer.from([0, 0, 0, 1, 0x67, 0x42])), 'refused:a raw video stream with no container');
  assert.equal(kindOf(Buffer.from('just some text, not a video at all\n'.repeat(20))), 'unknown');
  assert.equal(kindOf(Buffer.alloc(0)), 'unknown');
});

test('stored inputs are served with the type of their detected container', () => {
  assert.deepEqual(
    ['input.mp4', 'input.mov', 'input.mkv', 'input.webm', 'input.bin', 'input.avi'].map(storedContentType),
    ['video/mp4', 'video/quicktime', 'video/x-matroska', 'video/webm', 'application/octet-stream', 'application/octet-stream'],
  );
});
