package resources

import (
	"encoding/base64"
	"testing"
)

func TestRevealSecretDecodesTextOnly(t *testing.T) {
	obj := map[string]any{"data": map[string]any{
		"password": base64.StdEncoding.EncodeToString([]byte("hunter2")),
		"binary":   base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe}),
		"broken":   "!!!",
	}}
	revealSecret(obj)
	sd := obj["stringData"].(map[string]any)
	if sd["password"] != "hunter2" || len(sd) != 1 {
		t.Fatalf("stringData %v", sd)
	}
	data := obj["data"].(map[string]any)
	if _, ok := data["password"]; ok || len(data) != 2 {
		t.Fatalf("data %v", data)
	}
	empty := map[string]any{}
	revealSecret(empty)
	if _, ok := empty["stringData"]; ok {
		t.Fatal("stringData added to a secret without data")
	}
}

func TestWantsYAML(t *testing.T) {
	for accept, want := range map[string]bool{
		"":                                   false,
		"application/json":                   false,
		"application/yaml":                   true,
		"text/yaml;q=0.9, application/json":  true,
		"application/json, application/yaml": false,
		"garbage;;;":                         false,
	} {
		if got := wantsYAML(accept); got != want {
			t.Errorf("%q: %v", accept, got)
		}
	}
}
