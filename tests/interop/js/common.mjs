// Shared helpers for the interop scripts: JSON events on stdout, logs on stderr, argument
// parsing, an overall deadline, key files, and the node factory used by peer.mjs,
// relay.mjs and bench/js_perf.mjs.
import './polyfill.mjs'
import { readFile, writeFile } from 'node:fs/promises'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

// Re-exported for scripts outside tests/interop (bench/), which resolve packages from here.
export { multiaddr } from '@multiformats/multiaddr'

/** One JSON object per line on stdout: the machine-readable result of a script. */
export function emit (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

/** Human-readable progress on stderr, prefixed with the script name. */
export function log (name, ...args) {
  process.stderr.write(`[${name}] ${args.join(' ')}\n`)
}

/**
 * Parses `argv` into { _: [positional...], flag: value }. Flags listed in `booleans` take no
 * value; every other `--flag` takes the next argument. Unknown flags are an error so that
 * a typo in a test fails loudly instead of silently using a default.
 */
export function parseArgs (argv, known, booleans = []) {
  const out = { _: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) { out._.push(a); continue }
    const name = a.slice(2)
    if (booleans.includes(name)) { out[name] = true; continue }
    if (!known.includes(name)) throw new Error(`unknown option ${a}`)
    if (i + 1 >= argv.length) throw new Error(`option ${a} needs a value`)
    out[name] = argv[++i]
  }
  return out
}

/**
 * Runs `main` with an overall deadline. On success exits 0, on an exception or when the
 * deadline passes prints {"event":"result","ok":false,"error":...} and exits 1.
 * `main` may return without exiting (listeners) and the process keeps running until
 * killed or until the deadline, which then is a clean exit 0 when `expiryIsOk`.
 */
export function runMain (name, seconds, main, { expiryIsOk = false } = {}) {
  const timer = setTimeout(() => {
    if (expiryIsOk) {
      log(name, `lifetime of ${seconds}s reached, exiting`)
      process.exit(0)
    }
    emit({ event: 'result', ok: false, error: `timeout after ${seconds}s` })
    log(name, `timeout after ${seconds}s`)
    process.exit(1)
  }, seconds * 1000)
  timer.unref?.()
  if (expiryIsOk) timer.ref?.()
  const fail = (err) => {
    emit({ event: 'result', ok: false, error: String(err?.message ?? err) })
    log(name, 'failed:', err?.stack ?? err)
    process.exit(1)
  }
  process.on('unhandledRejection', fail)
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0))
  Promise.resolve().then(main).catch(fail)
}

/** Rejects with a named timeout error if `promise` has not settled within `ms`. */
export function withTimeout (promise, ms, what) {
  let t
  const timeout = new Promise((_resolve, reject) => {
    t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(t))
}

/** Loads a libp2p protobuf PrivateKey file, or generates a key of `type`. */
export async function loadOrGenerateKey (file, type = 'Ed25519') {
  if (file != null) return privateKeyFromProtobuf(new Uint8Array(await readFile(file)))
  return type === 'RSA' ? generateKeyPair('RSA', 2048) : generateKeyPair(type)
}

/** Writes `key` in libp2p's protobuf PrivateKey format (the format our key files use). */
export async function writeKey (file, key) {
  await writeFile(file, privateKeyToProtobuf(key), { mode: 0o600 })
}

export function peerIdOf (key) {
  return peerIdFromPrivateKey(key).toString()
}

/** The JSON form of an identify result, as peer.mjs prints it and the tests assert it. */
export function identifyEvent (result) {
  return {
    event: 'identify',
    peer: result.peerId.toString(),
    agent: result.agentVersion ?? null,
    protocol_version: result.protocolVersion ?? null,
    protocols: [...result.protocols].sort(),
    listen_addrs: result.listenAddrs.map(a => a.toString()),
    observed: result.observedAddr?.toString() ?? null
  }
}

/**
 * Creates (but does not start) a js-libp2p node with TCP, Noise, Yamux, identify and ping,
 * plus any `extra` services and transports. Connection limits are raised because the tests
 * open 64 concurrent streams on one connection.
 */
export async function makeNode ({ privateKey, listen = ['/ip4/127.0.0.1/tcp/0'], services = {}, transports = [], userAgent }) {
  return createLibp2p({
    privateKey,
    ...(userAgent ? { nodeInfo: { userAgent } } : {}),
    start: false,
    addresses: { listen },
    transports: [tcp(), ...transports],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ maxInboundStreams: 1024, maxOutboundStreams: 1024 })],
    connectionManager: { maxConnections: 256, inboundConnectionThreshold: 1000 },
    connectionGater: {
      // Loopback is what every test uses; js-libp2p otherwise refuses private addresses
      // in some code paths (relay reservations, dcutr candidates).
      denyDialMultiaddr: () => false
    },
    services: {
      identify: identify({ timeout: 10000 }),
      ping: ping({ timeout: 10000, runOnLimitedConnection: true }),
      ...services
    }
  })
}
