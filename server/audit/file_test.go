package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func newTestFile(t testing.TB) (*File, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "audit.jsonl")
	f, err := NewFile(path, "r1")
	if err != nil {
		t.Fatal(err)
	}
	return f, path
}

func TestFileTrail(t *testing.T) {
	f, path := newTestFile(t)
	exerciseTrail(t, f)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || dir.Mode().Perm() != 0o700 {
		t.Fatalf("file %v, directory %v", st.Mode().Perm(), dir.Mode().Perm())
	}
	// Reopened (a restart), the file lists what was written before.
	again, err := NewFile(path, "r1")
	if err != nil {
		t.Fatal(err)
	}
	l, err := again.List(context.Background(), Query{})
	if err != nil || len(l) != 4 || l[3].Result != ResultOK || l[2].Result != ResultPending || l[2].Replica != "r1" {
		t.Fatalf("reopened: %+v %v", l, err)
	}
}

func TestFileTrailPaging(t *testing.T) {
	f, path := newTestFile(t)
	exercisePaging(t, f)
	if st, _ := os.Stat(path); st.Size() < 2*fileBlock {
		t.Fatalf("the file is %d bytes: the listing did not cross blocks", st.Size())
	}
}

// Appends from many goroutines give one valid record per line, each attempt with its outcome.
func TestFileConcurrentAppends(t *testing.T) {
	f, path := newTestFile(t)
	const writers, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for range each {
				e, err := f.Begin(context.Background(), Entry{User: string(rune('a' + w)), Verb: VerbApply, Detail: strings.Repeat("d", 300)})
				if err == nil {
					err = f.Finish(context.Background(), e.ID, Outcome{Result: ResultOK})
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	n := 0
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || (r.Attempt == nil) == (r.Done == nil) {
			t.Fatalf("line %d: %q (%v)", n+1, sc.Text(), err)
		}
		n++
	}
	if n != 2*writers*each {
		t.Fatalf("%d lines", n)
	}
	l, err := f.List(context.Background(), Query{Limit: MaxLimit})
	if err != nil || len(l) != writers*each {
		t.Fatalf("%d entries, %v", len(l), err)
	}
	for i, e := range l {
		if e.Result != ResultOK || (i > 0 && e.Time.After(l[i-1].Time)) {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
}

// A crash in the middle of a write leaves a torn last line: reading skips it, and the next
// record starts on its own line.
func TestFileTornLastLine(t *testing.T) {
	f, path := newTestFile(t)
	ctx := context.Background()
	before, err := f.Begin(ctx, Entry{User: "alice", Verb: VerbApply})
	if err != nil {
		t.Fatal(err)
	}
	fd, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fd.WriteString(`{"done":{"id":"` + before.ID + `","result":"fai`); err != nil {
		t.Fatal(err)
	}
	fd.Close()

	f, err = NewFile(path, "r1") // the restart after the crash
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.List(ctx, Query{})
	if err != nil || len(l) != 1 || l[0].ID != before.ID || l[0].Result != ResultPending {
		t.Fatalf("after the crash: %+v %v", l, err)
	}
	after, err := f.Begin(ctx, Entry{User: "bob", Verb: VerbDelete})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Finish(ctx, after.ID, Outcome{Result: ResultOK}); err != nil {
		t.Fatal(err)
	}
	l, err = f.List(ctx, Query{})
	if err != nil || len(l) != 2 || l[0].ID != after.ID || l[0].Result != ResultOK || l[1].ID != before.ID {
		t.Fatalf("after the next records: %+v %v", l, err)
	}
	raw, _ := os.ReadFile(path)
	if lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n"); len(lines) != 4 || !strings.HasSuffix(lines[1], `"fai`) {
		t.Fatalf("file:\n%s", raw)
	}
}

// Renaming the file away (rotation) leaves an empty trail that the next record starts again.
func TestFileRotatedByRenaming(t *testing.T) {
	f, path := newTestFile(t)
	ctx := context.Background()
	if _, err := f.Begin(ctx, Entry{User: "alice", Verb: VerbApply}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if l, err := f.List(ctx, Query{}); err != nil || len(l) != 0 {
		t.Fatalf("rotated: %+v %v", l, err)
	}
	if _, err := f.Record(ctx, Entry{User: "bob", Verb: VerbExec, Result: ResultOK}); err != nil {
		t.Fatal(err)
	}
	if l, err := f.List(ctx, Query{}); err != nil || len(l) != 1 || l[0].User != "bob" {
		t.Fatalf("after rotation: %+v %v", l, err)
	}
}

func TestReadLinesBackwards(t *testing.T) {
	long := strings.Repeat("L", fileBlock+10) // a line longer than a block
	for name, tc := range map[string]struct{ in, want string }{
		"empty":          {"", ""},
		"one":            {"a\n", "a"},
		"order":          {"a\nb\nc\n", "c b a"},
		"torn tail":      {"a\nb\nc", "b a"},
		"only torn":      {"abc", ""},
		"blank lines":    {"a\n\nb\n", "b a"},
		"across blocks":  {"a\n" + long + "\nb\n", "b " + long + " a"},
		"long torn tail": {"a\n" + long, "a"},
	} {
		t.Run(name, func(t *testing.T) {
			var got []string
			err := readLinesBackwards(strings.NewReader(tc.in), int64(len(tc.in)), fileMaxScan, func(l []byte) bool {
				got = append(got, string(l))
				return true
			})
			if err != nil || strings.Join(got, " ") != tc.want {
				t.Fatalf("got %q %v", strings.Join(got, " "), err)
			}
		})
	}
	var got []string
	_ = readLinesBackwards(strings.NewReader("a\nb\nc\n"), 6, fileMaxScan, func(l []byte) bool {
		got = append(got, string(l))
		return len(got) < 2
	})
	if strings.Join(got, " ") != "c b" {
		t.Fatalf("stopping: %q", got)
	}
	// The bound: at most limit bytes (rounded up to a block) are read.
	big := strings.Repeat("0123456789\n", 3*fileBlock/11)
	n := 0
	_ = readLinesBackwards(strings.NewReader(big), int64(len(big)), fileBlock, func([]byte) bool { n++; return true })
	if n == 0 || n > fileBlock/11+1 {
		t.Fatalf("%d lines read with a bound of one block", n)
	}
}

func BenchmarkFileBeginFinish(b *testing.B) {
	f, _ := newTestFile(b)
	benchBeginFinish(b, f)
}
