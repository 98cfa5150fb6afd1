package write

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/yardhq/yard/server/errcode"
)

// MaxBodyBytes bounds an apply's body.
const MaxBodyBytes = 4 << 20

// DecodeObjects reads an apply body: YAML (one or more documents; a List's items count as
// objects) or JSON {"objects":[...]}, by content type (empty: JSON when it starts with '{',
// else YAML). Errors are bad_params.
func DecodeObjects(contentType string, body []byte) ([]*unstructured.Unstructured, error) {
	mt := ""
	if contentType != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(contentType); err != nil {
			return nil, errcode.Errorf(errcode.BadParams, "Content-Type: %v", err)
		}
	} else if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		mt = "application/json"
	}
	var raws []map[string]any
	switch mt {
	case "", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "application/apply-patch+yaml":
		var err error
		if raws, err = yamlDocuments(body); err != nil {
			return nil, err
		}
	case "application/json":
		var req struct {
			Objects []json.RawMessage `json:"objects"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return nil, errcode.Errorf(errcode.BadParams, "invalid JSON body (want {\"objects\":[...]}): %v", err)
		}
		for i, raw := range req.Objects {
			m, err := objectMap(raw)
			if err != nil {
				return nil, errcode.Errorf(errcode.BadParams, "object %d: %v", i+1, err)
			}
			raws = append(raws, m)
		}
	default:
		return nil, errcode.Errorf(errcode.BadParams, "Content-Type %s: send application/yaml or application/json", mt)
	}
	var out []*unstructured.Unstructured
	for _, m := range raws {
		u := &unstructured.Unstructured{Object: m}
		if items, ok := m["items"].([]any); ok && strings.HasSuffix(u.GetKind(), "List") {
			for j, it := range items {
				im, ok := it.(map[string]any)
				if !ok {
					return nil, errcode.Errorf(errcode.BadParams, "%s item %d: not an object", u.GetKind(), j+1)
				}
				out = append(out, &unstructured.Unstructured{Object: im})
			}
			continue
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, errcode.Errorf(errcode.BadParams, "no objects in the body")
	}
	return out, nil
}

// yamlDocuments splits a YAML stream into its objects, skipping empty documents.
func yamlDocuments(body []byte) ([]map[string]any, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(body)))
	var out []map[string]any
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, errcode.Errorf(errcode.BadParams, "document %d: %v", n, err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, errcode.Errorf(errcode.BadParams, "document %d: not YAML: %v", n, err)
		}
		if t := bytes.TrimSpace(j); bytes.Equal(t, []byte("null")) || len(t) == 0 {
			continue
		}
		m, err := objectMap(j)
		if err != nil {
			return nil, errcode.Errorf(errcode.BadParams, "document %d: %v", n, err)
		}
		out = append(out, m)
	}
}

// objectMap decodes one JSON object with Kubernetes' number rules (integers stay int64).
func objectMap(b []byte) (map[string]any, error) {
	var m map[string]any
	if err := utiljson.Unmarshal(b, &m); err != nil || m == nil {
		return nil, fmt.Errorf("not an object")
	}
	return m, nil
}
