package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// File bounds: List reads the file backwards in blocks and never more than fileMaxScan bytes
// (about 150,000 records), so a listing costs at most that however large the file grew.
const (
	fileBlock   = 64 << 10
	fileMaxScan = 64 << 20
)

// File is the trail of a single replica: an append-only JSON lines file, one record per line
// (an attempt, then later its outcome). Each record is one write(2) to a descriptor opened with
// O_APPEND, under a mutex, followed by fsync: once Begin returns, the attempt survives a crash
// of the process or the machine. The file is opened for each record and closed after, so an
// operator may rotate it by renaming (the next record creates a new file) or truncate it in
// place; Yard itself never trims or rewrites it (no retention: --audit-retention is Redis's).
// A line cut short by a crash is skipped when reading, and the next record starts on a fresh
// line.
type File struct {
	path    string
	replica string
	now     func() time.Time

	mu sync.Mutex // one writer at a time, so records are in time order
}

// NewFile returns the trail in the file at path, creating its directory (0700) and the file
// (0600) now, so that a path that cannot be written fails at startup. replica fills entries'
// Replica.
func NewFile(path, replica string) (*File, error) {
	if path == "" {
		return nil, errors.New("audit: no file")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	f := &File{path: path, replica: replica, now: time.Now}
	fd, err := f.open()
	if err != nil {
		return nil, err
	}
	if err := fd.Close(); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return f, nil
}

func (f *File) open() (*os.File, error) {
	fd, err := os.OpenFile(f.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return fd, nil
}

// Begin implements Trail.
func (f *File) Begin(ctx context.Context, e Entry) (Entry, error) { return f.attempt(ctx, e, false) }

// Record implements Trail.
func (f *File) Record(ctx context.Context, e Entry) (Entry, error) { return f.attempt(ctx, e, true) }

func (f *File) attempt(ctx context.Context, e Entry, final bool) (Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := begin(&e, f.replica, f.now(), final); err != nil {
		return Entry{}, err
	}
	e.ID = newID()
	if err := f.appendLocked(ctx, record{Attempt: &e}); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// Finish implements Trail.
func (f *File) Finish(ctx context.Context, id string, o Outcome) error {
	if err := checkOutcome(o); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.appendLocked(ctx, record{Done: &done{ID: id, At: f.now().UTC(), Outcome: o}})
}

// appendLocked writes rec as one line and syncs it.
func (f *File) appendLocked(ctx context.Context, rec record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	fd, err := f.open()
	if err != nil {
		return err
	}
	defer fd.Close()
	torn, err := tornTail(fd)
	if err != nil {
		return err
	}
	line := make([]byte, 0, len(b)+2)
	if torn {
		line = append(line, '\n') // end the torn line: it stays unreadable, ours does not
	}
	line = append(append(line, b...), '\n')
	if _, err := fd.Write(line); err != nil {
		return fmt.Errorf("audit: writing: %w", err)
	}
	if err := fd.Sync(); err != nil {
		return fmt.Errorf("audit: syncing: %w", err)
	}
	return fd.Close()
}

// tornTail reports whether the file's last line lacks its newline (a write cut short).
func tornTail(fd *os.File) (bool, error) {
	st, err := fd.Stat()
	if err != nil {
		return false, fmt.Errorf("audit: %w", err)
	}
	if st.Size() == 0 {
		return false, nil
	}
	var last [1]byte
	if _, err := fd.ReadAt(last[:], st.Size()-1); err != nil {
		return false, fmt.Errorf("audit: %w", err)
	}
	return last[0] != '\n', nil
}

// List implements Trail: the file is read backwards from its end, block by block, folding
// outcomes into their attempts, until the limit is reached, an attempt older than the query's
// since is met, or fileMaxScan bytes were read. Lines that do not parse (a torn last line) are
// skipped.
func (f *File) List(ctx context.Context, q Query) ([]Entry, error) {
	fd, err := os.Open(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return []Entry{}, nil // rotated away and nothing recorded since
	}
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	fl := newFolder(q)
	done := false
	err = readLinesBackwards(fd, st.Size(), fileMaxScan, func(line []byte) bool {
		if ctx.Err() != nil {
			return false
		}
		var rec record
		if json.Unmarshal(line, &rec) != nil {
			return true
		}
		if rec.Attempt != nil && rec.Attempt.Time.Before(q.Since) {
			done = true
			return false
		}
		if fl.add(rec) {
			done = true
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if !done && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return fl.entries(), nil
}

// readLinesBackwards calls fn with each complete line of the first size bytes of r, last line
// first, until fn returns false or limit bytes were read. What follows the last newline is a
// line cut short (or nothing) and is skipped.
func readLinesBackwards(r io.ReaderAt, size, limit int64, fn func(line []byte) bool) error {
	pos := size
	var head []byte // bytes from pos to the next newline already seen: a line not yet complete
	torn := true    // the next segment found is the one after the file's last newline
	for pos > 0 && size-pos < limit {
		start := max(pos-fileBlock, 0)
		buf := make([]byte, pos-start, pos-start+int64(len(head)))
		if _, err := r.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("audit: reading: %w", err)
		}
		buf = append(buf, head...)
		pos = start
		for {
			i := bytes.LastIndexByte(buf, '\n')
			if i < 0 {
				break
			}
			line := buf[i+1:]
			buf = buf[:i]
			if torn {
				torn = false
				continue
			}
			if len(line) > 0 && !fn(line) {
				return nil
			}
		}
		head = buf
	}
	if pos == 0 && !torn && len(head) > 0 {
		fn(head) // the file's first line
	}
	return nil
}
