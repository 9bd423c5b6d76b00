/*
 * <cyclestream-player stream="<id>" server="https://host:3000" token="<viewer token>">
 *
 * Plays a cyclestream live stream's translated video over WHEP (WebRTC-HTTP Egress Protocol).
 * Self-contained on purpose: embedders drop in one <script> tag, with no build step and no
 * imports, so this file is plain ES2020 (no class fields, no private names, no ??=).
 *
 * Attributes: stream (required), server (default: the origin this script was loaded from),
 * token (optional viewer token), ice-servers (optional JSON array of RTCIceServer).
 * Host attribute data-state and the `statechange` event report connecting | live | offline | error.
 */
(function () {
  'use strict';

  if (typeof window === 'undefined' || typeof customElements === 'undefined') return;
  // A page may include the script twice (snippet pasted twice, framework re-inject).
  if (customElements.get('cyclestream-player')) return;

  // Non-trickle: the server answers once, so the offer must already carry its candidates.
  // Host-only gathering is near-instant; the cap covers a stuck interface.
  var ICE_GATHER_CAP_MS = 2000;
  var RECONNECT_DELAY_MS = 2000;
  var OFFLINE_POLL_MS = 5000;
  var RETRY_AFTER_DEFAULT_S = 5;
  var RETRY_AFTER_MAX_S = 300;
  var FETCH_TIMEOUT_MS = 15000;
  // ICE that never reaches 'connected' may sit in 'checking' for a long time before 'failed'.
  var CONNECT_TIMEOUT_MS = 20000;

  // document.currentScript is only set while this file is first evaluated, so the default
  // server must be captured now: an embed on another site should talk to the script's origin.
  var SCRIPT_ORIGIN = (function () {
    try {
      var s = document.currentScript;
      if (s && s.src) return new URL(s.src, location.href).origin;
    } catch (e) {
      // Fall through to location.origin.
    }
    return null;
  })();

  var STYLE =
    ':host{display:block;position:relative;aspect-ratio:16/9;background:#000;overflow:hidden;contain:content}' +
    ':host([hidden]){display:none}' +
    'video{position:absolute;inset:0;display:block;width:100%;height:100%;object-fit:contain;background:#000}' +
    '.overlay{position:absolute;inset:0;display:flex;flex-direction:column;align-items:center;justify-content:center;gap:12px;' +
    'padding:16px;text-align:center;color:#e8ecf4;background:rgba(0,0,0,.6);pointer-events:none;' +
    "font:600 16px/1.4 ui-sans-serif,system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif}" +
    '.overlay[hidden]{display:none}' +
    '.spinner{width:26px;height:26px;border-radius:50%;border:3px solid rgba(255,255,255,.2);border-top-color:#7c9cff;' +
    'animation:spin .9s linear infinite}' +
    ':host(:not([data-state=connecting])) .spinner{display:none}' +
    ':host([data-state=error]) .text{color:#ff6b6b}' +
    '@keyframes spin{to{transform:rotate(360deg)}}' +
    '@media (prefers-reduced-motion:reduce){.spinner{animation:none}}';

  function warn(message, err) {
    if (typeof console !== 'undefined' && console.warn) console.warn('[cyclestream-player] ' + message, err === undefined ? '' : err);
  }

  function errorMessage(err) {
    if (err && typeof err.message === 'string' && err.message) return err.message;
    return String(err);
  }

  function isAbort(err) {
    return !!err && err.name === 'AbortError';
  }

  function waitForIceGathering(pc, capMs) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise(function (resolve) {
      var timer = 0;
      function done() {
        clearTimeout(timer);
        pc.removeEventListener('icegatheringstatechange', onChange);
        resolve();
      }
      function onChange() {
        if (pc.iceGatheringState === 'complete') done();
      }
      timer = setTimeout(done, capMs);
      pc.addEventListener('icegatheringstatechange', onChange);
    });
  }

  /** Retry-After is delta-seconds or an HTTP date; anything unusable gets a modest default. */
  function retryAfterMs(res) {
    var raw = res.headers.get('retry-after');
    var seconds = RETRY_AFTER_DEFAULT_S;
    if (raw) {
      var n = Number(raw.trim());
      if (Number.isFinite(n)) seconds = n;
      else {
        var at = Date.parse(raw);
        if (Number.isFinite(at)) seconds = (at - Date.now()) / 1000;
      }
    }
    return Math.min(Math.max(seconds, 1), RETRY_AFTER_MAX_S) * 1000;
  }

  /** The server's `{ error: { code, message } }` body, or a plain HTTP status for anything else. */
  function readError(res) {
    return res
      .json()
      .then(function (body) {
        var e = body && body.error;
        if (e && typeof e.message === 'string' && e.message) return e.message;
        return 'HTTP ' + res.status;
      })
      .catch(function () {
        return 'HTTP ' + res.status;
      });
  }

  function sendDelete(viewer) {
    try {
      var headers = {};
      if (viewer.token) headers.authorization = 'Bearer ' + viewer.token;
      // keepalive lets the request outlive a page that is being unloaded.
      fetch(viewer.url, { method: 'DELETE', keepalive: true, headers: headers }).catch(function () {
        // The server also drops viewers whose ICE times out; nothing more to do.
      });
    } catch (e) {
      // fetch itself can throw synchronously (e.g. keepalive quota exceeded); same fallback.
    }
  }

  class CycleStreamPlayer extends HTMLElement {
    static get observedAttributes() {
      return ['stream', 'server', 'token', 'ice-servers'];
    }

    constructor() {
      super();
      var root = this.attachShadow({ mode: 'open' });
      root.innerHTML =
        '<style>' +
        STYLE +
        '</style>' +
        '<video part="video" muted autoplay playsinline></video>' +
        '<div part="overlay" class="overlay" role="status" aria-live="polite">' +
        '<span class="spinner" aria-hidden="true"></span><span class="text"></span></div>';
      this._video = root.querySelector('video');
      this._overlay = root.querySelector('.overlay');
      this._overlayText = root.querySelector('.text');
      // The attribute alone does not satisfy every browser's autoplay policy check.
      this._video.muted = true;
      this._video.defaultMuted = true;

      this._state = null;
      this._viewers = null;
      // Bumped by every teardown: an async step that finds it changed belongs to a stale attempt.
      this._gen = 0;
      this._abort = new AbortController();
      this._timers = new Set();
      this._pc = null;
      this._viewer = null;
      this._es = null;
      this._frameHandle = null;
      this._sawFrame = false;
      this._playing = false;
      this._restartQueued = false;
      this._suspended = false;

      var self = this;
      var check = function () {
        self._checkFrames();
      };
      this._video.addEventListener('playing', function () {
        self._playing = true;
        self._checkFrames();
      });
      this._video.addEventListener('resize', check);
      this._video.addEventListener('loadeddata', check);
      this._onPageHide = function () {
        // Free the server's viewer slot now rather than after its ICE timeout; a page restored
        // from the back/forward cache reconnects in pageshow.
        self._suspended = true;
        self._stop();
      };
      this._onPageShow = function (ev) {
        if (ev.persisted && self._suspended && self.isConnected) {
          self._suspended = false;
          self._queueRestart();
        }
      };
    }

    /** 'connecting' | 'live' | 'offline' | 'error' (null before the element is attached). */
    get state() {
      return this._state;
    }

    /** The shadow <video>, e.g. for fullscreen or picture-in-picture. */
    get video() {
      return this._video;
    }

    /** Viewer count from the server's last state event, or null before one arrived. */
    get viewers() {
      return this._viewers;
    }

    // Properties mirror the attributes, so frameworks that set properties (React 19 does for
    // known ones) and plain HTML behave the same.
    get stream() {
      return this.getAttribute('stream') || '';
    }
    set stream(v) {
      this._reflect('stream', v);
    }
    get server() {
      return this.getAttribute('server') || '';
    }
    set server(v) {
      this._reflect('server', v);
    }
    get token() {
      return this.getAttribute('token') || '';
    }
    set token(v) {
      this._reflect('token', v);
    }

    connectedCallback() {
      window.addEventListener('pagehide', this._onPageHide);
      window.addEventListener('pageshow', this._onPageShow);
      this._queueRestart();
    }

    disconnectedCallback() {
      window.removeEventListener('pagehide', this._onPageHide);
      window.removeEventListener('pageshow', this._onPageShow);
      this._stop();
    }

    attributeChangedCallback(name, oldValue, newValue) {
      if (oldValue === newValue || !this.isConnected) return;
      this._queueRestart();
    }

    _reflect(name, value) {
      if (value === null || value === undefined || value === '') this.removeAttribute(name);
      else this.setAttribute(name, String(value));
    }

    /** Coalesces several attribute changes in one task (a framework setting stream and token) into one restart. */
    _queueRestart() {
      if (this._restartQueued) return;
      this._restartQueued = true;
      var self = this;
      queueMicrotask(function () {
        self._restartQueued = false;
        if (!self.isConnected) return;
        self._stop();
        self._run(self._connect(false));
      });
    }

    _run(promise) {
      promise.catch(function (err) {
        if (!isAbort(err)) warn('unexpected failure', err);
      });
    }

    _serverBase() {
      var attr = (this.getAttribute('server') || '').trim();
      if (attr) {
        try {
          // Keep any path prefix (a server behind a reverse proxy), drop the trailing slash.
          var u = new URL(attr, location.href);
          return (u.origin + u.pathname).replace(/\/+$/, '');
        } catch (e) {
          warn('ignoring invalid server attribute "' + attr + '"', e);
        }
      }
      return SCRIPT_ORIGIN || location.origin;
    }

    _iceServers() {
      var raw = this.getAttribute('ice-servers');
      if (!raw) return [];
      try {
        var parsed = JSON.parse(raw);
        if (Array.isArray(parsed)) return parsed;
      } catch (e) {
        // Reported below.
      }
      warn('ignoring ice-servers: expected a JSON array of RTCIceServer');
      return [];
    }

    _tokenQuery() {
      var token = this.getAttribute('token');
      return token ? '?token=' + encodeURIComponent(token) : '';
    }

    _setState(state, message) {
      var text =
        state === 'live'
          ? ''
          : state === 'offline'
            ? 'Offline'
            : state === 'error'
              ? 'Error: ' + (message || 'unknown error')
              : message || 'Connecting\u2026';
      this._overlayText.textContent = text;
      this._overlay.hidden = state === 'live';
      if (this._state === state) return;
      this._state = state;
      this.setAttribute('data-state', state);
      this.dispatchEvent(new CustomEvent('statechange', { detail: { state: state } }));
    }

    _fail(message, retry) {
      warn(message);
      this._stop();
      this._setState('error', message);
      if (retry) {
        var self = this;
        this._after(OFFLINE_POLL_MS, function () {
          return self._connect(false);
        });
      }
    }

    _after(ms, fn) {
      var self = this;
      var gen = this._gen;
      var timer = setTimeout(function () {
        self._timers.delete(timer);
        if (gen !== self._gen) return;
        try {
          var p = fn();
          if (p && typeof p.then === 'function') self._run(p);
        } catch (err) {
          warn('unexpected failure', err);
        }
      }, ms);
      this._timers.add(timer);
    }

    /** fetch tied to the current attempt (aborted by teardown) and to a timeout. */
    _fetch(url, init) {
      var ctl = new AbortController();
      var outer = this._abort.signal;
      var onAbort = function () {
        ctl.abort();
      };
      if (outer.aborted) ctl.abort();
      else outer.addEventListener('abort', onAbort, { once: true });
      var timer = setTimeout(onAbort, FETCH_TIMEOUT_MS);
      var opts = Object.assign({}, init || {}, { signal: ctl.signal });
      return fetch(url, opts).finally(function () {
        clearTimeout(timer);
        outer.removeEventListener('abort', onAbort);
      });
    }

    /**
     * GET /api/streams/<id>. Resolves to { kind: 'live' | 'offline' | 'denied' | 'failed', message? };
     * 'failed' covers an unreachable server, which is worth retrying, unlike a refused token.
     */
    _fetchStatus() {
      var id = this.getAttribute('stream') || '';
      var url = this._serverBase() + '/api/streams/' + encodeURIComponent(id) + this._tokenQuery();
      return this._fetch(url, { headers: { accept: 'application/json' } }).then(
        function (res) {
          if (res.ok) return { kind: 'live' };
          if (res.status === 404) return { kind: 'offline' };
          return readError(res).then(function (message) {
            return { kind: res.status === 401 || res.status === 403 ? 'denied' : 'failed', message: message };
          });
        },
        function (err) {
          if (isAbort(err)) throw err;
          return { kind: 'failed', message: "Can't reach the stream server." };
        },
      );
    }

    /** One attempt: status check (unless the caller just did one), events, then WHEP. */
    async _connect(statusKnownLive) {
      var gen = this._gen;
      var id = this.getAttribute('stream') || '';
      if (!id) {
        this._fail('No stream id (set the stream attribute).', false);
        return;
      }
      if (typeof RTCPeerConnection === 'undefined') {
        this._fail('This browser does not support WebRTC.', false);
        return;
      }
      this._setState('connecting');

      if (!statusKnownLive) {
        var status = await this._fetchStatus();
        if (gen !== this._gen) return;
        if (status.kind === 'offline') return this._goOffline();
        if (status.kind === 'denied') return this._fail(status.message, false);
        if (status.kind === 'failed') return this._fail(status.message, true);
      }

      this._openEvents(gen);
      await this._negotiate(gen, id);
    }

    async _negotiate(gen, id) {
      var self = this;
      var server = this._serverBase();
      var token = this.getAttribute('token') || '';
      var pc;
      try {
        pc = new RTCPeerConnection({ iceServers: this._iceServers() });
      } catch (err) {
        this._fail('Could not create a WebRTC connection: ' + errorMessage(err), false);
        return;
      }
      this._pc = pc;
      // The server produces video only; an audio m-line would just be rejected.
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.ontrack = function (ev) {
        if (gen !== self._gen) return;
        self._attachStream(ev.streams && ev.streams[0] ? ev.streams[0] : new MediaStream([ev.track]));
      };
      pc.onconnectionstatechange = function () {
        if (gen !== self._gen) return;
        var s = pc.connectionState;
        if (s === 'failed' || s === 'closed') self._run(self._recover());
      };

      var res;
      try {
        await pc.setLocalDescription(await pc.createOffer());
        await waitForIceGathering(pc, ICE_GATHER_CAP_MS);
        if (gen !== this._gen) return;
        var headers = { 'content-type': 'application/sdp', accept: 'application/sdp' };
        if (token) headers.authorization = 'Bearer ' + token;
        var offer = { method: 'POST', headers: headers, body: pc.localDescription ? pc.localDescription.sdp : '' };
        res = await this._fetch(server + '/whep/' + encodeURIComponent(id), offer);
        if (res.status === 401 && token && res.redirected && res.url) {
          // In a cluster the offer may be redirected (307) to the stream's node, and browsers drop
          // Authorization when a redirect crosses origins: the same offer goes there directly.
          if (gen !== this._gen) return;
          res = await this._fetch(res.url, offer);
        }
      } catch (err) {
        if (gen !== this._gen || isAbort(err)) return;
        this._fail(res === undefined && err instanceof TypeError ? "Can't reach the stream server." : errorMessage(err), true);
        return;
      }
      if (gen !== this._gen) return;

      if (res.status === 201 || res.status === 200) {
        var loc = res.headers.get('location');
        if (loc) {
          try {
            // Remembered before anything else can fail, so teardown always frees the viewer slot.
            // Against the URL that answered: in a cluster the offer may have been redirected (307) to the stream's node.
            this._viewer = { url: new URL(loc, res.url || server + '/').href, token: token };
          } catch (e) {
            warn('ignoring invalid Location header "' + loc + '"', e);
          }
        } else {
          warn('the WHEP answer has no readable Location header; the viewer cannot be ended explicitly');
        }
        try {
          var answer = await res.text();
          if (gen !== this._gen) return;
          await pc.setRemoteDescription({ type: 'answer', sdp: answer });
        } catch (err) {
          if (gen !== this._gen || isAbort(err)) return;
          this._fail('The server sent an unusable answer: ' + errorMessage(err), true);
          return;
        }
        if (gen !== this._gen) return;
        this._after(CONNECT_TIMEOUT_MS, function () {
          if (pc.connectionState !== 'connected') return self._recover();
        });
        return;
      }

      var message = await readError(res);
      if (gen !== this._gen) return;
      if (res.status === 404) return this._goOffline();
      if (res.status === 503) {
        var delay = retryAfterMs(res);
        this._stop();
        this._setState('connecting', 'Too many viewers, retrying\u2026');
        this._after(delay, function () {
          return self._connect(false);
        });
        return;
      }
      // 400/401/403/415 will not fix themselves; a server error might.
      this._fail(message, res.status >= 500);
    }

    _attachStream(stream) {
      var video = this._video;
      if (video.srcObject !== stream) video.srcObject = stream;
      this._playing = false;
      this._sawFrame = false;
      var self = this;
      if (typeof video.requestVideoFrameCallback === 'function') {
        if (this._frameHandle !== null) video.cancelVideoFrameCallback(this._frameHandle);
        this._frameHandle = video.requestVideoFrameCallback(function () {
          self._frameHandle = null;
          self._sawFrame = true;
          self._checkFrames();
        });
      }
      // autoplay covers most browsers; play() covers a srcObject swapped on a playing element.
      var p = video.play();
      if (p && typeof p.catch === 'function') p.catch(function () {});
    }

    /** Live means a decoded picture, not just a connected transport. */
    _checkFrames() {
      if (!this._pc || this._state !== 'connecting') return;
      if (this._video.videoWidth > 0 && (this._playing || this._sawFrame)) this._setState('live');
    }

    _openEvents(gen) {
      if (typeof EventSource === 'undefined') return;
      var self = this;
      var id = this.getAttribute('stream') || '';
      var es;
      try {
        es = new EventSource(this._serverBase() + '/api/streams/' + encodeURIComponent(id) + '/events' + this._tokenQuery());
      } catch (err) {
        warn('could not open the stream events', err);
        return;
      }
      this._es = es;
      var onStateData = function (ev) {
        if (gen !== self._gen) return;
        var data = null;
        try {
          data = JSON.parse(ev.data);
        } catch (e) {
          // A malformed event carries nothing to act on.
        }
        if (data && typeof data.viewers === 'number') self._viewers = data.viewers;
        if (ev.type === 'offline' || (data && data.state === 'offline')) self._goOffline();
      };
      es.addEventListener('state', onStateData);
      es.addEventListener('offline', onStateData);
      es.onerror = function () {
        if (gen !== self._gen) return;
        // EventSource would retry forever on its own, even for a stream that is gone; the
        // status endpoint tells the two apart.
        es.close();
        if (self._es === es) self._es = null;
        self._run(self._recheckEvents(gen));
      };
    }

    async _recheckEvents(gen) {
      var status = await this._fetchStatus();
      if (gen !== this._gen) return;
      if (status.kind === 'offline') return this._goOffline();
      // Still live (or the server is briefly unreachable): the video may well be fine, so only
      // the event stream is reopened, gently.
      var self = this;
      this._after(status.kind === 'live' ? RECONNECT_DELAY_MS : OFFLINE_POLL_MS, function () {
        if (status.kind === 'live') self._openEvents(gen);
        else return self._recheckEvents(gen);
      });
    }

    /** The peer connection failed or closed: offline if the stream ended, otherwise try again shortly. */
    async _recover() {
      this._stop();
      var gen = this._gen;
      this._setState('connecting');
      var status = await this._fetchStatus();
      if (gen !== this._gen) return;
      if (status.kind === 'offline') return this._goOffline();
      if (status.kind === 'denied') return this._fail(status.message, false);
      var self = this;
      this._after(RECONNECT_DELAY_MS, function () {
        return self._connect(false);
      });
    }

    _goOffline() {
      this._stop();
      this._setState('offline');
      this._pollOffline();
    }

    _pollOffline() {
      var self = this;
      this._after(OFFLINE_POLL_MS, async function () {
        var gen = self._gen;
        var status = await self._fetchStatus();
        if (gen !== self._gen) return;
        if (status.kind === 'live') return self._connect(true);
        self._pollOffline();
      });
    }

    /** Ends the current attempt: timers, requests, events, the viewer on the server, the peer connection. */
    _stop() {
      this._gen++;
      this._timers.forEach(function (t) {
        clearTimeout(t);
      });
      this._timers.clear();
      this._abort.abort();
      this._abort = new AbortController();
      if (this._es) {
        this._es.onerror = null;
        this._es.close();
        this._es = null;
      }
      if (this._viewer) {
        sendDelete(this._viewer);
        this._viewer = null;
      }
      if (this._pc) {
        var pc = this._pc;
        this._pc = null;
        pc.ontrack = null;
        pc.onconnectionstatechange = null;
        try {
          pc.close();
        } catch (e) {
          // Already closed.
        }
      }
      if (this._frameHandle !== null) {
        try {
          this._video.cancelVideoFrameCallback(this._frameHandle);
        } catch (e) {
          // Nothing pending.
        }
        this._frameHandle = null;
      }
      this._video.srcObject = null;
      this._playing = false;
      this._sawFrame = false;
      this._viewers = null;
    }
  }

  customElements.define('cyclestream-player', CycleStreamPlayer);
})();
