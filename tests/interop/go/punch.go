package main

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// directInfo is what the hole-punch tracer learned about one punched connection.
type directInfo struct {
	conn      network.Conn
	role      string // "A" (answered the DCUtR stream) or "B" (opened it)
	attempt   int
	relayedMs float64 // since the relayed connection to the peer came up
}

// puncher owns go-libp2p's hole-punch service and turns its tracer callbacks into events.
type puncher struct {
	h         host.Host
	mu        sync.Mutex
	external  []ma.Multiaddr
	observed  []ma.Multiaddr
	starts    map[peer.ID]int       // DCUtR exchanges per peer (A's attempt number)
	relayedAt map[peer.ID]time.Time // first relayed connection per peer
	done      map[peer.ID]chan directInfo
}

// startPunching constructs the hole-punch service by hand instead of
// libp2p.EnableHolePunching(): go-multiaddr classes the lab's 198.51.100.0/24 and
// 198.18.0.0/15 as unroutable (net/private.go), so the host's own address list, which only
// keeps public addresses for hole punching, would stay empty and go would never register
// /libp2p/dcutr nor start a punch. Our listenAddrs returns the lab addresses instead: the
// --external ones, else what identify peers observed for us; the AddrFilter drops nothing
// for being "private" either. The lab's address plan stays as it is (issue 11 item 4).
func startPunching(h host.Host, external []ma.Multiaddr) *puncher {
	p := &puncher{h: h, external: external, starts: map[peer.ID]int{},
		relayedAt: map[peer.ID]time.Time{}, done: map[peer.ID]chan directInfo{}}
	ider, ok := h.(interface{ IDService() identify.IDService })
	if !ok {
		die("host has no identify service")
	}
	h.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		if isRelayed(c.RemoteMultiaddr()) {
			p.mu.Lock()
			if _, seen := p.relayedAt[c.RemotePeer()]; !seen {
				p.relayedAt[c.RemotePeer()] = time.Now()
			}
			p.mu.Unlock()
		}
	}})
	p.watchObserved()
	_, err := holepunch.NewService(h, ider.IDService(), p.listenAddrs,
		holepunch.WithAddrFilter(labFilter{}), holepunch.WithMetricsAndEventTracer(p, p))
	if err != nil {
		die("holepunch service: %v", err)
	}
	return p
}

func (p *puncher) listenAddrs() []ma.Multiaddr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.external) > 0 {
		return p.external
	}
	return append([]ma.Multiaddr(nil), p.observed...)
}

// watchObserved keeps the addresses identify peers saw us at over direct connections.
func (p *puncher) watchObserved() {
	sub, err := p.h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		die("event bus: %v", err)
	}
	go func() {
		for e := range sub.Out() {
			ev := e.(event.EvtPeerIdentificationCompleted)
			if ev.ObservedAddr == nil || isRelayed(ev.Conn.RemoteMultiaddr()) || isRelayed(ev.ObservedAddr) {
				continue
			}
			p.mu.Lock()
			if !containsAddr(p.observed, ev.ObservedAddr) {
				p.observed = append(p.observed, ev.ObservedAddr)
			}
			p.mu.Unlock()
		}
	}()
}

// waitFor returns the channel that gets the outcome of the punch with peer id.
func (p *puncher) waitFor(id peer.ID) chan directInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch, ok := p.done[id]
	if !ok {
		ch = make(chan directInfo, 1)
		p.done[id] = ch
	}
	return ch
}

