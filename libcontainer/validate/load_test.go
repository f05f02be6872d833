package validate

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rtrun/rt/libcontainer/specdefault"
)

func writeConfig(t *testing.T, data string) string {
	t.Helper()
	b := t.TempDir()
	if err := os.WriteFile(filepath.Join(b, "config.json"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadGood(t *testing.T) {
	want := specdefault.Example()
	data, err := json.MarshalIndent(want, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	// Unknown properties are ignored (config.md).
	data = []byte(strings.Replace(string(data), "{", `{"x-unknown": {"a": [1, 2]},`, 1))
	got, err := Load(writeConfig(t, string(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip differs:\n%+v\n%+v", got, want)
	}
}

func TestLoadBad(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string // substrings of the error
	}{
		{"syntax error", "{\n  \"ociVersion\": \"1.0.0\",\n  \"root\": {\"path\" \"rootfs\"}\n}", []string{"line 3, column 19", "invalid character"}},
		{"truncated", `{"ociVersion": "1.0.0"`, []string{"line 1", "unexpected end of JSON input"}},
		{"trailing data", `{} {}`, []string{"line 1, column 4", "after top-level value"}},
		{"wrong type nested", `{"ociVersion": "1.0.0", "process": {"args": "sh"}}`, []string{"process.args: wrong JSON type: got string, want array"}},
		{"wrong type array element", `{"process": {"args": ["sh", 1]}}`, []string{"process.args", "got number, want string"}},
		{"wrong type top", `{"ociVersion": 1}`, []string{"ociVersion: wrong JSON type: got number, want string"}},
		{"negative uint", `{"process": {"user": {"uid": -1}}}`, []string{"process.user.uid", "want non-negative integer"}},
		{"not an object", `[]`, []string{"wrong JSON type: got array, want object"}},
		{"deeply nested", `{"x": ` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, []string{"exceeded max depth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := writeConfig(t, tt.data)
			_, err := Load(b)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), filepath.Join(b, "config.json")) {
				t.Errorf("error %q does not name the file", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	b := t.TempDir()
	_, err := Load(b)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "has no config.json") {
		t.Fatalf("error = %v", err)
	}
}

func TestLoadNotRegular(t *testing.T) {
	b := t.TempDir()
	if err := os.Mkdir(filepath.Join(b, "config.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(b); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("error = %v", err)
	}
}

func TestLoadTooBig(t *testing.T) {
	b := t.TempDir()
	f, err := os.Create(filepath.Join(b, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: no 16 MiB actually written.
	if err := f.Truncate(MaxConfigSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := Load(b); err == nil || !strings.Contains(err.Error(), "larger than the limit") {
		t.Fatalf("error = %v", err)
	}
}
