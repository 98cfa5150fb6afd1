package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/yardhq/yard/server/config"
)

func hasLine(text string) func([]map[string]any, string) bool {
	return func(texts []map[string]any, _ string) bool {
		for _, m := range lines(texts) {
			if m["text"] == text {
				return true
			}
		}
		return false
	}
}

func TestFollowReceivesAppendedLines(t *testing.T) {
	s := start(t, nil)
	alice := s.login(t, "alice", false)
	pod := s.podOf(t, "demo", "web")
	ctr := pod.Spec.Containers[0].Name
	c := s.open(t, "/ws/logs", alice, url.Values{"namespace": {"demo"}, "pod": {pod.Name}, "follow": {"true"}, "tailLines": {"1"}}, true)
	c.waitType(t, "line", 20*time.Second, nil) // the stream is live upstream
	marker := fmt.Sprintf("appended-%d", time.Now().UnixNano())
	if err := s.cp.AppendLog("demo", pod.Name, ctr, marker); err != nil {
		t.Fatal(err)
	}
	texts := c.waitFor(t, "the appended line", 20*time.Second, hasLine(marker))
	for _, m := range lines(texts) {
		if m["text"] == marker {
			if m["pod"] != pod.Name || m["container"] != ctr {
				t.Fatalf("line %v", m)
			}
			if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m["time"])); err != nil {
				t.Fatalf("line time %v: %v", m["time"], err)
			}
		}
	}
}

// logFileTail returns the last n lines' messages of a container's CRI log file.
func logFileTail(t *testing.T, s *server, ns, pod, ctr string, n int) []string {
	b, err := os.ReadFile(filepath.Join(s.cp.Dir(), "pods", ns, pod, ctr+".log"))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	all = all[max(0, len(all)-n):]
	var out []string
	for _, l := range all {
		// <time> <stream> <tag> <message>
		parts := strings.SplitN(l, " ", 4)
		if len(parts) == 4 {
			out = append(out, parts[3])
		}
	}
	return out
}

func TestTailLinesAndSinceTime(t *testing.T) {
	s := start(t, nil)
	alice := s.login(t, "alice", false)
	pod := s.podOf(t, "demo", "api")
	ctr := pod.Spec.Containers[0].Name
	run := time.Now().UnixNano()
	var marks []string
	for i := range 5 {
		marks = append(marks, fmt.Sprintf("tail-%d-%d", run, i))
	}
	for _, m := range marks {
		if err := s.cp.AppendLog("demo", pod.Name, ctr, m); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct timestamps
	}

	// tailLines=3 gives exactly the file's last three lines (the demo keeps writing, so compare
	// with the file as it was read, retrying when a line landed in between).
	var got []string
	ok := false
	for attempt := 0; attempt < 5 && !ok; attempt++ {
		c := s.open(t, "/ws/logs", alice, url.Values{"namespace": {"demo"}, "pod": {pod.Name}, "tailLines": {"3"}}, true)
		texts := c.waitFor(t, "the end of the stream", 20*time.Second, func(texts []map[string]any, _ string) bool {
			_, _, err := c.state()
			return err != nil
		})
		got = nil
		for _, m := range lines(texts) {
			got = append(got, fmt.Sprint(m["text"]))
		}
		want := logFileTail(t, s, "demo", pod.Name, ctr, 3)
		ok = strings.Join(got, "|") == strings.Join(want, "|")
	}
	if !ok || len(got) != 3 {
		t.Fatalf("tailLines=3 gave %q", got)
	}

	// Resuming at the time of the third marker gives what came after it, never it again.
	c := s.open(t, "/ws/logs", alice, url.Values{"namespace": {"demo"}, "pod": {pod.Name}, "tailLines": {"100"}}, true)
	texts := c.waitFor(t, "the markers", 20*time.Second, hasLine(marks[4]))
	var resumeAt string
	for _, m := range lines(texts) {
		if m["text"] == marks[2] {
			resumeAt = fmt.Sprint(m["time"])
		}
	}
	if resumeAt == "" {
		t.Fatalf("marker 2 not in %s", summarize(texts))
	}
	at, _ := time.Parse(time.RFC3339Nano, resumeAt)
	r := s.open(t, "/ws/logs", alice, url.Values{"namespace": {"demo"}, "pod": {pod.Name}, "sinceTime": {resumeAt}, "follow": {"true"}}, true)
	texts = r.waitFor(t, "the markers after the resume point", 20*time.Second, hasLine(marks[4]))
	seen := map[string]int{}
	for _, m := range lines(texts) {
		seen[fmt.Sprint(m["text"])]++
		lt, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m["time"]))
		if err != nil || !lt.After(at) {
			t.Fatalf("resumed stream sent a line from %v (resume point %s): %v", m["time"], resumeAt, m)
		}
	}
	if seen[marks[2]] != 0 || seen[marks[3]] != 1 || seen[marks[4]] != 1 {
		t.Fatalf("resume: %v", seen)
	}
}

