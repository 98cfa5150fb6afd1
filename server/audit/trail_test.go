package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/yardhq/yard/server/errcode"
)

// exerciseTrail checks what every Trail promises, on an empty trail.
func exerciseTrail(t *testing.T, tr Trail) {
	t.Helper()
	ctx := context.Background()
	pause := func() { time.Sleep(3 * time.Millisecond) } // distinct milliseconds (Redis's ids)
	must := func(e Entry, err error) Entry {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return e
	}

	a := must(tr.Begin(ctx, Entry{User: "alice", Groups: []string{"dev"}, Cluster: "kind", Verb: VerbApply, Kind: "Deployment",
		Namespace: "demo", Name: "web", DryRun: true, RequestID: "req-1", Room: "r1", Replica: "replica-a"}))
	if a.ID == "" || a.Time.IsZero() || a.Result != ResultPending || a.FinishedAt != nil {
		t.Fatalf("begun %+v", a)
	}
	pause()
	b := must(tr.Begin(ctx, Entry{User: "bob", Verb: VerbScale, Kind: "Deployment", Namespace: "demo", Name: "web"}))
	pause()
	c := must(tr.Record(ctx, Entry{User: "carol", Verb: VerbExec, Kind: "Pod", Namespace: "demo", Name: "web-1",
		Result: ResultRefused, ErrorCode: errcode.Forbidden, Detail: "start: may not exec"}))
	if c.Result != ResultRefused || c.FinishedAt == nil || !c.FinishedAt.Equal(c.Time) {
		t.Fatalf("recorded %+v", c)
	}
	pause()
	if err := tr.Finish(ctx, a.ID, Outcome{Result: ResultOK, DiffSHA256: "5e1f", Detail: "applied"}); err != nil {
		t.Fatal(err)
	}
	d := must(tr.Begin(ctx, Entry{User: "alice", Verb: VerbDelete, Kind: "Pod", Namespace: "demo", Name: "web-2"}))
	if err := tr.Finish(ctx, d.ID, Outcome{Result: ResultFailed, ErrorCode: errcode.Conflict, Detail: "changed meanwhile"}); err != nil {
		t.Fatal(err)
	}

	list := func(q Query) []Entry {
		t.Helper()
		l, err := tr.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if l == nil {
			t.Fatal("nil listing")
		}
		return l
	}
	ids := func(l []Entry) string {
		var s []string
		for _, e := range l {
			s = append(s, map[string]string{a.ID: "a", b.ID: "b", c.ID: "c", d.ID: "d"}[e.ID])
		}
		return strings.Join(s, "")
	}

	all := list(Query{})
	if got := ids(all); got != "dcba" {
		t.Fatalf("newest first: %s", got)
	}
	ga, gb := all[3], all[2]
	if ga.Result != ResultOK || ga.DiffSHA256 != "5e1f" || ga.Detail != "applied" || ga.FinishedAt == nil ||
		ga.FinishedAt.Before(ga.Time) || !ga.Time.Equal(a.Time) || !ga.DryRun || ga.RequestID != "req-1" ||
		ga.Room != "r1" || ga.Cluster != "kind" || ga.Replica != "replica-a" || !slices.Equal(ga.Groups, []string{"dev"}) {
		t.Fatalf("a listed as %+v", ga)
	}
	// Never finished (its replica was killed between the two records): still there, pending.
	if gb.Result != ResultPending || gb.FinishedAt != nil || gb.User != "bob" {
		t.Fatalf("b listed as %+v", gb)
	}
	if gd := all[0]; gd.Result != ResultFailed || gd.ErrorCode != errcode.Conflict {
		t.Fatalf("d listed as %+v", gd)
	}
	if gc := all[1]; gc.Result != ResultRefused || gc.ErrorCode != errcode.Forbidden || gc.Detail != "start: may not exec" {
		t.Fatalf("c listed as %+v", gc)
	}

	for q, want := range map[Query]string{
		{User: "alice"}:                    "da",
		{Verb: VerbExec}:                   "c",
		{User: "bob", Verb: VerbScale}:     "b",
		{User: "bob", Verb: VerbApply}:     "",
		{Limit: 2}:                         "dc",
		{Since: c.Time}:                    "dc",
		{User: "alice", Since: b.Time}:     "d",
		{Since: time.Now().Add(time.Hour)}: "",
	} {
		if got := ids(list(q)); got != want {
			t.Errorf("%+v: %s, want %s", q, got, want)
		}
	}

	if _, err := tr.Begin(ctx, Entry{User: "x", Verb: "patch"}); err == nil {
		t.Error("unknown verb accepted")
	}
	if _, err := tr.Record(ctx, Entry{User: "x", Verb: VerbApply, Result: ResultPending}); err == nil {
		t.Error("a pending record accepted")
	}
	if err := tr.Finish(ctx, b.ID, Outcome{Result: "maybe"}); err == nil {
		t.Error("unknown result accepted")
	}
	if got := ids(list(Query{})); got != "dcba" {
		t.Fatalf("refused calls changed the trail: %s", got)
	}
}

// exercisePaging checks a listing that must read far back: the one entry asked for is the oldest,
// behind many others, and its outcome is the newest record.
func exercisePaging(t *testing.T, tr Trail) {
	t.Helper()
	ctx := context.Background()
	rare, err := tr.Begin(ctx, Entry{User: "rare", Verb: VerbRestart, Kind: "Deployment", Namespace: "demo", Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	filler := strings.Repeat("x", 1200)
	for i := range 120 {
		e, err := tr.Begin(ctx, Entry{User: "noise", Verb: VerbApply, Name: fmt.Sprint("n", i), Detail: filler})
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Finish(ctx, e.ID, Outcome{Result: ResultOK}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Finish(ctx, rare.ID, Outcome{Result: ResultOK, Detail: "restarted"}); err != nil {
		t.Fatal(err)
	}
	l, err := tr.List(ctx, Query{User: "rare", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 1 || l[0].ID != rare.ID || l[0].Result != ResultOK || l[0].Detail != "restarted" {
		t.Fatalf("rare: %+v", l)
	}
	l, err = tr.List(ctx, Query{User: "noise", Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 50 || l[0].Name != "n119" || l[49].Name != "n70" {
		t.Fatalf("noise: %d entries, %s to %s", len(l), l[0].Name, l[len(l)-1].Name)
	}
	for _, e := range l {
		if e.Result != ResultOK {
			t.Fatalf("unfolded %+v", e)
		}
	}
}

// benchBeginFinish measures one attempt: Begin, then Finish.
func benchBeginFinish(b *testing.B, tr Trail) {
	ctx := context.Background()
	e := Entry{User: "alice", Groups: []string{"dev"}, Cluster: "kind", Verb: VerbApply, Kind: "Deployment",
		Namespace: "demo", Name: "web", RequestID: "0123456789abcdef"}
	for b.Loop() {
		a, err := tr.Begin(ctx, e)
		if err != nil {
			b.Fatal(err)
		}
		if err := tr.Finish(ctx, a.ID, Outcome{Result: ResultOK, DiffSHA256: strings.Repeat("f", 64)}); err != nil {
			b.Fatal(err)
		}
	}
}
