package yprotocol

import (
	"bytes"
	"encoding/json"
	"testing"
)

func addGoldenSeeds(f *testing.F) {
	g := loadGolden(f)
	for _, m := range g.Messages {
		f.Add([]byte(m.Bytes))
	}
	for _, u := range g.AwarenessUpdates {
		f.Add([]byte(u.Bytes))
	}
}

// Whatever decodes re-encodes to a message that decodes to the same thing.
func FuzzDecodeMessage(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, rest, err := DecodeMessage(b)
		if err != nil {
			return
		}
		if len(rest) > len(b) {
			t.Fatalf("rest longer than input")
		}
		enc := m.Encode()
		m2, rest2, err := DecodeMessage(enc)
		if err != nil || len(rest2) != 0 {
			t.Fatalf("re-decode of %x: %v (rest %d)", enc, err, len(rest2))
		}
		if m2.Type != m.Type || m2.Sync != m.Sync || !bytes.Equal(m2.Payload, m.Payload) || m2.Reason != m.Reason {
			t.Fatalf("round trip %+v -> %+v", m, m2)
		}
	})
}

// Decoding never panics, a decoded update round-trips, and an Awareness either applies it or
// stays exactly as it was.
func FuzzDecodeAwarenessUpdate(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		a := NewAwareness(1, nil)
		before := a.States()
		u, err := DecodeAwarenessUpdate(b)
		_, applyErr := a.ApplyUpdate(b)
		if (err == nil) != (applyErr == nil) {
			t.Fatalf("decode error %v, apply error %v", err, applyErr)
		}
		if err != nil {
			if len(a.States()) != len(before) {
				t.Fatalf("rejected update changed the states")
			}
			return
		}
		u2, err := DecodeAwarenessUpdate(u.Encode())
		if err != nil || len(u2.Clients) != len(u.Clients) {
			t.Fatalf("re-decode: %v", err)
		}
		for i := range u.Clients {
			if u.Clients[i].ClientID != u2.Clients[i].ClientID || u.Clients[i].Clock != u2.Clients[i].Clock ||
				!bytes.Equal(u.Clients[i].State, u2.Clients[i].State) || !json.Valid(u2.Clients[i].State) {
				t.Fatalf("round trip of client %d differs", i)
			}
		}
	})
}
