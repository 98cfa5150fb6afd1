package audit

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/yardhq/yard/server/errcode"
)

func at(sec int) time.Time { return time.Date(2026, 1, 2, 3, 4, sec, 0, time.UTC) }

func attempt(id, user, verb string, sec int) record {
	return record{Attempt: &Entry{ID: id, User: user, Verb: verb, Time: at(sec), Result: ResultPending}}
}

func finished(id, result string, sec int) record {
	return record{Done: &done{ID: id, At: at(sec), Outcome: Outcome{Result: result, Detail: result + " at " + at(sec).Format("05")}}}
}

// Records come newest first: outcomes before their attempts.
func TestFolderFoldsOutcomesIntoAttempts(t *testing.T) {
	newestFirst := []record{
		finished("a", ResultFailed, 9), // a finished twice: the newer outcome counts
		finished("c", ResultOK, 8),
		attempt("c", "carol", VerbExec, 7),
		finished("a", ResultOK, 6),
		finished("gone", ResultOK, 5), // its attempt was trimmed
		attempt("b", "bob", VerbScale, 4),
		{Attempt: &Entry{ID: "r", User: "bob", Verb: VerbDelete, Time: at(3), Result: ResultRefused, ErrorCode: errcode.Forbidden}},
		attempt("a", "alice", VerbApply, 2),
	}
	f := newFolder(Query{})
	for _, r := range newestFirst {
		if f.add(r) {
			t.Fatal("full before the default limit")
		}
	}
	got := f.entries()
	var ids []string
	for _, e := range got {
		ids = append(ids, e.ID+":"+e.Result)
	}
	if s := strings.Join(ids, " "); s != "c:ok b:pending r:refused a:failed" {
		t.Fatalf("folded %s", s)
	}
	if a := got[3]; a.FinishedAt == nil || !a.FinishedAt.Equal(at(9)) || a.Detail != "failed at 09" {
		t.Fatalf("a %+v", a)
	}
	if b := got[1]; b.FinishedAt != nil {
		t.Fatalf("pending b has a finish time: %+v", b)
	}
	if len(f.dones) != 1 { // only the orphan outcome is left over
		t.Fatalf("outcomes waiting: %v", f.dones)
	}
}

func TestFolderFiltersAndLimits(t *testing.T) {
	recs := []record{
		attempt("4", "alice", VerbExec, 40),
		attempt("3", "bob", VerbExec, 30),
		attempt("2", "alice", VerbApply, 20),
		attempt("1", "alice", VerbExec, 10),
	}
	for name, tc := range map[string]struct {
		q    Query
		want string
	}{
		"user":          {Query{User: "alice"}, "4 2 1"},
		"verb":          {Query{Verb: VerbExec}, "4 3 1"},
		"user and verb": {Query{User: "alice", Verb: VerbExec}, "4 1"},
		"since":         {Query{Since: at(20)}, "4 3 2"},
		"limit":         {Query{User: "alice", Limit: 2}, "4 2"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFolder(tc.q)
			full := false
			for _, r := range recs {
				if full = f.add(r); full {
					break
				}
			}
			var ids []string
			for _, e := range f.entries() {
				ids = append(ids, e.ID)
			}
			if s := strings.Join(ids, " "); s != tc.want {
				t.Fatalf("got %s, want %s", s, tc.want)
			}
			if full != (tc.q.Limit == 2) {
				t.Fatalf("full = %v", full)
			}
		})
	}
}

func TestQueryLimitBounds(t *testing.T) {
	for in, want := range map[int]int{0: DefaultLimit, -3: DefaultLimit, 7: 7, MaxLimit + 1: MaxLimit} {
		if got := (Query{Limit: in}).limit(); got != want {
			t.Errorf("limit %d -> %d, want %d", in, got, want)
		}
	}
}

func TestCompleteKeepsWhatWasAttempted(t *testing.T) {
	e := Entry{Detail: "session 1: start a shell", DiffSHA256: "d1"}
	complete(&e, Outcome{Result: ResultOK, Detail: "exit 0"}, at(1))
	if e.Detail != "session 1: start a shell; exit 0" || e.DiffSHA256 != "d1" || e.Result != ResultOK {
		t.Fatalf("%+v", e)
	}
	e = Entry{}
	complete(&e, Outcome{Result: ResultFailed, ErrorCode: errcode.Conflict, DiffSHA256: "d2", Detail: "owned by kubectl"}, at(1))
	if e.Detail != "owned by kubectl" || e.DiffSHA256 != "d2" || e.ErrorCode != errcode.Conflict {
		t.Fatalf("%+v", e)
	}
}

func TestParseQuery(t *testing.T) {
	q, err := ParseQuery(url.Values{"user": {"alice"}, "verb": {"exec"}, "since": {"2026-01-02T03:04:05.5Z"}, "limit": {"20"}})
	if err != nil || q.User != "alice" || q.Verb != VerbExec || !q.Since.Equal(at(5).Add(500*time.Millisecond)) || q.Limit != 20 {
		t.Fatalf("%+v %v", q, err)
	}
	if q, err := ParseQuery(url.Values{}); err != nil || q != (Query{}) {
		t.Fatalf("empty: %+v %v", q, err)
	}
	for _, bad := range []url.Values{
		{"verb": {"patch"}}, {"since": {"yesterday"}}, {"since": {"2026-01-02"}}, {"limit": {"0"}},
		{"limit": {"1001"}}, {"limit": {"ten"}}, {"user": {strings.Repeat("u", 257)}},
	} {
		var e *errcode.Error
		if _, err := ParseQuery(bad); !errors.As(err, &e) || e.Code != errcode.BadParams {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestMemoryTrail(t *testing.T) { exerciseTrail(t, NewMemory()) }
