package logs

import "github.com/yardhq/yard/server/mux"

// Describe implements mux.Describer: "<namespace>/<pod or kind/name>[/<container>]", from the
// validated parameters only.
func (k *Kind) Describe(req mux.OpenRequest) string {
	r, err := ParseRequest(req.Params)
	if err != nil {
		return ""
	}
	s := r.Namespace + "/" + r.Pod
	if r.Pod == "" {
		s = r.Namespace + "/" + r.Workload.String()
	}
	if r.Container != "" {
		s += "/" + r.Container
	}
	return s
}
