// A stand-in for our `holepunch` binary, built on js-libp2p, that speaks the CLI the
// wip_*.sh interop tests are written against. It exists only to check those scripts'
// own logic before the real binary exists (see README.md); no test_*.sh uses it, and a
// test passing against it says nothing about holepunch.
//
//   mock_holepunch.mjs listen --listen MA [--relay MA] --key FILE --log-format json
//   mock_holepunch.mjs ping MA --count N --log-format json
//   mock_holepunch.mjs perf MA --upload BYTES --download BYTES --log-format json
//   mock_holepunch.mjs echo MA --streams N --bytes N --log-format json
//   mock_holepunch.mjs keygen --key FILE | id --key FILE     (peer ID on stdout)
// JSON log lines go to stderr, as holepunch's do.
import './polyfill.mjs'
import { existsSync } from 'node:fs'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { parseArgs, runMain, withTimeout, loadOrGenerateKey, writeKey, peerIdOf, identifyEvent, makeNode, multiaddr } from './common.mjs'
import { ECHO_PROTOCOL, echoHandler, echoMany, echoOnce, randomData } from './echo.mjs'
import { PERF_PROTOCOL, perfHandler, perfRun } from './perf.mjs'

const args = parseArgs(process.argv.slice(2), ['listen', 'relay', 'key', 'log-format', 'count', 'upload', 'download', 'streams', 'bytes'])
const cmd = args._[0]
const LIM = { runOnLimitedConnection: true }
const jlog = (obj) => process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), level: 'info', ...obj }) + '\n')

async function keyFromArgs () {
  if (args.key && existsSync(args.key)) return loadOrGenerateKey(args.key)
  const key = await loadOrGenerateKey(undefined)
  if (args.key) await writeKey(args.key, key)
  return key
}

async function node (listen) {
  const n = await makeNode({ privateKey: await keyFromArgs(), listen, userAgent: 'mock-holepunch/0', transports: [circuitRelayTransport()] })
  const opts = { maxInboundStreams: 256, maxOutboundStreams: 256, runOnLimitedConnection: true }
  await n.handle(ECHO_PROTOCOL, echoHandler, opts)
  await n.handle(PERF_PROTOCOL, perfHandler, opts)
  n.addEventListener('peer:identify', (evt) => jlog(identifyEvent(evt.detail)))
  await n.start()
  return n
}

async function dial (n) {
  const target = multiaddr(args._[1])
  const conn = await withTimeout(n.dial(target), 15000, 'dial')
  if (conn.remotePeer.toString() !== target.getPeerId()) throw new Error('peer id mismatch')
  return conn
}

const cmds = {
  async listen () {
    const listen = [args.listen ?? '/ip4/127.0.0.1/tcp/0']
    if (args.relay) listen.push(`${args.relay}/p2p-circuit`)
    const n = await node(listen)
    jlog({ event: 'listening', addr: n.getMultiaddrs()[0].toString() })
  },
  async ping () {
    const n = await node([])
    const conn = await dial(n)
    await new Promise(resolve => setTimeout(resolve, 300))
    for (let i = 0; i < Number(args.count ?? 3); i++) {
      jlog({ event: 'ping', peer: conn.remotePeer.toString(), rtt_ms: await n.services.ping.ping(conn.remotePeer, LIM) })
    }
    process.exit(0)
  },
  async perf () {
    const n = await node([])
    const conn = await dial(n)
    const up = await perfRun(conn, Number(args.upload), 0)
    const down = await perfRun(conn, 0, Number(args.download))
    jlog({
      event: 'perf',
      upload_bytes: up.upload_bytes,
      download_bytes: down.download_bytes,
      upload_mbps: up.upload_bytes * 8 / up.total_seconds / 1e6,
      download_mbps: down.download_bytes * 8 / down.total_seconds / 1e6
    })
    process.exit(0)
  },
  async echo () {
    const n = await node([])
    const conn = await dial(n)
    await echoMany(conn, Number(args.streams ?? 64), 4096, LIM)
    await echoOnce(conn, randomData(Number(args.bytes ?? 16777216)), LIM)
    process.stdout.write(JSON.stringify({ event: 'echo_result', ok: true }) + '\n')
    process.exit(0)
  },
  async keygen () {
    process.stdout.write(peerIdOf(await keyFromArgs()) + '\n')
    process.exit(0)
  },
  async id () {
    process.stdout.write(peerIdOf(await loadOrGenerateKey(args.key)) + '\n')
    process.exit(0)
  }
}
if (!cmds[cmd]) { process.stderr.write('unknown command\n'); process.exit(2) }
runMain('mock_holepunch', cmd === 'listen' ? 300 : 60, cmds[cmd], { expiryIsOk: cmd === 'listen' })
