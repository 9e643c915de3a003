package main

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"
)

func runListen(o *opts) {
	listen := []string(o.listen)
	if len(listen) == 0 {
		listen = []string{"/ip4/127.0.0.1/tcp/0"}
	}
	h, err := newHost(o, listen)
	if err != nil {
		die("host: %v", err)
	}
	serveTestProtocols(h)
	// --pad-protocols: enough extra protocols that go's identify exceeds 2 KiB and is sent as
	// two messages, the signed peer record in the second (identify/id.go legacyIDSize).
	for i := 0; i < o.padProtocols; i++ {
		h.SetStreamHandler(protocol.ID(fmt.Sprintf("/kaspa-holepunch/test/padding-protocol-%03d/1.0.0", i)),
			func(s network.Stream) { s.Reset() })
	}
	startPunching(h, mustAddrs(o.external))
	emitListening(h.ID(), h.Addrs())
	if o.relay != "" {
		reserve(h, o.relay)
	}
	select {}
}

// reserve takes a slot on the relay and prints the circuit address peers dial us at.
func reserve(h host.Host, relay string) {
	ai, err := peer.AddrInfoFromString(relay)
	if err != nil {
		die("--relay %s: %v", relay, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := h.Connect(ctx, *ai); err != nil {
		die("connect to relay: %v", err)
	}
	rsvp, err := client.Reserve(ctx, h, *ai)
	if err != nil {
		die("reservation: %v", err)
	}
	circuit := ai.Addrs[0].Encapsulate(ma.StringCast("/p2p/" + ai.ID.String() + "/p2p-circuit/p2p/" + h.ID().String()))
	emit(map[string]any{"event": "reserved", "addr": circuit.String(), "relay_addrs": maStrings(rsvp.Addrs),
		"expires": rsvp.Expiration.Unix(), "limit_bytes": rsvp.LimitData,
		"limit_seconds": rsvp.LimitDuration.Seconds()})
}
