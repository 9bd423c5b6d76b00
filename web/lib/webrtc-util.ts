/** Peer-connection steps of a live session that need none of its state. */

/** Resolves when ICE gathering is complete, or after `capMs` with whatever candidates there are. */
export function waitForIceGathering(pc: RTCPeerConnection, capMs: number): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onChange);
      resolve();
    };
    const onChange = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, capMs);
    pc.addEventListener('icegatheringstatechange', onChange);
  });
}

/**
 * The server sends no bandwidth estimate, so the browser's encoder would otherwise shrink the
 * picture; the model is better fed a steady size at a lower frame rate.
 */
export async function preferResolution(sender: RTCRtpSender): Promise<void> {
  try {
    const params = sender.getParameters();
    (params as RTCRtpSendParameters & { degradationPreference?: string }).degradationPreference = 'maintain-resolution';
    await sender.setParameters(params);
  } catch {
    // Older browsers reject setParameters before negotiation or lack the field; the default still works.
  }
}
