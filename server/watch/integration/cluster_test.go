package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/muxclient"
)

func admin(t *testing.T, s *server) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(s.cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("not an error envelope: %s", body)
	}
	return e.Error.Code
}

func TestClustersHealthAndReadiness(t *testing.T) {
	s := start(t, nil)
	tok := s.login(t, "carol")
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := s.get(t, tok, "/api/clusters", "")
		var got struct {
			Clusters []struct {
				Name    string
				Healthy bool
			}
		}
		_ = json.Unmarshal(body, &got)
		if code == http.StatusOK && len(got.Clusters) == 1 && got.Clusters[0].Name == "yard-local" && got.Clusters[0].Healthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/clusters: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := s.get(t, "", "/api/readyz", ""); code != http.StatusOK || !strings.Contains(string(body), "cluster:yard-local") {
		t.Fatalf("/api/readyz: %d %s", code, body)
	}
	if code, _ := s.get(t, "", "/api/clusters", ""); code != http.StatusUnauthorized {
		t.Fatalf("/api/clusters without a token: %d", code)
	}
	metrics := s.Metrics(t)
	if !strings.Contains(string(metrics), `yard_cluster_up{cluster="yard-local"} 1`) {
		t.Fatal("yard_cluster_up not 1")
	}
}

func TestResourcesAsEachUser(t *testing.T) {
	s := start(t, nil)
	alice, bob, carol := s.login(t, "alice"), s.login(t, "bob"), s.login(t, "carol")
	count := func(tok, path string) int {
		t.Helper()
		code, body := s.get(t, tok, path, "")
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		var l struct{ Items []json.RawMessage }
		_ = json.Unmarshal(body, &l)
		return len(l.Items)
	}
	for _, ns := range []string{"demo", "team-a"} {
		if count(alice, "/api/resources/pods?namespace="+ns) == 0 {
			t.Errorf("alice sees no pods in %s", ns)
		}
	}
	if count(carol, "/api/resources/pods?namespace=demo") == 0 || count(bob, "/api/resources/pods?namespace=team-a") == 0 {
		t.Error("carol or bob sees no pods where they may")
	}
	if count(alice, "/api/resources/deployments?namespace=demo&labelSelector=app%3Dweb") != 1 {
		t.Error("label selector not applied")
	}
	denied := []struct{ tok, path string }{
		{carol, "/api/resources/pods?namespace=team-a"},
		{carol, "/api/resources/secrets?namespace=demo"},
		{carol, "/api/resource/secrets/app-secret?namespace=demo&reveal=true"},
		{bob, "/api/resources/pods?namespace=demo"},
		{bob, "/api/resources/pods"}, // all namespaces
	}
	for _, d := range denied {
		code, body := s.get(t, d.tok, d.path, "")
		if code != http.StatusForbidden || errorCode(t, body) != "forbidden" || !strings.Contains(string(body), "cannot") {
			t.Errorf("GET %s: %d %s, want 403 with the apiserver's reason", d.path, code, body)
		}
	}

	// Secrets: as the API gives them, revealed only on request to a user who may get them.
	code, body := s.get(t, bob, "/api/resource/secrets/app-secret?namespace=team-a", "")
	var sec struct {
		Data       map[string]string
		StringData map[string]string
	}
	_ = json.Unmarshal(body, &sec)
	if code != 200 || sec.Data["API_KEY"] != base64.StdEncoding.EncodeToString([]byte("demo-team-a-key")) || sec.StringData != nil {
		t.Fatalf("secret as stored: %d %s", code, body)
	}
	code, body = s.get(t, bob, "/api/resource/secrets/app-secret?namespace=team-a&reveal=true", "")
	sec.Data, sec.StringData = nil, nil
	_ = json.Unmarshal(body, &sec)
	if code != 200 || sec.StringData["API_KEY"] != "demo-team-a-key" || len(sec.Data) != 0 {
		t.Fatalf("revealed secret: %d %s", code, body)
	}

	code, body = s.get(t, alice, "/api/resource/deployments/web?namespace=demo", "application/yaml")
	if code != 200 || !regexp.MustCompile(`(?m)^kind: Deployment$`).Match(body) || strings.Contains(string(body), "managedFields") {
		t.Fatalf("YAML: %d %.300s", code, body)
	}
	code, body = s.get(t, alice, "/api/resources/databases.demo.yard.dev?namespace=demo", "")
	if code != 200 || !strings.Contains(string(body), `"name":"orders"`) {
		t.Fatalf("custom resource by discovery: %d %.300s", code, body)
	}
	if code, body := s.get(t, alice, "/api/resources/nosuchkinds?namespace=demo", ""); code != 404 || errorCode(t, body) != "unknown_kind" {
		t.Fatalf("unknown kind: %d %s", code, body)
	}
	if code, _ := s.get(t, alice, "/api/resource/deployments/nope?namespace=demo", ""); code != 404 {
		t.Fatalf("missing object: %d", code)
	}
	if code, _ := s.get(t, alice, "/api/resources/pods?namespace=Bad_NS", ""); code != 400 {
		t.Fatalf("bad namespace: %d", code)
	}
}

