//go:build chaos

package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// watchMsg is one message of /ws/watch.
type watchMsg struct {
	Type   string `json:"type"`
	Kind   string `json:"kind"`
	Object struct {
		Metadata struct{ Namespace, Name, ResourceVersion string }
	} `json:"object"`
}

// view replays a watch stream into the client's state: namespace/name -> resourceVersion.
func view(ms []watchMsg) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		name := m.Object.Metadata.Namespace + "/" + m.Object.Metadata.Name
		switch m.Type {
		case "ADDED", "MODIFIED":
			out[name] = m.Object.Metadata.ResourceVersion
		case "DELETED":
			delete(out, name)
		case "RESET":
			clear(out)
		}
	}
	return out
}

// follower follows one container's log on /ws/logs as the browser does: when the stream ends
// or stays silent for 10 s (markers are appended every 50 ms), it reopens it with sinceTime set
// to the time of the last line it received.
type follower struct {
	r      *replica
	token  string
	params url.Values

	mu      sync.Mutex
	markers []string // marker lines, as received
	opens   int
	ends    []string // why each stream ended
}

func (f *follower) run(ctx context.Context, since time.Time, prefix string) {
	last := since.UTC().Format(time.RFC3339Nano)
	for ctx.Err() == nil {
		q := url.Values{}
		for k, v := range f.params {
			q[k] = v
		}
		q.Set("follow", "true")
		q.Set("sinceTime", last)
		conn, _, err := f.r.DialWS("/ws/logs", f.token, q)
		if err != nil {
			f.end("dial: " + err.Error())
			sleep(ctx, 500*time.Millisecond)
			continue
		}
		f.mu.Lock()
		f.opens++
		f.mu.Unlock()
		stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
		for {
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, b, err := conn.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				switch {
				case ctx.Err() != nil:
				case errors.As(err, &ce):
					f.end(fmt.Sprintf("closed %d %s", ce.Code, ce.Text))
				default:
					f.end(err.Error())
				}
				break
			}
			var m struct{ Type, Text, Time, Code, Message string }
			if json.Unmarshal(b, &m) != nil {
				continue
			}
			switch m.Type {
			case "line":
				last = m.Time
				if strings.HasPrefix(m.Text, prefix) {
					f.mu.Lock()
					f.markers = append(f.markers, m.Text)
					f.mu.Unlock()
				}
			case "error":
				f.end("error " + m.Code + " " + m.Message)
			}
		}
		stop()
		_ = conn.Close()
		sleep(ctx, 500*time.Millisecond)
	}
}

