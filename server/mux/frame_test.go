package mux

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/wire.golden")

func TestFrameRoundTrip(t *testing.T) {
	for _, ch := range []uint32{0, 1, 127, 128, 300, 16383, 16384, 1<<21 - 1, 1 << 21, 1<<28 - 1, 1 << 28, MaxChannelID} {
		typ := byte(Binary)
		if ch == 0 {
			typ = OpPing
		}
		in := Frame{Channel: ch, Type: typ, Payload: []byte("payload")}
		b := AppendFrame(nil, in)
		if len(b)-len(in.Payload) > MaxHeaderLen {
			t.Fatalf("header of channel %d is %d bytes", ch, len(b)-len(in.Payload))
		}
		out, err := DecodeFrame(b)
		if err != nil {
			t.Fatalf("channel %d: %v", ch, err)
		}
		if out.Channel != in.Channel || out.Type != in.Type || !bytes.Equal(out.Payload, in.Payload) {
			t.Fatalf("round trip %+v -> %+v", in, out)
		}
	}
}

func TestDecodeFrameRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":                  {},
		"truncated varuint":      {0x80},
		"no type byte":           {0x01},
		"non-minimal varuint":    {0x81, 0x00, 0x01},
		"non-minimal zero":       {0x80, 0x00, OpPing},
		"six-byte varuint":       {0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x01},
		"id over 32 bits":        {0xff, 0xff, 0xff, 0xff, 0x10, 0x01},
		"data type 0":            {0x01, 0x00},
		"data type 3":            {0x01, 0x03},
		"control op 0":           {0x00, 0x00},
		"control op past credit": {0x00, OpCredit + 1},
	} {
		_, err := DecodeFrame(b)
		if err == nil || AsError(err).Code != CodeBadFrame {
			t.Errorf("%s (% x): got %v, want bad_frame", name, b, err)
		}
	}
}

func TestParamsJSON(t *testing.T) {
	var p Params
	if err := p.UnmarshalJSON([]byte(`{"a":"1","b":["x","y"],"c":[]}`)); err != nil {
		t.Fatal(err)
	}
	want := url.Values{"a": {"1"}, "b": {"x", "y"}, "c": {}}
	if fmt.Sprint(url.Values(p)) != fmt.Sprint(want) {
		t.Fatalf("got %v", p)
	}
	b, _ := p.MarshalJSON()
	if string(b) != `{"a":"1","b":["x","y"],"c":[]}` {
		t.Fatalf("marshal %s", b)
	}
	for _, bad := range []string{`{"a":1}`, `{"a":[1]}`, `[]`, `{"a":{"b":"c"}}`} {
		if err := p.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestCloseCodes(t *testing.T) {
	// The table itself is errcode's (tested there); here only the close reason.
	long := strings.Repeat("é", 100)
	if r := closeReason("bad_frame", long); len(r) > 123 || !strings.HasPrefix(r, "bad_frame: ") || !utf8Valid(r) {
		t.Fatalf("reason %q (%d bytes)", r, len(r))
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\x00") == s }

// goldenFrames are the wire examples of docs/protocol.md; testdata/wire.golden pins their bytes.
func goldenFrames() []struct {
	name string
	b    []byte
} {
	return []struct {
		name string
		b    []byte
	}{
		{"open ping on channel 1", ControlFrame(OpOpen, OpenMsg{Channel: 1, Kind: "ping", Credit: 262144})},
		{"open logs with params", ControlFrame(OpOpen, OpenMsg{Channel: 2, Kind: "logs", Params: Params{"pod": {"web-0"}, "container": {"a", "b"}}})},
		{"opened", ControlFrame(OpOpened, OpenedMsg{Channel: 1, Credit: 262144})},
		{"refused", ControlFrame(OpClose, CloseMsg{Channel: 2, Code: CodeForbidden, Message: "may not get pods/log"})},
		{"normal close", ControlFrame(OpClose, CloseMsg{Channel: 1})},
		{"error notice", ControlFrame(OpError, ErrorMsg{Channel: 77, Code: CodeUnknownChannel, Message: "no such channel"})},
		{"credit", ControlFrame(OpCredit, CreditMsg{Channel: 1, Bytes: 131072})},
		{"ping", ControlFrame(OpPing, []byte("42"))},
		{"pong", ControlFrame(OpPong, []byte("42"))},
		{"text on channel 1", AppendFrame(nil, Frame{Channel: 1, Type: byte(Text), Payload: []byte(`{"hi":1}`)})},
		{"binary on channel 300", AppendFrame(nil, Frame{Channel: 300, Type: byte(Binary), Payload: []byte{0, 1, 2}})},
		{"empty binary on channel 16384", AppendFrame(nil, Frame{Channel: 16384, Type: byte(Binary)})},
	}
}

func TestWireGolden(t *testing.T) {
	var sb strings.Builder
	for _, g := range goldenFrames() {
		fmt.Fprintf(&sb, "%s\n  %s\n", g.name, hex.EncodeToString(g.b))
		if _, err := DecodeFrame(g.b); err != nil {
			t.Fatalf("%s does not decode: %v", g.name, err)
		}
	}
	path := filepath.Join("testdata", "wire.golden")
	if *update {
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./server/mux -run TestWireGolden -update)", err)
	}
	if sb.String() != string(want) {
		t.Fatalf("wire format changed; if intended, run with -update and update docs/protocol.md\ngot:\n%s\nwant:\n%s", sb.String(), want)
	}
}

// FuzzDecodeFrame checks that every input either decodes canonically (re-encoding gives the same
// bytes) or is refused with bad_frame, and that control payloads never panic their decoders.
func FuzzDecodeFrame(f *testing.F) {
	for _, g := range goldenFrames() {
		f.Add(g.b)
	}
	f.Add([]byte{0x80})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			if AsError(err).Code != CodeBadFrame {
				t.Fatalf("error %v is not bad_frame", err)
			}
			return
		}
		if re := AppendFrame(nil, fr); !bytes.Equal(re, b) {
			t.Fatalf("not canonical: % x -> % x", b, re)
		}
		if fr.Channel != ControlChannel {
			return
		}
		var v any
		switch fr.Type {
		case OpOpen:
			v = &OpenMsg{}
		case OpOpened:
			v = &OpenedMsg{}
		case OpClose:
			v = &CloseMsg{}
		case OpError:
			v = &ErrorMsg{}
		case OpCredit:
			v = &CreditMsg{}
		default:
			return
		}
		if err := DecodeControl(fr.Payload, v); err != nil && AsError(err).Code != CodeBadFrame {
			t.Fatalf("control error %v is not bad_frame", err)
		}
	})
}

// The hand-written control encoder must write exactly what encoding/json writes.
func TestControlFrameMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `q"uote\\back`, "new\nline\r\ttab\x01\x1f", "<a href='x'>&</a>", "é€😀", "bad\xffutf8\xc3", "line\u2028sep\u2029", strings.Repeat("x", 300)}
	var msgs []any
	for _, s := range strs {
		msgs = append(msgs, CloseMsg{Channel: 7, Code: s, Message: s}, ErrorMsg{Code: s, Message: s}, ErrorMsg{Channel: 1 << 31, Code: "c", Message: s})
	}
	msgs = append(msgs, OpenedMsg{Channel: MaxChannelID, Credit: 1 << 40}, CreditMsg{Channel: 1, Bytes: 5}, CloseMsg{}, OpenedMsg{})
	for _, m := range msgs {
		j, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got := ControlFrame(OpError, m)[2:]
		if string(got) != string(j) {
			t.Fatalf("%#v:\n got %s\nwant %s", m, got, j)
		}
	}
}
