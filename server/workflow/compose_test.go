package workflow

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/yardhq/yard/server/errcode"
)

func TestImportCompose(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	imp, err := ImportCompose(data, 100, 100, seqIDs("c"))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Node{}
	for _, n := range imp.Nodes {
		byName[n.Kind+"/"+n.Name] = n
	}
	web, worker, db := byName["Deployment/web"], byName["Deployment/worker"], byName["Deployment/db"]
	if web.Image != "ghcr.io/example/shop-web:1.4" || !slices.Equal(web.Ports, []int{80, 9090}) ||
		web.Env["DATABASE_URL"] != "postgres://db:5432/shop" || len(web.Env) != 2 {
		t.Errorf("web: %+v", web)
	}
	if s := byName["Service/web"]; s.Port != 8080 || s.TargetPort != 80 {
		t.Errorf("web service: %+v", s)
	}
	if s := byName["Service/web-9090"]; s.Port != 9091 || s.TargetPort != 9090 {
		t.Errorf("web second service: %+v", s)
	}
	if !slices.Equal(worker.Args, []string{"python", "-m", "worker", "--queue", "orders high"}) || worker.Env["CONCURRENCY"] != "4" ||
		worker.Replicas == nil || *worker.Replicas != 2 {
		t.Errorf("worker: %+v", worker)
	}
	if db.Image != "postgres:16" || !slices.Equal(db.Ports, []int{5432}) {
		t.Errorf("db: %+v", db)
	}
	pvc, ok := byName["PersistentVolumeClaim/db-data"]
	if !ok || pvc.Size != DefaultClaimSize {
		t.Fatalf("no claim for db_data: %v", imp.Nodes)
	}
	var mounts, selects int
	for _, e := range imp.Edges {
		switch e.Kind {
		case EdgeMounts:
			mounts++
			if e.From != db.ID || e.To != pvc.ID || e.Path != "/var/lib/postgresql/data" {
				t.Errorf("mount %+v", e)
			}
		case EdgeSelects:
			selects++
			if e.To != web.ID {
				t.Errorf("selects %+v", e)
			}
		}
	}
	if mounts != 1 || selects != 2 {
		t.Errorf("%d mounts, %d selects", mounts, selects)
	}
	un := strings.Join(imp.Unmapped, "\n")
	for _, want := range []string{"service web: build", "service web: depends_on", "service web: networks", "service web: healthcheck",
		"service web: environment FROM_HOST", "service worker: bind mount ./cache -> /cache", "service db: restart", "networks"} {
		if !strings.Contains(un, want) {
			t.Errorf("unmapped lacks %q:\n%s", want, un)
		}
	}
	// What was imported validates (and so renders) as it is.
	w := Workflow{Nodes: imp.Nodes, Edges: imp.Edges}
	if errs := Validate(w); len(errs) > 0 {
		t.Fatalf("imported workflow: %v", errs)
	}
}

func TestImportComposeRefusals(t *testing.T) {
	cases := map[string]string{
		"not yaml":    "services: [\n",
		"no services": "version: '3'\n",
		"a list":      "- a\n- b\n",
	}
	for name, in := range cases {
		if _, err := ImportCompose([]byte(in), 0, 0, nil); errcode.As(err).Code != errcode.BadParams {
			t.Errorf("%s: %v", name, err)
		}
	}
	big := make([]byte, MaxComposeBytes+1)
	if _, err := ImportCompose(big, 0, 0, nil); errcode.As(err).Code != errcode.TooLarge {
		t.Errorf("oversized: %v", err)
	}
	var many strings.Builder
	many.WriteString("services:\n")
	for i := range MaxComposeServices + 1 {
		many.WriteString("  s" + strconv.Itoa(i) + ":\n    image: x\n")
	}
	if _, err := ImportCompose([]byte(many.String()), 0, 0, nil); errcode.As(err).Code != errcode.TooLarge {
		t.Errorf("too many services: %v", err)
	}
	// Aliases that would expand exponentially are refused by the YAML reader, not expanded.
	bomb := "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
		"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n" +
		"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nservices: {x: {image: [*g]}}\n"
	if _, err := ImportCompose([]byte(bomb), 0, 0, nil); err == nil || !strings.Contains(err.Error(), "alias") {
		t.Errorf("an alias bomb: %v", err)
	}
}

func TestSplitWords(t *testing.T) {
	got, err := splitWords(`sh -c 'echo "hi there"' a\ b "x\"y"`)
	if err != nil || !slices.Equal(got, []string{"sh", "-c", `echo "hi there"`, "a b", `x"y`}) {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := splitWords(`echo "open`); err == nil {
		t.Fatal("unterminated quote accepted")
	}
}
