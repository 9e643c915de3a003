package main

import (
	"reflect"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-yamux/v5"
)

// connRoles reads the security and muxer roles from the sessions go-libp2p built for c.
// Stat().Direction cannot tell them: the swarm overwrites it with who dialled
// (swarm.addConn), while a hole-punch dial with isClient=false is upgraded as the server
// (p2p/transport/tcp/tcp.go). Neither go-yamux nor go-libp2p's Noise export their role, so the
// unexported flags are read by reflection (read-only): yamux.Session.client and, under it,
// the Noise secureSession.initiator (with TLS, crypto/tls.Conn.isClient: the key keeps the
// contract's name noise_initiator; "security" says which). nil when a field is not there.
func connRoles(c network.Conn) (noiseInitiator, yamuxClient any) {
	var sess *yamux.Session
	if !c.As(&sess) || sess == nil {
		return nil, nil
	}
	v := reflect.ValueOf(sess).Elem()
	if f := v.FieldByName("client"); f.IsValid() && f.Kind() == reflect.Bool {
		yamuxClient = f.Bool()
	}
	sec := v.FieldByName("conn") // the secured net.Conn yamux runs on
	for sec.IsValid() && (sec.Kind() == reflect.Interface || sec.Kind() == reflect.Pointer) && !sec.IsNil() {
		sec = sec.Elem()
	}
	noiseInitiator = boolField(sec, "initiator")
	if noiseInitiator == nil { // TLS (go-go picks it first): libp2ptls's conn embeds *tls.Conn
		tc := sec
		if tc.IsValid() && tc.Kind() == reflect.Struct {
			tc = tc.FieldByName("Conn")
		}
		for tc.IsValid() && (tc.Kind() == reflect.Interface || tc.Kind() == reflect.Pointer) && !tc.IsNil() {
			tc = tc.Elem()
		}
		noiseInitiator = boolField(tc, "isClient")
	}
	return noiseInitiator, yamuxClient
}

func boolField(v reflect.Value, name string) any {
	if !v.IsValid() || v.Kind() != reflect.Struct {
		return nil
	}
	if f := v.FieldByName(name); f.IsValid() && f.Kind() == reflect.Bool {
		return f.Bool()
	}
	return nil
}
