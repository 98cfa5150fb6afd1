package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/write"
)

// livePods counts the pods of app in namespace that are not being deleted.
func livePods(k kubernetes.Interface, namespace, app string) int {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := k.CoreV1().Pods(namespace).List(c, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		return -1
	}
	n := 0
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}

// bob applies a Deployment, scales it (the pods follow: KWOK runs them), restarts it and
// deletes it, each as himself and audited.
func TestScaleRestartDelete(t *testing.T) {
	s := start(t, nil)
	bob := s.SignIn(t, "bob", false)
	k, _ := admin(t, s.cp)
	dep := unique("w-life")
	if status, _, raw := s.apply(t, bob, "namespace=team-a", deploymentYAML(dep, 1, "nginx:1.27"), nil); status != http.StatusOK {
		t.Fatalf("apply: %d %s", status, raw)
	}
	testwait.Until(t, 60*time.Second, 200*time.Millisecond, "1 pod", func() bool { return livePods(k, "team-a", dep) == 1 })

	path := "/api/resource/deployments/" + dep
	status, b := s.call(t, http.MethodPost, bob, path+"/scale?namespace=team-a", "application/json", `{"replicas":3}`, nil)
	if status != http.StatusOK || !strings.Contains(string(b), `"replicas":3`) {
		t.Fatalf("scale: %d %s", status, b)
	}
	testwait.Until(t, 60*time.Second, 200*time.Millisecond, "3 pods after the scale", func() bool { return livePods(k, "team-a", dep) == 3 })

	before := time.Now().UTC().Add(-time.Second)
	status, b = s.call(t, http.MethodPost, bob, path+"/restart?namespace=team-a", "", "", nil)
	if status != http.StatusOK {
		t.Fatalf("restart: %d %s", status, b)
	}
	d, err := k.AppsV1().Deployments("team-a").Get(ctx(t), dep, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339, d.Spec.Template.Annotations[write.RestartedAtAnnotation])
	if err != nil || at.Before(before.Truncate(time.Second)) {
		t.Fatalf("restartedAt annotation %q: %v", d.Spec.Template.Annotations[write.RestartedAtAnnotation], err)
	}
	// A restart rolls out a new ReplicaSet.
	testwait.Until(t, 60*time.Second, 200*time.Millisecond, "a second replicaset", func() bool {
		l, err := k.AppsV1().ReplicaSets("team-a").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + dep})
		return err == nil && len(l.Items) >= 2
	})

	status, b = s.call(t, http.MethodDelete, bob, path+"?namespace=team-a&propagation=Foreground", "", "", nil)
	if status != http.StatusOK || !strings.Contains(string(b), `"propagation":"Foreground"`) {
		t.Fatalf("delete: %d %s", status, b)
	}
	testwait.Until(t, 60*time.Second, 200*time.Millisecond, "the deployment gone", func() bool {
		_, err := k.AppsV1().Deployments("team-a").Get(context.Background(), dep, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})

	es := s.entries(t, "bob")
	for _, verb := range []string{audit.VerbScale, audit.VerbRestart, audit.VerbDelete} {
		got := find(es, verb, "team-a", dep)
		if len(got) != 1 || got[0].Result != audit.ResultOK || got[0].Kind != "Deployment" || got[0].FinishedAt == nil {
			t.Fatalf("audit of %s: %+v", verb, got)
		}
	}

	_, metrics := s.Request(t, http.MethodGet, s.SignIn(t, "admin", true), "/metrics", nil)
	for _, want := range []string{
		`yard_writes_total{result="ok",verb="apply"} 1`, `yard_writes_total{result="ok",verb="scale"} 1`,
		`yard_writes_total{result="ok",verb="restart"} 1`, `yard_writes_total{result="ok",verb="delete"} 1`,
		`yard_write_duration_seconds_count{verb="apply"} 1`, `yard_write_duration_seconds_count{verb="delete"} 1`,
	} {
		if !strings.Contains(string(metrics), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// carol (view in demo) may not scale: 403 with the apiserver's reason, audited as refused.
func TestActionRefusedByRBAC(t *testing.T) {
	s := start(t, nil)
	carol := s.SignIn(t, "carol", false)
	k, _ := admin(t, s.cp)
	before, err := k.AppsV1().Deployments("demo").Get(ctx(t), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status, b := s.call(t, http.MethodPost, carol, "/api/resource/deployments/web/scale?namespace=demo", "application/json", `{"replicas":5}`, nil)
	if status != http.StatusForbidden || errCode(t, b) != errcode.Forbidden || !strings.Contains(string(b), "carol") {
		t.Fatalf("carol's scale: %d %s", status, b)
	}
	after, _ := k.AppsV1().Deployments("demo").Get(ctx(t), "web", metav1.GetOptions{})
	if after.ResourceVersion != before.ResourceVersion {
		t.Fatal("carol's refused scale changed the deployment")
	}
	es := find(s.entries(t, "carol"), audit.VerbScale, "demo", "web")
	if len(es) != 1 || es[0].Result != audit.ResultRefused || es[0].ErrorCode != errcode.Forbidden {
		t.Fatalf("audit: %+v", es)
	}
}

// Without --write-enabled every write is refused with writes_disabled before anything reaches
// the apiserver, and recorded as refused; dry runs are still answered.
func TestWritesDisabled(t *testing.T) {
	s := start(t, func(c *config.Config) { c.WriteEnabled = false })
	alice := s.SignIn(t, "alice", false)
	k, _ := admin(t, s.cp)
	get := func() *appsv1.Deployment {
		d, err := k.AppsV1().Deployments("team-a").Get(ctx(t), "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	before := get()
	cm := unique("w-off")

	status, r, raw := s.apply(t, alice, "namespace=team-a", configMapYAML(cm, "x"), nil)
	if status != http.StatusForbidden || r.Error == nil || r.Error.Code != errcode.WritesDisabled ||
		r.Results[0].Error == nil || r.Results[0].Error.Code != errcode.WritesDisabled {
		t.Fatalf("apply: %d %s", status, raw)
	}
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, "/api/resource/deployments/web/scale?namespace=team-a", `{"replicas":7}`},
		{http.MethodPost, "/api/resource/deployments/web/restart?namespace=team-a", ""},
		{http.MethodDelete, "/api/resource/deployments/web?namespace=team-a", ""},
		{http.MethodDelete, "/api/resource/databases.demo.yard.dev/orders?namespace=demo", ""},
	} {
		status, b := s.call(t, c.method, alice, c.path, "application/json", c.body, nil)
		if status != http.StatusForbidden || errCode(t, b) != errcode.WritesDisabled {
			t.Fatalf("%s %s: %d %s", c.method, c.path, status, b)
		}
	}
	if _, err := k.CoreV1().ConfigMaps("team-a").Get(ctx(t), cm, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the configmap exists: %v", err)
	}
	if after := get(); after.ResourceVersion != before.ResourceVersion || after.DeletionTimestamp != nil {
		t.Fatalf("the deployment changed (rv %s -> %s)", before.ResourceVersion, after.ResourceVersion)
	}

	status, r, raw = s.apply(t, alice, "namespace=team-a&dryRun=true", configMapYAML(cm, "x"), nil)
	if status != http.StatusOK || r.Results[0].Action != write.ActionCreated {
		t.Fatalf("dry run with writes off: %d %s", status, raw)
	}

	es := s.entries(t, "alice")
	for _, verb := range []string{audit.VerbScale, audit.VerbRestart, audit.VerbDelete} {
		got := find(es, verb, "team-a", "web")
		if len(got) != 1 || got[0].Result != audit.ResultRefused || got[0].ErrorCode != errcode.WritesDisabled {
			t.Fatalf("audit of %s: %+v", verb, got)
		}
	}
	got := find(es, audit.VerbApply, "team-a", cm)
	if len(got) != 2 || got[0].Result != audit.ResultRefused || got[0].ErrorCode != errcode.WritesDisabled || got[0].DryRun ||
		!got[1].DryRun || got[1].Result != audit.ResultOK {
		t.Fatalf("audit of the applies: %+v", got)
	}
}
