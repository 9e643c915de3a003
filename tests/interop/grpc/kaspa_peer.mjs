#!/usr/bin/env node
// A Kaspa P2P peer on @grpc/grpc-js with rusty-kaspa's own proto files: an independent
// implementation to interoperate with our C gRPC/HTTP/2 stack and handshake.
//
//   node kaspa_peer.mjs client HOST:PORT [options]   dial our server (the dialer is the gRPC client)
//   node kaspa_peer.mjs server HOST:PORT [options]   serve; our client dials (port 0: ephemeral)
//
// Options:
//   --network NAME         Version.network (default kaspa-mainnet)
//   --version N            Version.protocolVersion (default 10)
//   --pings N              after Ready, send N Pings and check each Pong's nonce (default 3)
//   --expect-reject TEXT   succeed only if a Reject containing TEXT arrives
//   --timeout MS           give up (exit 3) after MS (default 15000)
//   --no-gzip              client: send identity instead of gzip
//   --until-peer-ends      server: after its own pings, serve (answer Pings) until the
//                          client ends the call, instead of exiting at once
// Output: one JSON object per line on stdout ({"event": ...}); exit 0 on success.
// Handshake as rusty-kaspa (handshake.rs): both send Version at once, Verack on Version,
// checks, Ready; answer Ping with Pong and RequestAddresses with an empty Addresses.
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
// node_modules lives in tests/interop/ (one level up)
const require = createRequire(path.join(here, '..', 'package.json'));
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const argv = process.argv.slice(2);
const mode = argv[0];
const target = argv[1];
const opt = { network: 'kaspa-mainnet', version: 10, pings: 3, expectReject: null, timeout: 15000, gzip: true };
for (let i = 2; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--network') opt.network = argv[++i];
  else if (a === '--version') opt.version = Number(argv[++i]);
  else if (a === '--pings') opt.pings = Number(argv[++i]);
  else if (a === '--expect-reject') opt.expectReject = argv[++i];
  else if (a === '--timeout') opt.timeout = Number(argv[++i]);
  else if (a === '--no-gzip') opt.gzip = false;
  else if (a === '--until-peer-ends') opt.untilPeerEnds = true;
  else { console.error(`unknown option ${a}`); process.exit(2); }
}
if ((mode !== 'client' && mode !== 'server') || !target) {
  console.error('usage: kaspa_peer.mjs client|server HOST:PORT [options]');
  process.exit(2);
}

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const def = protoLoader.loadSync(path.join(here, 'proto', 'messages.proto'), {
  includeDirs: [path.join(here, 'proto')], keepCase: true, longs: String, enums: String,
  defaults: true, oneofs: true,
});
const protowire = grpc.loadPackageDefinition(def).protowire;
const nodeId = crypto.randomBytes(16);

let finished = false;
function finish(code, why) {
  if (finished) return;
  finished = true;
  out({ event: 'exit', code, why });
  setTimeout(() => process.exit(code), 50);
}
setTimeout(() => finish(3, 'timeout'), opt.timeout).unref();

