package workflow

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ and the browser's copy of the relations")

// seqIDs returns ids prefix-01, prefix-02, ...
func seqIDs(prefix string) IDs {
	n := 0
	return func() string {
		n++
		return fmt.Sprintf("%s-%02d", prefix, n)
	}
}

// loadJSON reads a testdata workflow root.
func loadJSON(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Fatalf("%s differs from what was rendered (run with -update after checking):\n--- got\n%s", path, got)
	}
}

// codes lists errs as "node/edge field code" strings.
func codes(errs []Error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s%s %s %s", e.NodeID, e.EdgeID, e.Field, e.Code)))
	}
	return out
}

func hasCode(errs []Error, nodeOrEdge, field, code string) bool {
	for _, e := range errs {
		if (e.NodeID == nodeOrEdge || e.EdgeID == nodeOrEdge) && e.Field == field && e.Code == code {
			return true
		}
	}
	return false
}
