// Baseline for our benchmarks: js-libp2p 2.x perf over loopback, js <-> js, in two
// processes (a `peer.mjs listen` child serves, this process is the client), so each side
// has its own event loop as our two holepunch processes will.
//
//   node bench/js_perf.mjs [--mib N] [--runs N] [--latency-runs N] [--timeout SEC]
//
// Needs tests/interop/node_modules (tests/interop/npm-ci.sh). Prints one JSON line:
//   {"event":"js_perf","impl":"js-libp2p/2.10.0","mib":N,"runs":N,
//    "upload_MBps":..,"download_MBps":..,         best of the runs, 1 MB = 10^6 bytes
//    "upload_mbit_s":..,"download_mbit_s":..,     the same in 10^6 bits/s
//    "upload_runs_MBps":[..],"download_runs_MBps":[..],
//    "conn_roundtrip_ms_median":..}               new connection + 1-byte perf round trip
// Throughput = bytes / (perf stream open -> last byte), as the perf spec measures it.
import '../tests/interop/js/polyfill.mjs'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { emit, log, parseArgs, runMain, withTimeout, loadOrGenerateKey, makeNode, multiaddr } from '../tests/interop/js/common.mjs'
import { perfRun } from '../tests/interop/js/perf.mjs'

const NAME = 'js_perf'
const here = dirname(fileURLToPath(import.meta.url))
const args = parseArgs(process.argv.slice(2), ['mib', 'runs', 'latency-runs', 'timeout'])
const MIB = Number(args.mib ?? 64)
const RUNS = Number(args.runs ?? 3)
const LAT_RUNS = Number(args['latency-runs'] ?? 10)

function startServer () {
  const child = spawn(process.execPath, [join(here, '../tests/interop/js/peer.mjs'), 'listen', '--timeout', '600'],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  process.on('exit', () => child.kill())
  const addr = new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`perf server exited with ${code}`)))
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const e = JSON.parse(line)
        if (e.event === 'listening') resolve(e.addr)
      } catch {}
    })
  })
  return { child, addr }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
const round = (x) => Math.round(x * 10) / 10

async function main () {
  const server = startServer()
  const addr = multiaddr(await withTimeout(server.addr, 20000, 'perf server start'))
  log(NAME, 'server at', addr.toString())
  const node = await makeNode({ privateKey: await loadOrGenerateKey(undefined), listen: [] })
  await node.start()
  const bytes = MIB * 1024 * 1024
  const up = []
  const down = []
  const conn = await node.dial(addr)
  for (let i = 0; i < RUNS; i++) {
    const u = await withTimeout(perfRun(conn, bytes, 0), 120000, 'perf upload')
    up.push(bytes / u.total_seconds / 1e6)
    const d = await withTimeout(perfRun(conn, 0, bytes), 120000, 'perf download')
    down.push(bytes / d.total_seconds / 1e6)
    log(NAME, `run ${i + 1}: upload ${round(up[i])} MB/s, download ${round(down[i])} MB/s`)
  }
  await conn.close()
  // Connection setup cost: a fresh connection (TCP + multistream + Noise XX + Yamux) and a
  // 1-byte perf round trip, as the libp2p perf "latency" test does.
  const lat = []
  for (let i = 0; i < LAT_RUNS; i++) {
    const t0 = performance.now()
    const c = await withTimeout(node.dial(addr, { force: true }), 20000, 'dial')
    await perfRun(c, 1, 1)
    lat.push(performance.now() - t0)
    await c.close()
  }
  const best = (xs) => Math.max(...xs)
  emit({
    event: 'js_perf',
    impl: 'js-libp2p/2.10.0',
    node: process.version,
    mib: MIB,
    runs: RUNS,
    upload_MBps: round(best(up)),
    download_MBps: round(best(down)),
    upload_mbit_s: round(best(up) * 8),
    download_mbit_s: round(best(down) * 8),
    upload_runs_MBps: up.map(round),
    download_runs_MBps: down.map(round),
    conn_roundtrip_ms_median: round(median(lat))
  })
  await node.stop()
  server.child.kill()
  process.exit(0)
}

runMain(NAME, Number(args.timeout ?? 300), main)
