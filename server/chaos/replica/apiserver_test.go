//go:build chaos

package replica

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yardhq/yard/server/chaos/internal/chaostest"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/internal/yardtest"
)

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
		chaostest.Sleep(ctx, 200*time.Millisecond)
	}
}

// The apiserver restarts while a client watches ConfigMaps on replica a (changed all along) and
// another follows a container's log on replica b (a numbered line every 50 ms). The watch
// converges to a fresh LIST without being reopened; the log, resumed with sinceTime, holds every
// numbered line exactly once and in order; /api/readyz reports the cluster degraded while the
// apiserver is away, and ready after.
func TestAPIServerRestart(t *testing.T) {
	rp := chaostest.NewReport(t, "watches converge to a fresh list; log streams resume without duplicates or gaps; readyz reports the cluster degraded while the apiserver is down")
	rg := newRig(t)
	a, b := rg.Replica("a"), rg.Replica("b")
	alice := yardtest.SignIn(t, a.URL, "alice", false)
	admin := rg.Admin()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	conn, _, err := a.DialWS("/ws/watch", alice, url.Values{"kinds": {"configmaps"}, "namespaces": {"demo"}})
	if err != nil {
		t.Fatal(err)
	}
	watch := yardtest.NewRecorder(conn, func(_ int, b []byte) chaostest.WatchMsg {
		var m chaostest.WatchMsg
		_ = json.Unmarshal(b, &m)
		return m
	})
	watch.Start()
	defer watch.Close()
	watch.Wait(t, "SYNCED", 30*time.Second, func(ms []chaostest.WatchMsg) bool {
		for _, m := range ms {
			if m.Type == "SYNCED" {
				return true
			}
		}
		return false
	}, func(ms []chaostest.WatchMsg) string { return fmt.Sprintf("%d messages", len(ms)) })

	podName := rg.RunningPod(t, "demo", "web")
	pod, err := admin.CoreV1().Pods("demo").Get(ctx, podName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctr := pod.Spec.Containers[0].Name
	prefix := fmt.Sprintf("chaos-%d-", time.Now().UnixNano()%1e9)
	// The follower waits out far more silence than the restart lasts before reopening by itself:
	// the server is to resume the cut stream, so it opens once.
	f := &chaostest.Follower{Server: b.Server, Token: yardtest.SignIn(t, b.URL, "alice", false),
		Params: url.Values{"namespace": {"demo"}, "pod": {podName}, "container": {ctr}}, Silence: 3 * time.Minute}
	began := time.Now()
	wg.Go(func() { f.Run(ctx, began, prefix) })
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
			chaostest.Sleep(genCtx, 50*time.Millisecond)
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
			chaostest.Sleep(genCtx, 300*time.Millisecond)
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
	rp.Set("apiserver_back_after", "%s", chaostest.Seconds(time.Since(restartAt)))
	time.Sleep(5 * time.Second)
	stopGen()
	genWG.Wait()
	rp.Set("configmaps_created", "%d", cmMade)
	rp.Set("configmap_calls_failed", "%d", cmFailed)
	rp.Set("log_lines_appended", "%d", appended)

	// The watch equals a fresh LIST (names and resourceVersions), without being reopened.
	var fresh map[string]string
	convergeFrom := time.Now()
	watch.Wait(t, "the watch to equal a fresh list", time.Minute, func(ms []chaostest.WatchMsg) bool {
		l, err := admin.CoreV1().ConfigMaps("demo").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		fresh = map[string]string{}
		for _, cm := range l.Items {
			fresh["demo/"+cm.Name] = cm.ResourceVersion
		}
		return maps.Equal(chaostest.View(ms), fresh)
	}, func(ms []chaostest.WatchMsg) string {
		return fmt.Sprintf("view %v, fresh %v", chaostest.View(ms), fresh)
	})
	rp.Set("watch_converged_after_changes_stopped", "%s", chaostest.Seconds(time.Since(convergeFrom)))
	rp.Set("watch_objects", "%d", len(fresh))

	// Every numbered line once, in order.
	last := fmt.Sprintf("%s%05d", prefix, appended-1)
	testwait.Until(t, time.Minute, 200*time.Millisecond, "the log follower to reach "+last, func() bool {
		markers, _, _ := f.Received()
		return len(markers) > 0 && markers[len(markers)-1] >= last
	})
	markers, opens, ends := f.Received()
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
	rp.Set("log_lines_received", "%d", len(markers))
	rp.Set("log_duplicates", "%d", dups)
	rp.Set("log_missing", "%d", missing)
	rp.Set("log_stream_opens", "%d", opens)
	rp.Set("log_stream_ends", "%q", strings.Join(ends, "; "))
	resumes := f.Resumes()
	rp.Set("log_server_resumes", "%d", len(resumes))
	if len(resumes) > 0 {
		rp.Set("log_first_resume_status", "%q", resumes[0])
	}
	if opens != 1 {
		t.Errorf("the follower opened its stream %d times (ends: %q): the server did not resume the cut stream", opens, ends)
	}
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
	rp.Set("readyz_degraded_answers", "%d", len(degraded))
	if len(degraded) == 0 {
		t.Fatal("readyz never reported the cluster degraded while the apiserver restarted")
	}
	rp.Set("readyz_degraded_from", "+%s", chaostest.Seconds(degraded[0].Sub(restartAt)))
	rp.Set("readyz_degraded_until", "+%s", chaostest.Seconds(degraded[len(degraded)-1].Sub(restartAt)))
	t.Logf("first degraded answer: %s", detail)
}
