package app_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/yardhq/yard/server/internal/redistest"
)

// Presence and connection lists live in the one replica directory under its documented keys;
// a replica that stops cleanly takes its entries with it, so the other lists nothing of it.
func TestReplicaDirectoryIsEmptiedByACleanStop(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
	redistest.Each(t, testDirectoryEmptiedByACleanStop)
}

func testDirectoryEmptiedByACleanStop(t *testing.T, k redistest.Kind) {
	rs := redistest.Fresh(t, k)
	rdb := rs.Client(t)
	a := startReplica(t, "ra", rs)
	b := startReplica(t, "rb", rs)
	root := a.login(t, "root", true)
	bob := b.dial(t, b.login(t, "bob", false))
	open(t, bob, "sync", url.Values{"room": {"r1"}})
	eventually(t, "bob's room row on replica a", func() bool {
		var p presenceList
		return a.do(t, http.MethodGet, root, "/api/admin/presence", &p) == http.StatusOK &&
			len(p.Presence) == 1 && p.Presence[0].Replica == "rb"
	})
	ctx := context.Background()
	entry := func(scope, id string) bool {
		n, err := rdb.Exists(ctx, "yard:dir:{"+scope+"}:e:"+id).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	for _, scope := range []string{"presence", "connections"} {
		if !entry(scope, "rb") {
			t.Fatalf("no %s entry of replica rb", scope)
		}
	}

	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := b.App.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	for _, scope := range []string{"presence", "connections"} {
		if entry(scope, "rb") {
			t.Fatalf("replica rb's %s entry outlived its clean stop", scope)
		}
	}
	var p presenceList
	if a.do(t, http.MethodGet, root, "/api/admin/presence", &p) != http.StatusOK || len(p.Presence) != 0 {
		t.Fatalf("presence after rb stopped: %+v", p.Presence)
	}
	var l connList
	a.do(t, http.MethodGet, root, "/api/admin/connections", &l)
	for _, c := range l.Connections {
		if c.Replica == "rb" {
			t.Fatalf("connections after rb stopped: %+v", l.Connections)
		}
	}
}
