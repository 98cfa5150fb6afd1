package cluster

import (
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, s := range []string{"a", "web-1", "demo", "app.v2", "0abc", strings.Repeat("a", 253)} {
		if !ValidName(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"", "Web", "-a", "a-", ".a", "a.", "a_b", "a/b", "a b", "../x", "ä", strings.Repeat("a", 254)} {
		if ValidName(s) {
			t.Errorf("%q accepted", s)
		}
	}
}
