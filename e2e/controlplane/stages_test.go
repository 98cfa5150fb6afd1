package controlplane_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yardhq/yard/e2e/controlplane"
)

// The node fails the pull of controlplane.UnpullableImage as a kubelet would, while other pods
// (the built-in stages, kept in stages/) still run, and a failed pod can be deleted.
func TestUnpullableImageFailsThePull(t *testing.T) {
	cp := controlplane.Shared(t)
	c := clientFor(t, cp.RESTConfig())
	ctx := ctxFor(t, 60*time.Second)
	ns, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "pull-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}) })
	pod := func(name, image string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
		}
	}
	for _, p := range []*corev1.Pod{pod("bad", controlplane.UnpullableImage), pod("good", "nginx")} {
		// The namespace's default ServiceAccount comes a moment after the namespace.
		for {
			_, err := c.CoreV1().Pods(ns.Name).Create(ctx, p, metav1.CreateOptions{})
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var bad, good *corev1.Pod
	for {
		bad, err = c.CoreV1().Pods(ns.Name).Get(ctx, "bad", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		good, err = c.CoreV1().Pods(ns.Name).Get(ctx, "good", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cs := bad.Status.ContainerStatuses
		if len(cs) == 1 && cs[0].State.Waiting != nil && good.Status.Phase == corev1.PodRunning {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("bad: %s %+v; good: %s", bad.Status.Phase, cs, good.Status.Phase)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if w := bad.Status.ContainerStatuses[0].State.Waiting; w.Reason != "ErrImagePull" || bad.Status.Phase != corev1.PodPending {
		t.Fatalf("bad pod: phase %s, waiting %+v; want Pending, ErrImagePull", bad.Status.Phase, w)
	}
	// It stays so (the stage does not run again on its own status).
	time.Sleep(time.Second)
	if again, err := c.CoreV1().Pods(ns.Name).Get(ctx, "bad", metav1.GetOptions{}); err != nil || again.Status.Phase != corev1.PodPending {
		t.Fatalf("bad pod later: %v %v", again.Status.Phase, err)
	}
	if err := c.CoreV1().Pods(ns.Name).Delete(ctx, "bad", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := c.CoreV1().Pods(ns.Name).Get(ctx, "bad", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the failed pod was not deleted: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
