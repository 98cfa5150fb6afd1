package integration

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/yardhq/yard/server/deploy"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// metric sums the samples of name whose labels contain every one of labels (`kind="pods"`).
func metric(text, name string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if slices.ContainsFunc(labels, func(l string) bool { return !strings.Contains(line[len(name):sp], l) }) {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// watchMsg is what a browser's watch receives, as much as these tests read of it.
type watchMsg struct {
	Type   string `json:"type"`
	Object struct {
		Metadata struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	} `json:"object"`
}

func decodeWatch(_ int, b []byte) watchMsg {
	var m watchMsg
	_ = json.Unmarshal(b, &m)
	return m
}

func describeWatch(ms []watchMsg) string { return strconv.Itoa(len(ms)) + " messages" }

// The rollout's statuses come from the shared watches: alice's browser watching the pods of
// team-a and the deploy share one upstream apiserver watch (the deploy starts none of its own for
// pods), the deploy follows through the hub, and it never reads its objects one by one.
func TestRolloutIsFollowedFromTheSharedWatches(t *testing.T) {
	a, _, _ := replicas(t)
	alice := a.SignIn(t, "alice", false)
	conn, resp, err := a.DialWS("/ws/watch", alice, url.Values{"kinds": {"pods"}, "namespaces": {"team-a"}})
	if err != nil {
		t.Fatalf("watch: %v (%v)", err, resp)
	}
	browser := yardtest.NewRecorder(conn, decodeWatch)
	browser.Start()
	defer browser.Close()
	browser.Wait(t, "the browser's pods listed", 30*time.Second, func(ms []watchMsg) bool {
		return slices.ContainsFunc(ms, func(m watchMsg) bool { return m.Type == "SYNCED" })
	}, describeWatch)
	if got := metric(a.Metrics(t), "yard_watch_upstream_starts_total", `kind="pods"`); got != 1 {
		t.Fatalf("pods upstreams started before the deploy: %v, want 1 (the browser's)", got)
	}

	room, _ := webApp(t, a, alice, "watched")
	_, d := plan(t, a, alice, room, `{}`)
	got := applied(t, a, alice, room, d.ID)
	if got.State != deploy.StateSucceeded || len(got.Nodes) != 4 {
		t.Fatalf("deploy %+v", got)
	}
	for id, n := range got.Nodes {
		if n.Status != deploy.NodeReady {
			t.Fatalf("node %s %+v", id, n)
		}
	}
	m := a.Metrics(t)
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"pods upstreams started (the browser's, shared by the deploy)", metric(m, "yard_watch_upstream_starts_total", `kind="pods"`), 1},
		{"deployments upstreams started by the deploy's follow", metric(m, "yard_watch_upstream_starts_total", `kind="deployments"`), 1},
		{"follows opened through the hub", metric(m, "yard_watch_follows_total"), 1},
		{"rollouts followed from the watches", metric(m, "yard_deploy_follows_total", `source="watch"`), 1},
		{"rollouts followed by reads", metric(m, "yard_deploy_follows_total", `source="poll"`), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	// The browser saw the deploy's pods through the same upstream.
	browser.Wait(t, "the deploy's pods in the browser", 30*time.Second, func(ms []watchMsg) bool {
		return slices.ContainsFunc(ms, func(m watchMsg) bool { return m.Object.Metadata.Labels["yard.dev/room"] == room })
	}, describeWatch)
}

// A user who may apply but not list and watch what the deploy renders is followed by reads as
// that user: the deploy still ends, and the source it used is counted.
func TestRolloutIsReadWithoutWatchPermission(t *testing.T) {
	a, _, cp := replicas(t)
	k, err := kubernetes.NewForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	name := unique("cm-writer")
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "create", "patch"}}}}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}}
	if _, err := k.RbacV1().Roles("team-a").Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.RbacV1().Roles("team-a").Delete(context.Background(), name, metav1.DeleteOptions{}) })
	if _, err := k.RbacV1().RoleBindings("team-a").Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = k.RbacV1().RoleBindings("team-a").Delete(context.Background(), name, metav1.DeleteOptions{})
	})

	writer := a.SignIn(t, name, false)
	room := unique("readonly-watch")
	writeWorkflow(t, a, room, map[string]any{
		"cfg": map[string]any{"kind": "ConfigMap", "name": name, "data": map[string]any{"a": "b"}, "x": 0, "y": 0},
	}, map[string]any{})
	setNamespace(t, a, room, "team-a")
	_, d := plan(t, a, writer, room, `{}`)
	if len(d.Plan) != 1 || d.Plan[0].Error != "" {
		t.Fatalf("plan %+v", d.Plan)
	}
	got := applied(t, a, writer, room, d.ID)
	if got.State != deploy.StateSucceeded || got.Nodes["cfg"].Status != deploy.NodeReady {
		t.Fatalf("deploy %+v", got)
	}
	m := a.Metrics(t)
	if w, p := metric(m, "yard_deploy_follows_total", `source="watch"`), metric(m, "yard_deploy_follows_total", `source="poll"`); w != 0 || p != 1 {
		t.Fatalf("followed from the watches %v times and by reads %v times, want 0 and 1", w, p)
	}
}
