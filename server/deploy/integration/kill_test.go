package integration

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/deploy"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/internal/yardtest"
)

const jwtSecret = "deploy-integration-secret"

// A replica SIGKILLed mid-apply holds the room's lock until its lease expires; then the other
// replica's sweep takes the deploy over and ends it as failed with the reason.
func TestKilledReplicaDeployIsEndedByTheOther(t *testing.T) {
	cp := controlplane.Shared(t)
	rd := redistest.Start(t)
	bin := yardtest.BuildBinary(t, filepath.Join("..", "..", ".."))
	proc := yardtest.StartProcess(t, bin, []string{"YARD_JWT_SECRET=" + jwtSecret}, "--dev-auth",
		"--kubeconfig", cp.Kubeconfig(), "--redis-url", rd.URL(), "--write-enabled", "--replica-id", "doomed",
		"--static-dir", t.TempDir())
	doomed := &yardtest.Server{URL: proc.URL}
	other := yardtest.Start(t, func(cfg *config.Config) {
		cfg.Kubeconfig = cp.Kubeconfig()
		cfg.StaticDir = t.TempDir()
		cfg.WriteEnabled = true
		cfg.RedisURL = rd.URL()
		cfg.JWTSecret = jwtSecret
		cfg.Replica = "survivor"
	})
	alice := yardtest.SignIn(t, doomed.URL, "alice", false)
	room, _ := webApp(t, other, alice, "kill")
	seen(t, doomed, alice, room, "team-a")
	_, d := plan(t, doomed, alice, room, `{}`)
	if st := call(t, doomed, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+d.ID+"/apply", "", nil); st != http.StatusAccepted {
		t.Fatalf("apply: %d", st)
	}
	proc.Kill(t)
	var got deploy.Deploy
	testwait.Until(t, 2*time.Minute, 500*time.Millisecond, "the surviving replica ends the deploy", func() bool {
		got = docDeploy(t, other, alice, room, d.ID)
		return got.State != deploy.StateApplying
	})
	if got.State != deploy.StateFailed || !strings.Contains(got.Message, "replica applying it stopped") {
		t.Fatalf("after the kill: %+v", got)
	}
}
