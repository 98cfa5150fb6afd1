package workflow

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/yardhq/yard/crdt"
)

func TestRenderFullWorkflowGolden(t *testing.T) {
	w := FromJSON(loadJSON(t, "full.json"))
	if errs := Validate(w); len(errs) > 0 {
		t.Fatalf("full.json does not validate: %v", codes(errs))
	}
	objs, err := Render("team-a", w)
	if err != nil {
		t.Fatal(err)
	}
	// Every kind renders (the SecretRef only as references), in apply order, all labelled.
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetKind()+"/"+o.GetName())
		l := o.GetLabels()
		if l[LabelManagedBy] != "yard" || l[LabelRoom] != "team-a" || l[LabelNode] == "" || o.GetNamespace() != "shop" {
			t.Errorf("%s/%s: labels %v namespace %q", o.GetKind(), o.GetName(), l, o.GetNamespace())
		}
	}
	want := "ConfigMap/web-config PersistentVolumeClaim/db-data CronJob/backup StatefulSet/db Job/migrate Deployment/web Service/db Service/web Ingress/web"
	if got := strings.Join(kinds, " "); got != want {
		t.Fatalf("objects in order:\n got %s\nwant %s", got, want)
	}
	y, err := RenderYAML("team-a", w)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"secretRef:\n            name: db-credentials", "configMapRef:\n            name: web-config",
		"serviceName: db", "claimName: db-data", "mountPath: /data", "targetPort: 80", "schedule: 0 3 * * mon-fri",
		"FEATURE_X: \"true\"", "RETRIES: \"3\"",
	} {
		if !strings.Contains(string(y), s) {
			t.Errorf("rendered YAML lacks %q", s)
		}
	}
	if strings.Contains(string(y), "kind: Secret\n") {
		t.Error("a Secret was rendered; SecretRefs only reference one")
	}
	golden(t, "full.golden.yaml", y)
	if refs := SecretReferences(w); len(refs) != 1 || refs[0] != (SecretReference{NodeID: "sec", Namespace: "shop", Name: "db-credentials"}) {
		t.Fatalf("secret references: %+v", refs)
	}
}

func TestRenderWebAppTemplateGolden(t *testing.T) {
	nodes, edges, err := Instantiate("web-app", "shop", 100, 50, seqIDs("id"))
	if err != nil {
		t.Fatal(err)
	}
	w := Workflow{Namespace: "demo", Nodes: nodes, Edges: edges}
	y, err := RenderYAML("room-1", w)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "web-app.golden.yaml", y)
}

// TestRenderDeterministic writes one workflow into documents in shuffled orders (nodes, edges and
// each node's fields), reads each back through the document's JSON and renders the same bytes.
func TestRenderDeterministic(t *testing.T) {
	root := loadJSON(t, "full.json")
	var first []byte
	var firstHash string
	for round := range 8 {
		rng := rand.New(rand.NewPCG(uint64(round), 7))
		doc := crdt.NewDocWithClientID(uint64(round + 1))
		doc.Transact(func(tx *crdt.Transaction) {
			wf := doc.GetMap(Root)
			if err := wf.Set(tx, "namespace", root["namespace"]); err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{"nodes", "edges"} {
				m := wf.SetMap(tx, key)
				src := root[key].(map[string]any)
				ids := sortedKeys(src)
				rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
				for _, id := range ids {
					writeShuffled(t, m.SetMap(tx, id), tx, src[id].(map[string]any), rng)
				}
			}
		})
		w := FromJSON(doc.RootJSON()[Root].(map[string]any))
		y, err := RenderYAML("r", w)
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			first, firstHash = y, Hash(w)
			continue
		}
		if !bytes.Equal(first, y) {
			t.Fatalf("round %d rendered different bytes", round)
		}
		if h := Hash(w); h != firstHash {
			t.Fatalf("round %d hash %s, first %s", round, h, firstHash)
		}
	}
}

// writeShuffled writes fields in a random order, nested objects as Y.Maps.
func writeShuffled(t *testing.T, m *crdt.Map, tx *crdt.Transaction, fields map[string]any, rng *rand.Rand) {
	keys := sortedKeys(fields)
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	for _, k := range keys {
		if sub, ok := fields[k].(map[string]any); ok {
			writeShuffled(t, m.SetMap(tx, k), tx, sub, rng)
			continue
		}
		if err := m.Set(tx, k, fields[k]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHash(t *testing.T) {
	w := FromJSON(loadJSON(t, "full.json"))
	h := Hash(w)
	moved := FromJSON(loadJSON(t, "full.json"))
	moved.Nodes[0].X += 500
	if Hash(moved) != h {
		t.Fatal("moving a node changed the hash")
	}
	edited := FromJSON(loadJSON(t, "full.json"))
	for i := range edited.Nodes {
		if edited.Nodes[i].ID == "web" {
			edited.Nodes[i].Image = "nginx:1.28"
		}
	}
	if Hash(edited) == h {
		t.Fatal("changing an image kept the hash")
	}
	if len(h) != 64 {
		t.Fatalf("hash %q is not sha256 hex", h)
	}
}

func TestRenderRefusesInvalidWorkflowsAndRooms(t *testing.T) {
	w := FromJSON(map[string]any{"nodes": map[string]any{"a": map[string]any{"kind": "Deployment", "name": "a"}}})
	_, err := Render("r", w)
	var inv *InvalidError
	if !errors.As(err, &inv) || !hasCode(inv.Errors, "a", "image", CodeRequired) {
		t.Fatalf("render of a workload without image: %v", err)
	}
	ok := FromJSON(loadJSON(t, "full.json"))
	if _, err := Render(strings.Repeat("r", 64), ok); err == nil {
		t.Fatal("a 64-character room id (not a label value) rendered")
	}
}

func TestApplyOrder(t *testing.T) {
	order := []string{KindConfigMap, KindSecretRef, KindPVC, KindDeployment, KindService, KindIngress}
	for i := 1; i < len(order); i++ {
		if ApplyOrder(order[i-1]) >= ApplyOrder(order[i]) {
			t.Errorf("%s does not come before %s", order[i-1], order[i])
		}
	}
	for _, k := range []string{KindStatefulSet, KindJob, KindCronJob} {
		if ApplyOrder(k) != ApplyOrder(KindDeployment) {
			t.Errorf("%s is not applied with the workloads", k)
		}
	}
	if ApplyOrder("Namespace2") <= ApplyOrder(KindIngress) {
		t.Error("an unknown kind is not last")
	}
}
