// Injected into the webcam page by the live benchmark. Reads the frame-index stamp that
// make-y4m.ts --stamp writes into each camera frame, on both <video> elements, and records when
// each index was presented. Polarity comes from the start/end blocks, so an inverting model works.
(() => {
  const BITS = 12;
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const read = (v) => {
    const w = v.videoWidth;
    const h = v.videoHeight;
    if (!w || !h) return null;
    const b = Math.max(8, Math.floor((w * 0.75) / (BITS + 2) / 2) * 2);
    canvas.width = w;
    canvas.height = b;
    ctx.drawImage(v, 0, 0, w, h, 0, 0, w, h);
    const row = ctx.getImageData(0, Math.floor(b / 2), w, 1).data;
    const luma = (k) => {
      const x0 = k * b + Math.floor(b / 4);
      let s = 0;
      for (let x = x0; x < x0 + Math.floor(b / 2); x++) s += (row[x * 4] + row[x * 4 + 1] + row[x * 4 + 2]) / 3;
      return s / Math.floor(b / 2);
    };
    const start = luma(0);
    const end = luma(BITS + 1);
    if (Math.abs(start - end) < 60) return null;
    const mid = (start + end) / 2;
    let index = 0;
    for (let k = 1; k <= BITS; k++) index = (index << 1) | ((luma(k) > mid) === (start > mid) ? 1 : 0);
    return index;
  };
  const state = { inputSeen: new Map(), input: 0, output: 0, outputDistinct: 0, latencies: [], unreadable: 0, running: false, t0: 0, t1: 0, lastOut: -1 };
  const inVideo = document.querySelector('[data-testid="input-video"]');
  const outVideo = document.querySelector('[data-testid="output-video"]');
  const onIn = (now) => {
    const i = read(inVideo);
    if (i !== null) state.inputSeen.set(i, now);
    if (state.running) state.input++;
    inVideo.requestVideoFrameCallback(onIn);
  };
  const onOut = (now) => {
    if (state.running) {
      state.output++;
      const i = read(outVideo);
      if (i === null) state.unreadable++;
      else {
        if (i !== state.lastOut) state.outputDistinct++;
        state.lastOut = i;
        const t = state.inputSeen.get(i);
        if (t !== undefined && now >= t && now - t < 2000) state.latencies.push(now - t);
      }
    }
    outVideo.requestVideoFrameCallback(onOut);
  };
  inVideo.requestVideoFrameCallback(onIn);
  outVideo.requestVideoFrameCallback(onOut);
  window.__stamps = {
    start() {
      Object.assign(state, { input: 0, output: 0, outputDistinct: 0, latencies: [], unreadable: 0, running: true, t0: performance.now(), lastOut: -1 });
    },
    stop() {
      state.running = false;
      state.t1 = performance.now();
      const s = (state.t1 - state.t0) / 1000;
      return { seconds: s, inputFps: state.input / s, outputFps: state.output / s, outputDistinctFps: state.outputDistinct / s, latencies: state.latencies, unreadable: state.unreadable };
    },
  };
})();
