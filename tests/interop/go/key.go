package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// loadKey reads a protobuf PrivateKey file (the format `holepunch keygen` writes), or makes
// an Ed25519 key and writes it there when the file does not exist. An empty path gives a
// fresh key that is not saved.
func loadKey(path string) (crypto.PrivKey, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err == nil {
			return crypto.UnmarshalPrivateKey(b)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil || path == "" {
		return k, err
	}
	b, err := crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return k, os.WriteFile(path, b, 0o600)
}

func runID(o *opts) {
	if o.key == "" {
		die("id needs --key FILE")
	}
	k, err := loadKey(o.key)
	if err != nil {
		die("key %s: %v", o.key, err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		die("peer id: %v", err)
	}
	fmt.Println(id)
}