func TestWorkloadLogsFollowScaleUp(t *testing.T) {
	s := start(t, nil)
	alice := s.login(t, "alice", false)
	admin := s.admin(t)
	ctx := context.Background()
	name := fmt.Sprintf("scale-%d", time.Now().UnixNano()%100000)
	labels := map[string]string{"app": name}
	two := int32(2)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &two,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
			},
		},
	}
	if _, err := admin.AppsV1().Deployments("demo").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = admin.AppsV1().Deployments("demo").Delete(context.Background(), name, metav1.DeleteOptions{})
	})

	streaming := func(n int) func([]map[string]any, string) bool {
		return func(texts []map[string]any, _ string) bool {
			for i := len(texts) - 1; i >= 0; i-- {
				if texts[i]["type"] == "status" {
					count := 0
					for _, p := range texts[i]["pods"].([]any) {
						if p.(map[string]any)["state"] == "streaming" {
							count++
						}
					}
					return count == n
				}
			}
			return false
		}
	}
	c := s.open(t, "/ws/logs", alice, url.Values{"namespace": {"demo"}, "workload": {"deployment/" + name}, "follow": {"true"}, "tailLines": {"1"}}, true)
	c.waitFor(t, "two pods streaming", 60*time.Second, streaming(2))

	before := map[string]bool{}
	texts, _, _ := c.state()
	for _, m := range texts {
		if m["type"] == "status" {
			for _, p := range m["pods"].([]any) {
				before[p.(map[string]any)["name"].(string)] = true
			}
		}
	}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := admin.AppsV1().Deployments("demo").GetScale(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		scale.Spec.Replicas = 3
		_, err = admin.AppsV1().Deployments("demo").UpdateScale(ctx, name, scale, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "three pods streaming", 60*time.Second, streaming(3))
	pods, err := admin.CoreV1().Pods("demo").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		t.Fatal(err)
	}
	var newPod string
	for _, p := range pods.Items {
		if !before[p.Name] {
			newPod = p.Name
		}
	}
	if newPod == "" {
		t.Fatalf("no new pod among %d (before: %v)", len(pods.Items), before)
	}
	marker := "from-the-new-pod-" + newPod
	if err := s.cp.AppendLog("demo", newPod, "app", marker); err != nil {
		t.Fatal(err)
	}
	texts = c.waitFor(t, "the new pod's line", 30*time.Second, hasLine(marker))
	for _, m := range lines(texts) {
		if m["text"] == marker && m["pod"] != newPod {
			t.Fatalf("line attributed to %v, want %s", m["pod"], newPod)
		}
	}
	// A deleted pod ends with a status saying so.
	if err := admin.CoreV1().Pods("demo").Delete(ctx, newPod, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	c.waitType(t, "status", 30*time.Second, func(m map[string]any) bool {
		for _, p := range m["pods"].([]any) {
			if p := p.(map[string]any); p["name"] == newPod && p["state"] == "deleted" {
				return true
			}
		}
		return false
	})
}

