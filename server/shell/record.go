package shell

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// recorder writes a session as asciicast v2: a header line, then [seconds, "o", text] for
// output and [seconds, "r", "COLSxROWS"] for resizes. Input is never written.
type recorder struct {
	f     io.WriteCloser
	w     *bufio.Writer
	start time.Time
	err   error
}

func newRecorder(dir, id string, cols, rows int, title string, now time.Time) (*recorder, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("recordings directory: %w", err)
	}
	path := filepath.Join(dir, id+".cast")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("the session cannot be recorded: %w", bare(err))
	}
	r, err := startRecorder(f, cols, rows, title, now)
	if err != nil {
		_ = os.Remove(path)
		return nil, err
	}
	return r, nil
}

// startRecorder writes the header to f and flushes it at once: a recording that cannot be
// written (a full disk) refuses the session rather than leave it unrecorded from its start.
func startRecorder(f io.WriteCloser, cols, rows int, title string, now time.Time) (*recorder, error) {
	r := &recorder{f: f, w: bufio.NewWriterSize(f, 32<<10), start: now}
	hdr, _ := json.Marshal(map[string]any{
		"version": 2, "width": cols, "height": rows, "timestamp": now.Unix(), "title": title,
		"env": map[string]string{"TERM": "xterm-256color"},
	})
	r.line(hdr)
	r.flush()
	if r.err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("the session cannot be recorded: %w", bare(r.err))
	}
	return r, nil
}

// bare drops the path from a file system error: clients see why, not where.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// probeRecordings writes and removes a small file in dir: /api/readyz reports recordings as
// degraded when the directory cannot take a new one (a full disk, lost permissions).
func probeRecordings(ctx context.Context, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Before the first session the directory may not exist yet: its nearest existing ancestor
	// is where it will be made, and the probe leaves nothing behind.
	for {
		fi, err := os.Stat(dir)
		if err == nil {
			if !fi.IsDir() {
				return errors.New("the recordings directory is not a directory")
			}
			break
		}
		parent := filepath.Dir(dir)
		if !errors.Is(err, fs.ErrNotExist) || parent == dir {
			return fmt.Errorf("recordings directory: %w", bare(err))
		}
		dir = parent
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	path := filepath.Join(dir, ".probe-"+hex.EncodeToString(b[:]))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("new recordings cannot be written: %w", bare(err))
	}
	defer os.Remove(path)
	// One page: a file system with less room than that cannot take a session's header and
	// first output.
	_, err = f.Write(make([]byte, 4096))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("new recordings cannot be written: %w", bare(err))
	}
	return nil
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

// failure is why the recording stopped being written, nil while it is complete.
func (r *recorder) failure() error { return r.err }

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

// probeEvery is how long a recordings probe's answer is reused: every open page asks /api/readyz
// every few seconds, and one file written per replica per probeEvery answers them all.
const probeEvery = 2 * time.Second

// reusedProbe runs probe at most once per probeEvery and answers with its last result between.
type reusedProbe struct {
	probe func(context.Context) error
	now   func() time.Time

	mu  sync.Mutex
	at  time.Time
	err error
}

func newReusedProbe(probe func(context.Context) error, now func() time.Time) *reusedProbe {
	return &reusedProbe{probe: probe, now: now}
}

func (p *reusedProbe) check(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := p.now(); p.at.IsZero() || now.Sub(p.at) >= probeEvery {
		p.err = p.probe(ctx)
		p.at = now
	}
	return p.err
}
