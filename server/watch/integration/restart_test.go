package integration

import (
	"context"
	"maps"
	"net/url"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Last (this file sorts after the others, and Go runs files in name order): it restarts the shared control plane's apiserver.
func TestStreamConvergesAcrossAPIServerRestart(t *testing.T) {
	s := start(t, nil)
	c := admin(t, s)
	ctx := ctxT(t)
	st := s.watch(t, s.login(t, "alice"), url.Values{"kinds": {"configmaps"}, "namespaces": {"demo"}})
	st.waitFor(t, "SYNCED", 30*time.Second, synced("configmaps"))
	mk := func(name string) {
		t.Helper()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo"}}
		if _, err := c.CoreV1().ConfigMaps("demo").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.CoreV1().ConfigMaps("demo").Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
	mk("restart-before")
	if err := s.cp.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	// Changes after the restart, through the new apiserver.
	deadline := time.Now().Add(time.Minute)
	for {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "restart-after", Namespace: "demo"}}
		_, err := c.CoreV1().ConfigMaps("demo").Create(ctx, cm, metav1.CreateOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Cleanup(func() {
		_ = c.CoreV1().ConfigMaps("demo").Delete(context.Background(), "restart-after", metav1.DeleteOptions{})
	})
	if err := c.CoreV1().ConfigMaps("demo").Delete(ctx, "restart-before", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The stream's final state equals a fresh list.
	var fresh map[string]string
	st.waitFor(t, "converged", time.Minute, func(ms []msg) bool {
		l, err := c.CoreV1().ConfigMaps("demo").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		fresh = map[string]string{}
		for _, cm := range l.Items {
			fresh["demo/"+cm.Name] = cm.ResourceVersion
		}
		return maps.Equal(view(ms, "configmaps"), fresh)
	})
}
