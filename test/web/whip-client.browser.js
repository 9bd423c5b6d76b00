// A minimal browser WHIP publisher and WHEP viewer, as any site could write one (no library).
// Installed in pages by the streams e2e test and the viewers bench (see whip-client.ts).
(() => {
  const gathered = (pc) =>
    new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    });
  window.viewers = {};
  // Publishes the fake camera; shows it in [data-testid="input-video"] when the page has one.
  window.publish = async (server, token, modelId = 'invert', width = 320, height = 240) => {
    const camera = await navigator.mediaDevices.getUserMedia({ video: { width, height }, audio: false });
    const preview = document.querySelector('[data-testid="input-video"]');
    if (preview) preview.srcObject = camera;
    const pc = new RTCPeerConnection();
    const tr = pc.addTransceiver(camera.getVideoTracks()[0], { direction: 'sendonly', streams: [camera] });
    const params = tr.sender.getParameters();
    params.degradationPreference = 'maintain-resolution';
    await tr.sender.setParameters(params).catch(() => {});
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const res = await fetch(`${server}/whip/${modelId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp', authorization: 'Bearer ' + token },
      body: pc.localDescription.sdp,
    });
    if (res.status !== 201) throw new Error('WHIP ' + res.status + ' ' + (await res.text()));
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    window.publisher = pc;
    return res.headers.get('x-stream-id');
  };
  window.watch = async (server, streamId, videoId) => {
    const pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.ontrack = (e) => {
      document.getElementById(videoId).srcObject = new MediaStream([e.track]);
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const res = await fetch(`${server}/whep/${streamId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp' },
      body: pc.localDescription.sdp,
    });
    if (res.status !== 201) throw new Error('WHEP ' + res.status + ' ' + (await res.text()));
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    window.viewers[videoId] = { pc, location: new URL(res.headers.get('location'), server).href };
  };
  window.leave = async (videoId) => {
    const v = window.viewers[videoId];
    v.pc.close();
    return (await fetch(v.location, { method: 'DELETE' })).status;
  };
  window.framesOf = (videoId, ms = 2000) =>
    new Promise((resolve) => {
      const video = document.getElementById(videoId);
      let n = 0;
      const tick = () => {
        n++;
        video.requestVideoFrameCallback(tick);
      };
      video.requestVideoFrameCallback(tick);
      setTimeout(() => resolve(n), ms);
    });
})();
