package watch

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/yardhq/yard/server/mux"
)

// Describe implements mux.Describer: "pods,deployments in demo" (or "in all namespaces"). Kind
// names are shown only when they look like names, since they are not resolved here.
func (k *Kind) Describe(req mux.OpenRequest) string {
	var kinds []string
	for _, n := range paramList(req.Params, "kinds") {
		if len(validation.IsDNS1123Subdomain(strings.ToLower(n))) == 0 {
			kinds = append(kinds, n)
		}
	}
	if len(kinds) == 0 {
		return ""
	}
	var nss []string
	for _, ns := range paramList(req.Params, "namespaces") {
		if len(validation.IsDNS1123Label(ns)) == 0 {
			nss = append(nss, ns)
		}
	}
	where := "all namespaces"
	if len(nss) > 0 {
		where = strings.Join(nss, ",")
	}
	return strings.Join(kinds, ",") + " in " + where
}
