package shell

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// recorder writes a session as asciicast v2: a header line, then [seconds, "o", text] for
// output and [seconds, "r", "COLSxROWS"] for resizes. Input is never written.
type recorder struct {
	f     *os.File
	w     *bufio.Writer
	start time.Time
	err   error
}

func newRecorder(dir, id string, cols, rows int, title string, now time.Time) (*recorder, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("recordings directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, id+".cast"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	r := &recorder{f: f, w: bufio.NewWriterSize(f, 32<<10), start: now}
	hdr, _ := json.Marshal(map[string]any{
		"version": 2, "width": cols, "height": rows, "timestamp": now.Unix(), "title": title,
		"env": map[string]string{"TERM": "xterm-256color"},
	})
	r.line(hdr)
	return r, nil
}

func (r *recorder) line(b []byte) {
	if r.err != nil {
		return
	}
	if _, err := r.w.Write(b); err != nil {
		r.err = err
		return
	}
	r.err = r.w.WriteByte('\n')
}

func (r *recorder) event(now time.Time, code string, data string) {
	b, _ := json.Marshal([]any{json.Number(strconv.FormatFloat(now.Sub(r.start).Seconds(), 'f', 6, 64)), code, data})
	r.line(b)
}

func (r *recorder) output(now time.Time, p []byte) { r.event(now, "o", string(p)) }

func (r *recorder) resize(now time.Time, cols, rows int) {
	r.event(now, "r", strconv.Itoa(cols)+"x"+strconv.Itoa(rows))
}

// flush pushes buffered events to the file (done periodically, so a crash loses little).
func (r *recorder) flush() {
	if r.err == nil {
		r.err = r.w.Flush()
	}
}

func (r *recorder) close() error {
	r.flush()
	return errorsJoin(r.err, r.f.Close())
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// ring keeps the last max bytes written: the scrollback a joiner sees first.
type ring struct {
	buf []byte
	max int
}

func (r *ring) write(p []byte) {
	if len(p) >= r.max {
		r.buf = append(r.buf[:0], p[len(p)-r.max:]...)
		return
	}
	if over := len(r.buf) + len(p) - r.max; over > 0 {
		r.buf = append(r.buf[:0], r.buf[over:]...)
	}
	r.buf = append(r.buf, p...)
}

func (r *ring) bytes() []byte { return append([]byte(nil), r.buf...) }
