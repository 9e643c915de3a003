package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	msmux "github.com/multiformats/go-multistream"
)

const (
	echoProtocol = protocol.ID("/echo/1.0.0")
	perfProtocol = protocol.ID("/perf/1.0.0")
	pingProtocol = protocol.ID("/ipfs/ping/1.0.0")
)

// newHost builds a TCP-only host (no QUIC/WebRTC/WebSocket: the lab and our side speak TCP)
// with yamux, the chosen security proposal, identify and ping (libp2p defaults) and no
// resource limits (64 concurrent echo streams would hit the default per-protocol caps).
func newHost(o *opts, listen []string, extra ...libp2p.Option) (host.Host, error) {
	k, err := loadKey(o.key)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", o.key, err)
	}
	sec := []libp2p.Option{libp2p.Security(libp2ptls.ID, libp2ptls.New), libp2p.Security(noise.ID, noise.New)}
	if o.security == "noise" {
		sec = sec[1:]
	}
	base := []libp2p.Option{
		libp2p.Identity(k),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.ListenAddrStrings(listen...),
		libp2p.DisableMetrics(),
	}
	if len(listen) == 0 {
		base = append(base, libp2p.NoListenAddrs)
	}
	return libp2p.New(append(append(base, sec...), extra...)...)
}

// serveTestProtocols registers /echo/1.0.0 and /perf/1.0.0 and reports every completed
// identify as an event.
func serveTestProtocols(h host.Host) {
	h.SetStreamHandler(echoProtocol, func(s network.Stream) {
		defer s.Close()
		if _, err := io.Copy(s, s); err != nil {
			s.Reset()
		}
	})
	h.SetStreamHandler(perfProtocol, perfServe)
	reportIdentify(h)
}

func reportIdentify(h host.Host) {
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		die("event bus: %v", err)
	}
	go func() {
		for e := range sub.Out() {
			ev := e.(event.EvtPeerIdentificationCompleted)
			emit(map[string]any{
				"event": "identify", "peer": ev.Peer.String(), "agent": ev.AgentVersion,
				"protocols": ev.Protocols, "listen_addrs": maStrings(ev.ListenAddrs),
				"observed": maString(ev.ObservedAddr), "signed_record": ev.SignedPeerRecord != nil,
				"remote": maString(ev.Conn.RemoteMultiaddr()),
			})
		}
	}()
}

func maString(a ma.Multiaddr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func maStrings(as []ma.Multiaddr) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// streamOn opens a stream for proto on this very connection (host.NewStream may pick another
// connection to the peer, e.g. the relayed one) and negotiates it with multistream-select.
func streamOn(ctx context.Context, c network.Conn, proto protocol.ID) (network.Stream, error) {
	s, err := c.NewStream(ctx)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		s.SetDeadline(dl)
	}
	if err := msmux.SelectProtoOrFail(proto, s); err != nil {
		s.Reset()
		return nil, fmt.Errorf("%s: %w", proto, err)
	}
	s.SetProtocol(proto)
	return s, nil
}

// echoOnce sends n random bytes on a new /echo/1.0.0 stream and checks they come back.
func echoOnce(ctx context.Context, c network.Conn, n int) error {
	s, err := streamOn(ctx, c, echoProtocol)
	if err != nil {
		return err
	}
	defer s.Close()
	data := make([]byte, n)
	rand.Read(data)
	werr := make(chan error, 1)
	go func() {
		_, err := s.Write(data)
		if err == nil {
			err = s.CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		s.Reset()
		return fmt.Errorf("echo read after %d bytes: %w", len(got), err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("echo write: %w", err)
	}
	if len(got) != n || string(got) != string(data) {
		return fmt.Errorf("echo: sent %d bytes, got %d back (or different ones)", n, len(got))
	}
	return nil
}

// pingOn runs count pings on one /ipfs/ping/1.0.0 stream of connection c, interval apart.
func pingOn(ctx context.Context, c network.Conn, count int, interval time.Duration) ([]float64, error) {
	s, err := streamOn(ctx, c, pingProtocol)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var rtts []float64
	buf, back := make([]byte, 32), make([]byte, 32)
	for i := 0; i < count; i++ {
		if i > 0 && interval > 0 {
			time.Sleep(interval)
		}
		rand.Read(buf)
		t0 := time.Now()
		if _, err := s.Write(buf); err != nil {
			return rtts, fmt.Errorf("ping %d write: %w", i+1, err)
		}
		if _, err := io.ReadFull(s, back); err != nil {
			return rtts, fmt.Errorf("ping %d read: %w", i+1, err)
		}
		if string(back) != string(buf) {
			return rtts, errors.New("ping: wrong payload echoed")
		}
		rtts = append(rtts, float64(time.Since(t0).Microseconds())/1000)
	}
	return rtts, nil
}

// /perf/1.0.0 (libp2p/specs perf/perf.md): the client sends the download size as a u64
// big-endian, then its upload bytes, then closes its write side; the server answers with that
// many bytes and closes.
func perfServe(s network.Stream) {
	defer s.Close()
	var hdr [8]byte
	if _, err := io.ReadFull(s, hdr[:]); err != nil {
		s.Reset()
		return
	}
	if _, err := io.Copy(io.Discard, s); err != nil {
		s.Reset()
		return
	}
	if err := writeZeros(s, int64(binary.BigEndian.Uint64(hdr[:]))); err != nil {
		s.Reset()
	}
}

func writeZeros(w io.Writer, n int64) error {
	buf := make([]byte, 64<<10)
	for n > 0 {
		k := int64(len(buf))
		if n < k {
			k = n
		}
		if _, err := w.Write(buf[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func perfRun(ctx context.Context, c network.Conn, up, down int64) (time.Duration, error) {
	s, err := streamOn(ctx, c, perfProtocol)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	t0 := time.Now()
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(down))
	if _, err := s.Write(hdr[:]); err != nil {
		return 0, err
	}
	if err := writeZeros(s, up); err != nil {
		return 0, fmt.Errorf("perf upload: %w", err)
	}
	if err := s.CloseWrite(); err != nil {
		return 0, err
	}
	got, err := io.Copy(io.Discard, s)
	if err != nil {
		return 0, fmt.Errorf("perf download after %d bytes: %w", got, err)
	}
	if got != down {
		return 0, fmt.Errorf("perf: asked for %d bytes, got %d", down, got)
	}
	return time.Since(t0), nil
}