// One Kaspa conversation over a duplex gRPC call (client or server side).
function converse(call, side) {
  const st = { version: null, verack: false, readySent: false, ready: false, pingsOk: 0, nonce: null, sentAt: 0 };
  const send = (m) => { try { call.write(m); } catch (e) { out({ event: 'write_error', error: String(e) }); } };
  const reject = (reason) => { out({ event: 'reject_sent', reason }); send({ reject: { reason } }); setTimeout(() => endCall(), 20); };
  const endCall = () => { try { call.end(); } catch (e) { /* already ended */ } };

  send({ version: { protocolVersion: opt.version, services: '0', timestamp: String(Date.now()), id: nodeId,
                    userAgent: '/grpc-js-peer:0.1/', disableRelayTx: false, network: opt.network } });

  const sendPing = () => {
    st.nonce = BigInt.asUintN(64, BigInt('0x' + crypto.randomBytes(8).toString('hex'))).toString();
    st.sentAt = Date.now();
    send({ ping: { nonce: st.nonce } });
  };
  const maybeChecks = () => {
    if (!st.version || !st.verack || st.readySent) return;
    const v = st.version;
    if (Buffer.from(v.id).equals(nodeId)) return reject('LOOPBACK_CONNECTION');
    if (v.network !== opt.network) return reject(`Network mismatch - local: ${opt.network}, remote: ${v.network}`);
    out({ event: 'handshake', side, version: v.protocolVersion, network: v.network, user_agent: v.userAgent,
          id: Buffer.from(v.id).toString('hex') });
    st.readySent = true;
    send({ ready: {} });
    maybeReady();
  };
  const maybeReady = () => {
    if (!st.readySent || !st.ready || st.readyDone) return;
    st.readyDone = true;
    out({ event: 'ready', side });
    if (opt.pings > 0) sendPing();
    else if (!opt.expectReject) done();
  };
  const done = () => {
    out({ event: 'done', side, pings: st.pingsOk });
    if (mode === 'client') endCall();
    else if (!opt.untilPeerEnds) finish(0, 'ok');
  };

  call.on('data', (m) => {
    if (process.env.KASPA_PEER_DEBUG) out({ event: 'debug_recv', side, payload: m.payload });
    switch (m.payload) {
      case 'version':
        if (st.version) return reject('unexpected second Version');
        st.version = m.version;
        send({ verack: {} });
        return maybeChecks();
      case 'verack':
        st.verack = true;
        return maybeChecks();
      case 'ready':
        st.ready = true;
        return maybeReady();
      case 'ping':
        if (!st.readyDone) return reject('ping before Ready');
        return send({ pong: { nonce: m.ping.nonce } });
      case 'pong':
        if (m.pong.nonce !== st.nonce) return reject('ping nonce mismatch');
        st.pingsOk++;
        out({ event: 'ping', side, rtt_ms: Date.now() - st.sentAt, nonce: m.pong.nonce });
        st.nonce = null;
        if (st.pingsOk < opt.pings) sendPing(); else if (!opt.expectReject) done();
        return;
      case 'requestAddresses':
        out({ event: 'request_addresses', side });
        return send({ addresses: { addressList: [] } });
      case 'addresses':
        out({ event: 'addresses', side, count: m.addresses.addressList.length });
        return;
      case 'reject':
        out({ event: 'reject', side, reason: m.reject.reason });
        if (opt.expectReject && m.reject.reason.includes(opt.expectReject)) return finish(0, 'expected reject');
        return finish(1, 'rejected');
      default:
        out({ event: 'ignored', side, payload: m.payload });
    }
  });
  call.on('error', (e) => {
    out({ event: 'call_error', side, code: e.code, details: e.details });
    if (!finished) finish(st.pingsOk >= opt.pings && st.readyDone && !opt.expectReject ? 0 : 1, 'call error');
  });
  call.on('status', (s) => {
    out({ event: 'status', side, code: s.code, details: s.details });
    if (mode === 'client') finish(s.code === 0 && st.readyDone && st.pingsOk >= opt.pings && !opt.expectReject ? 0 : 1, 'status');
  });
  call.on('end', () => {
    out({ event: 'end', side });
    if (mode === 'server') { endCall(); finish(st.readyDone && st.pingsOk >= opt.pings && !opt.expectReject ? 0 : 1, 'peer ended'); }
  });
}

const big = 1 << 30; // rusty-kaspa's P2P_MAX_MESSAGE_SIZE
if (mode === 'client') {
  const options = { 'grpc.max_receive_message_length': big, 'grpc.max_send_message_length': big };
  if (opt.gzip) options['grpc.default_compression_algorithm'] = 2; // gzip, as a Kaspa client
  const client = new protowire.P2P(target, grpc.credentials.createInsecure(), options);
  const call = client.MessageStream();
  converse(call, 'client');
} else {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': big, 'grpc.max_send_message_length': big });
  server.addService(protowire.P2P.service, {
    MessageStream: (call) => {
      // Response HEADERS now: a Kaspa client waits for them before it sends Version.
      call.sendMetadata(new grpc.Metadata());
      const md = call.metadata.getMap();
      out({ event: 'request', path: '/protowire.P2P/MessageStream', grpc_encoding: call.metadata.get('grpc-encoding')[0] ?? null,
            grpc_accept_encoding: md['grpc-accept-encoding'] ?? null, user_agent: md['user-agent'] ?? null });
      converse(call, 'server');
    },
  });
  server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) { out({ event: 'listen_error', error: String(err) }); process.exit(2); }
    out({ event: 'listening', port });
  });
}
