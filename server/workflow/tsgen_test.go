package workflow

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// tsRelations is the browser's copy of kinds and relations: the editor offers only edges the
// server would accept.
var tsRelations = filepath.Join("..", "..", "client", "src", "app", "workflow", "relations.gen.ts")

func renderRelationsTS() []byte {
	var b bytes.Buffer
	b.WriteString("// Generated from server/workflow (go test ./server/workflow -run TestBrowserRelations -update); do not edit.\n")
	b.WriteString("// The node kinds (true: a workload, running containers) and which node kinds each edge kind joins.\n\n")
	names := slices.Sorted(maps.Keys(kinds))
	b.WriteString("export const NODE_KINDS: Readonly<Record<string, boolean>> = {\n")
	for _, k := range names {
		fmt.Fprintf(&b, "  %s: %t,\n", k, kinds[k])
	}
	b.WriteString("}\n\n")
	edges := slices.Sorted(maps.Keys(relations))
	b.WriteString("export const EDGE_KINDS: Readonly<Record<string, { from: readonly string[]; to: readonly string[] }>> = {\n")
	q := func(l []string) string {
		var s bytes.Buffer
		for i, v := range l {
			if i > 0 {
				s.WriteString(", ")
			}
			fmt.Fprintf(&s, "'%s'", v)
		}
		return s.String()
	}
	for _, k := range edges {
		r := relations[k]
		fmt.Fprintf(&b, "  %s: { from: [%s], to: [%s] },\n", k, q(r.from), q(r.to))
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func TestBrowserRelationsMatch(t *testing.T) {
	want := renderRelationsTS()
	if *update {
		if err := os.WriteFile(tsRelations, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(tsRelations)
	if err != nil {
		t.Fatalf("%v (run: go test ./server/workflow -run TestBrowserRelations -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date; run: go test ./server/workflow -run TestBrowserRelations -update", tsRelations)
	}
}
