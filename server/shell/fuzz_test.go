package shell

import (
	"net/url"
	"testing"

	"github.com/yardhq/yard/server/cluster"
)

// Control messages come straight from clients: anything either parses into a valid message or
// is a coded error, and never panics.
func FuzzParseControl(f *testing.F) {
	for _, s := range []string{`{"type":"resize","cols":80,"rows":24}`, `{"type":"request-driver"}`,
		`{"type":"grant-driver","user":"bob"}`, `{"type":"resize","cols":-1}`, `{}`, `[]`, `nul`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseControl(b)
		if err != nil {
			return
		}
		switch c.Type {
		case "resize":
			if c.Cols < 1 || c.Rows < 1 || c.Cols > 1000 || c.Rows > 1000 {
				t.Fatalf("accepted size %dx%d", c.Cols, c.Rows)
			}
		case "grant-driver":
			if c.User == "" {
				t.Fatal("accepted a grant to nobody")
			}
		case "request-driver":
		default:
			t.Fatalf("accepted type %q", c.Type)
		}
	})
}

func FuzzParseOpen(f *testing.F) {
	for _, s := range []string{"namespace=demo&pod=web", "session=0123456789abcdef&role=driver", "namespace=a&pod=b&command=sh&command=-c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		o, err := ParseOpen(v)
		if err != nil {
			return
		}
		if o.Session != "" && !ValidSessionID(o.Session) {
			t.Fatalf("accepted session %q", o.Session)
		}
		if o.Session == "" && (!cluster.ValidName(o.Namespace) || !cluster.ValidName(o.Pod)) {
			t.Fatalf("accepted target %q/%q", o.Namespace, o.Pod)
		}
	})
}