func TestStalledReaderIsBoundedAndToldOfDrops(t *testing.T) {
	s := start(t, func(c *config.Config) {
		c.Streams.LogBufferLines = 1000
		c.Streams.LogBufferBytes = 256 << 10
	})
	alice := s.login(t, "alice", false)
	pod := s.podOf(t, "demo", "worker")
	ctr := pod.Spec.Containers[0].Name
	c := s.open(t, "/ws/logs", alice, url.Values{"namespace": {"demo"}, "pod": {pod.Name}, "follow": {"true"}, "tailLines": {"0"}}, false)

	base := heapAlloc()
	line := strings.Repeat("x", 200)
	var chunk strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&chunk, "flood %05d %s\n", i, line)
	}
	const rounds = 40 // 200,000 lines, ~43 MB through a client that reads nothing
	for range rounds {
		if err := s.cp.AppendLog("demo", pod.Name, ctr, chunk.String()); err != nil {
			t.Fatal(err)
		}
	}
	// Give the stream time to pull the flood from the apiserver.
	time.Sleep(5 * time.Second)
	grown := int64(heapAlloc()) - int64(base)
	t.Logf("heap growth with a stalled client after %d lines: %d KiB", rounds*5000, grown/1024)
	if grown > 24<<20 {
		t.Fatalf("the server grew by %d MiB for one stalled stream (buffer bound 256 KiB)", grown>>20)
	}
	final := fmt.Sprintf("after-the-flood-%d", time.Now().UnixNano())
	if err := s.cp.AppendLog("demo", pod.Name, ctr, final); err != nil {
		t.Fatal(err)
	}
	c.startReading()
	texts := c.waitFor(t, "the last line", 60*time.Second, hasLine(final))
	var dropped float64
	for _, m := range texts {
		if m["type"] == "dropped" {
			dropped += m["count"].(float64)
		}
	}
	if dropped == 0 {
		t.Fatalf("no dropped notice after %d lines into a stalled client (%d lines received)", rounds*5000, len(lines(texts)))
	}
	t.Logf("received %d lines, told of %.0f dropped", len(lines(texts)), dropped)
}

func TestLogPermissionsAndDownload(t *testing.T) {
	s := start(t, nil)
	bob := s.login(t, "bob", false)
	alice := s.login(t, "alice", false)
	pod := s.podOf(t, "demo", "web")

	c := s.open(t, "/ws/logs", bob, url.Values{"namespace": {"demo"}, "pod": {pod.Name}}, true)
	ce := c.waitClosed(t, 10*time.Second)
	if !strings.HasPrefix(ce.Text, "forbidden") {
		t.Fatalf("bob reading demo logs: close %d %q", ce.Code, ce.Text)
	}
	resp, body := s.do(t, http.MethodGet, bob, "/api/logs/download?namespace=demo&pod="+pod.Name)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `"forbidden"`) {
		t.Fatalf("bob's download: %d %s", resp.StatusCode, body)
	}

	resp, body = s.do(t, http.MethodGet, alice, "/api/logs/download?namespace=demo&pod="+pod.Name+"&tailLines=5&timestamps=true")
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Disposition"), pod.Name+".log") {
		t.Fatalf("download: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	got := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if len(got) != 5 {
		t.Fatalf("download of tailLines=5 has %d lines: %q", len(got), body)
	}
	for _, l := range got {
		ts, _, _ := strings.Cut(l, " ")
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Fatalf("line without a timestamp: %q", l)
		}
	}
	// A workload's file merges its pods' lines by time.
	resp, body = s.do(t, http.MethodGet, alice, "/api/logs/download?namespace=demo&workload=deployment/web&tailLines=10&timestamps=true")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("workload download: %d %s", resp.StatusCode, body)
	}
	got = strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	pods := map[string]bool{}
	var prev time.Time
	for _, l := range got {
		ts, rest, _ := strings.Cut(l, " ")
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || tm.Before(prev) {
			t.Fatalf("workload download out of time order at %q (previous %s)", l, prev)
		}
		prev = tm
		if p, _, ok := strings.Cut(strings.TrimPrefix(rest, "["), "/"); ok {
			pods[p] = true
		}
	}
	if len(got) != 20 || len(pods) != 2 {
		t.Fatalf("workload download: %d lines from %d pods, want 20 from 2:\n%s", len(got), len(pods), body)
	}
	resp, _ = s.do(t, http.MethodGet, alice, "/api/logs/download?namespace=demo&pod=no-such-pod")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("download of a missing pod: %d", resp.StatusCode)
	}
}