func TestAccessTellsWhatTheUserMayDo(t *testing.T) {
	s := start(t, nil)
	type answer struct {
		Kinds        map[string]map[string]bool
		Actions      map[string]bool
		WriteEnabled bool
	}
	ask := func(user, ns string) answer {
		t.Helper()
		code, body := s.get(t, s.login(t, user), "/api/access?namespace="+ns, "")
		var a answer
		if code != 200 || json.Unmarshal(body, &a) != nil {
			t.Fatalf("/api/access %s %s: %d %s", user, ns, code, body)
		}
		return a
	}
	carol := ask("carol", "demo")
	if !carol.Kinds["pods"]["list"] || !carol.Kinds["pods"]["watch"] || carol.Kinds["secrets"]["get"] ||
		carol.Kinds["deployments"]["create"] || carol.Actions["pods/exec"] || !carol.Actions["pods/log"] || carol.Actions["secrets/get"] {
		t.Errorf("carol in demo: %+v", carol)
	}
	if carol.WriteEnabled {
		t.Error("writes reported enabled without --write-enabled")
	}
	bob := ask("bob", "team-a")
	if !bob.Actions["pods/exec"] || !bob.Kinds["deployments"]["patch"] || !bob.Actions["secrets/get"] {
		t.Errorf("bob in team-a: %+v", bob)
	}
	if b := ask("bob", "demo"); b.Kinds["pods"]["list"] || b.Actions["pods/exec"] {
		t.Errorf("bob in demo: %+v", b)
	}
	if a := ask("alice", "demo"); !a.Kinds["nodes"]["list"] || !a.Actions["pods/exec"] {
		t.Errorf("alice: %+v", a)
	}
}

func TestWatchShowsEachUserWhatRBACAllows(t *testing.T) {
	s := start(t, nil)
	pods := url.Values{"kinds": {"pods"}}
	expect := map[string][]string{"alice": {"demo", "team-a"}, "carol": {"demo"}, "bob": {"team-a"}}
	for user, want := range expect {
		st := s.watch(t, s.login(t, user), pods)
		ms := st.waitFor(t, user+" SYNCED", 30*time.Second, synced("pods"))
		got := namespacesOf(view(ms, "pods"))
		// alice also sees system pods, if any: only the demo namespaces matter here.
		got = slices.DeleteFunc(got, func(ns string) bool { return ns != "demo" && ns != "team-a" })
		if !slices.Equal(got, want) {
			t.Errorf("%s sees pods in %v, want %v", user, got, want)
		}
	}
	// carol may not see secrets: named namespaces are refused outright, all namespaces are empty.
	carol := s.login(t, "carol")
	refused, err := s.dialWatch(carol, url.Values{"kinds": {"secrets"}, "namespaces": {"demo"}})
	if err != nil {
		t.Fatal(err)
	}
	defer refused.close()
	select {
	case <-refused.done:
	case <-time.After(10 * time.Second):
		t.Fatal("a forbidden watch was not closed")
	}
	if _, cerr := refused.all(); !strings.Contains(cerr.Error(), "forbidden") {
		t.Fatalf("refusal: %v", cerr)
	}
	st := s.watch(t, carol, url.Values{"kinds": {"secrets"}})
	ms := st.waitFor(t, "SYNCED", 30*time.Second, synced("secrets"))
	if n := len(view(ms, "secrets")); n != 0 {
		t.Fatalf("carol received %d secrets", n)
	}

	// Custom resources found by discovery watch like the built-in kinds, several kinds on one
	// stream; the view ClusterRole does not cover the demo CRD, so carol gets none of its objects.
	both := url.Values{"kinds": {"databases.demo.yard.dev,deployments"}, "namespaces": {"demo"}}
	bothSynced := func(ms []msg) bool { return synced("databases.demo.yard.dev")(ms) && synced("deployments")(ms) }
	ms = s.watch(t, s.login(t, "alice"), both).waitFor(t, "both SYNCED", 30*time.Second, bothSynced)
	if _, ok := view(ms, "databases.demo.yard.dev")["demo/orders"]; !ok || len(view(ms, "deployments")) < 3 {
		t.Fatalf("alice: %s", summary(ms))
	}
	ms = s.watch(t, carol, url.Values{"kinds": {"databases.demo.yard.dev,deployments"}}).waitFor(t, "both SYNCED", 30*time.Second, bothSynced)
	if len(view(ms, "databases.demo.yard.dev")) != 0 || !slices.Equal(namespacesOf(view(ms, "deployments")), []string{"demo"}) {
		t.Fatalf("carol: %s", summary(ms))
	}
}

