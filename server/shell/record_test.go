package shell

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fullFile is a file on a full disk: writes fail with ENOSPC.
type fullFile struct{ closed bool }

func (f *fullFile) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "/var/lib/yard/recordings/x.cast", Err: syscall.ENOSPC}
}
func (f *fullFile) Close() error { f.closed = true; return nil }

// A recording that cannot even take its header refuses the session, saying why and not where.
func TestRecorderOnAFullDiskRefusesAtStart(t *testing.T) {
	f := &fullFile{}
	r, err := startRecorder(f, 80, 24, "demo/web", time.Now())
	if err == nil || r != nil {
		t.Fatalf("started a recording on a full disk: %v", err)
	}
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "no space left on device") || strings.Contains(err.Error(), "/var/lib") {
		t.Fatalf("error %q: want ENOSPC without the path", err)
	}
	if !f.closed {
		t.Fatal("the file was left open")
	}
}

// A disk that fills during a session marks the recording failed; what was written before stays.
func TestRecorderFailureIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.cast")
	real, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := startRecorder(real, 80, 24, "demo/web", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.failure() != nil {
		t.Fatalf("a fresh recording failed: %v", r.failure())
	}
	_ = real.Close()
	full := &fullFile{}
	r.f = full
	r.w.Reset(full)
	r.output(time.Now(), []byte("hello"))
	r.flush()
	if !errors.Is(r.failure(), syscall.ENOSPC) {
		t.Fatalf("failure %v, want ENOSPC", r.failure())
	}
	r.output(time.Now(), []byte("more")) // ignored once failed, no panic
	if err := r.close(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("close %v", err)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), `{"env"`) || strings.Count(string(b), "\n") != 1 {
		t.Fatalf("the header is not kept: %q", b)
	}
}

// The readiness probe writes and removes a file; a place that cannot take one is reported.
func TestProbeRecordings(t *testing.T) {
	dir := t.TempDir()
	if err := probeRecordings(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("the probe left %v", left)
	}
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := probeRecordings(context.Background(), notDir)
	if err == nil || strings.Contains(err.Error(), dir) {
		t.Fatalf("probe of a file: %v (want an error without the path)", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if probeRecordings(ctx, dir) == nil {
		t.Fatal("a cancelled probe succeeded")
	}
}

// Before the first session the directory need not exist: the probe writes where it will be made
// and leaves nothing, not even the directory.
func TestProbeRecordingsBeforeTheDirectoryExists(t *testing.T) {
	base := t.TempDir()
	if err := probeRecordings(context.Background(), filepath.Join(base, "a", "b")); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(base); len(left) != 0 {
		t.Fatalf("the probe left %v", left)
	}
}

// Pages ask /api/readyz every few seconds: one probe answers them for probeEvery, and a disk that
// fills is reported once that time has passed.
func TestRecordingsProbeIsReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "recordings")
	clock := time.Unix(1000, 0)
	p := newReusedProbe(func(ctx context.Context) error { return probeRecordings(ctx, dir) }, func() time.Time { return clock })
	if err := p.check(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The directory's place becomes a file: the answer stands until probeEvery has passed.
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(probeEvery - time.Millisecond)
	if err := p.check(context.Background()); err != nil {
		t.Fatalf("within probeEvery: %v (want the reused answer)", err)
	}
	clock = clock.Add(time.Millisecond)
	if err := p.check(context.Background()); err == nil {
		t.Fatal("after probeEvery the probe should have run again and failed")
	}
}
