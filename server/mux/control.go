package mux

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"unicode/utf8"
)

// OpenMsg asks for a new channel (client -> server, OpOpen).
type OpenMsg struct {
	// Channel is the id the client chose: not 0 and not in use on this connection.
	Channel uint32 `json:"channel"`
	Kind    string `json:"kind"`
	Params  Params `json:"params,omitempty"`
	// Credit is the client's receive window for this channel: bytes the server may send before
	// the client grants more. 0 means DefaultWindow.
	Credit int64 `json:"credit,omitempty"`
}

// OpenedMsg accepts an open (server -> client, OpOpened).
type OpenedMsg struct {
	Channel uint32 `json:"channel"`
	// Credit is the server's receive window: bytes the client may send on this channel before
	// the server grants more.
	Credit int64 `json:"credit"`
}

// CloseMsg ends a channel (OpClose). Each side sends it once per channel; an id is free again
// once a side has both sent and received it, except that a close answering an open (a refusal)
// frees the id at once and is not answered.
type CloseMsg struct {
	Channel uint32 `json:"channel"`
	// Code and Message are empty on a normal close.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// ErrorMsg is a notice about a frame that was refused without closing anything (OpError).
type ErrorMsg struct {
	Channel uint32 `json:"channel,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// CreditMsg grants the peer Bytes more credit on Channel (OpCredit).
type CreditMsg struct {
	Channel uint32 `json:"channel"`
	Bytes   int64  `json:"bytes"`
}

// Params are open parameters: on the wire a JSON object whose values are strings or arrays of
// strings; in Go the url.Values kinds receive.
type Params url.Values

// UnmarshalJSON accepts string and string-array values.
func (p *Params) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(Params, len(raw))
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out[k] = []string{s}
			continue
		}
		var ss []string
		if err := json.Unmarshal(v, &ss); err != nil {
			return fmt.Errorf("param %q: want a string or an array of strings", k)
		}
		out[k] = ss
	}
	*p = out
	return nil
}

// MarshalJSON writes single values as strings and several as arrays, keys sorted.
func (p Params) MarshalJSON() ([]byte, error) {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		kb, _ := json.Marshal(k)
		b = append(append(b, kb...), ':')
		var vb []byte
		if vs := p[k]; len(vs) == 1 {
			vb, _ = json.Marshal(vs[0])
		} else {
			if vs == nil {
				vs = []string{}
			}
			vb, _ = json.Marshal(vs)
		}
		b = append(b, vb...)
	}
	return append(b, '}'), nil
}

// ControlFrame encodes a control message as a whole frame on channel 0.
//
// The messages the server sends on a channel's goroutine (opened, credit, close, error) are
// encoded by hand, byte for byte as encoding/json would: reflection-driven encoding would grow
// every channel goroutine's stack to 16 KiB for the rest of its life.
func ControlFrame(op byte, msg any) []byte {
	b := AppendHeader(make([]byte, 0, 64), ControlChannel, op)
	switch m := msg.(type) {
	case []byte:
		return append(b, m...)
	case nil:
		return b
	case OpenedMsg:
		b = strconv.AppendUint(append(b, `{"channel":`...), uint64(m.Channel), 10)
		b = strconv.AppendInt(append(b, `,"credit":`...), m.Credit, 10)
		return append(b, '}')
	case CreditMsg:
		b = strconv.AppendUint(append(b, `{"channel":`...), uint64(m.Channel), 10)
		b = strconv.AppendInt(append(b, `,"bytes":`...), m.Bytes, 10)
		return append(b, '}')
	case CloseMsg:
		b = strconv.AppendUint(append(b, `{"channel":`...), uint64(m.Channel), 10)
		if m.Code != "" {
			b = appendJSONString(append(b, `,"code":`...), m.Code)
		}
		if m.Message != "" {
			b = appendJSONString(append(b, `,"message":`...), m.Message)
		}
		return append(b, '}')
	case ErrorMsg:
		b = append(b, '{')
		if m.Channel != 0 {
			b = append(strconv.AppendUint(append(b, `"channel":`...), uint64(m.Channel), 10), ',')
		}
		b = appendJSONString(append(b, `"code":`...), m.Code)
		b = appendJSONString(append(b, `,"message":`...), m.Message)
		return append(b, '}')
	default:
		j, err := json.Marshal(m)
		if err != nil {
			panic(fmt.Sprintf("mux: encoding control message: %v", err)) // only our own types get here
		}
		return append(b, j...)
	}
}

// DecodeControl parses the JSON payload of a control frame into v; failures are bad_frame.
func DecodeControl(payload []byte, v any) error {
	if err := json.Unmarshal(payload, v); err != nil {
		return Errorf(CodeBadFrame, "control message: %v", err)
	}
	return nil
}

// appendJSONString appends s as encoding/json writes it (HTML-safe escaping, invalid UTF-8
// replaced by U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