func TestDeploymentLifecycleEventsInOrder(t *testing.T) {
	s := start(t, nil)
	c := admin(t, s)
	ctx := ctxT(t)
	st := s.watch(t, s.login(t, "alice"), url.Values{"kinds": {"deployments"}, "namespaces": {"demo"}})
	st.waitFor(t, "SYNCED", 30*time.Second, synced("deployments"))

	name := "lifecycle-" + strconv.FormatInt(time.Now().UnixNano()%100000, 10)
	one := int32(1)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo"},
		Spec: appsv1.DeploymentSpec{Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
	}
	if _, err := c.AppsV1().Deployments("demo").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.AppsV1().Deployments("demo").Delete(context.Background(), name, metav1.DeleteOptions{}) })
	st.waitFor(t, "ADDED", 30*time.Second, func(ms []msg) bool {
		return slices.ContainsFunc(ms, func(m msg) bool { return m.Type == "ADDED" && m.Object.Metadata.Name == name })
	})
	// A patch, not get-then-update: the controllers write the deployment's status meanwhile.
	if _, err := c.AppsV1().Deployments("demo").Patch(ctx, name, types.MergePatchType,
		[]byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	st.waitFor(t, "scaled", 30*time.Second, func(ms []msg) bool {
		return slices.ContainsFunc(ms, func(m msg) bool {
			return m.Type == "MODIFIED" && m.Object.Metadata.Name == name && m.Object.Spec.Replicas != nil && *m.Object.Spec.Replicas == 3
		})
	})
	if err := c.AppsV1().Deployments("demo").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ms := st.waitFor(t, "DELETED", 30*time.Second, func(ms []msg) bool {
		return slices.ContainsFunc(ms, func(m msg) bool { return m.Type == "DELETED" && m.Object.Metadata.Name == name })
	})
	var seq []string
	var lastRV uint64
	for _, m := range ms {
		if m.Object.Metadata.Name != name {
			continue
		}
		rv, _ := strconv.ParseUint(m.Object.Metadata.ResourceVersion, 10, 64)
		if rv <= lastRV {
			t.Fatalf("resourceVersions out of order: %s", summary(ms))
		}
		lastRV = rv
		step := m.Type
		if m.Type == "MODIFIED" && m.Object.Spec.Replicas != nil && *m.Object.Spec.Replicas == 3 {
			step = "SCALED"
		}
		if len(seq) == 0 || seq[len(seq)-1] != step {
			seq = append(seq, step)
		}
	}
	// Status updates in between may show as more MODIFIED events; the milestones are in order.
	want := regexp.MustCompile(`^ADDED( MODIFIED)* SCALED( MODIFIED| SCALED)* DELETED$`)
	if !want.MatchString(strings.Join(seq, " ")) {
		t.Fatalf("event order %v", seq)
	}
}

