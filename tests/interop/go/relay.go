package main

import (
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"
)

// relayReporter is the relay's ACL, used only to see who reserves and who connects to whom:
// it allows everything and prints an event per request (go's relay has no event for them).
type relayReporter struct{}

func (relayReporter) AllowReserve(p peer.ID, a ma.Multiaddr) bool {
	emit(map[string]any{"event": "reservation", "peer": p.String(), "addr": a.String()})
	return true
}

func (relayReporter) AllowConnect(src peer.ID, srcAddr ma.Multiaddr, dst peer.ID) bool {
	emit(map[string]any{"event": "circuit", "src": src.String(), "dst": dst.String()})
	return true
}

func runRelay(o *opts) {
	if len(o.listen) == 0 {
		die("relay needs --listen MA")
	}
	var extra []libp2p.Option
	if len(o.announce) > 0 {
		announce := mustAddrs(o.announce)
		extra = append(extra, libp2p.AddrsFactory(func([]ma.Multiaddr) []ma.Multiaddr { return announce }))
	}
	h, err := newHost(o, o.listen, extra...)
	if err != nil {
		die("host: %v", err)
	}
	rc := relayv2.DefaultResources()
	rc.Limit = &relayv2.RelayLimit{Duration: o.durationLimit, Data: o.dataLimit}
	if o.durationLimit == 0 && o.dataLimit == 0 {
		rc.Limit = nil
	}
	rc.MaxCircuits = 64
	_, err = relayv2.New(h, relayv2.WithResources(rc), relayv2.WithACL(relayReporter{}),
		// go-multiaddr classes the lab's 198.51.100.0/24 as unroutable (net/private.go), and
		// the relay's default filter (manet.IsPublicAddr) would then send reservations with
		// no addresses at all: keep every address the host announces.
		relayv2.WithReservationAddressFilter(func(ma.Multiaddr) bool { return true }))
	if err != nil {
		die("relay: %v", err)
	}
	emitListening(h.ID(), h.Addrs())
	select {}
}

func emitListening(id peer.ID, addrs []ma.Multiaddr) {
	ev := map[string]any{"event": "listening", "peer": id.String(), "addrs": maStrings(addrs)}
	for _, a := range addrs {
		if _, err := a.ValueForProtocol(ma.P_IP4); err == nil {
			ev["addr"] = a.String() // the first IPv4 one, as the js peer prints it
			break
		}
	}
	emit(ev)
}

func mustAddrs(ss []string) []ma.Multiaddr {
	out := make([]ma.Multiaddr, 0, len(ss))
	for _, s := range ss {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			die("bad multiaddr %q: %v", s, err)
		}
		out = append(out, a)
	}
	return out
}
