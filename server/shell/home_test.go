package shell

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A participant whose session's home stopped without a word (SIGKILL: no exit published, the
// registry entry no longer renewed) is told that the session ended and why, instead of waiting
// for output that never comes.
func TestParticipantLearnsThatTheHomeStopped(t *testing.T) {
	ctx := context.Background()
	hub := NewMemoryHub()
	m := testManager(t, hub, "r2")
	info := Info{ID: NewSessionID(), Owner: "alice", Namespace: "demo", Pod: "web", Replica: "r1", Started: time.Now()}
	if err := m.claim(ctx, info); err != nil {
		t.Fatal(err)
	}
	// The home on r1 answers the join, then dies.
	home, err := hub.Subscribe(ctx, homeTopic(info.ID))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer home.Close()
	wg.Go(func() {
		for b := range home.C() {
			var e event
			if json.Unmarshal(b, &e) == nil && e.K == "join" {
				_ = hub.Publish(ctx, outTopic(info.ID), event{K: "snapshot", P: e.P, Drv: "alice", D: []byte("scrollback$ ")}.encode())
			}
		}
	})
	p := attach(m, info, "alice", RoleDriver)
	p.ch.waitTerminal(t, "scrollback$ ")
	if err := m.dropSession(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	exit := p.ch.waitControl(t, "the exit", func(c map[string]any) bool { return c["type"] == "exit" })
	if exit["code"] != float64(-1) || !strings.Contains(exit["reason"].(string), "replica r1") {
		t.Fatalf("exit %v", exit)
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the participant kept waiting after its exit")
	}
}

// A home that stood still itself (its clock jumps past three heartbeats between two
// housekeeps, as across SIGSTOP and SIGCONT) keeps its participants: the silence was its own.
// Dropped, the owner would stay connected with its keystrokes ignored.
func TestHomeThatStoodStillKeepsItsParticipants(t *testing.T) {
	hub := NewMemoryHub()
	m := testManager(t, hub, "r1")
	var skew atomic.Int64
	m.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	info := startSession(t, m, "alice", nil)
	owner := attach(m, info, "alice", RoleDriver)
	owner.ch.waitTerminal(t, "bash$ ")
	m.mu.Lock()
	s := m.local[info.ID]
	m.mu.Unlock()
	// The stall ends: the home's next housekeep runs before any participant's next beat.
	skew.Store(int64(10 * time.Second))
	if reason := s.housekeep(); reason != "" {
		t.Fatalf("the session ended: %s", reason)
	}
	owner.ch.keys("still driving\n")
	owner.ch.waitTerminal(t, "still driving\r\n")
	got, err := m.lookup(context.Background(), info.ID)
	if err != nil || len(got.Participants) != 1 || got.Participants[0].User != "alice" {
		t.Fatalf("participants after the stall: %+v %v", got.Participants, err)
	}
	owner.stop(t)
}

// A participant the home dropped while it was still attached (its replica stood still past
// three beats while the home ran on) is asked to join again at its next event, and does: the
// owner drives again instead of typing into a session that ignores it without a word.
func TestDroppedParticipantJoinsAgain(t *testing.T) {
	hub := NewMemoryHub()
	m := testManager(t, hub, "r1")
	info := startSession(t, m, "alice", nil)
	owner := attach(m, info, "alice", RoleDriver)
	owner.ch.waitTerminal(t, "bash$ ")
	m.mu.Lock()
	s := m.local[info.ID]
	m.mu.Unlock()
	s.mu.Lock()
	for _, p := range s.parts {
		p.lastSeen = time.Now().Add(-time.Minute)
	}
	s.mu.Unlock()
	if reason := s.housekeep(); reason != "" {
		t.Fatalf("the session ended: %s", reason)
	}
	if got, err := m.lookup(context.Background(), info.ID); err != nil || len(got.Participants) != 0 {
		t.Fatalf("participants after the drop: %+v %v", got.Participants, err)
	}
	// Its next keys are not typed, but bring it back.
	owner.ch.keys("x")
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := m.lookup(context.Background(), info.ID)
		if err == nil && len(got.Participants) == 1 && got.Participants[0].User == "alice" && got.Driver == "alice" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dropped owner did not join again: %+v %v", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	owner.ch.keys("back again\n")
	owner.ch.waitTerminal(t, "back again\r\n")
	owner.stop(t)
}
