// The browser side of rtcbot's RTCConnection, with the same names as in Python:
//   const conn = new rtcbot.RTCConnection();
//   conn.video.subscribe((stream) => { videoElement.srcObject = stream; });
//   conn.subscribe((message) => console.log(message));
//   const offer = await conn.getLocalDescription();
//   ... send the offer to Python, get its answer ...
//   await conn.setRemoteDescription(answer);
//   conn.put_nowait({ key: "ArrowUp" });
// Messages are JSON values (sent as JSON text) or ArrayBuffers, as in Python.
// Also RTCBot's inputs and helpers: Keyboard, Gamepad (with setGamepadRate), Queue and
// Websocket, e.g. new rtcbot.Keyboard().subscribe(conn.put_nowait).
"use strict";
var rtcbot = (function () {
  // Callbacks subscribed to a stream of values; values wait for the first subscriber (or,
  // given unheard, go to it while nothing listens).
  class Listeners {
    constructor(unheard = null) { this._callbacks = []; this._waiting = []; this._early = []; this._unheard = unheard; }
    get heard() { return this._callbacks.length > 0 || this._waiting.length > 0; }
    subscribe(callback) {
      if (callback === undefined) return this.get();
      this._callbacks.push(callback);
      for (const value of this._early.splice(0)) callback(value);
      return callback;
    }
    get() {
      if (this._early.length > 0) return Promise.resolve(this._early.shift());
      return new Promise((resolve) => this._waiting.push(resolve));
    }
    put(value) {
      if (this._waiting.length > 0) this._waiting.shift()(value);
      else if (this._callbacks.length === 0 && this._unheard !== null) this._unheard(value);
      else if (this._callbacks.length === 0) this._early.push(value);
      for (const callback of this._callbacks) callback(value);
    }
  }

  // conn.video and conn.audio: tracks to send, and the peer's streams.
  class MediaHandler {
    constructor(kind, pc) {
      this.kind = kind;
      this._pc = pc;
      this._streams = new Listeners();
      this._offerToReceive = 0;
      this._senders = 0;
    }
    // callback(MediaStream) for each stream of this kind the peer sends (asks for one).
    subscribe(callback) { this.offerToReceive(1); return this._streams.subscribe(callback); }
    // Sends a MediaStreamTrack (e.g. from getUserMedia) to the peer.
    putSubscription(track) { this._pc.addTrack(track, new MediaStream([track])); this._senders += 1; }
    offerToReceive(count) { this._offerToReceive = Math.max(this._offerToReceive, count || 1); }
  }

  function encode(message) {
    return message instanceof ArrayBuffer || ArrayBuffer.isView(message) ? message : JSON.stringify(message);
  }
  function decode(data) {
    if (typeof data !== "string") return data;
    try { return JSON.parse(data); } catch (error) { return data; }
  }
  function gatheringComplete(pc, limitMs) {
    return new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      const timer = setTimeout(resolve, limitMs);
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      });
    });
  }

  // Whether the peer is still there, as in Python (rtcbot/webrtc/_liveness.py): a byte each
  // way every heartbeatInterval seconds on a channel both sides make themselves (negotiated,
  // unordered, never resent). After deadAfter / 2 of silence the link is "degraded", after
  // deadAfter the peer is gone. A beat from the peer is answered at once if none went out
  // for half an interval: a hidden tab's timers run once a second at most, its messages do not wait.
  class Liveness {
    constructor(pc, heartbeatInterval, deadAfter, onChange) {
      if (!(heartbeatInterval > 0) || !(deadAfter >= 2 * heartbeatInterval)) {
        throw new RangeError(`deadAfter (${deadAfter} s) must be at least twice heartbeatInterval (${heartbeatInterval} s), which must be positive`);
      }
      this.state = "waiting";
      this.degradations = 0;
      this._intervalMs = heartbeatInterval * 1000;
      this._deadAfterMs = deadAfter * 1000;
      this._onChange = onChange;
      this._lastSent = -Infinity;
      this._timers = [];
      this._beat = null;
      this._channel = pc.createDataChannel("rtcbot-heartbeat", { negotiated: true, id: 1001, ordered: false, maxRetransmits: 0 });
      this._channel.onopen = () => { this._send(); this._beat = setInterval(() => this._send(0.9), this._intervalMs); };
      this._channel.onmessage = () => { this._heard(); this._send(0.5); };
    }
    _send(unlessWithin = 0) {
      const now = performance.now();
      if (this._channel.readyState !== "open" || now - this._lastSent < unlessWithin * this._intervalMs) return;
      this._channel.send(new Uint8Array([1]));
      this._lastSent = now;
    }
    _heard() {
      if (this.state === "gone") return;
      for (const timer of this._timers) clearTimeout(timer);
      this._timers = [
        setTimeout(() => this._change("degraded"), this._deadAfterMs / 2),
        setTimeout(() => { this.stop(); this._change("gone"); }, this._deadAfterMs),
      ];
      if (this.state !== "alive") this._change("alive");
    }
    _change(state) {
      if (state === this.state) return;
      const wasDegraded = this.state === "degraded";
      if (state === "degraded") this.degradations += 1;
      this.state = state;
      this._onChange(state, wasDegraded);
    }
    stop() {
      clearInterval(this._beat);
      for (const timer of this._timers) clearTimeout(timer);
      this._timers = [];
    }
  }

  // conn.onClose(callback) is called once, with why: "closed here", "closed by the peer",
  // "peer gone" (no heartbeat for deadAfter seconds) or "failed" (WebRTC gave up on the link).
  class RTCConnection {
    constructor(defaultChannelOrdered = true, rtcConfiguration = { iceServers: [] }, options = {}) {
      this._pc = new RTCPeerConnection(rtcConfiguration);
      this._ordered = defaultChannelOrdered;
      this._messages = new Listeners();
      this._closed = new Listeners();
      this._ready = new Listeners();
      this._degraded = new Listeners();
      this._recovered = new Listeners();
      this.closeReason = null;
      this._outbox = [];
      this._channel = null;
      const { heartbeatInterval = 0.2, deadAfter = 0.8 } = options;
      this._liveness = new Liveness(this._pc, heartbeatInterval, deadAfter, (state, wasDegraded) => {
        if (state === "degraded") this._degraded.put(state);
        else if (state === "alive" && wasDegraded) this._recovered.put(state);
        else if (state === "gone") this._end("peer gone");
      });
      this.video = new MediaHandler("video", this._pc);
      this.audio = new MediaHandler("audio", this._pc);
      // Bound, so that they can be passed on as they are: kb.subscribe(conn.put_nowait).
      for (const name of ["put_nowait", "send", "subscribe", "get"]) this[name] = this[name].bind(this);
      this._pc.ontrack = (event) => {
        const stream = event.streams[0] || new MediaStream([event.track]);
        (event.track.kind === "video" ? this.video : this.audio)._streams.put(stream);
      };
      this._pc.ondatachannel = (event) => { if (event.channel.label === "default") this._useChannel(event.channel); };
      this._pc.onconnectionstatechange = () => {
        if (this._pc.connectionState === "failed") this._end("failed");
        else if (this._pc.connectionState === "closed") this._end("closed by the peer");
      };
    }
    _end(reason) {
      if (this.closeReason !== null) return;
      this.closeReason = reason;
      this._liveness.stop();
      this._pc.close();
      this._closed.put(reason);
    }
    // callback() once the connection is open (its default channel); without one, a Promise.
    onReady(callback) { return this._ready.subscribe(callback); }
    // "waiting" (no heartbeat yet, or a peer that sends none), "alive", "degraded" or "gone".
    get linkState() { return this._liveness.state; }
    // callback() each time nothing was heard from the peer for deadAfter / 2 seconds, and
    // each time it is heard again after that.
    onDegraded(callback) { return this._degraded.subscribe(callback); }
    onRecovered(callback) { return this._recovered.subscribe(callback); }
    _useChannel(channel) {
      this._channel = channel;
      channel.binaryType = "arraybuffer";
      channel.onmessage = (event) => this._messages.put(decode(event.data));
      channel.onopen = () => { for (const payload of this._outbox.splice(0)) channel.send(payload); this._ready.put(true); };
      channel.onclose = () => this._end("closed by the peer");
    }
    // The offer to send (no argument), or the answer to the peer's offer. Holds every ICE
    // candidate (gathering waits at most 3 s).
    async getLocalDescription(description = null) {
      if (description !== null) await this.setRemoteDescription(description);
      if (this._pc.remoteDescription === null) {
        this._useChannel(this._pc.createDataChannel("default", { ordered: this._ordered }));
        for (const handler of [this.video, this.audio]) {
          for (let i = handler._senders; i < handler._offerToReceive; i++) {
            this._pc.addTransceiver(handler.kind, { direction: "recvonly" });
          }
        }
      }
      await this._pc.setLocalDescription();
      await gatheringComplete(this._pc, 3000);
      return { type: this._pc.localDescription.type, sdp: this._pc.localDescription.sdp };
    }
    async setRemoteDescription(description) { await this._pc.setRemoteDescription(description); }
    // callback(message) for each message from the peer; without a callback, a Promise of the next.
    subscribe(callback) { return this._messages.subscribe(callback); }
    get() { return this._messages.get(); }
    // Sends a JSON value (or an ArrayBuffer); messages wait until the channel opens.
    put_nowait(message) {
      const payload = encode(message);
      if (this._channel !== null && this._channel.readyState === "open") this._channel.send(payload);
      else this._outbox.push(payload);
    }
    send(message) { this.put_nowait(message); }
    // callback(reason) once the connection has closed (see above for the reasons).
    onClose(callback) { return this._closed.subscribe(callback); }
    close() { this._end("closed here"); }
  }

  // The keyboard: each keydown and keyup of the window (key repeats are skipped) as
  // {type, altKey, shiftKey, keyCode, key, timestamp}, timestamp being the event's timeStamp
  // (ms since the page's time origin). Until something subscribes, events are logged to the
  // console, as in RTCBot, and not kept: a key pressed before a robot is connected is not
  // sent to it later.
  // While something listens, the key's default action is prevented (arrow keys and space do
  // not scroll the page), except with Ctrl or Meta held (the browser's shortcuts still work)
  // and in text fields (the page's own inputs still get what is typed).
  class Keyboard {
    constructor() {
      this._events = new Listeners((event) => console.log(event));
      this._onKey = this._onKey.bind(this);
      this.subscribe = this.subscribe.bind(this);
      this.get = this.get.bind(this);
      window.addEventListener("keydown", this._onKey);
      window.addEventListener("keyup", this._onKey);
    }
    _onKey(event) {
      if (this._events.heard && !event.ctrlKey && !event.metaKey && !isTextField(event.target)) event.preventDefault();
      if (event.type === "keydown" && event.repeat) return;
      this._events.put({
        type: event.type,
        altKey: event.altKey,
        shiftKey: event.shiftKey,
        keyCode: event.keyCode,
        key: event.key,
        timestamp: event.timeStamp,
      });
    }
    // callback(event) for each key event; without a callback, a Promise of the next.
    subscribe(callback) { return this._events.subscribe(callback); }
    get() { return this._events.get(); }
    // Stops listening to the keyboard.
    close() {
      window.removeEventListener("keydown", this._onKey);
      window.removeEventListener("keyup", this._onKey);
    }
  }

  function isTextField(target) {
    if (!(target instanceof Element)) return false;
    if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
    const notText = ["button", "checkbox", "radio", "range", "reset", "submit"];
    return target.tagName === "INPUT" && !notText.includes(target.type);
  }

  // What navigator.getGamepads() gives (null entries for empty slots), or [] where the
  // browser has none (no Gamepad API, or none for this page) or refuses.
  function connectedGamepads() {
    try {
      const getGamepads = navigator.getGamepads;
      return typeof getGamepads === "function" ? Array.from(getGamepads.call(navigator) || []) : [];
    } catch (error) {
      return [];
    }
  }

  // One timer polls the gamepads for every Gamepad object, while there is one; the n-th
  // open Gamepad (the first free place) follows navigator.getGamepads()[n].
  const gamepadPoller = {
    intervalMs: 100,
    _followers: [],
    _timer: null,
    add(gamepad) {
      const free = this._followers.indexOf(null);
      if (free === -1) this._followers.push(gamepad);
      else this._followers[free] = gamepad;
      this._restart();
    },
    remove(gamepad) {
      const index = this._followers.indexOf(gamepad);
      if (index !== -1) this._followers[index] = null;
      this._restart();
    },
    _restart() {
      if (this._timer !== null) clearInterval(this._timer);
      this._timer = null;
      if (this._followers.some((gamepad) => gamepad !== null)) {
        this._timer = setInterval(() => this._poll(), this.intervalMs);
      }
    },
    _poll() {
      const pads = connectedGamepads();
      this._followers.forEach((gamepad, index) => { if (gamepad !== null) gamepad._update(pads[index] || null); });
    },
  };

  // Polls the gamepads at rate Hz (10 by default): faster reacts sooner, and sends more.
  function setGamepadRate(rate) {
    if (!(rate > 0 && Number.isFinite(rate))) throw new RangeError("the gamepad rate must be a positive number of Hz");
    gamepadPoller.intervalMs = Math.max(1, Math.round(1000 / rate));
    gamepadPoller._restart();
  }

  // A gamepad (the browser sees one once a button is pressed on it): {type: "btnN", value:
  // true|false} when button N is pressed or released, {type: "axisN", value} when axis N
  // moves, compared between polls (setGamepadRate). What the pad shows when it appears is its
  // starting state, not events. gp.state is the pad's latest state (null when there is none).
  // Until something subscribes, events are logged to the console, as in RTCBot.
  class Gamepad {
    constructor() {
      this._events = new Listeners((event) => console.log(event));
      this._previous = null;
      this.state = null;
      this.subscribe = this.subscribe.bind(this);
      this.get = this.get.bind(this);
      this._closed = false;
      gamepadPoller.add(this);
    }
    _update(pad) {
      this.state = pad;
      if (pad === null) { this._previous = null; return; }
      // Copies: some browsers hand out live objects that change under us.
      const buttons = Array.from(pad.buttons, (button) => Boolean(button.pressed));
      const current = { id: pad.id, buttons: buttons, axes: Array.from(pad.axes) };
      const previous = this._previous;
      this._previous = current;
      if (previous === null || previous.id !== current.id) return;
      current.buttons.forEach((pressed, n) => {
        if (n < previous.buttons.length && pressed !== previous.buttons[n]) {
          this._events.put({ type: "btn" + n, value: pressed });
        }
      });
      current.axes.forEach((value, n) => {
        if (n < previous.axes.length && value !== previous.axes[n]) this._events.put({ type: "axis" + n, value });
      });
    }
    // callback(event) for each button or axis change; without a callback, a Promise of the next.
    subscribe(callback) { return this._events.subscribe(callback); }
    get() { return this._events.get(); }
    // Stops following the gamepad (the timer stops with the last Gamepad).
    close() {
      if (this._closed) return;
      this._closed = true;
      gamepadPoller.remove(this);
    }
  }

  // An asyncio.Queue for the browser: put_nowait(value), and await get() for the values in
  // order (waiting getters get them in the order they asked).
  class Queue {
    constructor() {
      this._values = [];
      this._getters = [];
      this.put_nowait = this.put_nowait.bind(this);
      this.get = this.get.bind(this);
    }
    put_nowait(value) {
      if (this._getters.length > 0) this._getters.shift()(value);
      else this._values.push(value);
    }
    async get() {
      if (this._values.length > 0) return this._values.shift();
      return new Promise((resolve) => this._getters.push(resolve));
    }
    qsize() { return this._values.length; }
    empty() { return this._values.length === 0; }
  }

  // A websocket, e.g. to an aiohttp handler's rtcbot.Websocket(request): "/ws" is on the page's
  // server, and http(s) addresses become ws(s). put_nowait(message) sends strings as they
  // are, ArrayBuffers as binary and other values as JSON (queued until the socket opens);
  // messages received are decoded from JSON when they are JSON, else kept as text
  // (ArrayBuffers for binary), and wait for the first subscriber. As Python's rtcbot.Websocket
  // sends every value as JSON, a string from Python arrives as that string; a string sent
  // from here that is itself JSON text ("42") arrives in Python as the value it spells.
  class Websocket {
    constructor(url) {
      const address = new URL(url, window.location.href);
      if (address.protocol === "http:") address.protocol = "ws:";
      else if (address.protocol === "https:") address.protocol = "wss:";
      this._messages = new Listeners();
      this._closed = new Listeners();
      this._outbox = [];
      for (const name of ["put_nowait", "send", "subscribe", "get"]) this[name] = this[name].bind(this);
      this._ws = new WebSocket(address.href);
      this._ws.binaryType = "arraybuffer";
      this._ws.onmessage = (event) => this._messages.put(decode(event.data));
      this._ws.onopen = () => { for (const payload of this._outbox.splice(0)) this._ws.send(payload); };
      this._ws.onclose = (event) => { this._outbox = []; this._closed.put(event.code); };
    }
    put_nowait(message) {
      const payload = typeof message === "string" ? message : encode(message);
      if (this._ws.readyState === WebSocket.CONNECTING) this._outbox.push(payload);
      else this._ws.send(payload);
    }
    send(message) { this.put_nowait(message); }
    // callback(message) for each message; without a callback, a Promise of the next.
    subscribe(callback) { return this._messages.subscribe(callback); }
    get() { return this._messages.get(); }
    // callback(code) once the socket has closed (the close code: 1000 for a normal close).
    onClose(callback) { return this._closed.subscribe(callback); }
    close() { this._ws.close(); }
  }

  // A connection that comes back. setUp(conn) prepares each new RTCConnection (its media and
  // message subscriptions); signal(offer) sends the offer and returns the answer (postOffer
  // below does it over HTTP). When a connection closes for any reason but close(), a new one
  // (a new RTCPeerConnection and offer: aiortc has no ICE restart) is tried after a back-off,
  // minDelay seconds doubling up to maxDelay, back to minDelay once connected. A try that is
  // not open within tryLimit seconds (signalling included) is given up and retried.
  // onState(callback) gets "connecting", "connected", "degraded", "reconnecting" and "closed".
  class ReconnectingConnection {
    constructor(setUp, signal, options = {}) {
      const { minDelay = 0.25, maxDelay = 1, tryLimit = 5, rtcConfiguration = { iceServers: [] }, heartbeatInterval, deadAfter } = options;
      this._tryLimitMs = tryLimit * 1000;
      this._setUp = setUp;
      this._signal = signal;
      this._delays = [minDelay * 1000, maxDelay * 1000];
      this._delay = this._delays[0];
      this._make = () => new RTCConnection(true, rtcConfiguration, { heartbeatInterval, deadAfter });
      this._states = new Listeners();
      this.state = "connecting";
      this.connection = null;
      this.connections = 0;
      this._closed = false;
      this._timer = null;
      this.put_nowait = this.put_nowait.bind(this);
      this._connect();
    }
    // callback(state) for each change of state; the current one at once.
    onState(callback) { callback(this.state); return this._states.subscribe(callback); }
    _setState(state) {
      if (state === this.state) return;
      this.state = state;
      this._states.put(state);
    }
    async _connect() {
      const conn = this._make();
      this.connection = conn;
      this.connections += 1;
      conn.onDegraded(() => { if (conn === this.connection) this._setState("degraded"); });
      conn.onRecovered(() => { if (conn === this.connection) this._setState("connected"); });
      conn.onClose(() => this._lost(conn));
      const giveUp = setTimeout(() => conn.close(), this._tryLimitMs);
      try {
        this._setUp(conn);
        await conn.setRemoteDescription(await this._signal(await conn.getLocalDescription()));
        await new Promise((resolve, reject) => { conn.onReady(resolve); conn.onClose(reject); });
        clearTimeout(giveUp);
        this._delay = this._delays[0];
        this._setState("connected");
      } catch (error) {
        clearTimeout(giveUp);
        console.log("rtcbot: could not connect:", error && error.message ? error.message : error);
        conn.close();
      }
    }
    _lost(conn) {
      if (conn !== this.connection || this._closed || this._timer !== null) return;
      this._setState("reconnecting");
      this._timer = setTimeout(() => { this._timer = null; if (!this._closed) this._connect(); }, this._delay);
      this._delay = Math.min(this._delay * 2, this._delays[1]);
    }
    // Sends on the current connection; dropped while there is none (a command is not kept
    // for later: a robot must not act on a stale one).
    put_nowait(message) {
      if (this.connection !== null && this.state === "connected") this.connection.put_nowait(message);
    }
    close() {
      this._closed = true;
      clearTimeout(this._timer);
      if (this.connection !== null) this.connection.close();
      this._setState("closed");
    }
  }

  // signal() for ReconnectingConnection (or a single connect): POSTs the offer to url and
  // returns the answer. token goes as "Authorization: Bearer"; session (one per page) as
  // X-RTCBot-Session, so that the server closes this page's earlier connection.
  // A request that gets no answer within limit seconds fails (a link that is down would
  // otherwise hold it for TCP's minutes).
  function postOffer(url = "/connect", token = null, session = null, limit = 2) {
    return async (offer) => {
      const headers = { "Content-Type": "application/json" };
      if (token) headers.Authorization = "Bearer " + token;
      if (session) headers["X-RTCBot-Session"] = session;
      const response = await fetch(url, {
        method: "POST", cache: "no-cache", body: JSON.stringify(offer), headers, signal: AbortSignal.timeout(limit * 1000),
      });
      if (!response.ok) throw new Error("the robot said " + response.status + ": " + (await response.text()));
      return response.json();
    };
  }

  return {
    ReconnectingConnection: ReconnectingConnection,
    postOffer: postOffer,
    RTCConnection: RTCConnection,
    Keyboard: Keyboard,
    Gamepad: Gamepad,
    setGamepadRate: setGamepadRate,
    Queue: Queue,
    Websocket: Websocket,
  };
})();
