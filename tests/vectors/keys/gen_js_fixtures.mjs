// Regenerates js_fixtures.txt: keys, signatures, a peer record and a relay voucher made by
// js-libp2p (the pinned versions in tests/interop/package-lock.json), so the C unit tests
// check our parsers and verifiers against another implementation's output.
//
//   node tests/vectors/keys/gen_js_fixtures.mjs > tests/vectors/keys/js_fixtures.txt
//
// Needs `npm ci` in tests/interop. Output lines: "<name> <value>", hex for bytes.
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const nm = join(dirname(fileURLToPath(import.meta.url)), '../../interop/node_modules')
const load = (p) => import(pathToFileURL(join(nm, p)).href)
const keys = await load('@libp2p/crypto/dist/src/keys/index.js')
const { peerIdFromPrivateKey } = await load('@libp2p/peer-id/dist/src/index.js')
const { RecordEnvelope, PeerRecord } = await load('@libp2p/peer-record/dist/src/index.js')
const { ReservationVoucherRecord } = await load(
  '@libp2p/circuit-relay-v2/dist/src/server/reservation-voucher.js')
const { multiaddr } = await load('@multiformats/multiaddr/dist/src/index.js')

const hex = (b) => Buffer.from(b).toString('hex')
const out = (k, v) => console.log(`${k} ${v}`)
const msg = new TextEncoder().encode('signed by js-libp2p for kaspa-holepunch')

for (const [name, args] of [['ed25519', ['Ed25519']], ['secp256k1', ['secp256k1']],
  ['ecdsa', ['ECDSA', 'P-256']], ['rsa', ['RSA', 2048]]]) {
  const priv = await keys.generateKeyPair(...args)
  out(`${name}.private`, hex(keys.privateKeyToProtobuf(priv)))
  out(`${name}.public`, hex(keys.publicKeyToProtobuf(priv.publicKey)))
  if (name !== 'ecdsa') { // @libp2p/peer-id 5.1 has no ECDSA peer IDs
    const id = peerIdFromPrivateKey(priv)
    out(`${name}.peer`, id.toString())
    out(`${name}.cid`, id.toCID().toString())
  }
  out(`${name}.msg`, hex(msg))
  out(`${name}.sig`, hex(await priv.sign(msg)))
}

const a = await keys.generateKeyPair('Ed25519')
const b = await keys.generateKeyPair('Ed25519')
const ida = peerIdFromPrivateKey(a)
const idb = peerIdFromPrivateKey(b)
const addrs = [multiaddr('/ip4/198.51.100.7/tcp/4001'), multiaddr('/ip6/::1/tcp/4242')]
const rec = new PeerRecord({ peerId: ida, multiaddrs: addrs, seqNumber: 1764082501000n })
const env = await RecordEnvelope.seal(rec, a)
out('peer_record.env', hex(env.marshal()))
out('peer_record.peer', ida.toString())
out('peer_record.seq', rec.seqNumber.toString())
addrs.forEach((m, i) => out(`peer_record.addr${i}`, hex(m.bytes)))

const v = new ReservationVoucherRecord({ relay: ida, peer: idb, expiration: 1764086101n })
const venv = await RecordEnvelope.seal(v, a)
out('voucher.env', hex(venv.marshal()))
out('voucher.relay', ida.toString())
out('voucher.peer', idb.toString())
out('voucher.expiration', '1764086101')
