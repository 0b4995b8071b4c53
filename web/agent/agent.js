// Callwerk agent desktop: JsSIP over WebSocket, WebRTC media, agent state
// by feature codes sent as SIP MESSAGE. window.callwerk exposes the page's
// state to tests.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const cw = window.callwerk = { registered: false, callState: 'idle', state: '', error: '', session: null };
  let ua = null, cfg = null, session = null, poll = null;

  function setReg(text, cls) { const r = $('reg'); r.textContent = text; r.className = 'pill ' + cls; }
  function show(id, on) { $(id).hidden = !on; }
  function setCall(state) {
    cw.callState = state;
    show('incoming', state === 'ringing');
    show('incall', state === 'talking' || state === 'held');
    $('call-state').textContent = state === 'held' ? 'on hold' : 'talking';
    $('call-state').className = 'pill ' + (state === 'held' ? 'warn' : 'on');
    $('hold').textContent = state === 'held' ? 'Resume' : 'Hold';
  }
  function header(req, name) { try { return req.getHeader(name) || ''; } catch (e) { return ''; } }
  const mediaOptions = { mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } };

  async function loadConfig() {
    const res = await fetch('config.json', { cache: 'no-store' });
    if (!res.ok) throw new Error('config: ' + res.status);
    cfg = await res.json();
    const sel = $('reason');
    sel.textContent = '';
    (cfg.pause_reasons || []).forEach((r, i) => { const o = document.createElement('option'); o.value = String(i + 1); o.textContent = r; sel.appendChild(o); });
    show('pause', sel.options.length > 0); show('reason', sel.options.length > 0);
  }

  function signIn(agent, password) {
    if (!cfg.websocket) { $('signin-error').textContent = 'This node has no WebSocket listener for phones.'; return; }
    const socket = new JsSIP.WebSocketInterface(cfg.websocket);
    ua = new JsSIP.UA({
      sockets: [socket], uri: 'sip:' + agent + '@' + cfg.domain, password: password,
      register: true, register_expires: 300, session_timers: false, user_agent: 'callwerk-agent-desktop',
      connection_recovery_min_interval: 1, connection_recovery_max_interval: 8,
    });
    ua.on('connecting', () => setReg('connecting', 'warn'));
    ua.on('disconnected', () => { cw.registered = false; setReg('reconnecting', 'warn'); });
    ua.on('registered', () => {
      cw.registered = true; cw.error = ''; setReg('signed in as ' + agent, 'on'); show('signin', false); show('desk', true);
      refreshState(); // after a reconnect too: the node's word, not the page's memory
      if (!poll) poll = setInterval(refreshState, 5000);
    });
    ua.on('unregistered', () => { cw.registered = false; setReg('signed out', 'off'); });
    ua.on('registrationFailed', (e) => {
      cw.registered = false; cw.error = e.cause;
      setReg('sign-in failed', 'off'); $('signin-error').textContent = 'Sign-in failed: ' + e.cause;
    });
    ua.on('newRTCSession', (e) => { if (e.originator === 'remote') incoming(e.session, e.request); });
    ua.start();
  }

  function incoming(s, req) {
    if (session) { s.terminate({ status_code: 486, reason_phrase: 'Busy Here' }); return; }
    session = cw.session = s;
    $('in-queue').textContent = header(req, 'X-Callwerk-Queue') || (req.from && req.from.display_name) || '';
    $('in-caller').textContent = header(req, 'X-Callwerk-Caller') || 'unknown';
    const waited = parseInt(header(req, 'X-Callwerk-Waited'), 10);
    $('in-waited').textContent = isNaN(waited) ? '' : Math.floor(waited / 60) + ' min ' + (waited % 60) + ' s';
    setCall('ringing');
    s.on('peerconnection', (e) => attachAudio(e.peerconnection));
    s.on('confirmed', () => { if (s.connection) attachAudio(s.connection); setCall('talking'); setTimeout(refreshState, 300); });
    s.on('hold', () => setCall('held'));
    s.on('unhold', () => setCall('talking'));
    const end = () => { if (session === s) { session = cw.session = null; setCall('idle'); setTimeout(refreshState, 300); } };
    s.on('ended', end); s.on('failed', end);
    if ($('autoanswer').checked) answer();
  }

  function attachAudio(pc) {
    pc.addEventListener('track', (e) => { const a = $('remote'); a.srcObject = e.streams[0] || new MediaStream([e.track]); a.play().catch(() => {}); });
  }

  function answer() { if (session && cw.callState === 'ringing') session.answer(mediaOptions); }

  // The agent's state as the node has it (MESSAGE to *20).
  function refreshState() {
    if (!ua || !cw.registered) return;
    ua.sendMessage('sip:*20@' + cfg.domain, 'state', {
      contentType: 'text/plain',
      eventHandlers: { succeeded: (e) => { cw.state = String((e.response && e.response.body) || '').trim(); $('state').textContent = cw.state; } },
    });
  }

  // A state change by feature code (MESSAGE), then the state as it now is.
  function feature(code, label) {
    $('state-note').textContent = '';
    ua.sendMessage('sip:' + code + '@' + cfg.domain, label, {
      contentType: 'text/plain',
      eventHandlers: {
        succeeded: refreshState,
        failed: (e) => { $('state-note').textContent = label + ' refused: ' + ((e.response && e.response.reason_phrase) || e.cause); },
      },
    });
  }

  // Test hook: the call's RTP counters from getStats.
  cw.stats = async function () {
    if (!session || !session.connection) return null;
    const out = { packetsReceived: 0, packetsSent: 0, codec: '' };
    (await session.connection.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') out.packetsReceived = r.packetsReceived;
      if (r.type === 'outbound-rtp' && r.kind === 'audio') out.packetsSent = r.packetsSent;
      if (r.type === 'codec' && /audio\/(PCMU|PCMA)/i.test(r.mimeType)) out.codec = r.mimeType;
    });
    return out;
  };

  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault(); $('signin-error').textContent = '';
    signIn($('agent').value.trim(), $('password').value);
  });
  $('signout').addEventListener('click', () => {
    if (poll) { clearInterval(poll); poll = null; }
    if (ua) { ua.stop(); ua = null; }
    show('desk', false); show('signin', true);
  });
  $('available').addEventListener('click', () => feature('*21', 'available'));
  $('pause').addEventListener('click', () => { const o = $('reason').selectedOptions[0]; feature('*22' + o.value, 'paused: ' + o.textContent); });
  $('endwrapup').addEventListener('click', () => feature('*23', 'wrap-up ended'));
  $('answer').addEventListener('click', answer);
  $('decline').addEventListener('click', () => { if (session) session.terminate({ status_code: 486, reason_phrase: 'Busy Here' }); });
  $('hangup').addEventListener('click', () => { if (session) session.terminate(); });
  $('hold').addEventListener('click', () => { if (!session) return; if (session.isOnHold().local) session.unhold(); else session.hold(); });
  $('transfer').addEventListener('click', () => {
    const to = $('transfer-to').value.trim();
    if (session && to) session.refer('sip:' + to + '@' + cfg.domain);
  });
  loadConfig().catch((e) => { $('signin-error').textContent = String(e); });
})();
