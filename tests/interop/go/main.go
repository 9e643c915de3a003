// gopeer: the go-libp2p test peer of the interop suite (issue 11). It follows the test-peer
// contract of tests/interop/README.md ("go and rust peers"): one JSON object per line on
// stdout, logs on stderr, modes relay | listen | dial | perf | connrate | id.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

var emitMu sync.Mutex

// emit prints one JSON event line on stdout.
func emit(ev map[string]any) {
	b, err := json.Marshal(ev)
	if err != nil {
		logf("emit: %v", err)
		return
	}
	emitMu.Lock()
	defer emitMu.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[gopeer %s] %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// die reports a failure as the contract's result line (so a harness reading stdout sees why)
// and exits 1.
func die(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logf("error: %s", msg)
	emit(map[string]any{"event": "result", "ok": false, "error": msg})
	os.Exit(1)
}

const usage = `usage: gopeer MODE ...
  relay --listen MA [--announce MA]... [--key F] [--data-limit BYTES] [--duration-limit SEC] [--timeout SEC]
  listen [--listen MA]... [--key F] [--relay MA] [--external MA]... [--timeout SEC]
         [--security default|noise] [--pad-protocols N]
  dial MA [--listen MA]... [--key F] [--external MA]... [--wait-direct SEC] [--echo-bytes N]
          [--streams N] [--pings N] [--ping-interval SEC] [--perf BYTES] [--timeout SEC]
          [--security default|noise]
  perf MA --upload BYTES --download BYTES [--security default|noise]
  connrate MA --count N [--security default|noise]
  id --key F`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	mode, rest := os.Args[1], os.Args[2:]
	// The target multiaddr comes first (dial MA --flags), as in the js peer.
	var target string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		target, rest = rest[0], rest[1:]
	}
	o := parseOpts(mode, rest)
	if o.timeout > 0 {
		time.AfterFunc(o.timeout, func() {
			if mode == "relay" || mode == "listen" {
				logf("lifetime of %s over, exiting", o.timeout)
				os.Exit(0)
			}
			die("timed out after %s", o.timeout)
		})
	}
	switch mode {
	case "id":
		runID(o)
	case "relay":
		runRelay(o)
	case "listen":
		runListen(o)
	case "dial", "perf", "connrate":
		if target == "" {
			die("%s needs a multiaddr", mode)
		}
		switch mode {
		case "dial":
			runDial(o, target)
		case "perf":
			runPerf(o, target)
		default:
			runConnrate(o, target)
		}
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
}
