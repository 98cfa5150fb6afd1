package watch

import (
	"encoding/json"
	"strconv"
)

// objectMessage is {"type":typ,"kind":kind,"object":obj}; obj is already JSON.
func objectMessage(typ, kind string, obj []byte) []byte {
	b := make([]byte, 0, len(obj)+len(kind)+40)
	b = append(b, `{"type":`...)
	b = strconv.AppendQuote(b, typ)
	b = append(b, `,"kind":`...)
	b = strconv.AppendQuote(b, kind)
	b = append(b, `,"object":`...)
	b = append(b, obj...)
	return append(b, '}')
}

func syncedMessage(kind string, rv uint64) []byte {
	b, _ := json.Marshal(map[string]string{"type": Synced, "kind": kind, "resourceVersion": strconv.FormatUint(rv, 10)})
	return b
}

func resetMessage(kind string) []byte {
	b, _ := json.Marshal(map[string]string{"type": Reset, "kind": kind})
	return b
}

// errorMessage is {"type":"error","code","message"} plus the kind and namespace it concerns, when
// it concerns one.
func errorMessage(code, message, kind, namespace string) []byte {
	m := map[string]string{"type": ErrorMsg, "code": code, "message": message}
	if kind != "" {
		m["kind"] = kind
	}
	if namespace != "" {
		m["namespace"] = namespace
	}
	b, _ := json.Marshal(m)
	return b
}
