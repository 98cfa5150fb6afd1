package watch

import (
	"errors"
	"net/url"
	"testing"

	"github.com/yardhq/yard/server/mux"
)

// Watch parameters come from clients: any query gives a request or a coded error, never a panic.
func FuzzWatchParams(f *testing.F) {
	for _, s := range []string{
		"kinds=pods", "kinds=pods,deployments&namespaces=demo,team-a&labelSelector=app%3Dweb",
		"kinds=pvcs&resourceVersion=pods=3,pvcs=9", "kinds=&namespaces=,,", "cluster=x&kinds=crds",
		"kinds=pods&labelSelector=a+in+(b,c),!d", "kinds=widgets.example.com&resourceVersion=18446744073709551615",
	} {
		f.Add(s)
	}
	cl := fakeClusters{&fakeCluster{api: newFakeAPI()}}
	f.Fuzz(func(t *testing.T, q string) {
		p, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		r, err := parse(p, cl)
		if err != nil {
			var me *mux.Error
			if !errors.As(err, &me) || me.Code == "" {
				t.Fatalf("uncoded error %v", err)
			}
			return
		}
		if len(r.kinds) == 0 || len(r.kinds) > maxKinds || len(r.namespaces) > maxNamespaces || r.selector == nil {
			t.Fatalf("accepted %q as %+v", q, r)
		}
	})
}
