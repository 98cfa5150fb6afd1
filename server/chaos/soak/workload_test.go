//go:build soak

package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/chaos/internal/chaostest"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// editRoot is the map every room client writes its own key of: the time it sent the edit, in
// Unix nanoseconds. Receivers turn the value into a delivery latency (one clock: one process).
const editRoot = "soak"

// roomClient edits one room every editEvery and measures how long others' edits take to reach
// it through the servers.
type roomClient struct {
	id   string
	room string
	p    *yardtest.Person

	mu   sync.Mutex
	sent int    // edits sent
	last string // the value of its last edit
	seen map[string]string
}

func newRoomClient(t *testing.T, r *chaostest.Replica, room, id string, lat *latencies) *roomClient {
	tok := yardtest.SignIn(t, r.URL, id, false)
	c := &roomClient{id: id, room: room, seen: map[string]string{}}
	c.p = r.Join(t, tok, room)
	c.p.OnBroadcast(func(doc *crdt.Doc) {
		now := time.Now()
		m := doc.GetMap(editRoot)
		for _, k := range m.Keys() {
			if k == id {
				continue
			}
			v, _ := m.Get(k)
			s, _ := v.(string)
			if s == "" || c.seen[k] == s {
				continue
			}
			c.seen[k] = s
			if sentAt, err := strconv.ParseInt(s, 10, 64); err == nil {
				lat.add(now.Sub(time.Unix(0, sentAt)))
			}
		}
	})
	return c
}

func (c *roomClient) run(ctx context.Context, every time.Duration) {
	chaostest.Sleep(ctx, time.Duration(rand.Int64N(int64(every))))
	for ctx.Err() == nil {
		v := strconv.FormatInt(time.Now().UnixNano(), 10)
		c.p.Edit(func(doc *crdt.Doc, tx *crdt.Transaction) { _ = doc.GetMap(editRoot).Set(tx, c.id, v) })
		c.mu.Lock()
		c.sent++
		c.last = v
		c.mu.Unlock()
		chaostest.Sleep(ctx, every)
	}
}

// watchClient watches ConfigMaps in a namespace and keeps the resulting view; its changes carry
// their creation time (data.at), which gives the watch's delivery latency.
type watchClient struct {
	mu       sync.Mutex
	view     map[string]string
	events   int
	closures []string
}

func (w *watchClient) run(ctx context.Context, t *testing.T, r *chaostest.Replica, token, ns string, lat *latencies) {
	for ctx.Err() == nil {
		conn, _, err := r.DialWS("/ws/watch", token, url.Values{"kinds": {"configmaps"}, "namespaces": {ns}})
		if err != nil {
			w.closed("dial: " + err.Error())
			chaostest.Sleep(ctx, time.Second)
			continue
		}
		stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
		w.mu.Lock()
		w.view = map[string]string{} // a new stream starts with a snapshot
		w.mu.Unlock()
		synced := false // the snapshot's ADDED are not deliveries
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				if ctx.Err() == nil {
					w.closed(err.Error())
				}
				break
			}
			var m chaostest.WatchMsg
			var data struct {
				Object struct {
					Data map[string]string `json:"data"`
				} `json:"object"`
			}
			if json.Unmarshal(b, &m) != nil || json.Unmarshal(b, &data) != nil {
				t.Errorf("watch message is not JSON: %.200s", b)
				continue
			}
			synced = synced || m.Type == "SYNCED"
			if at, err := strconv.ParseInt(data.Object.Data["at"], 10, 64); err == nil && m.Type == "ADDED" && synced {
				lat.add(time.Since(time.Unix(0, at)))
			}
			w.mu.Lock()
			chaostest.Apply(w.view, m)
			w.events++
			w.mu.Unlock()
		}
		stop()
		_ = conn.Close()
		chaostest.Sleep(ctx, time.Second)
	}
}

func (w *watchClient) closed(why string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closures = append(w.closures, why)
}

// churn creates a ConfigMap every period in ns, keeping the newest keep of them, until ctx
// ends; it returns how many calls failed.
func churn(ctx context.Context, kc kubernetes.Interface, ns, prefix string, period time.Duration, keep int) (made, failed int) {
	for n := 0; ctx.Err() == nil; n++ {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := kc.CoreV1().ConfigMaps(ns).Create(cctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s%06d", prefix, n)},
			Data:       map[string]string{"at": strconv.FormatInt(time.Now().UnixNano(), 10)},
		}, metav1.CreateOptions{})
		if err == nil {
			made++
		} else if ctx.Err() == nil {
			failed++
		}
		if n >= keep {
			if err := kc.CoreV1().ConfigMaps(ns).Delete(cctx, fmt.Sprintf("%s%06d", prefix, n-keep), metav1.DeleteOptions{}); err != nil && ctx.Err() == nil {
				failed++
			}
		}
		cancel()
		chaostest.Sleep(ctx, period)
	}
	return made, failed
}

// shellPair is a shared shell: its owner types a numbered echo every period; the owner and an
// observer on another replica must both see every answer.
type shellPair struct {
	owner, observer *chaostest.Term
	typed           []string
}

func openPair(t *testing.T, home, other *chaostest.Replica, user, ns, pod string) *shellPair {
	tok := yardtest.SignIn(t, home.URL, user, false)
	owner := chaostest.OpenShell(t, home.Server, tok, url.Values{"namespace": {ns}, "pod": {pod}})
	owner.Wait(t, "the session", 30*time.Second, func() bool { return owner.Find("session") != nil })
	id := owner.Find("session")["id"].(string)
	observer := chaostest.OpenShell(t, other.Server, yardtest.SignIn(t, other.URL, user, false), url.Values{"session": {id}, "role": {"observer"}})
	observer.Wait(t, "the observer's start", 30*time.Second, func() bool { return observer.Find("session") != nil || observer.Output() != "" })
	return &shellPair{owner: owner, observer: observer}
}

func (s *shellPair) run(ctx context.Context, name string, every time.Duration) {
	chaostest.Sleep(ctx, time.Duration(rand.Int64N(int64(every))))
	for n := 0; ctx.Err() == nil; n++ {
		// The shell prints the sum, not the typed text, so the echo of the keys is not counted.
		if err := s.owner.Keys(fmt.Sprintf("echo %s-$((%d+1))\r", name, n)); err != nil {
			return
		}
		s.typed = append(s.typed, fmt.Sprintf("%s-%d", name, n+1))
		chaostest.Sleep(ctx, every)
	}
}

// missing counts the answers a terminal's output lacks.
func missing(out string, want []string) int {
	n := 0
	for _, w := range want {
		if !strings.Contains(out, w+"\r\n") && !strings.Contains(out, w+"\n") {
			n++
		}
	}
	return n
}
