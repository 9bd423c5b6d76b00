// Installed in the page by the e2e tests (see frame-probe.ts for what it measures and why).
// window.__makeProbe(inVideo, outVideo) makes a probe; window.__probe is one for the webcam page.
window.__makeProbe = (inVideo, outVideo) => {
  const W = 64;
  const H = 48;
  const canvas = document.createElement('canvas');
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const grab = (v) => {
    ctx.drawImage(v, 0, 0, W, H);
    return ctx.getImageData(0, 0, W, H).data.slice();
  };
  const history = [];
  let transform = 'invert';
  const result = { frames: 0, errors: [], controlErrors: [], times: [] };
  const apply = (src, i, c) => {
    if (transform === 'invert') return 255 - src[i + c];
    if (transform === 'swap-rb') return src[i + (c === 0 ? 2 : c === 2 ? 0 : 1)];
    return src[i + c];
  };
  const error = (out, inp, transformed) => {
    let sum = 0;
    for (let i = 0; i < out.length; i += 4) {
      for (let c = 0; c < 3; c++) sum += Math.abs(out[i + c] - (transformed ? apply(inp, i, c) : inp[i + c]));
    }
    return sum / ((out.length / 4) * 3);
  };
  const onIn = () => {
    if (inVideo.videoWidth) {
      history.push(grab(inVideo));
      if (history.length > 45) history.shift();
    }
    inVideo.requestVideoFrameCallback(onIn);
  };
  const onOut = () => {
    if (outVideo.videoWidth && history.length) {
      const out = grab(outVideo);
      let best = Infinity;
      let control = Infinity;
      for (const h of history) {
        best = Math.min(best, error(out, h, true));
        control = Math.min(control, error(out, h, false));
      }
      result.frames++;
      result.errors.push(best);
      result.controlErrors.push(control);
      result.times.push(performance.now());
    }
    outVideo.requestVideoFrameCallback(onOut);
  };
  inVideo.requestVideoFrameCallback(onIn);
  outVideo.requestVideoFrameCallback(onOut);
  return {
    start(t) {
      transform = t;
      result.frames = 0;
      result.errors = [];
      result.controlErrors = [];
      result.times = [];
    },
    read: () => JSON.parse(JSON.stringify(result)),
  };
};
if (document.querySelector('[data-testid="output-video"]')) {
  window.__probe = window.__makeProbe(
    document.querySelector('[data-testid="input-video"]'),
    document.querySelector('[data-testid="output-video"]'),
  );
}