// Trace (holepunch.EventTracer) reports the DCUtR exchanges as they happen.
func (p *puncher) Trace(evt *holepunch.Event) {
	ev := map[string]any{"peer": evt.Remote.String()}
	switch e := evt.Evt.(type) {
	case *holepunch.StartHolePunchEvt:
		p.mu.Lock()
		p.starts[evt.Remote]++
		ev["attempt"] = p.starts[evt.Remote]
		p.mu.Unlock()
		ev["event"], ev["addrs"], ev["rtt_ms"] = "dcutr_attempt", e.RemoteAddrs, float64(e.RTT.Microseconds())/1000
	case *holepunch.EndHolePunchEvt:
		ev["event"], ev["ok"], ev["ms"], ev["error"] = "dcutr_dial", e.Success, e.EllapsedTime.Milliseconds(), e.Error
	case *holepunch.ProtocolErrorEvt:
		ev["event"], ev["error"] = "dcutr_error", e.Error
	case *holepunch.DirectDialEvt:
		ev["event"], ev["ok"], ev["error"] = "direct_dial", e.Success, e.Error
	default:
		return
	}
	emit(ev)
}

// HolePunchFinished (holepunch.MetricsTracer) is go's verdict on one punch. side is go's
// name for the DCUtR role: "initiator" opened the DCUtR stream (spec B), "receiver" answered
// it (spec A). go passes the attempt number only on B (A always gets 1: it cannot know), so
// A's is the count of DCUtR exchanges it answered for that peer.
func (p *puncher) HolePunchFinished(side string, attemptNum int, theirAddrs, ourAddrs []ma.Multiaddr, dc network.ConnMultiaddrs) {
	c := p.findConn(dc)
	if c == nil {
		emit(map[string]any{"event": "holepunch_failed", "side": side, "attempt": attemptNum,
			"their_addrs": maStrings(theirAddrs), "our_addrs": maStrings(ourAddrs)})
		return
	}
	rp := c.RemotePeer()
	info := directInfo{conn: c, role: "B", attempt: attemptNum}
	p.mu.Lock()
	if side == "receiver" {
		info.role, info.attempt = "A", p.starts[rp]
	}
	if t, ok := p.relayedAt[rp]; ok {
		info.relayedMs = float64(time.Since(t).Microseconds()) / 1000
	}
	p.mu.Unlock()
	emit(directEvent(info))
	select {
	case p.waitFor(rp) <- info:
	default:
	}
}

func (p *puncher) DirectDialFinished(bool) {}

func (p *puncher) findConn(dc network.ConnMultiaddrs) network.Conn {
	if dc == nil {
		return nil
	}
	for _, c := range p.h.Network().Conns() {
		if c.LocalMultiaddr().Equal(dc.LocalMultiaddr()) && c.RemoteMultiaddr().Equal(dc.RemoteMultiaddr()) {
			return c
		}
	}
	return nil
}

// directEvent: the contract's "direct" event; the roles are the sessions' own (roles.go).
func directEvent(d directInfo) map[string]any {
	noiseInit, yamuxClient := connRoles(d.conn)
	return map[string]any{"event": "direct", "peer": d.conn.RemotePeer().String(),
		"local": d.conn.LocalMultiaddr().String(), "remote": d.conn.RemoteMultiaddr().String(),
		"role": d.role, "noise_initiator": noiseInit, "yamux_client": yamuxClient,
		"attempt": d.attempt, "relayed_to_direct_ms": d.relayedMs,
		"dialed":   d.conn.Stat().Direction == network.DirOutbound,
		"security": string(d.conn.ConnState().Security)}
}

// labFilter is the hole-punch service's AddrFilter: it sends our lab addresses as they are
// and dials every TCP address the peer sent except unspecified ones, without go-multiaddr's
// public/private classification (see startPunching).
type labFilter struct{}

func (labFilter) FilterLocal(_ peer.ID, addrs []ma.Multiaddr) []ma.Multiaddr { return addrs }

func (labFilter) FilterRemote(_ peer.ID, addrs []ma.Multiaddr) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, a := range addrs {
		if _, err := a.ValueForProtocol(ma.P_TCP); err != nil || isRelayed(a) {
			continue
		}
		if ip, err := manet.ToIP(a); err != nil || ip.IsUnspecified() {
			continue
		}
		out = append(out, a)
	}
	return out
}

func isRelayed(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

func containsAddr(as []ma.Multiaddr, a ma.Multiaddr) bool {
	for _, b := range as {
		if a.Equal(b) {
			return true
		}
	}
	return false
}