func (f *follower) end(why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ends = append(f.ends, why)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// readiness polls /api/readyz and keeps what it saw.
type readiness struct {
	mu       sync.Mutex
	degraded []time.Time // answers with a cluster check failing
	lastOK   bool
	detail   string // the first degraded answer
}

func (rd *readiness) run(ctx context.Context, r *replica) {
	c := http.Client{Timeout: 5 * time.Second}
	for ctx.Err() == nil {
		resp, err := c.Get(r.URL + "/api/readyz")
		if err == nil {
			var body struct {
				Status string
				Checks map[string]struct {
					OK    bool
					Error string
				}
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			_ = resp.Body.Close()
			clusterDown := false
			for name, chk := range body.Checks {
				if strings.HasPrefix(name, "cluster:") && !chk.OK {
					clusterDown = true
				}
			}
			rd.mu.Lock()
			rd.lastOK = resp.StatusCode == http.StatusOK && body.Status == "ok"
			if clusterDown && resp.StatusCode == http.StatusServiceUnavailable {
				rd.degraded = append(rd.degraded, time.Now())
				if rd.detail == "" {
					b, _ := json.Marshal(body)
					rd.detail = string(b)
				}
			}
			rd.mu.Unlock()
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

// The apiserver restarts while a client watches ConfigMaps on replica a (changed all along) and
// another follows a container's log on replica b (a numbered line every 50 ms). The watch
// converges to a fresh LIST without being reopened; the log, resumed with sinceTime, holds every
// numbered line exactly once and in order; /api/readyz reports the cluster degraded while the
// apiserver is away, and ready after.
func TestAPIServerRestart(t *testing.T) {
	rp := newReport(t, "watches converge to a fresh list; log streams resume without duplicates or gaps; readyz reports the cluster degraded while the apiserver is down")
	rg := newRig(t)
	a, b := rg.replica("a"), rg.replica("b")
	alice := yardtest.SignIn(t, a.URL, "alice", false)
	admin := rg.admin()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	conn, _, err := a.DialWS("/ws/watch", alice, url.Values{"kinds": {"configmaps"}, "namespaces": {"demo"}})
	if err != nil {
		t.Fatal(err)
	}
	watch := yardtest.NewRecorder(conn, func(_ int, b []byte) watchMsg {
		var m watchMsg
		_ = json.Unmarshal(b, &m)
		return m
	})
	watch.Start()
	defer watch.Close()
	watch.Wait(t, "SYNCED", 30*time.Second, func(ms []watchMsg) bool {
		for _, m := range ms {
			if m.Type == "SYNCED" {
				return true
			}
		}
		return false
	}, func(ms []watchMsg) string { return fmt.Sprintf("%d messages", len(ms)) })

	podName := runningPod(t, rg, "demo", "web")
	pod, err := admin.CoreV1().Pods("demo").Get(ctx, podName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctr := pod.Spec.Containers[0].Name
	prefix := fmt.Sprintf("chaos-%d-", time.Now().UnixNano()%1e9)
	f := &follower{r: b, token: yardtest.SignIn(t, b.URL, "alice", false),
		params: url.Values{"namespace": {"demo"}, "pod": {podName}, "container": {ctr}}}
	began := time.Now()
	wg.Go(func() { f.run(ctx, began, prefix) })
	rd := &readiness{}
	wg.Go(func() { rd.run(ctx, a) })

	// Changes all along: numbered log lines, ConfigMaps created and deleted.
	genCtx, stopGen := context.WithCancel(ctx)
	var appended, cmMade, cmFailed int
	var genWG sync.WaitGroup
	genWG.Go(func() {
		for n := 0; genCtx.Err() == nil; n++ {
			if err := rg.cp.AppendLog("demo", podName, ctr, fmt.Sprintf("%s%05d", prefix, n)); err != nil {
				t.Errorf("append log: %v", err)
				return
			}
			appended = n + 1
			sleep(genCtx, 50*time.Millisecond)
		}
	})
	genWG.Go(func() {
		for n := 0; genCtx.Err() == nil; n++ {
			cctx, ccancel := context.WithTimeout(genCtx, 2*time.Second)
			name := fmt.Sprintf("%scm-%d", prefix, n)
			_, err := admin.CoreV1().ConfigMaps("demo").Create(cctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			if err == nil {
				cmMade++
			} else {
				cmFailed++
			}
			if n >= 3 {
				_ = admin.CoreV1().ConfigMaps("demo").Delete(cctx, fmt.Sprintf("%scm-%d", prefix, n-3), metav1.DeleteOptions{})
			}
			ccancel()
			sleep(genCtx, 300*time.Millisecond)
		}
	})
	t.Cleanup(func() {
		l, err := admin.CoreV1().ConfigMaps("demo").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return
		}
		for _, cm := range l.Items {
			if strings.HasPrefix(cm.Name, prefix) {
				_ = admin.CoreV1().ConfigMaps("demo").Delete(context.Background(), cm.Name, metav1.DeleteOptions{})
			}
		}
	})

	time.Sleep(3 * time.Second)
	restartAt := time.Now()
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Minute)
	err = rg.cp.RestartAPIServer(rctx)
	rcancel()
	if err != nil {
		t.Fatal(err)
	}
	rp.set("apiserver_back_after", "%s", seconds(time.Since(restartAt)))
	time.Sleep(5 * time.Second)
	stopGen()
	genWG.Wait()
	rp.set("configmaps_created", "%d", cmMade)
	rp.set("configmap_calls_failed", "%d", cmFailed)
	rp.set("log_lines_appended", "%d", appended)

	// The watch equals a fresh LIST (names and resourceVersions), without being reopened.
	var fresh map[string]string
	convergeFrom := time.Now()
	watch.Wait(t, "the watch to equal a fresh list", time.Minute, func(ms []watchMsg) bool {
		l, err := admin.CoreV1().ConfigMaps("demo").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		fresh = map[string]string{}
		for _, cm := range l.Items {
			fresh["demo/"+cm.Name] = cm.ResourceVersion
		}
		v := view(ms)
		if len(v) != len(fresh) {
			return false
		}
		for k, rv := range fresh {
			if v[k] != rv {
				return false
			}
		}
		return true
	}, func(ms []watchMsg) string { return fmt.Sprintf("view %v, fresh %v", view(ms), fresh) })
	rp.set("watch_converged_after_changes_stopped", "%s", seconds(time.Since(convergeFrom)))
	rp.set("watch_objects", "%d", len(fresh))

	// Every numbered line once, in order.
	last := fmt.Sprintf("%s%05d", prefix, appended-1)
	testwait.Until(t, time.Minute, 200*time.Millisecond, "the log follower to reach "+last, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.markers) > 0 && f.markers[len(f.markers)-1] >= last
	})
	f.mu.Lock()
	markers, opens, ends := append([]string(nil), f.markers...), f.opens, append([]string(nil), f.ends...)
	f.mu.Unlock()
	seen := map[int]int{}
	dups, disorder := 0, 0
	prev := -1
	for _, m := range markers {
		n, _ := strconv.Atoi(strings.TrimPrefix(m, prefix))
		if seen[n]++; seen[n] > 1 {
			dups++
		}
		if n < prev {
			disorder++
		}
		prev = n
	}
	missing := 0
	for n := range appended {
		if seen[n] == 0 {
			missing++
		}
	}
	rp.set("log_lines_received", "%d", len(markers))
	rp.set("log_duplicates", "%d", dups)
	rp.set("log_missing", "%d", missing)
	rp.set("log_stream_opens", "%d", opens)
	rp.set("log_stream_ends", "%q", strings.Join(ends, "; "))
	if dups != 0 || missing != 0 || disorder != 0 {
		t.Errorf("log lines: %d duplicated, %d missing, %d out of order of %d appended", dups, missing, disorder, appended)
	}

	// readyz said the cluster was degraded while the apiserver was away, and is ready again.
	testwait.Until(t, 30*time.Second, 200*time.Millisecond, "readyz ok again", func() bool {
		rd.mu.Lock()
		defer rd.mu.Unlock()
		return rd.lastOK
	})
	rd.mu.Lock()
	degraded, detail := append([]time.Time(nil), rd.degraded...), rd.detail
	rd.mu.Unlock()
	rp.set("readyz_degraded_answers", "%d", len(degraded))
	if len(degraded) == 0 {
		t.Fatal("readyz never reported the cluster degraded while the apiserver restarted")
	}
	rp.set("readyz_degraded_from", "+%s", seconds(degraded[0].Sub(restartAt)))
	rp.set("readyz_degraded_until", "+%s", seconds(degraded[len(degraded)-1].Sub(restartAt)))
	t.Logf("first degraded answer: %s", detail)
}
