package chaostest

// WatchMsg is one message of /ws/watch.
type WatchMsg struct {
	Type   string `json:"type"`
	Kind   string `json:"kind"`
	Object struct {
		Metadata struct{ Namespace, Name, ResourceVersion string }
	} `json:"object"`
}

// View replays a watch stream into the client's state: namespace/name -> resourceVersion.
func View(ms []WatchMsg) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		Apply(out, m)
	}
	return out
}

// Apply changes a watch's view by one message.
func Apply(view map[string]string, m WatchMsg) {
	name := m.Object.Metadata.Namespace + "/" + m.Object.Metadata.Name
	switch m.Type {
	case "ADDED", "MODIFIED":
		view[name] = m.Object.Metadata.ResourceVersion
	case "DELETED":
		delete(view, name)
	case "RESET":
		clear(view)
	}
}
