package workflow

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/yardhq/yard/server/errcode"
)

// Bounds on an imported compose file.
const (
	MaxComposeBytes    = 1 << 20
	MaxComposeServices = 200
)

// DefaultClaimSize is the size of a claim made for a compose named volume (compose has none).
const DefaultClaimSize = "1Gi"

// Import is what a docker-compose file became: nodes and edges to add, and what could not be
// mapped (each entry names the service or top-level key it comes from).
type Import struct {
	Nodes    []Node   `json:"nodes"`
	Edges    []Edge   `json:"edges"`
	Unmapped []string `json:"unmapped"`
}

// composeKeys are the service keys that map; every other key is reported as unmapped.
var composeKeys = map[string]bool{
	"image": true, "ports": true, "expose": true, "environment": true, "command": true,
	"entrypoint": true, "volumes": true, "deploy": true,
}

// ImportCompose maps a docker-compose (v3 / Compose Specification) file to nodes laid out from
// (x, y): each service becomes a Deployment (image, environment, entrypoint -> command,
// command -> args, expose and ports -> container ports, deploy.replicas), each published port a
// Service selecting it, each named volume a PersistentVolumeClaim (DefaultClaimSize) with a mounts
// edge per use. Everything else (build, networks, depends_on, healthcheck, bind mounts, ...) is
// listed in Unmapped. ids gives node and edge ids (nil: RandomIDs). A file that is not YAML, has
// no services or is over the bounds is a bad_params or too_large error.
func ImportCompose(data []byte, x, y float64, ids IDs) (Import, error) {
	if ids == nil {
		ids = RandomIDs
	}
	if len(data) > MaxComposeBytes {
		return Import{}, errcode.Errorf(errcode.TooLarge, "a compose file is at most %d bytes", MaxComposeBytes)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return Import{}, errcode.Errorf(errcode.BadParams, "not a compose file: %v", err)
	}
	var file map[string]any
	if err := json.Unmarshal(js, &file); err != nil || file == nil {
		return Import{}, errcode.Errorf(errcode.BadParams, "not a compose file: the top level is not a mapping")
	}
	services, ok := file["services"].(map[string]any)
	if !ok || len(services) == 0 {
		return Import{}, errcode.Errorf(errcode.BadParams, "the compose file has no services")
	}
	if len(services) > MaxComposeServices {
		return Import{}, errcode.Errorf(errcode.TooLarge, "%d services; an import takes at most %d", len(services), MaxComposeServices)
	}
	c := &composer{ids: ids, x: x, y: y, claims: map[string]*Node{}}
	for _, k := range sortedKeys(file) {
		switch k {
		case "services", "version", "name":
		case "volumes":
			c.topVolumes(file[k])
		default:
			c.unmapped("%s", k)
		}
	}
	for i, name := range sortedKeys(services) {
		c.service(i, name, services[name])
	}
	claims := make([]string, 0, len(c.claims))
	for k := range c.claims {
		claims = append(claims, k)
	}
	sort.Strings(claims)
	for i, k := range claims {
		n := c.claims[k]
		n.X, n.Y = x+float64(i*spacing), y+2*spacing
		c.out.Nodes = append(c.out.Nodes, *n)
	}
	if c.out.Unmapped == nil {
		c.out.Unmapped = []string{}
	}
	return c.out, nil
}

type composer struct {
	ids    IDs
	x, y   float64
	out    Import
	claims map[string]*Node // compose volume name -> its claim
}

func (c *composer) unmapped(format string, args ...any) {
	c.out.Unmapped = append(c.out.Unmapped, fmt.Sprintf(format, args...))
}

func (c *composer) topVolumes(v any) {
	vols, _ := v.(map[string]any)
	for _, name := range sortedKeys(vols) {
		spec, _ := vols[name].(map[string]any)
		for _, k := range sortedKeys(spec) {
			c.unmapped("volumes.%s: %s", clip(name), k)
		}
	}
}

