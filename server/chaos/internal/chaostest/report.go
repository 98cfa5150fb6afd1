package chaostest

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Report collects a scenario's figures and logs them, with the outcome, when the test ends as
// one line: "RESULT PASS|FAIL name | guarantee | key=value ... took=…". hack/chaos.sh and
// hack/soak.sh gather these lines into their summaries.
type Report struct {
	mu      sync.Mutex
	figures map[string]string
}

// NewReport starts the report of t, which asserts guarantee.
func NewReport(t *testing.T, guarantee string) *Report {
	r := &Report{figures: map[string]string{}}
	start := time.Now()
	t.Cleanup(func() {
		outcome := "PASS"
		if t.Failed() {
			outcome = "FAIL"
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		keys := make([]string, 0, len(r.figures))
		for k := range r.figures {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%s", k, r.figures[k])
		}
		t.Logf("RESULT %s %s | %s |%s took=%s", outcome, t.Name(), guarantee, b.String(), time.Since(start).Round(100*time.Millisecond))
	})
	return r
}

// Set records one figure.
func (r *Report) Set(key string, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.figures[key] = fmt.Sprintf(format, args...)
}

// Seconds formats d as the reports do.
func Seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
