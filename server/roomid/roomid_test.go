package roomid

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, id := range []string{"a", "team-a", "r.1_x", strings.Repeat("a", MaxLength)} {
		if !Valid(id) {
			t.Errorf("%q refused", id)
		}
	}
	for _, id := range []string{"", "-a", ".a", "a/b", "{a}", "a b", strings.Repeat("a", MaxLength+1)} {
		if Valid(id) {
			t.Errorf("%q accepted", id)
		}
	}
}
