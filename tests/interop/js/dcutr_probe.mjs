// A js-libp2p 2.x peer with @libp2p/dcutr 2.0.38 whose DCUtR exchange is visible: every
// HolePunch message it writes or reads, the fate of each /libp2p/dcutr stream, every
// direct dial DCUtR makes and every connection it gains or loses are printed as JSON
// lines on stdout. Used by test_js_dcutr_*.sh to assert the exchange with holepunch.
//
//   dcutr_probe.mjs listen --relay MA [--listen MA] [--allow-private] [--punch-port P]
//                          [--key FILE] [--timeout SEC]
//     js as DCUtR "B": listens (default /ip4/127.0.0.1/tcp/0), reserves on the relay and
//     prints {"event":"listening"} and {"event":"reserved","addr":<circuit>}. js starts
//     DCUtR itself on every inbound relayed connection whose peer speaks /libp2p/dcutr.
//
//   dcutr_probe.mjs dial MA [--listen MA] [--allow-private] [--punch-port P] [--hold SEC]
//                       [--key FILE] [--timeout SEC]
//     js as DCUtR "A": listens too (so its CONNECT has an address), dials MA (a
//     /p2p-circuit address), waits for identify, watches for --hold seconds (default 8)
//     while the remote runs DCUtR, then echoes 1 KiB over whatever connection
//     it now has to the peer, and prints {"event":"result","ok":true,"conns":[...]}.
//
// --allow-private: @libp2p/dcutr keeps only addresses that are not private
// (isPublicAndDialable: loopback, RFC 1918 and the TEST-NETs count as private), so on
// loopback it never punches. This replaces the service instance's getDialableMultiaddrs
// (the one filter both roles apply to the peer's CONNECT addresses) with the same filter
// minus the private-IP check: not /p2p-circuit, IPv4/IPv6, dialable by a transport we have.
// Nothing else in the module changes (in particular its B-side dial still runs through
// the connection manager, which in libp2p 2.10 drops `initiator:false`).
//
// --punch-port P (both modes): js's CONNECT carries only /ip4/127.0.0.1/tcp/P, and its
// DCUtR dial goes straight to the TCP transport from 127.0.0.1:P (Node binds with
// SO_REUSEADDR; it has no SO_REUSEPORT, so P cannot be the listen port), passing the
// module's `initiator` option, which the transport's upgrader honours. So the two SYNs
// share one 4-tuple, as in a real punch, and js as B really is the Noise responder.
//
// Events (besides listening/reserved/identify/result):
//   dcutr_msg       {dir:"sent"|"recv", role:"A"|"B", stream, type:"CONNECT"|"SYNC"|n,
//                    addrs:[string], raw_hex}
//   dcutr_stream    {role, stream, what:"opened"|"local_abort"|"local_close"|"remote_end"|
//                    "remote_error", error?}
//   dcutr_start     {role:"B", peer, relayed_addr}  (js starts DCUtR as B)
//   dcutr_dial      {addrs, initiator_opt, force, punch_port} / dcutr_dial_result {ok, remote_addr,
//                    direction, error}; after a successful dial, before the module closes
//                    the relayed connection: direct_ping {ok, remote_addr, rtt_ms, error?}
//                    (one /ipfs/ping/1.0.0 round trip on the punched connection)
//   dcutr_log       {level:"info"|"error", msg, error?}  (the module's own log lines)
//   conn_open / conn_close {peer, remote_addr, direction, limited}
import './polyfill.mjs'
import { multiaddr } from '@multiformats/multiaddr'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { Circuit, IP } from '@multiformats/multiaddr-matcher'
import { emit, log, parseArgs, runMain, withTimeout, loadOrGenerateKey, identifyEvent, makeNode } from './common.mjs'
import { ECHO_PROTOCOL, echoHandler, echoOnce, randomData } from './echo.mjs'
import { randomBytes } from 'node:crypto'

