package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/yardhq/yard/server/deploy"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// applying plans a web-app in a new room and starts applying it on s.
func applying(t testing.TB, s *yardtest.Server, token, prefix string) (string, deploy.Deploy) {
	t.Helper()
	room, _ := webApp(t, s, token, prefix)
	_, d := plan(t, s, token, room, `{}`)
	if st := call(t, s, http.MethodPost, token, "/api/rooms/"+room+"/deploys/"+d.ID+"/apply", "", nil); st != http.StatusAccepted {
		t.Fatalf("apply: %d", st)
	}
	return room, d
}

// A replica that stops mid-apply leaves the deploy to the others: once its lock is free, the
// next sweep of the other replica ends it as failed with the reason, never applying forever.
func TestStoppedReplicaDeployIsEndedByTheOther(t *testing.T) {
	a, b, _ := replicas(t)
	alice := a.SignIn(t, "alice", false)
	room, d := applying(t, a, alice, "take")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.App.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var got deploy.Deploy
	testwait.Until(t, 90*time.Second, 500*time.Millisecond, "the other replica ends the deploy", func() bool {
		got = docDeploy(t, b, alice, room, d.ID)
		return got.State != deploy.StateApplying
	})
	if got.State != deploy.StateFailed || !strings.Contains(got.Message, "replica applying it stopped") || got.FinishedAt == "" {
		t.Fatalf("after the stop: %+v", got)
	}
	for id, n := range got.Nodes {
		if n.Status != deploy.NodeReady && n.Status != deploy.NodeFailed {
			t.Fatalf("node %s left %s", id, n.Status)
		}
	}
	// The room's lock is free again: a new plan applies.
	_, again := plan(t, b, alice, room, `{}`)
	if got := applied(t, b, alice, room, again.ID); got.State != deploy.StateSucceeded {
		t.Fatalf("deploy after the takeover: %+v", got)
	}
}

// Cancelling an applying deploy stops it before its next object; it stays cancelled and the
// room's lock is free afterwards.
func TestCancelWhileApplying(t *testing.T) {
	a, b, _ := replicas(t)
	alice := a.SignIn(t, "alice", false)
	room, d := applying(t, a, alice, "cancel")
	var c deploy.Deploy
	if st := call(t, b, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+d.ID+"/cancel", "", &c); st != http.StatusOK || c.State != deploy.StateCancelled {
		t.Fatalf("cancel: %d %+v", st, c)
	}
	_, again := plan(t, b, alice, room, `{}`)
	// The lock is released once the apply noticed the cancel.
	testwait.Until(t, 60*time.Second, 250*time.Millisecond, "the lock is free", func() bool {
		return call(t, b, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+again.ID+"/apply", "", nil) == http.StatusAccepted
	})
	if got := docDeploy(t, a, alice, room, d.ID); got.State != deploy.StateCancelled || !strings.Contains(got.Message, "alice") {
		t.Fatalf("cancelled deploy %+v", got)
	}
	testwait.Until(t, 3*time.Minute, 250*time.Millisecond, "the next deploy ends", func() bool {
		return docDeploy(t, b, alice, room, again.ID).State == deploy.StateSucceeded
	})
}
