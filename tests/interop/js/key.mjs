// Key files in libp2p's protobuf PrivateKey format, without loading the rest of libp2p
// (fast enough to call many times from a test).
//
//   key.mjs keygen FILE [TYPE] [FILE TYPE]...   writes new keys; TYPE Ed25519 (default),
//                                               secp256k1 or RSA (2048 bits)
//   key.mjs id FILE...                            reads each key
// Prints {"event":"key","file","peer","type"} per key. js-libp2p 2.x has no ECDSA peer IDs.
import './polyfill.mjs'
import { readFile, writeFile } from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

const emit = (file, key) => process.stdout.write(JSON.stringify({
  event: 'key', file, peer: peerIdFromPrivateKey(key).toString(), type: key.type
}) + '\n')

async function main (argv) {
  const [cmd, ...rest] = argv
  if (cmd === 'keygen' && rest.length >= 1) {
    for (let i = 0; i < rest.length; i += 2) {
      const type = rest[i + 1] ?? 'Ed25519'
      const key = type === 'RSA' ? await generateKeyPair('RSA', 2048) : await generateKeyPair(type)
      await writeFile(rest[i], privateKeyToProtobuf(key), { mode: 0o600 })
      emit(rest[i], key)
    }
  } else if (cmd === 'id' && rest.length >= 1) {
    for (const file of rest) emit(file, privateKeyFromProtobuf(new Uint8Array(await readFile(file))))
  } else {
    process.stderr.write('usage: key.mjs keygen FILE [TYPE] | key.mjs id FILE...\n')
    process.exit(2)
  }
}

const timer = setTimeout(() => { process.stderr.write('key.mjs: timeout\n'); process.exit(1) }, 30000)
main(process.argv.slice(2)).then(() => clearTimeout(timer), (err) => {
  process.stdout.write(JSON.stringify({ event: 'result', ok: false, error: String(err?.message ?? err) }) + '\n')
  process.stderr.write(`key.mjs: ${err?.stack ?? err}\n`)
  process.exit(1)
})