const NAME = 'dcutr_probe'
const args = parseArgs(process.argv.slice(2), ['listen', 'relay', 'timeout', 'hold', 'key', 'punch-port'], ['allow-private'])
const mode = args._[0]
const HANDLER_OPTS = { maxInboundStreams: 256, maxOutboundStreams: 256, runOnLimitedConnection: true }
const TYPES = { 100: 'CONNECT', 300: 'SYNC' }

// ---- HolePunch decoding (libp2p-wire.md A9: uvarint length ‖ protobuf) -------------------

function readVarint (buf, pos) {
  let v = 0; let shift = 0
  for (;;) {
    if (pos >= buf.length) return null
    const b = buf[pos++]
    v += (b & 0x7f) * 2 ** shift
    if ((b & 0x80) === 0) return [v, pos]
    shift += 7
    if (shift > 49) throw new Error('varint too long')
  }
}

/** HolePunch{type=1 varint, ObsAddrs=2 bytes}: returns {type, addrs} (addrs as strings). */
function decodeHolePunch (body) {
  let pos = 0; let type = null; const addrs = []
  while (pos < body.length) {
    const k = readVarint(body, pos); if (!k) throw new Error('truncated key')
    pos = k[1]
    const field = Math.floor(k[0] / 8); const wire = k[0] & 7
    if (wire === 0) {
      const v = readVarint(body, pos); if (!v) throw new Error('truncated varint')
      pos = v[1]
      if (field === 1) type = v[0]
    } else if (wire === 2) {
      const l = readVarint(body, pos); if (!l) throw new Error('truncated length')
      const bytes = body.subarray(l[1], l[1] + l[0]); pos = l[1] + l[0]
      if (field === 2) {
        try { addrs.push(multiaddr(bytes).toString()) } catch { addrs.push('invalid:' + Buffer.from(bytes).toString('hex')) }
      }
    } else {
      throw new Error(`unexpected wire type ${wire}`)
    }
  }
  return { type: TYPES[type] ?? type, addrs }
}

/** Feeds bytes of one direction of a dcutr stream; emits one dcutr_msg per whole frame. */
function frameLogger (meta, dir) {
  let acc = new Uint8Array(0)
  return (chunk) => {
    const bytes = chunk.subarray ? chunk.subarray() : chunk
    const next = new Uint8Array(acc.length + bytes.length)
    next.set(acc); next.set(bytes, acc.length); acc = next
    for (;;) {
      const l = readVarint(acc, 0)
      if (!l || acc.length < l[1] + l[0]) return
      const body = acc.subarray(l[1], l[1] + l[0])
      let msg
      try { msg = decodeHolePunch(body) } catch (e) { msg = { type: 'undecodable', addrs: [], error: e.message } }
      emit({ event: 'dcutr_msg', dir, role: meta.role, stream: meta.id, ...msg, raw_hex: Buffer.from(acc.subarray(0, l[1] + l[0])).toString('hex') })
      acc = acc.slice(l[1] + l[0])
    }
  }
}

// ---- wrapping the module's streams and dials ----------------------------------------------

let streamSeq = 0

