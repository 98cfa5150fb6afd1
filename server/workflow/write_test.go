package workflow

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/interop/nodetest"
	"github.com/yardhq/yard/server/errcode"
)

// fullDoc is a document holding testdata/full.json written by Insert.
func fullDoc(t *testing.T) (Workflow, *crdt.Doc) {
	t.Helper()
	full := FromJSON(loadJSON(t, "full.json"))
	doc := crdt.NewDocWithClientID(1)
	var err error
	doc.Transact(func(tx *crdt.Transaction) {
		err = Insert(doc, tx, full.Nodes, full.Edges)
		_ = doc.GetMap(Root).Set(tx, "namespace", full.Namespace)
	})
	if err != nil {
		t.Fatal(err)
	}
	return full, doc
}

func TestInsertRoundTripsThroughTheDocument(t *testing.T) {
	full, doc := fullDoc(t)
	var err error
	// A second insert adds to the same maps.
	nodes, edges, _ := Instantiate("worker", "w", 5, 6, seqIDs("w"))
	doc.Transact(func(tx *crdt.Transaction) { err = Insert(doc, tx, nodes, edges) })
	if err != nil {
		t.Fatal(err)
	}

	// A peer that syncs the document reads the same workflow.
	peer := crdt.NewDocWithClientID(2)
	upd, err := doc.EncodeStateAsUpdate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.ApplyUpdate(upd); err != nil {
		t.Fatal(err)
	}
	root, _ := peer.RootJSON()[Root].(map[string]any)
	got := FromJSON(root)
	if errs := Validate(got); len(errs) > 0 {
		t.Fatalf("read back: %v", errs)
	}
	want := Workflow{Namespace: full.Namespace, Nodes: append(full.Nodes, nodes...), Edges: append(full.Edges, edges...)}.sorted()
	if got.Namespace != want.Namespace || Hash(got) != Hash(want) {
		t.Errorf("namespace %q hash %s, want %q %s", got.Namespace, Hash(got), want.Namespace, Hash(want))
	}
	if len(got.Nodes) != len(want.Nodes) || len(got.Edges) != len(want.Edges) {
		t.Fatalf("%d nodes %d edges, want %d %d", len(got.Nodes), len(got.Edges), len(want.Nodes), len(want.Edges))
	}
	for i := range want.Nodes {
		if !reflect.DeepEqual(got.Nodes[i], want.Nodes[i]) {
			t.Errorf("node %s:\n got %+v\nwant %+v", want.Nodes[i].ID, got.Nodes[i], want.Nodes[i])
		}
	}
	if !reflect.DeepEqual(got.Edges, want.Edges) {
		t.Errorf("edges:\n got %+v\nwant %+v", got.Edges, want.Edges)
	}

	// env, data and resources are nested maps, so two people edit different entries at once;
	// lists are plain values.
	web, _ := peer.GetMap(Root).Get("nodes")
	wm, _ := web.(*crdt.Map).Get("web")
	env, _ := wm.(*crdt.Map).Get("env")
	if _, ok := env.(*crdt.Map); !ok {
		t.Fatalf("env is a %T", env)
	}
	// A node's maps exist from its creation, even empty, so nobody creates one concurrently.
	for id, key := range map[string]string{"migrate": "env", "w-02": "env", "w-01": "data"} {
		nm, _ := web.(*crdt.Map).Get(id)
		if sub, _ := nm.(*crdt.Map).Get(key); sub == nil {
			t.Errorf("node %s has no %s map", id, key)
		} else if _, ok := sub.(*crdt.Map); !ok {
			t.Errorf("node %s: %s is a %T", id, key, sub)
		}
	}
	ports, _ := wm.(*crdt.Map).Get("ports")
	if _, ok := ports.([]any); !ok {
		t.Fatalf("ports is a %T", ports)
	}
	edgeMap, _ := peer.GetMap(Root).Get("edges")
	e5, _ := edgeMap.(*crdt.Map).Get("e5")
	if p, _ := e5.(*crdt.Map).Get("path"); p != "/var/lib/postgresql/data" {
		t.Fatalf("edge path %v", p)
	}
}

func TestInsertRefusals(t *testing.T) {
	doc := crdt.NewDocWithClientID(1)
	doc.Transact(func(tx *crdt.Transaction) { _ = doc.GetMap(Root).Set(tx, "nodes", "a string a client wrote") })
	var err error
	doc.Transact(func(tx *crdt.Transaction) {
		err = Insert(doc, tx, []Node{{ID: "a", Kind: KindConfigMap, Name: "a"}}, nil)
	})
	if errcode.As(err).Code != errcode.BadState {
		t.Fatalf("nodes not a map: %v", err)
	}
	if v, _ := doc.GetMap(Root).Get("nodes"); v != "a string a client wrote" {
		t.Fatalf("what the client wrote was replaced: %v", v)
	}

	doc = crdt.NewDocWithClientID(1)
	many := make([]Node, MaxNodes)
	for i := range many {
		many[i] = Node{ID: RandomIDs(), Kind: KindConfigMap, Name: "c"}
	}
	doc.Transact(func(tx *crdt.Transaction) { err = Insert(doc, tx, many, nil) })
	if err != nil {
		t.Fatal(err)
	}
	doc.Transact(func(tx *crdt.Transaction) { err = Insert(doc, tx, many[:1], nil) })
	if errcode.As(err).Code != errcode.Limit {
		t.Fatalf("node %d: %v", MaxNodes+1, err)
	}
}

// TestYjsReadsInsertedNodes checks with the real yjs (Node) that a browser reads what Insert
// wrote: the same workflow, env/data/resources as Y.Maps, each edge a Y.Map.
func TestYjsReadsInsertedNodes(t *testing.T) {
	full, doc := fullDoc(t)
	upd, err := doc.EncodeStateAsUpdate(nil)
	if err != nil {
		t.Fatal(err)
	}
	out := nodetest.Run(t, upd, "server/workflow/testdata/yjs-read.mjs")
	var got struct {
		Workflow map[string]any
		Types    map[string]string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if w := FromJSON(got.Workflow); Hash(w) != Hash(full) || len(Validate(w)) > 0 {
		t.Fatalf("yjs reads a different workflow: %s", out)
	}
	for k, want := range map[string]string{"web.env": "Y.Map", "web.resources": "Y.Map", "cfg.data": "Y.Map",
		"web.ports": "object", "web.image": "string", "web.replicas": "number", "edge e1": "Y.Map"} {
		if got.Types[k] != want {
			t.Errorf("%s is %q in yjs, want %s", k, got.Types[k], want)
		}
	}
}
