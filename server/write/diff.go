package write

import (
	"encoding/base64"
	"reflect"
	"sort"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Redacted replaces every Secret value in a diff; RedactedChanged replaces a new value that
// differs from the live one.
const (
	Redacted        = "(redacted)"
	RedactedChanged = "(redacted, changed)"
)

// lastApplied is kubectl's client-side apply annotation: a copy of the object, Secret values
// included, so it never reaches a diff.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// diffObjects compares the live object (nil: none) with the result of an apply: the unified diff
// of both as YAML, without what the cluster maintains and with Secret values redacted, and the
// action (a changed Secret value is "configured" even though its diff shows no value).
func diffObjects(live, result *unstructured.Unstructured) (diff, action string) {
	after := forDiff(result)
	if live == nil {
		if isSecret(result) {
			redact(nil, after)
		}
		return unifiedDiff("", toYAML(after)), ActionCreated
	}
	before := forDiff(live)
	if reflect.DeepEqual(before, after) {
		return "", ActionUnchanged
	}
	if isSecret(result) {
		redact(before, after)
	}
	return unifiedDiff(toYAML(before), toYAML(after)), ActionConfigured
}

// forDiff is a copy of obj without the fields the cluster maintains (managedFields, status,
// resourceVersion, ...) and kubectl's last-applied copy (which holds Secret values too).
func forDiff(obj *unstructured.Unstructured) map[string]any {
	o := obj.DeepCopy().Object
	delete(o, "status")
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"} {
		unstructured.RemoveNestedField(o, "metadata", f)
	}
	if ann, ok, _ := unstructured.NestedStringMap(o, "metadata", "annotations"); ok {
		delete(ann, lastApplied)
		if len(ann) == 0 {
			unstructured.RemoveNestedField(o, "metadata", "annotations")
		} else {
			_ = unstructured.SetNestedStringMap(o, ann, "metadata", "annotations")
		}
	}
	return o
}

func isSecret(obj *unstructured.Unstructured) bool {
	return obj.GetKind() == "Secret" && obj.GetAPIVersion() == "v1"
}

// redact replaces the values of a Secret's data and stringData in before (nil: none) and
// after; a value of after that differs from before's reads RedactedChanged, so a rotation shows.
func redact(before, after map[string]any) {
	for _, f := range []string{"data", "stringData"} {
		old, _ := before[f].(map[string]any)
		if m, ok := after[f].(map[string]any); ok {
			for k, v := range m {
				if prev, had := old[k]; had && reflect.DeepEqual(prev, v) || before == nil {
					m[k] = Redacted
				} else {
					m[k] = RedactedChanged
				}
			}
		}
		for k := range old {
			old[k] = Redacted
		}
	}
}

func toYAML(o map[string]any) string {
	if o == nil {
		return ""
	}
	b, err := yaml.Marshal(o)
	if err != nil {
		return ""
	}
	return string(b)
}

// unifiedDiff is the unified diff (3 lines of context) from a to b.
func unifiedDiff(a, b string) string {
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: lines(a), B: lines(b),
		FromFile: "live", ToFile: "applied", Context: 3,
	})
	if err != nil {
		return ""
	}
	return d
}

// lines splits s after each newline (difflib.SplitLines would add an empty last line).
func lines(s string) []string {
	l := strings.SplitAfter(s, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}

// scrub removes a Secret's values from an error message (a validation message may quote a
// value); values under 4 bytes are left, since replacing them would garble the message and
// reveal nothing worth hiding.
func scrub(e *ObjectError, obj *unstructured.Unstructured) *ObjectError {
	if e == nil || !isSecret(obj) {
		return e
	}
	var values []string
	for _, f := range []string{"data", "stringData"} {
		m, _, _ := unstructured.NestedMap(obj.Object, f)
		for _, v := range m {
			s, _ := v.(string)
			values = append(values, s)
			if f == "data" {
				if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
					values = append(values, string(dec))
				}
			} else {
				values = append(values, base64.StdEncoding.EncodeToString([]byte(s)))
			}
		}
	}
	// Longest first, so a value containing another is replaced whole.
	sort.Slice(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
	msg := e.Message
	for _, v := range values {
		if len(v) >= 4 {
			msg = strings.ReplaceAll(msg, v, Redacted)
		}
	}
	return &ObjectError{Code: e.Code, Message: msg}
}
