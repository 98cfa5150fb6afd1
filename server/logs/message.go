package logs

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// maxLineBytes bounds one line's text; longer lines are cut (the rest of the line is discarded,
// not carried into the next one) so one runaway line cannot take the whole buffer.
const maxLineBytes = 16 << 10

// splitTimestamp splits "2026-01-02T03:04:05.123456789Z text" (what the apiserver sends with
// timestamps=true) into the time, its original spelling and the text. A line without a valid
// leading time is returned whole with a zero time.
func splitTimestamp(line []byte) (time.Time, string, []byte) {
	i := bytes.IndexByte(line, ' ')
	if i < 20 || i > 40 {
		return time.Time{}, "", line
	}
	t, err := time.Parse(time.RFC3339Nano, string(line[:i]))
	if err != nil {
		return time.Time{}, "", line
	}
	return t, string(line[:i]), line[i+1:]
}

// Line is one log line as sent to clients.
type Line struct {
	Type      string `json:"type"`
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Time      string `json:"time"`
	Text      string `json:"text"`
}

// Dropped says how many lines a slow client missed since the previous message.
type Dropped struct {
	Type  string `json:"type"`
	Count int64  `json:"count"`
}

// Status is the health of every stream of a channel.
type Status struct {
	Type string      `json:"type"`
	Pods []PodStatus `json:"pods"`
}

// PodStatus is one container stream's state.
type PodStatus struct {
	Name      string `json:"name"`
	Container string `json:"container"`
	State     string `json:"state"`
	// Message explains a failed state.
	Message string `json:"message,omitempty"`
}

// Stream states.
const (
	StateWaiting   = "waiting"   // the container has not started yet
	StateStreaming = "streaming" // lines are flowing (or may)
	StateEnded     = "ended"     // the stream is over (container stopped, or not following)
	StateDeleted   = "deleted"   // the pod is gone
	StateFailed    = "failed"    // the apiserver refused or broke the stream; Message says why
)

// ErrorMessage is a coded error sent in the stream.
type ErrorMessage struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func encodeLine(pod, container, ts string, text []byte) []byte {
	if !utf8.Valid(text) {
		text = bytes.ToValidUTF8(text, []byte("\uFFFD"))
	}
	b, _ := json.Marshal(Line{Type: "line", Pod: pod, Container: container, Time: ts, Text: string(text)})
	return b
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed, server-built types are encoded here
	}
	return b
}
