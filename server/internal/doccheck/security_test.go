package doccheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the repository, two levels above server/internal/doccheck.
var root = filepath.Join("..", "..", "..")

// proof is one `pkg.TestName` (or `pkg/sub.TestName`) in the table's last column.
var proof = regexp.MustCompile("`([a-z0-9/]+)\\.(Test[A-Za-z0-9_]+)`")

func TestSecurityTableNamesTestsThatExist(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows, checked := 0, 0
	for _, line := range strings.Split(string(b), "\n") {
		cols := strings.Split(line, "|")
		if len(cols) < 6 || strings.TrimSpace(cols[1]) == "#" || strings.HasPrefix(strings.TrimSpace(cols[1]), "---") {
			continue
		}
		rows++
		last := cols[len(cols)-2]
		ms := proof.FindAllStringSubmatch(last, -1)
		if len(ms) == 0 && !strings.Contains(last, "client/e2e") {
			t.Errorf("row %s names no test: %s", strings.TrimSpace(cols[1]), strings.TrimSpace(last))
		}
		for _, m := range ms {
			checked++
			if !testExists(t, m[1], m[2]) {
				t.Errorf("row %s: %s.%s does not exist", strings.TrimSpace(cols[1]), m[1], m[2])
			}
		}
	}
	if rows < 40 {
		t.Fatalf("docs/security.md lists %d attacks; at least 40 expected", rows)
	}
	t.Logf("%d rows, %d named tests", rows, checked)
}

// testExists looks for func name( in the _test.go files of pkg (crdt's packages at the top,
// the rest under server/).
func testExists(t *testing.T, pkg, name string) bool {
	dir := filepath.Join(root, "server", filepath.FromSlash(pkg))
	if pkg == "crdt" || strings.HasPrefix(pkg, "crdt/") {
		dir = filepath.Join(root, filepath.FromSlash(pkg))
	}
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Errorf("no tests in %s", dir)
		return false
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "func "+name+"(") {
			return true
		}
	}
	return false
}
