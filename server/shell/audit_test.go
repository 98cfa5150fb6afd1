package shell

import (
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/remotecommand"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/mux"
)

// Opens refused before any session exists are exec attempts too: they are in the trail, refused,
// with their code.
func TestRefusedOpensAreInTheTrail(t *testing.T) {
	trail := audit.NewMemory()
	noCluster := func(name string) (Cluster, error) { return nil, errors.New("no cluster " + name) }
	m := newManager(t, NewMemoryHub(), trail, noCluster, DefaultConfig(), "r1")
	u := identity.User{Name: "mallory", Groups: []string{"guests"}}
	ghost := NewSessionID()
	for _, q := range []string{"session=" + ghost, "cluster=prod&namespace=demo&pod=web"} {
		params, _ := url.ParseQuery(q)
		if _, err := (Kind{M: m}).Open(context.Background(), mux.OpenRequest{User: u, Params: params}); err == nil {
			t.Fatalf("%s: opened", q)
		}
	}
	params, _ := url.ParseQuery("namespace=demo") // bad parameters: no target, nothing attempted
	if _, err := (Kind{M: m}).Open(context.Background(), mux.OpenRequest{User: u, Params: params}); err == nil {
		t.Fatal("opened without a pod")
	}
	entries, _ := trail.List(context.Background(), audit.Query{})
	if len(entries) != 2 {
		t.Fatalf("entries %+v", entries)
	}
	start, join := entries[0], entries[1]
	if start.Result != audit.ResultRefused || start.ErrorCode != mux.CodeNotFound || start.Cluster != "prod" ||
		start.Name != "web" || start.User != "mallory" || start.Groups[0] != "guests" || !strings.HasPrefix(start.Detail, "start: ") {
		t.Fatalf("refused start %+v", start)
	}
	if join.Result != audit.ResultRefused || join.ErrorCode != mux.CodeNotFound || !strings.Contains(join.Detail, ghost) || join.Replica != "r1" {
		t.Fatalf("refused join %+v", join)
	}
}

// An exec whose attempt cannot be recorded is not made.
func TestNoExecWithoutTheTrail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	trail, err := audit.NewFile(path, "r1")
	if err != nil {
		t.Fatal(err)
	}
	// The file's place becomes a directory: every append fails, as on a broken disk.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	m := testManagerTrail(t, NewMemoryHub(), trail, "r1")
	ran := make(chan struct{}, 1)
	exec := func(ctx context.Context, _ []string, _ io.Reader, _ io.Writer, _ remotecommand.TerminalSizeQueue) error {
		ran <- struct{}{}
		return nil
	}
	info := Info{ID: NewSessionID(), Owner: "alice", Namespace: "demo", Pod: "web", Replica: "r1", Started: time.Now()}
	_, err = m.start(info, nil, exec, defaultShells)
	var e *mux.Error
	if !errors.As(err, &e) || e.Code != mux.CodeUnavailable {
		t.Fatalf("start without a trail: %v", err)
	}
	if list, _ := m.Sessions(context.Background()); len(list) != 0 {
		t.Fatalf("sessions %+v", list)
	}
	select {
	case <-ran:
		t.Fatal("the exec was made")
	default:
	}
}
