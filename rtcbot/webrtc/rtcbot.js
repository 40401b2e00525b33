// The browser side of rtcbot's RTCConnection, with the same names as in Python:
//   const conn = new rtcbot.RTCConnection();
//   conn.video.subscribe((stream) => { videoElement.srcObject = stream; });
//   conn.subscribe((message) => console.log(message));
//   const offer = await conn.getLocalDescription();
//   ... send the offer to Python, get its answer ...
//   await conn.setRemoteDescription(answer);
//   conn.put_nowait({ key: "ArrowUp" });
// Messages are JSON values (sent as JSON text) or ArrayBuffers, as in Python.
"use strict";
var rtcbot = (function () {
  // Callbacks subscribed to a stream of values; values wait for the first subscriber.
  class Listeners {
    constructor() { this._callbacks = []; this._waiting = []; this._early = []; }
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

  class RTCConnection {
    constructor(defaultChannelOrdered = true, rtcConfiguration = { iceServers: [] }) {
      this._pc = new RTCPeerConnection(rtcConfiguration);
      this._ordered = defaultChannelOrdered;
      this._messages = new Listeners();
      this._closed = new Listeners();
      this._outbox = [];
      this._channel = null;
      this.video = new MediaHandler("video", this._pc);
      this.audio = new MediaHandler("audio", this._pc);
      this._pc.ontrack = (event) => {
        const stream = event.streams[0] || new MediaStream([event.track]);
        (event.track.kind === "video" ? this.video : this.audio)._streams.put(stream);
      };
      this._pc.ondatachannel = (event) => { if (event.channel.label === "default") this._useChannel(event.channel); };
      this._pc.onconnectionstatechange = () => {
        if (["closed", "failed"].includes(this._pc.connectionState)) this._closed.put(this._pc.connectionState);
      };
    }
    _useChannel(channel) {
      this._channel = channel;
      channel.binaryType = "arraybuffer";
      channel.onmessage = (event) => this._messages.put(decode(event.data));
      channel.onopen = () => { for (const payload of this._outbox.splice(0)) channel.send(payload); };
      channel.onclose = () => this._closed.put("closed");
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
    // callback(state) once the connection is closed or has failed.
    onClose(callback) { return this._closed.subscribe(callback); }
    close() { this._pc.close(); this._closed.put("closed"); }
  }

  return { RTCConnection: RTCConnection };
})();
