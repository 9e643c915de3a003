package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// multi is a repeatable string flag (--listen, --announce, --external).
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

type opts struct {
	key           string
	listen        multi
	announce      multi
	external      multi
	relay         string
	security      string
	padProtocols  int
	dataLimit     int64
	durationLimit time.Duration
	timeout       time.Duration
	waitDirect    time.Duration
	echoBytes     int
	streams       int
	pings         int
	pingInterval  time.Duration
	perf          int64
	upload        int64
	download      int64
	count         int
	dialAt        time.Time
	linger        time.Duration
}

func parseOpts(mode string, args []string) *opts {
	o := &opts{}
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	fs.SetOutput(os.Stderr)
	var timeoutS, durS, waitS, pingIvS, dialAtS, lingerS float64
	fs.StringVar(&o.key, "key", "", "protobuf private key file (created if missing)")
	fs.Var(&o.listen, "listen", "listen multiaddr (repeatable)")
	fs.Var(&o.announce, "announce", "relay: address to announce instead of the listen ones (repeatable)")
	fs.Var(&o.external, "external", "the lab address to treat as this node's public one (repeatable)")
	fs.StringVar(&o.relay, "relay", "", "listen: reserve a slot on this relay")
	fs.StringVar(&o.security, "security", "default", "default (TLS then Noise, go's proposal) or noise")
	fs.IntVar(&o.padProtocols, "pad-protocols", 0, "listen: register N extra protocols (a big identify)")
	fs.Int64Var(&o.dataLimit, "data-limit", 1<<30, "relay: bytes per relayed connection and direction (0: none)")
	fs.Float64Var(&durS, "duration-limit", 600, "relay: seconds per relayed connection (0 with --data-limit 0: no limit; go resets a circuit at once when only this is 0)")
	fs.Float64Var(&timeoutS, "timeout", 0, "overall limit in seconds (listen/relay: lifetime, default 300)")
	fs.Float64Var(&waitS, "wait-direct", 20, "dial: seconds to wait for the DCUtR upgrade")
	fs.IntVar(&o.echoBytes, "echo-bytes", 65536, "dial: random bytes echoed per stream")
	fs.IntVar(&o.streams, "streams", 1, "dial: concurrent echo streams")
	fs.IntVar(&o.pings, "pings", 3, "dial: pings")
	fs.Float64Var(&pingIvS, "ping-interval", 0, "dial: seconds between pings on one ping stream")
	fs.Int64Var(&o.perf, "perf", 0, "dial: /perf/1.0.0 upload and download of BYTES")
	fs.Int64Var(&o.upload, "upload", 0, "perf: bytes to upload")
	fs.Int64Var(&o.download, "download", 0, "perf: bytes to download")
	fs.IntVar(&o.count, "count", 10, "connrate: sequential connections")
	fs.Float64Var(&lingerS, "linger", 0, "dial: seconds to stay up (serving) after the result")
	fs.Float64Var(&dialAtS, "dial-at", 0, "dial: listen at once but dial only at this Unix time (seconds), for a simultaneous dial")
	if err := fs.Parse(args); err != nil {
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "%s: unexpected argument %q\n", mode, fs.Arg(0))
		os.Exit(2)
	}
	if timeoutS == 0 && (mode == "listen" || mode == "relay") {
		timeoutS = 300
	}
	if timeoutS == 0 && mode != "id" {
		timeoutS = 120
	}
	o.timeout = secs(timeoutS)
	o.durationLimit = secs(durS)
	o.waitDirect = secs(waitS)
	o.pingInterval = secs(pingIvS)
	o.linger = secs(lingerS)
	if dialAtS > 0 {
		o.dialAt = time.Unix(0, int64(dialAtS*1e9))
	}
	if o.security != "default" && o.security != "noise" {
		fmt.Fprintf(os.Stderr, "--security must be default or noise\n")
		os.Exit(2)
	}
	return o
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
