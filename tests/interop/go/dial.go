package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
)

// dialTarget connects to MA (a /p2p-circuit address goes through the relay) and returns the
// connection it made.
func dialTarget(ctx context.Context, h host.Host, target string) (*peer.AddrInfo, network.Conn, error) {
	ai, err := peer.AddrInfoFromString(target)
	if err != nil {
		return nil, nil, fmt.Errorf("target %s: %w", target, err)
	}
	if err := h.Connect(network.WithAllowLimitedConn(ctx, "interop"), *ai); err != nil {
		return ai, nil, fmt.Errorf("connect: %w", err)
	}
	for _, c := range h.Network().ConnsToPeer(ai.ID) {
		return ai, c, nil
	}
	return ai, nil, errors.New("connected but no connection to the peer")
}

func runDial(o *opts, target string) {
	h, err := newHost(o, o.listen)
	if err != nil {
		die("host: %v", err)
	}
	serveTestProtocols(h)
	p := startPunching(h, mustAddrs(o.external))
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	res := map[string]any{"event": "result", "ok": false}
	fail := func(err error) {
		res["error"] = err.Error()
		emit(res)
		logf("dial failed: %v", err)
		os.Exit(1)
	}
	if !o.dialAt.IsZero() {
		emitListening(h.ID(), h.Addrs())
		time.Sleep(time.Until(o.dialAt))
	}
	t0 := time.Now()
	ai, conn, err := dialTarget(ctx, h, target)
	if err != nil {
		fail(err)
	}
	res["peer"] = ai.ID.String()
	relayed := isRelayed(conn.RemoteMultiaddr())
	res["relayed"] = relayed
	res["relayed_ms"] = ms(time.Since(t0))
	if relayed {
		// The punch happens on its own (our peer as B opens DCUtR); go's tracer tells its role.
		select {
		case d := <-p.waitFor(ai.ID):
			conn = d.conn
			res["role"], res["attempt"], res["direct_ms"] = d.role, d.attempt, d.relayedMs
		case <-time.After(o.waitDirect):
			fail(fmt.Errorf("no direct connection within %s", o.waitDirect))
		}
	} else {
		ider := h.(interface{ IDService() identify.IDService })
		select {
		case <-ider.IDService().IdentifyWait(conn):
		case <-time.After(10 * time.Second):
			fail(errors.New("identify of the remote did not complete in 10 s"))
		}
		res["role"], res["attempt"] = nil, nil // a plain dial: no DCUtR roles
	}
	res["noise_initiator"], res["yamux_client"] = connRoles(conn)
	res["local"], res["remote"] = conn.LocalMultiaddr().String(), conn.RemoteMultiaddr().String()
	res["security"] = string(conn.ConnState().Security)

	if err := echoStreams(ctx, conn, o.streams, o.echoBytes); err != nil {
		res["echo_ok"] = false
		fail(err)
	}
	res["echo_ok"] = true
	rtts, err := pingOn(ctx, conn, o.pings, o.pingInterval)
	res["ping_ms"] = rtts
	if err != nil {
		fail(err)
	}
	if o.perf > 0 {
		up, err := perfRun(ctx, conn, o.perf, 0)
		if err != nil {
			fail(err)
		}
		down, err := perfRun(ctx, conn, 0, o.perf)
		if err != nil {
			fail(err)
		}
		res["perf_up_mbps"], res["perf_down_mbps"] = mbps(o.perf, up), mbps(o.perf, down)
	}
	if isRelayed(conn.RemoteMultiaddr()) {
		fail(errors.New("the checks ran on a relayed connection"))
	}
	res["ok"] = true
	emit(res)
	time.Sleep(o.linger)
	h.Close()
}

// echoStreams runs n concurrent echo streams of size bytes each on conn.
func echoStreams(ctx context.Context, c network.Conn, n, size int) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := echoOnce(ctx, c, size); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// clientHost: a host for the perf and connrate clients and the context bounding the run.
func clientHost(o *opts) (host.Host, context.Context, context.CancelFunc) {
	h, err := newHost(o, o.listen)
	if err != nil {
		die("host: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	return h, ctx, cancel
}

func runPerf(o *opts, target string) {
	h, ctx, cancel := clientHost(o)
	defer cancel()
	_, conn, err := dialTarget(ctx, h, target)
	if err != nil {
		die("%v", err)
	}
	d, err := perfRun(ctx, conn, o.upload, o.download)
	if err != nil {
		die("%v", err)
	}
	emit(map[string]any{"event": "perf", "upload_bytes": o.upload, "download_bytes": o.download,
		"seconds": d.Seconds()})
}

// runConnrate: count sequential new connections, each with a 1-byte echo, closed after.
func runConnrate(o *opts, target string) {
	h, ctx, cancel := clientHost(o)
	defer cancel()
	t0 := time.Now()
	for i := 0; i < o.count; i++ {
		ai, conn, err := dialTarget(ctx, h, target)
		if err != nil {
			die("connection %d: %v", i+1, err)
		}
		if err := echoOnce(ctx, conn, 1); err != nil {
			die("connection %d: %v", i+1, err)
		}
		h.Network().ClosePeer(ai.ID)
	}
	emit(map[string]any{"event": "connrate", "count": o.count, "seconds": time.Since(t0).Seconds()})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mbps(n int64, d time.Duration) float64 { return float64(n) * 8 / d.Seconds() / 1e6 }
