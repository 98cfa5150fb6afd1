package workflow

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func node(kind, name string, kv ...any) map[string]any {
	m := map[string]any{"kind": kind, "name": name}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func edge(from, to, kind string) map[string]any {
	return map[string]any{"from": from, "to": to, "kind": kind}
}

func TestValidateReportsPerNodeAndEdge(t *testing.T) {
	cases := []struct {
		name  string
		nodes map[string]any
		edges map[string]any
		want  [][3]string // node or edge id, field, code
	}{
		{"missing image and bad names",
			map[string]any{"a": node("Deployment", "Web_1"), "s": node("Service", "1svc", "port", 80.0)},
			nil,
			[][3]string{{"a", "image", CodeRequired}, {"a", "name", CodeBadName}, {"s", "name", CodeBadName}, {"s", "selects", CodeMissingEdge}}},
		{"ranges and quantities",
			map[string]any{"a": node("Deployment", "a", "image", "x", "replicas", 1001.0, "ports", []any{0.0, 80.0, 80.0},
				"resources", map[string]any{"cpu": "lots", "memory": "-1Gi"}, "env", map[string]any{"1BAD": "x", "GOOD": "y"}),
				"p": node("PersistentVolumeClaim", "p", "size", "ten")},
			nil,
			[][3]string{{"a", "env.1BAD", CodeBadValue}, {"a", "ports[0]", CodeBadValue}, {"a", "ports[2]", CodeBadValue},
				{"a", "replicas", CodeBadValue}, {"a", "resources.cpu", CodeBadValue}, {"a", "resources.memory", CodeBadValue},
				{"p", "size", CodeBadValue}}},
		{"wrong value types",
			map[string]any{"a": node("Deployment", "a", "name", 7.0, "image", []any{"x"}, "replicas", "3", "ports", "80", "env", []any{"A=b"}),
				"b": "not a node", "c": node("Service", "c", "port", 1.5)},
			map[string]any{"e": 3.0},
			[][3]string{{"a", "env", CodeBadType}, {"a", "image", CodeBadType}, {"a", "name", CodeBadType}, {"a", "ports", CodeBadType},
				{"a", "replicas", CodeBadType}, {"b", "", CodeBadType}, {"c", "port", CodeBadValue}, {"c", "selects", CodeMissingEdge},
				{"e", "", CodeBadType}}},
		{"edges between kinds that cannot relate, dangling, self",
			map[string]any{"d": node("Deployment", "d", "image", "x"), "c": node("ConfigMap", "c"), "s": node("Service", "s", "port", 80.0)},
			map[string]any{"e1": edge("c", "d", "envFrom"), "e2": edge("d", "nope", "envFrom"), "e3": edge("d", "d", "mounts"),
				"e4": edge("s", "d", "teleports"), "e5": edge("s", "d", "selects")},
			[][3]string{{"s", "port", CodeNoSuchPort}, {"e1", "kind", CodeBadEdge}, {"e2", "to", CodeDangling}, {"e3", "", CodeSelfEdge},
				{"e4", "kind", CodeUnknownKind}}},
		{"target port must exist, ingress needs a service port",
			map[string]any{"d": node("Deployment", "d", "image", "x", "ports", []any{8080.0}),
				"s":  node("Service", "s", "port", 80.0, "targetPort", 9090.0),
				"s2": node("Service", "s2", "port", 80.0, "targetPort", "8080"),
				"s3": node("Service", "s3", "port", 80.0, "targetPort", "http"),
				"s4": node("Service", "s4"),
				"i":  node("Ingress", "i", "host", "Bad Host"), "i2": node("Ingress", "i2")},
			map[string]any{"e1": edge("s", "d", "selects"), "e2": edge("s2", "d", "selects"), "e3": edge("s3", "d", "selects"),
				"e4": edge("s4", "d", "selects"), "e5": edge("i", "s", "routes"), "e6": edge("i2", "s4", "routes")},
			[][3]string{{"i", "host", CodeBadValue}, {"s", "targetPort", CodeNoSuchPort}, {"s4", "port", CodeRequired},
				{"e6", "to", CodeNoSuchPort}}},
		{"duplicates and unknown kinds",
			map[string]any{"a": node("ConfigMap", "cfg"), "b": node("ConfigMap", "cfg"), "c": node("ConfigMap", "cfg", "namespace", "other"),
				"d": node("Pod", "p"), "e": node("SecretRef", "s"), "f": node("CronJob", "cj", "image", "x", "schedule", "61 * * * *")},
			map[string]any{"x1": edge("f", "a", "envFrom"), "x2": edge("f", "a", "envFrom"), "x3": edge("f", "c", "envFrom")},
			[][3]string{{"b", "name", CodeDuplicate}, {"d", "kind", CodeUnknownKind}, {"e", "secretName", CodeRequired},
				{"f", "schedule", CodeBadValue}, {"x2", "", CodeDuplicateRel}, {"x3", "", CodeBadEdge}}},
		{"bad ids and mount paths",
			map[string]any{"has space": node("ConfigMap", "c"), "d": node("Deployment", "d", "image", "x"), "p": node("PersistentVolumeClaim", "p", "size", "1Gi"),
				"q": node("PersistentVolumeClaim", "q", "size", "1Gi"), "r": node("PersistentVolumeClaim", "r", "size", "1Gi")},
			map[string]any{"m1": map[string]any{"from": "d", "to": "p", "kind": "mounts", "path": "relative"},
				"m2": edge("d", "q", "mounts"), "m3": map[string]any{"from": "d", "to": "r", "kind": "mounts", "path": "/data"}},
			[][3]string{{"has space", "", CodeBadID}, {"m1", "path", CodeBadValue}, {"m3", "path", CodeBadValue}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := map[string]any{"nodes": c.nodes, "edges": c.edges}
			errs := Validate(FromJSON(root))
			var got []string
			for _, e := range errs {
				id := e.NodeID + e.EdgeID
				got = append(got, fmt.Sprintf("%s|%s|%s", id, e.Field, e.Code))
				if e.Message == "" {
					t.Errorf("%s has no message", e.Error())
				}
			}
			var want []string
			for _, w := range c.want {
				want = append(want, strings.Join(w[:], "|"))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("errors:\n got %s\nwant %s\n(%v)", strings.Join(got, "  "), strings.Join(want, "  "), errs)
			}
		})
	}
}

func TestValidateBoundsAreFast(t *testing.T) {
	nodes := map[string]any{}
	for i := range 10000 {
		nodes[fmt.Sprintf("n%d", i)] = node("Deployment", fmt.Sprintf("d%d", i))
	}
	start := time.Now()
	w := FromJSON(map[string]any{"nodes": nodes})
	errs := Validate(w)
	if took := time.Since(start); took > time.Second {
		t.Errorf("10,000 nodes took %v", took)
	} else {
		t.Logf("refused 10,000 nodes in %v", took)
	}
	if len(errs) != 1 || errs[0].Code != CodeTooMany || errs[0].Field != "nodes" || len(w.Nodes) != 0 {
		t.Fatalf("10,000 nodes: %v", errs)
	}
	if _, err := Render("r", w); err == nil {
		t.Fatal("an oversized workflow rendered")
	}
	// At the bound, every node is read and checked.
	nodes = map[string]any{}
	for i := range MaxNodes {
		nodes[fmt.Sprintf("n%d", i)] = node("ConfigMap", fmt.Sprintf("c%d", i), "data", map[string]any{"k": "v"})
	}
	start = time.Now()
	w = FromJSON(map[string]any{"nodes": nodes})
	if errs := Validate(w); len(errs) != 0 {
		t.Fatalf("%d config maps: %v", MaxNodes, errs[:1])
	}
	t.Logf("read and validated %d nodes in %v", MaxNodes, time.Since(start))
	start = time.Now()
	if _, err := RenderYAML("r", w); err != nil {
		t.Fatal(err)
	}
	t.Logf("rendered %d nodes in %v", MaxNodes, time.Since(start))
}

func TestCron(t *testing.T) {
	for _, s := range []string{"*/5 * * * *", "0 3 * * mon-fri", "0 0 1,15 * *", "@hourly", "0 0 * jan-mar 0", "30 2 * * 7"} {
		if err := checkCron(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "*/0 * * * *", "5-1 * * * *", "a b c d e", "@often"} {
		if err := checkCron(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}
