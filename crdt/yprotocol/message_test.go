package yprotocol

import (
	"bytes"
	"errors"
	"testing"
)

func TestDecodeMessageRejectsBadInput(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		code string
	}{
		{"empty", nil, CodeMalformed},
		{"unterminated type", []byte{0x80}, CodeMalformed},
		{"unknown type", []byte{4}, CodeUnknownType},
		{"huge type", []byte{0xff, 0xff, 0xff, 0xff, 0x7f}, CodeUnknownType},
		{"sync without sub-type", []byte{0}, CodeMalformed},
		{"unknown sync type", []byte{0, 3, 0}, CodeUnknownType},
		{"sync without payload", []byte{0, 1}, CodeMalformed},
		{"sync payload longer than input", []byte{0, 2, 5, 1, 2}, CodeMalformed},
		{"sync payload claiming 2^50 bytes", []byte{0, 2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, CodeMalformed},
		{"awareness without payload", []byte{1}, CodeMalformed},
		{"auth without type", []byte{2}, CodeMalformed},
		{"unknown auth type", []byte{2, 1, 0}, CodeUnknownType},
		{"auth without reason", []byte{2, 0}, CodeMalformed},
		{"auth reason not UTF-8", []byte{2, 0, 2, 0xc3, 0x28}, CodeMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := DecodeMessage(c.in)
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != c.code {
				t.Fatalf("DecodeMessage(%x) = %v, want code %s", c.in, err, c.code)
			}
		})
	}
}

func TestDecodeMessageReturnsTheRest(t *testing.T) {
	a := EncodeSyncStep1([]byte{0})
	b := EncodeQueryAwareness()
	c := EncodePermissionDenied("no")
	in := append(append(append([]byte{}, a...), b...), c...)
	var got []Message
	for rest := in; len(rest) > 0; {
		m, r, err := DecodeMessage(rest)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
		rest = r
	}
	if len(got) != 3 || got[0].Sync != SyncStep1 || got[1].Type != MessageQueryAwareness || got[2].Reason != "no" {
		t.Fatalf("decoded %+v", got)
	}
}

func TestIsWrite(t *testing.T) {
	for _, c := range []struct {
		msg  []byte
		want bool
	}{
		{EncodeSyncStep1([]byte{0}), false},
		{EncodeSyncStep2([]byte{0, 0}), true},
		{EncodeUpdate([]byte{0, 0}), true},
		{EncodeAwareness([]byte{0}), false},
		{EncodeQueryAwareness(), false},
	} {
		m, _, err := DecodeMessage(c.msg)
		if err != nil {
			t.Fatal(err)
		}
		if m.IsWrite() != c.want {
			t.Errorf("IsWrite(%x) = %v", c.msg, m.IsWrite())
		}
	}
}

// fakeDoc records what the handshake does with a document; the real engine is exercised in
// sync_engine_test.go.
type fakeDoc struct {
	sv, update []byte
	applied    [][]byte
	rejectAll  bool
	askedSV    []byte
}

func (d *fakeDoc) EncodeStateVector() []byte { return d.sv }
func (d *fakeDoc) EncodeStateAsUpdate(sv []byte) ([]byte, error) {
	d.askedSV = sv
	if d.rejectAll {
		return nil, errors.New("bad state vector")
	}
	return d.update, nil
}
func (d *fakeDoc) ApplyUpdate(u []byte) error {
	if d.rejectAll {
		return errors.New("bad update")
	}
	d.applied = append(d.applied, u)
	return nil
}

func TestHandleSync(t *testing.T) {
	doc := &fakeDoc{sv: []byte{1, 5, 3}, update: []byte{0, 0}}
	if got := SyncStep1For(doc); !bytes.Equal(got, []byte{0, 0, 3, 1, 5, 3}) {
		t.Fatalf("SyncStep1For = %x", got)
	}
	m, _, _ := DecodeMessage(EncodeSyncStep1([]byte{1, 9, 2}))
	reply, err := HandleSync(doc, m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc.askedSV, []byte{1, 9, 2}) || !bytes.Equal(reply, []byte{0, 1, 2, 0, 0}) {
		t.Fatalf("step 1: asked %x, replied %x", doc.askedSV, reply)
	}
	for _, msg := range [][]byte{EncodeSyncStep2([]byte{7}), EncodeUpdate([]byte{8})} {
		m, _, _ := DecodeMessage(msg)
		if reply, err := HandleSync(doc, m); err != nil || reply != nil {
			t.Fatalf("HandleSync(%x) = %x, %v", msg, reply, err)
		}
	}
	if len(doc.applied) != 2 || doc.applied[0][0] != 7 || doc.applied[1][0] != 8 {
		t.Fatalf("applied %x", doc.applied)
	}
	doc.rejectAll = true
	m, _, _ = DecodeMessage(EncodeUpdate([]byte{9}))
	if _, err := HandleSync(doc, m); !IsCode(err, CodeApply) {
		t.Fatalf("rejected update: %v", err)
	}
	m, _, _ = DecodeMessage(EncodeSyncStep1([]byte{9}))
	if _, err := HandleSync(doc, m); !IsCode(err, CodeMalformed) {
		t.Fatalf("rejected state vector: %v", err)
	}
	if _, err := HandleSync(doc, Message{Type: MessageAwareness}); !IsCode(err, CodeUnknownType) {
		t.Fatalf("awareness message: %v", err)
	}
}
