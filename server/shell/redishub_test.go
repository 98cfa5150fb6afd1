package shell

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/internal/redistest"
)

func redisHub(t *testing.T, tg redistest.Target) *RedisHub {
	return NewRedisHub(tg.Client(t), "test:")
}

// redisTrail is the audit trail of one replica in tg.
func redisTrail(t *testing.T, tg redistest.Target, replica string) *audit.Redis {
	tr, err := audit.NewRedis(tg.Client(t), "test:audit", time.Hour, replica)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// Two replicas share one Redis: a session homed on r1 is joined from r2, which sees the earlier
// output, then live output, types only once granted, and can end it as an admin. Both replicas'
// events land in the one trail in Redis.
func TestSessionAcrossReplicasThroughRedis(t *testing.T) {
	redistest.Each(t, testSessionAcrossReplicas)
}

func testSessionAcrossReplicas(t *testing.T, k redistest.Kind) {
	tg := redistest.Fresh(t, k)
	h1, h2 := redisHub(t, tg), redisHub(t, tg)
	m1 := testManagerTrail(t, h1, redisTrail(t, tg, "r1"), "r1")
	m2 := testManagerTrail(t, h2, redisTrail(t, tg, "r2"), "r2")
	info := startSession(t, m1, "alice", nil)

	got, err := m2.lookup(context.Background(), info.ID)
	if err != nil || got.Replica != "r1" || got.Owner != "alice" {
		t.Fatalf("lookup from r2: %+v %v", got, err)
	}
	owner := attach(m1, info, "alice", RoleDriver)
	owner.ch.keys("earlier output\n")
	owner.ch.waitTerminal(t, "earlier output\r\n")

	bob := attach(m2, info, "bob", RoleObserver)
	bob.ch.waitTerminal(t, "earlier output")
	bob.ch.waitControl(t, "observer", func(c map[string]any) bool { return c["type"] == "session" && c["role"] == RoleObserver })
	owner.ch.waitControl(t, "bob from r2", func(c map[string]any) bool {
		return c["type"] == "participants" && strings.Contains(strings.Join(participantsOf(c), ","), "bob@r2")
	})
	owner.ch.keys("live output\n")
	bob.ch.waitTerminal(t, "live output")
	bob.ch.keys("not yet\n")
	bob.ch.waitControl(t, "observing", func(c map[string]any) bool { return c["type"] == "error" })
	owner.ch.text(`{"type":"grant-driver","user":"bob"}`)
	bob.ch.waitControl(t, "driver", func(c map[string]any) bool { return c["type"] == "session" && c["role"] == RoleDriver })
	bob.ch.keys("bob from r2\n")
	owner.ch.waitTerminal(t, "bob from r2\r\n")
	if strings.Contains(owner.ch.terminal(), "not yet") {
		t.Fatal("observer input reached the terminal")
	}

	list, err := m2.Sessions(context.Background())
	if err != nil || len(list) != 1 || list[0].ID != info.ID {
		t.Fatalf("sessions from r2: %+v %v", list, err)
	}
	if err := m2.End(context.Background(), info.ID, identity.User{Name: "root", Admin: true}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*attached{owner, bob} {
		a.ch.waitControl(t, "exit", func(c map[string]any) bool { return c["type"] == "exit" })
		a.stop(t)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := m2.lookup(context.Background(), info.ID); errors.Is(err, ErrNoSession) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ended session still registered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The home (r1) recorded the session's events; r2 reads them from the same stream.
	entries, err := m2.trail.List(context.Background(), audit.Query{Verb: audit.VerbExec})
	if err != nil {
		t.Fatal(err)
	}
	var evs []string
	for _, e := range entries {
		evs = append(evs, e.User+" "+e.Result+" "+e.Replica+" "+strings.TrimPrefix(e.Detail, "session "+info.ID+": "))
	}
	s := strings.Join(evs, "\n")
	for _, want := range []string{"bob ok r1 join as observer", "root ok r1 kill", "alice ok r1 start a shell; exit -1: ended by root"} {
		if !strings.Contains(s, want) {
			t.Fatalf("trail lacks %q:\n%s", want, s)
		}
	}
}

func participantsOf(c map[string]any) []string {
	var out []string
	list, _ := c["list"].([]any)
	for _, p := range list {
		if p, ok := p.(map[string]any); ok {
			out = append(out, p["user"].(string)+"@"+p["replica"].(string))
		}
	}
	return out
}

// A Redis restart interrupts the relay, not the session: afterwards output flows to the other
// replica again and the session is still registered.
func TestSessionSurvivesRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	h1, h2 := redisHub(t, srv.Target()), redisHub(t, srv.Target())
	m1, m2 := testManager(t, h1, "r1"), testManager(t, h2, "r2")
	info := startSession(t, m1, "alice", nil)
	owner := attach(m1, info, "alice", RoleDriver)
	owner.ch.waitTerminal(t, "bash$ ")
	bob := attach(m2, info, "bob", RoleObserver)
	bob.ch.waitControl(t, "joined", func(c map[string]any) bool { return c["type"] == "session" })

	srv.Restart(t)
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		line := "after-restart-" + strings.Repeat("x", i%3)
		owner.ch.keys(line + "\n")
		time.Sleep(200 * time.Millisecond)
		if strings.Contains(bob.ch.terminal(), "after-restart") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no output reached the other replica after the restart; owner saw %q", owner.ch.terminal())
		}
	}
	if _, err := m2.lookup(context.Background(), info.ID); err != nil {
		t.Fatalf("session not registered after the restart: %v", err)
	}
	owner.stop(t)
	bob.stop(t)
}