func TestFiftyWatchersShareOneUpstream(t *testing.T) {
	s := start(t, nil)
	users := []string{"alice", "bob", "carol"}
	tokens := map[string]string{}
	for _, u := range users {
		tokens[u] = s.login(t, u)
	}
	var wg sync.WaitGroup
	streams := make([]*stream, 49)
	errs := make([]error, 49)
	for i := range streams {
		wg.Go(func() {
			streams[i], errs[i] = s.dialWatch(tokens[users[i%3]], url.Values{"kinds": {"pods"}})
		})
	}
	wg.Wait()
	for i, st := range streams {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(st.close)
	}
	// The fiftieth is a channel on the multiplexer: same kind, same upstream.
	ctx := ctxT(t)
	conn, err := muxclient.Dial(ctx, "ws"+strings.TrimPrefix(s.base, "http")+"/ws", tokens["carol"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Open(ctx, "watch", url.Values{"kinds": {"pods"}})
	if err != nil {
		t.Fatal(err)
	}
	var muxMsgs []msg
	for !synced("pods")(muxMsgs) {
		m, err := ch.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var wm msg
		if err := json.Unmarshal(m.Data, &wm); err != nil {
			t.Fatal(err)
		}
		muxMsgs = append(muxMsgs, wm)
	}
	if got := namespacesOf(view(muxMsgs, "pods")); !slices.Equal(got, []string{"demo"}) {
		t.Fatalf("carol on the multiplexer sees %v", got)
	}
	for _, st := range streams {
		st.waitFor(t, "SYNCED", 60*time.Second, synced("pods"))
	}
	metrics := s.Metrics(t)
	if !strings.Contains(string(metrics), `yard_watch_upstream{cluster="yard-local",kind="pods"} 1`+"\n") {
		t.Fatalf("want exactly one upstream pods watch:\n%s", grep(string(metrics), "yard_watch_upstream"))
	}
	if !strings.Contains(string(metrics), "yard_watch_streams 50\n") {
		t.Fatalf("want 50 streams:\n%s", grep(string(metrics), "yard_watch_streams"))
	}
}

func grep(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestRevokedRoleBindingStopsEvents(t *testing.T) {
	s := start(t, nil)
	c := admin(t, s)
	ctx := ctxT(t)
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dave-view", Namespace: "demo"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "dave"}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}}
	if _, err := c.RbacV1().RoleBindings("demo").Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.RbacV1().RoleBindings("demo").Delete(context.Background(), "dave-view", metav1.DeleteOptions{})
	})
	cms := url.Values{"kinds": {"configmaps"}, "namespaces": {"demo"}}
	dave := s.watch(t, s.login(t, "dave"), cms)
	alice := s.watch(t, s.login(t, "alice"), cms)
	dave.waitFor(t, "SYNCED", 30*time.Second, synced("configmaps"))
	alice.waitFor(t, "SYNCED", 30*time.Second, synced("configmaps"))

	mk := func(name string) {
		t.Helper()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo"}}
		if _, err := c.CoreV1().ConfigMaps("demo").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.CoreV1().ConfigMaps("demo").Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
	seen := func(name string) func([]msg) bool {
		return func(ms []msg) bool {
			return slices.ContainsFunc(ms, func(m msg) bool { return m.Type == "ADDED" && m.Object.Metadata.Name == name })
		}
	}
	mk("revoke-before")
	dave.waitFor(t, "revoke-before", 30*time.Second, seen("revoke-before"))

	if err := c.RbacV1().RoleBindings("demo").Delete(ctx, "dave-view", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	revokedAt := time.Now()
	dave.waitFor(t, "forbidden", 15*time.Second, func(ms []msg) bool {
		return slices.ContainsFunc(ms, func(m msg) bool { return m.Type == "error" && m.Code == "forbidden" && m.Namespace == "demo" })
	})
	t.Logf("revocation reported after %v (access TTL 1s)", time.Since(revokedAt).Round(time.Millisecond))
	mk("revoke-after")
	alice.waitFor(t, "revoke-after (alice)", 30*time.Second, seen("revoke-after"))
	time.Sleep(2 * time.Second)
	if ms, _ := dave.all(); seen("revoke-after")(ms) {
		t.Fatal("dave received an event after his RoleBinding was removed")
	}
}

func TestResumeGivesOnlyMissedChanges(t *testing.T) {
	s := start(t, nil)
	c := admin(t, s)
	ctx := ctxT(t)
	tok := s.login(t, "alice")
	cms := url.Values{"kinds": {"configmaps"}, "namespaces": {"demo"}}
	mk := func(name string) {
		t.Helper()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo"}, Data: map[string]string{"v": "1"}}
		if _, err := c.CoreV1().ConfigMaps("demo").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.CoreV1().ConfigMaps("demo").Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
	mk("resume-a")
	mk("resume-b")
	// The observer shares the upstream and stays: once it has seen a change, so has the history.
	observer := s.watch(t, tok, cms)
	first := s.watch(t, tok, cms)
	ms := first.waitFor(t, "SYNCED", 30*time.Second, synced("configmaps"))
	from := lastRV(ms)
	first.close()

	// Missed while away: one added, one changed, one deleted.
	mk("resume-c")
	cm, err := c.CoreV1().ConfigMaps("demo").Get(ctx, "resume-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["v"] = "2"
	if _, err := c.CoreV1().ConfigMaps("demo").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.CoreV1().ConfigMaps("demo").Delete(ctx, "resume-b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	observer.waitFor(t, "the deletion upstream", 30*time.Second, func(ms []msg) bool {
		return slices.ContainsFunc(ms, func(m msg) bool { return m.Type == "DELETED" && m.Object.Metadata.Name == "resume-b" })
	})

	q := url.Values{"kinds": {"configmaps"}, "namespaces": {"demo"}, "resourceVersion": {from}}
	again := s.watch(t, tok, q)
	got := again.waitFor(t, "SYNCED", 30*time.Second, synced("configmaps"))
	var changes []string
	for _, m := range got {
		if m.Type == "RESET" {
			t.Fatalf("resume from %s was reset: %s", from, summary(got))
		}
		if m.Type != "SYNCED" {
			changes = append(changes, m.Type+" "+m.Object.Metadata.Name)
		}
	}
	slices.Sort(changes)
	if want := []string{"ADDED resume-c", "DELETED resume-b", "MODIFIED resume-a"}; !slices.Equal(changes, want) {
		t.Fatalf("resume gave %v, want %v", changes, want)
	}

	// A resume point from before the upstream's history: RESET, then a full snapshot.
	old := s.watch(t, tok, url.Values{"kinds": {"configmaps"}, "namespaces": {"demo"}, "resourceVersion": {"1"}})
	got = old.waitFor(t, "SYNCED", 30*time.Second, synced("configmaps"))
	if got[0].Type != "RESET" || view(got, "configmaps")["demo/app-config"] == "" {
		t.Fatalf("old resume point: %s", summary(got))
	}
}

func TestSeveralContextsAreSeveralClusters(t *testing.T) {
	cp := controlplane.Shared(t)
	raw, err := clientcmd.LoadFromFile(cp.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	second := *raw.Contexts[raw.CurrentContext]
	raw.Contexts["second"] = &second
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*raw, path); err != nil {
		t.Fatal(err)
	}
	s := start(t, func(c *config.Config) {
		c.Kubeconfig = path
		c.Contexts = []string{"yard-local", "second"}
	})
	tok := s.login(t, "alice")
	code, body := s.get(t, tok, "/api/clusters", "")
	if code != 200 || !strings.Contains(string(body), `"name":"yard-local"`) || !strings.Contains(string(body), `"name":"second"`) {
		t.Fatalf("/api/clusters: %d %s", code, body)
	}
	if code, body := s.get(t, tok, "/api/resources/configmaps?cluster=second&namespace=demo", ""); code != 200 {
		t.Fatalf("list on the second cluster: %d %s", code, body)
	}
	if code, body := s.get(t, tok, "/api/resources/configmaps?cluster=third&namespace=demo", ""); code != 404 || errorCode(t, body) != "not_found" {
		t.Fatalf("unknown cluster: %d %s", code, body)
	}
	q := url.Values{"kinds": {"configmaps"}, "namespaces": {"demo"}}
	a := s.watch(t, tok, q)
	q.Set("cluster", "second")
	b := s.watch(t, tok, q)
	a.waitFor(t, "SYNCED", 30*time.Second, synced("configmaps"))
	b.waitFor(t, "SYNCED", 30*time.Second, synced("configmaps"))
	metrics := s.Metrics(t)
	for _, name := range []string{"yard-local", "second"} {
		if !strings.Contains(string(metrics), `yard_watch_upstream{cluster="`+name+`",kind="configmaps"} 1`) {
			t.Fatalf("no upstream for %s:\n%s", name, grep(string(metrics), "yard_watch_upstream"))
		}
	}
}
