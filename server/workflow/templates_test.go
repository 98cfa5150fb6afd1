package workflow

import (
	"errors"
	"testing"

	"github.com/yardhq/yard/server/errcode"
)

func TestTemplatesValidateOnceNamed(t *testing.T) {
	ts := Templates()
	names := map[string]bool{}
	for _, tm := range ts {
		names[tm.Name] = true
		nodes, edges, err := Instantiate(tm.Name, "orders", 10, 20, seqIDs(tm.Name))
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for i, n := range nodes {
			kinds = append(kinds, n.Kind)
			if n.X != 10+float64(i*spacing) || n.Y != 20 {
				t.Errorf("%s: node %s at %v,%v", tm.Name, n.ID, n.X, n.Y)
			}
		}
		if len(kinds) != len(tm.Kinds) {
			t.Errorf("%s: made %v, lists %v", tm.Name, kinds, tm.Kinds)
		}
		w := Workflow{Nodes: nodes, Edges: edges}
		if errs := Validate(w); len(errs) > 0 {
			t.Errorf("%s: %v", tm.Name, errs)
		}
		if _, err := Render("r", w); err != nil {
			t.Errorf("%s: %v", tm.Name, err)
		}
	}
	for _, want := range []string{"web-app", "worker", "cron-job"} {
		if !names[want] {
			t.Errorf("no template %s", want)
		}
	}
	// Ids come from the source given, so two instances never collide.
	a, _, _ := Instantiate("worker", "w", 0, 0, nil)
	b, _, _ := Instantiate("worker", "w", 0, 0, nil)
	if a[0].ID == b[0].ID || len(a[0].ID) != 16 {
		t.Fatalf("random ids %q %q", a[0].ID, b[0].ID)
	}
}

func TestInstantiateRefusals(t *testing.T) {
	if _, _, err := Instantiate("nope", "x", 0, 0, nil); errcode.As(err).Code != errcode.NotFound {
		t.Fatalf("unknown template: %v", err)
	}
	for _, name := range []string{"", "Upper", "1abc", "a_b", "this-name-is-far-too-long-for-a-cron-job-to-carry-it-ok"} {
		_, _, err := Instantiate("cron-job", name, 0, 0, nil)
		var e *errcode.Error
		if !errors.As(err, &e) || e.Code != errcode.BadParams {
			t.Errorf("name %q: %v", name, err)
		}
	}
}
