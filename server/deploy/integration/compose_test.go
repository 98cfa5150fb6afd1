package integration

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/yardhq/yard/server/deploy"
)

// A compose file with three services imports into the canvas, plans (every object a create)
// and deploys to ready.
func TestComposeImportDeploys(t *testing.T) {
	a, _, _ := replicas(t)
	alice := a.SignIn(t, "alice", false)
	room := unique("compose")
	sfx := room[len(room)-6:] // the cluster outlives the test: names of their own
	compose := strings.NewReplacer("$S", sfx).Replace(`services:
  web-$S:
    image: nginx:1.27
    ports: ["8080:80"]
  api-$S:
    image: busybox:1.36
    command: ["sleep", "3600"]
    environment: {MODE: prod}
  worker-$S:
    image: busybox:1.36
    deploy: {replicas: 2}
`)
	req, err := http.NewRequest(http.MethodPost, a.URL+"/api/rooms/"+room+"/workflow/import-compose", bytes.NewBufferString(compose))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+alice)
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("import: %d", resp.StatusCode)
	}
	setNamespace(t, a, room, "team-a")
	_, d := plan(t, a, alice, room, `{}`)
	kinds := map[string]int{}
	for _, r := range d.Plan {
		if r.Action != deploy.ActionCreate || r.Error != "" {
			t.Fatalf("row %+v", r)
		}
		kinds[r.Kind]++
	}
	if kinds["Deployment"] != 3 || kinds["Service"] != 1 || len(d.Plan) != 4 {
		t.Fatalf("plan of the compose file: %+v", d.Plan)
	}
	if got := applied(t, a, alice, room, d.ID); got.State != deploy.StateSucceeded {
		t.Fatalf("deploy %+v", got)
	}
}
