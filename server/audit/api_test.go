package audit_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/yardtest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

type listing struct {
	Entries []audit.Entry `json:"entries"`
	Error   struct{ Code string }
}

func get(t *testing.T, s *yardtest.Server, token, query string) (int, listing) {
	t.Helper()
	resp, body := s.Request(t, http.MethodGet, token, "/api/admin/audit"+query, nil)
	var l listing
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatalf("%s: %v (%s)", query, err, body)
	}
	return resp.StatusCode, l
}

// The admin endpoint of a server without Redis lists its file (written here by a second writer of
// the same file, as another process would), to admins only.
func TestAdminAuditEndpointOverTheFile(t *testing.T) {
	s := yardtest.Start(t, nil)
	trail, err := audit.NewFile(s.Config.Audit.File, "test")
	if err != nil {
		t.Fatal(err)
	}
	checkEndpoint(t, s, trail)
}

// With Redis the server lists the stream every replica writes.
func TestAdminAuditEndpointOverRedis(t *testing.T) {
	redistest.Each(t, testAdminAuditEndpointOverRedis)
}

func testAdminAuditEndpointOverRedis(t *testing.T, k redistest.Kind) {
	tg := redistest.Fresh(t, k)
	s := yardtest.Start(t, func(c *config.Config) { c.RedisURL, c.RedisCluster = tg.URL, tg.Cluster })
	trail, err := audit.NewRedis(tg.Client(t), audit.RedisKey, time.Hour, "other-replica")
	if err != nil {
		t.Fatal(err)
	}
	checkEndpoint(t, s, trail)
}

func checkEndpoint(t *testing.T, s *yardtest.Server, trail audit.Trail) {
	t.Helper()
	ctx := context.Background()
	a, err := trail.Begin(ctx, audit.Entry{User: "alice", Verb: audit.VerbApply, Kind: "Deployment", Namespace: "demo", Name: "web", Room: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Millisecond)
	b, err := trail.Record(ctx, audit.Entry{User: "bob", Verb: audit.VerbExec, Result: audit.ResultRefused, ErrorCode: "forbidden"})
	if err != nil {
		t.Fatal(err)
	}
	if err := trail.Finish(ctx, a.ID, audit.Outcome{Result: audit.ResultOK, DiffSHA256: "abc"}); err != nil {
		t.Fatal(err)
	}

	if code, l := get(t, s, s.SignIn(t, "bob", false), ""); code != http.StatusForbidden || l.Error.Code != "forbidden" {
		t.Fatalf("non-admin: %d %+v", code, l)
	}
	if resp, _ := s.Request(t, http.MethodGet, "", "/api/admin/audit", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", resp.StatusCode)
	}
	root := s.SignIn(t, "root", true)
	code, l := get(t, s, root, "")
	if code != http.StatusOK || len(l.Entries) != 2 || l.Entries[0].ID != b.ID || l.Entries[1].ID != a.ID {
		t.Fatalf("admin: %d %+v", code, l)
	}
	if e := l.Entries[1]; e.Result != audit.ResultOK || e.DiffSHA256 != "abc" || e.Room != "r1" || e.FinishedAt == nil {
		t.Fatalf("alice's apply: %+v", e)
	}
	if _, l := get(t, s, root, "?user=alice&verb=apply&limit=5"); len(l.Entries) != 1 || l.Entries[0].ID != a.ID {
		t.Fatalf("alice's applies: %+v", l)
	}
	since := url.QueryEscape(b.Time.Format(time.RFC3339Nano))
	if _, l := get(t, s, root, "?since="+since); len(l.Entries) != 1 || l.Entries[0].ID != b.ID {
		t.Fatalf("since %s: %+v", since, l)
	}
	if code, l := get(t, s, root, "?user=nobody"); code != http.StatusOK || l.Entries == nil || len(l.Entries) != 0 {
		t.Fatalf("nobody's: %d %+v", code, l)
	}
	for _, bad := range []string{"?since=yesterday", "?limit=0", "?verb=patch"} {
		if code, l := get(t, s, root, bad); code != http.StatusBadRequest || l.Error.Code != "bad_params" {
			t.Fatalf("%s: %d %+v", bad, code, l)
		}
	}
}
