// A js-libp2p 2.x circuit-relay-v2 server (hop) for interop tests, with identify and ping.
//
//   relay.mjs [--listen MA | --port N] [--key FILE] [--write-key FILE] [--timeout SEC]
//             [--limit-bytes N] [--limit-seconds N]
//
// Listens on --listen (default /ip4/127.0.0.1/tcp/<--port or 0>) and prints
// {"event":"listening","addr":"<multiaddr with /p2p/>","peer"}, then
// {"event":"reservation","peer","addr","expiry"} for every reservation it grants and
// {"event":"identify",...} for every peer it identifies. Runs until killed or --timeout
// seconds (default 300). The per-circuit limits default to js-libp2p's (2 min, 128 KiB).
import './polyfill.mjs'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import {
  emit, log, parseArgs, runMain, loadOrGenerateKey, writeKey, identifyEvent, makeNode
} from './common.mjs'

const NAME = 'relay'
const args = parseArgs(process.argv.slice(2),
  ['listen', 'port', 'key', 'write-key', 'key-type', 'timeout', 'limit-bytes', 'limit-seconds'])

async function main () {
  const privateKey = await loadOrGenerateKey(args.key, args['key-type'])
  if (args['write-key']) await writeKey(args['write-key'], privateKey)
  const listen = args.listen ?? `/ip4/127.0.0.1/tcp/${args.port ?? 0}`
  const reservations = { maxReservations: 128, reservationClearInterval: 60_000 }
  if (args['limit-bytes'] || args['limit-seconds']) {
    reservations.applyDefaultLimit = true
    if (args['limit-bytes']) reservations.defaultDataLimit = BigInt(args['limit-bytes'])
    if (args['limit-seconds']) reservations.defaultDurationLimit = Number(args['limit-seconds']) * 1000
  }
  const node = await makeNode({
    privateKey,
    listen: [listen],
    services: { relay: circuitRelayServer({ reservations, hopTimeout: 10_000 }) }
  })
  node.addEventListener('peer:identify', (evt) => emit(identifyEvent(evt.detail)))
  // js-libp2p 2.10 declares a 'relay:reservation' event but never dispatches it, so the
  // reservation table is polled instead.
  const seen = new Map()
  setInterval(() => {
    for (const [peer, r] of node.services.relay.reservations.entries()) {
      const key = peer.toString()
      const expiry = r.expiry.toISOString()
      if (seen.get(key) === expiry) continue
      seen.set(key, expiry)
      emit({ event: 'reservation', peer: key, addr: r.addr.toString(), expiry })
    }
  }, 100).unref()
  await node.start()
  const addr = node.getMultiaddrs().find(a => a.toString().startsWith('/ip4/'))
  if (!addr) throw new Error('no listen address')
  emit({ event: 'listening', addr: addr.toString(), peer: node.peerId.toString() })
  log(NAME, 'relay listening on', addr.toString())
}

runMain(NAME, Number(args.timeout ?? 300), main, { expiryIsOk: true })