/** A view of `stream` whose source and sink log the HolePunch frames passing through. */
function tapStream (stream, role) {
  const meta = { role, id: ++streamSeq }
  emit({ event: 'dcutr_stream', role, stream: meta.id, what: 'opened', protocol: stream.protocol ?? null })
  const onRecv = frameLogger(meta, 'recv')
  const onSent = frameLogger(meta, 'sent')
  const source = (async function * () {
    try {
      for await (const chunk of stream.source) { onRecv(chunk); yield chunk }
      emit({ event: 'dcutr_stream', role, stream: meta.id, what: 'remote_end' })
    } catch (e) {
      emit({ event: 'dcutr_stream', role, stream: meta.id, what: 'remote_error', error: String(e?.message ?? e), code: e?.name ?? null })
      throw e
    }
  })()
  const sink = (src) => stream.sink((async function * () {
    for await (const chunk of src) { onSent(chunk); yield chunk }
  })())
  return new Proxy(stream, {
    get (target, prop) {
      if (prop === 'source') return source
      if (prop === 'sink') return sink
      if (prop === 'abort') {
        return (err) => {
          emit({ event: 'dcutr_stream', role, stream: meta.id, what: 'local_abort', error: String(err?.message ?? err) })
          return target.abort(err)
        }
      }
      if (prop === 'close') {
        return (opts) => {
          emit({ event: 'dcutr_stream', role, stream: meta.id, what: 'local_close' })
          return target.close(opts)
        }
      }
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
}

/** One /ipfs/ping/1.0.0 round trip on this very connection; emits direct_ping. */
async function pingOver (conn) {
  const ev = { event: 'direct_ping', remote_addr: conn.remoteAddr.toString(), direction: conn.direction, limited: conn.limits != null }
  try {
    const stream = await conn.newStream('/ipfs/ping/1.0.0', { runOnLimitedConnection: true })
    const data = randomBytes(32)
    const t0 = performance.now()
    const reading = (async () => {
      let got = Buffer.alloc(0)
      for await (const chunk of stream.source) {
        got = Buffer.concat([got, chunk.subarray()])
        if (got.length >= 32) break
      }
      return got
    })()
    await stream.sink([data])
    const got = await withTimeout(reading, 5000, 'ping echo')
    if (!Buffer.from(data).equals(got.subarray(0, 32))) throw new Error(`ping echo mismatch (${got.length} bytes)`)
    emit({ ...ev, ok: true, rtt_ms: performance.now() - t0 })
    await stream.close().catch(() => {})
  } catch (e) {
    emit({ ...ev, ok: false, error: String(e?.message ?? e) })
  }
}

function fmt (args) {
  const [f, ...rest] = args
  if (typeof f !== 'string') return args.map(String).join(' ')
  let i = 0
  return f.replace(/%[a-zA-Z]/g, () => {
    const v = rest[i++]
    return Array.isArray(v) ? v.map(String).join(',') : String(v)
  }) + (i < rest.length ? ' ' + rest.slice(i).map(String).join(' ') : '')
}

/**
 * --punch-port: the DCUtR dial goes straight to the transport (bypassing the dial queue,
 * which drops `initiator`), from 127.0.0.1:PORT, with the module's `initiator` option, so
 * its SYN can meet the remote's SYN to PORT (TCP simultaneous open on one host).
 */
async function punchDial (svc, addrs, opts, port) {
  const errors = []
  for (const ma of (Array.isArray(addrs) ? addrs : [addrs])) {
    // A signal of our own that lives only as long as the dial: the module's 5 s
    // AbortSignal.timeout would otherwise reach the connection and end it 5 s after the
    // DCUtR stream opened (the dial queue, which we bypass, does the same isolation).
    const ac = new AbortController()
    const stop = () => ac.abort(new Error('punch dial timed out or was aborted'))
    const timer = setTimeout(stop, 5000)
    opts.signal?.addEventListener('abort', stop)
    try {
      return await svc.transportManager.dial(ma, {
        signal: ac.signal,
        localAddress: '127.0.0.1',
        localPort: port,
        initiator: opts.initiator
      })
    } catch (e) {
      errors.push(e)
    } finally {
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', stop)
    }
  }
  throw new AggregateError(errors, 'all punch dials failed')
}

/** Patches the DCUtR service instance so its exchange shows up as events. */
function instrument (svc, allowPrivate, punchPort, selfId) {
  if (punchPort) {
    // CONNECT carries only the punch port: that is where our SYN will come from.
    const am = svc.addressManager
    svc.addressManager = new Proxy(am, {
      get (target, prop) {
        if (prop === 'getAddresses') return () => [multiaddr(`/ip4/127.0.0.1/tcp/${punchPort}/p2p/${selfId}`)]
        const v = Reflect.get(target, prop, target)
        return typeof v === 'function' ? v.bind(target) : v
      }
    })
  }
  const origLog = svc.log
  const logger = (...a) => { emit({ event: 'dcutr_log', level: 'info', msg: fmt(a) }); origLog(...a) }
  logger.error = (...a) => {
    const err = a.find(x => x instanceof Error)
    emit({ event: 'dcutr_log', level: 'error', msg: fmt(a.filter(x => !(x instanceof Error))), error: err ? `${err.name}: ${err.message}` : null })
    origLog.error(...a)
  }
  logger.trace = origLog.trace
  svc.log = logger

  // B: the module opens the stream on the relayed connection itself.
  const upgradeInbound = svc.upgradeInbound
  svc.upgradeInbound = (conn) => {
    emit({ event: 'dcutr_start', role: 'B', peer: conn.remotePeer.toString(), relayed_addr: conn.remoteAddr.toString() })
    const view = new Proxy(conn, {
      get (target, prop) {
        if (prop === 'newStream') {
          return async (...a) => tapStream(await target.newStream(...a), 'B')
        }
        const v = Reflect.get(target, prop, target)
        return typeof v === 'function' ? v.bind(target) : v
      }
    })
    return upgradeInbound.call(svc, view)
  }
  // A: the registrar hands the module the inbound stream.
  const handleIncoming = svc.handleIncomingUpgrade
  svc.handleIncomingUpgrade = (stream, conn) => handleIncoming.call(svc, tapStream(stream, 'A'), conn)

  const cm = svc.connectionManager
  svc.connectionManager = new Proxy(cm, {
    get (target, prop) {
      if (prop === 'openConnection') {
        return async (addrs, opts = {}) => {
          const list = (Array.isArray(addrs) ? addrs : [addrs]).map(String)
          emit({ event: 'dcutr_dial', addrs: list, initiator_opt: opts.initiator ?? null, force: opts.force ?? null, punch_port: punchPort })
          try {
            const c = punchPort ? await punchDial(svc, addrs, opts, punchPort) : await target.openConnection(addrs, opts)
            emit({ event: 'dcutr_dial_result', ok: true, remote_addr: c.remoteAddr.toString(), direction: c.direction, limited: c.limits != null })
            // Use the punched connection before the module closes the relayed one (after
            // that the remote may go away): one /ipfs/ping/1.0.0 round trip on it.
            await pingOver(c)
            return c
          } catch (e) {
            emit({ event: 'dcutr_dial_result', ok: false, error: `${e?.name}: ${e?.message}`, errors: (e?.errors ?? []).map(x => `${x?.name}: ${x?.message}`) })
            throw e
          }
        }
      }
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })

  if (allowPrivate) {
    const tm = svc.transportManager
    svc.getDialableMultiaddrs = (addrs) => {
      const out = []
      for (const a of addrs) {
        if (a == null || a.length === 0) continue
        try {
          const ma = multiaddr(a)
          if (Circuit.matches(ma) || !IP.matches(ma) || tm.dialTransportForMultiaddr(ma) == null) continue
          out.push(ma)
        } catch {}
      }
      return out
    }
  }
}

// ---- the node -----------------------------------------------------------------------------

async function buildNode ({ listen, privateKey }) {
  const node = await makeNode({
    privateKey,
    listen,
    services: { dcutr: dcutr() },
    transports: [circuitRelayTransport({ reservationCompletionTimeout: 10000 })]
  })
  instrument(node.services.dcutr, args['allow-private'] === true, args['punch-port'] ? Number(args['punch-port']) : null, node.peerId.toString())
  await node.handle(ECHO_PROTOCOL, echoHandler, HANDLER_OPTS)
  node.addEventListener('peer:identify', (evt) => emit(identifyEvent(evt.detail)))
  const connEvent = (event, c) => emit({ event, peer: c.remotePeer.toString(), remote_addr: c.remoteAddr.toString(), direction: c.direction, limited: c.limits != null })
  node.addEventListener('connection:open', (evt) => connEvent('conn_open', evt.detail))
  node.addEventListener('connection:close', (evt) => connEvent('conn_close', evt.detail))
  return node
}

const directAddr = (node) => node.getMultiaddrs().find(a => a.toString().startsWith('/ip4/') && !a.toString().includes('/p2p-circuit'))

async function listenMode () {
  if (!args.relay) throw new Error('listen needs --relay MA')
  const privateKey = await loadOrGenerateKey(args.key)
  const node = await buildNode({ listen: [args.listen ?? '/ip4/127.0.0.1/tcp/0', `${args.relay}/p2p-circuit`], privateKey })
  let reserved = false
  const reportCircuit = () => {
    const circuit = node.getMultiaddrs().find(a => a.toString().includes('/p2p-circuit'))
    if (circuit && !reserved) {
      reserved = true
      emit({ event: 'reserved', addr: circuit.toString(), peer: node.peerId.toString() })
    }
  }
  node.addEventListener('self:peer:update', reportCircuit)
  await node.start()
  const direct = directAddr(node)
  if (!direct) throw new Error('no direct listen address')
  emit({ event: 'listening', addr: direct.toString(), peer: node.peerId.toString(), allow_private: args['allow-private'] === true })
  log(NAME, 'listening on', direct.toString())
  reportCircuit()
}

async function dialMode () {
  if (!args._[1]) throw new Error('dial needs a multiaddr')
  const target = multiaddr(args._[1])
  const remote = target.getPeerId()
  if (!remote) throw new Error('dial address needs /p2p/<peer id>')
  const privateKey = await loadOrGenerateKey(args.key)
  const node = await buildNode({ listen: [args.listen ?? '/ip4/127.0.0.1/tcp/0'], privateKey })
  const identified = new Promise((resolve) => {
    node.addEventListener('peer:identify', (evt) => {
      if (evt.detail.peerId.toString() === remote) resolve(evt.detail)
    })
  })
  await node.start()
  emit({ event: 'listening', addr: directAddr(node)?.toString() ?? null, peer: node.peerId.toString(), allow_private: args['allow-private'] === true })
  const conn = await withTimeout(node.dial(target), 15000, 'dial')
  emit({ event: 'connected', peer: conn.remotePeer.toString(), remote_addr: conn.remoteAddr.toString(), limited: conn.limits != null })
  if (conn.remotePeer.toString() !== remote) throw new Error(`dialed ${remote} but reached ${conn.remotePeer}`)
  await withTimeout(identified, 15000, 'identify of the remote')

  // Let the remote (B) run its DCUtR attempts while we only watch.
  await new Promise(resolve => setTimeout(resolve, 1000 * Number(args.hold ?? 8)))

  // Then use whatever connection is left: the direct one if the punch worked, else the circuit.
  const conns = node.getConnections(conn.remotePeer).filter(c => c.status === 'open')
  const summary = conns.map(c => ({ remote_addr: c.remoteAddr.toString(), direction: c.direction, limited: c.limits != null }))
  if (conns.length === 0) throw new Error('no open connection to the peer after the hold period')
  const use = conns.find(c => c.limits == null) ?? conns[0]
  const data = randomData(1024)
  await withTimeout(echoOnce(use, data, { runOnLimitedConnection: true }), 10000, 'echo after dcutr')
  // (No ping service call here: node.services.ping.ping(peer) makes js dial a direct
  // address of the peer when its only connection is limited, which would hide the outcome.)
  emit({ event: 'result', ok: true, peer: remote, conns: summary, echo_over: use.remoteAddr.toString(), echo_limited: use.limits != null, echo_bytes: data.length })
  await node.stop()
  process.exit(0)
}

const modes = { listen: listenMode, dial: dialMode }
if (!modes[mode]) {
  process.stderr.write('usage: dcutr_probe.mjs listen|dial MA [options] (see the top of dcutr_probe.mjs)\n')
  process.exit(2)
}
runMain(NAME, Number(args.timeout ?? (mode === 'listen' ? 120 : 50)), modes[mode], { expiryIsOk: mode === 'listen' })
