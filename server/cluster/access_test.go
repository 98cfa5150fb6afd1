package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/yardhq/yard/server/identity"
)

// The cache logic is tested with a fake clientset that answers reviews by a rule; the real
// apiserver's answers are tested in the integration tests against the local control plane.
func TestAccessCacheAsksOncePerQuestionAndExpires(t *testing.T) {
	var reviews atomic.Int32
	client := fake.NewClientset()
	client.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		reviews.Add(1)
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		time.Sleep(10 * time.Millisecond) // let concurrent askers pile up
		sar.Status.Allowed = sar.Spec.User == "alice" || (sar.Spec.ResourceAttributes.Namespace == "team-a")
		return true, sar, nil
	})
	clock := time.Now()
	var mu sync.Mutex
	ac := newAccessCache(client, time.Second)
	ac.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }

	bob := identity.User{Name: "bob"}
	q := Access{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "demo"}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			d, err := ac.can(context.Background(), bob, q)
			if err != nil || d.Allowed {
				t.Errorf("bob exec in demo: %+v %v", d, err)
			}
		})
	}
	wg.Wait()
	if n := reviews.Load(); n != 1 {
		t.Fatalf("%d reviews for one question, want 1", n)
	}

	if d, _ := ac.can(context.Background(), bob, Access{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "team-a"}); !d.Allowed {
		t.Fatal("bob exec in team-a denied")
	}
	if d, _ := ac.can(context.Background(), identity.User{Name: "bob", Groups: []string{"x"}}, q); d.Allowed {
		t.Fatal("wrong answer for bob with groups")
	}
	if n := reviews.Load(); n != 3 {
		t.Fatalf("%d reviews, want 3 (other namespace, other groups are other questions)", n)
	}

	mu.Lock()
	clock = clock.Add(2 * time.Second)
	mu.Unlock()
	_, _ = ac.can(context.Background(), bob, q)
	if n := reviews.Load(); n != 4 {
		t.Fatalf("%d reviews after expiry, want 4", n)
	}
}

func TestUserKeyIgnoresGroupOrder(t *testing.T) {
	a := userKey(identity.User{Name: "u", Groups: []string{"b", "a"}})
	b := userKey(identity.User{Name: "u", Groups: []string{"a", "b"}})
	c := userKey(identity.User{Name: "u", Groups: []string{"a"}})
	if a != b || a == c {
		t.Fatalf("keys %q %q %q", a, b, c)
	}
}
