package app_test

import (
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/yardhq/yard/server/internal/redistest"
)

// Behind a load balancer the ticket request and the WebSocket upgrade may reach different
// replicas: a ticket issued by one opens a socket on the other, once.
func TestTicketIssuedByOneReplicaOpensASocketOnAnother(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		rs := redistest.Fresh(t, k)
		a, b := startReplica(t, "ta", rs), startReplica(t, "tb", rs)
		tk := a.Ticket(t, a.login(t, "alice", false))
		conn, resp, err := b.DialWS("/ws", "", url.Values{"ticket": {tk}})
		if err != nil {
			t.Fatalf("upgrade on b with a's ticket: %v (%v)", err, status(resp))
		}
		_ = conn.Close()
		if _, resp, err := a.DialWS("/ws", "", url.Values{"ticket": {tk}}); err == nil || status(resp) != http.StatusUnauthorized {
			t.Fatalf("the ticket used again, on a: %v (%v)", err, status(resp))
		}
	})
}

// Redis gone: an upgrade with a ticket is answered 503 (the ticket cannot be checked), not 401
// (which would tell the browser its sign-in is bad).
func TestTicketUnavailableWithoutRedis(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
	rs := redistest.Start(t)
	a := startReplica(t, "ta", rs.Target())
	tk := a.Ticket(t, a.login(t, "alice", false))
	rs.Kill()
	if _, resp, err := a.DialWS("/ws", "", url.Values{"ticket": {tk}}); err == nil || status(resp) != http.StatusServiceUnavailable {
		t.Fatalf("upgrade without Redis: %v (%v)", err, status(resp))
	}
}

func status(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}
