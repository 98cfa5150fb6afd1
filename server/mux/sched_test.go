package mux

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/yardhq/yard/server/identity"
)

type fakeKind struct {
	name string
	prio Priority
}

func (k fakeKind) Name() string       { return k.name }
func (k fakeKind) Priority() Priority { return k.prio }
func (fakeKind) Open(context.Context, OpenRequest) (Runner, error) {
	return nil, nil
}

// The writer's order: control frames, then data by priority, round-robin within a priority, and
// only from channels with credit.
func TestWriterScheduling(t *testing.T) {
	s := NewServer(DefaultConfig(), NewRegistry(), Options{})
	c := newConn(context.Background(), s, nil, identityForTest())
	add := func(id uint32, prio Priority, credit int64, msgs ...string) *channel {
		ch := newChannel(c, id, fakeKind{name: fmt.Sprint(id), prio: prio}, credit)
		ch.opening = false
		for _, m := range msgs {
			ch.out = append(ch.out, Message{Type: Text, Data: []byte(m)})
			ch.outBytes += len(m)
		}
		c.chans[id] = ch
		c.list = append(c.list, ch)
		return ch
	}
	add(1, PriorityLogs, 1000, "logs1a", "logs1b")
	add(2, PriorityShell, 1000, "shell2a", "shell2b")
	add(3, PriorityLogs, 1000, "logs3a", "logs3b")
	add(4, PriorityWatch, 0, "watch4-no-credit")
	add(5, PrioritySync, 1000, "sync5")
	add(6, PriorityShell, 1000, "shell6")
	c.control = [][]byte{[]byte("ctl")}

	var got []string
	c.mu.Lock()
	for {
		it, ok := c.nextLocked()
		if !ok {
			break
		}
		if it.frame != nil {
			got = append(got, string(it.frame))
		} else {
			got = append(got, string(it.msg.Data))
		}
	}
	c.mu.Unlock()
	want := "ctl shell2a shell6 shell2b sync5 logs1a logs3a logs1b logs3b"
	if strings.Join(got, " ") != want {
		t.Fatalf("order:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	// Credit was charged, and positive credit lets a message larger than it go.
	if ch := c.chans[1]; ch.outCredit != 1000-int64(len("logs1a")+len("logs1b")) {
		t.Fatalf("credit %d", ch.outCredit)
	}
	ch := add(7, PriorityLogs, 1, "a message far larger than one byte of credit", "blocked")
	c.mu.Lock()
	it, ok := c.nextLocked()
	_, ok2 := c.nextLocked()
	c.mu.Unlock()
	if !ok || string(it.msg.Data) != "a message far larger than one byte of credit" || ok2 || ch.outCredit >= 0 {
		t.Fatalf("positive-credit rule: %q %v %v credit %d", it.msg.Data, ok, ok2, ch.outCredit)
	}
}

func identityForTest() identity.User { return identity.User{ID: "t", Name: "t"} }
