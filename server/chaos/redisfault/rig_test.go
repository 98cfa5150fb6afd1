//go:build chaos

package redisfault

import (
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/chaos/internal/chaostest"
)

func TestMain(m *testing.M) {
	code := controlplane.Run(m) // stops the shared control plane if a test started it
	if code == 0 {
		http.DefaultClient.CloseIdleConnections()
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

type replica = chaostest.Replica

// newRig is chaostest's world without a cluster: the Redis scenarios need none.
func newRig(t *testing.T) *chaostest.Rig { return chaostest.NewRig(t, chaostest.Cluster{}) }

// alive fails the test when r's process has exited (crashed); its log is shown as it ends.
func alive(t *testing.T, r *replica) {
	t.Helper()
	if !r.Proc.Running() {
		t.Fatalf("%s exited", r.Name)
	}
}

// readiness is one answer of /api/readyz.
type readiness struct {
	Status string `json:"status"`
	Checks map[string]struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"checks"`
}

// ready asks r's /api/readyz; false when the request itself failed.
func ready(r *replica) (readiness, bool) {
	var rd readiness
	st, err := chaostest.Call(r.Server, http.MethodGet, "", "/api/readyz", "", &rd)
	return rd, err == nil && st != 0
}

// checkOK reports whether the named check was ok in r (a missing check is not).
func (r readiness) checkOK(name string) bool {
	c, ok := r.Checks[name]
	return ok && c.OK
}

// ms formats d to the millisecond, as the figures of these scenarios are.
func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }
