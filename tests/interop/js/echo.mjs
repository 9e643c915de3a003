// /echo/1.0.0: the responder writes back every byte it reads until the initiator closes
// its write side, then closes. Used to check stream multiplexing and flow control end to
// end: many concurrent streams with distinct data, and one large transfer.
import { randomBytes } from 'node:crypto'

export const ECHO_PROTOCOL = '/echo/1.0.0'
const CHUNK = 64 * 1024

/** Responder: registered with node.handle(ECHO_PROTOCOL, echoHandler). */
export async function echoHandler ({ stream }) {
  await stream.sink(stream.source)
}

/**
 * Initiator: sends `data` on a new echo stream of connection `conn` while reading the echo concurrently (so
 * neither side's flow-control window can deadlock), and compares every byte. Returns
 * the number of bytes checked; throws on a mismatch, short or long echo.
 */
export async function echoOnce (conn, data, options = {}) {
  const stream = await conn.newStream(ECHO_PROTOCOL, options)
  async function * body () {
    for (let off = 0; off < data.length; off += CHUNK) yield data.subarray(off, off + CHUNK)
  }
  let off = 0
  const reading = (async () => {
    for await (const list of stream.source) {
      const chunk = list.subarray()
      if (off + chunk.length > data.length) {
        throw new Error(`echo: got ${off + chunk.length} bytes, sent ${data.length}`)
      }
      if (Buffer.compare(Buffer.from(chunk), Buffer.from(data.subarray(off, off + chunk.length))) !== 0) {
        let i = 0
        while (chunk[i] === data[off + i]) i++
        throw new Error(`echo: byte ${off + i} differs`)
      }
      off += chunk.length
    }
  })()
  await stream.sink(body())
  await reading
  if (off !== data.length) throw new Error(`echo: got ${off} bytes back, sent ${data.length}`)
  return off
}

/** `count` concurrent echo streams, each with its own random data of 1..maxBytes bytes. */
export async function echoMany (conn, count, maxBytes, options = {}) {
  const payloads = []
  for (let i = 0; i < count; i++) {
    const len = 1 + (randomBytes(4).readUInt32BE(0) % maxBytes)
    payloads.push(new Uint8Array(randomBytes(len)))
  }
  const checked = await Promise.all(payloads.map(p => echoOnce(conn, p, options)))
  return checked.reduce((a, b) => a + b, 0)
}

export function randomData (n) {
  return new Uint8Array(randomBytes(n))
}
