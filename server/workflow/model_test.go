package workflow

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestFromJSONReadsEveryField(t *testing.T) {
	w := FromJSON(loadJSON(t, "full.json"))
	if w.Namespace != "shop" || len(w.Nodes) != 10 || len(w.Edges) != 10 {
		t.Fatalf("namespace %q, %d nodes, %d edges", w.Namespace, len(w.Nodes), len(w.Edges))
	}
	web, ok := w.Node("web")
	if !ok || web.Image != "nginx:1.27" || *web.Replicas != 3 || len(web.Ports) != 2 || web.Env["MODE"] != "prod" ||
		web.Args[1] != "daemon off;" || web.Resources.CPU != "250m" || web.X != 300 {
		t.Fatalf("web: %+v", web)
	}
	svc, _ := w.Node("web-svc")
	if svc.Port != 8080 || svc.TargetPort != 80 || svc.Type != "NodePort" {
		t.Fatalf("web-svc: %+v", svc)
	}
	cfg, _ := w.Node("cfg")
	if cfg.Data["FEATURE_X"] != "true" || cfg.Data["RETRIES"] != "3" {
		t.Fatalf("cfg data: %v", cfg.Data)
	}
	if e := w.Edges[0]; e.ID != "e1" || e.Kind != EdgeSelects {
		t.Fatalf("edges not sorted by id: %+v", w.Edges[0])
	}
	bk, _ := w.Node("backup")
	if bk.Schedule != "0 3 * * mon-fri" || bk.Namespace != "shop" {
		t.Fatalf("backup: %+v", bk)
	}
}

func TestFromJSONNumbersFromOtherDecoders(t *testing.T) {
	w := FromJSON(map[string]any{"nodes": map[string]any{
		"a": map[string]any{"kind": "Deployment", "name": "a", "image": "x", "replicas": json.Number("2"), "ports": []any{int64(80), 81}},
	}})
	a, _ := w.Node("a")
	if *a.Replicas != 2 || len(a.Ports) != 2 || a.Ports[1] != 81 {
		t.Fatalf("%+v", a)
	}
}

// FuzzFromJSON feeds arbitrary JSON to the decoder and the validator: nothing panics, and a
// workflow that validates also renders.
func FuzzFromJSON(f *testing.F) {
	f.Add(`{"nodes":{"a":{"kind":"Deployment","name":"a","image":"x","ports":[80]}},"edges":{}}`)
	f.Add(`{"nodes":{"s":{"kind":"Service","name":"s","port":80,"targetPort":"x"},"d":{"kind":"StatefulSet","name":"d","image":"i","ports":[80]}},"edges":{"e":{"from":"s","to":"d","kind":"selects"}}}`)
	f.Add(`{"namespace":5,"nodes":[1,2],"edges":{"e":{"from":null}}}`)
	f.Add(`{"nodes":{"c":{"kind":"CronJob","name":"c","image":"i","schedule":"*/1 * * * *","env":{"A":1e400}}}}`)
	f.Fuzz(func(t *testing.T, s string) {
		var root map[string]any
		if json.Unmarshal([]byte(s), &root) != nil {
			return
		}
		w := FromJSON(root)
		errs := Validate(w)
		_ = Hash(w)
		if _, err := RenderYAML("r", w); (err == nil) != (len(errs) == 0) {
			t.Fatalf("validate %v but render %v", errs, err)
		}
	})
}

// TestFromJSONSurvivesWrongTypes replaces every value of a valid workflow, one at a time, with
// values of other types: nothing panics, each replacement is reported on its node or edge (or
// read as a plain value), and what validates renders.
func TestFromJSONSurvivesWrongTypes(t *testing.T) {
	odd := []any{nil, true, 3.5, -1.0, 1e300, "", "x y", []any{1.0, "a", nil}, map[string]any{"k": []any{}}, strings.Repeat("z", MaxStringBytes+1)}
	base := loadJSON(t, "full.json")
	var paths [][]string
	var walk func(v any, path []string)
	walk = func(v any, path []string) {
		if m, ok := v.(map[string]any); ok {
			for k, sub := range m {
				walk(sub, append(append([]string(nil), path...), k))
			}
		}
		paths = append(paths, path)
	}
	walk(base, nil)
	checked := 0
	for _, p := range paths {
		if len(p) < 2 {
			continue
		}
		for _, v := range odd {
			root := loadJSON(t, "full.json")
			m := root
			for _, k := range p[:len(p)-1] {
				m = m[k].(map[string]any)
			}
			m[p[len(p)-1]] = v
			w := FromJSON(root)
			errs := Validate(w)
			if _, err := Render("r", w); (err == nil) != (len(errs) == 0) {
				t.Fatalf("%v = %v: validate %v, render %v", p, v, errs, err)
			}
			if len(p) >= 2 && (p[0] == "nodes" || p[0] == "edges") {
				for _, e := range errs {
					if e.NodeID == "" && e.EdgeID == "" {
						t.Fatalf("%v = %v: an error on no node or edge: %v", p, v, e)
					}
				}
			}
			checked++
		}
	}
	if checked < 500 {
		t.Fatalf("only %d replacements checked", checked)
	}
}
