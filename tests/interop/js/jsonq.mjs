// Tiny JSON-lines query for the shell tests (jq is not a project dependency).
//   node jsonq.mjs FILE 'PREDICATE' ['EXPR']
// Parses each line of FILE that is a JSON object (other lines are skipped), binds it to
// `e`, and prints EXPR (default: the whole object as JSON) for the first line where
// PREDICATE is true. Strings print raw, anything else as JSON. Exits 1 if no line matches.
//   node jsonq.mjs out.log 'e.event==="listening"' 'e.addr'
import { readFileSync } from 'node:fs'

const [file, predSrc, exprSrc = 'e'] = process.argv.slice(2)
if (!file || !predSrc) {
  process.stderr.write('usage: jsonq.mjs FILE PREDICATE [EXPR]\n')
  process.exit(2)
}
// eslint-disable-next-line no-new-func
const pred = new Function('e', `return (${predSrc})`)
// eslint-disable-next-line no-new-func
const expr = new Function('e', `return (${exprSrc})`)
let text = ''
try { text = readFileSync(file, 'utf8') } catch { process.exit(1) }
for (const line of text.split('\n')) {
  const t = line.trim()
  if (!t.startsWith('{')) continue
  let e
  try { e = JSON.parse(t) } catch { continue }
  let ok = false
  try { ok = pred(e) } catch { ok = false }
  if (!ok) continue
  const v = expr(e)
  process.stdout.write((typeof v === 'string' ? v : JSON.stringify(v)) + '\n')
  process.exit(0)
}
process.exit(1)
