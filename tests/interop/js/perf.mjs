// /perf/1.0.0 (libp2p/specs perf/perf.md) on top of js-libp2p streams. @libp2p/perf is not
// available from the registry this project uses, so both sides are written here from the
// spec; everything underneath (multistream-select, Noise, Yamux) is js-libp2p's own.
//
//   client                                   server
//   u64 big-endian N (bytes to send back) -->
//   upload bytes ..........................-->  drain until EOF
//   close write ---------------------------->
//                                        <--  N bytes, then close
export const PERF_PROTOCOL = '/perf/1.0.0'
const CHUNK = 64 * 1024
const ZEROS = new Uint8Array(CHUNK)

async function * chunks (total) {
  let left = total
  while (left > 0) {
    const n = Math.min(left, CHUNK)
    yield n === CHUNK ? ZEROS : ZEROS.subarray(0, n)
    left -= n
  }
}

/** Server side: registered with node.handle(PERF_PROTOCOL, perfHandler). */
export async function perfHandler ({ stream }) {
  let header = new Uint8Array(0)
  let received = 0
  for await (const chunk of stream.source) {
    const buf = chunk.subarray()
    if (header.length < 8) {
      const need = 8 - header.length
      const merged = new Uint8Array(header.length + Math.min(need, buf.length))
      merged.set(header)
      merged.set(buf.subarray(0, need), header.length)
      header = merged
      received += buf.length - Math.min(need, buf.length)
    } else {
      received += buf.length
    }
  }
  if (header.length < 8) {
    stream.abort(new Error('perf: stream closed before the 8-byte length'))
    return
  }
  const sendBack = new DataView(header.buffer, header.byteOffset, 8).getBigUint64(0)
  if (sendBack > BigInt(Number.MAX_SAFE_INTEGER)) {
    stream.abort(new Error('perf: requested length too large'))
    return
  }
  void received
  await stream.sink(chunks(Number(sendBack)))
}

/**
 * Client side: opens /perf/1.0.0 on connection `conn`, uploads `upload`
 * bytes, asks for `download` bytes back. Returns byte counts and seconds from stream open
 * to the end of the download.
 */
export async function perfRun (conn, upload, download, options = {}) {
  const start = performance.now()
  const stream = await conn.newStream(PERF_PROTOCOL, options)
  const header = new Uint8Array(8)
  new DataView(header.buffer).setBigUint64(0, BigInt(download))
  async function * body () {
    yield header
    yield * chunks(upload)
  }
  let got = 0
  const reading = (async () => {
    for await (const chunk of stream.source) got += chunk.byteLength
  })()
  await stream.sink(body())
  const uploadDone = performance.now()
  await reading
  const end = performance.now()
  await stream.close().catch(() => {})
  if (got !== download) throw new Error(`perf: asked for ${download} bytes, got ${got}`)
  return {
    upload_bytes: upload,
    download_bytes: got,
    upload_seconds: (uploadDone - start) / 1000,
    total_seconds: (end - start) / 1000
  }
}