func (c *composer) service(i int, name string, v any) {
	svc, ok := v.(map[string]any)
	if !ok {
		c.unmapped("service %s: not a mapping", clip(name))
		return
	}
	kname := kubeName(name)
	if kname == "" {
		c.unmapped("service %s: the name cannot be a Kubernetes name", clip(name))
		return
	}
	dep := Node{ID: c.ids(), Kind: KindDeployment, Name: kname, X: c.x + float64(i*spacing), Y: c.y}
	where := "service " + clip(name)
	for _, k := range sortedKeys(svc) {
		if !composeKeys[k] {
			c.unmapped("%s: %s", where, k)
		}
	}
	dep.Image, _ = svc["image"].(string)
	if dep.Image == "" {
		c.unmapped("%s: no image (set one on the node)", where)
	}
	dep.Env = c.environment(where, svc["environment"])
	dep.Command = c.words(where, "entrypoint", svc["entrypoint"])
	dep.Args = c.words(where, "command", svc["command"])
	if d, ok := svc["deploy"].(map[string]any); ok {
		for _, k := range sortedKeys(d) {
			if r, ok := d[k].(float64); k == "replicas" && ok && r >= 0 && r == float64(int(r)) {
				n := int(r)
				dep.Replicas = &n
			} else {
				c.unmapped("%s: deploy.%s", where, k)
			}
		}
	}
	for _, e := range asList(svc["expose"]) {
		if p, ok := portNumber(e); ok {
			dep.Ports = appendPort(dep.Ports, p)
		} else {
			c.unmapped("%s: expose %v", where, e)
		}
	}
	var services []Node
	for _, e := range asList(svc["ports"]) {
		target, published, ok := c.port(where, e)
		if !ok {
			continue
		}
		dep.Ports = appendPort(dep.Ports, target)
		sname := kname
		if len(services) > 0 {
			sname = fmt.Sprintf("%s-%d", kname, target)
		}
		services = append(services, Node{ID: c.ids(), Kind: KindService, Name: sname, Port: published, TargetPort: target,
			X: dep.X, Y: c.y + float64(spacing+len(services)*spacing/2)})
	}
	c.out.Nodes = append(c.out.Nodes, dep)
	for _, s := range services {
		c.out.Nodes = append(c.out.Nodes, s)
		c.out.Edges = append(c.out.Edges, Edge{ID: c.ids(), Kind: EdgeSelects, From: s.ID, To: dep.ID})
	}
	for _, vol := range asList(svc["volumes"]) {
		c.volume(where, dep, vol)
	}
}

// environment reads a list ("KEY=value") or a mapping; variables without a value come from the
// host in compose, which has no equivalent here.
func (c *composer) environment(where string, v any) map[string]string {
	env := map[string]string{}
	set := func(k string, val any, has bool) {
		if !has || val == nil {
			c.unmapped("%s: environment %s (no value: compose takes it from the host)", where, clip(k))
			return
		}
		switch t := val.(type) {
		case string:
			env[k] = t
		case float64:
			env[k] = strconv.FormatFloat(t, 'f', -1, 64)
		case bool:
			env[k] = strconv.FormatBool(t)
		default:
			c.unmapped("%s: environment %s (not a plain value)", where, clip(k))
		}
	}
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			s, _ := e.(string)
			k, val, has := strings.Cut(s, "=")
			set(k, val, has)
		}
	case map[string]any:
		for _, k := range sortedKeys(t) {
			set(k, t[k], true)
		}
	}
	if len(env) == 0 {
		return nil
	}
	return env
}

// words reads a command: a list, or a string split as a shell would (quotes, backslashes).
func (c *composer) words(where, key string, v any) []string {
	switch t := v.(type) {
	case nil:
		return nil
	case string:
		w, err := splitWords(t)
		if err != nil {
			c.unmapped("%s: %s (%v)", where, key, err)
		}
		return w
	case []any:
		var out []string
		for _, e := range t {
			switch s := e.(type) {
			case string:
				out = append(out, s)
			case float64:
				out = append(out, strconv.FormatFloat(s, 'f', -1, 64))
			default:
				c.unmapped("%s: %s (not a list of strings)", where, key)
				return nil
			}
		}
		return out
	}
	c.unmapped("%s: %s (not a string or list)", where, key)
	return nil
}

