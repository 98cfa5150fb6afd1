package logs

import (
	"bytes"
	"net/url"
	"testing"

	"github.com/yardhq/yard/server/cluster"
)

// Log lines come from containers: any bytes split into a time (or none) and text that is a
// suffix of the line, without panicking.
func FuzzSplitTimestamp(f *testing.F) {
	for _, s := range []string{"2026-01-02T03:04:05.123456789Z hello", "2026-01-02T03:04:05Z", "x y z", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tm, ts, text := splitTimestamp(b)
		if !bytes.HasSuffix(b, text) {
			t.Fatalf("text %q is not the end of %q", text, b)
		}
		if tm.IsZero() != (ts == "") {
			t.Fatalf("time %v spelled %q", tm, ts)
		}
		_ = encodeLine("p", "c", ts, text)
	})
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{"namespace=demo&pod=web&follow=true&tailLines=5", "namespace=demo&workload=deploy/web&sinceTime=2026-01-02T03:04:05.5Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		r, err := ParseRequest(v)
		if err != nil {
			return
		}
		if !cluster.ValidName(r.Namespace) || (r.Pod == "") == r.Workload.IsZero() {
			t.Fatalf("accepted %+v", r)
		}
		if r.TailLines != nil && (*r.TailLines < 0 || *r.TailLines > maxTailLines) {
			t.Fatalf("accepted tailLines %d", *r.TailLines)
		}
	})
}