// port reads a ports entry: "80", "8080:80", "127.0.0.1:8080:80/tcp", or the long syntax. Ranges
// and UDP are reported unmapped.
func (c *composer) port(where string, e any) (target, published int, ok bool) {
	proto := "tcp"
	switch t := e.(type) {
	case float64:
		p, ok := portNumber(t)
		if !ok {
			c.unmapped("%s: ports %v", where, t)
		}
		return p, p, ok
	case string:
		spec := t
		if s, pr, has := strings.Cut(spec, "/"); has {
			spec, proto = s, pr
		}
		cont := spec
		pub := ""
		if i := strings.LastIndex(spec, ":"); i >= 0 {
			cont = spec[i+1:]
			host := spec[:i]
			pub = host[strings.LastIndex(host, ":")+1:]
		}
		tp, ok1 := portNumber(cont)
		pp, ok2 := tp, true
		if pub != "" {
			pp, ok2 = portNumber(pub)
		}
		if !ok1 || !ok2 || proto != "tcp" {
			c.unmapped("%s: ports %q (ranges and non-TCP ports are not mapped)", where, clip(t))
			return 0, 0, false
		}
		return tp, pp, true
	case map[string]any:
		tp, ok1 := portNumber(t["target"])
		pp, ok2 := tp, true
		if t["published"] != nil {
			pp, ok2 = portNumber(t["published"])
		}
		if p, _ := t["protocol"].(string); p != "" {
			proto = p
		}
		if !ok1 || !ok2 || proto != "tcp" {
			c.unmapped("%s: ports entry %v (ranges and non-TCP ports are not mapped)", where, t["target"])
			return 0, 0, false
		}
		return tp, pp, true
	}
	c.unmapped("%s: ports entry of an unknown form", where)
	return 0, 0, false
}

// volume maps a named volume to a claim and a mounts edge; bind mounts, anonymous volumes and
// tmpfs have no equivalent.
func (c *composer) volume(where string, dep Node, v any) {
	var typ, source, target string
	readOnly := false
	switch t := v.(type) {
	case string:
		parts := strings.Split(t, ":")
		switch len(parts) {
		case 1:
			target = parts[0]
		case 2, 3:
			source, target = parts[0], parts[1]
			readOnly = len(parts) == 3 && strings.Contains(parts[2], "ro")
		default:
			c.unmapped("%s: volume %q", where, clip(t))
			return
		}
		typ = "volume"
		if strings.HasPrefix(source, "/") || strings.HasPrefix(source, ".") || strings.HasPrefix(source, "~") {
			typ = "bind"
		}
	case map[string]any:
		typ, _ = t["type"].(string)
		source, _ = t["source"].(string)
		target, _ = t["target"].(string)
		readOnly, _ = t["read_only"].(bool)
	}
	switch {
	case typ == "bind":
		c.unmapped("%s: bind mount %s -> %s", where, clip(source), clip(target))
		return
	case typ != "volume" || target == "":
		c.unmapped("%s: volume %v (only named volumes are mapped)", where, clip(fmt.Sprint(v)))
		return
	case source == "":
		c.unmapped("%s: anonymous volume at %s", where, clip(target))
		return
	}
	claim := c.claims[source]
	if claim == nil {
		name := kubeName(source)
		if name == "" {
			c.unmapped("%s: volume %s (the name cannot be a Kubernetes name)", where, clip(source))
			return
		}
		claim = &Node{ID: c.ids(), Kind: KindPVC, Name: name, Size: DefaultClaimSize}
		c.claims[source] = claim
	}
	if readOnly {
		c.unmapped("%s: volume %s read-only (mounted read-write)", where, clip(source))
	}
	c.out.Edges = append(c.out.Edges, Edge{ID: c.ids(), Kind: EdgeMounts, From: dep.ID, To: claim.ID, Path: target})
}

// kubeName turns a compose name into a DNS-1035 label (lowercase; '_' and '.' become '-'), or "".
func kubeName(s string) string {
	s = strings.Trim(strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(s)), "-")
	if len(s) > 52 {
		s = strings.TrimRight(s[:52], "-")
	}
	if len(validation.IsDNS1035Label(s)) > 0 {
		return ""
	}
	return s
}

func portNumber(v any) (int, bool) {
	var p int
	switch t := v.(type) {
	case float64:
		p = int(t)
		if float64(p) != t {
			return 0, false
		}
	case string:
		n, err := strconv.Atoi(t)
		if err != nil {
			return 0, false
		}
		p = n
	default:
		return 0, false
	}
	return p, p >= 1 && p <= 65535
}

func appendPort(ps []int, p int) []int {
	for _, q := range ps {
		if q == p {
			return ps
		}
	}
	return append(ps, p)
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// splitWords splits s as a POSIX shell splits words: whitespace separates, quotes group, a
// backslash escapes outside single quotes.
func splitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, fmt.Errorf("unterminated quote")
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}
